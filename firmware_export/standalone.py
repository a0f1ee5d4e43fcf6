"""Standalone C99 inference for int8 detectors: no interpreter, no arena, bit-exact with TFLM.

:func:`emit_standalone` turns an int8 ``.tflite`` autoencoder into ``NAME.h`` + ``NAME.c``, plain
C99 that needs only ``<stdint.h>`` (and ``<math.h>`` for the float front end)::

    int NAME_infer_int8(const int8_t *in, int8_t *out);    /* int8 network */
    int NAME_score(const float *window, float *score);      /* window -> anomaly score */

The network is a fixed sequence of calls to a handful of integer kernels that repeat the
TensorFlow Lite Micro reference kernels operation for operation (int32 accumulation, bias,
``MultiplyByQuantizedMultiplier`` = ``SaturatingRoundingDoublingHighMul`` +
``RoundingDivideByPOT``, zero point, fused-activation clamp), with the fixed-point multipliers
computed here exactly as TFLite's ``QuantizeMultiplier`` does. Supported operators:

* ``FULLY_CONNECTED`` (per-tensor or per-channel weights, any number of rows; the input
  offset is folded into the bias at export, so the inner loop is one multiply-accumulate);
* ``CONV_2D`` with input height 1 and 1 x K kernels (what the converter makes of ``Conv1D``),
  SAME/VALID padding (computed as TFLite's ``ComputePaddingHeightWidth``), stride, dilation;
* ``TRANSPOSE_CONV`` with height 1 (``Conv1DTranspose``; a fused activation is accepted only
  when its clamp is the whole int8 range, because TFLM's int8 kernel ignores it), and int8
  ``ADD`` of a constant (the converter's separate bias add after it);
* ``RELU`` and ``RELU6`` as separate operators (as TFLM: ``RELU`` requantizes to the output
  scale and clamps, int8 ``RELU6`` only clamps the input bytes to its zero point and 6.0);
* ``RESHAPE``/``EXPAND_DIMS``/``SQUEEZE`` as no-ops, the int32 shape arithmetic the converter
  leaves for dynamic batch sizes (``SHAPE``, ``STRIDED_SLICE``, ``PACK``, ...) evaluated here;
* ``QUANTIZE``/``DEQUANTIZE`` at the model's edges (and int8 -> int8 requantization).

Anything else raises :class:`~edgesynth.errors.ExportError` naming the operator.

Memory: one static int8 buffer as large as the largest pair of consecutive intermediate
activations (:func:`activation_plan`; the first layer reads the caller's input, the last writes
the caller's output); ``NAME_score`` adds one int8 input and one int8 output vector (and the
feature front end its FFT work buffers).

``config`` gives the front end. Accepted forms: a plain dict with the keys below, a
:class:`firmware_export.tflm.FirmwareConfig` (``norm_mean``/``norm_scale``, ``None`` = identity;
``feature_kind="logmel"`` or ``"spectrum"`` additionally needs ``features=``), or a whole
detector manifest (``window``, ``normalization``, ``features``, ``threshold``):

==============  ==========================================================================
key             meaning
==============  ==========================================================================
mean, scale     normalization ``z = (feature - mean) / scale``, scalars or ``n_features``
threshold       decision threshold (float, or ``{"value": ...}`` as in the manifest)
window_length   samples per window (optional, default ``n_features / n_channels``)
n_channels      channels per sample (optional, default 1)
features        optional ``FeaturePipeline.to_dict()`` (or the ``features=`` argument);
                ``kind="logmel"`` adds the log-mel front end (``NAME_features``: Hann window,
                radix-2 real FFT in float, sparse librosa mel filter bank,
                ``20/power*log10(mel + eps)``), ``kind="spectrum"`` the band amplitude
                spectrum (``NAME_features``: Hann window over the whole window, real FFT,
                ``|X| * 2/sum(hann)`` averaged in ``n_bands`` bands, ``20*log10(band + eps)``);
                ``"raw"`` or absent means the window itself is the feature vector
==============  ==========================================================================

The model's constants are read with :class:`firmware_export.tflite_model.TFLiteModel` (no
TensorFlow).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edgesynth.errors import ExportError, ModelError, NotAvailableError, ParameterError

TEMPLATES = Path(__file__).resolve().parent / "templates"
INT16_MAX = 32767
INT32_MAX = 2**31 - 1

# ops that only change the shape of an int8 activation (same bytes, same order)
_ALIAS_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")
# int32 shape arithmetic evaluated at export time
_SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "MUL", "ADD", "SUB", "CAST", "GATHER")
_SUPPORTED = ("FULLY_CONNECTED", "CONV_2D", "TRANSPOSE_CONV", "ADD", "RELU", "RELU6", "QUANTIZE",
              "DEQUANTIZE") + _ALIAS_OPS


# --------------------------------------------------------------------------- fixed point
def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real ~= multiplier * 2**(shift - 31)``.

    Returns ``(multiplier, shift)`` with ``multiplier`` in ``[2**30, 2**31)`` (or 0), rounding
    half away from zero like ``TfLiteRound``; shifts below -31 flush to zero and shifts above 30
    saturate, as in tflite-micro.

    >>> quantize_multiplier(0.5)
    (1073741824, 0)
    >>> quantize_multiplier(0.0)
    (0, 0)
    """
    real = float(real_multiplier)
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real) or real < 0:
        raise ExportError(f"cannot quantize the multiplier {real!r}: expected a finite positive number")
    q, shift = math.frexp(real)
    q_fixed = math.floor(q * (1 << 31) + 0.5)  # exact: q * 2**31 < 2**31 has a 53-bit mantissa
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return int(q_fixed), int(shift)


def _round_away(x: np.ndarray) -> np.ndarray:
    """``std::round`` (half away from zero), exactly, for float32/float64 arrays."""
    t = np.trunc(x)
    return t + np.sign(x) * (np.abs(x - t) >= 0.5)


def _activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's ``CalculateActivationRangeQuantized`` for int8 outputs."""
    s = np.float32(scale)

    def q(f: float) -> int:
        return int(zero_point) + int(_round_away(np.float32(f) / s))

    lo, hi = -128, 127
    if act == "NONE":
        return lo, hi
    if act == "RELU":
        return max(lo, q(0.0)), hi
    if act == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    raise ExportError(f"fused activation {act!r} is not supported by the standalone C target "
                      "(supported: NONE, RELU, RELU6, RELU_N1_TO_1)")


# --------------------------------------------------------------------------- network description
@dataclass
class QTensor:
    """An int8 activation: element count, shape (batch 1) and affine quantization."""

    size: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int


