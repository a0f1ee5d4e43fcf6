"""Run int8 ``.tflite`` models on the host with the real runtimes: LiteRT and TFLM.

Both runners share one interface::

    runner.input_details   # {"shape", "dtype", "scale", "zero_point"}
    runner.invoke_int8(Xq) # (n, d) int8 -> (n, d_out) int8, one inference per row
    runner.predict(X)      # float (n, d) -> quantize -> invoke -> dequantize -> float (n, d_out)

:class:`LiteRTRunner` uses LiteRT's built-in kernels without the default delegates
(``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``). Its int8 outputs equal the TFLM
interpreter's (the reference kernels a microcontroller without CMSIS-NN runs) except on exact
rounding ties: LiteRT's optimized FULLY_CONNECTED / TRANSPOSE_CONV round a requantization tie
differently, so about 0.1 % of a layer's outputs differ by one step (``BUILTIN_REF`` is no
better). Scores in edgesynth always come from TFLM; LiteRT is the independent cross-check.

Quantization (:func:`quantize_array`) follows TFLite/TFLM's ``AffineQuantize`` exactly:
``q = clamp(round(x / scale) + zero_point, -128, 127)`` with float32 arithmetic and rounding
half *away from zero* (C's ``roundf``), so Python, the QUANTIZE kernel and the generated
firmware (``roundf(x / scale)``) produce the same int8 values.

Tensor arena
------------
:func:`find_min_arena` bisects over the arena size that TFLM accepts (allocate *and* invoke);
the ``RecordingMicroAllocator`` printout under-reports it (for the MLPerf Tiny ad01 model the
printout says ~3,976-3,984 B, 4,096 B fails, the smallest working arena is 4,632 B).
:func:`recommended_arena` adds :data:`ARENA_MARGIN_FRACTION` (10 %) and rounds up to
:data:`ARENA_ALIGN` (16 B), so 90 % of the recommended arena is below the measured minimum for
any model whose minimum exceeds ~1.4 KB. The margin covers the arena's own alignment on the device
(up to 15 B lost when the array is not 16-byte aligned) and small allocator differences between
TFLM versions. It does *not* cover optimized kernels (CMSIS-NN) that request extra scratch
buffers: measure again on the target if you enable them.
"""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

from edgesynth.errors import ModelError, ParameterError
from edgesynth.validation import check_features

#: Safety margin added to the measured minimum arena (fraction of it).
ARENA_MARGIN_FRACTION = 0.10
#: Arena sizes are rounded up to this many bytes.
ARENA_ALIGN = 16


# --------------------------------------------------------------------------- (de)quantization
def quantize_array(x, scale: float, zero_point: int) -> np.ndarray:
    """Quantize float values to int8 exactly like TFLite's ``AffineQuantize``.

    ``q = clamp(round_half_away_from_zero(float32(x) / float32(scale)) + zero_point, -128, 127)``

    Parameters
    ----------
    x : np.ndarray [shape=(...)]
        Float values (normalized features).
    scale : float
        Input scale (> 0).
    zero_point : int
        Input zero point.

    Returns
    -------
    np.ndarray [shape=(...), dtype=int8]

    Examples
    --------
    >>> quantize_array([0.5, -0.5, 1.5, 100.0], 1.0, 0)
    array([  1,  -1,   2, 100], dtype=int8)
    >>> quantize_array([1e9, -1e9], 0.1, 3)
    array([ 127, -128], dtype=int8)
    """
    scale = np.float32(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ParameterError(f"`scale` must be a positive finite number. Received: scale={scale!r}")
    v = np.asarray(x, dtype=np.float32) / scale
    r = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))  # roundf: half away from zero
    r = np.clip(r.astype(np.float64) + int(zero_point), -128, 127)
    return r.astype(np.int8)


