"""``edgesynth bench``: what a detector costs — flash, RAM, MACs and time per inference.

Measured on the host, in one run:

* ``params``, ``macs`` (from the int8 flatbuffer with the pure-Python reader:
  FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV), ``tflite_bytes`` (file size =
  flash taken by the model array), ``arena_bytes`` (smallest tensor arena the TFLM interpreter
  accepts, allocate *and* invoke, found by bisection — not the allocator's printout, which
  under-reports), ``arena_recommended_bytes`` (+10 %, 16-byte multiple, what firmware emits);
* ``latency_us`` — each ``{"median", "p99", "n"}`` in microseconds after a warm-up — of

  - ``keras_float``: the float tf-keras model in a compiled ``tf.function``, batch 1;
  - ``litert_float``: the same float model converted to a float ``.tflite``, LiteRT interpreter;
  - ``litert_int8``: the int8 model in LiteRT;
  - ``tflm_int8``: the int8 model in the TFLM interpreter (what a microcontroller runs).

  LiteRT runs its built-in kernels without delegates (no XNNPACK; the resolver of
  :class:`~edgesynth.deploy.runtime.LiteRTRunner`), TFLM its reference kernels. For the
  interpreters one timed call is "copy the input in, invoke, read the output" on a
  pre-quantized window; for Keras it is one compiled call and ``.numpy()``.
* ``ratios`` within the model: int8 vs float (bytes, latency) and TFLM vs LiteRT;
* with ``reference=``: the same figures for another int8 model (e.g. the MLPerf Tiny ad01) and
  ``ratios_ours_over_reference``. All runtimes of both models are timed *interleaved* (round
  robin, one call each per round) in the same process, so machine drift hits both sides alike:
  absolute host times on shared machines drift, ratios measured this way hold. With
  ``reference_float=`` (e.g. ``ad01_fp32.tflite``) the reference also gets ``litert_float``.

Microcontroller figures are **estimates**, not measurements: cycles = MACs / (MACs per cycle), with
MACs per cycle calibrated on the published MLPerf Tiny result of the reference model (264,192
MACs in 10.05 ms with TFLM reference kernels and 4.79 ms with ST X-CUBE-AI on a 120 MHz
STM32L4R5, Cortex-M4F; MLPerf Tiny inference results v0.5-v1.3, mlcommons.org). They ignore
per-operator overhead, which dominates for very small models, so they are a lower bound there.
"""
from __future__ import annotations

import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from edgesynth.artifact import read_manifest
from edgesynth.errors import ModelError, ParameterError
from edgesynth.validation import check_positive_int

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
#: Runtimes timed for a detector artifact, in the order they are reported.
RUNTIMES = ("keras_float", "litert_float", "litert_int8", "tflm_int8")
#: Static figures compared with the reference model.
STATIC_KEYS = ("params", "macs", "tflite_bytes", "arena_bytes")


# --------------------------------------------------------------------------- timing
def _stats(times_us: list[float]) -> dict:
    return {
        "median": float(statistics.median(times_us)),
        "p99": float(np.percentile(times_us, 99)),
        "n": len(times_us),
    }


def time_call(fn: Callable[[], object], *, repeat: int = 200, warmup: int = 20) -> dict:
    """Median / p99 / n of ``fn()`` in microseconds (``time.perf_counter_ns``), after ``warmup`` calls."""
    return time_interleaved({"fn": fn}, repeat=repeat, warmup=warmup)["fn"]


def time_interleaved(fns: dict[str, Callable[[], object]], *, repeat: int = 200, warmup: int = 20) -> dict:
    """Time several callables round robin: each round calls every one once (start rotating).

    Drift of a shared machine (other jobs, frequency scaling) then affects every callable alike,
    so ratios of their medians are stable even when absolute times are not.

    Returns
    -------
    dict
        ``{name: {"median", "p99", "n"}}`` in microseconds.

    Examples
    --------
    >>> r = time_interleaved({"a": lambda: None, "b": lambda: sum(range(100))}, repeat=5, warmup=1)
    >>> sorted(r), r["a"]["n"]
    (['a', 'b'], 5)
    """
    repeat = check_positive_int(repeat, "repeat")
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise ParameterError(f"`warmup` must be a non-negative integer. Received: warmup={warmup!r}")
    names = list(fns)
    for _ in range(int(warmup)):
        for k in names:
            fns[k]()
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeat):
        for j in range(len(names)):
            k = names[(r + j) % len(names)]
            f = fns[k]
            t0 = time.perf_counter_ns()
            f()
            times[k].append((time.perf_counter_ns() - t0) / 1e3)
    return {k: _stats(v) for k, v in times.items()}


