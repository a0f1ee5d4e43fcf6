"""Quality metrics on cases with known answers."""
import json

import numpy as np
import pytest

from edgesynth.errors import DataError, ParameterError
from edgesynth.synth import quality as Q


@pytest.fixture
def same(rng):
    return rng.normal(size=(300, 32, 2)), rng.normal(size=(300, 32, 2))


def test_identical_sets_mmd_zero_and_disc_near_zero(rng):
    a = rng.normal(size=(300, 32, 1))
    m = Q.mmd_rbf(a, a.copy(), n_permutations=50)
    assert m["mmd2"] == pytest.approx(0.0, abs=1e-9)
    assert m["p_value"] > 0.5
    assert Q.discriminative_score(a, a.copy(), seed=0) < 0.1


def test_same_distribution_is_indistinguishable(same):
    a, b = same
    assert Q.discriminative_score(a, b, seed=1) < 0.1
    assert Q.discriminative_score(a, b, classifier="forest", seed=1) < 0.12
    assert Q.mmd_rbf(a, b, n_permutations=100)["p_value"] > 0.05


def test_well_separated_sets_give_the_maximum(same):
    a, b = same
    b = b + 3.0
    assert Q.discriminative_score(a, b) == pytest.approx(0.5)
    assert Q.discriminative_score(a, b, classifier="forest") == pytest.approx(0.5)
    m = Q.mmd_rbf(a, b, n_permutations=100)
    assert m["mmd"] > 0.5
    assert m["p_value"] == pytest.approx(1 / 101)


def test_mmd_grows_with_shift(rng):
    a = rng.normal(size=(200, 8))
    vals = [Q.mmd_rbf(a, rng.normal(size=(200, 8)) + s, n_permutations=0)["mmd"] for s in (0.0, 0.5, 2.0)]
    assert vals[0] < vals[1] < vals[2]


def test_memorisation_flags_exact_copies(rng):
    train = rng.normal(size=(100, 20, 1))
    copies = train[:30] + 1e-6
    fresh = rng.normal(size=(30, 20, 1))
    m = Q.memorisation(np.concatenate([copies, fresh]), train)
    assert m["n_near_copies"] == 30
    assert m["near_copy_fraction"] == pytest.approx(0.5)
    assert Q.memorisation(fresh, train)["n_near_copies"] == 0
    assert Q.memorisation(fresh, train)["ratio"] == pytest.approx(1.0, abs=0.3)
    assert Q.memorisation(copies, train)["ratio"] < 1e-3


def test_marginal_and_spectral(rng):
    a = rng.normal(size=(100, 64, 2))
    t = np.arange(64)
    b = a.copy()
    b[:, :, 1] += 3 * np.sin(2 * np.pi * 0.25 * t)
    marg = Q.marginal_distances(a, b)
    assert marg[0]["wasserstein"] == pytest.approx(0.0, abs=1e-12) and marg[1]["ks"] > 0.1
    spec = Q.spectral_distance(a, b)
    assert spec[0]["psd_db"] == pytest.approx(0.0, abs=1e-9) and spec[1]["psd_db"] > 0.5
    assert Q.spectral_distance(a[:, :, 0], b[:, :, 0].copy()) is None  # 2-D = features


def test_tstr_separable(rng):
    normal, normal_test = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    anom_test = rng.normal(size=(100, 16)) + 2.0
    good = Q.tstr(normal, rng.normal(size=(100, 16)) + 2.0, normal_test, anom_test,
                  X_anomaly_train=rng.normal(size=(10, 16)) + 2.0)
    bad = Q.tstr(normal, rng.normal(size=(100, 16)) - 2.0, normal_test, anom_test)
    assert good["tstr_auc"] > 0.99 and good["trtr_auc"] > 0.99 and bad["tstr_auc"] < 0.1
    assert good["normal_only_auc"] > 0.9


def test_tstr_scaling_comes_from_real_normal_data_only(rng):
    """Changing the units of a channel (gain and offset) changes no AUC: the classifier's input
    scaling is fitted on the real normal training windows, per channel."""
    def data(gain, offset):
        r = np.random.default_rng(5)
        sets = [r.normal(size=(120, 16, 2)), r.normal(size=(80, 16, 2)) + 0.8, r.normal(size=(100, 16, 2)),
                r.normal(size=(60, 16, 2)) + 0.8, r.normal(size=(10, 16, 2)) + 0.8]
        return [s * gain + offset for s in sets]

    a = Q.tstr(*data(1.0, 0.0)[:4], X_anomaly_train=data(1.0, 0.0)[4])
    b = Q.tstr(*data(np.array([1000.0, 0.01]), np.array([5.0, -3.0]))[:4],
               X_anomaly_train=data(np.array([1000.0, 0.01]), np.array([5.0, -3.0]))[4])
    for key in ("tstr_auc", "trtr_auc", "tstr_plus_real_auc", "normal_only_auc"):
        assert b[key] == pytest.approx(a[key], abs=1e-6)
    # an independent computation: sklearn's logistic regression on inputs scaled by the normal
    # training data's per-channel mean and standard deviation gives the same TSTR AUC
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    N, S, Nt, At, _ = data(1.0, 0.0)
    mu, sd = N.mean(axis=(0, 1)), N.std(axis=(0, 1))
    f = lambda X: ((X - mu) / sd).reshape(len(X), -1)  # noqa: E731
    clf = LogisticRegression(max_iter=5000, class_weight="balanced").fit(
        np.concatenate([f(N), f(S)]), np.r_[np.zeros(len(N)), np.ones(len(S))])
    ref = roc_auc_score(np.r_[np.zeros(len(Nt)), np.ones(len(At))], clf.decision_function(np.concatenate([f(Nt), f(At)])))
    assert a["tstr_auc"] == pytest.approx(ref, abs=1e-9)
    with pytest.raises(ParameterError, match="same sample shape as `X_normal`"):
        Q.tstr(N, S[:, :8], Nt, At)


