"""Detection metrics, computed here and checked against scikit-learn in the tests.

* ``auc`` — area under the ROC curve (Mann-Whitney U with tied scores counted one half).
* ``pauc`` — partial AUC over false-positive rates ``[0, 0.1]`` as scikit-learn computes it
  (``roc_auc_score(y, s, max_fpr=0.1)``, McClish-standardized: 0.5 = chance, 1 = perfect);
* ``pauc_dcase`` — the same area divided by ``max_fpr`` (the DCASE 2020 Task 2 definition,
  :func:`partial_auc`); :func:`mcclish` converts it to the former.
* ``precision`` / ``recall`` / ``f1`` / ``fpr`` of ``score > threshold`` (anomaly = positive).

Examples
--------
>>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.4, 0.35, 0.8])
>>> roc_auc(y, s)
0.75
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_array, check_binary_labels

#: The DCASE / MLPerf Tiny pAUC range.
PAUC_MAX_FPR = 0.1


def _check(y, scores):
    s = check_array(scores, "scores", ndim=1, dtype=np.float64)
    y = check_binary_labels(y, len(s))
    return y, s


def roc_auc(y, scores) -> float:
    """ROC AUC of ``scores`` for labels ``y`` (1 = anomaly); needs both classes."""
    y, s = _check(y, scores)
    n_pos, n_neg = int(y.sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError(f"AUC needs both classes. Received {n_neg} normal and {n_pos} anomalous scores")
    ranks = rankdata(s)
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve_points(y, scores) -> tuple[np.ndarray, np.ndarray]:
    """ROC points ``(fpr, tpr)`` from (0, 0) to (1, 1), one per distinct score."""
    y, s = _check(y, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = np.cumsum(1 - y)[distinct]
    n_pos, n_neg = max(int(y.sum()), 1), max(int((y == 0).sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def partial_auc(y, scores, max_fpr: float = PAUC_MAX_FPR) -> float:
    """Area under the ROC curve for ``fpr <= max_fpr``, divided by ``max_fpr`` (in [0, 1])."""
    if not 0.0 < max_fpr <= 1.0:
        raise ParameterError(f"`max_fpr` must be in (0, 1]. Received: max_fpr={max_fpr}")
    roc_auc(y, scores)  # both classes present
    fpr, tpr = roc_curve_points(y, scores)
    stop = np.searchsorted(fpr, max_fpr, side="right")
    x, t = fpr[:stop], tpr[:stop]
    if stop < len(fpr) and x[-1] < max_fpr:  # interpolate the cut
        x0, x1, t0, t1 = fpr[stop - 1], fpr[stop], tpr[stop - 1], tpr[stop]
        x = np.r_[x, max_fpr]
        t = np.r_[t, t0 + (t1 - t0) * (max_fpr - x0) / (x1 - x0)]
    return float(np.trapezoid(t, x) / max_fpr)


def mcclish(pauc: float, max_fpr: float = PAUC_MAX_FPR) -> float:
    """Convert :func:`partial_auc` to scikit-learn's McClish-standardized partial AUC."""
    area = pauc * max_fpr
    lo, hi = max_fpr ** 2 / 2.0, max_fpr
    return float(0.5 * (1.0 + (area - lo) / (hi - lo)))


def evaluate_scores(y, scores, threshold: float, *, max_fpr: float = PAUC_MAX_FPR) -> dict:
    """All metrics of ``scores`` against ``y`` at ``threshold`` (flag = ``score > threshold``).

    Returns
    -------
    dict
        ``auc``, ``pauc`` (sklearn's standardized partial AUC), ``pauc_dcase`` (``None`` when only
        one class is present), ``precision``, ``recall``,
        ``f1``, ``fpr``, ``threshold``, ``n_normal``, ``n_anomaly``, ``tp``, ``fp``, ``fn``, ``tn``.
    """
    y, s = _check(y, scores)
    thr = float(threshold)
    if not np.isfinite(thr):
        raise ParameterError(f"`threshold` must be finite. Received: threshold={threshold!r}")
    pred = s > thr
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    both = tp + fn > 0 and fp + tn > 0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "auc": roc_auc(y, s) if both else None,
        "pauc": mcclish(partial_auc(y, s, max_fpr), max_fpr) if both else None,
        "pauc_dcase": partial_auc(y, s, max_fpr) if both else None,
        "pauc_max_fpr": max_fpr,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "threshold": thr,
        "n_normal": fp + tn,
        "n_anomaly": tp + fn,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }
