"""``edgesynth bench``: schema and consistency of the figures (never their speed).

Independent truths used here: MACs and parameters counted by hand from the layer sizes of a tiny
Dense autoencoder built in the test; the published MLPerf Tiny figures of the reference model
(264,192 MACs, file sizes from ``reference_models/README.md``); the arena checked by asking the
TFLM interpreter itself (the found arena works, one byte less does not); file sizes from disk.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgesynth.bench import (
    REFERENCE_MACS, RUNTIMES, bench_tflite, format_bench, mcu_estimates, run_bench, time_interleaved,
)
from edgesynth.errors import ModelError, ParameterError

#: Tiny autoencoder: 12 -> 5 (relu) -> 3 (relu) -> 12.
WIDTHS = (12, 5, 3, 12)
HAND_MACS = sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:]))  # 60 + 15 + 36 = 111
HAND_PARAMS = HAND_MACS + sum(WIDTHS[1:])  # + biases 5 + 3 + 12 = 131
REPEAT = 5


def _write_artifact(path, tflite: bytes, model=None):
    from edgesynth.artifact import ArtifactWriter

    with ArtifactWriter(path, kind="detector", manifest={"model": {"input_dim": WIDTHS[0]}}) as w:
        if model is not None:
            model.save(w.file("detector.keras"))
        w.write_bytes("detector_int8.tflite", tflite)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(artifact dir, keras model, int8 bytes) of a tiny Dense AE with non-zero biases."""
    from edgesynth._tf import keras
    from edgesynth.deploy.quantize import quantize

    rng = np.random.default_rng(440)
    layers = [keras.Input((WIDTHS[0],))]
    for w in WIDTHS[1:-1]:
        layers.append(keras.layers.Dense(w, activation="relu"))
    layers.append(keras.layers.Dense(WIDTHS[-1]))
    model = keras.Sequential(layers)
    for layer in model.layers:  # non-zero biases: the converter drops all-zero bias tensors
        k, b = layer.get_weights()
        layer.set_weights([rng.standard_normal(k.shape).astype(np.float32) * 0.5,
                           rng.standard_normal(b.shape).astype(np.float32) * 0.1])
    X = rng.standard_normal((128, WIDTHS[0])).astype(np.float32)
    q = quantize(model, X, method="ptq", seed=0)
    d = _write_artifact(tmp_path_factory.mktemp("bench") / "tiny", q.tflite, model)
    return d, model, q.tflite


@pytest.fixture(scope="module")
def ref_float_path(reference_model_path):
    p = reference_model_path.with_name("ad01_fp32.tflite")
    if not p.is_file():
        pytest.skip(f"{p} not found")
    return p


@pytest.fixture(scope="module")
def res(tiny, reference_model_path, ref_float_path):
    """One bench run of the tiny artifact against the MLPerf Tiny reference (int8 and float)."""
    return run_bench(tiny[0], reference=reference_model_path, reference_float=ref_float_path,
                     repeat=REPEAT, warmup=1)


# --------------------------------------------------------------------------- schema
def test_json_schema(res):
    back = json.loads(json.dumps(res))  # plain JSON, no numpy scalars
    assert back == res
    for k in ("params", "macs", "tflite_bytes", "arena_bytes", "arena_recommended_bytes", "float_tflite_bytes",
              "latency_us", "tflm_ns_per_mac", "ratios", "mcu_estimates", "method", "reference",
              "ratios_ours_over_reference"):
        assert k in res, k
    assert set(res["latency_us"]) == set(RUNTIMES) == {"keras_float", "litert_float", "litert_int8", "tflm_int8"}
    assert set(res["reference"]["latency_us"]) == {"litert_float", "litert_int8", "tflm_int8"}
    for lat in (res["latency_us"], res["reference"]["latency_us"]):
        for v in lat.values():
            assert set(v) == {"median", "p99", "n"}
            assert v["n"] == REPEAT
            assert 0 < v["median"] <= v["p99"]
    est = res["mcu_estimates"]
    assert "estimate" in est["note"] and "MLPerf Tiny" in est["source"]
    assert set(est["parts"]) == {"Cortex-M4F @ 120 MHz", "Cortex-M7 @ 480 MHz", "Cortex-M33 @ 160 MHz",
                                 "ESP32-S3 @ 240 MHz"}


# --------------------------------------------------------------------------- consistency
def test_macs_and_params_match_hand_count(res, tiny):
    _, model, _ = tiny
    assert res["macs"] == HAND_MACS == 111
    assert res["params"] == HAND_PARAMS == res["keras_params"] == model.count_params()
    assert res["ops"] == ["FULLY_CONNECTED"] and res["n_operators"] == 3
    assert res["float_macs"] == HAND_MACS  # the float .tflite timed for litert_float is the same network


