"""Int8 quantization of a Keras autoencoder for TensorFlow Lite Micro.

Two routes, both ending in a full-integer ``.tflite`` (int8 input and output,
``TFLITE_BUILTINS_INT8`` only, batch 1):

* **PTQ** — post-training quantization with a representative dataset of normal training
  windows (normalized features): the converter calibrates every activation's range on them.
* **QAT** — quantization-aware training: ``tfmot.quantization.keras.quantize_model`` wraps the
  float model with fake-quant nodes, fine-tunes it for ``qat_epochs`` on the reconstruction
  task (target = input; with labels, normal rows only) starting from the float weights, then
  converts.

``method="best"`` builds both and keeps the one with the better validation AUC of the int8
score (ties go to PTQ, which needs no training). The score is the package's one definition
(:func:`edgesynth.detect.models.reconstruction_score`),
the mean squared error per row between the normalized float input and the dequantized int8
reconstruction::

    score = mean((x - dequantize(model_int8(quantize(x)))) ** 2, axis=1)

Without validation labels, "best" keeps the model whose int8 scores are closest to the float
model's (smallest mean absolute difference on ``X_val`` or ``X_rep``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgesynth.errors import ModelError, ParameterError
from edgesynth.validation import check_binary_labels, check_features, check_positive_int

#: Rows of the representative dataset given to the converter (sampled with ``seed``).
N_REPRESENTATIVE = 500
METHODS = ("ptq", "qat", "best")


@dataclass
class QuantizedModel:
    """A full-integer int8 ``.tflite`` model and how it was made.

    Attributes
    ----------
    tflite : bytes
        The flatbuffer.
    method : {"ptq", "qat"}
        Route that produced ``tflite``.
    input_scale, input_zero_point, output_scale, output_zero_point
        Quantization of the model's input and output (``real = scale * (q - zero_point)``).
    aucs : dict or None
        ``{"float", "ptq", "qat"}`` validation AUCs (a method not tried is ``None``); ``None``
        without validation labels.
    info : dict
        Extra facts: candidates' agreement with the float model, why a route was skipped.
    """

    tflite: bytes
    method: str
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    aucs: dict | None = None
    info: dict = field(default_factory=dict)

    def to_manifest(self) -> dict[str, Any]:
        """The ``quantization`` block of an artifact manifest (arena filled in by the caller)."""
        return {
            "method": self.method,
            "input_scale": self.input_scale,
            "input_zero_point": self.input_zero_point,
            "output_scale": self.output_scale,
            "output_zero_point": self.output_zero_point,
            "aucs": self.aucs,
            "tflite_bytes": len(self.tflite),
        }

    def predict(self, X) -> np.ndarray:
        """Dequantized reconstruction of float features ``X`` ``(n, d)`` (LiteRT, reference kernels)."""
        from edgesynth.deploy.runtime import LiteRTRunner

        return LiteRTRunner(self.tflite).predict(X)


# --------------------------------------------------------------------------- conversion
def _check_model(model) -> int:
    shape = getattr(model, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 2 or shape[1] is None:
        raise ModelError(
            "`model` must be a Keras model with a flat input (None, n_features). "
            f"Received input_shape={shape!r}"
        )
    return int(shape[1])


def _representative(X: np.ndarray, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if X.shape[0] > N_REPRESENTATIVE:
        X = X[np.sort(rng.choice(X.shape[0], N_REPRESENTATIVE, replace=False))]
    return X


def convert_int8(model, X_rep, *, seed=0, per_channel_dense: bool = False) -> bytes:
    """Full-integer int8 conversion of a (float or QAT) Keras model.

    Parameters
    ----------
    model : keras.Model
        Flat input ``(None, d)``.
    X_rep : np.ndarray [shape=(n, d)]
        Representative normalized features (normal training windows).
    seed : int or None
        Picks the :data:`N_REPRESENTATIVE` rows when ``X_rep`` has more.
    per_channel_dense : bool
        Per-output-channel weight scales for Dense layers (the converter's default since TF 2.16).
        Off by default: per-tensor scales (as the MLPerf Tiny model) cost no AUC on these small
        autoencoders and save TFLM arena (TFLM keeps a 32-bit multiplier and shift per output
        channel: a 140-32-16-8-16-32-140 AE needs ~5.6 KB of arena per-channel, ~3 KB per-tensor)
        and flash (a scale and a 64-bit zero point per channel).
    """
    from edgesynth._tf import tf

    X = _representative(np.asarray(X_rep, dtype=np.float32), seed)

    def rep():
        for row in X:
            yield [row[None, :]]

    d = X.shape[1]
    # A concrete function with batch 1 gives static shapes ([1, d]) everywhere, as TFLM needs.
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, d], tf.float32)
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    try:
        return bytes(converter.convert())
    except Exception as exc:  # converter errors are ConverterError / RuntimeError / ValueError
        raise ModelError(f"int8 conversion failed (an op without an int8 kernel?): {exc}") from exc


def qat_model(model, X_fit, *, epochs=3, batch_size=32, learning_rate=5e-4, seed=0):
    """Quantization-aware fine-tuning of ``model`` on ``X_fit`` (reconstruction target = input).

    Returns the tfmot-wrapped model (fake-quant nodes), ready for :func:`convert_int8`.
    """
    from edgesynth._tf import keras, tf, tfmot

    try:
        q = tfmot().quantization.keras.quantize_model(model)
    except Exception as exc:  # unsupported layer types raise ValueError/RuntimeError
        raise ModelError(f"quantization-aware training is not supported for this model: {exc}") from exc
    q.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    X_fit = np.asarray(X_fit, dtype=np.float32)
    ds = (
        tf.data.Dataset.from_tensor_slices((X_fit, X_fit))
        .shuffle(X_fit.shape[0], seed=None if seed is None else int(seed), reshuffle_each_iteration=True)
        .batch(int(batch_size))
    )
    q.fit(ds, epochs=int(epochs), verbose=0)
    return q


def _io_quant(tflite: bytes) -> tuple[float, int, float, int]:
    from edgesynth.deploy.runtime import validate_tflite

    m = validate_tflite(tflite, what="converted model")
    qi, qo = m.input_tensors[0].quantization, m.output_tensors[0].quantization
    return float(qi.scale[0]), int(qi.zero_point[0]), float(qo.scale[0]), int(qo.zero_point[0])


def _auc(y, s) -> float:
    from edgesynth.detect.metrics import roc_auc

    return roc_auc(y, s)


# --------------------------------------------------------------------------- public API
def quantize(
    model,
    X_rep,
    *,
    method: str = "ptq",
    X_val=None,
    y_val=None,
    qat_epochs: int = 3,
    qat_learning_rate: float = 5e-4,
    batch_size: int = 32,
    seed=0,
    score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> QuantizedModel:
    """Quantize a float autoencoder to a full-integer int8 ``.tflite``.

    Parameters
    ----------
    model : keras.Model
        Float autoencoder, flat input ``(None, d)`` and output ``(None, d)``.
    X_rep : np.ndarray [shape=(n, d)]
        Normalized features of *normal* training windows: PTQ calibration data and the QAT
        fine-tuning set.
    method : {"ptq", "qat", "best"}
        See the module docstring.
    X_val : np.ndarray [shape=(m, d)], optional
        Validation features for the AUCs (and for "best").
    y_val : np.ndarray [shape=(m,)], optional
        0 normal / 1 anomaly. With labels, QAT fine-tunes on ``X_rep`` only (normal data) and
        AUCs are computed.
    qat_epochs : int
        QAT fine-tuning epochs.
    qat_learning_rate, batch_size : float, int
        QAT optimizer settings.
    seed : int or None
        Representative-row sampling and QAT shuffling.
    score_fn : callable, optional
        ``score_fn(x, x_hat) -> (n,)``; default :func:`edgesynth.detect.models.reconstruction_score`.

    Returns
    -------
    QuantizedModel
    """
    if method not in METHODS:
        raise ParameterError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    d = _check_model(model)
    X_rep = check_features(X_rep, "X_rep", n_features=d)
    check_positive_int(qat_epochs, "qat_epochs")
    from edgesynth.detect.models import reconstruction_score

    score_fn = score_fn or reconstruction_score
    if X_val is not None:
        X_val = check_features(X_val, "X_val", n_features=d)
    if y_val is not None:
        if X_val is None:
            raise ParameterError("`y_val` was given without `X_val`")
        y_val = check_binary_labels(y_val, X_val.shape[0], "y_val")
        if len(np.unique(y_val)) < 2:
            y_val = None  # an AUC needs both classes

    from edgesynth.deploy.runtime import LiteRTRunner

    X_eval = X_val if X_val is not None else X_rep
    float_scores = score_fn(X_eval, model.predict(X_eval, verbose=0))
    candidates: dict[str, bytes] = {}
    info: dict[str, Any] = {}
    if method in ("ptq", "best"):
        candidates["ptq"] = convert_int8(model, X_rep, seed=seed)
    if method in ("qat", "best"):
        try:
            q = qat_model(model, X_rep, epochs=qat_epochs, batch_size=batch_size,
                          learning_rate=qat_learning_rate, seed=seed)
            candidates["qat"] = convert_int8(q, X_rep, seed=seed)
        except ModelError as exc:
            if method == "qat":
                raise
            info["qat_skipped"] = str(exc)

    aucs = None
    if y_val is not None:
        aucs = {"float": _auc(y_val, float_scores), "ptq": None, "qat": None}
    agreement = {}
    for name, tfl in candidates.items():
        s = score_fn(X_eval, LiteRTRunner(tfl).predict(X_eval))
        agreement[name] = float(np.mean(np.abs(s - float_scores)))
        if aucs is not None:
            aucs[name] = _auc(y_val, s)
    info["mean_abs_score_diff_vs_float"] = agreement

    if method == "best" and len(candidates) > 1:
        if aucs is not None:
            chosen = "qat" if aucs["qat"] > aucs["ptq"] else "ptq"
        else:
            chosen = "qat" if agreement["qat"] < agreement["ptq"] else "ptq"
    else:
        chosen = next(iter(candidates))
    tfl = candidates[chosen]
    return QuantizedModel(tfl, chosen, *_io_quant(tfl), aucs=aucs, info=info)


__all__ = ["quantize", "QuantizedModel", "convert_int8", "qat_model", "N_REPRESENTATIVE"]