def dequantize_array(q, scale: float, zero_point: int) -> np.ndarray:
    """``float32(scale) * (q - zero_point)`` as float32 (TFLite's ``Dequantize``).

    >>> dequantize_array(np.array([0, 10], np.int8), 0.5, 2)
    array([-1.,  4.], dtype=float32)
    """
    q = np.asarray(q)
    return (np.float32(scale) * (q.astype(np.int32) - int(zero_point)).astype(np.float32)).astype(np.float32)


# --------------------------------------------------------------------------- validation
def validate_tflite(tflite_bytes: Any, *, what: str = "tflite_bytes", require_int8: bool = True):
    """Parse ``tflite_bytes`` with the pure-Python reader before a C++ runtime sees it.

    Returns the :class:`~firmware_export.tflite_model.TFLiteModel`. Raises :class:`ModelError`
    for non-bytes, a wrong flatbuffer identifier (not ``TFL3``), truncated/corrupt data, and,
    with ``require_int8``, a model whose input or output is not int8 (float-only or hybrid).
    """
    from firmware_export.tflite_model import TFLiteModel

    try:
        model = TFLiteModel.from_bytes(tflite_bytes)
    except ModelError as exc:
        raise ModelError(f"`{what}` is not a usable .tflite model: {exc}") from exc
    if len(model.input_tensors) != 1 or len(model.output_tensors) != 1:
        raise ModelError(
            f"`{what}` must have exactly one input and one output tensor. Received: "
            f"{len(model.input_tensors)} inputs, {len(model.output_tensors)} outputs"
        )
    if require_int8 and not model.is_full_integer:
        kinds = [t.dtype for t in model.input_tensors + model.output_tensors]
        raise ModelError(
            f"`{what}` is not a full-integer int8 model (input/output types {kinds}); a float-only "
            "model cannot run on the int8 runtimes. Quantize it first with "
            "edgesynth.deploy.quantize.quantize(model, X_rep, method='ptq')."
        )
    for t in model.input_tensors + model.output_tensors:
        if require_int8 and (t.quantization is None or t.quantization.scale.size != 1):
            raise ModelError(f"`{what}`: tensor {t.name!r} has no per-tensor quantization parameters")
    return model


def _details(t) -> dict:
    q = t.quantization
    return {
        "name": t.name,
        "shape": tuple(t.shape),
        "dtype": np.int8 if t.dtype == "INT8" else t.numpy_dtype,
        "scale": float(q.scale[0]) if q is not None else 0.0,
        "zero_point": int(q.zero_point[0]) if q is not None else 0,
    }


class _Runner:
    """Shared parts: details, input checks, predict."""

    def __init__(self, tflite_bytes):
        self.model = validate_tflite(tflite_bytes)
        self.tflite_bytes = bytes(tflite_bytes)
        self.input_details = _details(self.model.input_tensors[0])
        self.output_details = _details(self.model.output_tensors[0])
        self.n_features_in = int(np.prod(self.input_details["shape"][1:] or (1,)))
        self.n_features_out = int(np.prod(self.output_details["shape"][1:] or (1,)))
        if self.input_details["shape"] and self.input_details["shape"][0] != 1:
            raise ModelError(
                f"model input must have batch 1 (TFLM runs one window at a time). "
                f"Received input shape {self.input_details['shape']}"
            )

    def _check_q(self, Xq) -> np.ndarray:
        Xq = np.asarray(Xq)
        if Xq.dtype != np.int8:
            raise ParameterError(
                f"`Xq` must be int8 (use quantize_array or predict). Received: Xq.dtype={Xq.dtype}"
            )
        if Xq.ndim != 2 or Xq.shape[1] != self.n_features_in:
            raise ParameterError(
                f"`Xq` must have shape (n, {self.n_features_in}). Received: Xq.shape={Xq.shape}"
            )
        return Xq

    def invoke_int8(self, Xq) -> np.ndarray:
        """Run one inference per row.

        Parameters
        ----------
        Xq : np.ndarray [shape=(n, d), dtype=int8]

        Returns
        -------
        np.ndarray [shape=(n, d_out), dtype=int8]
        """
        Xq = self._check_q(Xq)
        out = np.empty((Xq.shape[0], self.n_features_out), dtype=np.int8)
        shape = self.input_details["shape"]
        for i in range(Xq.shape[0]):
            out[i] = self._invoke_one(Xq[i].reshape(shape)).reshape(-1)
        return out

    def quantize_input(self, X) -> np.ndarray:
        """Float features ``(n, d)`` -> int8 model input ``(n, d)``."""
        X = check_features(X, n_features=self.n_features_in)
        return quantize_array(X, self.input_details["scale"], self.input_details["zero_point"])

    def predict(self, X) -> np.ndarray:
        """Dequantized reconstruction ``(n, d_out)`` float32 of float features ``X`` ``(n, d)``."""
        Y = self.invoke_int8(self.quantize_input(X))
        return dequantize_array(Y, self.output_details["scale"], self.output_details["zero_point"])