@dataclass
class Layer:
    """One integer kernel call (the minimal interface the C generator consumes).

    ``kind`` is ``fully_connected``, ``conv1d``, ``transpose_conv1d``, ``add_const``,
    ``requantize`` or ``clamp``. Weights are int8 ``[out_c, k, in_c]`` (``[out_c, in_c]`` for dense, the
    constant operand for ``add_const``); ``scales`` holds the effective real multipliers
    (one per output channel, or one) from which ``mult``/``shift`` are derived.
    """

    kind: str
    op_index: int
    op_name: str
    input: QTensor
    output: QTensor
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    scales: list[float] = field(default_factory=list)
    activation: str = "NONE"
    geometry: dict[str, int] = field(default_factory=dict)
    c_offset: int = 0
    clamp_range: tuple[int, int] | None = None  # ``clamp`` layers: the bounds themselves

    @property
    def mult_shift(self) -> tuple[list[int], list[int]]:
        pairs = [quantize_multiplier(s) for s in self.scales]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    @property
    def act_range(self) -> tuple[int, int]:
        if self.clamp_range is not None:
            return self.clamp_range
        return _activation_range(self.activation, self.output.scale, self.output.zero_point)


@dataclass
class Network:
    """The int8 part of a model: entry activation, kernels in order, exit activation."""

    input: QTensor
    output: QTensor
    layers: list[Layer]
    ops: list[str]


def _q(t) -> tuple[float, int]:
    if t.quantization is None or t.dtype != "INT8":
        raise ExportError(
            f"tensor {t.index} ({t.name!r}) must be an int8 quantized tensor for the standalone C "
            f"target. Received dtype={t.dtype}, quantized={t.quantization is not None}"
        )
    if t.quantization.scale.size != 1:
        raise ExportError(f"activation tensor {t.index} ({t.name!r}) has per-channel quantization; "
                          "expected one scale and zero point")
    return float(t.quantization.scale[0]), int(t.quantization.zero_point[0])


def _strided_slice(x: np.ndarray, begin, end, strides, o: dict) -> np.ndarray:
    if o.get("ellipsis_mask") or o.get("new_axis_mask"):
        raise ExportError("STRIDED_SLICE with ellipsis/new_axis masks is not supported")
    idx = []
    for d in range(len(begin)):
        if o.get("shrink_axis_mask", 0) >> d & 1:
            idx.append(int(begin[d]))
            continue
        b = None if o.get("begin_mask", 0) >> d & 1 else int(begin[d])
        e = None if o.get("end_mask", 0) >> d & 1 else int(end[d])
        idx.append(slice(b, e, int(strides[d])))
    return np.asarray(x[tuple(idx)], dtype=np.int32)


