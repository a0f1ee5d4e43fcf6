"""Decision thresholds on anomaly scores (higher = more anomalous; a sample is flagged when
``score > threshold``).

Examples
--------
>>> s = np.arange(100, dtype=float)
>>> float(threshold_at_fpr(s, 0.05))   # 5 of 100 normal scores lie above it
94.0
>>> float(threshold_max_f1(np.array([0., 1., 2., 3.]), np.array([0, 0, 1, 1])))
1.0
"""
from __future__ import annotations

import numpy as np

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_array, check_binary_labels

METHODS = ("fpr", "f1", "percentile")
#: Below this many expected exceedances (``n_normal * target_fpr``) the empirical quantile is an
#: extreme-value estimate that one odd calibration window can move arbitrarily far; ``fpr``
#: calibration then uses a gamma fit of the normal scores instead (DCASE 2020 baseline style).
MIN_EXCEEDANCES = 5


def threshold_at_fpr(normal_scores, target_fpr: float = 0.01) -> float:
    """Smallest threshold that flags at most ``target_fpr`` of ``normal_scores``.

    With ``n`` normal scores, at most ``floor(target_fpr * n)`` of them are strictly above the
    returned value (fewer when scores tie), so the false-positive rate on these data is
    ``<= target_fpr``.
    """
    s = check_array(normal_scores, "normal_scores", ndim=1, dtype=np.float64)
    if not 0.0 <= target_fpr < 1.0:
        raise ParameterError(f"`target_fpr` must be in [0, 1). Received: target_fpr={target_fpr}")
    k = int(np.floor(target_fpr * len(s) + 1e-9))  # allowed false positives
    desc = np.sort(s)[::-1]
    return float(desc[min(k, len(s) - 1)])


def threshold_gamma(normal_scores, target_fpr: float = 0.01) -> float:
    """``1 - target_fpr`` quantile of a gamma distribution fitted to ``normal_scores`` (loc = 0).

    The DCASE 2020 Task 2 baseline's threshold: robust when there are too few normal scores for
    an empirical tail quantile (see :data:`MIN_EXCEEDANCES`).
    """
    from scipy import stats

    s = check_array(normal_scores, "normal_scores", ndim=1, dtype=np.float64, min_samples=2)
    if not 0.0 < target_fpr < 1.0:
        raise ParameterError(f"`target_fpr` must be in (0, 1). Received: target_fpr={target_fpr}")
    pos = np.maximum(s, np.finfo(np.float64).tiny)
    if np.ptp(pos) == 0:
        return float(pos[0])
    a, loc, scale = stats.gamma.fit(pos, floc=0.0)
    return float(stats.gamma.ppf(1.0 - target_fpr, a, loc=loc, scale=scale))


def threshold_percentile(normal_scores, q: float = 99.0) -> float:
    """The ``q``-th percentile of normal scores (numpy's linear interpolation)."""
    s = check_array(normal_scores, "normal_scores", ndim=1, dtype=np.float64)
    if not 0.0 <= q <= 100.0:
        raise ParameterError(f"`q` must be in [0, 100]. Received: q={q}")
    return float(np.percentile(s, q))


def threshold_max_f1(scores, y) -> float:
    """Threshold maximising F1 of ``score > threshold`` (anomaly = positive) on ``(scores, y)``.

    Candidates are every distinct score (flagging everything strictly above it) and a value just
    below the minimum (flag all). Ties in F1 go to the highest threshold (fewest alarms).
    """
    s = check_array(scores, "scores", ndim=1, dtype=np.float64)
    y = check_binary_labels(y, len(s))
    n_pos = int(y.sum())
    if n_pos == 0:
        raise DataError("threshold_max_f1 needs at least one anomaly (y == 1) among the scores")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    # flagging the top i+1 is only realisable at boundaries between distinct scores
    last_of_run = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    idx = np.flatnonzero(last_of_run)
    f1 = 2 * tp[idx] / (tp[idx] + fp[idx] + n_pos)
    best = idx[np.flatnonzero(f1 == f1.max())[0]]  # first = highest threshold among ties
    if best + 1 < len(s_sorted):
        return float(s_sorted[best + 1])  # flag everything strictly above the next score
    lo = s_sorted[-1]
    return float(np.nextafter(lo, -np.inf))


def calibrate_threshold(scores, y=None, *, method: str = "fpr", target_fpr: float = 0.01) -> float:
    """Dispatch to the threshold of ``method`` in :data:`METHODS` (``y`` = None means all normal).

    ``fpr``: :func:`threshold_at_fpr` on the normal scores, or :func:`threshold_gamma` when they
    are too few for the tail (``n_normal * target_fpr <`` :data:`MIN_EXCEEDANCES`); ``percentile``: the
    ``100 * (1 - target_fpr)``-th percentile of normal scores; ``f1``: :func:`threshold_max_f1`
    (needs anomalies in ``y``).
    """
    s = check_array(scores, "scores", ndim=1, dtype=np.float64)
    y = np.zeros(len(s), np.int8) if y is None else check_binary_labels(y, len(s))
    if method not in METHODS:
        raise ParameterError(f"`threshold` must be one of {METHODS}. Received: threshold={method!r}")
    normal = s[y == 0]
    if method == "f1":
        return threshold_max_f1(s, y)
    if normal.size == 0:
        raise DataError(f"threshold method {method!r} needs normal scores (y == 0); none given")
    if method == "fpr":
        if normal.size * target_fpr < MIN_EXCEEDANCES and normal.size >= 2:
            return threshold_gamma(normal, target_fpr)
        return threshold_at_fpr(normal, target_fpr)
    return threshold_percentile(normal, 100.0 * (1.0 - target_fpr))
