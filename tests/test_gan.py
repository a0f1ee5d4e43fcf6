"""TimeSeriesWGAN: seeds, hyper-parameters, early stopping, save/load, bad input (tiny models)."""
import numpy as np
import pytest

pytestmark = pytest.mark.slow

BASE = dict(noise_dim=4, filters=(8,), critic_filters=(8,), n_critic=1, max_epochs=3, eval_every=1,
            patience=50, batch_size=32, seed=0)
TRAINED = {**BASE, "n_critic": 3, "learning_rate": 2e-3, "max_epochs": 30, "eval_every": 10}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(440)
    t = np.linspace(0, 1, 20)
    X = (np.sin(2 * np.pi * 3 * t)[None, :, None] + 0.1 * rng.normal(size=(80, 20, 2))).astype(np.float32)
    y = (np.arange(80) < 6).astype(np.int8)
    X[y == 1] *= -1
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    from edgesynth.synth.gan import TimeSeriesWGAN

    return TimeSeriesWGAN(**BASE).fit(*data)


def test_shapes_seed_and_quality_log(fitted, data):
    from edgesynth.synth.gan import TimeSeriesWGAN

    a = fitted.sample(6, seed=1)
    assert a.shape == (6, 20, 2) and a.dtype == np.float32  # 20 is not a power of 2: cropped
    np.testing.assert_array_equal(a, fitted.sample(6, seed=1))
    assert not np.allclose(a, fitted.sample(6, seed=2))
    assert len(fitted.history_) == 3 and {"mmd", "psd_db", "critic_loss"} <= set(fitted.history_[0])
    assert fitted.best_mmd_ == pytest.approx(min(h["mmd"] for h in fitted.history_))
    again = TimeSeriesWGAN(**BASE).fit(*data)
    np.testing.assert_allclose(again.sample(6, seed=1), a, atol=1e-5)


@pytest.mark.parametrize(
    "param, value",
    [("noise_dim", 6), ("filters", (12,)), ("critic_filters", (4,)), ("kernel_size", 3),
     ("gp_weight", 0.0), ("n_critic", 2), ("learning_rate", 0.01), ("batch_size", 16),
     ("validation_fraction", 0.0), ("oversample", 0.0)],
)
def test_each_hyper_parameter_changes_the_output(fitted, data, param, value):
    from edgesynth.synth.gan import TimeSeriesWGAN

    other = TimeSeriesWGAN(**{**BASE, param: value}).fit(*data)
    assert not np.allclose(other.sample(10, seed=3), fitted.sample(10, seed=3), atol=1e-5)


@pytest.fixture(scope="module")
def trained(data):
    """A GAN that keeps improving for 30 epochs (best MMD at the last evaluation)."""
    from edgesynth.synth.gan import TimeSeriesWGAN

    return TimeSeriesWGAN(**TRAINED).fit(*data)


def test_max_epochs_caps_training_and_best_weights_are_restored(fitted, trained, data):
    from edgesynth.synth.gan import TimeSeriesWGAN

    short = TimeSeriesWGAN(**{**BASE, "max_epochs": 1}).fit(*data)
    assert short.epochs_run_ == 1 and len(short.history_) == 1 and fitted.epochs_run_ == 3
    # with this seed the 3-epoch run scored its best MMD after epoch 1, so it must hand back
    # exactly the epoch-1 generator, not the last one
    assert fitted.best_epoch_ == 1
    np.testing.assert_array_equal(short.sample(10, seed=3), fitted.sample(10, seed=3))
    capped = TimeSeriesWGAN(**{**TRAINED, "max_epochs": 10}).fit(*data)
    assert capped.epochs_run_ == 10 and trained.epochs_run_ == 30 and trained.best_epoch_ > 10
    assert not np.allclose(capped.sample(10, seed=3), trained.sample(10, seed=3), atol=1e-5)


def test_conditional_sampling_moves_toward_the_anomaly_class(trained, data):
    X, y = data  # anomalies are the normal sine upside down
    mu_n, mu_a = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)

    def dist(s, m):
        return np.linalg.norm(s - m, axis=(1, 2)).mean()

    anom, normal = trained.sample(200, seed=0), trained.sample(200, label=0, seed=0)
    assert dist(anom, mu_a) < dist(normal, mu_a)
    assert dist(normal, mu_n) < dist(anom, mu_n)


def test_tail_sampling_without_anomalies(data):
    from edgesynth.errors import ParameterError
    from edgesynth.synth.gan import TimeSeriesWGAN

    X, y = data
    g = TimeSeriesWGAN(**BASE).fit(X[y == 0])
    assert g.classes_ == ["normal"]
    with pytest.raises(ParameterError, match="tail"):
        g.sample(4, label=1)
    s, names = g.sample_with_classes(100, seed=0, tail=(2.0, 3.0))
    assert set(names) == {"tail"}
    center = X[y == 0].mean(axis=0)
    near = g.sample(100, label=0, seed=0)
    assert np.linalg.norm(s - center, axis=(1, 2)).mean() > np.linalg.norm(near - center, axis=(1, 2)).mean()


def test_early_stopping_keeps_best(data):
    from edgesynth.synth.gan import TimeSeriesWGAN

    g = TimeSeriesWGAN(**{**BASE, "max_epochs": 12, "patience": 1, "eval_every": 2, "learning_rate": 0.05}).fit(*data)
    mmds = [h["mmd"] for h in g.history_]
    assert g.epochs_run_ <= 12 and len(mmds) == g.epochs_run_ // 2
    assert g.best_epoch_ == g.history_[int(np.argmin(mmds))]["epoch"]


def test_features_save_load(data, tmp_path):
    from edgesynth.synth.gan import TimeSeriesWGAN, WGANModel

    X, y = data
    g = TimeSeriesWGAN(**BASE).fit(X[:, :, 0], y)
    assert g.sample(3, seed=0).shape == (3, 20)
    g.save(tmp_path / "gan")
    back = TimeSeriesWGAN.from_dir(tmp_path / "gan")
    np.testing.assert_array_equal(back.sample(4, seed=9), g.sample(4, seed=9))
    cfg = g.model_.get_config()
    assert WGANModel.from_config(cfg).get_config() == cfg


def test_bad_input(data):
    from edgesynth.errors import DataError, ParameterError
    from edgesynth.synth.gan import TimeSeriesWGAN

    X, y = data
    with pytest.raises(DataError, match="at least 16"):
        TimeSeriesWGAN(**BASE).fit(X[:10], y[:10])
    with pytest.raises(ParameterError, match="n_critic"):
        TimeSeriesWGAN(**{**BASE, "n_critic": 0}).fit(X, y)
    with pytest.raises(ParameterError, match="shape"):
        TimeSeriesWGAN(**BASE).fit(X, y[:5])
