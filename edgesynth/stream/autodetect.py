"""Detecting the axis count and the sampling rate of a stream, from data alone (no I/O).

The Edge Impulse data forwarder does the same with two known failures, fixed here:

* **Frequency one too high.** Counting the ``n + 1`` samples seen during a measuring interval and
  dividing by the time between the first and the last gives ``(n + 1) / T`` — but ``n + 1``
  samples span ``n`` sample periods. At 1 Hz over 2 s that reports 1.5 Hz. Here the rate is the
  least-squares slope of the cumulative sample count against arrival time, which for exact
  timing is ``n / T``; the offset (how many samples came in the first chunk) does not enter.
* **Failing at low rates.** A fixed short interval sees too few samples at 1 Hz. Here the
  measurement lasts *at least* ``interval`` seconds *and* at least ``min_intervals`` sample
  periods, so 1 Hz is measured correctly (it just takes a few seconds).

Both functions take plain arrays so they are tested without a serial port.

>>> t = [0.0, 1.0, 2.0, 3.0]          # one sample per second
>>> estimate_rate(t, [1, 1, 1, 1])
1.0
>>> detect_axis_count([2, 3, 3, 3, 2, 3])   # first line truncated, one bad line
3
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from edgesynth.errors import ParameterError

__all__ = ["detect_axis_count", "estimate_rate", "RateDetector"]


def detect_axis_count(field_counts, *, skip_first: bool = True) -> int:
    """Number of values per line: the most common field count (ties: the larger).

    Parameters
    ----------
    field_counts : sequence of int
        Fields per line, in arrival order.
    skip_first : bool
        Ignore the first line, which is usually truncated because the reader joined mid-line
        (unless it is the only line).
    """
    counts = [int(c) for c in field_counts if int(c) > 0]
    if skip_first and len(counts) > 1:
        counts = counts[1:]
    if not counts:
        raise ParameterError("`field_counts` must contain at least one non-empty line. Received: none")
    c = Counter(counts)
    best = max(c.values())
    return max(k for k, v in c.items() if v == best)


def estimate_rate(timestamps, counts) -> float | None:
    """Sampling rate (Hz) from chunk arrival times and the number of samples in each chunk.

    Parameters
    ----------
    timestamps : array-like [shape=(n_chunks,)]
        Arrival time (s) of each chunk, non-decreasing.
    counts : array-like [shape=(n_chunks,)]
        Samples completed by each chunk (chunks with 0 are ignored).

    Returns
    -------
    float or None
        The slope of the cumulative sample count over time (least squares), i.e. ``n / T`` for
        ``n + 1`` evenly spaced samples over ``T`` seconds; None when fewer than two chunks
        carried samples or no time passed.
    """
    t = np.asarray(timestamps, dtype=np.float64).ravel()
    c = np.asarray(counts, dtype=np.float64).ravel()
    if t.shape != c.shape:
        raise ParameterError(
            f"`timestamps` and `counts` must have the same length. Received: {t.size} and {c.size}"
        )
    keep = c > 0
    t, c = t[keep], c[keep]
    if t.size < 2 or t[-1] - t[0] <= 0:
        return None
    n = np.cumsum(c)
    if t.size == 2:
        return float((n[1] - n[0]) / (t[1] - t[0]))
    tc = t - t.mean()
    slope = float((tc * (n - n.mean())).sum() / (tc * tc).sum())
    return slope if slope > 0 else None


class RateDetector:
    """Measure the sampling rate over an interval of arriving chunks.

    Parameters
    ----------
    interval : float
        Minimum measuring time in seconds.
    min_intervals : int
        Minimum number of sample periods observed (chunks carrying samples minus one), so low
        rates are measured over enough samples.
    rate : float, optional
        A known rate (``--rate``): :attr:`done` at once and :attr:`rate` is this value.

    Examples
    --------
    >>> d = RateDetector(interval=2.0)
    >>> for k in range(4):
    ...     d.update(float(k), 1)
    >>> d.done, d.rate
    (True, 1.0)
    """

    def __init__(self, *, interval: float = 2.0, min_intervals: int = 2, rate: float | None = None):
        if rate is not None and not (float(rate) > 0):
            raise ParameterError(f"`rate` must be a positive number of Hz. Received: rate={rate!r}")
        self.interval = float(interval)
        self.min_intervals = int(min_intervals)
        self.override = None if rate is None else float(rate)
        self._t: list[float] = []
        self._c: list[int] = []
        self._rate: float | None = self.override

    @property
    def done(self) -> bool:
        return self._rate is not None and (self.override is not None or self._finished)

    _finished = False

    @property
    def rate(self) -> float | None:
        """The detected (or given) rate; a provisional estimate before :attr:`done`."""
        if self._rate is None and len(self._t) >= 2:
            return estimate_rate(self._t, self._c)
        return self._rate

    def update(self, t: float, count: int) -> None:
        """Record that ``count`` samples were completed by the chunk that arrived at time ``t``."""
        if self.override is not None or self._finished or count <= 0:
            return
        self._t.append(float(t))
        self._c.append(int(count))
        if len(self._t) - 1 >= self.min_intervals and self._t[-1] - self._t[0] >= self.interval:
            self._rate = estimate_rate(self._t, self._c)
            self._finished = self._rate is not None
