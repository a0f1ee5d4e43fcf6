"""The autoencoder detector: builders, ABC loss, training failures, save / reload."""
from __future__ import annotations

import numpy as np
import pytest

from edgesynth.detect import Detector, build_conv_autoencoder, build_dense_autoencoder, model_stats
from edgesynth.detect.losses import abc_anomaly_term, get_loss, pack_targets
from edgesynth.errors import DataError, ModelError, ParameterError


def _toy(rng, n=300, d=12):
    """Normal rows live near a 2-D subspace; anomalies are off it."""
    basis = rng.normal(size=(2, d))
    Xn = (rng.normal(size=(n, 2)) @ basis + 0.05 * rng.normal(size=(n, d))).astype(np.float32)
    Xa = (rng.normal(size=(n // 5, 2)) @ basis + 0.6 * rng.normal(size=(n // 5, d))).astype(np.float32)
    return Xn, Xa


def test_dense_builder_stats_counted_by_hand():
    m = build_dense_autoencoder(20, widths=(8,), bottleneck=3, seed=1)
    # 20->8->3->8->20
    params = (20 * 8 + 8) + (8 * 3 + 3) + (3 * 8 + 8) + (8 * 20 + 20)
    macs = 20 * 8 + 8 * 3 + 3 * 8 + 8 * 20
    s = model_stats(m)
    assert s["params"] == params and s["macs"] == macs
    assert s["int8_bytes_estimate"] == macs + 4 * (8 + 3 + 8 + 20)
    assert m.output_shape == (None, 20)


def test_widths_change_the_model():
    a = model_stats(build_dense_autoencoder(30, widths=(16,), bottleneck=4))
    b = model_stats(build_dense_autoencoder(30, widths=(8,), bottleneck=4))
    assert a["params"] > b["params"]


def test_conv_builder_is_flat_in_flat_out_and_counts_macs():
    m = build_conv_autoencoder(32, 3, filters=(4, 8), kernel_size=3)
    assert m.input_shape == (None, 96) and m.output_shape == (None, 96)
    macs = 16 * 3 * 3 * 4 + 8 * 3 * 4 * 8 + 8 * 3 * 8 * 8 + 16 * 3 * 8 * 4 + 32 * 3 * 4 * 3
    assert model_stats(m)["macs"] == macs
    with pytest.raises(ParameterError, match="divisible by"):
        build_conv_autoencoder(30, 3, filters=(4, 8))


def test_builder_rejects_bad_arguments():
    with pytest.raises(ParameterError, match="`input_dim` must be a positive integer"):
        build_dense_autoencoder(0)
    with pytest.raises(ParameterError, match="activation"):
        build_dense_autoencoder(4, activation="gelu")


def test_abc_loss_matches_formula():
    from edgesynth._tf import tf

    x = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    xh = np.array([[0.3, 0.1], [0.0, 0.0]], np.float32)
    lab = np.array([0, 1], np.float32)
    e = np.mean((x - xh) ** 2, axis=1)
    got = get_loss("abc")(tf.constant(pack_targets(x, lab)), tf.constant(xh)).numpy()
    assert got[0] == pytest.approx(e[0], rel=1e-5)
    assert got[1] == pytest.approx(abc_anomaly_term(e[1]), rel=1e-5)
    with pytest.raises(ParameterError, match="`loss` must be one of"):
        get_loss("hinge")


def test_abc_loss_separates_training_samples_better_than_normal_only(rng):
    """ABC raises anomalous training scores and lowers normal ones *relative to the anomalies*.

    In absolute terms the normal scores go up a little (half the training weight now goes to the
    anomaly term); what matters for detection is their rank, which the relative measures pin.
    """
    from edgesynth.detect.metrics import roc_auc

    Xn, Xa = _toy(rng)
    kw = dict(widths=(16,), bottleneck=4, epochs=40, batch_size=32, validation_fraction=0.0, seed=3)
    plain = Detector(**kw).fit(Xn)
    abc = Detector(**kw).fit(Xn, X_anomaly=Xa)
    assert plain.loss_ == "mse" and abc.loss_ == "abc"
    sn_p, sa_p = plain.score_samples(Xn), plain.score_samples(Xa)
    sn_a, sa_a = abc.score_samples(Xn), abc.score_samples(Xa)
    assert np.median(sa_a) > 5 * np.median(sa_p)  # anomalies pushed up
    assert np.median(sn_a / np.median(sa_a)) < np.median(sn_p / np.median(sa_p))  # normals down, relatively
    y = np.r_[np.zeros(len(Xn)), np.ones(len(Xa))]
    assert roc_auc(y, np.r_[sn_a, sa_a]) >= roc_auc(y, np.r_[sn_p, sa_p])


def test_fit_predict_threshold_and_sign(rng):
    Xn, Xa = _toy(rng)
    det = Detector(widths=(16,), bottleneck=4, epochs=30, target_fpr=0.05, seed=0).fit(Xn)
    assert det.n_features_in_ == Xn.shape[1] and np.isfinite(det.threshold_)
    s_n, s_a = det.score_samples(Xn), det.score_samples(Xa)
    assert np.median(s_a) > np.median(s_n)  # higher = more anomalous
    assert np.array_equal(det.predict(Xa), (s_a > det.threshold_).astype(np.int8))
    np.testing.assert_allclose(det.decision_function(Xa), s_a - det.threshold_, rtol=1e-6)
    assert det.predict(Xa).mean() > det.predict(Xn).mean()
    # calibrate() moves the threshold to the requested FPR on the given data
    det.calibrate(Xn, target_fpr=0.2, method="fpr")
    assert np.mean(det.score_samples(Xn) > det.threshold_) <= 0.2


def test_labels_in_y_are_used_as_anomalies(rng):
    Xn, Xa = _toy(rng, n=100)
    X = np.concatenate([Xn, Xa])
    y = np.r_[np.zeros(len(Xn)), np.ones(len(Xa))].astype(int)
    det = Detector(widths=(8,), bottleneck=2, epochs=2).fit(X, y)
    assert det.loss_ == "abc"


def test_seed_makes_training_reproducible(rng):
    Xn, _ = _toy(rng, n=120)
    a = Detector(widths=(8,), bottleneck=2, epochs=3, seed=7, deterministic=True).fit(Xn).score_samples(Xn)
    b = Detector(widths=(8,), bottleneck=2, epochs=3, seed=7, deterministic=True).fit(Xn).score_samples(Xn)
    c = Detector(widths=(8,), bottleneck=2, epochs=3, seed=8, deterministic=True).fit(Xn).score_samples(Xn)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_training_failures_are_clear(rng):
    Xn, Xa = _toy(rng, n=50)
    with pytest.raises(DataError, match="all are labelled anomalous"):
        Detector(epochs=1).fit(Xa, np.ones(len(Xa), int))
    with pytest.raises(DataError, match="at least 2 normal windows"):
        Detector(epochs=1).fit(Xn[:1])
    with pytest.raises(DataError, match="NaN"):
        Detector(epochs=1).fit(np.full((10, 4), np.nan))
    with pytest.raises(ParameterError, match="ndim"):
        Detector(epochs=1).fit(Xn[0])
    with pytest.raises(ParameterError, match="loss='abc'"):
        Detector(epochs=1, loss="mae").fit(Xn, X_anomaly=Xa)
    with pytest.raises(ParameterError, match="`architecture` must be one of"):
        Detector(architecture="lstm").fit(Xn)
    with pytest.raises(ParameterError, match="features per sample"):
        Detector(epochs=1).fit(Xn, X_anomaly=Xa[:, :3])
    with pytest.raises(ModelError, match="not fitted"):
        Detector().predict(Xn)


def test_saved_detector_reloads_with_identical_scores(rng, tmp_path):
    Xn, Xa = _toy(rng, n=80)
    det = Detector(widths=(8,), bottleneck=2, epochs=3, loss="abc").fit(Xn, X_anomaly=Xa)
    det.save(tmp_path / "det")
    back = Detector.from_dir(tmp_path / "det")
    X = np.concatenate([Xn, Xa])
    np.testing.assert_array_equal(back.score_samples(X), det.score_samples(X))
    assert back.threshold_ == det.threshold_ and back.loss_ == "abc"
    np.testing.assert_array_equal(back.predict(X), det.predict(X))
    with pytest.raises(ParameterError, match="features per sample"):
        back.score_samples(X[:, :5])


def test_conv_detector_trains_on_raw_windows(rng):
    L, C = 32, 2
    t = np.arange(L)
    X = np.stack([np.stack([np.sin(2 * np.pi * (t + p) / 16), np.cos(2 * np.pi * (t + p) / 16)], -1)
                  for p in rng.integers(0, 16, 120)]).astype(np.float32)
    det = Detector(architecture="conv", input_shape=(L, C), filters=(4,), epochs=5).fit(X.reshape(120, -1))
    noisy = X + rng.normal(scale=1.0, size=X.shape).astype(np.float32)
    assert np.median(det.score_samples(noisy.reshape(120, -1))) > np.median(det.score_samples(X.reshape(120, -1)))
    with pytest.raises(ParameterError, match="needs `input_shape"):
        Detector(architecture="conv", epochs=1).fit(X.reshape(120, -1))


def test_from_dir_rejects_missing_model(tmp_path):
    from edgesynth.artifact import ArtifactWriter

    with ArtifactWriter(tmp_path / "a", kind="detector", manifest={"threshold": {"float_value": 1.0}}):
        pass
    with pytest.raises(ModelError, match="no detector.keras"):
        Detector.from_dir(tmp_path / "a")


def test_class_balancing_gives_both_classes_the_same_total_weight():
    from edgesynth.detect.detector import _balanced

    X, lab, w = _balanced(np.zeros((90, 3), np.float32), np.ones((10, 3), np.float32))
    assert X.shape == (100, 3) and lab.sum() == 10
    assert w[lab == 0].sum() == pytest.approx(w[lab == 1].sum()) and w.mean() == pytest.approx(1.0)
    _, _, w0 = _balanced(np.zeros((5, 3), np.float32), np.zeros((0, 3), np.float32))
    assert np.all(w0 == 1.0)