def _layers_from_tflite(tflite_bytes: bytes) -> Network:
    """Read an int8 ``.tflite`` into a :class:`Network` (batch size 1).

    Uses :class:`firmware_export.tflite_model.TFLiteModel` (pure Python). Shapes are
    re-derived here with batch 1, because dynamic-batch models store placeholder shapes for
    tensors computed at run time.
    """
    from firmware_export.tflite_model import TFLiteModel

    try:
        model = TFLiteModel.from_bytes(tflite_bytes)
    except ModelError as exc:
        raise ExportError(f"cannot read the .tflite model: {exc}") from exc
    sg = model.main
    if len(model.subgraphs) != 1:
        raise ExportError(f"the standalone C target needs a single-subgraph model; this one has "
                          f"{len(model.subgraphs)} subgraphs")
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise ExportError(f"the standalone C target needs one input and one output tensor. Received: "
                          f"{len(sg.inputs)} inputs, {len(sg.outputs)} outputs")
    unsupported = sorted({op.name for op in sg.operators if op.name not in _SUPPORTED + _SHAPE_OPS})
    if unsupported:
        raise ExportError(
            f"the standalone C target does not support the operator(s) {', '.join(unsupported)}; "
            f"supported: {', '.join(_SUPPORTED)} (and int32 shape arithmetic). Export with "
            "target='tflm' instead"
        )
    T = sg.tensors
    values: dict[int, np.ndarray] = {}
    shapes: dict[int, tuple[int, ...]] = {}
    for t in T:
        if t.data is not None:
            values[t.index] = t.data
            shapes[t.index] = tuple(t.data.shape)
    tin = T[sg.inputs[0]]
    shapes[tin.index] = tuple(1 if (s < 0 or k == 0) else int(s)
                              for k, s in enumerate(tin.shape_signature or tin.shape))

    root: dict[int, int] = {}  # alias tensor -> the tensor that owns the bytes

    def r(i: int) -> int:
        while i in root:
            i = root[i]
        return i

    def shape(i: int, op) -> tuple[int, ...]:
        if i not in shapes:
            raise ExportError(f"operator {op.index} ({op.name}) reads tensor {i} ({T[i].name!r}) whose "
                              "shape is unknown (it is not produced by an earlier operator)")
        return shapes[i]

    def qt(i: int) -> QTensor:
        s, z = _q(T[i])
        return QTensor(int(np.prod(shapes[i], dtype=np.int64)), shapes[i], s, z)

    entry = tin.index
    exit_ = sg.outputs[0]
    layers: list[Layer] = []
    for op in sg.operators:
        ins = [i for i in op.inputs]
        out = op.outputs[0]
        name, o = op.name, op.options
        # -- int32 shape arithmetic, evaluated now
        if name == "SHAPE":
            values[out] = np.asarray(shape(ins[0], op), dtype=np.int32)
            shapes[out] = values[out].shape
            continue
        if name in _SHAPE_OPS and T[out].dtype in ("INT32", "INT64"):
            args = [values.get(i) for i in ins if i >= 0]
            if any(a is None for a in args):
                raise ExportError(f"operator {op.index} ({name}) computes on run-time int32 data; only "
                                  "shape arithmetic with constant results is supported")
            if name == "STRIDED_SLICE":
                v = _strided_slice(args[0], *args[1:4], o)
            elif name == "PACK":
                v = np.stack(args, axis=o.get("axis", 0))
            elif name == "CONCATENATION":
                v = np.concatenate([np.atleast_1d(a) for a in args], axis=o.get("axis", 0))
            elif name == "MUL":
                v = args[0] * args[1]
            elif name == "ADD":
                v = args[0] + args[1]
            elif name == "SUB":
                v = args[0] - args[1]
            elif name == "CAST":
                v = args[0]
            else:  # GATHER
                v = np.take(args[0], args[1], axis=o.get("axis", 0))
            values[out] = np.asarray(v, dtype=np.int32)
            shapes[out] = values[out].shape
            continue
        if name in _ALIAS_OPS:
            src = shape(ins[0], op)
            n = int(np.prod(src, dtype=np.int64))
            if name == "RESHAPE":
                new = values.get(ins[1]) if len(ins) > 1 and ins[1] >= 0 else None
                new = list(new.ravel()) if new is not None else list(o.get("new_shape") or [n])
                if -1 in new:
                    known = int(np.prod([d for d in new if d != -1], dtype=np.int64)) or 1
                    new[new.index(-1)] = n // known
                new_shape = tuple(int(d) for d in new)
            elif name == "EXPAND_DIMS":
                axis = int(np.asarray(values[ins[1]]).ravel()[0])
                if axis < 0:
                    axis += len(src) + 1
                new_shape = src[:axis] + (1,) + src[axis:]
            else:  # SQUEEZE
                dims = o.get("squeeze_dims") or [d for d, s in enumerate(src) if s == 1]
                dims = {d % len(src) for d in dims}
                new_shape = tuple(s for d, s in enumerate(src) if d not in dims)
            if int(np.prod(new_shape, dtype=np.int64)) != n:
                raise ExportError(f"operator {op.index} ({name}) reshapes {src} to {new_shape}: sizes differ")
            shapes[out] = new_shape
            root[out] = ins[0]
            continue
        if name == "QUANTIZE":
            tin_, tout = T[ins[0]], T[out]
            shapes[out] = shape(ins[0], op)
            if tin_.dtype == "FLOAT32" and r(ins[0]) == r(entry) and not layers:
                entry = out  # float model input: the int8 API starts after QUANTIZE
                continue
            if tin_.dtype == "INT8" and tout.dtype == "INT8":
                a, b = qt(ins[0]), qt(out)
                layer = Layer("requantize", op.index, name, a, b,
                              scales=[float(np.float64(np.float32(a.scale)) / np.float64(np.float32(b.scale)))],
                              geometry={"in_w": 1, "in_c": a.size, "out_w": 1, "out_c": b.size})
                _append(layers, layer, op, values, r, entry, out)
                continue
            raise ExportError(f"QUANTIZE from {tin_.dtype} to {tout.dtype} inside the network is not "
                              "supported by the standalone C target")
        if name == "RELU":  # TFLM ReluQuantized: requantize to the output scale, then clamp
            shapes[out] = shape(ins[0], op)
            a, b = qt(ins[0]), qt(out)
            layer = Layer("requantize", op.index, name, a, b,
                          scales=[float(np.float64(np.float32(a.scale)) / np.float64(np.float32(b.scale)))],
                          activation=name, geometry={"in_w": 1, "in_c": a.size, "out_w": 1, "out_c": b.size})
            _append(layers, layer, op, values, r, entry, out)
            continue
        if name == "RELU6":
            # TFLM's int8 Relu6 does not requantize: it clamps the input bytes to
            # [zero_point, FloatToQuantizedType(6.0f)] in the *input* quantization
            shapes[out] = shape(ins[0], op)
            a, b = qt(ins[0]), qt(out)
            six = int(_round_away(np.float32(6.0) / np.float32(a.scale))) + a.zero_point
            layer = Layer("clamp", op.index, name, a, b, activation=name,
                          geometry={"in_w": 1, "in_c": a.size, "out_w": 1, "out_c": b.size})
            layer.clamp_range = (a.zero_point, min(max(six, -128), 127))
            _append(layers, layer, op, values, r, entry, out)
            continue
        if name == "DEQUANTIZE":
            shapes[out] = shape(ins[0], op)
            if out == exit_ and T[ins[0]].dtype == "INT8":
                exit_ = ins[0]
                continue
            raise ExportError("DEQUANTIZE is only supported on the model output")

        # -- compute layers
        if name in _SHAPE_OPS and name != "ADD":
            raise ExportError(f"the standalone C target does not support {name} on {T[out].dtype} "
                              f"activations (operator {op.index}); export with target='tflm' instead")
        if name == "FULLY_CONNECTED":
            x, w, b = ins[0], ins[1], (ins[2] if len(ins) > 2 else -1)
            W = values.get(w)
            if W is None or T[w].dtype != "INT8":
                raise ExportError(f"FULLY_CONNECTED operator {op.index} needs constant int8 weights")
            if o.get("weights_format", 0) != 0:
                raise ExportError(f"FULLY_CONNECTED operator {op.index} uses shuffled weights")
            out_c, in_c = W.shape
            xs = shape(x, op)
            n_in = int(np.prod(xs, dtype=np.int64))
            if n_in % in_c:
                raise ExportError(f"FULLY_CONNECTED operator {op.index}: input {xs} is not a multiple of {in_c}")
            rows = n_in // in_c
            shapes[out] = (rows, out_c) if not o.get("keep_num_dims") else xs[:-1] + (out_c,)
            geo = {"in_w": rows, "in_c": in_c, "out_w": rows, "out_c": out_c}
            layer = _conv_like("fully_connected", op, qt(x), qt(out), T[w], W.reshape(out_c, in_c),
                               T[b] if b >= 0 else None, o.get("fused_activation_function", "NONE"), geo)
        elif name == "CONV_2D":
            x, w, b = ins[0], ins[1], (ins[2] if len(ins) > 2 else -1)
            W = values.get(w)
            if W is None or T[w].dtype != "INT8":
                raise ExportError(f"CONV_2D operator {op.index} needs constant int8 weights")
            _, ih, iw, ic = _nhwc(shape(x, op), op)
            oc, kh, kw, kic = W.shape
            if ih != 1 or kh != 1 or kic != ic or o.get("dilation_h_factor", 1) != 1:
                raise ExportError(
                    f"CONV_2D operator {op.index}: only 1-D convolutions (input height 1, 1xK kernels) "
                    f"are supported. Received input (1, {ih}, {iw}, {ic}), filter {tuple(W.shape)}")
            stride, dil = int(o.get("stride_w", 1)), int(o.get("dilation_w_factor", 1))
            pad, ow = _tflm_padding(o.get("padding"), iw, kw, stride, dil, op)
            shapes[out] = (1, 1, ow, oc)
            geo = {"in_w": iw, "in_c": ic, "out_w": ow, "out_c": oc, "k": kw, "stride": stride,
                   "dilation": dil, "pad": pad}
            layer = _conv_like("conv1d", op, qt(x), qt(out), T[w], W.reshape(oc, kw, ic),
                               T[b] if b >= 0 else None, o.get("fused_activation_function", "NONE"), geo)
        elif name == "TRANSPOSE_CONV":
            oshape, w, x = ins[0], ins[1], ins[2]
            b = ins[3] if len(ins) > 3 else -1
            W, osv = values.get(w), values.get(oshape)
            if W is None or T[w].dtype != "INT8" or osv is None:
                raise ExportError(f"TRANSPOSE_CONV operator {op.index} needs constant int8 weights and a "
                                  "constant output shape")
            _, ih, iw, ic = _nhwc(shape(x, op), op)
            _, oh, ow, oc = (int(v) for v in osv.ravel())
            woc, kh, kw, kic = W.shape
            if ih != 1 or oh != 1 or kh != 1 or kic != ic or woc != oc:
                raise ExportError(f"TRANSPOSE_CONV operator {op.index}: only 1-D (height 1) transposed "
                                  f"convolutions are supported. Received input (1, {ih}, {iw}, {ic}), "
                                  f"filter {tuple(W.shape)}, output (1, {oh}, {ow}, {oc})")
            act = o.get("fused_activation_function", "NONE")
            if act != "NONE" and _activation_range(act, *_q(T[out])) != (-128, 127):
                # TFLM prepares int8 TRANSPOSE_CONV with kTfLiteActNone: a fused activation is
                # ignored there. Harmless when its clamp is the whole int8 range (the usual case:
                # a ReLU output calibrated with zero point -128); otherwise refuse to guess.
                raise ExportError(f"TRANSPOSE_CONV operator {op.index} has a fused {act} that clamps "
                                  f"to {_activation_range(act, *_q(T[out]))}; TFLM's int8 kernel ignores "
                                  "fused activations, so the result would depend on the runtime version")
            stride = int(o.get("stride_w", 1))
            # as TFLM: ComputePaddingHeightWidth on the *output* width (dilation 1)
            pad, _ = _tflm_padding(o.get("padding"), ow, kw, stride, 1, op)
            shapes[out] = (1, 1, ow, oc)
            geo = {"in_w": iw, "in_c": ic, "out_w": ow, "out_c": oc, "k": kw, "stride": stride,
                   "dilation": 1, "pad": pad}
            layer = _conv_like("transpose_conv1d", op, qt(x), qt(out), T[w], W.reshape(oc, kw, ic),
                               T[b] if b >= 0 else None, "NONE", geo)
        else:  # ADD (int8): one run-time operand and one constant
            const = [i for i in ins if i in values]
            dyn = [i for i in ins if i not in values]
            if len(const) != 1 or len(dyn) != 1:
                raise ExportError(f"ADD operator {op.index}: only the addition of a constant tensor is "
                                  "supported (no residual connections)")
            x, c = dyn[0], const[0]
            xs, cs = shape(x, op), tuple(values[c].shape)
            cs_core = tuple(cs)
            while cs_core and cs_core[0] == 1:
                cs_core = cs_core[1:]
            if cs_core and tuple(xs[len(xs) - len(cs_core):]) != cs_core:
                raise ExportError(f"ADD operator {op.index}: constant of shape {cs} does not broadcast "
                                  f"over the trailing dimensions of {xs}")
            shapes[out] = tuple(np.broadcast_shapes(xs, cs))
            if shapes[out] != tuple(xs):
                raise ExportError(f"ADD operator {op.index}: the constant enlarges the activation {xs}")
            a, cq, y = qt(x), _q(T[c]), qt(out)
            twice_max = 2.0 * float(max(np.float32(a.scale), np.float32(cq[0])))
            scales = [a.scale / twice_max, cq[0] / twice_max, twice_max / ((1 << 20) * y.scale)]
            layer = Layer("add_const", op.index, name, a, y, weights=values[c].astype(np.int8).ravel(),
                          scales=scales, activation=o.get("fused_activation_function", "NONE"),
                          geometry={"in_w": 1, "in_c": a.size, "out_w": 1, "out_c": y.size,
                                    "k": int(values[c].size)}, c_offset=-cq[1])
            if any(sh > 0 for sh in layer.mult_shift[1]):
                raise ExportError(f"ADD operator {op.index}: a rescaling factor is >= 1, which TFLM "
                                  "does not support either")
        _append(layers, layer, op, values, r, entry, out)
    last = r(layers[-1].geometry["_out_tensor"]) if layers else r(entry)
    if r(exit_) != last:
        raise ExportError("the model output is not produced by the last layer; only sequential models "
                          "are supported by the standalone C target")
    for L in layers:
        L.geometry.pop("_out_tensor", None)
        for key, v in L.geometry.items():
            if not 0 <= v <= INT16_MAX:
                raise ExportError(f"layer {L.op_index} ({L.op_name}): {key}={v} exceeds the int16 range "
                                  "of the standalone C kernels")
    s_in, z_in = _q(T[entry])
    s_out, z_out = _q(T[exit_])
    n_in = int(np.prod(shapes[entry], dtype=np.int64))
    n_out = int(np.prod(shapes[exit_], dtype=np.int64))
    return Network(QTensor(n_in, shapes[entry], s_in, z_in), QTensor(n_out, shapes[exit_], s_out, z_out),
                   layers, [op.name for op in sg.operators])


