"""Turning a byte stream into sample rows: text lines and COBS-framed binary packets.

Pure code (no I/O, no TensorFlow): a *framer* is fed arbitrary byte chunks, exactly as they come
off a serial port, and returns the complete samples those bytes finished. The result never
depends on how the stream was split into chunks, and no byte sequence makes a framer raise.

Text (the Edge Impulse data-forwarder convention)
    One reading per line, values separated by ``,``, ``\\t`` or spaces, lines ended by ``\\n`` or
    ``\\r\\n``. A line of channel names (``x,y,z``) before the first sample is the header (repeats
    of it are ignored, other lines of words are bad frames); lines starting with ``#`` are
    comments. The first line of a stream is dropped unread, since the reader usually joins
    mid-line. Lines with a wrong number of fields, text that is not a number, ``nan``/``inf`` and
    values outside ``value_range`` are *bad frames*: counted and dropped.

Binary (for rates a text line cannot carry)
    Packets are COBS-encoded and end with a ``0x00`` delimiter. The decoded packet is::

        u16 seq | u8 dtype | u8 n_channels | samples (n, n_channels) | u16 crc
        little-endian                        little-endian, row-major  big-endian

    ``dtype`` is 1 for int16 and 2 for float32; ``crc`` is CRC-16/CCITT-FALSE (poly 0x1021,
    init 0xFFFF) over every byte before it. A packet that fails COBS, CRC or the layout is a bad
    frame; missing sequence numbers (mod 65536) count as lost frames.

Example
-------
>>> import numpy as np
>>> f = BinaryFramer()
>>> wire = encode_packet(0, np.ones((4, 3))) + encode_packet(2, np.zeros((4, 3)))
>>> f.feed(wire[:5]).shape, f.feed(wire[5:]).shape, f.lost_frames
((0, 0), (8, 3), 1)
>>> t = TextFramer(skip_first_line=False)
>>> t.feed(b"x,y\\n1,2\\n3,4\\n5\\n").tolist(), t.channel_names, t.bad_frames
([[1.0, 2.0], [3.0, 4.0]], ['x', 'y'], 1)
"""
from __future__ import annotations

import binascii
import re
import struct

import numpy as np

__all__ = [
    "TextFramer",
    "BinaryFramer",
    "make_framer",
    "detect_format",
    "crc16_ccitt_false",
    "cobs_encode",
    "cobs_decode",
    "encode_text_sample",
    "encode_text_block",
    "encode_packet",
    "decode_packet",
    "DTYPE_CODES",
]

DTYPE_CODES = {"int16": 1, "float32": 2}
_CODE_DTYPES = {1: np.dtype("<i2"), 2: np.dtype("<f4")}
_HEADER = struct.Struct("<HBB")
_CRC = struct.Struct(">H")
_MIN_PACKET = _HEADER.size + _CRC.size
_F32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------- CRC, COBS
def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    >>> hex(crc16_ccitt_false(b"123456789"))
    '0x29b1'
    """
    return binascii.crc_hqx(data, crc)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: ``data`` re-coded without any ``0x00`` byte.

    The delimiter is not appended. ``cobs_decode(cobs_encode(b)) == b`` for every ``b``.
    """
    out = bytearray()
    parts = bytes(data).split(b"\x00")
    last = len(parts) - 1
    for k, part in enumerate(parts):
        pos, n = 0, len(part)
        while n - pos >= 254:
            out.append(0xFF)
            out += part[pos:pos + 254]
            pos += 254
        rem = part[pos:]
        if rem or k < last or pos == 0:
            out.append(len(rem) + 1)
            out += rem
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of :func:`cobs_encode`; raises ``ValueError`` on a malformed encoding."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ValueError("COBS: zero byte inside a frame")
        j = i + code
        if j > n:
            raise ValueError("COBS: block runs past the end of the frame")
        block = data[i + 1:j]
        if 0 in block:
            raise ValueError("COBS: zero byte inside a frame")
        out += block
        if code < 0xFF and j < n:
            out.append(0)
        i = j
    return bytes(out)


# --------------------------------------------------------------------------- encoders
def encode_text_sample(values) -> bytes:
    """One text line (``b"0.5,-1.25,9.81\\n"``) for one sample; 7 significant digits."""
    return (",".join(f"{float(v):.7g}" for v in np.ravel(values)) + "\n").encode("ascii")