def test_tstr_reproduces_the_ecg5000_reference(ecg5000):
    """Issue 9's reference point on the official split: logistic regression trained on the 292
    normal + all 208 anomalous TRAIN beats reaches AUC 0.995 on TEST."""
    Xtr, ctr, Xte, cte = (a[:, :, None] if a.ndim == 2 else a for a in ecg5000)  # beats as windows
    t = Q.tstr(Xtr[ctr == 1], Xtr[ctr != 1], Xte[cte == 1], Xte[cte != 1])
    assert t["tstr_auc"] == pytest.approx(0.995, abs=0.001)


def test_naive_references(rng):
    A = rng.normal(size=(6, 32, 2)) + 3.0
    copy = Q.naive_reference("copy", A, 40, seed=1)
    assert copy.shape == (40, 32, 2) and copy.dtype == np.float32
    assert all(any(np.allclose(c, a) for a in A) for c in copy)  # every sample is one of the K
    js = Q.naive_reference("jitter+scale", A, 400, seed=1).astype(float)
    src = Q.naive_reference("copy", A, 400, seed=1).astype(float)  # the same draws pick the same copies
    assert not any(np.allclose(j, a) for j in js[:40] for a in A)
    gain = np.sum(js * src, axis=1) / np.sum(src * src, axis=1)  # (n, C): least-squares gain per channel
    resid = js - gain[:, None, :] * src
    assert 0.07 < gain.std() < 0.13 and abs(gain.mean() - 1) < 0.02
    assert 0.04 * A.std() < resid.std() < 0.06 * A.std()
    # the Gaussian reference is sklearn's Ledoit-Wolf fit (sampled through its low-rank factor)
    from sklearn.covariance import LedoitWolf

    lw = LedoitWolf().fit(A.reshape(len(A), -1))
    g = Q.naive_reference("gaussian", A, 100_000, seed=1).reshape(100_000, -1).astype(float)
    np.testing.assert_allclose(g.mean(axis=0), lw.location_, atol=0.02)
    np.testing.assert_allclose(np.cov(g.T), lw.covariance_, atol=0.03)
    np.testing.assert_array_equal(Q.naive_reference("gaussian", A, 5, seed=2), Q.naive_reference("gaussian", A, 5, seed=2))
    assert Q.naive_reference("copy", A[:, :, 0], 3, seed=0).shape == (3, 32)
    with pytest.raises(DataError, match="at least 2 real anomalies"):
        Q.naive_reference("copy", A[:1], 5)
    with pytest.raises(ParameterError, match="`name` must be one of"):
        Q.naive_reference("smote", A, 5)


def test_report_scores_the_naive_references(tmp_path, rng):
    """A generator that models the anomaly class well beats copying its 4 examples."""
    center = np.sin(np.linspace(0, 2 * np.pi, 24))[None, :, None]
    real = center + rng.normal(size=(300, 24, 1))
    A = center + rng.normal(size=(4, 24, 1))
    good = center + rng.normal(size=(300, 24, 1))
    rep = Q.quality_report(real, good, X_train=A, X_normal=rng.normal(size=(60, 24, 1)) - 2,
                           X_normal_test=rng.normal(size=(60, 24, 1)) - 2, X_anomaly_train=A,
                           n_permutations=10, references=True)
    refs = rep["references"]
    assert set(refs) == set(Q.NAIVE_REFERENCES)
    assert rep["discriminative_score"] < refs["copy"]["discriminative_score"]
    assert rep["mmd"] < refs["copy"]["mmd"]
    assert all(0 <= r["tstr_auc"] <= 1 and r["discriminative_score_rf"] is not None for r in refs.values())
    md = Q.quality_markdown(rep)
    assert "## Against naive references" in md and "| jitter+scale |" in md
    assert Q.quality_report(real, good, n_permutations=0, references=True)["references"] is None


def test_report_and_files(tmp_path, rng):
    real, synth = rng.normal(size=(80, 32, 1)), rng.normal(size=(60, 32, 1)) + 0.2
    rep = Q.quality_report(real, synth, X_train=rng.normal(size=(50, 32, 1)), X_normal=rng.normal(size=(50, 32, 1)) - 1,
                           X_normal_test=rng.normal(size=(40, 32, 1)) - 1, n_permutations=20)
    for key in ("discriminative_score", "discriminative_score_rf", "mmd", "mmd_p_value", "tstr_auc", "memorisation"):
        assert rep[key] is not None
    paths = Q.write_quality(tmp_path, rep, real, synth)
    assert json.loads((tmp_path / "quality.json").read_text())["n_synth"] == 60
    assert "discriminative_score" in (tmp_path / "quality.md").read_text()
    for f in ("pca.png", "overlay.png", "psd.png"):
        assert (tmp_path / "figures" / f).read_bytes()[:4] == b"\x89PNG"
    assert all(p.exists() for p in paths)
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary files left


def test_bad_input(rng):
    a = rng.normal(size=(50, 16, 1))
    with pytest.raises(ParameterError, match="same sample shape"):
        Q.mmd_rbf(a, rng.normal(size=(50, 8, 1)))
    bad = a.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Q.discriminative_score(a, bad)
    with pytest.raises(DataError, match="at least 4"):
        Q.discriminative_score(a, a[:2])
    with pytest.raises(ParameterError, match="classifier"):
        Q.discriminative_score(a, a, classifier="svm")
    with pytest.raises(DataError, match="at least 2 training"):
        Q.memorisation(a, a[:1])