def _append(layers: list, layer: Layer, op, values, r, entry: int, out: int) -> None:
    """Append ``layer``; sequential models only: it must read the previous layer's output."""
    expected = r(layers[-1].geometry["_out_tensor"]) if layers else r(entry)
    if r(_dynamic_input(op, values)) != expected:
        raise ExportError(f"operator {op.index} ({op.name}) does not read the previous layer's output; "
                          "only sequential models are supported by the standalone C target")
    layer.geometry["_out_tensor"] = out
    layers.append(layer)


def _dynamic_input(op, values) -> int:
    if op.name == "TRANSPOSE_CONV":
        return op.inputs[2]
    if op.name == "ADD":
        return [i for i in op.inputs if i not in values][0]
    return op.inputs[0]


def _tflm_padding(padding, in_size: int, k: int, stride: int, dilation: int, op) -> tuple[int, int]:
    """``(pad, out_size)`` as TFLite's ``ComputePaddingHeightWidth`` for one spatial dimension."""
    if stride < 1 or dilation < 1:
        raise ExportError(f"operator {op.index} ({op.name}): stride {stride} and dilation {dilation} "
                          "must be positive")
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size + stride - eff) // stride
    else:
        raise ExportError(f"operator {op.index} ({op.name}): padding {padding!r} is not supported "
                          "(expected SAME or VALID)")
    if out < 1:
        raise ExportError(f"operator {op.index} ({op.name}): a {k}-tap filter does not fit {in_size} "
                          f"samples with {padding} padding")
    return max(((out - 1) * stride + eff - in_size) // 2, 0), out


def _nhwc(shape: tuple[int, ...], op) -> tuple[int, int, int, int]:
    if len(shape) != 4 or shape[0] != 1:
        raise ExportError(f"operator {op.index} ({op.name}) expects a (1, H, W, C) input. Received {shape}")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _conv_like(kind, op, x: QTensor, y: QTensor, tw, W, tb, act, geo) -> Layer:
    """Weights, bias and per-channel effective scales as TFLM's PopulateConvolutionQuantizationParams."""
    if tw.quantization is None:
        raise ExportError(f"{op.name} operator {op.index}: weights are not quantized (float model?)")
    ws = np.asarray(tw.quantization.scale, dtype=np.float32)
    if np.any(tw.quantization.zero_point != 0):
        raise ExportError(f"{op.name} operator {op.index}: int8 weights must be symmetric (zero point 0)")
    n_out = W.shape[0]
    if ws.size not in (1, n_out):
        raise ExportError(f"{op.name} operator {op.index}: {ws.size} weight scales for {n_out} output channels")
    # double(input_scale) * double(filter_scale) / double(output_scale), as in TFLM
    scales = [float(np.float64(np.float32(x.scale)) * np.float64(s) / np.float64(np.float32(y.scale)))
              for s in ws]
    bias = None
    if tb is not None:
        if tb.data is None or tb.dtype != "INT32":
            raise ExportError(f"{op.name} operator {op.index}: bias must be a constant int32 tensor. "
                              f"Received dtype={tb.dtype}")
        bias = tb.data.astype(np.int32).ravel()
    geo = dict(geo)
    geo["per_channel"] = int(ws.size > 1)
    return Layer(kind, op.index, op.name, x, y, weights=np.ascontiguousarray(W, dtype=np.int8), bias=bias,
                 scales=scales, activation=act, geometry=geo)


# --------------------------------------------------------------------------- configuration
@dataclass
class FrontEnd:
    """What ``NAME_score`` does before quantizing: normalization (and log-mel features)."""

    mean: np.ndarray           # (1,) or (n_features,), float32
    scale: np.ndarray          # (1,) or (n_features,), float32
    threshold: float
    window_length: int
    n_channels: int
    features: dict | None = None   # FeaturePipeline.to_dict() for logmel, else None


def _get(config: Any, key: str, default=None):
    if isinstance(config, Mapping):
        return config.get(key, default)
    return getattr(config, key, default)


def _read_config(config: Any, n_features: int, features: Any = None) -> FrontEnd:
    """Normalize the accepted ``config`` forms (dict, FirmwareConfig-like object) into :class:`FrontEnd`."""
    if config is None:
        raise ParameterError("`config` is required (mean, scale, threshold, window_length, n_channels)")
    if isinstance(config, Mapping) and "window" in config and "threshold" in config:  # a whole manifest
        w = config["window"]
        config = {"normalization": config.get("normalization"), "threshold": config["threshold"],
                  "features": config.get("features"), "window_length": w.get("window_length"),
                  "n_channels": w.get("n_channels", 1)}
    norm = _get(config, "normalization") or {}

    def pick(*sources_keys):
        for src, key in sources_keys:
            v = _get(src, key)
            if v is not None:
                return v
        return None

    mean = pick((config, "mean"), (config, "norm_mean"), (norm, "mean"), (norm, "mean_"))
    scale = pick((config, "scale"), (config, "norm_scale"), (norm, "scale"), (norm, "scale_"),
                 (norm, "std"))
    if not isinstance(config, Mapping) and hasattr(config, "norm_mean"):
        # FirmwareConfig: None means identity normalization
        mean = 0.0 if mean is None else mean
        scale = 1.0 if scale is None else scale
    if mean is None or scale is None:
        raise ParameterError("`config` must give the normalization `mean` and `scale` (scalars or one per "
                             f"feature). Received keys: {sorted(config) if isinstance(config, Mapping) else config!r}")
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64)).astype(np.float32).ravel()
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float64)).astype(np.float32).ravel()
    for arr, key in ((mean, "mean"), (scale, "scale")):
        if arr.size not in (1, n_features):
            raise ParameterError(f"`config['{key}']` must hold 1 or {n_features} values (the model input "
                                 f"size). Received {arr.size}")
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"`config['{key}']` contains NaN or infinite values")
    if np.any(scale == 0):
        raise ParameterError("`config['scale']` must be non-zero")
    thr = _get(config, "threshold")
    if isinstance(thr, Mapping) or (thr is not None and not isinstance(thr, (int, float, np.number))):
        thr = _get(thr, "value")
    if thr is None or not math.isfinite(float(thr)):
        raise ParameterError(f"`config['threshold']` must be a finite number. Received: {thr!r}")
    if features is None:
        features = _get(config, "features")
    kind = _get(config, "feature_kind")
    if features is None and kind not in (None, "raw"):
        raise ExportError(f"feature_kind={kind!r} needs the feature pipeline parameters: pass "
                          "features=manifest['features'] (FeaturePipeline.to_dict()) or the whole manifest")
    if features is not None and not isinstance(features, Mapping):
        features = features.to_dict() if hasattr(features, "to_dict") else dict(vars(features))
    if features is not None and kind is not None and features.get("kind", "raw") != kind:
        raise ParameterError(f"the config says feature_kind={kind!r} but the feature parameters say "
                             f"kind={features.get('kind', 'raw')!r}")
    if features is not None and features.get("kind", "raw") == "raw":
        features = None
    n_channels = int(_get(config, "n_channels", 1) or 1)
    window_length = _get(config, "window_length")
    if features is None:
        if window_length is None:
            window_length = n_features // n_channels
        if int(window_length) * n_channels != n_features:
            raise ParameterError(
                f"window_length * n_channels must equal the model input size {n_features} for raw "
                f"features. Received window_length={window_length}, n_channels={n_channels}")
    elif features.get("kind") not in ("logmel", "spectrum"):
        raise ExportError(f"the standalone C front end supports 'raw', 'logmel' and 'spectrum' features. "
                          f"Received kind={features.get('kind')!r}")
    elif window_length is None:
        raise ParameterError(f"`config['window_length']` is required for {features['kind']} models")
    return FrontEnd(mean, scale, float(thr), int(window_length), n_channels,
                    None if features is None else dict(features))


