"""A sensor board without hardware: the built-in simulator's signal written to a serial port.

:class:`DeviceSimulator` writes samples at a given rate (paced by a clock) in the text or binary
format of :mod:`edgesynth.stream.framing`, to an existing port (any pyserial URL or device path)
or to a new pseudo-terminal (``pty=True``: :func:`os.openpty` in raw mode; readers open
:attr:`DeviceSimulator.path` like a USB serial device). It injects anomalies on a schedule
(recorded in :attr:`~DeviceSimulator.schedule` as sample index ranges, so tests can check
detection), can corrupt a fraction of the bytes, and can simulate an unplug/replug
(:meth:`~DeviceSimulator.reopen`: a new pty, with a stable symlink ``link`` like udev's
``/dev/serial/by-id/...``).

The signal comes from ``source``: any object with ``read(n, fault=None) -> (n, n_channels)`` and
``n_channels`` (optionally ``faults`` and ``channel_names``); by default the built-in
:class:`edgesynth.data.simulate.VibrationStream` (or ``EcgStream``), falling back to
:class:`SineSource` when that cannot run at the requested rate.
"""
from __future__ import annotations

import errno
import os
import select
import sys
import threading
import time
from typing import Callable

import numpy as np

from edgesynth.errors import ParameterError, StreamError
from edgesynth.stream.framing import encode_packet, encode_text_block

__all__ = ["DeviceSimulator", "SineSource", "simulate_device", "default_source"]


class SineSource:
    """Sines plus noise on ``n_channels`` axes; a fault adds a strong high-frequency burst.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_channels : int
    freq : float
        Base frequency in Hz (channel ``c`` uses ``freq * (1 + c / 2)``; capped below Nyquist).
    noise : float
        Standard deviation of the Gaussian noise.
    fault_gain : float
        Amplitude of the burst added during a fault.
    seed : int or None
    """

    faults = ("burst",)

    def __init__(self, sr: float = 1000.0, *, n_channels: int = 3, freq: float = 5.0, noise: float = 0.05,
                 fault_gain: float = 8.0, seed=0):
        self.sr = float(sr)
        self.n_channels = int(n_channels)
        self.channel_names = [f"ch{i}" for i in range(self.n_channels)]
        nyq = self.sr / 2
        self._freqs = np.minimum(freq * (1 + np.arange(self.n_channels) / 2), 0.45 * nyq)
        self.noise = float(noise)
        self.fault_gain = float(fault_gain)
        self._rng = np.random.default_rng(seed)
        self._i = 0

    def read(self, n: int, fault=None) -> np.ndarray:
        idx = np.arange(self._i, self._i + n, dtype=np.float64)[:, None]
        self._i += n
        x = np.sin(2 * np.pi * self._freqs[None, :] * idx / self.sr)
        x += self.noise * self._rng.standard_normal(x.shape)
        if fault is not None:
            sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
            x += self.fault_gain * sign
        return x.astype(np.float32)


def default_source(signal: str = "vibration", *, sr: float, seed=0):
    """The built-in simulator stream for ``signal`` in {"vibration", "ecg", "sine"} at ``sr`` Hz.

    Falls back to :class:`SineSource` when the simulator module is absent or cannot run at ``sr``
    (the vibration model needs ``sr`` above 16 x its ~25 Hz shaft frequency).
    """
    if signal not in ("vibration", "ecg", "sine"):
        raise ParameterError(f"`signal` must be 'vibration', 'ecg' or 'sine'. Received: signal={signal!r}")
    if signal != "sine":
        try:
            from edgesynth.data import simulate as _sim

            cls = _sim.VibrationStream if signal == "vibration" else _sim.EcgStream
            return cls(sr, seed=seed)
        except (ImportError, AttributeError, ValueError) as exc:
            sys.stderr.write(f"note: {signal} simulator unavailable at {sr:g} Hz ({exc}); using a sine source\n")
    return SineSource(sr, n_channels=1 if signal == "ecg" else 3, seed=seed)