def encode_text_block(samples) -> bytes:
    """Text lines for ``samples`` ``(n, n_channels)`` (same formatting as :func:`encode_text_sample`)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    fmt = ",".join(["%.7g"] * samples.shape[1]) + "\n"
    return "".join(fmt % tuple(row) for row in samples.tolist()).encode("ascii")


def encode_packet(seq: int, samples, dtype: str = "float32") -> bytes:
    """One COBS-framed binary packet, delimiter included.

    Parameters
    ----------
    seq : int
        Sequence number (taken mod 65536).
    samples : np.ndarray [shape=(n, n_channels)]
        Values; for ``dtype="int16"`` they are rounded and clipped to the int16 range.
    dtype : {"float32", "int16"}
    """
    if dtype not in DTYPE_CODES:
        from edgesynth.errors import ParameterError

        raise ParameterError(f"`dtype` must be one of {sorted(DTYPE_CODES)}. Received: dtype={dtype!r}")
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[1] > 255 or arr.shape[1] < 1 or arr.shape[0] < 1:
        from edgesynth.errors import ParameterError

        raise ParameterError(
            f"`samples` must have shape (n >= 1, 1..255 channels). Received: samples.shape={arr.shape}"
        )
    if dtype == "int16":
        body = np.clip(np.rint(arr), -32768, 32767).astype("<i2").tobytes()
    else:
        body = arr.astype("<f4").tobytes()
    payload = _HEADER.pack(int(seq) & 0xFFFF, DTYPE_CODES[dtype], arr.shape[1]) + body
    payload += _CRC.pack(crc16_ccitt_false(payload))
    return cobs_encode(payload) + b"\x00"


def decode_packet(payload: bytes):
    """Parse one *COBS-decoded* packet; returns ``(seq, samples (n, n_channels) float32)`` or None."""
    if len(payload) < _MIN_PACKET or crc16_ccitt_false(payload) != 0:
        # crc over payload + big-endian crc is 0 exactly when the crc matches
        return None
    seq, code, n_ch = _HEADER.unpack_from(payload)
    dt = _CODE_DTYPES.get(code)
    if dt is None or n_ch == 0:
        return None
    body = payload[_HEADER.size:-_CRC.size]
    row = dt.itemsize * n_ch
    if not body or len(body) % row:
        return None
    samples = np.frombuffer(body, dtype=dt).reshape(-1, n_ch).astype(np.float32)
    return seq, samples


def detect_format(first_bytes: bytes) -> str:
    """``"text"`` or ``"binary"`` from the first bytes of a stream.

    Text never contains ``0x00`` and is nearly all printable ASCII; COBS packets end in ``0x00``
    and their sample bytes are mostly not printable.

    >>> detect_format(b"0.1,0.2\\n0.3,0.4\\n"), detect_format(encode_packet(0, [[1.0, 2.0]]))
    ('text', 'binary')
    """
    data = bytes(first_bytes)
    if not data:
        return "text"
    if b"\x00" in data:
        return "binary"
    printable = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    return "text" if printable >= 0.9 * len(data) else "binary"


# --------------------------------------------------------------------------- framers
class _Framer:
    """Counters and the empty result shared by both framers."""

    def __init__(self, n_channels: int | None, value_range):
        self.n_channels = None if n_channels is None else int(n_channels)
        self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        self.frames = 0          # valid frames (lines / packets) decoded
        self.samples = 0         # sample rows returned
        self.bad_frames = 0      # malformed, corrupt, wrong field count, non-finite, out of range
        self.lost_frames = 0     # binary: packets missing from the sequence numbers
        self.out_of_range = 0    # subset of bad_frames: values outside value_range
        self.skipped_bytes = 0   # bytes dropped while (re)synchronizing (not counted as bad)
        self.channel_names: list[str] | None = None
        self._buf = bytearray()

    def _empty(self) -> np.ndarray:
        return np.empty((0, self.n_channels or 0), dtype=np.float32)

    def _take_block(self, chunk: bytes, delimiter: bytes, limit: int) -> bytes | None:
        """Append ``chunk``; return the bytes up to the last ``delimiter`` (removed from the buffer).

        ``None`` when no frame is complete yet. A buffer that grows past ``limit`` without a
        delimiter is dropped (counted once as a bad frame unless it is the unread first frame)
        and the framer resynchronizes on the next delimiter.
        """
        self._buf += chunk
        end = self._buf.rfind(delimiter)
        if end < 0:
            if len(self._buf) > limit:
                if not self._overflow and not self._first:
                    self.bad_frames += 1
                self.skipped_bytes += len(self._buf)
                self._buf.clear()
                self._overflow = True
            return None
        block = bytes(self._buf[:end])
        del self._buf[:end + 1]
        return block

    def _check_values(self, rows: np.ndarray) -> bool:
        if not np.isfinite(rows).all():
            return False
        if self.value_range is not None:
            lo, hi = self.value_range
            if rows.min() < lo or rows.max() > hi:
                self.out_of_range += 1
                return False
        return True

    def counters(self) -> dict:
        return {
            "frames": self.frames,
            "samples": self.samples,
            "bad_frames": self.bad_frames,
            "lost_frames": self.lost_frames,
            "out_of_range": self.out_of_range,
            "skipped_bytes": self.skipped_bytes,
        }


_SPLIT = re.compile(rb"[,\s]+")
_NAME = re.compile(rb"^[A-Za-z_][A-Za-z0-9_.\-\[\]]*$")


class TextFramer(_Framer):
    """Lines of numbers -> sample rows.

    Parameters
    ----------
    n_channels : int, optional
        Expected fields per line; by default the majority over the first ``detect_lines`` data
        lines (:func:`edgesynth.stream.autodetect.detect_axis_count`).
    value_range : (float, float), optional
        Lines with a value outside ``[lo, hi]`` are bad frames (``out_of_range`` counts them too).
    skip_first_line : bool
        Drop the stream's first line unread (the reader usually joins mid-line). After
        :meth:`reset` the next line is always dropped.
    max_line : int
        Longer lines are bad frames (a stream without newlines cannot grow memory).
    detect_lines : int
        Data lines looked at before the axis count is decided.

    Attributes
    ----------
    frames, samples, bad_frames, out_of_range, comments, skipped_bytes : int
    channel_names : list of str or None
        From a header line.
    """

    format = "text"

    def __init__(
        self,
        *,
        n_channels: int | None = None,
        value_range=None,
        skip_first_line: bool = True,
        max_line: int = 4096,
        detect_lines: int = 8,
    ):
        super().__init__(n_channels, value_range)
        self.skip_first_line = bool(skip_first_line)
        self.max_line = int(max_line)
        self.detect_lines = int(detect_lines)
        self.comments = 0
        self._first = self.skip_first_line
        self._overflow = False
        self._pending: list[list[float]] = []  # parsed lines awaiting the axis-count decision

    def reset(self) -> None:
        """Forget a partial line (after a reconnect); the next line is dropped unread."""
        self.skipped_bytes += len(self._buf)
        self._buf.clear()
        self._first = True
        self._overflow = False

    def feed(self, chunk: bytes) -> np.ndarray:
        """Add bytes; return the samples completed by them, shape ``(n, n_channels)`` float32."""
        block = self._take_block(chunk, b"\n", self.max_line)
        if block is None:
            return self._empty()
        rows: list[list[float]] = []
        for line in block.split(b"\n"):
            if self._overflow:  # tail of an over-long line
                self._overflow = False
                self.skipped_bytes += len(line) + 1
                continue
            if self._first:
                self._first = False
                self.skipped_bytes += len(line) + 1
                continue
            self._line(line, rows)
        return self._emit(rows)

    def flush(self) -> np.ndarray:
        """At the end of a stream: decide the axis count from the lines seen so far."""
        if self.n_channels is None and self._pending:
            from edgesynth.stream.autodetect import detect_axis_count

            self.n_channels = detect_axis_count([len(r) for r in self._pending], skip_first=False)
            rows: list = []
            self._flush_pending(rows)
            return self._emit(rows)
        return self._empty()

    def _line(self, line: bytes, rows: list) -> None:
        line = line.strip()
        if not line:
            return
        if len(line) > self.max_line:
            self.bad_frames += 1
            return
        if line[:1] == b"#":
            self.comments += 1
            return
        fields = _SPLIT.split(line)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if all(_NAME.match(f) for f in fields):
                names = [f.decode("ascii") for f in fields]
                if names == self.channel_names:
                    return  # the header again (the device restarted)
                if (self.channel_names is None and self.frames == 0 and not rows and not self._pending
                        and (self.n_channels is None or len(fields) == self.n_channels)):
                    self.channel_names = names
                    if self.n_channels is None:
                        self.n_channels = len(fields)
                    return
            self.bad_frames += 1  # words that are not the header: a boot message, a log line
            return
        if self.n_channels is None:
            self._pending.append(values)
            if len(self._pending) >= self.detect_lines:
                from edgesynth.stream.autodetect import detect_axis_count

                self.n_channels = detect_axis_count([len(r) for r in self._pending], skip_first=False)
                self._flush_pending(rows)
            return
        self._accept(values, rows)

    def _flush_pending(self, rows: list) -> None:
        pending, self._pending = self._pending, []
        for values in pending:
            self._accept(values, rows)

    def _accept(self, values: list, rows: list) -> None:
        if len(values) != self.n_channels:
            self.bad_frames += 1
            return
        rows.append(values)  # values are checked for the whole block at once in _emit

    def _emit(self, rows: list) -> np.ndarray:
        if self.n_channels is None and self._pending:
            return np.empty((0, 0), dtype=np.float32)
        if not rows:
            return self._empty()
        arr = np.asarray(rows, dtype=np.float64)
        ok = np.isfinite(arr).all(axis=1)
        if self.value_range is not None:
            lo, hi = self.value_range
            inside = ((arr >= lo) & (arr <= hi)).all(axis=1)
            self.out_of_range += int((ok & ~inside).sum())
            ok &= inside
        ok &= (np.abs(arr) <= _F32_MAX).all(axis=1)  # would overflow to inf as float32
        n_ok = int(ok.sum())
        self.bad_frames += len(ok) - n_ok
        out = (arr if n_ok == len(ok) else arr[ok]).astype(np.float32)
        self.frames += n_ok
        self.samples += n_ok
        return out


class BinaryFramer(_Framer):
    """COBS packets -> sample rows (see the module docstring for the packet layout).

    Parameters
    ----------
    n_channels : int, optional
        Expected channels; by default the first valid packet decides. Packets with another
        channel count are bad frames.
    value_range : (float, float), optional
        Packets with a value outside ``[lo, hi]`` are bad frames.
    max_frame : int
        Longer runs without a delimiter are dropped as one bad frame.

    Attributes
    ----------
    frames : int
        Valid packets.
    lost_frames : int
        Packets missing from the sequence (gaps, mod 65536), including corrupt ones.
    bad_frames : int
        Frames that failed COBS, CRC, layout or value checks.
    """

    format = "binary"

    def __init__(self, *, n_channels: int | None = None, value_range=None, max_frame: int = 65536):
        super().__init__(n_channels, value_range)
        self.max_frame = int(max_frame)
        self._last_seq: int | None = None
        self._first = True
        self._overflow = False
        self.last_dtype: str | None = None

    def reset(self) -> None:
        """Forget a partial packet and the last sequence number (after a reconnect)."""
        self.skipped_bytes += len(self._buf)
        self._buf.clear()
        self._last_seq = None
        self._first = True
        self._overflow = False

    def feed(self, chunk: bytes) -> np.ndarray:
        """Add bytes; return the samples of the packets completed by them, ``(n, n_channels)``."""
        block = self._take_block(chunk, b"\x00", self.max_frame)
        if block is None:
            return self._empty()
        out: list[np.ndarray] = []
        for frame in block.split(b"\x00"):
            first, self._first = self._first, False
            if self._overflow:
                self._overflow = False
                self.skipped_bytes += len(frame) + 1
                continue
            if not frame:
                continue
            rows = self._frame(frame)
            if rows is None:
                if first:  # joined mid-packet: not the device's fault
                    self.skipped_bytes += len(frame) + 1
                else:
                    self.bad_frames += 1
            elif len(rows):
                out.append(rows)
        if not out:
            return self._empty()
        res = out[0] if len(out) == 1 else np.concatenate(out)
        self.samples += len(res)
        return res

    def _frame(self, frame: bytes):
        if len(frame) > self.max_frame:
            return None
        try:
            payload = cobs_decode(frame)
        except ValueError:
            return None
        parsed = decode_packet(payload)
        if parsed is None:
            return None
        seq, rows = parsed
        if self.n_channels is None:
            self.n_channels = rows.shape[1]
        elif rows.shape[1] != self.n_channels:  # intact packet, wrong layout: always bad
            self.bad_frames += 1
            return np.empty((0, self.n_channels), dtype=np.float32)
        if self._last_seq is not None:
            self.lost_frames += (seq - self._last_seq - 1) & 0xFFFF
        self._last_seq = seq
        self.last_dtype = "int16" if payload[2] == 1 else "float32"
        if not self._check_values(rows):
            self.bad_frames += 1
            return np.empty((0, self.n_channels), dtype=np.float32)
        self.frames += 1
        return rows


def make_framer(fmt: str, *, n_channels: int | None = None, value_range=None):
    """A :class:`TextFramer` or :class:`BinaryFramer` for ``fmt`` in {"text", "binary"}."""
    if fmt == "text":
        return TextFramer(n_channels=n_channels, value_range=value_range)
    if fmt == "binary":
        return BinaryFramer(n_channels=n_channels, value_range=value_range)
    from edgesynth.errors import ParameterError

    raise ParameterError(f"`fmt` must be 'text' or 'binary'. Received: fmt={fmt!r}")