def test_sizes_match_files(res, tiny, reference_model_path, ref_float_path):
    d, _, tflite = tiny
    assert res["tflite_bytes"] == len(tflite) == (d / "detector_int8.tflite").stat().st_size
    ref = res["reference"]
    assert ref["tflite_bytes"] == reference_model_path.stat().st_size == 276_976  # README of reference_models
    assert ref["float_tflite_bytes"] == ref_float_path.stat().st_size == 1_067_648
    assert res["ratios"]["int8_over_float_tflite_bytes"] == res["tflite_bytes"] / res["float_tflite_bytes"]
    # weights dominate the reference: int8 weights are a quarter of float32 ones (for the tiny model
    # the quantization metadata outweighs the 131 weights, so no such claim there)
    assert ref["tflite_bytes"] / ref["float_tflite_bytes"] < 0.3


def test_arena_is_the_smallest_that_works(res, tiny):
    from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner, arena_works, recommended_arena

    _, _, tflite = tiny
    arena = res["arena_bytes"]
    assert arena_works(tflite, arena)
    assert not arena_works(tflite, arena - 1)
    assert res["arena_recommended_bytes"] == recommended_arena(arena) > arena
    with pytest.raises(ModelError, match="arena"):
        TFLMRunner(tflite, arena_size=arena - 16)
    # the found arena really runs the model: same int8 outputs as LiteRT (within one rounding step)
    Xq = np.random.default_rng(1).integers(-128, 128, size=(8, WIDTHS[0]), dtype=np.int8)
    a = TFLMRunner(tflite, arena_size=arena).invoke_int8(Xq).astype(int)
    b = LiteRTRunner(tflite).invoke_int8(Xq).astype(int)
    assert np.abs(a - b).max() <= 1


def test_reference_figures_match_published_and_arena_search(res, reference_model_path):
    from edgesynth.deploy.runtime import arena_works

    ref = res["reference"]
    # 640-128-128-128-128-8-128-128-128-128-640, counted by hand
    widths = (640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640)
    hand = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    assert ref["macs"] == hand == REFERENCE_MACS == 264_192
    assert ref["float_macs"] == hand
    assert ref["params"] == hand + sum(widths[1:])
    tfl = reference_model_path.read_bytes()
    assert arena_works(tfl, ref["arena_bytes"]) and not arena_works(tfl, ref["arena_bytes"] - 1)
    assert 4_000 < ref["arena_bytes"] < 10 * 1024  # README: ~4.6 KB minimum, 10 KiB in the reference firmware


def test_ratios_are_computed_from_the_same_numbers(res):
    ref, r = res["reference"], res["ratios_ours_over_reference"]
    for k in ("params", "macs", "tflite_bytes", "arena_bytes"):
        assert r[k] == pytest.approx(res[k] / ref[k], rel=1e-12)
    for rt in ("litert_float", "litert_int8", "tflm_int8"):
        assert r[f"latency_{rt}"] == pytest.approx(res["latency_us"][rt]["median"] / ref["latency_us"][rt]["median"])
        assert r[f"latency_{rt}_p99"] == pytest.approx(res["latency_us"][rt]["p99"] / ref["latency_us"][rt]["p99"])
    assert "latency_keras_float" not in r  # the reference has no Keras model
    for m in (res, ref):
        assert m["tflm_ns_per_mac"] == pytest.approx(1e3 * m["latency_us"]["tflm_int8"]["median"] / m["macs"])
    assert r["tflm_ns_per_mac"] == pytest.approx(r["latency_tflm_int8"] / r["macs"])
    # the per-call overhead is one shared measurement, subtracted before dividing by MACs
    assert res["tflm_call_overhead_us"] == ref["tflm_call_overhead_us"] > 0
    for m in (res, ref):
        net = max(m["latency_us"]["tflm_int8"]["median"] - m["tflm_call_overhead_us"], 0.0)
        assert m["tflm_net_ns_per_mac"] == pytest.approx(1e3 * net / m["macs"])
    assert r["tflm_net_ns_per_mac"] == pytest.approx(res["tflm_net_ns_per_mac"] / ref["tflm_net_ns_per_mac"])
    own = res["ratios"]
    lat = res["latency_us"]
    assert own["tflm_int8_over_litert_int8"] == pytest.approx(lat["tflm_int8"]["median"] / lat["litert_int8"]["median"])
    assert own["litert_int8_over_litert_float_p99"] == pytest.approx(lat["litert_int8"]["p99"] / lat["litert_float"]["p99"])
    assert own["tflm_int8_over_keras_float"] == pytest.approx(lat["tflm_int8"]["median"] / lat["keras_float"]["median"])


