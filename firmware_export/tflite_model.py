"""A pure-Python reader for ``.tflite`` flatbuffers (no TensorFlow, no generated schema code).

:class:`TFLiteModel` gives the emitters (TFLM sources, standalone C) everything they need from a
model: operator names and versions, tensors with shape, dtype, quantization and constant data,
per-operator inputs/outputs and the builtin options of the common operators
(``FullyConnectedOptions``, ``Conv2DOptions``, ``ReshapeOptions``, ...).

The flatbuffer is parsed by hand with :mod:`struct`, with a bounds check on every offset, so a
corrupt or truncated file raises :class:`~edgesynth.errors.ModelError` naming the problem
instead of crashing (the C++ runtimes do not verify models; validate here before handing bytes
to them). Field slots and enums come from the TFLite schema (``schema.fbs``; the tables below
were generated from ``tflite_micro/tensorflow/lite/micro/python/schema_py_generated.py`` of
tflite-micro 0.dev20261023).

Example
-------
>>> m = TFLiteModel.from_file("../shared/reference_models/ad01_int8.tflite")  # doctest: +SKIP
>>> m.op_names  # doctest: +SKIP
['FULLY_CONNECTED']
>>> m.input_tensors[0].shape, m.input_tensors[0].quantization.scale  # doctest: +SKIP
((1, 640), array([0.391], dtype=float32))
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesynth.errors import ModelError

# --------------------------------------------------------------------------- schema enums
#: ``BuiltinOperator`` names, indexed by builtin code (schema.fbs, 210 codes).
BUILTIN_OPERATORS: tuple[str, ...] = tuple("""
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE
EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D
LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6
RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM
EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND
TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN
EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM
LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE
EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX
PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE
ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS
SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG
QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5
SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM
CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND
HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM
ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD
STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP
STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE
STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR
STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT STABLEHLO_SUBTRACT
STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT STABLEHLO_DYNAMIC_SLICE
STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL
STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT
STABLEHLO_CASE
""".split())

#: ``BuiltinOptions`` union member names, indexed by union type (0 = NONE).
BUILTIN_OPTIONS: tuple[str, ...] = tuple("""
NONE Conv2DOptions DepthwiseConv2DOptions ConcatEmbeddingsOptions LSHProjectionOptions
Pool2DOptions SVDFOptions RNNOptions FullyConnectedOptions SoftmaxOptions ConcatenationOptions
AddOptions L2NormOptions LocalResponseNormalizationOptions LSTMOptions ResizeBilinearOptions
CallOptions ReshapeOptions SkipGramOptions SpaceToDepthOptions EmbeddingLookupSparseOptions
MulOptions PadOptions GatherOptions BatchToSpaceNDOptions SpaceToBatchNDOptions TransposeOptions
ReducerOptions SubOptions DivOptions SqueezeOptions SequenceRNNOptions StridedSliceOptions
ExpOptions TopKV2Options SplitOptions LogSoftmaxOptions CastOptions DequantizeOptions
MaximumMinimumOptions ArgMaxOptions LessOptions NegOptions PadV2Options GreaterOptions
GreaterEqualOptions LessEqualOptions SelectOptions SliceOptions TransposeConvOptions
SparseToDenseOptions TileOptions ExpandDimsOptions EqualOptions NotEqualOptions ShapeOptions
PowOptions ArgMinOptions FakeQuantOptions PackOptions LogicalOrOptions OneHotOptions
LogicalAndOptions LogicalNotOptions UnpackOptions FloorDivOptions SquareOptions ZerosLikeOptions
FillOptions BidirectionalSequenceLSTMOptions BidirectionalSequenceRNNOptions
UnidirectionalSequenceLSTMOptions FloorModOptions RangeOptions ResizeNearestNeighborOptions
LeakyReluOptions SquaredDifferenceOptions MirrorPadOptions AbsOptions SplitVOptions UniqueOptions
ReverseV2Options AddNOptions GatherNdOptions CosOptions WhereOptions RankOptions
ReverseSequenceOptions MatrixDiagOptions QuantizeOptions MatrixSetDiagOptions HardSwishOptions
IfOptions WhileOptions DepthToSpaceOptions NonMaxSuppressionV4Options NonMaxSuppressionV5Options
ScatterNdOptions SelectV2Options DensifyOptions SegmentSumOptions BatchMatMulOptions CumsumOptions
CallOnceOptions BroadcastToOptions Rfft2dOptions Conv3DOptions HashtableOptions
HashtableFindOptions HashtableImportOptions HashtableSizeOptions VarHandleOptions
ReadVariableOptions AssignVariableOptions RandomOptions BucketizeOptions GeluOptions
DynamicUpdateSliceOptions UnsortedSegmentProdOptions UnsortedSegmentMaxOptions
UnsortedSegmentMinOptions UnsortedSegmentSumOptions ATan2Options SignOptions BitcastOptions
BitwiseXorOptions RightShiftOptions
""".split())

#: ``TensorType`` names, indexed by type code.
TENSOR_TYPES: tuple[str, ...] = tuple("""
FLOAT32 FLOAT16 INT32 UINT8 INT64 STRING BOOL INT16 COMPLEX64 INT8 FLOAT64 COMPLEX128 UINT64
RESOURCE VARIANT UINT32 UINT16 INT4 BFLOAT16 INT2 UINT4 FLOAT8_E4M3FN FLOAT8_E5M2
""".split())

#: numpy dtype of the tensor types whose constant data we decode.
NUMPY_DTYPES: dict[str, str] = {
    "FLOAT32": "<f4", "FLOAT16": "<f2", "FLOAT64": "<f8", "INT8": "i1", "UINT8": "u1",
    "INT16": "<i2", "UINT16": "<u2", "INT32": "<i4", "UINT32": "<u4", "INT64": "<i8",
    "UINT64": "<u8", "BOOL": "?",
}

#: ``ActivationFunctionType`` and ``Padding`` enums.
ACTIVATIONS: tuple[str, ...] = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
PADDINGS: tuple[str, ...] = ("SAME", "VALID")

# Builtin option tables we decode: field name -> (slot, kind, default). kind: b=int8, B=uint8,
# ?=bool, i=int32, f=float32, [i]=vector of int32; "act" and "pad" are int8 enums decoded to names.
_OPTION_FIELDS: dict[str, dict[str, tuple[int, str, Any]]] = {
    "FullyConnectedOptions": {
        "fused_activation_function": (0, "act", 0), "weights_format": (1, "b", 0),
        "keep_num_dims": (2, "?", False), "asymmetric_quantize_inputs": (3, "?", False),
        "quantized_bias_type": (4, "b", 0),
    },
    "Conv2DOptions": {
        "padding": (0, "pad", 0), "stride_w": (1, "i", 0), "stride_h": (2, "i", 0),
        "fused_activation_function": (3, "act", 0), "dilation_w_factor": (4, "i", 1),
        "dilation_h_factor": (5, "i", 1), "quantized_bias_type": (6, "b", 0),
    },
    "DepthwiseConv2DOptions": {
        "padding": (0, "pad", 0), "stride_w": (1, "i", 0), "stride_h": (2, "i", 0),
        "depth_multiplier": (3, "i", 0), "fused_activation_function": (4, "act", 0),
        "dilation_w_factor": (5, "i", 1), "dilation_h_factor": (6, "i", 1),
    },
    "TransposeConvOptions": {
        "padding": (0, "pad", 0), "stride_w": (1, "i", 0), "stride_h": (2, "i", 0),
        "fused_activation_function": (3, "act", 0), "quantized_bias_type": (4, "b", 0),
    },
    "Pool2DOptions": {
        "padding": (0, "pad", 0), "stride_w": (1, "i", 0), "stride_h": (2, "i", 0),
        "filter_width": (3, "i", 0), "filter_height": (4, "i", 0),
        "fused_activation_function": (5, "act", 0),
    },
    "ReshapeOptions": {"new_shape": (0, "[i]", None)},
    "SqueezeOptions": {"squeeze_dims": (0, "[i]", None)},
    "AddOptions": {"fused_activation_function": (0, "act", 0), "pot_scale_int16": (1, "?", True)},
    "SubOptions": {"fused_activation_function": (0, "act", 0), "pot_scale_int16": (1, "?", True)},
    "MulOptions": {"fused_activation_function": (0, "act", 0)},
    "ReducerOptions": {"keep_dims": (0, "?", False)},
    "SoftmaxOptions": {"beta": (0, "f", 0.0)},
    "ConcatenationOptions": {"axis": (0, "i", 0), "fused_activation_function": (1, "act", 0)},
    "LeakyReluOptions": {"alpha": (0, "f", 0.0)},
    "StridedSliceOptions": {
        "begin_mask": (0, "i", 0), "end_mask": (1, "i", 0), "ellipsis_mask": (2, "i", 0),
        "new_axis_mask": (3, "i", 0), "shrink_axis_mask": (4, "i", 0), "offset": (5, "?", False),
    },
    "GatherOptions": {"axis": (0, "i", 0), "batch_dims": (1, "i", 0)},
    "PackOptions": {"values_count": (0, "i", 0), "axis": (1, "i", 0)},
    "UnpackOptions": {"num": (0, "i", 0), "axis": (1, "i", 0)},
    "SplitOptions": {"num_splits": (0, "i", 0)},
    "ResizeNearestNeighborOptions": {"align_corners": (0, "?", False), "half_pixel_centers": (1, "?", False)},
    "ResizeBilinearOptions": {"align_corners": (2, "?", False), "half_pixel_centers": (3, "?", False)},
    "BatchMatMulOptions": {"adj_x": (0, "?", False), "adj_y": (1, "?", False),
                           "asymmetric_quantize_inputs": (2, "?", False)},
}

_SCALAR = {"b": ("<b", 1), "B": ("<B", 1), "?": ("<?", 1), "i": ("<i", 4), "I": ("<I", 4),
           "f": ("<f", 4), "q": ("<q", 8), "Q": ("<Q", 8), "act": ("<b", 1), "pad": ("<b", 1)}


# --------------------------------------------------------------------------- flatbuffer access
class _Buf:
    """Bounds-checked little-endian access to a flatbuffer."""

    def __init__(self, data: bytes):
        self.data = data
        self.n = len(data)

    def _need(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            raise ModelError(
                f"corrupt or truncated .tflite: {what} at byte {pos} (+{size}) lies outside the "
                f"{self.n}-byte file"
            )

    def scalar(self, pos: int, fmt: str, what: str = "field"):
        size = struct.calcsize(fmt)
        self._need(pos, size, what)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int, what: str) -> "_Table":
        soff = self.scalar(pos, "<i", f"{what} table")
        vt = pos - soff
        vt_len = self.scalar(vt, "<H", f"{what} vtable")
        obj_len = self.scalar(vt + 2, "<H", f"{what} vtable")
        if vt_len < 4 or vt_len % 2:
            raise ModelError(f"corrupt .tflite: {what} vtable at byte {vt} has invalid size {vt_len}")
        self._need(vt, vt_len, f"{what} vtable")
        self._need(pos, max(obj_len, 4), f"{what} table")
        return _Table(self, pos, vt, vt_len, obj_len, what)

    def deref(self, pos: int, what: str) -> int:
        return pos + self.scalar(pos, "<I", what)

    def vector(self, pos: int, what: str) -> tuple[int, int]:
        """(start, length) of the vector whose uoffset is stored at ``pos``."""
        start = self.deref(pos, what)
        n = self.scalar(start, "<I", f"{what} length")
        return start + 4, n


class _Table:
    def __init__(self, buf: _Buf, pos: int, vt: int, vt_len: int, obj_len: int, what: str):
        self.buf, self.pos, self.vt, self.vt_len, self.obj_len, self.what = buf, pos, vt, vt_len, obj_len, what

    def _field(self, slot: int) -> int | None:
        off = 4 + 2 * slot
        if off + 2 > self.vt_len:
            return None
        rel = self.buf.scalar(self.vt + off, "<H")
        if rel == 0:
            return None
        if rel >= max(self.obj_len, 4) + 0 and self.obj_len:
            raise ModelError(
                f"corrupt .tflite: {self.what} field {slot} offset {rel} exceeds its table size {self.obj_len}"
            )
        return self.pos + rel

    def scalar(self, slot: int, kind: str, default):
        p = self._field(slot)
        if p is None:
            return default
        return self.buf.scalar(p, _SCALAR[kind][0], f"{self.what} field {slot}")

    def table(self, slot: int, what: str) -> _Table | None:
        p = self._field(slot)
        return None if p is None else self.buf.table(self.buf.deref(p, what), what)

    def string(self, slot: int, what: str) -> str | None:
        p = self._field(slot)
        if p is None:
            return None
        start, n = self.buf.vector(p, what)
        self.buf._need(start, n, what)
        return self.buf.data[start:start + n].decode("utf-8", errors="replace")

    def vector_np(self, slot: int, dtype: str, what: str) -> np.ndarray | None:
        p = self._field(slot)
        if p is None:
            return None
        start, n = self.buf.vector(p, what)
        item = np.dtype(dtype).itemsize
        self.buf._need(start, n * item, what)
        return np.frombuffer(self.buf.data, dtype=dtype, count=n, offset=start).copy()

    def vector_bytes(self, slot: int, what: str) -> bytes | None:
        p = self._field(slot)
        if p is None:
            return None
        start, n = self.buf.vector(p, what)
        self.buf._need(start, n, what)
        return self.buf.data[start:start + n]

    def tables(self, slot: int, what: str) -> list[_Table]:
        p = self._field(slot)
        if p is None:
            return []
        start, n = self.buf.vector(p, what)
        self.buf._need(start, 4 * n, what)
        return [self.buf.table(self.buf.deref(start + 4 * i, what), f"{what}[{i}]") for i in range(n)]


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``.

    ``scale``/``zero_point`` have one entry per tensor, or one per channel along
    ``quantized_dimension`` (per-channel weights).
    """

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int = 0
    min: np.ndarray | None = None
    max: np.ndarray | None = None

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Tensor:
    """One tensor of a subgraph. ``data`` holds the constant contents (weights, biases, shapes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TensorType name: "INT8", "FLOAT32", ...
    buffer: int
    quantization: Quantization | None
    data: np.ndarray | None = None
    shape_signature: tuple[int, ...] | None = None
    is_variable: bool = False

    @property
    def numpy_dtype(self) -> np.dtype | None:
        code = NUMPY_DTYPES.get(self.dtype)
        return None if code is None else np.dtype(code)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class Operator:
    """One operator: its builtin name, tensor indices (-1 = optional input absent) and options."""

    index: int
    opcode_index: int
    name: str  # builtin name, e.g. "FULLY_CONNECTED", or "CUSTOM:<code>"
    builtin_code: int
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: str  # e.g. "FullyConnectedOptions", "NONE"
    options: dict[str, Any] = field(default_factory=dict)
    custom_code: str | None = None


@dataclass
class SubGraph:
    name: str
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: list[Operator]


@dataclass
class OperatorCode:
    builtin_code: int
    name: str
    version: int
    custom_code: str | None = None


class TFLiteModel:
    """A parsed ``.tflite`` model (see module docstring).

    Attributes
    ----------
    version : int
        Schema version (3).
    description : str
    operator_codes : list of OperatorCode
    subgraphs : list of SubGraph
    buffers : list of bytes
        Raw contents of every buffer (``b""`` for empty ones).
    data : bytes
        The original flatbuffer.
    """

    def __init__(self, data: bytes, version: int, description: str, operator_codes: list[OperatorCode],
                 subgraphs: list[SubGraph], buffers: list[bytes]):
        self.data = data
        self.version = version
        self.description = description
        self.operator_codes = operator_codes
        self.subgraphs = subgraphs
        self.buffers = buffers

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(cls, path: str | Path) -> "TFLiteModel":
        """Read and parse a ``.tflite`` file; :class:`ModelError` if missing or corrupt."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"TFLite model file {str(path)!r} does not exist")
        try:
            return cls.from_bytes(path.read_bytes())
        except ModelError as exc:
            raise ModelError(f"{str(path)!r}: {exc}") from exc

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> "TFLiteModel":
        """Parse a flatbuffer; :class:`ModelError` for anything that is not a readable ``.tflite``."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ModelError(f"a .tflite model must be bytes. Received: {type(data).__name__}")
        data = bytes(data)
        if len(data) < 16:
            raise ModelError(f"not a .tflite model: only {len(data)} bytes (truncated or empty)")
        if data[4:8] != b"TFL3":
            raise ModelError(
                f"not a .tflite model: flatbuffer identifier is {data[4:8]!r}, expected b'TFL3'"
            )
        try:
            return cls._parse(data)
        except ModelError:
            raise
        except (struct.error, ValueError, IndexError, OverflowError, RecursionError, MemoryError) as exc:
            raise ModelError(f"corrupt .tflite model: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def _parse(cls, data: bytes) -> "TFLiteModel":
        buf = _Buf(data)
        root = buf.table(buf.deref(0, "root"), "Model")
        version = root.scalar(0, "I", 0)
        codes = []
        for t in root.tables(1, "operator_codes"):
            dep = t.scalar(0, "b", 0)
            custom = t.string(1, "custom_code")
            ver = t.scalar(2, "i", 1)
            code = max(int(t.scalar(3, "i", 0)), int(dep))
            if code < 0 or code >= len(BUILTIN_OPERATORS):
                raise ModelError(f"unknown builtin operator code {code} in .tflite")
            name = BUILTIN_OPERATORS[code]
            if name == "CUSTOM":
                name = f"CUSTOM:{custom}"
            codes.append(OperatorCode(code, name, int(ver), custom))
        buffers = []
        for i, t in enumerate(root.tables(4, "buffers")):
            raw = t.vector_bytes(0, f"buffer {i} data")
            offset, size = t.scalar(1, "Q", 0), t.scalar(2, "Q", 0)
            if offset > 1:  # data stored after the flatbuffer (models > 2 GB layout)
                buf._need(offset, size, f"buffer {i} external data")
                raw = data[offset:offset + size]
            buffers.append(raw or b"")
        subgraphs = [cls._parse_subgraph(t, k, codes, buffers) for k, t in enumerate(root.tables(2, "subgraphs"))]
        if not subgraphs:
            raise ModelError("corrupt .tflite model: no subgraphs")
        return cls(data, int(version), root.string(3, "description") or "", codes, subgraphs, buffers)

    @staticmethod
    def _parse_subgraph(t: _Table, k: int, codes, buffers) -> SubGraph:
        tensors = []
        for i, tt in enumerate(t.tables(0, f"subgraph {k} tensors")):
            shape = tt.vector_np(0, "<i4", "tensor shape")
            type_code = tt.scalar(1, "b", 0)
            if not 0 <= type_code < len(TENSOR_TYPES):
                raise ModelError(f"corrupt .tflite: tensor {i} has unknown type code {type_code}")
            dtype = TENSOR_TYPES[type_code]
            bidx = tt.scalar(2, "I", 0)
            if bidx >= max(len(buffers), 1):
                raise ModelError(f"corrupt .tflite: tensor {i} refers to buffer {bidx}, model has {len(buffers)}")
            q = tt.table(4, "quantization")
            quant = None
            if q is not None:
                scale = q.vector_np(2, "<f4", "quantization scale")
                zp = q.vector_np(3, "<i8", "quantization zero_point")
                if scale is not None and scale.size:
                    quant = Quantization(
                        scale=scale,
                        zero_point=zp if zp is not None and zp.size else np.zeros_like(scale, dtype=np.int64),
                        quantized_dimension=int(q.scalar(6, "i", 0)),
                        min=q.vector_np(0, "<f4", "quantization min"),
                        max=q.vector_np(1, "<f4", "quantization max"),
                    )
            shape_t = tuple(int(s) for s in (shape if shape is not None else ()))
            sig = tt.vector_np(7, "<i4", "shape_signature")
            tensor = Tensor(
                index=i, name=tt.string(3, "tensor name") or "", shape=shape_t, dtype=dtype, buffer=int(bidx),
                quantization=quant, shape_signature=None if sig is None else tuple(int(s) for s in sig),
                is_variable=bool(tt.scalar(5, "?", False)),
            )
            raw = buffers[bidx] if bidx < len(buffers) else b""
            if raw:
                np_dtype = tensor.numpy_dtype
                if np_dtype is not None:
                    if any(s < 0 for s in shape_t) or len(raw) != tensor.size * np_dtype.itemsize:
                        raise ModelError(
                            f"corrupt .tflite: tensor {i} ({tensor.name!r}) shape {shape_t} {dtype} needs "
                            f"{tensor.size * np_dtype.itemsize} bytes but its buffer {bidx} holds {len(raw)}"
                        )
                    tensor.data = np.frombuffer(raw, dtype=np_dtype).reshape(shape_t).copy()
                else:
                    tensor.data = np.frombuffer(raw, dtype=np.uint8).copy()
            tensors.append(tensor)
        n = len(tensors)

        def idx(arr, what, allow_missing=False) -> tuple[int, ...]:
            out = tuple(int(v) for v in (arr if arr is not None else ()))
            for v in out:
                if not (0 <= v < n or (allow_missing and v == -1)):
                    raise ModelError(f"corrupt .tflite: {what} refers to tensor {v}; subgraph {k} has {n}")
            return out

        ops = []
        for j, ot in enumerate(t.tables(3, f"subgraph {k} operators")):
            oi = ot.scalar(0, "I", 0)
            if oi >= len(codes):
                raise ModelError(f"corrupt .tflite: operator {j} uses opcode {oi}; model has {len(codes)}")
            code = codes[oi]
            otype = ot.scalar(3, "B", 0)
            opt_name = BUILTIN_OPTIONS[otype] if otype < len(BUILTIN_OPTIONS) else f"UNKNOWN_{otype}"
            options: dict[str, Any] = {}
            spec = _OPTION_FIELDS.get(opt_name)
            if spec is not None:
                ot_opts = ot.table(4, opt_name)
                for fname, (slot, kind, default) in spec.items():
                    if kind == "[i]":
                        v = None if ot_opts is None else ot_opts.vector_np(slot, "<i4", fname)
                        options[fname] = None if v is None else tuple(int(x) for x in v)
                        continue
                    v = default if ot_opts is None else ot_opts.scalar(slot, kind, default)
                    if kind == "act":
                        v = ACTIVATIONS[v] if 0 <= v < len(ACTIVATIONS) else f"UNKNOWN_{v}"
                    elif kind == "pad":
                        v = PADDINGS[v] if 0 <= v < len(PADDINGS) else f"UNKNOWN_{v}"
                    elif kind == "f":
                        v = float(v)
                    elif kind == "?":
                        v = bool(v)
                    else:
                        v = int(v)
                    options[fname] = v
            ops.append(Operator(
                index=j, opcode_index=int(oi), name=code.name, builtin_code=code.builtin_code,
                version=code.version, inputs=idx(ot.vector_np(1, "<i4", "operator inputs"), f"operator {j} input", True),
                outputs=idx(ot.vector_np(2, "<i4", "operator outputs"), f"operator {j} output"),
                options_type=opt_name, options=options, custom_code=code.custom_code,
            ))
        return SubGraph(
            name=t.string(4, "subgraph name") or "",
            tensors=tensors,
            inputs=idx(t.vector_np(1, "<i4", "subgraph inputs"), "subgraph input"),
            outputs=idx(t.vector_np(2, "<i4", "subgraph outputs"), "subgraph output"),
            operators=ops,
        )

    # ------------------------------------------------------------------ convenience (subgraph 0)
    @property
    def main(self) -> SubGraph:
        return self.subgraphs[0]

    @property
    def tensors(self) -> list[Tensor]:
        return self.main.tensors

    @property
    def operators(self) -> list[Operator]:
        return self.main.operators

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.outputs]

    @property
    def op_names(self) -> list[str]:
        """Distinct operator names used by all subgraphs, in order of first use."""
        seen: dict[str, None] = {}
        for sg in self.subgraphs:
            for op in sg.operators:
                seen.setdefault(op.name, None)
        return list(seen)

    @property
    def builtin_op_names(self) -> list[str]:
        """Distinct builtin (non-custom) operator names, sorted (the op resolver's contents)."""
        return sorted(n for n in self.op_names if not n.startswith("CUSTOM"))

    @property
    def custom_op_names(self) -> list[str]:
        return sorted(n for n in self.op_names if n.startswith("CUSTOM"))

    @property
    def is_full_integer(self) -> bool:
        """True when every model input and output is int8 and no FLOAT32 tensor feeds an op."""
        io = self.input_tensors + self.output_tensors
        return bool(io) and all(t.dtype == "INT8" for t in io)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def n_params(self) -> int:
        """Number of constant (weight/bias) elements, excluding shape tensors of RESHAPE etc."""
        shape_inputs = {op.inputs[1] for sg in self.subgraphs for op in sg.operators
                        if op.name in ("RESHAPE", "EXPAND_DIMS", "PAD", "MEAN", "TRANSPOSE", "SQUEEZE")
                        and len(op.inputs) > 1}
        shape_inputs |= {op.inputs[0] for sg in self.subgraphs for op in sg.operators
                         if op.name == "TRANSPOSE_CONV" and op.inputs}
        return int(sum(t.size for t in self.tensors if t.is_constant and t.index not in shape_inputs))

    def macs(self) -> int:
        """Multiply-accumulates per inference of FULLY_CONNECTED/CONV_2D/DEPTHWISE/TRANSPOSE_CONV ops."""
        total = 0
        T = self.tensors
        for op in self.operators:
            if op.name == "FULLY_CONNECTED":
                w, out = T[op.inputs[1]], T[op.outputs[0]]
                total += out.size * w.shape[-1]
            elif op.name == "CONV_2D":
                w, out = T[op.inputs[1]], T[op.outputs[0]]
                total += out.size * int(np.prod(w.shape[1:]))
            elif op.name == "DEPTHWISE_CONV_2D":
                w, out = T[op.inputs[1]], T[op.outputs[0]]
                total += out.size * int(np.prod(w.shape[1:3]))
            elif op.name == "TRANSPOSE_CONV":
                w, x = T[op.inputs[1]], T[op.inputs[2]]
                total += x.size * int(np.prod(w.shape[:3]))
        return int(total)

    def summary(self) -> dict[str, Any]:
        """Plain-dict overview (JSON-serializable): ops, io shapes and quantization, sizes."""
        def io(t: Tensor) -> dict:
            q = t.quantization
            return {
                "name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                "scale": None if q is None else float(q.scale[0]),
                "zero_point": None if q is None else int(q.zero_point[0]),
            }
        return {
            "bytes": len(self.data), "sha256": self.sha256, "ops": self.op_names,
            "n_operators": sum(len(sg.operators) for sg in self.subgraphs),
            "inputs": [io(t) for t in self.input_tensors], "outputs": [io(t) for t in self.output_tensors],
            "params": self.n_params, "macs": self.macs(),
        }

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.dtype}{list(t.shape)}" for t in self.input_tensors)
        return f"TFLiteModel({len(self.data)} bytes, ops={self.op_names}, inputs=[{ins}])"


__all__ = [
    "TFLiteModel", "Tensor", "Operator", "SubGraph", "Quantization", "OperatorCode",
    "BUILTIN_OPERATORS", "BUILTIN_OPTIONS", "TENSOR_TYPES", "ACTIVATIONS", "PADDINGS",
]
