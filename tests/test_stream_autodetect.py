"""Axis count and sampling rate detection (no I/O: timestamps and counts in, numbers out)."""
from __future__ import annotations

import numpy as np
import pytest

from edgesynth.errors import ParameterError
from edgesynth.stream.autodetect import RateDetector, detect_axis_count, estimate_rate


def test_axis_count_ignores_a_truncated_first_line_and_takes_the_majority():
    assert detect_axis_count([1, 3, 3, 3]) == 3
    assert detect_axis_count([3, 2, 3, 3, 2]) == 3
    assert detect_axis_count([3, 2, 2, 2, 3]) == 2
    assert detect_axis_count([1]) == 1            # a single line is all there is
    assert detect_axis_count([3, 2, 2, 3, 3], skip_first=False) == 3
    assert detect_axis_count([1, 6, 3, 6, 3]) == 6   # a tie goes to the longer line
    with pytest.raises(ParameterError, match="field_counts"):
        detect_axis_count([0, 0])


@pytest.mark.parametrize("rate", [1.0, 2.0, 50.0, 100.0, 4000.0])
def test_rate_has_no_off_by_one(rate):
    n = int(max(3, 3 * rate))
    t = np.arange(n) / rate  # one sample per chunk, exact timing, 3 s
    assert estimate_rate(t, np.ones(n)) == pytest.approx(rate, rel=1e-9)
    # Edge Impulse's formula: samples counted / elapsed time
    naive = n / (t[-1] - t[0])
    assert naive == pytest.approx(rate * n / (n - 1), rel=1e-9)  # one sample too many


def test_rate_from_chunked_arrivals_with_jitter(rng):
    rate, n = 1000.0, 5000
    arrival = np.arange(n) / rate + rng.uniform(0, 0.002, n)  # up to 2 ms of latency
    arrival = np.maximum.accumulate(arrival)
    cuts = np.sort(rng.choice(np.arange(1, n), size=300, replace=False))
    last = np.r_[cuts, n] - 1                       # each chunk read after its last sample
    counts = np.diff(np.r_[0, cuts, n])
    assert estimate_rate(arrival[last], counts) == pytest.approx(rate, rel=2e-3)


def test_rate_ignores_empty_reads_and_needs_two_points():
    assert estimate_rate([0.0, 0.5, 1.0, 1.5], [1, 0, 1, 0]) == pytest.approx(1.0)
    assert estimate_rate([0.0], [5]) is None
    assert estimate_rate([1.0, 1.0], [5, 5]) is None
    with pytest.raises(ParameterError, match="same length"):
        estimate_rate([0.0, 1.0], [1])


def test_rate_detector_waits_for_enough_periods_at_low_rates():
    d = RateDetector(interval=2.0, min_intervals=3)
    for k, t in enumerate([0.0, 1.0, 2.0]):
        d.update(t, 1)
        assert not d.done
    d.update(3.0, 1)
    assert d.done and d.rate == pytest.approx(1.0)
    d.update(3.5, 100)  # measurement is over
    assert d.rate == pytest.approx(1.0)


def test_rate_detector_interval_matters():
    short, long = RateDetector(interval=0.5), RateDetector(interval=5.0)
    for k in range(4):
        short.update(k * 0.25, 1)
        long.update(k * 0.25, 1)
    assert short.done and not long.done
    assert long.rate == pytest.approx(4.0)  # provisional estimate


def test_rate_override():
    d = RateDetector(rate=250.0)
    assert d.done and d.rate == 250.0
    d.update(0.0, 10)
    d.update(1.0, 10)
    assert d.rate == 250.0
    with pytest.raises(ParameterError, match="rate"):
        RateDetector(rate=0)