# --------------------------------------------------------------------------- estimates
def mcu_estimates(macs: int) -> dict:
    """Cycles and milliseconds per inference on common parts (estimates; see module docstring).

    >>> est = mcu_estimates(REFERENCE_MACS)  # the calibration point reproduces the published figure
    >>> round(est["parts"]["Cortex-M4F @ 120 MHz"]["tflm"]["ms"], 2)
    10.05
    """
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


# --------------------------------------------------------------------------- one model
def _read_model_file(path, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} {str(path)!r} does not exist")
    return path.read_bytes()


def model_figures(tflite: bytes, *, what: str = "tflite_bytes") -> dict:
    """Static figures of one int8 flatbuffer: params, MACs, bytes, smallest TFLM arena, ops.

    Raises :class:`ModelError` (naming ``what``) for a corrupt, truncated or float-only model.
    """
    from edgesynth.deploy.runtime import find_min_arena, recommended_arena, validate_tflite

    model = validate_tflite(tflite, what=what)
    arena = find_min_arena(tflite)
    macs = model.macs()
    return {
        "params": int(model.n_params),
        "macs": int(macs),
        "tflite_bytes": len(tflite),
        "arena_bytes": int(arena),
        "arena_recommended_bytes": int(recommended_arena(arena)),
        "ops": model.op_names,
        "n_operators": sum(len(sg.operators) for sg in model.subgraphs),
        "input_shape": list(model.input_tensors[0].shape),
        "mcu_estimates": mcu_estimates(macs),
    }


def _int8_calls(tflite: bytes, arena_bytes: int, *, seed: int) -> dict[str, Callable[[], object]]:
    """One-window inference callables for LiteRT and TFLM on a fixed random int8 window."""
    from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner, recommended_arena

    lite = LiteRTRunner(tflite)
    tflm = TFLMRunner(tflite, arena_size=recommended_arena(arena_bytes))
    shape = tuple(lite.input_details["shape"])
    xq = np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)
    # _invoke_one: copy input in, invoke, copy output out -- no per-call validation or reshaping
    return {"litert_int8": lambda: lite._invoke_one(xq), "tflm_int8": lambda: tflm._invoke_one(xq)}


