"""Score windows exactly as the device does, from an artifact directory alone.

:class:`ArtifactScorer` rebuilds the whole context from ``manifest.json`` — feature pipeline,
normalization, int8 model, quantization parameters, threshold — so ``evaluate``, ``stream`` and
``bench`` never need the original command line.

The device-side score is::

    z      = normalize(features(window))            # float, shape (n_features,)
    q      = quantize(z, input_scale, input_zp)      # int8 model input
    z_hat  = dequantize(model_int8(q))               # float reconstruction
    score  = mean((z - z_hat) ** 2)                  # higher = more anomalous
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesynth.artifact import read_manifest
from edgesynth.errors import ModelError, ParameterError
from edgesynth.validation import check_windows


@dataclass
class ArtifactScorer:
    """Int8 scorer built from a detector artifact (see :meth:`from_dir`).

    Attributes
    ----------
    window_length, hop_length, n_channels : int
        Windowing the model was trained with.
    threshold : float
        Decision threshold in the int8 model's dequantized score units.
    """

    manifest: dict
    pipeline: object
    normalizer: object
    runner: object
    window_length: int
    hop_length: int
    n_channels: int
    threshold: float
    sr: float | None = None

    @classmethod
    def from_dir(cls, path, *, runtime: str = "tflm") -> "ArtifactScorer":
        """Load ``DIR/manifest.json`` and ``DIR/detector_int8.tflite``.

        Parameters
        ----------
        path : path-like
            Detector artifact directory written by ``edgesynth train`` / ``demo``.
        runtime : {"tflm", "litert"}
            Interpreter that runs the int8 model (TFLM is what the device runs; LiteRT agrees up to
            one quantization step on rounding ties).
        """
        from edgesynth.data.features import FeaturePipeline, Normalizer
        from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner

        path = Path(path)
        manifest = read_manifest(path, kind="detector")
        tfl = path / "detector_int8.tflite"
        if not tfl.is_file():
            raise ModelError(f"artifact {str(path)!r} has no detector_int8.tflite")
        data = tfl.read_bytes()
        if runtime == "tflm":
            arena = manifest.get("quantization", {}).get("arena_bytes")
            runner = TFLMRunner(data, arena_size=arena)
        elif runtime == "litert":
            runner = LiteRTRunner(data)
        else:
            raise ParameterError(f"`runtime` must be 'tflm' or 'litert'. Received: runtime={runtime!r}")
        w = manifest["window"]
        return cls(
            manifest=manifest,
            pipeline=FeaturePipeline.from_dict(manifest["features"]),
            normalizer=Normalizer.from_dict(manifest["normalization"]),
            runner=runner,
            window_length=int(w["window_length"]),
            hop_length=int(w.get("hop_length") or w["window_length"]),
            n_channels=int(w["n_channels"]),
            threshold=float(manifest["threshold"]["value"]),
            sr=w.get("sr"),
        )

    def features(self, X) -> np.ndarray:
        """Normalized feature vectors ``(n, n_features)`` of windows ``(n, window_length, n_channels)``."""
        X = check_windows(X)
        if X.shape[1:] != (self.window_length, self.n_channels):
            raise ParameterError(
                f"windows must have shape (n, {self.window_length}, {self.n_channels}) as the model was "
                f"trained. Received: X.shape={X.shape}"
            )
        return self.normalizer.transform(self.pipeline.transform(X))

    def score_features(self, Z: np.ndarray) -> np.ndarray:
        """Scores of already normalized feature vectors ``Z`` (n, n_features)."""
        from edgesynth.detect.models import reconstruction_score

        Z = np.asarray(Z, dtype=np.float32)
        return reconstruction_score(Z, self.runner.predict(Z))

    def score_windows(self, X) -> np.ndarray:
        """Int8 scores ``(n,)`` of windows ``(n, window_length, n_channels)``; higher = more anomalous."""
        return self.score_features(self.features(X))

    def predict(self, X) -> np.ndarray:
        """0/1 per window: ``score > threshold``."""
        return (self.score_windows(X) > self.threshold).astype(np.int8)
