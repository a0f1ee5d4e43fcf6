"""edgesynth: anomaly detection for microcontrollers.

Learn from the few real anomalies you have, synthesize more, train a tiny autoencoder detector,
quantize it to int8 for TensorFlow Lite Micro, export it as C, benchmark it, and score live
sensor streams.

Importing :mod:`edgesynth` is cheap: TensorFlow is only imported (through
:mod:`edgesynth._tf`) by the modules that need it.

Sign convention, stated once for the whole package: every ``score`` is *higher = more
anomalous* (PyOD's convention); ``predict`` returns 1 for ``score > threshold_``.
"""
from edgesynth.errors import (  # noqa: F401
    DataError,
    EdgesynthError,
    ExportError,
    ModelError,
    NotAvailableError,
    ParameterError,
    StreamError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "EdgesynthError",
    "ParameterError",
    "DataError",
    "ModelError",
    "ExportError",
    "StreamError",
    "NotAvailableError",
]