# --------------------------------------------------------------------------- C text
def _cf(v: float) -> str:
    """A float32 constant as a C literal that round-trips exactly."""
    s = "%.9g" % float(np.float32(v))
    if not any(ch in s for ch in ".en"):
        s += ".0"
    return s + "f"


def _c_array(qual: str, ctype: str, name: str, values, fmt=str, per_line: int = 12) -> str:
    vals = [fmt(v) for v in np.asarray(values).ravel().tolist()]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n    ".join(lines)
    return f"{qual}const {ctype} {name}[{len(vals)}] = {{\n    {body}\n}};\n"


def _kernel_snippets() -> dict[str, str]:
    text = (TEMPLATES / "standalone_kernels.c").read_text(encoding="utf-8")
    return {m.group(1): m.group(2).strip() + "\n"
            for m in re.finditer(r"/\* @@kernel (\w+) \*/\n(.*?)/\* @@end \*/", text, re.S)}


def _fill(template: str, subs: Mapping[str, str]) -> str:
    out = template
    for k, v in subs.items():
        out = out.replace(f"@@{k}@@", v)
    left = re.findall(r"@@[A-Z_]+@@", out)
    if left:  # a template bug, not a user error
        raise RuntimeError(f"unfilled template placeholders: {sorted(set(left))}")
    return out


_GEOM = ("in_w", "in_c", "out_w", "out_c", "k", "stride", "dilation", "pad", "per_channel")


