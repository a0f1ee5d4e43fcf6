"""synthesize / choose_strategy / run_synth: methods, seeds, artifacts, bad input."""
import json

import numpy as np
import pytest

from edgesynth.data.dataset import Dataset
from edgesynth.errors import DataError, ParameterError
from edgesynth.synth.generate import choose_strategy, run_synth, synthesize


@pytest.fixture
def windows(rng):
    t = np.linspace(0, 1, 32)
    X = (np.sin(2 * np.pi * 3 * t)[None, :, None] + 0.1 * rng.normal(size=(120, 32, 1))).astype(np.float32)
    y = (np.arange(120) % 10 == 0).astype(np.int8)  # 12 anomalies
    X[y == 1] += rng.normal(size=(12, 1, 1)) + 2.0
    return X, y


def test_choose_strategy():
    assert choose_strategy(None) == ("inject", "vae")
    assert choose_strategy(np.zeros(5)) == ("inject", "vae")
    assert choose_strategy(np.r_[np.zeros(5), 1]) == ("vae", "inject")


def test_inject_seed_and_kinds(windows):
    X, y = windows
    r = synthesize(X, y, method="inject", n=25, seed=3)
    assert r.X.shape == (25, 32, 1) and r.kinds.shape == (25,) and r.generator is None
    assert all(k.startswith("inject:") for k in r.kinds)
    np.testing.assert_array_equal(r.X, synthesize(X, y, method="inject", n=25, seed=3).X)
    assert not np.allclose(r.X, synthesize(X, y, method="inject", n=25, seed=4).X)
    spikes = synthesize(X, y, method="inject", n=5, seed=0, kinds=["spike"])
    assert set(spikes.kinds) == {"inject:spike"}


def test_bad_input(windows):
    X, y = windows
    with pytest.raises(ParameterError, match="method"):
        synthesize(X, y, method="diffusion", n=5)
    with pytest.raises(ParameterError, match="`n`"):
        synthesize(X, y, method="inject", n=0)
    with pytest.raises(ParameterError, match="shape"):
        synthesize(X, y[:-3], method="inject", n=5)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        synthesize(bad, y, method="inject", n=5)
    with pytest.raises(ParameterError, match="unknown ConditionalVAE parameter"):
        synthesize(X, y, method="vae", n=5, lattent_dim=3)
    with pytest.raises(ParameterError, match="no generator parameters"):
        synthesize(X, y, method="inject", n=5, latent_dim=3)
    with pytest.raises(DataError, match="only anomalies"):
        synthesize(X, np.ones(len(X)), method="gan", n=5)
    with pytest.raises(DataError, match="normal windows"):
        synthesize(X, np.ones(len(X)), method="inject", n=5)
    with pytest.raises(DataError, match="at least 8"):
        synthesize(X[:5], y[:5], method="vae", n=5)


def test_run_synth_inject_writes_artifact(windows, tmp_path):
    from edgesynth.artifact import read_manifest

    X, y = windows
    ds = Dataset(X=X, y=y, sr=100.0, source="memory")
    res = run_synth(ds, method="inject", n=40, anomalies=4, seed=0, out_dir=tmp_path / "s")
    out = tmp_path / "s"
    man = read_manifest(out, kind="synth")
    assert man["synth"]["split"]["anomaly_train"] == 4 and man["synth"]["split"]["anomaly_test"] == 8
    with np.load(out / "samples.npz") as z:
        assert z["X"].shape == (40, 32, 1) and z["kinds"].shape == (40,)
        assert all(k.startswith("inject:") for k in z["kinds"].astype(str))
        assert not np.any(np.all(np.isclose(z["X"][:, None], X[None]), axis=(2, 3)))  # every sample altered
    q = json.loads((out / "quality.json").read_text())
    assert q["tstr"]["n_test_anomaly"] == 8 and q["n_synth"] == 40 and q["reference"] == "held-out real anomalies"
    assert set(q["references"]) == {"copy", "jitter+scale", "gaussian"}  # naive references scored alongside
    assert "## Against naive references" in (out / "quality.md").read_text()
    assert man["synth"]["split"]["normal_train"] + man["synth"]["split"]["normal_test"] == 108
    for key in ("discriminative_score", "mmd", "tstr_auc"):
        assert res[key] == q[key]
    assert 0.0 <= res["discriminative_score"] <= 0.5 and res["mmd"] >= 0 and 0.0 <= res["tstr_auc"] <= 1.0
    for f in ("quality.md", "figures/pca.png", "figures/overlay.png", "generator/generator.json"):
        assert (out / f).is_file()