def test_mcu_estimates_calibrated_on_the_published_result(res):
    ref = res["reference"]["mcu_estimates"]["parts"]["Cortex-M4F @ 120 MHz"]
    assert ref["tflm"]["ms"] == pytest.approx(10.05) and ref["x-cube-ai"]["ms"] == pytest.approx(4.79)
    ours = res["mcu_estimates"]["parts"]
    for part, v in ours.items():
        for rt in ("tflm", "x-cube-ai"):
            assert v[rt]["ms"] == pytest.approx(
                res["reference"]["mcu_estimates"]["parts"][part][rt]["ms"] * HAND_MACS / REFERENCE_MACS)
            assert v[rt]["cycles"] == round(v[rt]["ms"] * 1e-3 * {"Cortex-M4F @ 120 MHz": 120e6,
                                                                  "Cortex-M7 @ 480 MHz": 480e6,
                                                                  "Cortex-M33 @ 160 MHz": 160e6,
                                                                  "ESP32-S3 @ 240 MHz": 240e6}[part])
    assert mcu_estimates(0)["parts"]["Cortex-M7 @ 480 MHz"]["tflm"]["cycles"] == 0


def test_format_bench_shows_both_models_and_labels_estimates(res):
    text = format_bench(res)
    assert "reference" in text and "ours/ref" in text
    assert "NOT measurements" in text and "MLPerf Tiny" in text
    macs_line = next(line for line in text.splitlines() if line.startswith("macs"))
    assert f"{HAND_MACS:,}" in macs_line and "264,192" in macs_line
    assert f"{HAND_MACS / REFERENCE_MACS:.3f}" in macs_line


# --------------------------------------------------------------------------- errors
def test_corrupt_tflite_in_artifact_raises_clear_error(tiny, tmp_path):
    _, model, tflite = tiny
    d = _write_artifact(tmp_path / "corrupt", tflite[: len(tflite) // 2], model)
    with pytest.raises(ModelError, match=r"detector_int8\.tflite.*(corrupt|truncated)"):
        run_bench(d, repeat=1, warmup=0)


def test_bad_reference_raises_clear_error(tiny, tmp_path, ref_float_path):
    d, _, tflite = tiny
    with pytest.raises(ModelError, match="does not exist"):
        run_bench(d, reference=tmp_path / "missing.tflite", repeat=1, warmup=0)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"TFL3" + bytes(60))
    with pytest.raises(ModelError, match=r"reference model .*bad\.tflite"):
        run_bench(d, reference=bad, repeat=1, warmup=0)
    with pytest.raises(ModelError, match="not a full-integer int8 model"):
        bench_tflite(ref_float_path.read_bytes(), repeat=1, warmup=0)
    with pytest.raises(ModelError, match="not a usable .tflite"):
        bench_tflite(b"definitely not a flatbuffer", repeat=1, warmup=0)


def test_parameters_are_validated(tiny):
    d, _, _ = tiny
    with pytest.raises(ParameterError, match="repeat"):
        run_bench(d, repeat=0)
    with pytest.raises(ParameterError, match="reference_float"):
        run_bench(d, reference_float="x.tflite", repeat=1)
    with pytest.raises(ParameterError, match="warmup"):
        time_interleaved({"a": lambda: None}, repeat=1, warmup=-1)


def test_time_interleaved_calls_each_once_per_round():
    calls = []
    out = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=4, warmup=2)
    assert calls.count("a") == calls.count("b") == 6
    assert all(set(calls[i:i + 2]) == {"a", "b"} for i in range(0, len(calls), 2))  # one of each per round
    assert out["a"]["n"] == out["b"]["n"] == 4
    assert all(math.isfinite(v["p99"]) for v in out.values())


# --------------------------------------------------------------------------- CLI
def test_cli_bench_json_and_text(tiny, capsys):
    from edgesynth.cli import main

    d, _, tflite = tiny
    assert main(["bench", str(d), "--json", "--repeat", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["macs"] == HAND_MACS and out["tflite_bytes"] == len(tflite)
    assert all(out["latency_us"][rt]["n"] == 3 for rt in ("keras_float", "litert_int8", "tflm_int8"))
    assert "reference" not in out
    assert main(["bench", str(d), "--repeat", "2"]) == 0
    text = capsys.readouterr().out
    assert "latency tflm_int8 (us, median)" in text and "estimates" in text


def test_docstring_examples_run():
    import doctest

    import edgesynth.bench

    r = doctest.testmod(edgesynth.bench, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert r.attempted > 0 and r.failed == 0


def test_null_model_is_one_mac_and_runs_on_tflm():
    from edgesynth.bench import null_model_tflite
    from edgesynth.deploy.runtime import TFLMRunner
    from firmware_export.tflite_model import TFLiteModel

    tfl = null_model_tflite()
    assert TFLiteModel.from_bytes(tfl).macs() == 1
    out = TFLMRunner(tfl).predict(np.array([[0.5], [-0.25]], np.float32))
    np.testing.assert_allclose(out.ravel(), [0.5, -0.25], atol=0.02)  # Dense(1) with weight 1 = identity