def _layer_data(i: int, L: Layer) -> tuple[str, str]:
    """C arrays of one layer and its ``es_layer_t`` initializer."""
    mult, shift = L.mult_shift
    amin, amax = L.act_range
    parts = [f"/* layer {i}: {L.op_name} (tflite operator {L.op_index}) -> {L.kind}, "
             f"{L.input.size} -> {L.output.size} values, activation {L.activation} */\n"]
    w = b = "0"
    if L.weights is not None:
        w = f"es_w{i}"
        parts.append(_c_array("static ", "int8_t", w, L.weights, per_line=16))
    bias = _folded_bias(L) if L.kind == "fully_connected" else L.bias
    if bias is not None:
        b = f"es_b{i}"
        if L.kind == "fully_connected" and L.input.zero_point != 0:
            parts.append(f"/* bias + (-input zero point) * sum of each weight row */\n")
        parts.append(_c_array("static ", "int32_t", b, bias, per_line=8))
    m = sh = "0"
    if mult:  # a clamp layer has no multiplier
        m, sh = f"es_m{i}", f"es_s{i}"
        parts.append(_c_array("static ", "int32_t", m, mult, per_line=6))
        parts.append(_c_array("static ", "int8_t", sh, shift, per_line=16))
    g = {k: int(L.geometry.get(k, 1 if k in ("stride", "dilation", "k", "in_w", "out_w") else 0)) for k in _GEOM}
    if L.kind in ("fully_connected", "add_const", "requantize", "clamp"):
        g["k"] = int(L.geometry.get("k", 1))
    init = (f"    {{{w}, {b}, {m}, {sh}, {-L.input.zero_point}, {L.output.zero_point}, {L.c_offset}, "
            f"{amin}, {amax}, " + ", ".join(str(g[k]) for k in _GEOM) + "}")
    return "".join(parts), init


def _folded_bias(L: Layer) -> np.ndarray | None:
    """Fully-connected bias with the input offset folded in: ``bias + in_offset * rowsum(w)``.

    ``sum(w * (x + in_offset)) + bias == sum(w * x) + folded``; the C accumulator starts at
    ``folded`` and adds ``w * x`` (each at most 2**14 in magnitude), so it stays in int32 when
    ``|folded| + 2**14 * in_c`` does (checked here).
    """
    in_offset = -int(L.input.zero_point)
    W = L.weights.astype(np.int64).reshape(L.weights.shape[0], -1)
    folded = (np.zeros(W.shape[0], np.int64) if L.bias is None else L.bias.astype(np.int64)) + in_offset * W.sum(axis=1)
    if L.bias is None and not folded.any():
        return None
    if int(np.abs(folded).max()) + (1 << 14) * W.shape[1] > INT32_MAX:
        raise ExportError(f"layer {L.op_index} ({L.op_name}): bias {int(np.abs(folded).max())} is too large "
                          "for an int32 accumulator")
    return folded.astype(np.int32)


def _summary(net: Network) -> str:
    kinds = ", ".join(f"{L.kind}({L.input.size}->{L.output.size})" for L in net.layers) or "identity"
    return (f"int8 input {net.input.size} (scale {_cf(net.input.scale)}, zero point {net.input.zero_point}), "
            f"int8 output {net.output.size}; layers: {kinds}")


def activation_plan(net: Network) -> tuple[int, list[int]]:
    """``(bytes, offsets)`` of the one static activation buffer.

    The outputs of layers ``0 .. n-2`` live in one buffer as large as the largest pair of
    consecutive activations: layer ``i`` writes at offset 0 when ``i`` is even and at
    ``bytes - size_i`` when odd, so its input (the previous layer's output, at the other end)
    never overlaps it. The first layer reads the caller's input and the last writes the
    caller's output.

    >>> q = lambda n: QTensor(n, (1, n), 1.0, 0)
    >>> net = Network(q(8), q(8), [Layer("fully_connected", i, "FC", q(a), q(b))
    ...                            for i, (a, b) in enumerate([(8, 6), (6, 2), (2, 5), (5, 8)])], [])
    >>> activation_plan(net)
    (8, [0, 6, 0])
    """
    sizes = [L.output.size for L in net.layers[:-1]]
    if not sizes:
        return 0, []
    total = max([sizes[0]] + [a + b for a, b in zip(sizes, sizes[1:])])
    return total, [0 if i % 2 == 0 else total - s for i, s in enumerate(sizes)]


def render_standalone(net: Network, front: FrontEnd, *, name: str, version: str | None = None) -> dict[str, str]:
    """Text of ``NAME.h`` and ``NAME.c`` (pure: same inputs, same bytes)."""
    from edgesynth import __version__
    from edgesynth.validation import check_c_identifier

    from firmware_export.carray import banner, guard

    name = check_c_identifier(name, "name")
    version = version or __version__
    uname = name.upper()
    kernels = _kernel_snippets()
    used = []
    for L in net.layers:
        if L.kind not in used:
            used.append(L.kind)
    kernel_text = "\n".join([kernels["requant"]] + [kernels[k] for k in used]) if used else ""
    data, inits = [], []
    for i, L in enumerate(net.layers):
        d, init = _layer_data(i, L)
        data.append(d)
        inits.append(init)
    if inits:
        data.append(f"static const es_layer_t es_layers[{len(inits)}] = {{\n" + ",\n".join(inits) + "\n};\n")
    n = len(net.layers)
    size, offsets = activation_plan(net)
    buffers = ""
    if size:
        buffers = (f"/* intermediate activations: {size} bytes = the largest pair of consecutive ones; layer i\n"
                   " * writes at the start (even i) or the end (odd i), the other end holds its input */\n"
                   f"static int8_t es_act[{size}];\n")

    def at(i: int) -> str:
        return "es_act" if offsets[i] == 0 else f"es_act + {offsets[i]}"

    body = []
    if n == 0:
        body.append(f"    {{\n        int32_t i;\n        for (i = 0; i < {net.input.size}; ++i) {{\n"
                    f"            out[i] = in[i];\n        }}\n    }}\n")
    for i, L in enumerate(net.layers):
        src = "in" if i == 0 else at(i - 1)
        dst = "out" if i == n - 1 else at(i)
        fn = "es_clamp_layer" if L.kind == "clamp" else f"es_{L.kind}"
        body.append(f"    {fn}({src}, {dst}, &es_layers[{i}]);\n")
    fe_doc, front_text, n_features = _front_end(net, front, name=name, uname=uname)
    summary = _summary(net)
    kind = front.features["kind"] if front.features else "raw"
    subs = {
        "BANNER": banner(version), "NAME": name, "UNAME": uname, "GUARD": guard(f"{name}.h"),
        "SUMMARY": summary, "WINDOW_LENGTH": str(front.window_length), "N_CHANNELS": str(front.n_channels),
        "WINDOW_SIZE": str(front.window_length * front.n_channels), "N_FEATURES": str(n_features),
        "FEATURE_KIND": kind, "EXTRA_DECL": _features_decl(kind, name=name, uname=uname),
        "INPUT_SIZE": str(net.input.size), "OUTPUT_SIZE": str(net.output.size),
        "INPUT_SCALE": _cf(net.input.scale), "INPUT_ZERO_POINT": f"({net.input.zero_point})",
        "OUTPUT_SCALE": _cf(net.output.scale), "OUTPUT_ZERO_POINT": f"({net.output.zero_point})",
        "THRESHOLD": _cf(front.threshold), "FRONT_END_DOC": fe_doc,
        "KERNELS": kernel_text, "DATA": "\n".join(data), "BUFFERS": buffers,
        "INFER_BODY": "".join(body), "FRONT_END": front_text,
    }
    h = _fill((TEMPLATES / "standalone_model.h").read_text(encoding="utf-8"), subs)
    c = _fill((TEMPLATES / "standalone_model.c").read_text(encoding="utf-8"), subs)
    return {f"{name}.h": h, f"{name}.c": c}