def test_run_synth_bad_input_writes_nothing(windows, tmp_path):
    X, y = windows
    ds = Dataset(X=X, y=y, source="memory")
    with pytest.raises(DataError, match="holds only 12"):
        run_synth(ds, method="inject", n=10, anomalies=50, out_dir=tmp_path / "s")
    with pytest.raises(ParameterError, match="method"):
        run_synth(ds, method="copy", n=10, out_dir=tmp_path / "s")
    with pytest.raises(ParameterError, match="anomalies"):
        run_synth(ds, method="inject", n=10, anomalies=-1, out_dir=tmp_path / "s")
    bad = X.copy()
    bad[5, 3, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        run_synth(Dataset(X=bad, y=y, source="memory"), method="inject", n=10, out_dir=tmp_path / "s")
    with pytest.raises(DataError, match="normal windows"):
        run_synth(Dataset(X=X[y == 1], y=y[y == 1], source="memory"), method="inject", n=10, out_dir=tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


def test_run_synth_keeps_the_previous_artifact_on_error(windows, tmp_path):
    from edgesynth.artifact import read_manifest

    X, y = windows
    ds = Dataset(X=X, y=y, source="memory")
    run_synth(ds, method="inject", n=20, anomalies=4, seed=0, out_dir=tmp_path / "s")
    before = (tmp_path / "s" / "samples.npz").read_bytes()
    with pytest.raises(DataError):
        run_synth(ds, method="inject", n=20, anomalies=99, seed=1, out_dir=tmp_path / "s")
    assert (tmp_path / "s" / "samples.npz").read_bytes() == before
    read_manifest(tmp_path / "s", kind="synth")  # hashes still match
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary sibling left


@pytest.mark.slow
def test_vae_paths_and_run_synth_generator_loads(windows, tmp_path):
    from edgesynth.artifact import read_manifest
    from edgesynth.synth.vae import ConditionalVAE

    X, y = windows
    kw = dict(latent_dim=2, widths=(8,), learning_rate=0.01)
    r = synthesize(X, y, method="vae", n=100, seed=0, epochs=20, **kw)
    assert r.X.shape == (100, 32, 1) and set(r.kinds) == {"vae:anomaly"}
    assert isinstance(r.generator, ConditionalVAE) and r.info["epochs"] == 20
    assert all(v is None or isinstance(v, (str, int, float)) for v in r.info.values())
    np.testing.assert_allclose(r.X, synthesize(X, y, method="vae", n=100, seed=0, epochs=20, **kw).X, atol=1e-5)
    # anomalous-looking: the real anomalies are the sine shifted up by N(2, 1) (mean shift ~1.6
    # for this rng); the synthetic ones carry a shift of the same size, normal samples none
    mu_n = X[y == 0].mean(axis=0)

    def shift(S):
        return float((S - mu_n).mean())

    real = shift(X[y == 1])
    assert 0.5 * real < shift(r.X) < 1.5 * real
    assert abs(shift(r.generator.sample(100, label=0, seed=0))) < 0.2 * real
    # no anomalies: latent-tail sampling. Normal windows vary in amplitude (0.8..1.2) and phase,
    # so the latent space carries that structure; tail latents decode off the normal manifold.
    t = np.linspace(0, 1, 32)[None, :, None]
    rng = np.random.default_rng(7)
    amp, phase = rng.uniform(0.8, 1.2, (120, 1, 1)), rng.uniform(-0.3, 0.3, (120, 1, 1))
    Xn = (amp * np.sin(2 * np.pi * 3 * t + phase) + 0.05 * rng.normal(size=(120, 32, 1))).astype(np.float32)
    tail = synthesize(Xn, None, method="vae", n=200, seed=0, epochs=20, **kw)
    assert set(tail.kinds) == {"vae:tail"} and (tail.info["tail_low"], tail.info["tail_high"]) == (2.0, 3.0)
    normal = tail.generator.sample(200, label=0, seed=0)

    mu = Xn.mean(axis=0)

    def from_mean(S):
        return np.linalg.norm(S - mu, axis=(1, 2)).mean()

    def to_nearest_real(S):
        from edgesynth.synth.quality import memorisation

        return memorisation(S, Xn)["median_synth_nn"]

    assert from_mean(tail.X) > 1.4 * from_mean(normal)
    assert to_nearest_real(tail.X) > 1.1 * to_nearest_real(normal)
    auto = synthesize(X, y, method="auto", n=11, seed=0, epochs=2, **kw)
    assert auto.X.shape == (11, 32, 1) and auto.info["methods"] == "vae+inject"
    assert sum(k.startswith("vae:") for k in auto.kinds) == 6 and auto.info["n_inject"] == 5

    ds = Dataset(X=X, y=y, source="memory")
    res = run_synth(ds, method="vae", n=20, anomalies=5, seed=1, out_dir=tmp_path / "v", epochs=3, **kw)
    assert {"discriminative_score", "mmd", "tstr_auc"} <= set(res) and 0 <= res["tstr_auc"] <= 1
    man = read_manifest(tmp_path / "v", kind="synth")
    assert {"samples.npz", "quality.json", "quality.md", "generator/weights.npz", "figures/overlay.png"} <= set(man["files"])
    gen = ConditionalVAE.from_dir(tmp_path / "v" / "generator")
    assert gen.sample(3, seed=0).shape == (3, 32, 1)


@pytest.mark.slow
def test_gan_without_anomalies_uses_tail_sampling(windows):
    X, y = windows
    kw = dict(noise_dim=4, filters=(8,), critic_filters=(8,), n_critic=1, eval_every=1)
    r = synthesize(X[y == 0], np.zeros(int((y == 0).sum())), method="gan", n=30, seed=0, epochs=2, **kw)
    assert r.X.shape == (30, 32, 1) and set(r.kinds) == {"gan:tail"}
    assert r.info["epochs_run"] == 2 and r.info["tail_low"] == 2.0
    mu_n = X[y == 0].mean(axis=0)
    normal = r.generator.sample(30, label=0, seed=0)
    assert np.linalg.norm(r.X - mu_n, axis=(1, 2)).mean() > np.linalg.norm(normal - mu_n, axis=(1, 2)).mean()
