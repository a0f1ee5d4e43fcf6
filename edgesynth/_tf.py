"""The one place where TensorFlow is imported.

tensorflow-model-optimization 0.8 only supports the Keras 2 API, so edgesynth uses ``tf_keras``
(Keras 2) and sets ``TF_USE_LEGACY_KERAS=1`` *before* TensorFlow is imported, so that
``tf.keras`` inside TensorFlow and tfmot resolves to ``tf_keras`` too. It also quiets
TensorFlow's C++ start-up logging. Every other module does::

    from edgesynth._tf import tf, keras

and never ``import tensorflow`` directly.
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

tf.get_logger().setLevel("ERROR")
try:  # absl logging is noisy at WARNING for tf.function retracing
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
except Exception:  # pragma: no cover - absl is a TF dependency
    pass


def tfmot():
    """Return the ``tensorflow_model_optimization`` module (imported lazily, after Keras 2 is set)."""
    import tensorflow_model_optimization as _tfmot

    return _tfmot


def set_deterministic(seed: int) -> None:
    """Make TensorFlow ops deterministic and seed Keras' initializers.

    Only called when a user asks for determinism (``deterministic=True``); edgesynth otherwise
    passes explicit seeds to initializers and never reseeds global state behind the user's back.
    """
    keras.utils.set_random_seed(int(seed))
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF
        pass


__all__ = ["tf", "keras", "tfmot", "set_deterministic"]