def _features_decl(kind: str, *, name: str, uname: str) -> str:
    if kind == "raw":
        return ""
    what = {"logmel": "Log-mel features of one raw window: features[{U}_N_FEATURES], frame-major per channel",
            "spectrum": "Band-spectrum features of one raw window: features[{U}_N_FEATURES], n_bands per "
                        "channel"}[kind].format(U=uname)
    return (f"\n/* {what},\n * equal to edgesynth's FeaturePipeline(kind=\"{kind}\") to float32 rounding. "
            f"Returns\n * {uname}_OK or {uname}_ERR_NULL. */\nint {name}_features(const float *window, "
            "float *features);\n")


def _norm_text(front: FrontEnd, n: int) -> tuple[str, str]:
    """C declarations of mean/scale and the expression normalizing feature ``f`` at index ``i``."""
    decl = []
    m = "es_mean[i]" if front.mean.size > 1 else "es_mean"
    s = "es_scale[i]" if front.scale.size > 1 else "es_scale"
    for arr, nm in ((front.mean, "es_mean"), (front.scale, "es_scale")):
        if arr.size > 1:
            decl.append(_c_array("static ", "float", nm, arr, fmt=_cf, per_line=6))
        else:
            decl.append(f"static const float {nm} = {_cf(arr[0])};\n")
    return "".join(decl), f"(f - {m}) / {s}"


def _front_end(net: Network, front: FrontEnd, *, name: str, uname: str) -> tuple[str, str, int]:
    """(header doc line, C text of NAME_score and its helpers, n_features)."""
    n = net.input.size
    if net.output.size != n:
        raise ExportError(f"NAME_score needs an autoencoder (output size == input size). Received input "
                          f"{n}, output {net.output.size}")
    decl, norm = _norm_text(front, n)
    if front.features:
        text_fn = _logmel_text if front.features["kind"] == "logmel" else _spectrum_text
        fe_decl, fe_call, fe_doc = text_fn(front, n, name=name, uname=uname)
        feat = "es_feat[i]"
    else:
        fe_decl, fe_call, fe_doc = "", "", ""
        feat = "window[i]"
    text = f"""{decl}{fe_decl}static int8_t es_q_in[{uname}_INPUT_SIZE];
static int8_t es_q_out[{uname}_OUTPUT_SIZE];

int {name}_score(const float *window, float *score)
{{
    int32_t i;
    float acc = 0.0f;
    if (window == 0 || score == 0) {{
        return {uname}_ERR_NULL;
    }}
    for (i = 0; i < {uname}_WINDOW_SIZE; ++i) {{
        if (!isfinite(window[i])) {{
            return {uname}_ERR_NONFINITE;
        }}
    }}
{fe_call}    for (i = 0; i < {uname}_INPUT_SIZE; ++i) {{
        const float f = {feat};
        float q = roundf(({norm}) / {uname}_INPUT_SCALE) + (float){uname}_INPUT_ZERO_POINT;
        if (q < -128.0f) {{
            q = -128.0f;
        }}
        if (q > 127.0f) {{
            q = 127.0f;
        }}
        es_q_in[i] = (int8_t)q;
    }}
    (void){name}_infer_int8(es_q_in, es_q_out);
    for (i = 0; i < {uname}_OUTPUT_SIZE; ++i) {{
        const float f = {feat};
        const float z = {norm};
        const float z_hat = (float)((int32_t)es_q_out[i] - {uname}_OUTPUT_ZERO_POINT) * {uname}_OUTPUT_SCALE;
        const float d = z - z_hat;
        acc += d * d;
    }}
    *score = acc / (float){uname}_OUTPUT_SIZE;
    return {uname}_OK;
}}
"""
    return fe_doc, text, n


