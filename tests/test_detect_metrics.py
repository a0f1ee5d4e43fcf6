"""Metrics and thresholds against independent implementations (scikit-learn, brute force)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from edgesynth.detect.metrics import evaluate_scores, mcclish, partial_auc, roc_auc
from edgesynth.detect.thresholds import (
    calibrate_threshold,
    threshold_at_fpr,
    threshold_max_f1,
    threshold_percentile,
)
from edgesynth.errors import DataError, ParameterError


def _data(rng, n=300, ties=False):
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    s = rng.normal(size=n) + 1.2 * y
    if ties:
        s = np.round(s, 1)
    return y, s


@pytest.mark.parametrize("ties", [False, True])
def test_auc_and_pauc_agree_with_sklearn(rng, ties):
    y, s = _data(rng, ties=ties)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    for max_fpr in (0.05, 0.1, 0.5, 1.0):
        ours = partial_auc(y, s, max_fpr)
        if max_fpr == 1.0:
            assert ours == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        else:
            assert mcclish(ours, max_fpr) == pytest.approx(roc_auc_score(y, s, max_fpr=max_fpr), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-5, 5)), min_size=2, max_size=60))
def test_auc_matches_sklearn_on_arbitrary_tied_scores(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        with pytest.raises(DataError, match="both classes"):
            roc_auc(y, s)
        return
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert mcclish(partial_auc(y, s, 0.1), 0.1) == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-9)


def test_threshold_metrics_agree_with_sklearn(rng):
    y, s = _data(rng)
    thr = float(np.median(s))
    m = evaluate_scores(y, s, thr)
    pred = (s > thr).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert m["pauc"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-9)
    assert mcclish(m["pauc_dcase"]) == pytest.approx(m["pauc"], abs=1e-12)
    assert m["n_normal"] == int((y == 0).sum()) and m["n_anomaly"] == int(y.sum())
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == len(y)


def test_one_class_gives_no_auc_but_still_fpr(rng):
    s = rng.normal(size=50)
    m = evaluate_scores(np.zeros(50, int), s, 0.0)
    assert m["auc"] is None and m["pauc"] is None and m["pauc_dcase"] is None
    assert m["fpr"] == pytest.approx(np.mean(s > 0))


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.05, 0.1, 0.33])
def test_threshold_at_fpr_achieves_target_on_calibration_data(rng, fpr):
    s = rng.gamma(2.0, size=997)
    thr = threshold_at_fpr(s, fpr)
    achieved = np.mean(s > thr)
    assert achieved <= fpr + 1e-12
    assert achieved >= fpr - 1.0 / len(s)  # and it is the tightest such threshold (no ties)


def test_threshold_at_fpr_with_ties_never_exceeds_target():
    s = np.array([1.0] * 50 + [2.0] * 50)
    assert np.mean(s > threshold_at_fpr(s, 0.1)) <= 0.1


def test_threshold_max_f1_is_the_brute_force_optimum(rng):
    y, s = _data(rng, n=120, ties=True)
    thr = threshold_max_f1(s, y)
    best = max(f1_score(y, (s > t).astype(int)) for t in np.r_[np.unique(s), s.min() - 1])
    assert f1_score(y, (s > thr).astype(int)) == pytest.approx(best)


def test_threshold_percentile_and_dispatch(rng):
    s = rng.normal(size=200)
    assert threshold_percentile(s, 90) == pytest.approx(np.percentile(s, 90))
    assert calibrate_threshold(s, method="percentile", target_fpr=0.1) == pytest.approx(np.percentile(s, 90))
    with pytest.raises(DataError, match="at least one anomaly"):
        calibrate_threshold(s, method="f1")
    with pytest.raises(ParameterError, match="`threshold` must be one of"):
        calibrate_threshold(s, method="otsu")


def test_bad_inputs_raise_clearly():
    with pytest.raises(DataError, match="NaN"):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ParameterError, match=r"`y` must have shape \(3,\)"):
        evaluate_scores([0, 1], [0.1, 0.2, 0.3], 0.1)
    with pytest.raises(DataError, match="0 \\(normal\\) or 1"):
        roc_auc([0, 2], [0.1, 0.2])


def test_gamma_threshold_recovers_true_quantile_and_resists_one_outlier(rng):
    from scipy import stats

    from edgesynth.detect.thresholds import MIN_EXCEEDANCES, threshold_gamma

    s = rng.gamma(3.0, 0.2, size=5000)
    assert threshold_gamma(s, 0.01) == pytest.approx(stats.gamma.ppf(0.99, 3.0, scale=0.2), rel=0.05)
    few = np.r_[rng.gamma(3.0, 0.2, size=34), 50.0]  # 35 normals, one odd calibration window
    assert threshold_at_fpr(few, 0.01) == 50.0  # the empirical tail is the outlier itself
    assert 35 * 0.01 < MIN_EXCEEDANCES
    thr = calibrate_threshold(few, method="fpr", target_fpr=0.01)
    assert thr == pytest.approx(threshold_gamma(few, 0.01)) and thr < 50.0
    # with enough normals the empirical quantile is used and achieves the target exactly
    assert calibrate_threshold(s, method="fpr", target_fpr=0.01) == threshold_at_fpr(s, 0.01)