def _litert_float_call(tflite: bytes, *, what: str, seed: int) -> tuple[Callable[[], object], dict]:
    """A float ``.tflite`` in LiteRT (same resolver as the int8 runner): callable and its figures."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from edgesynth.deploy.runtime import validate_tflite

    model = validate_tflite(tflite, what=what, require_int8=False)
    try:
        interp = Interpreter(
            model_content=bytes(tflite),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"LiteRT cannot load {what}: {exc}") from exc
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    if inp["dtype"] != np.float32:
        raise ModelError(f"{what} must have a float32 input. Received: {np.dtype(inp['dtype']).name}")
    x = np.random.default_rng(seed).standard_normal(tuple(inp["shape"])).astype(np.float32)

    def call():
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        return interp.get_tensor(out["index"])

    return call, {"float_tflite_bytes": len(tflite), "float_macs": int(model.macs())}


def _float_tflite(model) -> bytes:
    """Float32 ``.tflite`` of a Keras model with batch 1 (no optimizations)."""
    from edgesynth._tf import tf

    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    try:
        return bytes(conv.convert())
    except Exception as exc:  # ConverterError / RuntimeError / ValueError
        raise ModelError(f"cannot convert the float detector to .tflite for timing: {exc}") from exc


def _load_keras(path: Path):
    from edgesynth._tf import keras

    try:  # registers edgesynth's serializable layers/models, if the detector uses any
        import edgesynth.detect.models  # noqa: F401
    except ImportError:
        pass
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises ValueError/OSError/TypeError for unreadable files
        raise ModelError(f"cannot load the float detector {str(path)!r}: {exc}") from exc


def _ratio(a, b):
    return float(a) / float(b) if b else None


def _runtime_ratios(res: dict) -> dict:
    """int8 vs float and TFLM vs LiteRT within one model (latency medians and p99s, bytes)."""
    lat = res["latency_us"]
    out = {}
    if "float_tflite_bytes" in res:
        out["int8_over_float_tflite_bytes"] = _ratio(res["tflite_bytes"], res["float_tflite_bytes"])
    pairs = [("tflm_int8", "litert_int8"), ("litert_int8", "litert_float"), ("tflm_int8", "litert_float"),
             ("litert_int8", "keras_float"), ("tflm_int8", "keras_float"), ("litert_float", "keras_float")]
    for a, b in pairs:
        if a in lat and b in lat:
            out[f"{a}_over_{b}"] = _ratio(lat[a]["median"], lat[b]["median"])
            out[f"{a}_over_{b}_p99"] = _ratio(lat[a]["p99"], lat[b]["p99"])
    return out


_NULL_MODEL: bytes | None = None


def null_model_tflite() -> bytes:
    """A one-MAC int8 model (1 -> Dense(1)): its TFLM latency is the fixed per-call cost.

    Setting the input, dispatching ``invoke`` through the Python binding and reading the output
    cost the same few microseconds for every model; for a detector of a few thousand MACs that
    fixed cost dominates ``tflm_ns_per_mac``. Timing this model in the same interleaved loop gives
    ``tflm_call_overhead_us``, and ``tflm_net_ns_per_mac`` is the per-MAC cost without it.
    """
    global _NULL_MODEL
    if _NULL_MODEL is None:
        from edgesynth._tf import keras
        from edgesynth.deploy.quantize import convert_int8

        inp = keras.Input((1,))
        m = keras.Model(inp, keras.layers.Dense(1, kernel_initializer="ones")(inp))
        _NULL_MODEL = convert_int8(m, np.linspace(-1, 1, 64, dtype=np.float32)[:, None])
    return _NULL_MODEL


def _finish(res: dict, overhead_us: float | None = None) -> dict:
    if res["macs"]:
        res["tflm_ns_per_mac"] = 1e3 * res["latency_us"]["tflm_int8"]["median"] / res["macs"]
        if overhead_us is not None:
            res["tflm_call_overhead_us"] = float(overhead_us)
            net = max(res["latency_us"]["tflm_int8"]["median"] - overhead_us, 0.0)
            res["tflm_net_ns_per_mac"] = 1e3 * net / res["macs"]
    res["ratios"] = _runtime_ratios(res)
    return res


def _method(repeat: int, warmup: int) -> str:
    return (
        f"{warmup} warm-up rounds, then {repeat} timed rounds; each round calls every runtime of every "
        "model once (interleaved, rotating order) with a batch-1 window; time.perf_counter_ns around one "
        "inference (interpreters: set input, invoke, get output on a pre-quantized window; Keras: "
        "compiled tf.function call + .numpy()); median and 99th percentile in microseconds"
    )


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in ("tflite-micro", "ai-edge-litert", "tensorflow", "tf-keras"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def bench_tflite(tflite: bytes, *, repeat: int = 200, warmup: int = 20, seed: int = 0,
                 what: str = "tflite_bytes") -> dict:
    """Size, arena and int8 latency (LiteRT and TFLM, interleaved) of one int8 flatbuffer.

    Parameters
    ----------
    tflite : bytes
        Full-integer int8 model, batch 1.
    repeat, warmup : int
        Timed and untimed rounds.
    seed : int
        Seed of the random int8 input window.
    what : str
        Name used in error messages (e.g. the file path).

    Returns
    -------
    dict
        :func:`model_figures` plus ``latency_us`` (``litert_int8``, ``tflm_int8``),
        ``tflm_ns_per_mac`` and ``ratios``.
    """
    res = model_figures(tflite, what=what)
    res["latency_us"] = time_interleaved(_int8_calls(tflite, res["arena_bytes"], seed=seed),
                                         repeat=repeat, warmup=warmup)
    return _finish(res)


# --------------------------------------------------------------------------- artifact (+ reference)
def run_bench(artifact_dir, *, reference=None, reference_float=None, repeat: int = 200, warmup: int = 20,
              seed: int = 0) -> dict:
    """Benchmark a detector artifact (and optionally a reference ``.tflite``) in one run.

    Parameters
    ----------
    artifact_dir : path-like
        Detector artifact (``manifest.json``, ``detector.keras``, ``detector_int8.tflite``).
    reference : path-like, optional
        Full-integer int8 ``.tflite`` to measure side by side (e.g. MLPerf Tiny ``ad01_int8.tflite``).
    reference_float : path-like, optional
        The reference's float ``.tflite`` (e.g. ``ad01_fp32.tflite``): adds ``litert_float`` for it.
    repeat, warmup : int
        Timed and untimed rounds (every runtime is called once per round).
    seed : int
        Seed of the random input windows.

    Returns
    -------
    dict
        The JSON object printed by ``edgesynth bench --json``: ``params``, ``macs``,
        ``tflite_bytes``, ``arena_bytes``, ``arena_recommended_bytes``, ``float_tflite_bytes``,
        ``latency_us`` (``keras_float``, ``litert_float``, ``litert_int8``, ``tflm_int8``, each
        ``{"median", "p99", "n"}``), ``tflm_ns_per_mac``, ``ratios``, ``mcu_estimates``, and with
        ``reference``: ``reference`` (same figures) and ``ratios_ours_over_reference``.
    """
    repeat = check_positive_int(repeat, "repeat")
    if reference_float is not None and reference is None:
        raise ParameterError("`reference_float` needs `reference` (the int8 reference model)")
    artifact_dir = Path(artifact_dir)
    manifest = read_manifest(artifact_dir, kind="detector")
    tfl_path = artifact_dir / "detector_int8.tflite"
    tflite = _read_model_file(tfl_path, "detector model")
    res = model_figures(tflite, what=str(tfl_path))
    calls = {f"ours/{k}": f for k, f in _int8_calls(tflite, res["arena_bytes"], seed=seed).items()}

    from edgesynth._tf import tf

    model = _load_keras(artifact_dir / "detector.keras")
    x = tf.constant(np.random.default_rng(seed).standard_normal((1, *model.input_shape[1:])).astype(np.float32))
    fn = tf.function(lambda v: model(v, training=False))
    calls["ours/keras_float"] = lambda: fn(x).numpy()
    float_call, float_info = _litert_float_call(_float_tflite(model), what="the float detector", seed=seed)
    calls["ours/litert_float"] = float_call
    res.update(float_info)
    res["keras_params"] = int(model.count_params())

    ref = None
    if reference is not None:
        ref_path = Path(reference)
        ref_bytes = _read_model_file(ref_path, "reference model")
        ref = model_figures(ref_bytes, what=f"reference model {str(ref_path)!r}")
        ref["path"] = str(ref_path)
        calls.update({f"ref/{k}": f for k, f in _int8_calls(ref_bytes, ref["arena_bytes"], seed=seed).items()})
        if reference_float is not None:
            rf_path = Path(reference_float)
            rf_call, rf_info = _litert_float_call(
                _read_model_file(rf_path, "reference float model"),
                what=f"reference float model {str(rf_path)!r}", seed=seed)
            calls["ref/litert_float"] = rf_call
            ref.update(rf_info)
            ref["float_path"] = str(rf_path)

    null = null_model_tflite()
    from edgesynth.deploy.runtime import find_min_arena

    calls["null/tflm_int8"] = _int8_calls(null, find_min_arena(null), seed=seed)["tflm_int8"]
    timed = time_interleaved(calls, repeat=repeat, warmup=warmup)
    overhead = timed["null/tflm_int8"]["median"]
    res["latency_us"] = {rt: timed[f"ours/{rt}"] for rt in RUNTIMES}
    _finish(res, overhead)
    res["artifact"] = str(artifact_dir)
    res["method"] = _method(repeat, warmup)
    res["versions"] = manifest.get("versions", {})
    res["runtime_versions"] = _versions()
    if ref is not None:
        ref["latency_us"] = {rt: timed[f"ref/{rt}"] for rt in RUNTIMES if f"ref/{rt}" in timed}
        _finish(ref, overhead)
        res["reference"] = ref
        res["ratios_ours_over_reference"] = reference_ratios(res, ref)
    return res


def reference_ratios(ours: dict, ref: dict) -> dict:
    """Ours / reference for the static figures, latency medians and p99s, and TFLM ns per MAC."""
    ratios = {k: _ratio(ours[k], ref[k]) for k in STATIC_KEYS if ref.get(k)}
    for rt, v in ref["latency_us"].items():
        if rt in ours["latency_us"]:
            ratios[f"latency_{rt}"] = _ratio(ours["latency_us"][rt]["median"], v["median"])
            ratios[f"latency_{rt}_p99"] = _ratio(ours["latency_us"][rt]["p99"], v["p99"])
    for k in ("tflm_ns_per_mac", "tflm_net_ns_per_mac"):
        if k in ours and k in ref:
            ratios[k] = _ratio(ours[k], ref[k])
    return ratios


# --------------------------------------------------------------------------- text
def format_bench(res: dict) -> str:
    """Human-readable table of :func:`run_bench`'s result."""
    lines = [f"edgesynth bench — {res.get('artifact', '')}"]
    ref = res.get("reference")
    head = f"{'':34s}{'ours':>14s}" + (f"{'reference':>14s}{'ours/ref':>10s}" if ref else "")
    lines.append(head)

    def row(label, a, b=None, fmt="{:,.0f}"):
        s = f"{label:34s}" + (f"{fmt.format(a):>14s}" if a is not None else f"{'-':>14s}")
        if ref:
            s += f"{fmt.format(b):>14s}" if b is not None else f"{'-':>14s}"
            s += f"{a / b:>10.3f}" if (a is not None and b) else f"{'-':>10s}"
        lines.append(s)

    for k in (*STATIC_KEYS, "float_tflite_bytes"):
        row(k, res.get(k), ref.get(k) if ref else None)
    for rt in RUNTIMES:
        for stat in ("median", "p99"):
            a = res["latency_us"].get(rt, {}).get(stat)
            b = ref["latency_us"].get(rt, {}).get(stat) if ref else None
            if a is None and b is None:
                continue
            row(f"latency {rt} (us, {stat})", a, b, fmt="{:,.1f}")
    if "tflm_ns_per_mac" in res:
        if "tflm_net_ns_per_mac" in res:
            row(f"TFLM ns per MAC, net of {res['tflm_call_overhead_us']:.1f} us/call", res["tflm_net_ns_per_mac"],
                ref.get("tflm_net_ns_per_mac") if ref else None, "{:,.3f}")
        row("TFLM ns per MAC (host)", res["tflm_ns_per_mac"], ref.get("tflm_ns_per_mac") if ref else None,
            fmt="{:,.3f}")
    r = res.get("ratios", {})
    lines.append("")
    lines.append("Within our model (median latency ratios):")
    for k in ("tflm_int8_over_litert_int8", "litert_int8_over_litert_float", "tflm_int8_over_keras_float",
              "int8_over_float_tflite_bytes"):
        if r.get(k) is not None:
            lines.append(f"  {k:34s}{r[k]:>10.3f}")
    lines.append("")
    lines.append("Microcontroller estimates (from MACs; NOT measurements):")
    for part, v in res["mcu_estimates"]["parts"].items():
        lines.append(f"  {part:24s} TFLM ~{v['tflm']['ms']:.3f} ms   X-CUBE-AI-class ~{v['x-cube-ai']['ms']:.3f} ms")
    lines.append(f"  source: {res['mcu_estimates']['source']}")
    if "n" in res["latency_us"].get("tflm_int8", {}):
        lines.append("")
        lines.append(f"method: {res.get('method', '')}")
    return "\n".join(lines)
