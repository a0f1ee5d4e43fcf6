"""The tiny autoencoder detector: model builders, losses, training, thresholds, metrics, report.

>>> from edgesynth.detect import Detector, build_dense_autoencoder, evaluate_scores  # doctest: +SKIP
"""
from edgesynth.detect.detector import Detector
from edgesynth.detect.metrics import evaluate_scores, partial_auc, roc_auc
from edgesynth.detect.models import (
    build_conv_autoencoder,
    build_dense_autoencoder,
    model_stats,
    reconstruction_score,
)
from edgesynth.detect.thresholds import (
    calibrate_threshold,
    threshold_at_fpr,
    threshold_max_f1,
    threshold_percentile,
)

__all__ = [
    "Detector",
    "build_dense_autoencoder",
    "build_conv_autoencoder",
    "model_stats",
    "reconstruction_score",
    "evaluate_scores",
    "roc_auc",
    "partial_auc",
    "threshold_at_fpr",
    "threshold_max_f1",
    "threshold_percentile",
    "calibrate_threshold",
]
