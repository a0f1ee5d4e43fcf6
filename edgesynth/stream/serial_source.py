"""A serial byte source that survives the port vanishing (USB unplug, pty closed).

Ports are opened with :func:`serial.serial_for_url`, so every pyserial URL works: device paths
(``/dev/ttyUSB0``, ``/dev/pts/7``, ``COM3``), ``loop://``, ``socket://host:port``,
``rfc2217://host:port``. When a read fails because the port went away, :class:`SerialSource`
closes it and reopens the same URL with exponential back-off, counting :attr:`reconnects`; after
``reconnect_timeout`` seconds without success it raises :class:`~edgesynth.errors.StreamError`.
The clock and the sleep function are injectable so the back-off is tested without sleeping.
"""
from __future__ import annotations

import time
from typing import Callable

from edgesynth.errors import ParameterError, StreamError

__all__ = ["SerialSource"]


def _default_opener(url: str, *, baudrate: int, timeout: float):
    import serial

    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout)


class SerialSource:
    """Read byte chunks from a pyserial URL, reconnecting when the port disappears.

    Parameters
    ----------
    url : str
        Anything :func:`serial.serial_for_url` accepts.
    baud : int
        Baud rate (ignored by ptys, ``loop://`` and sockets).
    timeout : float
        Seconds a :meth:`read` waits for the first byte before returning ``b""``.
    reconnect_timeout : float
        Give up (:class:`StreamError`) after this many seconds without reopening the port.
    backoff_initial, backoff_max : float
        First wait between reopen attempts, doubled after each failure up to ``backoff_max``.
    clock, sleep : callables
        ``clock() -> seconds`` and ``sleep(seconds)`` (tests inject fakes).
    opener : callable
        ``opener(url, baudrate=, timeout=) -> serial-like`` (default :func:`serial.serial_for_url`).

    Attributes
    ----------
    reconnects : int
        Successful reopenings after a failure.
    port : serial.SerialBase or None
        The open port.
    """

    def __init__(
        self,
        url: str,
        *,
        baud: int = 115200,
        timeout: float = 0.05,
        reconnect_timeout: float = 30.0,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        opener: Callable | None = None,
    ):
        if not isinstance(url, str) or not url:
            raise ParameterError(f"`port` must be a device path or a pyserial URL. Received: port={url!r}")
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise ParameterError(f"`baud` must be a positive integer. Received: baud={baud!r}")
        self.url = url
        self.baud = baud
        self.timeout = float(timeout)
        self.reconnect_timeout = float(reconnect_timeout)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self.clock = clock
        self.sleep = sleep
        self.opener = opener or _default_opener
        self.port = None
        self.reconnects = 0
        self.failures = 0          # read errors seen (each one triggers a reconnect)
        self.last_error: str | None = None

    # ------------------------------------------------------------------ open / close
    def _open_once(self):
        return self.opener(self.url, baudrate=self.baud, timeout=self.timeout)

    def open(self) -> "SerialSource":
        """Open the port; raises :class:`StreamError` naming the port when that fails."""
        if self.port is None:
            try:
                self.port = self._open_once()
            except (OSError, ValueError) as exc:  # SerialException derives from IOError
                raise StreamError(f"cannot open serial port {self.url!r}: {exc}") from exc
        return self

    def close(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - a vanished port may fail to close; nothing to do
                pass

    def __enter__(self) -> "SerialSource":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def read(self, size: int = 65536, *, deadline: float | None = None) -> bytes:
        """Up to ``size`` bytes: what is waiting, or after up to ``timeout`` s, possibly ``b""``.

        When the port fails, reconnects (see the class docstring) and returns ``b""`` once the
        port is back, so the caller can notice :attr:`reconnects` changed and resynchronize.
        With ``deadline`` (a :attr:`clock` time) reconnection stops early and ``b""`` is returned.
        """
        if self.port is None:
            if not self.failures:
                self.open()
            else:  # a reconnect was cut short by a deadline earlier
                self._reconnect(deadline)
                if self.port is None:
                    return b""
        try:
            waiting = int(self.port.in_waiting)
            if waiting:
                return self.port.read(min(waiting, size))
            data = self.port.read(1)  # wait up to `timeout` for the next byte
            if data and size > 1:
                more = int(self.port.in_waiting)
                if more:
                    data += self.port.read(min(more, size - 1))
            return data
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # SerialException (an IOError) for EIO / "returned no data"; TypeError/AttributeError
            # when pyserial's fd went away under it; ValueError on a closed file.
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.close()
            self._reconnect(deadline)
            return b""

    def _reconnect(self, deadline: float | None) -> None:
        start = self.clock()
        give_up = start + self.reconnect_timeout
        delay = self.backoff_initial
        while True:
            try:
                self.port = self._open_once()
                self.reconnects += 1
                return
            except (OSError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            now = self.clock()
            if deadline is not None and now + delay >= deadline:
                return  # the caller's stream is ending anyway; it will see port None
            if now >= give_up:
                raise StreamError(
                    f"serial port {self.url!r} disappeared and did not come back within "
                    f"{self.reconnect_timeout:g} s (last error: {self.last_error})"
                )
            self.sleep(min(delay, give_up - now))  # the last attempt is at the give-up time
            delay = min(delay * 2.0, self.backoff_max)

    def write(self, data: bytes) -> int:
        """Write to the port (used with ``loop://`` in tests and by the simulator)."""
        if self.port is None:
            self.open()
        return self.port.write(data)