class LiteRTRunner(_Runner):
    """LiteRT (``ai_edge_litert``) interpreter, no default delegates (equal to TFLM up to tie rounding).

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer int8 ``.tflite`` model (batch 1).
    """

    def __init__(self, tflite_bytes):
        super().__init__(tflite_bytes)
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        try:
            self._interp = Interpreter(
                model_content=self.tflite_bytes,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot load the model: {exc}") from exc
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]

    def _invoke_one(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out)

    def ops(self) -> list[str]:
        """Operator names as LiteRT sees them (one per operator, in execution order)."""
        return [d["op_name"] for d in self._interp._get_ops_details()]


# The tflite-micro wheel's Python wrapper is not robust on failure paths: for some too-small
# arenas it segfaults ("All temp buffers must be freed ...") instead of raising RuntimeError.
# Arena probes therefore run in a worker subprocess; a crashed worker means "too small" and is
# restarted. The worker's stderr (TFLM's allocation printouts) goes to /dev/null.
_PROBE_SRC = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
zero = np.zeros(tuple(int(s) for s in sys.argv[2].split(",")), dtype=np.int8)
for line in sys.stdin:
    try:
        interp = runtime.Interpreter.from_bytes(data, arena_size=int(line))
        interp.set_input(zero, 0)
        interp.invoke()
        ok = 1
    except RuntimeError:
        ok = 0
    sys.stdout.write(f"{ok}\n")
    sys.stdout.flush()
