"""Standalone C target: exact text, and gcc-compiled int8 outputs bit-identical to the TFLM interpreter."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool
from edgesynth.errors import ExportError, ParameterError
from firmware_export.standalone import (
    FrontEnd,
    Layer,
    Network,
    QTensor,
    _layers_from_tflite,
    _round_away,
    activation_plan,
    emit_standalone,
    quantize_multiplier,
    render_standalone,
    spectrum_band_edges,
    standalone_sources,
)

GCC_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]

HOST_MAIN = r"""
#include <stdio.h>
#include "NAME.h"
/* argv[1] == "i": rows of int8 -> rows of int8 outputs; "s": rows of floats -> "rc score" */
int main(int argc, char **argv)
{
    static int8_t in[NAME_UP_INPUT_SIZE], out[NAME_UP_OUTPUT_SIZE];
    static float win[NAME_UP_WINDOW_SIZE];
    int score_mode = argc > 1 && argv[1][0] == 's';
    for (;;) {
        int i, v;
        if (!score_mode) {
            for (i = 0; i < NAME_UP_INPUT_SIZE; ++i) {
                if (scanf("%d", &v) != 1) return 0;
                in[i] = (int8_t)v;
            }
            if (NAME_infer_int8(in, out) != NAME_UP_OK) return 2;
            for (i = 0; i < NAME_UP_OUTPUT_SIZE; ++i) printf("%d%c", out[i], i + 1 == NAME_UP_OUTPUT_SIZE ? '\n' : ' ');
        } else {
            float s = -1.0f;
            int rc;
            for (i = 0; i < NAME_UP_WINDOW_SIZE; ++i) {
                if (scanf("%f", &win[i]) != 1) return 0;
            }
            rc = NAME_score(win, &s);
            printf("%d %.9g\n", rc, s);
        }
    }
}
"""


# --------------------------------------------------------------------------- helpers
def _convert(model, X_rep, *, per_channel=True) -> bytes:
    from edgesynth._tf import tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def rep():
        for i in range(min(len(X_rep), 100)):
            yield [X_rep[i:i + 1]]

    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if not per_channel:
        conv._experimental_disable_per_channel = True
    return conv.convert()


def realistic_windows(n: int, length: int, n_channels: int = 1, *, seed: int = 0) -> np.ndarray:
    """Noisy sinusoids with random phase/frequency, flattened sample-major: (n, length * n_channels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :, None]
    f = rng.uniform(0.02, 0.12, size=(n, 1, n_channels))
    ph = rng.uniform(0, 2 * np.pi, size=(n, 1, n_channels))
    x = np.sin(2 * np.pi * f * t + ph) + 0.1 * rng.normal(size=(n, length, n_channels))
    return x.reshape(n, -1).astype(np.float32)