class DeviceSimulator:
    """Write a simulated sensor stream to a port or a new pty.

    Parameters
    ----------
    port : str, optional
        pyserial URL or device path to write to. None with ``pty=True``.
    pty : bool
        Create a pseudo-terminal; its slave path is :attr:`path`.
    link : path-like, optional
        With ``pty``, keep a symlink at this path pointing at the current slave (updated by
        :meth:`reopen`).
    rate : float
        Samples per second.
    fmt : {"text", "binary"}
    dtype : {"float32", "int16"}
        Binary sample type; int16 values are ``round(value * int16_scale)``.
    anomaly_every : float, optional
        Seconds between anomaly starts (the first at ``anomaly_every``); None for none.
    anomaly_length : int, optional
        Samples per anomaly (default half a second, at most half the period).
    anomaly_kinds : sequence of str, optional
        Fault names passed to ``source.read`` in turn (default ``source.faults``).
    duration : float, optional
        Stop after ``duration * rate`` samples (default: until :meth:`stop` or Ctrl-C).
    corrupt : float
        Fraction of bytes replaced by a different random byte (in [0, 1]).
    seed : int or None
        Seeds the signal, the anomaly choice and the corruption.
    source : object, optional
        Signal source (see the module docstring); default :func:`default_source`.
    signal : {"vibration", "ecg", "sine"}
        Built-in source when ``source`` is None.
    paced : bool
        Pace writes by the clock; False writes as fast as the reader takes them.
    block : int, optional
        Samples per write (default: 10 ms worth, at least 1).
    packet_samples : int
        Samples per binary packet.
    keep_sent : bool
        Keep every sample fully written in :attr:`sent` (for tests: what the reader should see).
    keep_wire : bool
        Keep ``(clean, written)`` bytes of every block fully written in :attr:`wire` (for tests:
        which bytes the corruption hit).
    write_timeout : float
        Seconds to wait for a full port before dropping a block (a UART does not wait either).
    clock : callable
        ``clock() -> seconds`` used for pacing.
    out : text file, optional
        Where the pty path is printed (a line), or None.

    Attributes
    ----------
    path : str
        Port written to (the pty slave path with ``pty=True``).
    schedule : list of (start, end, kind)
        Injected anomalies as sample index ranges (end exclusive), in order.
    samples_written, bytes_written, corrupted_bytes, dropped_samples, reopens : int
    """

    def __init__(
        self,
        port: str | None = None,
        *,
        pty: bool = False,
        link=None,
        rate: float = 1000.0,
        fmt: str = "text",
        dtype: str = "float32",
        int16_scale: float = 1000.0,
        anomaly_every: float | None = None,
        anomaly_length: int | None = None,
        anomaly_kinds=None,
        duration: float | None = None,
        corrupt: float = 0.0,
        seed=0,
        source=None,
        signal: str = "vibration",
        paced: bool = True,
        block: int | None = None,
        packet_samples: int = 32,
        keep_sent: bool = False,
        keep_wire: bool = False,
        baud: int = 115200,
        write_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        out=None,
    ):
        if port is None and not pty:
            raise ParameterError("give a `port` to write to, or `pty=True` to create a pseudo-terminal")
        if port is not None and pty:
            raise ParameterError(f"give either `port` or `pty=True`, not both. Received: port={port!r}, pty=True")
        if not (isinstance(rate, (int, float)) and rate > 0 and np.isfinite(rate)):
            raise ParameterError(f"`rate` must be a positive number of Hz. Received: rate={rate!r}")
        if fmt not in ("text", "binary"):
            raise ParameterError(f"`format` must be 'text' or 'binary'. Received: format={fmt!r}")
        if dtype not in ("float32", "int16"):
            raise ParameterError(f"`dtype` must be 'float32' or 'int16'. Received: dtype={dtype!r}")
        if not (isinstance(corrupt, (int, float)) and 0.0 <= corrupt <= 1.0):
            raise ParameterError(f"`corrupt` must be a fraction in [0, 1]. Received: corrupt={corrupt!r}")
        if anomaly_every is not None and not (anomaly_every > 0):
            raise ParameterError(f"`anomaly_every` must be a positive number of seconds. Received: {anomaly_every!r}")
        if duration is not None and not (duration > 0):
            raise ParameterError(f"`duration` must be a positive number of seconds. Received: duration={duration!r}")
        self.port_url = port
        self.pty = bool(pty)
        self.link = None if link is None else os.fspath(link)
        self.rate = float(rate)
        self.fmt = fmt
        self.dtype = dtype
        self.int16_scale = float(int16_scale)
        self.duration = duration
        self.corrupt = float(corrupt)
        self.paced = bool(paced)
        self.block = int(block) if block else max(1, int(round(self.rate * 0.01)))
        self.packet_samples = int(packet_samples)
        self.keep_sent = bool(keep_sent)
        self.keep_wire = bool(keep_wire)
        self.baud = int(baud)
        self.write_timeout = float(write_timeout)
        self.clock = clock
        self.out = out
        ss = np.random.SeedSequence(seed)
        sig_seed, rng_seed = ss.spawn(2)
        self._rng = np.random.default_rng(rng_seed)
        self.source = source if source is not None else default_source(
            signal, sr=self.rate, seed=int(sig_seed.generate_state(1)[0]))
        self.n_channels = int(getattr(self.source, "n_channels", 0) or self.source.read(1).shape[1])
        kinds = anomaly_kinds if anomaly_kinds is not None else getattr(self.source, "faults", None) or ("burst",)
        self.anomaly_kinds = tuple(kinds)
        self.period = None if anomaly_every is None else max(1, int(round(anomaly_every * self.rate)))
        if anomaly_length is None and self.period is not None:
            anomaly_length = max(1, min(int(round(0.5 * self.rate)), self.period // 2))
        self.anomaly_length = anomaly_length
        self.schedule: list[tuple[int, int, str]] = []
        self.sent: list[np.ndarray] = []
        self.wire: list[tuple[bytes, bytes]] = []
        self.samples_written = 0
        self.bytes_written = 0
        self.corrupted_bytes = 0
        self.dropped_samples = 0
        self.reopens = 0
        self.path: str | None = None
        self._seq = 0
        self._cursor = 0  # next sample index generate() returns
        self._ahead = np.empty((0, self.n_channels), np.float32)  # generated, not yet returned
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self._serial = None

    # ------------------------------------------------------------------ port handling
    def open(self) -> "DeviceSimulator":
        """Open the port or create the pty (prints the pty path to ``out``)."""
        with self._lock:
            if self.pty:
                self._open_pty()
                if self.out is not None:
                    self.out.write(f"{self.path}\n")
                    self.out.flush()
            elif self._serial is None:
                import serial

                try:
                    self._serial = serial.serial_for_url(
                        self.port_url, baudrate=self.baud, write_timeout=self.write_timeout)
                except (OSError, ValueError) as exc:
                    raise StreamError(f"cannot open serial port {self.port_url!r}: {exc}") from exc
                self.path = self.port_url
        return self

    def _open_pty(self) -> None:
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link is not None:
            tmp = f"{self.link}.tmp-{os.getpid()}"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def reopen(self) -> str:
        """Simulate unplugging and replugging: close the pty and create a new one (new path,
        ``link`` updated). Readers of the old path see the port vanish. Returns the new path."""
        if not self.pty:
            raise ParameterError("`reopen` needs a simulator created with pty=True")
        with self._lock:
            # the new pty and the link exist before the old one closes: a reader that sees the
            # old port vanish and reopens ``link`` finds the new port, never a recycled pts number
            old = (self._master, self._slave)
            self._open_pty()
            for fd in old:
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.reopens += 1
            return self.path

    def close(self) -> None:
        with self._lock:
            self._close_pty()
            if self._serial is not None:
                try:
                    self._serial.close()
                finally:
                    self._serial = None
            if self.link is not None and os.path.islink(self.link):
                os.unlink(self.link)

    def __enter__(self) -> "DeviceSimulator":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current block."""
        self._stop.set()

    # ------------------------------------------------------------------ signal
    def _fault_at(self, i: int) -> tuple[int, str | None]:
        """(samples until the fault state changes, fault kind or None) at sample index ``i``."""
        if self.period is None:
            return 1 << 62, None
        k = i // self.period
        pos = i - k * self.period
        if k >= 1 and pos < self.anomaly_length:
            kind = self.anomaly_kinds[(k - 1) % len(self.anomaly_kinds)]
            if not self.schedule or self.schedule[-1][0] != k * self.period:
                self.schedule.append((k * self.period, k * self.period + self.anomaly_length, kind))
            return self.anomaly_length - pos, kind
        return self.period - pos, None

    def generate(self, i0: int, n: int) -> np.ndarray:
        """Samples ``i0 .. i0 + n`` of the stream, with the scheduled faults, ``(n, n_channels)``.

        Calls must follow each other (``i0`` is where the previous call ended). Each injected
        anomaly is read from the source in one piece, so a fault's parameters (spike positions,
        dropout span, imbalance ramp, clipping level) span the whole anomaly whatever the block
        size the samples are written in.
        """
        if i0 != self._cursor:
            raise ParameterError(
                f"`generate` continues the stream at sample {self._cursor}. Received: i0={i0}"
            )
        while len(self._ahead) < n:
            i = self._cursor + len(self._ahead)
            run, kind = self._fault_at(i)
            m = run if kind is not None else min(run, n - len(self._ahead))
            x = np.asarray(self.source.read(m, fault=kind), dtype=np.float32).reshape(m, -1)
            self._ahead = x if not len(self._ahead) else np.concatenate([self._ahead, x])
        out, self._ahead = self._ahead[:n], self._ahead[n:]
        self._cursor += n
        return out

    def encode(self, x: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Wire bytes for samples ``x`` and the values a reader decodes from them."""
        if self.fmt == "text":
            data = encode_text_block(x)
            seen = np.asarray(data.replace(b"\n", b",")[:-1].split(b","), dtype=np.float64)
            return data, seen.astype(np.float32).reshape(x.shape)
        if self.dtype == "int16":
            x = np.clip(np.rint(np.asarray(x, np.float64) * self.int16_scale), -32768, 32767)
        out = []
        for s in range(0, len(x), self.packet_samples):
            out.append(encode_packet(self._seq, x[s:s + self.packet_samples], self.dtype))
            self._seq = (self._seq + 1) & 0xFFFF
        return b"".join(out), np.asarray(x, dtype=np.float32)

    def _corrupt(self, data: bytes) -> bytes:
        if self.corrupt <= 0 or not data:
            return data
        arr = np.frombuffer(data, dtype=np.uint8).copy()
        hit = self._rng.random(arr.size) < self.corrupt
        nh = int(hit.sum())
        if nh:
            arr[hit] ^= self._rng.integers(1, 256, nh, dtype=np.uint8)
            self.corrupted_bytes += nh
        return arr.tobytes()

    # ------------------------------------------------------------------ writing
    def _write(self, data: bytes) -> bool:
        """Write all of ``data``; False when the port stayed full for ``write_timeout``."""
        view = memoryview(data)
        give_up = time.monotonic() + self.write_timeout
        while view.nbytes:
            with self._lock:
                if self.pty:
                    fd = self._master
                    if fd is None:
                        return False
                    try:
                        n = os.write(fd, view)
                    except BlockingIOError:
                        n = 0
                    except OSError as exc:
                        if exc.errno in (errno.EIO, errno.EBADF):
                            return False
                        raise StreamError(f"writing to the pty {self.path!r} failed: {exc}") from exc
                else:
                    import serial

                    try:
                        n = self._serial.write(bytes(view))
                    except serial.SerialTimeoutException:
                        return False
                    except (OSError, ValueError) as exc:
                        raise StreamError(f"writing to {self.port_url!r} failed: {exc}") from exc
            self.bytes_written += n
            view = view[n:]
            if view.nbytes:
                if self._stop.is_set() or time.monotonic() > give_up:
                    return False
                with self._lock:
                    fd = self._master
                if fd is not None:
                    try:
                        select.select([], [fd], [], 0.02)
                    except (OSError, ValueError):
                        pass  # closed by reopen(); the next loop picks up the new fd
                else:
                    time.sleep(0.02)
        return True

    def run(self) -> dict:
        """Write until ``duration`` or :meth:`stop` (Ctrl-C also stops cleanly); returns a report."""
        if self.path is None:
            self.open()
        total = None if self.duration is None else max(1, int(round(self.duration * self.rate)))
        start = self.clock()
        produced = 0
        try:
            while not self._stop.is_set():
                if total is not None and produced >= total:
                    break
                if self.paced:
                    due = start + produced / self.rate
                    wait = due - self.clock()
                    if wait > 0:
                        if self._stop.wait(wait):
                            break
                    elif wait < -0.25:  # stalled (full port): resume at the rate, no burst
                        start -= wait
                n = self.block if total is None else min(self.block, total - produced)
                x = self.generate(produced, n)
                data, seen = self.encode(x)
                written = self._corrupt(data)
                ok = self._write(written)
                if ok:
                    self.samples_written += n
                    if self.keep_sent:
                        self.sent.append(seen)
                    if self.keep_wire:
                        self.wire.append((data, written))
                else:
                    self.dropped_samples += n
                produced += n
        except KeyboardInterrupt:
            pass
        return self.report()

    def report(self) -> dict:
        return {
            "path": self.path,
            "samples": self.samples_written,
            "bytes": self.bytes_written,
            "corrupted_bytes": self.corrupted_bytes,
            "dropped_samples": self.dropped_samples,
            "anomalies": [list(a) for a in self.schedule],
            "reopens": self.reopens,
        }

    def sent_samples(self) -> np.ndarray:
        """Everything fully written so far (needs ``keep_sent=True``), ``(n, n_channels)`` float32."""
        if not self.sent:
            return np.empty((0, self.n_channels), np.float32)
        return np.concatenate(self.sent)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (opens first, so :attr:`path` is ready); returns the thread."""
        if self.path is None:
            self.open()
        th = threading.Thread(target=self.run, name="edgesynth-device-simulator", daemon=True)
        th.start()
        return th


def simulate_device(
    port: str | None = None,
    *,
    pty: bool = False,
    rate: float = 1000.0,
    fmt: str = "text",
    anomaly_every: float | None = None,
    duration: float | None = None,
    corrupt: float = 0.0,
    seed=0,
    source=None,
    signal: str = "vibration",
    out="stdout",
    **kwargs,
) -> dict:
    """Act as a sensor board until ``duration`` (or Ctrl-C); what ``edgesynth simulate-device`` runs.

    ``port`` is a pyserial URL or device path; with ``port=None`` (or ``port="pty"``) a new
    pseudo-terminal is created and its path printed to ``out`` (``"stdout"``: ``sys.stdout`` at
    call time; None: not printed). Other keywords go to :class:`DeviceSimulator`. Returns
    :meth:`DeviceSimulator.report`.
    """
    if out == "stdout":
        out = sys.stdout
    if port == "pty":
        port, pty = None, True
    if port is None:
        pty = True
    sim = DeviceSimulator(port, pty=pty, rate=rate, fmt=fmt, anomaly_every=anomaly_every, duration=duration,
                          corrupt=corrupt, seed=seed, source=source, signal=signal, out=out, **kwargs)
    with sim:
        return sim.run()
