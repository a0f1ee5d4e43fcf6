"""``edgesynth bench``: what a detector costs — flash, RAM, MACs and time per inference.

Measured on the host, in one run:

* ``params``, ``macs`` (from the int8 flatbuffer: FULLY_CONNECTED / CONV_2D / ... ops),
  ``tflite_bytes`` (file size = flash for the model array), ``arena_bytes`` (smallest tensor arena
  the TFLM interpreter accepts, found by bisection — not the allocator's printout, which
  under-reports);
* ``latency_us`` of ``keras_float`` (tf-keras model in a compiled ``tf.function``, batch 1),
  ``litert_int8`` (LiteRT, reference kernels) and ``tflm_int8`` (the TFLM interpreter), each
  ``{"median", "p99", "n"}`` after a warm-up;
* with ``reference=``: the same figures for another int8 model (e.g. the MLPerf Tiny ad01) and the
  ratios ours / reference. Absolute host times drift on shared machines; ratios measured in the
  same run do not.

Microcontroller figures are **estimates**, not measurements: cycles = MACs / (MACs per cycle), with
MACs per cycle calibrated on the published MLPerf Tiny result of the reference model (264,192
MACs in 10.05 ms with TFLM reference kernels and 4.79 ms with ST X-CUBE-AI on a 120 MHz
STM32L4R5, Cortex-M4F; MLPerf Tiny inference results v0.5-v1.3, mlcommons.org). They ignore
per-operator overhead, which dominates for very small models, so they are a lower bound there.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from edgesynth.artifact import read_manifest
from edgesynth.errors import ModelError, ParameterError

#: Published anchor: MLPerf Tiny AD reference (ad01) on STM32L4R5 @ 120 MHz.
REFERENCE_MACS = 264_192
REFERENCE_MHZ = 120.0
REFERENCE_MS = {"tflm": 10.05, "x-cube-ai": 4.79}
ESTIMATE_SOURCE = (
    "MLPerf Tiny inference results v0.5-v1.3 (mlcommons.org): anomaly-detection reference model "
    "ad01, 264,192 MACs, STM32L4R5 Cortex-M4F @ 120 MHz: 10.05 ms TFLM, 4.79 ms X-CUBE-AI"
)
#: Parts for the estimates: (name, MHz, relative MACs/cycle vs Cortex-M4F).
#: M7 issues two instructions per cycle (~1.6x on int8 kernels); M33 ~ M4 with DSP extension;
#: ESP32-S3 LX7 without ESP-NN ~ M4. These factors are rough; the output says so.
PARTS = (
    ("Cortex-M4F @ 120 MHz", 120.0, 1.0),
    ("Cortex-M7 @ 480 MHz", 480.0, 1.6),
    ("Cortex-M33 @ 160 MHz", 160.0, 1.0),
    ("ESP32-S3 @ 240 MHz", 240.0, 1.0),
)


def _stats(times_us: list[float]) -> dict:
    return {
        "median": float(statistics.median(times_us)),
        "p99": float(np.percentile(times_us, 99)),
        "n": len(times_us),
    }


def time_call(fn, *, repeat: int = 200, warmup: int = 20) -> dict:
    """Median / p99 / n of ``fn()`` in microseconds (``time.perf_counter_ns``), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        t.append((time.perf_counter_ns() - t0) / 1e3)
    return _stats(t)


def mcu_estimates(macs: int) -> dict:
    """Cycles and milliseconds per inference on common parts (estimates; see module docstring)."""
    out = {"source": ESTIMATE_SOURCE, "note": "estimates from MACs, not measurements", "parts": {}}
    for runtime, ms in REFERENCE_MS.items():
        mpc = REFERENCE_MACS / (ms * 1e-3 * REFERENCE_MHZ * 1e6)  # MACs per cycle on the M4F
        for name, mhz, factor in PARTS:
            cycles = macs / (mpc * factor)
            out["parts"].setdefault(name, {})[runtime] = {
                "cycles": int(round(cycles)),
                "ms": float(cycles / (mhz * 1e3)),
            }
        out.setdefault("macs_per_cycle_m4f", {})[runtime] = float(mpc)
    return out


