"""Firmware sources for TensorFlow Lite Micro (and an Arduino sketch) from an int8 ``.tflite``.

:func:`export_firmware` writes, for ``name="ecg"`` and ``target="tflm"``::

    ecg_model_data.h / .cc   alignas(16) const unsigned char g_ecg_model_data[], g_ecg_model_data_size
    ecg_model_config.h       shapes, quantization, normalization, windowing, threshold, arena, hashes
    ecg_op_resolver.h        MicroMutableOpResolver<N> with exactly the model's builtin ops
    main.cc                  load, quantize a window, invoke, score, compare with the threshold
    firmware.json            what was generated (file hashes, config) — also marks the folder as ours

``target="arduino"`` writes ``ecg.ino`` instead of ``main.cc`` and ``ecg_model_data.cpp``
instead of ``.cc`` (the Arduino builder compiles ``.cpp``). No TensorFlow is imported; the
output depends only on the inputs (same model and config -> identical bytes).

How the device decides
----------------------
``score = mean((z - z_hat)^2)`` over the ``OUTPUT_SIZE`` normalized features, with
``z_hat = OUTPUT_SCALE * (q_out - OUTPUT_ZERO_POINT)``; anomaly when ``score > THRESHOLD``
(the threshold is in the int8 model's dequantized score units, as in Python).
``THRESHOLD_OUTPUT_DOMAIN = THRESHOLD * OUTPUT_SIZE / OUTPUT_SCALE**2`` is the same threshold
for the sum of squared errors measured in output quantization steps,
``sum((z / OUTPUT_SCALE + OUTPUT_ZERO_POINT - q_out)^2)``, which saves one multiply per feature.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import string
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesynth.errors import ExportError, ModelError
from edgesynth.validation import check_c_identifier
from firmware_export.carray import banner, guard, model_data_files
from firmware_export.tflite_model import TFLiteModel

TEMPLATES = Path(__file__).resolve().parent / "templates"
TARGETS = ("tflm", "arduino")
MARKER = "firmware.json"

#: TFLite builtin operator -> ``MicroMutableOpResolver`` method (tflite-micro's resolver API).
TFLM_OP_METHODS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin", "ASSIGN_VARIABLE": "AddAssignVariable",
    "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce", "CAST": "AddCast",
    "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos",
    "CUMSUM": "AddCumSum", "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "ELU": "AddElu", "EMBEDDING_LOOKUP": "AddEmbeddingLookup", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather", "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog",
    "LOGICAL_AND": "AddLogicalAnd", "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic", "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum",
    "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean", "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_MAX": "AddReduceMax",
    "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear", "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound", "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}


def _version() -> str:
    import edgesynth

    return edgesynth.__version__


@dataclass
class FirmwareConfig:
    """Everything the firmware needs besides the model bytes.

    Quantization fields left ``None`` are read from the model; when given they must match it.

    Attributes
    ----------
    threshold : float
        Decision threshold in the int8 model's dequantized score units (``score > threshold``).
    window_length, hop_length, n_channels : int
        Samples per window, samples between windows, channels per sample.
    sr : float or None
        Sample rate in Hz (``0`` in the header when unknown).
    channel_names : list of str
        Channel order of the samples in a window (time-major: sample 0 of every channel first).
    feature_kind : str
        ``"raw"`` (the window itself is the feature vector), ``"logmel"`` or ``"spectrum"``
        (compute the features on the device before normalization).
    norm_mean, norm_scale : list of float or None
        Normalization ``z = (f - mean) / scale``, one value per feature or a single value
        (broadcast); ``None`` = identity.
    arena_bytes : int or None
        TFLM tensor arena; ``None`` measures it (smallest working arena + 10 % margin).
    input_scale, input_zero_point, output_scale, output_zero_point : float/int or None
        Cross-checked against the model.
    threshold_method : str or None
        How the threshold was chosen (comment only).
    """

    threshold: float
    window_length: int
    hop_length: int | None = None
    n_channels: int = 1
    sr: float | None = None
    channel_names: list[str] = field(default_factory=list)
    feature_kind: str = "raw"
    norm_mean: list[float] | None = None
    norm_scale: list[float] | None = None
    arena_bytes: int | None = None
    input_scale: float | None = None
    input_zero_point: int | None = None
    output_scale: float | None = None
    output_zero_point: int | None = None
    threshold_method: str | None = None

    @classmethod
    def from_manifest(cls, manifest: dict) -> "FirmwareConfig":
        """Build from a detector artifact's ``manifest.json`` (see CONTRACT.md).

        Reads ``window``, ``features.kind``, ``normalization`` (``mean``/``mean_`` and
        ``scale``/``scale_``/``std``), ``threshold.value``/``method`` and ``quantization``.
        """
        if not isinstance(manifest, dict):
            raise ExportError(f"`manifest` must be a dict. Received: {type(manifest).__name__}")
        try:
            w = manifest["window"]
            thr = manifest["threshold"]
            threshold = float(thr["value"] if isinstance(thr, dict) else thr)
            window_length = int(w["window_length"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"manifest lacks window/threshold information needed for firmware: {exc!r}") from exc
        norm = manifest.get("normalization") or {}
        q = manifest.get("quantization") or {}
        feats = manifest.get("features") or {}

        def pick(d, *keys):
            for k in keys:
                if d.get(k) is not None:
                    return d[k]
            return None

        def as_list(v):
            return None if v is None else [float(x) for x in np.ravel(np.asarray(v, dtype=np.float64))]

        return cls(
            threshold=threshold,
            window_length=window_length,
            hop_length=int(w.get("hop_length") or window_length),
            n_channels=int(w.get("n_channels") or 1),
            sr=None if w.get("sr") is None else float(w["sr"]),
            channel_names=[str(c) for c in (w.get("channel_names") or [])],
            feature_kind=str(feats.get("kind", "raw")),
            norm_mean=as_list(pick(norm, "mean", "mean_")),
            norm_scale=as_list(pick(norm, "scale", "scale_", "std", "std_")),
            arena_bytes=None if q.get("arena_bytes") is None else int(q["arena_bytes"]),
            input_scale=pick(q, "input_scale"),
            input_zero_point=pick(q, "input_zero_point"),
            output_scale=pick(q, "output_scale"),
            output_zero_point=pick(q, "output_zero_point"),
            threshold_method=thr.get("method") if isinstance(thr, dict) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- formatting
def _f(v: float) -> str:
    """A float32 C literal that round-trips exactly (``%.9g``)."""
    v = float(np.float32(v))
    if not math.isfinite(v):
        raise ExportError(f"cannot export a non-finite constant ({v})")
    s = f"{v:.9g}"
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def _float_array(values: list[float], per_line: int = 8) -> str:
    items = [_f(v) for v in values]
    lines = ["    " + ", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(lines)


def _c_string(s: str) -> str:
    return json.dumps(str(s), ensure_ascii=True)  # a valid C string literal for printable text


def _render(template: str, **kw) -> str:
    return string.Template((TEMPLATES / template).read_text("utf-8")).substitute(**kw)


# --------------------------------------------------------------------------- checks
def _check_model(tflite_bytes) -> TFLiteModel:
    try:
        model = TFLiteModel.from_bytes(tflite_bytes)
    except ModelError as exc:
        raise ExportError(f"cannot export: {exc}") from exc
    if len(model.input_tensors) != 1 or len(model.output_tensors) != 1:
        raise ExportError("cannot export: the model must have exactly one input and one output tensor")
    if not model.is_full_integer:
        kinds = [t.dtype for t in model.input_tensors + model.output_tensors]
        raise ExportError(
            f"cannot export a float-only model (input/output types {kinds}); TFLM firmware needs a "
            "full-integer int8 model: quantize it with edgesynth.deploy.quantize.quantize()"
        )
    float_ops = [t.name for t in model.tensors if t.dtype == "FLOAT32"]
    if float_ops:
        raise ExportError(f"cannot export: the model still has float32 tensors {float_ops[:3]} (hybrid model)")
    if model.custom_op_names:
        raise ExportError(f"cannot export: custom operators {model.custom_op_names} have no TFLM kernel")
    missing = [n for n in model.builtin_op_names if n not in TFLM_OP_METHODS]
    if missing:
        raise ExportError(f"cannot export: operators {missing} are not in the TFLM op resolver table")
    return model


def _resolve(model: TFLiteModel, cfg: FirmwareConfig) -> dict[str, Any]:
    tin, tout = model.input_tensors[0], model.output_tensors[0]
    qi, qo = tin.quantization, tout.quantization
    if qi is None or qo is None:
        raise ExportError("cannot export: model input/output have no quantization parameters")
    vals = {
        "input_scale": float(qi.scale[0]), "input_zero_point": int(qi.zero_point[0]),
        "output_scale": float(qo.scale[0]), "output_zero_point": int(qo.zero_point[0]),
    }
    for k, v in vals.items():
        given = getattr(cfg, k)
        if given is not None and not np.isclose(float(given), v, rtol=1e-6, atol=0):
            raise ExportError(f"config {k}={given!r} does not match the model's {k}={v!r} (stale manifest?)")
    n_in, n_out = tin.size, tout.size
    if n_in != n_out:
        raise ExportError(f"cannot export an autoencoder whose input size {n_in} != output size {n_out}")
    if cfg.feature_kind == "raw" and cfg.window_length * cfg.n_channels != n_in:
        raise ExportError(
            f"raw features need window_length*n_channels == model input size; received "
            f"{cfg.window_length}*{cfg.n_channels} != {n_in}"
        )
    if cfg.channel_names and len(cfg.channel_names) != cfg.n_channels:
        raise ExportError(f"`channel_names` has {len(cfg.channel_names)} names for {cfg.n_channels} channels")

    def norm(v, default, what):
        if v is None:
            return [default] * n_in
        v = [float(x) for x in v]
        if len(v) == 1:
            v = v * n_in
        if len(v) != n_in:
            raise ExportError(f"`{what}` has {len(v)} values; the model has {n_in} features")
        if what == "norm_scale" and any(x == 0 for x in v):
            raise ExportError("`norm_scale` contains zeros")
        return v

    vals["norm_mean"] = norm(cfg.norm_mean, 0.0, "norm_mean")
    vals["norm_scale"] = norm(cfg.norm_scale, 1.0, "norm_scale")
    if not math.isfinite(cfg.threshold):
        raise ExportError(f"`threshold` must be finite. Received: threshold={cfg.threshold!r}")
    vals["n_in"], vals["n_out"] = n_in, n_out
    vals["threshold_output_domain"] = cfg.threshold * n_out / (vals["output_scale"] ** 2)
    arena, min_arena = cfg.arena_bytes, None
    if arena is None:
        from edgesynth.deploy.runtime import find_min_arena, recommended_arena  # tflite-micro, no TF

        min_arena = find_min_arena(model.data)
        arena = recommended_arena(min_arena)
    vals["arena"], vals["min_arena"] = int(arena), min_arena
    return vals


def config_header(model: TFLiteModel, cfg: FirmwareConfig, name: str, *, version: str | None = None,
                  resolved: dict | None = None) -> str:
    """Text of ``NAME_model_config.h`` (C++; ``static const`` arrays, ``#define`` scalars)."""
    version = version or _version()
    v = resolved or _resolve(model, cfg)
    P = name.upper()
    tin = model.input_tensors[0]
    g = guard(f"{name}_model_config.h")
    channels = cfg.channel_names or [f"ch{i}" for i in range(cfg.n_channels)]
    arena_note = (
        f"measured minimum {v['min_arena']} B + 10 % margin, rounded up to 16 B"
        if v.get("min_arena") else "from the artifact manifest (measured minimum + 10 % margin)"
    )
    lines = [
        banner(version).rstrip("\n"),
        f"// Configuration of the \"{name}\" anomaly detector.",
        f"// score = mean((z - {P}_OUTPUT_SCALE * (q_out - {P}_OUTPUT_ZERO_POINT))^2), z = (f - {P}_NORM_MEAN) / {P}_NORM_SCALE;",
        f"// anomaly when score > {P}_THRESHOLD. Equivalently, in output quantization steps:",
        f"// sum((z / {P}_OUTPUT_SCALE + {P}_OUTPUT_ZERO_POINT - q_out)^2) > {P}_THRESHOLD_OUTPUT_DOMAIN",
        f"// (= {P}_THRESHOLD * {P}_OUTPUT_SIZE / {P}_OUTPUT_SCALE^2).",
        f"#ifndef {g}",
        f"#define {g}",
        "",
        f"#define {P}_EDGESYNTH_VERSION {_c_string(version)}",
        f"#define {P}_MODEL_SHA256 {_c_string(model.sha256)}",
        f"#define {P}_MODEL_SIZE {len(model.data)}",
        f"// Tensor arena: {arena_note}.",
        f"#define {P}_ARENA_SIZE {v['arena']}",
        "",
        f"#define {P}_INPUT_RANK {len(tin.shape)}",
        f"static const int {P}_INPUT_SHAPE[{max(len(tin.shape), 1)}] = {{{', '.join(str(s) for s in tin.shape) or '1'}}};",
        f"#define {P}_INPUT_SIZE {v['n_in']}",
        f"#define {P}_OUTPUT_SIZE {v['n_out']}",
        f"#define {P}_INPUT_SCALE {_f(v['input_scale'])}",
        f"#define {P}_INPUT_ZERO_POINT ({v['input_zero_point']})",
        f"#define {P}_OUTPUT_SCALE {_f(v['output_scale'])}",
        f"#define {P}_OUTPUT_ZERO_POINT ({v['output_zero_point']})",
        "",
        f"#define {P}_FEATURE_KIND {_c_string(cfg.feature_kind)}",
        f"#define {P}_WINDOW_LENGTH {int(cfg.window_length)}",
        f"#define {P}_HOP_LENGTH {int(cfg.hop_length or cfg.window_length)}",
        f"#define {P}_N_CHANNELS {int(cfg.n_channels)}",
        f"#define {P}_SAMPLE_RATE {_f(cfg.sr or 0.0)}",
        f"// Channel order of each sample (windows are time-major: all channels of sample 0 first).",
        f"static const char* const {P}_CHANNEL_NAMES[{len(channels)}] = {{{', '.join(_c_string(c) for c in channels)}}};",
        "",
        f"// Threshold (method: {cfg.threshold_method or 'unspecified'}), dequantized score units.",
        f"#define {P}_THRESHOLD {_f(cfg.threshold)}",
        f"#define {P}_THRESHOLD_OUTPUT_DOMAIN {_f(v['threshold_output_domain'])}",
        "",
        f"// Normalization z = (f - mean) / scale, one value per feature.",
        f"static const float {P}_NORM_MEAN[{P}_INPUT_SIZE] = {{",
        _float_array(v["norm_mean"]),
        "};",
        f"static const float {P}_NORM_SCALE[{P}_INPUT_SIZE] = {{",
        _float_array(v["norm_scale"]),
        "};",
        "",
        f"#endif  // {g}",
        "",
    ]
    return "\n".join(lines)


def op_resolver_header(model: TFLiteModel, name: str, *, version: str | None = None) -> str:
    """Text of ``NAME_op_resolver.h``: ``MicroMutableOpResolver<N>`` with exactly the model's ops."""
    ops = model.builtin_op_names
    calls = "".join(
        f"  if (resolver.{TFLM_OP_METHODS[op]}() != kTfLiteOk) return kTfLiteError;\n" for op in ops
    )
    return _render(
        "op_resolver.h.tmpl", banner=banner(version or _version()), name=name, prefix=name.upper(),
        guard=guard(f"{name}_op_resolver.h"), n_ops=len(ops), op_list=", ".join(ops), add_calls=calls,
    )


def firmware_files(tflite_bytes, config, *, name: str, target: str = "tflm",
                   version: str | None = None) -> dict[str, str]:
    """``{filename: text}`` of every generated file (no disk access). See :func:`export_firmware`."""
    name = check_c_identifier(name, "name")
    if target not in TARGETS:
        raise ExportError(f"`target` must be one of {TARGETS}. Received: target={target!r}")
    cfg = _as_config(config)
    model = _check_model(tflite_bytes)
    version = version or _version()
    resolved = _resolve(model, cfg)
    files = model_data_files(model.data, name, version=version, sha256=model.sha256)
    if target == "arduino":
        files = {k.replace(".cc", ".cpp"): v for k, v in files.items()}
    files[f"{name}_model_config.h"] = config_header(model, cfg, name, version=version, resolved=resolved)
    files[f"{name}_op_resolver.h"] = op_resolver_header(model, name, version=version)
    kw = dict(banner=banner(version), name=name, prefix=name.upper())
    if target == "tflm":
        files["main.cc"] = _render("main.cc.tmpl", **kw)
    else:
        files[f"{name}.ino"] = _render("sketch.ino.tmpl", **kw)
    info = {
        "generator": f"edgesynth {version}",
        "name": name,
        "target": target,
        "model": {"bytes": len(model.data), "sha256": model.sha256, "ops": model.builtin_op_names},
        "arena_bytes": resolved["arena"],
        "config": cfg.to_dict() | {"arena_bytes": resolved["arena"]},
        "files": {k: hashlib.sha256(v.encode("utf-8")).hexdigest() for k, v in sorted(files.items())},
    }
    files[MARKER] = json.dumps(info, indent=2, sort_keys=True) + "\n"
    return dict(sorted(files.items()))


def _as_config(config) -> FirmwareConfig:
    if isinstance(config, FirmwareConfig):
        return config
    if isinstance(config, dict):
        if "window" in config and "threshold" in config:  # a whole manifest
            return FirmwareConfig.from_manifest(config)
        try:
            return FirmwareConfig(**config)
        except TypeError as exc:
            raise ExportError(f"invalid firmware config keys: {exc}") from exc
    raise ExportError(f"`config` must be a FirmwareConfig or dict. Received: {type(config).__name__}")


def export_firmware(tflite_bytes, config, out_dir, *, name: str, target: str = "tflm") -> list[Path]:
    """Write firmware sources for an int8 model into ``out_dir`` atomically.

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer int8 ``.tflite`` (float-only, corrupt or truncated models raise
        :class:`ExportError`).
    config : FirmwareConfig or dict
        A :class:`FirmwareConfig`, a dict of its fields, or a whole artifact manifest.
    out_dir : path-like
        Destination folder. Built in a temporary sibling and renamed into place; an existing
        folder is replaced only if it is empty or was written by this function (has
        ``firmware.json``).
    name : str
        C identifier used in file and symbol names (reserved words rejected).
    target : {"tflm", "arduino"}

    Returns
    -------
    list of Path
        The written files, sorted.
    """
    files = firmware_files(tflite_bytes, config, name=name, target=target)
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"`out_dir` {str(out)!r} exists and is not a directory")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise ExportError(
                f"`out_dir` {str(out)!r} is not empty and was not written by edgesynth export "
                f"(no {MARKER}); refusing to replace it"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for fname, text in files.items():
            (tmp / fname).write_bytes(text.encode("utf-8"))
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(out / f for f in files)


__all__ = ["FirmwareConfig", "export_firmware", "firmware_files", "config_header", "op_resolver_header",
           "TFLM_OP_METHODS", "TARGETS"]