def build_model(kind: str, *, per_channel: bool = True, seed: int = 0, epochs: int = 2) -> dict:
    """A tiny trained autoencoder converted to int8; returns tflite bytes and the training data."""
    from edgesynth._tf import keras, tf

    keras.utils.set_random_seed(seed)
    if kind == "dense":
        d = 24
        X = realistic_windows(256, d, seed=seed)
        i = keras.Input((d,), batch_size=1)
        h = keras.layers.Dense(12, activation="relu")(i)
        h = keras.layers.Dense(6, activation="relu")(h)
        h = keras.layers.Dense(12, activation="relu")(h)
        o = keras.layers.Dense(d)(h)
    elif kind == "mixed":  # every kernel in one small graph: conv1d, dense, transposed conv1d
        L, C = 16, 2
        d = L * C
        X = realistic_windows(256, L, C, seed=seed)
        i = keras.Input((d,), batch_size=1)
        h = keras.layers.Reshape((L, C))(i)
        h = keras.layers.Conv1D(4, 5, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(8, activation="relu")(h)
        h = keras.layers.Dense(8 * 4, activation="relu")(h)
        h = keras.layers.Reshape((8, 4))(h)
        h = keras.layers.Conv1DTranspose(C, 5, strides=2, padding="same")(h)
        o = keras.layers.Flatten()(h)
    elif kind in ("ops6", "ops1"):  # separate RELU6 / RELU operators, ADD of a constant with fused RELU
        d = 16
        X = realistic_windows(256, d, seed=seed)
        i = keras.Input((d,), batch_size=1)
        h = keras.layers.ReLU(max_value=6.0 if kind == "ops6" else None)(i)
        h = keras.layers.Dense(12, activation="relu")(h)
        h = keras.layers.ReLU(max_value=6.0)(keras.layers.Dense(d)(h))
        h = h + tf.constant(np.linspace(-1, 1, d, dtype=np.float32))
        o = keras.layers.ReLU()(h)
    else:  # conv1d with SAME/VALID padding, stride 2, transposed convolutions
        L, C = 32, 2
        d = L * C
        X = realistic_windows(256, L, C, seed=seed)
        i = keras.Input((d,), batch_size=1)
        h = keras.layers.Reshape((L, C))(i)
        h = keras.layers.Conv1D(6, 5, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Conv1D(4, 3, padding="valid", activation="relu")(h)
        h = keras.layers.Conv1DTranspose(6, 3, padding="valid", activation="relu")(h)
        h = keras.layers.Conv1DTranspose(C, 5, strides=2, padding="same")(h)
        o = keras.layers.Flatten()(h)
    model = keras.Model(i, o)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    if epochs:
        model.fit(X, X, epochs=epochs, batch_size=32, verbose=0, shuffle=False)
    return {"tflite": _convert(model, X, per_channel=per_channel), "X": X, "d": d}


def tflm_outputs(tflite: bytes, Xq: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tflite, arena_size=64 * 1024)
    out = []
    for row in Xq:
        it.set_input(row.reshape(1, -1), 0)
        it.invoke()
        out.append(it.get_output(0).ravel().copy())
    return np.array(out, dtype=np.int8)


def compile_host(out_dir: Path, name: str, *, extra: tuple[str, ...] = ()) -> Path:
    gcc = require_tool("gcc")
    src = out_dir / "host_main.c"
    src.write_text(HOST_MAIN.replace("NAME_UP", name.upper()).replace("NAME", name))
    exe = out_dir / f"{name}_host"
    proc = subprocess.run([gcc, *GCC_FLAGS, *extra, "-I", str(out_dir), str(out_dir / f"{name}.c"), str(src),
                           "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def run_host(exe: Path, rows: np.ndarray, mode: str) -> list[str]:
    fmt = (lambda v: str(int(v))) if mode == "i" else (lambda v: "%.9g" % v)  # "s"/"f": floats
    text = "\n".join(" ".join(fmt(v) for v in row) for row in rows) + "\n"
    proc = subprocess.run([str(exe), mode], input=text, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "runtime error" not in proc.stderr, proc.stderr  # UBSan reports (builds with -fsanitize)
    return proc.stdout.strip().splitlines()


def quantize_tflm(z: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """TFLM's float -> int8 QUANTIZE: round half away from zero of z / scale in float32."""
    q = _round_away(np.asarray(z, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def python_scores(tflite: bytes, windows: np.ndarray, mean, scale) -> np.ndarray:
    net = _layers_from_tflite(tflite)
    z = (windows.astype(np.float32) - np.float32(mean)) / np.float32(scale)
    out = tflm_outputs(tflite, quantize_tflm(z, net.input.scale, net.input.zero_point))
    z_hat = (out.astype(np.float32) - net.output.zero_point) * np.float32(net.output.scale)
    return np.mean((z - z_hat) ** 2, axis=1)


@pytest.fixture(scope="module")
def dense_model():
    return build_model("dense")


@pytest.fixture(scope="module")
def conv_model():
    return build_model("conv")


# --------------------------------------------------------------------------- fixed point (no TF)
@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (0.25, (1 << 30, -1)),
    (1.0, (1 << 30, 1)),
    (0.0, (0, 0)),
    (1e-12, (0, 0)),        # shift < -31 flushes to zero, as TFLM
])
def test_quantize_multiplier_known_values(real, expected):
    assert quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs(rng):
    for real in rng.uniform(1e-6, 4.0, size=200):
        m, s = quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0 ** -30


def test_quantize_multiplier_rejects_negative():
    with pytest.raises(ExportError, match="multiplier"):
        quantize_multiplier(-0.5)


def test_round_away_matches_c_round():
    x = np.array([0.5, -0.5, 1.5, -2.5, 0.49999997, -0.49999997, 2.4999998], dtype=np.float32)
    np.testing.assert_array_equal(_round_away(x), [1, -1, 2, -3, 0, 0, 2])


def test_bad_bytes_raise_export_error():
    with pytest.raises(ExportError, match="tflite"):
        standalone_sources(b"not a model at all, definitely", {"mean": 0, "scale": 1, "threshold": 1}, name="m")


@pytest.mark.parametrize("name", ["firmware_export.standalone", "firmware_export.arm"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def _tiny_network() -> Network:
    """3 -> 2 (RELU, per-tensor) -> 3 (per-channel) with hand-checkable numbers."""
    def q(n, scale, zp):
        return QTensor(n, (1, n), scale, zp)

    def fc(n_in, n_out, pc):
        return {"in_w": 1, "in_c": n_in, "out_w": 1, "out_c": n_out, "per_channel": pc}

    l0 = Layer("fully_connected", 0, "FULLY_CONNECTED", q(3, 0.5, 1), q(2, 0.25, -128),
               weights=np.array([[1, -2, 3], [4, 5, -6]], np.int8), bias=np.array([10, -20], np.int32),
               scales=[0.02], activation="RELU", geometry=fc(3, 2, 0))
    l1 = Layer("fully_connected", 1, "FULLY_CONNECTED", q(2, 0.25, -128), q(3, 0.5, 1),
               weights=np.array([[7, -8], [9, 10], [-10, 12]], np.int8), scales=[0.5, 0.25, 0.125],
               geometry=fc(2, 3, 1))
    return Network(q(3, 0.5, 1), q(3, 0.5, 1), [l0, l1], ["FULLY_CONNECTED"] * 2)


TINY_TEXT = """/* ------------------------------------------------------------------ parameters */
/* layer 0: FULLY_CONNECTED (tflite operator 0) -> fully_connected, 3 -> 2 values, activation RELU */
static const int8_t es_w0[6] = {
    1, -2, 3, 4, 5, -6
};
/* bias + (-input zero point) * sum of each weight row */
static const int32_t es_b0[2] = {
    8, -23
};
static const int32_t es_m0[1] = {
    1374389535
};
static const int8_t es_s0[1] = {
    -5
};

/* layer 1: FULLY_CONNECTED (tflite operator 1) -> fully_connected, 2 -> 3 values, activation NONE */
static const int8_t es_w1[6] = {
    7, -8, 9, 10, -10, 12
};
/* bias + (-input zero point) * sum of each weight row */
static const int32_t es_b1[3] = {
    -128, 2432, 256
};
static const int32_t es_m1[3] = {
    1073741824, 1073741824, 1073741824
};
static const int8_t es_s1[3] = {
    0, -1, -2
};

static const es_layer_t es_layers[2] = {
    {es_w0, es_b0, es_m0, es_s0, -1, -128, 0, -128, 127, 1, 3, 1, 2, 1, 1, 1, 0, 0},
    {es_w1, es_b1, es_m1, es_s1, 128, 1, 0, -128, 127, 1, 2, 1, 3, 1, 1, 1, 0, 1}
};

/* ------------------------------------------------------------------ inference */
/* intermediate activations: 2 bytes = the largest pair of consecutive ones; layer i
 * writes at the start (even i) or the end (odd i), the other end holds its input */
static int8_t es_act[2];

int tiny_infer_int8(const int8_t *in, int8_t *out)
{
    if (in == 0 || out == 0) {
        return TINY_ERR_NULL;
    }
    es_fully_connected(in, es_act, &es_layers[0]);
    es_fully_connected(es_act, out, &es_layers[1]);
    return TINY_OK;
}
"""


def _tiny_sources() -> dict[str, str]:
    front = FrontEnd(np.zeros(1, np.float32), np.ones(1, np.float32), 0.5, 3, 1)
    return render_standalone(_tiny_network(), front, name="tiny", version="0.0.0")


def test_exact_text_of_a_tiny_network():
    c = _tiny_sources()["tiny.c"]
    assert c.startswith("// generated by edgesynth 0.0.0")
    # 0.02 = 0.64 * 2**-5 -> round(0.64 * 2**31) = 1374389535, shift -5; 0.5/0.25/0.125 = 2**30 * 2**(s-31);
    # folded biases: 10 - (1 - 2 + 3) = 8, -20 - (4 + 5 - 6) = -23; 128 * (7 - 8), 128 * 19, 128 * 2
    start = c.index("/* ------------------------------------------------------------------ parameters")
    end = c.index("/* ------------------------------------------------------------------ float front end")
    assert c[start:end].rstrip("\n") + "\n" == TINY_TEXT
    # only the kernels the model uses are pasted in (unused statics would break -Werror)
    assert "es_fully_connected(const int8_t" in c and "es_conv1d(" not in c and "es_add_const(" not in c


@pytest.mark.cc
def test_tiny_network_hand_computed(tmp_path):
    """TFLM arithmetic by hand: round-half-away in SaturatingRoundingDoublingHighMul, then a
    second rounding in RoundingDivideByPOT (81 * 0.25 = 20.25 gives 21, not 20)."""
    for fn, text in _tiny_sources().items():
        (tmp_path / fn).write_text(text)
    exe = compile_host(tmp_path, "tiny")
    # x - zp = (100, -100, 50): layer 0 -> 460 * 0.02 = 9.2 -> 9 - 128 = -119; -420 * 0.02 -> -8 - 128 -> RELU -128
    # layer 1 (h + 128 = (9, 0)): 63 * 0.5 = 31.5 -> 32 + 1; 81 * 0.25 -> 41 -> 21 + 1; -90 * 0.125 -> -11 + 1
    assert run_host(exe, np.array([[101, -99, 51], [1, 1, 1]]), "i") == ["33 22 -10", "1 1 1"]


def test_activation_plan_is_the_largest_pair(rng):
    def q(n):
        return QTensor(int(n), (1, int(n)), 1.0, 0)

    for _ in range(200):
        sizes = rng.integers(1, 50, size=rng.integers(2, 9))
        net = Network(q(sizes[0]), q(sizes[-1]),
                      [Layer("fully_connected", i, "FC", q(a), q(b)) for i, (a, b) in
                       enumerate(zip(sizes[:-1], sizes[1:]))], [])
        total, offsets = activation_plan(net)
        inner = sizes[1:-1]
        if len(inner) == 0:
            assert (total, offsets) == (0, [])
            continue
        assert total == max([inner[0]] + [a + b for a, b in zip(inner, inner[1:])])
        for i, (off, n) in enumerate(zip(offsets, inner)):
            assert 0 <= off and off + n <= total
            if i:  # a layer's input (previous output) and output never overlap
                prev = offsets[i - 1], offsets[i - 1] + inner[i - 1]
                assert off + n <= prev[0] or off >= prev[1]


def test_spectrum_band_edges_match_the_pipeline():
    from edgesynth.data.features import FeaturePipeline

    fp = FeaturePipeline(kind="spectrum", n_bands=5)
    X = np.zeros((1, 64, 1), np.float32)
    X[0, :, 0] = np.cos(2 * np.pi * 13 * np.arange(64) / 64)  # all energy in bin 13
    edges = spectrum_band_edges(64, 5)
    band = int(np.searchsorted(edges, 13, side="left")) - 1  # bins edges[b]+1 .. edges[b+1]
    assert edges[band] + 1 <= 13 <= edges[band + 1]
    assert int(np.argmax(fp.transform(X)[0])) == band


# --------------------------------------------------------------------------- a real model, no TF
@pytest.mark.cc
def test_reference_model_ad01_bit_exact_with_tflm(reference_model_path, tmp_path):
    """The MLPerf Tiny anomaly-detection model (640-128x4-8-128x4-640, int8): C == TFLM, no UB."""
    b = reference_model_path.read_bytes()
    emit_standalone(b, {"mean": 0.0, "scale": 1.0, "threshold": 1.0}, tmp_path, name="ad01")
    net = _layers_from_tflite(b)
    assert [L.kind for L in net.layers] == ["fully_connected"] * 10
    assert "static int8_t es_act[256];" in (tmp_path / "ad01.c").read_text()  # 128 + 128, not an arena
    exe = compile_host(tmp_path, "ad01", extra=("-fsanitize=undefined", "-fno-sanitize-recover=all"))
    rng = np.random.default_rng(440)
    Xq = rng.integers(-128, 128, size=(1500, 640)).astype(np.int8)
    Xq[:100] = np.clip(rng.normal(net.input.zero_point, 8, size=(100, 640)), -128, 127).astype(np.int8)
    got = np.array([[int(v) for v in ln.split()] for ln in run_host(exe, Xq, "i")], dtype=np.int8)
    want = tflm_outputs(b, Xq)
    assert got.shape == want.shape == (1500, 640)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 100


# --------------------------------------------------------------------------- emitter (TF-built models)
@pytest.mark.slow
def test_text_is_deterministic_and_self_contained(dense_model, tmp_path):
    cfg = {"mean": 0.0, "scale": 1.0, "threshold": 0.25, "window_length": 24, "n_channels": 1}
    a = standalone_sources(dense_model["tflite"], cfg, name="ecg")
    b = standalone_sources(dense_model["tflite"], cfg, name="ecg")
    assert a == b and set(a) == {"ecg.h", "ecg.c"}
    for text in a.values():
        assert text.startswith("// generated by edgesynth ")
        assert "do not edit" in text.splitlines()[0]
        assert "@@" not in text
    includes = {ln.strip() for t in a.values() for ln in t.splitlines() if ln.startswith("#include")}
    assert includes == {"#include <stdint.h>", "#include <math.h>", '#include "ecg.h"'}
    h = a["ecg.h"]
    for sym in ("int ecg_infer_int8(const int8_t *in, int8_t *out);",
                "int ecg_score(const float *window, float *score);",
                "#define ECG_THRESHOLD 0.25f", "#define ECG_INPUT_SIZE 24", "#define ECG_ERR_NONFINITE (-2)"):
        assert sym in h
    paths = emit_standalone(dense_model["tflite"], cfg, tmp_path, name="ecg")
    assert [p.name for p in paths] == ["ecg.h", "ecg.c"]
    assert paths[1].read_text() == a["ecg.c"]
    # a different name changes only the names
    other = standalone_sources(dense_model["tflite"], cfg, name="det2")
    assert other["det2.c"].replace("det2", "ecg").replace("DET2", "ECG") == a["ecg.c"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["int", "9lives", "bad-name", "", "__x"])
def test_bad_names_rejected(dense_model, tmp_path, name):
    with pytest.raises(ExportError, match="name"):
        emit_standalone(dense_model["tflite"], {"mean": 0, "scale": 1, "threshold": 1}, tmp_path, name=name)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_config_validation(dense_model, tmp_path):
    b = dense_model["tflite"]
    with pytest.raises(ParameterError, match="mean"):
        standalone_sources(b, {"scale": 1.0, "threshold": 1.0}, name="m")
    with pytest.raises(ParameterError, match="24"):
        standalone_sources(b, {"mean": np.zeros(5), "scale": 1.0, "threshold": 1.0}, name="m")
    with pytest.raises(ParameterError, match="threshold"):
        standalone_sources(b, {"mean": 0.0, "scale": 1.0, "threshold": float("nan")}, name="m")
    with pytest.raises(ParameterError, match="window_length"):
        standalone_sources(b, {"mean": 0.0, "scale": 1.0, "threshold": 1.0, "window_length": 5}, name="m")
    # manifest-style nesting is accepted
    cfg = {"normalization": {"mean": np.zeros(24), "scale": np.ones(24)}, "threshold": {"value": 0.1}}
    assert "0.100000001f" in standalone_sources(b, cfg, name="m")["m.h"]


@pytest.mark.slow
def test_unsupported_op_is_named(tmp_path):
    from edgesynth._tf import keras

    keras.utils.set_random_seed(1)
    X = realistic_windows(64, 8)
    i = keras.Input((8,), batch_size=1)
    o = keras.layers.Dense(8, activation="sigmoid")(keras.layers.Dense(4, activation="relu")(i))
    tfl = _convert(keras.Model(i, o), X)
    with pytest.raises(ExportError, match="LOGISTIC"):
        emit_standalone(tfl, {"mean": 0, "scale": 1, "threshold": 1}, tmp_path, name="m")


@pytest.mark.slow
def test_layers_adapter_conv(conv_model):
    net = _layers_from_tflite(conv_model["tflite"])
    kinds = [L.kind for L in net.layers]
    assert kinds[:2] == ["conv1d", "conv1d"] and "transpose_conv1d" in kinds
    assert net.input.size == net.output.size == 64
    g = net.layers[0].geometry
    assert (g["in_w"], g["out_w"], g["stride"], g["k"]) == (32, 16, 2, 5)
    assert net.layers[1].geometry["pad"] == 0 and net.layers[1].geometry["out_w"] == 14


# --------------------------------------------------------------------------- compiled C == TFLM
@pytest.mark.slow
@pytest.mark.cc
@pytest.mark.parametrize("kind, per_channel, kernels", [
    ("dense", True, {"fully_connected"}),
    ("dense", False, {"fully_connected"}),
    ("conv", True, {"conv1d", "transpose_conv1d"}),
    ("ops6", True, {"clamp", "fully_connected", "add_const"}),      # TFLM's RELU6 only clamps
    ("ops1", True, {"requantize", "fully_connected", "add_const"}),  # RELU requantizes
])
def test_int8_bit_exact_with_tflm(kind, per_channel, kernels, dense_model, conv_model, tmp_path):
    if kind in ("dense", "conv") and per_channel:
        model = {"dense": dense_model, "conv": conv_model}[kind]
    else:
        model = build_model(kind, per_channel=per_channel, seed=3, epochs=1)
    b = model["tflite"]
    net = _layers_from_tflite(b)
    assert {L.kind for L in net.layers} == kernels
    assert any(L.geometry.get("per_channel") for L in net.layers) == per_channel
    emit_standalone(b, {"mean": 0.0, "scale": 1.0, "threshold": 1.0}, tmp_path, name="det")
    exe = compile_host(tmp_path, "det")
    rng = np.random.default_rng(440)
    Xrand = rng.integers(-128, 128, size=(2000, model["d"])).astype(np.int8)
    Xreal = quantize_tflm(realistic_windows(1000, model["d"], seed=7)
                          * rng.uniform(0.2, 3.0, size=(1000, 1)).astype(np.float32),
                          net.input.scale, net.input.zero_point)
    Xq = np.concatenate([Xrand, Xreal])
    got = np.array([[int(v) for v in ln.split()] for ln in run_host(exe, Xq, "i")], dtype=np.int8)
    want = tflm_outputs(b, Xq)
    assert got.shape == want.shape == (3000, model["d"])
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 20  # the vectors exercise the whole int8 range, not a constant


@pytest.mark.slow
@pytest.mark.cc
@pytest.mark.parametrize("per_feature", [False, True])
def test_score_matches_python(per_feature, dense_model, tmp_path):
    b, d = dense_model["tflite"], dense_model["d"]
    rng = np.random.default_rng(440)
    if per_feature:
        mean = rng.normal(0, 0.1, size=d).astype(np.float32)
        scale = rng.uniform(0.5, 2.0, size=d).astype(np.float32)
    else:
        mean, scale = np.float32(0.1), np.float32(0.8)
    cfg = {"mean": mean, "scale": scale, "threshold": 0.3, "window_length": d, "n_channels": 1}
    emit_standalone(b, cfg, tmp_path, name="det")
    exe = compile_host(tmp_path, "det")
    W = np.concatenate([realistic_windows(400, d, seed=11), rng.normal(0, 2, size=(100, d)).astype(np.float32)])
    lines = run_host(exe, W, "s")
    rc = np.array([int(ln.split()[0]) for ln in lines])
    got = np.array([float(ln.split()[1]) for ln in lines], dtype=np.float32)
    assert np.all(rc == 0)
    want = python_scores(b, W, mean, scale)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)
    assert np.ptp(want) > 0


@pytest.mark.slow
@pytest.mark.cc
def test_return_codes(dense_model, tmp_path):
    gcc = require_tool("gcc")
    emit_standalone(dense_model["tflite"], {"mean": 0, "scale": 1, "threshold": 1}, tmp_path, name="det")
    (tmp_path / "rc.c").write_text(r"""
#include <math.h>
#include <stdio.h>
#include "det.h"
int main(void)
{
    float w[DET_WINDOW_SIZE] = {0};
    int8_t q[DET_INPUT_SIZE] = {0};
    int8_t o[DET_OUTPUT_SIZE];
    float s = 123.0f;
    printf("%d %d %d ", det_infer_int8(0, o), det_infer_int8(q, 0), det_infer_int8(q, o));
    printf("%d %d ", det_score(0, &s), det_score(w, 0));
    w[3] = NAN;
    printf("%d ", det_score(w, &s));
    w[3] = INFINITY;
    printf("%d %g ", det_score(w, &s), s);
    w[3] = 1e30f; /* huge but finite: saturates, no UB */
    printf("%d\n", det_score(w, &s));
    return 0;
}
""")
    exe = tmp_path / "rc"
    proc = subprocess.run([gcc, *GCC_FLAGS, "-I", str(tmp_path), str(tmp_path / "det.c"), str(tmp_path / "rc.c"),
                           "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout.split() == \
        ["-1", "-1", "0", "-1", "-1", "-2", "-2", "123", "0"]


# --------------------------------------------------------------------------- log-mel front end
def _logmel_cfg(n_channels: int = 2) -> tuple[dict, object]:
    from edgesynth.data.features import FeaturePipeline

    fp = FeaturePipeline(kind="logmel", sr=8000.0, n_fft=32, hop_length=16, n_frames=2, n_mels=6)
    L = fp.logmel_window_length()
    cfg = {"mean": -20.0, "scale": 15.0, "threshold": 1.0, "window_length": L, "n_channels": n_channels,
           "features": fp.to_dict()}
    return cfg, fp


@pytest.mark.slow
@pytest.mark.cc
def test_logmel_front_end_matches_librosa(dense_model, tmp_path):
    import librosa

    gcc = require_tool("gcc")
    cfg, fp = _logmel_cfg(n_channels=2)  # 6 mels x 2 frames x 2 channels = the model's 24 inputs
    emit_standalone(dense_model["tflite"], cfg, tmp_path, name="lm")
    (tmp_path / "feat.c").write_text(r"""
#include <stdio.h>
#include "lm.h"
int main(void)
{
    static float w[LM_WINDOW_SIZE], f[LM_N_FEATURES];
    int i;
    for (;;) {
        for (i = 0; i < LM_WINDOW_SIZE; ++i) {
            if (scanf("%f", &w[i]) != 1) return 0;
        }
        if (lm_features(w, f) != LM_OK) return 2;
        for (i = 0; i < LM_N_FEATURES; ++i) printf("%.9g ", f[i]);
        printf("\n");
    }
}
""")
    exe = tmp_path / "feat"
    proc = subprocess.run([gcc, *GCC_FLAGS, "-I", str(tmp_path), str(tmp_path / "lm.c"), str(tmp_path / "feat.c"),
                           "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rng = np.random.default_rng(440)
    n, L = 200, cfg["window_length"]
    t = np.arange(L)
    X = (rng.normal(size=(n, L, 2)) + 3 * np.sin(0.4 * t)[None, :, None] * rng.uniform(0, 1, (n, 1, 2)))
    X = X.astype(np.float32)
    got = np.array([[float(v) for v in ln.split()] for ln in run_host(exe, X.reshape(n, -1), "f")], np.float32)
    # librosa: (n, channels, n_mels, n_frames) -> frame-major per channel, channels concatenated
    M = librosa.feature.melspectrogram(y=np.ascontiguousarray(X.transpose(0, 2, 1)), sr=8000, n_fft=32,
                                       hop_length=16, n_mels=6, power=2.0, center=False)
    want = (10 * np.log10(M + np.finfo(float).eps)).transpose(0, 1, 3, 2).reshape(n, -1)
    np.testing.assert_allclose(got, want, atol=1e-3)
    np.testing.assert_allclose(got, fp.transform(X), atol=1e-3)


@pytest.mark.slow
@pytest.mark.cc
def test_logmel_score_matches_python(dense_model, tmp_path):
    cfg, fp = _logmel_cfg(n_channels=2)
    b = dense_model["tflite"]
    emit_standalone(b, cfg, tmp_path, name="lm")
    exe = compile_host(tmp_path, "lm")
    rng = np.random.default_rng(440)
    X = rng.normal(size=(150, cfg["window_length"], 2)).astype(np.float32)
    lines = run_host(exe, X.reshape(len(X), -1), "s")
    assert all(ln.split()[0] == "0" for ln in lines)
    got = np.array([float(ln.split()[1]) for ln in lines])
    want = python_scores(b, fp.transform(X), cfg["mean"], cfg["scale"])
    rel = np.abs(got - want) / want
    assert np.median(rel) < 1e-5 and rel.max() < 5e-2  # a feature within 1e-6 dB may flip one int8 input


@pytest.mark.slow
def test_logmel_rejects_unsupported_parameters(dense_model):
    cfg, _ = _logmel_cfg()
    bad = dict(cfg, features=dict(cfg["features"], n_fft=30, hop_length=18))
    with pytest.raises(ExportError, match="power of two"):
        standalone_sources(dense_model["tflite"], bad, name="lm")
    with pytest.raises(ExportError, match="features"):
        standalone_sources(dense_model["tflite"], dict(cfg, features=None, feature_kind="logmel"), name="lm")
    with pytest.raises(ParameterError, match="window_length"):
        standalone_sources(dense_model["tflite"], dict(cfg, window_length=40), name="lm")


@pytest.mark.slow
def test_accepts_firmware_config_and_manifest(dense_model):
    tflm = pytest.importorskip("firmware_export.tflm")
    b = dense_model["tflite"]
    fc = tflm.FirmwareConfig(threshold=0.5, window_length=24, n_channels=1,
                             norm_mean=[0.5] * 24, norm_scale=[2.0] * 24)
    text = standalone_sources(b, fc, name="m")["m.c"]
    assert "es_mean[24]" in text and "0.5f" in text
    ident = standalone_sources(b, tflm.FirmwareConfig(threshold=0.5, window_length=24), name="m")["m.c"]
    assert "static const float es_mean = 0.0f;" in ident
    manifest = {"window": {"window_length": 24, "n_channels": 1}, "threshold": {"value": 0.5},
                "normalization": {"mean": [0.5] * 24, "scale": [2.0] * 24}, "features": {"kind": "raw"}}
    assert standalone_sources(b, manifest, name="m")["m.c"] == text


# --------------------------------------------------------------------------- band-spectrum front end
def _spectrum_cfg(n_channels: int = 3) -> tuple[dict, object]:
    from edgesynth.data.features import FeaturePipeline

    fp = FeaturePipeline(kind="spectrum", n_bands=8)  # 8 bands x 3 channels = the dense model's 24 inputs
    cfg = {"mean": -30.0, "scale": 10.0, "threshold": 1.0, "window_length": 64, "n_channels": n_channels,
           "features": fp.to_dict()}
    return cfg, fp


def _vibration(n: int, L: int, C: int, rng) -> np.ndarray:
    t = np.arange(L)[None, :, None]
    f = rng.uniform(1, L / 2 - 1, size=(n, 1, C))
    x = rng.uniform(0.2, 3, (n, 1, C)) * np.sin(2 * np.pi * f * t / L + rng.uniform(0, 6, (n, 1, C)))
    return (x + 0.3 * rng.normal(size=(n, L, C))).astype(np.float32)


@pytest.mark.slow
@pytest.mark.cc
def test_spectrum_front_end_and_score_match_python(dense_model, tmp_path):
    gcc = require_tool("gcc")
    cfg, fp = _spectrum_cfg()
    b = dense_model["tflite"]
    emit_standalone(b, cfg, tmp_path, name="vib")
    (tmp_path / "feat.c").write_text(r"""
#include <stdio.h>
#include "vib.h"
int main(void)
{
    static float w[VIB_WINDOW_SIZE], f[VIB_N_FEATURES];
    int i;
    for (;;) {
        for (i = 0; i < VIB_WINDOW_SIZE; ++i) {
            if (scanf("%f", &w[i]) != 1) return 0;
        }
        if (vib_features(w, f) != VIB_OK) return 2;
        for (i = 0; i < VIB_N_FEATURES; ++i) printf("%.9g ", f[i]);
        printf("\n");
    }
}
""")
    exe = tmp_path / "feat"
    proc = subprocess.run([gcc, *GCC_FLAGS, "-I", str(tmp_path), str(tmp_path / "vib.c"), str(tmp_path / "feat.c"),
                           "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rng = np.random.default_rng(440)
    X = _vibration(300, 64, 3, rng)
    got = np.array([[float(v) for v in ln.split()] for ln in run_host(exe, X.reshape(len(X), -1), "f")], np.float32)
    want = fp.transform(X)  # scipy's rfft in float32, numpy band means
    assert got.shape == want.shape == (300, 24)
    np.testing.assert_allclose(got, want, atol=2e-3)  # dB
    assert np.ptp(want) > 20
    # the whole score: features -> normalize -> int8 network -> reconstruction error
    exe = compile_host(tmp_path, "vib")
    lines = run_host(exe, X.reshape(len(X), -1), "s")
    assert all(ln.split()[0] == "0" for ln in lines)
    got_s = np.array([float(ln.split()[1]) for ln in lines])
    want_s = python_scores(b, want, cfg["mean"], cfg["scale"])
    rel = np.abs(got_s - want_s) / want_s
    assert np.median(rel) < 1e-5 and rel.max() < 5e-2  # a feature within 1e-3 dB may flip one int8 input


@pytest.mark.slow
def test_firmware_config_takes_the_feature_pipeline_separately(dense_model):
    """pipeline.export passes FirmwareConfig.from_manifest(...), which names the feature kind only."""
    tflm = pytest.importorskip("firmware_export.tflm")
    cfg, fp = _spectrum_cfg()
    fc = tflm.FirmwareConfig(threshold=0.5, window_length=64, n_channels=3, feature_kind="spectrum",
                             norm_mean=[-30.0] * 24, norm_scale=[10.0] * 24)
    with pytest.raises(ExportError, match="features="):
        standalone_sources(dense_model["tflite"], fc, name="m")
    text = standalone_sources(dense_model["tflite"], fc, name="m", features=fp.to_dict())["m.c"]
    assert "int m_features(const float *window, float *features)" in text
    assert text == standalone_sources(dense_model["tflite"], fc, name="m", features=fp)["m.c"]
    with pytest.raises(ParameterError, match="feature_kind"):
        standalone_sources(dense_model["tflite"], fc, name="m", features=dict(cfg["features"], kind="logmel"))
    with pytest.raises(ExportError, match="power of two"):  # the whole window is one FFT
        standalone_sources(dense_model["tflite"], dict(cfg, window_length=60), name="m")


# --------------------------------------------------------------------------- real ECG beats
@pytest.mark.slow
@pytest.mark.cc
def test_ecg5000_beats_bit_exact_and_scores(ecg5000, tmp_path):
    """A dense detector trained on real ECG5000 beats and converted by edgesynth's own quantizer:
    all 4500 test beats give TFLM's bytes, and NAME_score gives Python's score."""
    from edgesynth._tf import keras
    from edgesynth.data.features import Normalizer
    from edgesynth.deploy.quantize import convert_int8
    from edgesynth.deploy.runtime import quantize_array

    Xtr, ytr, Xte, _ = ecg5000
    norm = Normalizer().fit(Xtr[ytr == 1])
    Ztr = norm.transform(Xtr[ytr == 1])
    keras.utils.set_random_seed(0)
    i = keras.Input((140,))
    h = keras.layers.Dense(24, activation="relu")(i)
    h = keras.layers.Dense(6, activation="relu")(h)
    h = keras.layers.Dense(24, activation="relu")(h)
    model = keras.Model(i, keras.layers.Dense(140)(h))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(Ztr, Ztr, epochs=3, batch_size=32, verbose=0)
    b = convert_int8(model, Ztr, per_channel_dense=True)
    net = _layers_from_tflite(b)
    emit_standalone(b, {"mean": norm.mean_, "scale": norm.scale_, "threshold": 1.0, "window_length": 140},
                    tmp_path, name="ecg")
    exe = compile_host(tmp_path, "ecg")
    Xq = quantize_array(norm.transform(Xte), net.input.scale, net.input.zero_point)
    got = np.array([[int(v) for v in ln.split()] for ln in run_host(exe, Xq, "i")], dtype=np.int8)
    want = tflm_outputs(b, Xq)
    assert got.shape == want.shape == (4500, 140)
    np.testing.assert_array_equal(got, want)
    W = Xte[::3]
    lines = run_host(exe, W, "s")
    assert all(ln.split()[0] == "0" for ln in lines)
    got_s = np.array([float(ln.split()[1]) for ln in lines], dtype=np.float32)
    np.testing.assert_allclose(got_s, python_scores(b, W, norm.mean_, norm.scale_), rtol=2e-5, atol=1e-7)


# --------------------------------------------------------------------------- edgesynth's own detector artifact
@pytest.mark.slow
@pytest.mark.cc
def test_demo_artifact_matches_the_artifact_scorer(demo_artifact, tmp_path):
    """The demo detector (vibration, band-spectrum features) exported as pipeline.export does,
    plus the feature pipeline: C scores and decisions equal ArtifactScorer's (TFLM)."""
    from edgesynth.artifact import read_manifest
    from edgesynth.data.simulate import simulate_vibration
    from edgesynth.deploy.scorer import ArtifactScorer
    from firmware_export.tflm import FirmwareConfig

    manifest = read_manifest(demo_artifact, kind="detector")
    cfg = FirmwareConfig.from_manifest(manifest)
    tfl = (demo_artifact / "detector_int8.tflite").read_bytes()
    emit_standalone(tfl, cfg, tmp_path, name="demo", features=manifest["features"])
    exe = compile_host(tmp_path, "demo")
    scorer = ArtifactScorer.from_dir(demo_artifact)
    ds = simulate_vibration(60, window_length=scorer.window_length, sr=4000.0, anomaly_fraction=0.5, seed=123)
    lines = run_host(exe, ds.X.reshape(len(ds.X), -1), "s")
    assert all(ln.split()[0] == "0" for ln in lines)
    got = np.array([float(ln.split()[1]) for ln in lines])
    want = scorer.score_windows(ds.X)
    rel = np.abs(got - want) / want
    assert np.median(rel) < 1e-5 and rel.max() < 5e-2
    assert np.mean((got > scorer.threshold) == (want > scorer.threshold)) >= 0.95
    assert (want > scorer.threshold).any() and (want <= scorer.threshold).any()