def bench_tflite(tflite: bytes, *, repeat: int = 200, warmup: int = 20, seed: int = 0) -> dict:
    """Size, arena and int8 latency (LiteRT and TFLM) of one int8 flatbuffer."""
    from firmware_export.tflite_model import TFLiteModel
    from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner, find_min_arena, recommended_arena, validate_tflite

    model: TFLiteModel = validate_tflite(tflite)
    arena = find_min_arena(tflite)
    shape = tuple(model.input_tensors[0].shape)
    rng = np.random.default_rng(seed)
    xq = rng.integers(-128, 128, size=(1, int(np.prod(shape[1:]))), dtype=np.int8)
    lite = LiteRTRunner(tflite)
    tflm = TFLMRunner(tflite, arena_size=recommended_arena(arena))
    macs = model.macs()
    res = {
        "params": int(model.n_params),
        "macs": int(macs),
        "tflite_bytes": len(tflite),
        "arena_bytes": int(arena),
        "arena_recommended_bytes": int(recommended_arena(arena)),
        "ops": model.op_names,
        "latency_us": {
            "litert_int8": time_call(lambda: lite.invoke_int8(xq), repeat=repeat, warmup=warmup),
            "tflm_int8": time_call(lambda: tflm.invoke_int8(xq), repeat=repeat, warmup=warmup),
        },
    }
    if macs:
        res["tflm_ns_per_mac"] = 1e3 * res["latency_us"]["tflm_int8"]["median"] / macs
    res["mcu_estimates"] = mcu_estimates(macs)
    return res


def run_bench(artifact_dir, *, reference=None, repeat: int = 200, warmup: int = 20) -> dict:
    """Benchmark a detector artifact (and optionally a reference ``.tflite``) in one run.

    Returns the JSON object printed by ``edgesynth bench --json``.
    """
    from edgesynth._tf import keras, tf

    artifact_dir = Path(artifact_dir)
    if repeat < 1:
        raise ParameterError(f"`repeat` must be >= 1. Received: repeat={repeat}")
    manifest = read_manifest(artifact_dir, kind="detector")
    tflite = (artifact_dir / "detector_int8.tflite").read_bytes()
    res = bench_tflite(tflite, repeat=repeat, warmup=warmup)
    model = keras.models.load_model(artifact_dir / "detector.keras", compile=False)
    d = int(model.input_shape[-1])
    x = tf.constant(np.random.default_rng(0).standard_normal((1, d)).astype(np.float32))
    fn = tf.function(lambda v: model(v, training=False))
    res["latency_us"]["keras_float"] = time_call(lambda: fn(x).numpy(), repeat=repeat, warmup=warmup)
    res["keras_params"] = int(model.count_params())
    res["artifact"] = str(artifact_dir)
    res["method"] = (
        f"{warmup} warm-up calls, then {repeat} timed single-window inferences per runtime "
        "(time.perf_counter_ns around invoke only; input already quantized for int8 runtimes)"
    )
    res["versions"] = manifest.get("versions", {})
    if reference is not None:
        ref_path = Path(reference)
        if not ref_path.is_file():
            raise ModelError(f"reference model {str(ref_path)!r} does not exist")
        ref = bench_tflite(ref_path.read_bytes(), repeat=repeat, warmup=warmup)
        ref["path"] = str(ref_path)
        res["reference"] = ref
        ratios = {k: res[k] / ref[k] for k in ("params", "macs", "tflite_bytes", "arena_bytes") if ref[k]}
        for rt in ("litert_int8", "tflm_int8"):
            ratios[f"latency_{rt}"] = res["latency_us"][rt]["median"] / ref["latency_us"][rt]["median"]
        if "tflm_ns_per_mac" in res and "tflm_ns_per_mac" in ref:
            ratios["tflm_ns_per_mac"] = res["tflm_ns_per_mac"] / ref["tflm_ns_per_mac"]
        res["ratios_ours_over_reference"] = ratios
    return res


def format_bench(res: dict) -> str:
    """Human-readable table of :func:`run_bench`'s result."""
    lines = [f"edgesynth bench — {res.get('artifact', '')}"]
    ref = res.get("reference")
    head = f"{'':28s}{'ours':>14s}" + (f"{'reference':>14s}{'ratio':>10s}" if ref else "")
    lines.append(head)

    def row(label, a, b=None, fmt="{:,.0f}"):
        s = f"{label:28s}{fmt.format(a):>14s}"
        if ref:
            s += f"{fmt.format(b):>14s}" if b is not None else f"{'-':>14s}"
            s += f"{a / b:>10.3f}" if b else f"{'-':>10s}"
        lines.append(s)

    for k in ("params", "macs", "tflite_bytes", "arena_bytes"):
        row(k, res[k], ref[k] if ref else None)
    for rt in ("keras_float", "litert_int8", "tflm_int8"):
        a = res["latency_us"][rt]["median"]
        b = ref["latency_us"].get(rt, {}).get("median") if ref else None
        row(f"latency {rt} (us, median)", a, b, fmt="{:,.1f}")
    lines.append("")
    lines.append("Microcontroller estimates (from MACs; NOT measurements):")
    for part, v in res["mcu_estimates"]["parts"].items():
        lines.append(f"  {part:24s} TFLM ~{v['tflm']['ms']:.3f} ms   X-CUBE-AI-class ~{v['x-cube-ai']['ms']:.3f} ms")
    lines.append(f"  source: {res['mcu_estimates']['source']}")
    return "\n".join(lines)