def _fft_text(n_fft: int, n_channels: int, *, magnitude: bool) -> str:
    """C text of the shared real-FFT helper (``standalone_fft.c``) for ``n_fft`` samples."""
    k = np.arange(n_fft, dtype=np.float64)
    hann = (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n_fft)).astype(np.float32)
    ang = 2.0 * np.pi * np.arange(n_fft // 2, dtype=np.float64) / n_fft
    subs = {
        "N_FFT": str(n_fft), "N_CHANNELS": str(n_channels),
        "HANN": _c_array("static ", "float", "es_hann", hann, fmt=_cf, per_line=6),
        "COS": _c_array("static ", "float", "es_cos", np.cos(ang).astype(np.float32), fmt=_cf, per_line=6),
        "SIN": _c_array("static ", "float", "es_sin", np.sin(ang).astype(np.float32), fmt=_cf, per_line=6),
        "SPEC_EXPR": "sqrtf(xr * xr + xi * xi)" if magnitude else "xr * xr + xi * xi",
        "SPEC_DOC": "|X[k]|" if magnitude else "|X[k]|^2",
    }
    return _fill((TEMPLATES / "standalone_fft.c").read_text(encoding="utf-8"), subs)


def _check_fft_size(n_fft: int, what: str) -> None:
    if n_fft < 4 or n_fft & (n_fft - 1) or n_fft > 65536:
        raise ExportError(f"the standalone {what} front end needs an FFT size that is a power of two between 4 and "
                          f"65536. Received: {n_fft}")


def _logmel_text(front: FrontEnd, n: int, *, name: str, uname: str) -> tuple[str, str, str]:
    """(C text of the log-mel front end, the call in NAME_score, header doc) for ``front.features``."""
    fp = front.features
    try:
        n_fft, hop, n_frames, n_mels = (int(fp[k]) for k in ("n_fft", "hop_length", "n_frames", "n_mels"))
        power, sr = float(fp.get("power", 2.0)), float(fp["sr"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"logmel feature parameters incomplete or invalid: {exc!r}. Expected "
                             "FeaturePipeline.to_dict() with sr, n_fft, hop_length, n_frames, n_mels") from exc
    _check_fft_size(n_fft, "log-mel")
    if power not in (1.0, 2.0):
        raise ExportError(f"the standalone log-mel front end supports power 1 or 2. Received: power={power}")
    need = n_fft + (n_frames - 1) * hop
    if front.window_length != need:
        raise ParameterError(f"logmel with n_fft={n_fft}, hop_length={hop}, n_frames={n_frames} needs "
                             f"window_length={need}. Received: window_length={front.window_length}")
    if n != n_mels * n_frames * front.n_channels:
        raise ExportError(f"the model input size {n} differs from n_mels * n_frames * n_channels = "
                          f"{n_mels * n_frames * front.n_channels}")
    try:
        import librosa
    except ImportError as exc:  # pragma: no cover - librosa is a dependency of edgesynth
        raise NotAvailableError("librosa is needed to compute the mel filter bank") from exc
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=float(fp.get("fmin", 0.0) or 0.0),
                                fmax=fp.get("fmax"), htk=bool(fp.get("htk", False)),
                                norm=fp.get("mel_norm", "slaney"), dtype=np.float32)
    starts, lens, offs, weights = [], [], [], []
    for row in basis:
        nz = np.flatnonzero(row)
        a, b = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        starts.append(a)
        lens.append(b - a)
        offs.append(sum(lens[:-1]))
        weights.extend(row[a:b].tolist())
    if not weights:
        weights = [0.0]
    idx_t = "uint16_t" if len(weights) < 65536 else "uint32_t"
    eps = float(fp.get("eps", 2.220446049250313e-16))
    subs = {
        "FFT": _fft_text(n_fft, front.n_channels, magnitude=power == 1.0),
        "HOP_LENGTH": str(hop), "N_FRAMES": str(n_frames), "N_MELS": str(n_mels),
        "EPS": _cf(eps), "DB_GAIN": _cf(20.0 / power),
        "MEL_START": _c_array("static ", "uint16_t", "es_mel_start", starts, per_line=16),
        "MEL_LEN": _c_array("static ", "uint16_t", "es_mel_len", lens, per_line=16),
        "MEL_OFFSET": _c_array("static ", idx_t, "es_mel_offset", offs, per_line=12),
        "MEL_W": _c_array("static ", "float", "es_mel_w", np.asarray(weights, np.float32), fmt=_cf, per_line=6),
        "NAME": name, "UNAME": uname,
    }
    text = _fill((TEMPLATES / "standalone_logmel.c").read_text(encoding="utf-8"), subs)
    call = f"    (void){name}_features(window, es_feat);\n"
    doc = f"compute the {n_mels}-mel x {n_frames}-frame log-mel features ({name}_features), "
    return text + "\n", call, doc


def spectrum_band_edges(window_length: int, n_bands: int) -> np.ndarray:
    """Band edges of ``FeaturePipeline(kind="spectrum")``: band ``b`` averages the amplitude bins
    ``edges[b] + 1 .. edges[b + 1]`` (bin 0, DC, is dropped).

    >>> spectrum_band_edges(16, 4).tolist()
    [0, 2, 4, 6, 8]
    """
    return np.linspace(0, window_length // 2, n_bands + 1).round().astype(np.int64)


def _spectrum_text(front: FrontEnd, n: int, *, name: str, uname: str) -> tuple[str, str, str]:
    """(C text of the band-spectrum front end, the call in NAME_score, header doc)."""
    fp = front.features
    try:
        n_bands = int(fp["n_bands"])
        db = bool(fp.get("db", True))
        eps = float(fp.get("eps", 2.220446049250313e-16))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"spectrum feature parameters incomplete or invalid: {exc!r}. Expected "
                             "FeaturePipeline.to_dict() with n_bands (and db, eps)") from exc
    L = front.window_length
    _check_fft_size(L, "band-spectrum (window_length)")
    if n_bands < 1 or n_bands > L // 2:
        raise ParameterError(f"`n_bands` must be between 1 and window_length / 2 = {L // 2}. "
                             f"Received: n_bands={n_bands}")
    if n != n_bands * front.n_channels:
        raise ExportError(f"the model input size {n} differs from n_bands * n_channels = "
                          f"{n_bands * front.n_channels}")
    edges = spectrum_band_edges(L, n_bands)
    if np.any(np.diff(edges) < 1):  # cannot happen for n_bands <= L / 2; guard the division
        raise ExportError(f"empty spectrum band for window_length={L}, n_bands={n_bands}")
    k = np.arange(L, dtype=np.float64)
    hann = (0.5 - 0.5 * np.cos(2.0 * np.pi * k / L)).astype(np.float32)
    amp = np.float32(2.0) / hann.sum(dtype=np.float32)
    subs = {
        "FFT": _fft_text(L, front.n_channels, magnitude=True),
        "N_BANDS": str(n_bands), "EPS": _cf(eps), "AMP": _cf(amp),
        "BAND_EDGES": _c_array("static ", "uint16_t", "es_band_edge", edges, per_line=16),
        "BAND_EXPR": "20.0f * log10f(acc + ES_EPS)" if db else "acc",
        "BAND_DOC": "20 * log10(band + eps)" if db else "kept linear (db=False)",
        "NAME": name, "UNAME": uname,
    }
    text = _fill((TEMPLATES / "standalone_spectrum.c").read_text(encoding="utf-8"), subs)
    call = f"    (void){name}_features(window, es_feat);\n"
    doc = f"compute the {n_bands}-band amplitude spectrum ({'dB' if db else 'linear'}) per channel ({name}_features), "
    return text + "\n", call, doc


# --------------------------------------------------------------------------- public entry point
def standalone_sources(tflite_bytes: bytes, config: Any, *, name: str, features: Any = None) -> dict[str, str]:
    """``{"NAME.h": text, "NAME.c": text}`` for an int8 model (pure; see :func:`emit_standalone`)."""
    from edgesynth.validation import check_c_identifier

    name = check_c_identifier(name, "name")
    net = _layers_from_tflite(bytes(tflite_bytes))
    front = _read_config(config, net.input.size, features)
    return render_standalone(net, front, name=name)


def emit_standalone(tflite_bytes: bytes, config: Any, out_dir, *, name: str, features: Any = None) -> list[Path]:
    """Write ``out_dir/NAME.h`` and ``out_dir/NAME.c``: the model as dependency-free C99.

    Parameters
    ----------
    tflite_bytes : bytes
        Fully int8 ``.tflite`` model (int8 or float input/output; QUANTIZE/DEQUANTIZE at the
        edges are folded into the float front end).
    config : dict or FirmwareConfig-like
        ``mean``, ``scale``, ``threshold``, ``window_length``, ``n_channels`` and optionally
        ``features`` (see the module docstring).
    out_dir : path-like
        Folder to write into (created if needed). Files are written atomically.
    name : str
        C identifier prefixing every public symbol (``NAME_score``, ``NAME_infer_int8``,
        ``NAME_THRESHOLD``...).
    features : dict or FeaturePipeline, optional
        The feature pipeline (``manifest["features"]``), overriding ``config``'s; needed with a
        :class:`~firmware_export.tflm.FirmwareConfig` whose ``feature_kind`` is ``logmel`` or
        ``spectrum`` (it does not carry the pipeline's parameters).

    Returns
    -------
    paths : list of Path
        ``[out_dir/NAME.h, out_dir/NAME.c]``.

    Raises
    ------
    ExportError
        Bad ``name``, unsupported operator, non-sequential or float model.
    ParameterError
        Inconsistent ``config``.
    """
    from edgesynth.artifact import atomic_write_text

    files = standalone_sources(tflite_bytes, config, name=name, features=features)
    out_dir = Path(out_dir)
    return [atomic_write_text(out_dir / fn, text) for fn, text in files.items()]


__all__ = ["emit_standalone", "standalone_sources", "render_standalone", "quantize_multiplier",
           "activation_plan", "Network", "Layer", "QTensor", "FrontEnd"]
