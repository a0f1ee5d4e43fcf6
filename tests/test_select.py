"""Choosing injection kinds by validation against a few real anomalies (edgesynth.synth.select)."""
import numpy as np
import pytest

from edgesynth.data import simulate_ecg, simulate_vibration
from edgesynth.errors import DataError, ParameterError
from edgesynth.synth.generate import run_synth, synthesize
from edgesynth.synth.inject import inject
from edgesynth.synth.select import KindRanking, candidate_kinds, rank_kinds, select_kinds


@pytest.fixture(scope="module")
def beats():
    return simulate_ecg(120, anomaly_fraction=0.0, seed=0).X


@pytest.mark.parametrize("kind", ["dropout", "saturation", "frequency_shift", "harmonic_growth",
                                  "widened_qrs", "premature_beat"])
def test_the_kind_that_made_the_real_anomalies_is_selected(beats, kind):
    """Real anomalies made by one injection kind: that kind scores (near) 1 and is selected."""
    real = inject(beats[:8], kind, seed=1)
    r = rank_kinds(beats[8:], real, seed=0, n_inject=80)
    assert set(r.scores) == set(candidate_kinds()) and list(r.scores.values()) == sorted(r.scores.values(), reverse=True)
    n_h = (len(beats) - 8) / 5
    assert r.chance_sd == pytest.approx(np.sqrt((8 + n_h + 1) / (12 * 8 * n_h)))
    assert r.scores[kind] >= 0.8 and r.scores[kind] >= r.scores[r.best] - 0.01
    assert kind in select_kinds(r, max_kinds=len(r.scores))


def test_unrelated_kinds_rank_below_the_matching_one(beats):
    real = inject(beats[:8], "premature_beat", seed=1)
    r = rank_kinds(beats[8:], real, kinds=("premature_beat", "noise_burst", "spike"), seed=0, n_inject=60)
    assert r.best == "premature_beat" and select_kinds(r) == ("premature_beat",)
    assert max(r.scores["noise_burst"], r.scores["spike"]) < r.scores["premature_beat"] - 0.1


def test_transform_compares_kinds_in_feature_space():
    """Bearing impulses in random-phase vibration are invisible to a linear classifier on raw windows;
    on spectra (|rFFT|) the impulse kind is recognised."""
    ds = simulate_vibration(60, window_length=256, anomaly_fraction=0.0, seed=2)
    N = ds.X[:, :, :1]
    real = inject(N[:8], "impulses", sr=ds.sr, seed=3, frequency=300.0)
    kinds = ("impulses", "dropout", "saturation", "harmonic_growth")

    def spectrum(X):
        return np.abs(np.fft.rfft(X[:, :, 0], axis=1))

    r = rank_kinds(N[8:], real, kinds=kinds, sr=ds.sr, seed=0, n_inject=100, transform=spectrum)
    assert r.best == "impulses" and r.scores["impulses"] > 0.9


def test_seed_and_each_parameter_change_the_ranking(beats):
    real = inject(beats[:6], "premature_beat", seed=1)
    kw = dict(kinds=("premature_beat", "spike", "drift"), n_inject=60)
    a = rank_kinds(beats[6:], real, seed=0, **kw)
    assert rank_kinds(beats[6:], real, seed=0, **kw).fold_scores == a.fold_scores
    assert rank_kinds(beats[6:], real, seed=1, **kw).fold_scores != a.fold_scores
    three = rank_kinds(beats[6:], real, seed=0, n_folds=3, **kw)
    assert a.n_folds == 5 and all(len(v) == 5 for v in a.fold_scores.values())
    assert three.n_folds == 3 and all(len(v) == 3 for v in three.fold_scores.values())
    assert rank_kinds(beats[6:], real, seed=0, kinds=kw["kinds"], n_inject=20).fold_scores != a.fold_scores
    flipped = rank_kinds(beats[6:], real, seed=0, transform=lambda X: -X[:, ::-1], **kw)
    assert flipped.fold_scores != a.fold_scores


def test_a_kinds_score_does_not_depend_on_the_other_candidates(beats):
    real = inject(beats[:6], "premature_beat", seed=1)
    both = rank_kinds(beats[6:], real, kinds=("spike", "premature_beat"), seed=3, n_inject=40)
    alone = rank_kinds(beats[6:], real, kinds=("premature_beat",), seed=3, n_inject=40)
    assert alone.fold_scores["premature_beat"] == both.fold_scores["premature_beat"]


