"""ConditionalVAE: seeds, hyper-parameters, tail sampling, save/load, bad input (tiny models)."""
import numpy as np
import pytest

pytestmark = pytest.mark.slow

BASE = dict(latent_dim=2, widths=(8,), epochs=3, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(440)
    t = np.linspace(0, 1, 16)
    X = (np.sin(2 * np.pi * 2 * t)[None, :, None] + 0.1 * rng.normal(size=(96, 16, 1))).astype(np.float32)
    y = (np.arange(96) < 6).astype(np.int8)
    X[y == 1] += 1.5
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    from edgesynth.synth.vae import ConditionalVAE

    return ConditionalVAE(**BASE).fit(*data)


def test_shapes_classes_and_seed(fitted, data):
    from edgesynth.synth.vae import ConditionalVAE

    a = fitted.sample(7, seed=1)
    assert a.shape == (7, 16, 1) and a.dtype == np.float32
    assert fitted.classes_ == ["normal", "anomaly"]
    np.testing.assert_array_equal(a, fitted.sample(7, seed=1))
    assert not np.allclose(a, fitted.sample(7, seed=2))
    again = ConditionalVAE(**BASE).fit(*data)  # same seed, same training, same samples
    np.testing.assert_allclose(again.sample(7, seed=1), a, atol=1e-5)
    other = ConditionalVAE(**{**BASE, "seed": 1}).fit(*data)
    assert not np.allclose(other.sample(7, seed=1), a)


@pytest.mark.parametrize(
    "param, value",
    [("latent_dim", 3), ("widths", (12,)), ("beta", 5.0), ("learning_rate", 0.02), ("epochs", 5),
     ("batch_size", 16), ("oversample", 0.0), ("output_noise", False), ("prior", "standard")],
)
def test_each_hyper_parameter_changes_the_output(fitted, data, param, value):
    from edgesynth.synth.vae import ConditionalVAE

    other = ConditionalVAE(**{**BASE, param: value}).fit(*data)
    assert other.get_params()[param] == value
    assert not np.allclose(other.sample(20, seed=3), fitted.sample(20, seed=3), atol=1e-4)


def test_conditional_sampling_moves_toward_the_anomaly_class(data):
    from edgesynth.synth.vae import ConditionalVAE

    X, y = data  # 6 anomalies, shifted by +1.5 from 90 normal windows
    vae = ConditionalVAE(**{**BASE, "learning_rate": 0.01, "epochs": 20}).fit(X, y)
    mu_n, mu_a = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)

    def dist(s, m):
        return np.linalg.norm(s - m, axis=(1, 2))

    anom, normal = vae.sample(200, seed=0), vae.sample(200, label=0, seed=0)  # label=None means 1
    np.testing.assert_array_equal(anom, vae.sample(200, label=1, seed=0))
    assert np.mean(dist(anom, mu_a) < dist(anom, mu_n)) > 0.9
    assert np.mean(dist(normal, mu_n) < dist(normal, mu_a)) > 0.9
    # the anomaly samples sit about as far from the anomaly mean as the real anomalies do
    spread = dist(X[y == 1], mu_a).mean()
    assert dist(anom, mu_a).mean() < 3 * spread


def test_features_labels_and_tail(data):
    from edgesynth.errors import ParameterError
    from edgesynth.synth.vae import ConditionalVAE

    X, y = data
    F = X[:, :, 0]
    labels = np.where(np.arange(96) < 3, "pvc", "st")
    vae = ConditionalVAE(**BASE).fit(F, y, labels=labels)
    assert vae.classes_ == ["normal", "pvc", "st"]
    s, names = vae.sample_with_classes(30, seed=0)
    assert s.shape == (30, 16) and set(names) <= {"pvc", "st"}
    assert vae.sample(4, label="pvc", seed=0).shape == (4, 16)
    normal_only = ConditionalVAE(**BASE).fit(X[y == 0])
    with pytest.raises(ParameterError, match="tail"):
        normal_only.sample(5, label=1)
    near = normal_only.sample(200, label=1, seed=0, tail=(0.0, 0.5))
    far = normal_only.sample(200, label=1, seed=0, tail=(3.0, 4.0))
    center = X[y == 0].mean(axis=0)
    assert np.linalg.norm(far - center, axis=(1, 2)).mean() > np.linalg.norm(near - center, axis=(1, 2)).mean()


def test_save_load_roundtrip(fitted, tmp_path):
    from edgesynth.errors import ModelError
    from edgesynth.synth.vae import ConditionalVAE, CVAEModel

    fitted.save(tmp_path / "g")
    back = ConditionalVAE.from_dir(tmp_path / "g")
    np.testing.assert_array_equal(back.sample(5, seed=4), fitted.sample(5, seed=4))
    cfg = fitted.model_.get_config()
    assert CVAEModel.from_config(cfg).get_config() == cfg
    (tmp_path / "g" / "weights.npz").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="sha256"):
        ConditionalVAE.from_dir(tmp_path / "g")


def test_bad_input(data):
    from edgesynth.errors import DataError, ModelError, ParameterError
    from edgesynth.synth.vae import ConditionalVAE

    X, y = data
    with pytest.raises(DataError, match="at least 8"):
        ConditionalVAE(**BASE).fit(X[:4], y[:4])
    bad = X.copy()
    bad[3, 2, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ConditionalVAE(**BASE).fit(bad, y)
    with pytest.raises(ParameterError, match="shape"):
        ConditionalVAE(**BASE).fit(X, y[:-1])
    with pytest.raises(ParameterError, match="latent_dim"):
        ConditionalVAE(**{**BASE, "latent_dim": 0}).fit(X, y)
    with pytest.raises(ParameterError, match="tail"):
        ConditionalVAE(**BASE).fit(X, y).sample(3, tail=(3, 1))
    with pytest.raises(ModelError, match="not fitted"):
        ConditionalVAE().sample(3)
