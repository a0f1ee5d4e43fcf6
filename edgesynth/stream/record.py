"""Recording raw stream samples with their timestamps, to CSV (as it goes) or .npz (on exit).

CSV
    A plain header CSV, ``t,<channel names>`` (``t,x,y,z`` or ``t,ch0,ch1,...``), one row per
    sample; ``t`` is the host arrival time in seconds since the stream opened (strictly
    increasing: the samples of one read are spread evenly since the previous read). Rows are
    kept in memory and appended as whole lines at least every ``flush_interval`` seconds (then
    flushed and fsynced), so a crash or Ctrl-C loses at most the last second and never leaves
    half a line. It loads back with
    ``edgesynth.data.load(path, time_column="t", window_length=L)``.
.npz
    Written atomically when the recorder closes: ``X`` (1, n_samples, n_channels) float32 (one
    recording, the shape the loaders take for ``.npz``), ``t`` (n_samples,) float64,
    ``channel_names`` and ``sr`` (Hz; absent when unknown).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgesynth.errors import ParameterError, StreamError

__all__ = ["Recorder", "read_recording"]


class Recorder:
    """Append samples to a recording file.

    Parameters
    ----------
    path : path-like
        ``*.csv`` or ``*.npz``.
    channel_names : list of str, optional
        Column names; default ``ch0, ch1, ...`` (decided at the first :meth:`write`).
    flush_interval : float
        Seconds between CSV writes to disk (at most this much is lost on a crash).
    clock : callable
        ``clock() -> seconds`` for the flush interval.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> p = Path(tempfile.mkdtemp()) / "rec.csv"
    >>> with Recorder(p, channel_names=["x", "y"]) as r:
    ...     r.write(np.array([0.0, 0.001]), np.array([[1.0, 2.0], [3.0, 4.5]]))
    >>> print(p.read_text(), end="")
    t,x,y
    0.000000000,1,2
    0.001000000,3,4.5
    """

    def __init__(
        self,
        path,
        *,
        channel_names: list[str] | None = None,
        flush_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".npz"):
            raise ParameterError(
                f"`record` must be a .csv or .npz file name. Received: record={str(path)!r}"
            )
        self.kind = suffix[1:]
        self.channel_names = list(channel_names) if channel_names else None
        self.flush_interval = float(flush_interval)
        self.clock = clock
        self.n_samples = 0
        self.sr: float | None = None
        self._pending: list[str] = []
        self._t: list[np.ndarray] = []
        self._x: list[np.ndarray] = []
        self._last_flush = clock()
        self._fh = None
        self._closed = False
        if self.kind == "csv":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "w", encoding="ascii", newline="\n")
            except OSError as exc:
                raise StreamError(f"cannot write the recording {str(self.path)!r}: {exc}") from exc

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, t, samples) -> None:
        """Add samples ``(n, n_channels)`` with timestamps ``t`` ``(n,)`` (seconds)."""
        x = np.asarray(samples, dtype=np.float32)
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or x.shape[0] != t.shape[0]:
            raise ParameterError(
                f"`samples` must be (n, n_channels) with n == len(t). Received: samples.shape={x.shape}, "
                f"len(t)={t.shape[0]}"
            )
        if x.shape[0] == 0:
            return
        if self.channel_names is None or len(self.channel_names) != x.shape[1]:
            if self.n_samples == 0:
                self.channel_names = [f"ch{i}" for i in range(x.shape[1])]
            else:
                raise ParameterError(
                    f"recording {str(self.path)!r} has {len(self.channel_names)} channels; "
                    f"received samples with {x.shape[1]}"
                )
        if self.kind == "csv":
            if self.n_samples == 0:
                self._pending.append(",".join(["t", *self.channel_names]) + "\n")
            fmt = "%.9f" + ",%.9g" * x.shape[1] + "\n"
            tl = t.tolist()
            self._pending.append("".join(fmt % (tl[i], *row) for i, row in enumerate(x.tolist())))
            if self.clock() - self._last_flush >= self.flush_interval:
                self.flush()
        else:
            self._t.append(t.copy())
            self._x.append(x.copy())
        self.n_samples += x.shape[0]

    def flush(self) -> None:
        """Write the buffered CSV rows (whole lines only), flush and fsync."""
        self._last_flush = self.clock()
        if self._fh is None or not self._pending:
            return
        self._fh.write("".join(self._pending))
        self._pending.clear()
        self._fh.flush()
        try:
            os.fsync(self._fh.fileno())
        except OSError:  # pragma: no cover - e.g. a pipe
            pass

    def close(self, *, sr: float | None = None) -> Path:
        """Finish the file (CSV: last rows; npz: atomic write of everything). Idempotent."""
        if sr is not None:
            self.sr = float(sr)
        if self._closed:
            return self.path
        self._closed = True
        if self.kind == "csv":
            if self.n_samples == 0 and self.channel_names:
                self._pending.append(",".join(["t", *self.channel_names]) + "\n")
            self.flush()
            self._fh.close()
            return self.path
        from edgesynth.artifact import atomic_path

        n_ch = len(self.channel_names) if self.channel_names else 0
        x = np.concatenate(self._x) if self._x else np.empty((0, n_ch), np.float32)
        t = np.concatenate(self._t) if self._t else np.empty((0,), np.float64)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                arrays = {"X": x[None, :, :], "t": t,
                          "channel_names": np.asarray(self.channel_names or [], dtype=str)}
                if self.sr is not None:
                    arrays["sr"] = np.float64(self.sr)
                np.savez(fh, **arrays)
        return self.path


def read_recording(path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(t (n,), samples (n, n_channels) float32, channel_names)`` of a CSV or .npz recording.

    A minimal reader for tests and benchmarks; users load recordings with ``edgesynth.data.load``.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        with np.load(path) as z:
            return z["t"], z["X"][0].astype(np.float32), [str(c) for c in z["channel_names"]]
    with open(path, encoding="ascii") as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if data.size == 0:
        return np.empty(0), np.empty((0, len(header) - 1), np.float32), header[1:]
    return data[:, 0], data[:, 1:].astype(np.float32), header[1:]