def test_select_kinds_parameters():
    r = KindRanking({"a": 0.99, "b": 0.985, "c": 0.97, "d": 0.4})
    assert r.chance_level == 0.5 and select_kinds(r) == ("a", "b")
    assert select_kinds(r, tolerance=0.05) == ("a", "b", "c")
    assert select_kinds(r, tolerance=0.05, max_kinds=2) == ("a", "b")
    assert select_kinds(r, tolerance=1.0, max_kinds=9) == ("a", "b", "c")  # d is below chance
    assert select_kinds(r, tolerance=1.0, max_kinds=9, min_score=0.3) == ("a", "b", "c", "d")
    assert select_kinds(KindRanking({"x": 0.45})) == ()
    # the default floor is chance + 2 standard deviations of an uninformative kind's AUC
    noisy = KindRanking({"x": 0.62, "y": 0.55}, chance_sd=0.1)
    assert noisy.chance_level == pytest.approx(0.7) and select_kinds(noisy) == ()
    assert select_kinds(noisy, min_score=0.6) == ("x",)
    with pytest.raises(ParameterError, match="tolerance"):
        select_kinds(r, tolerance=-1)


def test_bad_input(beats):
    real = beats[:3]
    with pytest.raises(DataError, match="`X_anomaly` needs at least 1"):
        rank_kinds(beats, beats[:0])
    with pytest.raises(DataError, match="at least 10 normal windows"):
        rank_kinds(beats[:9], real)
    with pytest.raises(ParameterError, match="same window shape"):
        rank_kinds(beats, real[:, :70])
    bad = beats.copy()
    bad[5, 3, 0] = np.nan
    with pytest.raises(DataError):
        rank_kinds(bad, real)
    with pytest.raises(ParameterError, match="unknown injection kind"):
        rank_kinds(beats, real, kinds=("sparkle",))
    with pytest.raises(ParameterError, match="needs the sample rate"):
        rank_kinds(beats, real, kinds=("impulses",))
    with pytest.raises(ParameterError, match="n_folds"):
        rank_kinds(beats, real, n_folds=1)


def test_synthesize_with_auto_kinds(beats, tmp_path):
    real = inject(beats[:8], "saturation", seed=1)
    X = np.concatenate([beats[8:], real])
    y = np.r_[np.zeros(len(beats) - 8, np.int8), np.ones(8, np.int8)]
    r = synthesize(X, y, method="inject", n=30, seed=0, kinds="auto")
    chosen = r.info["kinds_selected"].split(",")
    assert "saturation" in chosen and {k.split(":")[1] for k in r.kinds} == set(chosen)
    assert "saturation=" in r.info["kind_scores"]
    # two real anomalies among 10 normal windows: even a perfect score is no evidence -> the defaults
    few = synthesize(np.concatenate([beats[:10], real[:2]]), np.r_[np.zeros(10, np.int8), np.ones(2, np.int8)],
                     method="inject", n=10, seed=0, kinds="auto")
    assert few.info["kinds_selection"].startswith("defaults (too few windows")
    # no real anomaly: nothing to validate against, the generic defaults are injected
    r0 = synthesize(beats, None, method="inject", n=10, seed=0, kinds="auto")
    assert r0.info["kinds_selection"].startswith("defaults (no real anomaly")
    # real "anomalies" that are copies of normal training beats: no kind beats chance
    typical = beats[:6].copy()
    Xt = np.concatenate([beats, typical])
    yt = np.r_[np.zeros(len(beats), np.int8), np.ones(6, np.int8)]
    with pytest.raises(DataError, match="no injection kind resembles the real anomalies"):
        synthesize(Xt, yt, method="inject", n=10, seed=0, kinds="auto")
    from edgesynth.data.dataset import Dataset

    ds = Dataset(X=Xt, y=yt, source="memory")
    with pytest.raises(DataError, match="no injection kind"):
        run_synth(ds, method="inject", n=10, anomalies=4, seed=0, out_dir=tmp_path / "s", kinds="auto")
    assert not (tmp_path / "s").exists() and not list(tmp_path.iterdir())


def test_auto_method_with_auto_kinds_is_the_same_as_without(beats):
    real = inject(beats[:8], "saturation", seed=1)
    X = np.concatenate([beats[8:], real])
    y = np.r_[np.zeros(len(beats) - 8, np.int8), np.ones(8, np.int8)]
    kw = dict(method="auto", n=10, seed=0, epochs=2, latent_dim=2, widths=(8,))
    a, b = synthesize(X, y, **kw), synthesize(X, y, kinds="auto", **kw)
    assert a.info["kinds_selected"] == b.info["kinds_selected"] and "saturation" in a.info["kinds_selected"]
    np.testing.assert_array_equal(a.X, b.X)
    assert synthesize(beats, None, kinds="auto", **kw).info["kinds_selection"].startswith("defaults")


def test_auto_method_leaves_injection_out_when_no_kind_validates(beats):
    typical = beats[:8].copy()
    X = np.concatenate([beats, typical])
    y = np.r_[np.zeros(len(beats), np.int8), np.ones(8, np.int8)]
    r = synthesize(X, y, method="auto", n=12, seed=0, epochs=2, latent_dim=2, widths=(8,))
    assert r.info["methods"] == "vae" and r.info["kinds_selected"] == ""
    assert all(k.startswith("vae:") for k in r.kinds) and len(r.X) == 12