"""


class _ArenaProbe:
    """A subprocess that answers "does TFLM allocate and invoke with N bytes?" (crash-safe)."""

    def __init__(self, data: bytes, input_shape: tuple[int, ...]):
        fd, self._path = tempfile.mkstemp(prefix="edgesynth-arena-", suffix=".tflite")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        self._shape = ",".join(str(int(s)) for s in input_shape) or "1"
        self._proc = None
        self.crashes = 0

    def _start(self):
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _PROBE_SRC, self._path, self._shape],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )

    def works(self, arena_size: int) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        try:
            self._proc.stdin.write(f"{int(arena_size)}\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:  # the worker crashed on a too-small arena
            self._stop()
            self.crashes += 1
            return False
        if line.strip() not in ("0", "1"):
            raise ModelError(f"arena probe returned unexpected output {line!r}")
        return line.strip() == "1"

    def _stop(self):
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()
        proc.wait()
        proc.stdout.close()

    def close(self):
        self._stop()
        with contextlib.suppress(OSError):
            os.unlink(self._path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tflm_interpreter(data: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=int(arena_size))


def arena_works(tflite_bytes, arena_size: int) -> bool:
    """True when TFLM allocates and invokes the model with ``arena_size`` bytes (crash-safe probe)."""
    model = validate_tflite(tflite_bytes)
    with _ArenaProbe(bytes(tflite_bytes), model.input_tensors[0].shape) as probe:
        return probe.works(int(arena_size))


def find_min_arena(tflite_bytes, *, lo: int = 256, hi: int = 1 << 20) -> int:
    """Smallest tensor arena (bytes) with which TFLM allocates *and* invokes the model.

    Bisection over ``[lo, hi]`` (about 20 probes): TFLM raises ``RuntimeError`` ("failed to
    allocate tensors") when the arena is too small. Probes run in a worker subprocess because
    the wheel's wrapper sometimes segfaults instead of raising; a crash counts as "too small".
    The result is exact to the byte for the installed TFLM (reference kernels). The host wrapper
    uses a ``RecordingMicroAllocator``, slightly larger than the device's ``MicroAllocator``, so
    the host figure is conservative. See the module docstring for the margin to add.

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer int8 model.
    lo, hi : int
        Search bounds in bytes; :class:`ModelError` when even ``hi`` is not enough.

    Returns
    -------
    int
    """
    model = validate_tflite(tflite_bytes)
    lo, hi = int(lo), int(hi)
    if not 0 < lo < hi:
        raise ParameterError(f"need 0 < lo < hi. Received: lo={lo}, hi={hi}")
    with _ArenaProbe(bytes(tflite_bytes), model.input_tensors[0].shape) as probe:
        if not probe.works(hi):
            raise ModelError(
                f"TFLM cannot run the model even with a {hi}-byte arena (unsupported op or too "
                f"large); ops: {model.op_names}"
            )
        if probe.works(lo):
            return lo
        while hi - lo > 1:  # invariant: lo fails, hi works
            mid = (lo + hi) // 2
            if probe.works(mid):
                hi = mid
            else:
                lo = mid
    return hi


def recommended_arena(min_arena: int) -> int:
    """``min_arena`` plus :data:`ARENA_MARGIN_FRACTION`, rounded up to :data:`ARENA_ALIGN` bytes.

    >>> recommended_arena(4632)
    5104
    """
    raw = math.ceil(int(min_arena) * (1.0 + ARENA_MARGIN_FRACTION))
    return int(-(-raw // ARENA_ALIGN) * ARENA_ALIGN)


class TFLMRunner(_Runner):
    """TensorFlow Lite Micro interpreter (the ``tflite-micro`` wheel) on the host.

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer int8 ``.tflite`` model (batch 1).
    arena_size : int, optional
        Tensor arena bytes; default ``recommended_arena(find_min_arena(tflite_bytes))``.

    Attributes
    ----------
    arena_size : int
    min_arena : int or None
        Measured minimum (only when ``arena_size`` was not given).
    """

    def __init__(self, tflite_bytes, arena_size: int | None = None):
        super().__init__(tflite_bytes)
        self.min_arena = None
        if arena_size is None:
            self.min_arena = find_min_arena(self.tflite_bytes)
            arena_size = recommended_arena(self.min_arena)
        from edgesynth.validation import check_positive_int

        self.arena_size = check_positive_int(arena_size, "arena_size")
        if self.min_arena is None and not arena_works(self.tflite_bytes, self.arena_size):
            # checked in a subprocess first: a too-small arena may crash the wrapper in-process
            raise ModelError(
                f"TFLM cannot run the model in a {self.arena_size}-byte arena; use find_min_arena() "
                f"to measure the smallest arena. Received: arena_size={self.arena_size}"
            )
        try:
            self._interp = _tflm_interpreter(self.tflite_bytes, self.arena_size)
        except RuntimeError as exc:
            raise ModelError(
                f"TFLM cannot allocate the model in a {self.arena_size}-byte arena ({exc}); use "
                "find_min_arena() to measure the smallest arena"
            ) from exc
        self._dtype = np.int8

    def _invoke_one(self, x: np.ndarray) -> np.ndarray:
        try:
            self._interp.set_input(x, 0)
            self._interp.invoke()
        except RuntimeError as exc:
            raise ModelError(f"TFLM invoke failed (arena {self.arena_size} B): {exc}") from exc
        return self._interp.get_output(0)


__all__ = [
    "ARENA_MARGIN_FRACTION", "ARENA_ALIGN", "arena_works", "quantize_array", "dequantize_array", "validate_tflite",
    "LiteRTRunner", "TFLMRunner", "find_min_arena", "recommended_arena",
]
