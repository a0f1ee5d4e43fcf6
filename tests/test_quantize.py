"""PTQ / QAT / best quantization of a tiny dense autoencoder."""
from __future__ import annotations

import numpy as np
import pytest

from edgesynth.errors import ParameterError
from firmware_export.tflite_model import TFLiteModel

D = 48


@pytest.fixture(scope="module")
def trained():
    from edgesynth._tf import keras

    rng = np.random.default_rng(440)
    t = np.linspace(0, 4 * np.pi, D)
    normal = (np.sin(t[None] + rng.uniform(0, 2 * np.pi, (300, 1))) + 0.05 * rng.standard_normal((300, D)))
    anomal = normal[:60] + rng.standard_normal((60, D)) * 0.6
    normal, anomal = normal.astype(np.float32), anomal.astype(np.float32)
    init = keras.initializers.GlorotUniform(seed=3)
    i = keras.Input((D,))
    x = keras.layers.Dense(12, activation="relu", kernel_initializer=init)(i)
    x = keras.layers.Dense(6, activation="relu", kernel_initializer=init)(x)
    x = keras.layers.Dense(12, activation="relu", kernel_initializer=init)(x)
    m = keras.Model(i, keras.layers.Dense(D, kernel_initializer=init)(x))
    m.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    m.fit(normal[:200], normal[:200], epochs=8, batch_size=32, verbose=0, shuffle=False)
    X_val = np.concatenate([normal[200:], anomal[:60]])
    y_val = np.r_[np.zeros(100), np.ones(60)].astype(int)
    return m, normal[:200], X_val, y_val


@pytest.mark.slow
def test_ptq_full_integer(trained):
    from edgesynth.deploy.quantize import quantize

    m, X_rep, X_val, y_val = trained
    q = quantize(m, X_rep, method="ptq", X_val=X_val, y_val=y_val)
    assert q.method == "ptq" and q.aucs["qat"] is None
    model = TFLiteModel.from_bytes(q.tflite)
    assert model.is_full_integer and model.input_tensors[0].shape == (1, D)
    assert all(t.dtype in ("INT8", "INT32") for t in model.tensors)  # TFLITE_BUILTINS_INT8 only
    assert model.op_names == ["FULLY_CONNECTED"]
    assert q.input_zero_point == int(model.input_tensors[0].quantization.zero_point[0])
    assert q.output_scale == pytest.approx(float(model.output_tensors[0].quantization.scale[0]))
    # stated tolerance: int8 AUC within 0.02 of float on this toy problem
    assert abs(q.aucs["ptq"] - q.aucs["float"]) < 0.02
    assert set(q.to_manifest()) >= {"method", "input_scale", "input_zero_point", "output_scale", "output_zero_point"}


@pytest.mark.slow
def test_best_runs_both_and_keeps_the_better(trained):
    from edgesynth.deploy.quantize import quantize

    m, X_rep, X_val, y_val = trained
    q = quantize(m, X_rep, method="best", X_val=X_val, y_val=y_val, qat_epochs=1, seed=0)
    assert q.aucs["ptq"] is not None and q.aucs["qat"] is not None
    best = "qat" if q.aucs["qat"] > q.aucs["ptq"] else "ptq"
    assert q.method == best
    assert set(q.info["mean_abs_score_diff_vs_float"]) == {"ptq", "qat"}


@pytest.mark.slow
def test_qat_without_labels(trained):
    from edgesynth.deploy.quantize import quantize

    m, X_rep, _, _ = trained
    q = quantize(m, X_rep, method="qat", qat_epochs=1, seed=1)
    assert q.method == "qat" and q.aucs is None
    assert TFLiteModel.from_bytes(q.tflite).is_full_integer


def test_bad_arguments(trained):
    from edgesynth.deploy.quantize import quantize

    m, X_rep, X_val, y_val = trained
    with pytest.raises(ParameterError, match="method"):
        quantize(m, X_rep, method="fp16")
    with pytest.raises(ParameterError, match="X_rep"):
        quantize(m, X_rep[:, :5])
    with pytest.raises(ParameterError, match="y_val"):
        quantize(m, X_rep, y_val=y_val)
