"""Feature pipelines (raw, logmel vs librosa, spectrum) and the Normalizer."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wavfixtures import SR, make_dcase, make_mimii  # noqa: E402

from edgesynth.data import load
from edgesynth.data.features import FeaturePipeline, Normalizer
from edgesynth.errors import DataError, ParameterError

EPS = sys.float_info.epsilon


def _librosa_file_logmel(path, **kw):
    """The DCASE baseline front end, called directly: whole file, center=False, 10*log10(mel+eps)."""
    import librosa

    y, sr = sf.read(str(path), dtype="float32")
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=128, power=2.0,
                                         center=False, **kw)
    return 10.0 * np.log10(mel + EPS)  # (n_mels, n_frames)


@pytest.mark.parametrize("layout", ["mimii", "dcase"])
def test_wav_folder_logmel_matches_librosa(tmp_path, rng, layout):
    root = (make_mimii if layout == "mimii" else make_dcase)(tmp_path / layout, rng)
    ds = load(root, hop_length=1536)  # window 3072 = 5 frames; hop = 3 frames of 512
    fp = FeaturePipeline(kind="logmel", sr=ds.sr)
    F = fp.transform(ds.X)
    assert F.shape == (ds.n_windows, 640) and F.dtype == np.float32
    for g, rel in enumerate(ds.meta["files"]):
        ref = _librosa_file_logmel(root / rel)
        rows = F[ds.groups == g]
        for i, row in enumerate(rows):
            expect = ref[:, 3 * i:3 * i + 5].T.reshape(-1)  # frame-major, like the DCASE vector_array
            np.testing.assert_allclose(row, expect, rtol=1e-5, atol=1e-4)


def test_logmel_multichannel_and_params(rng):
    import librosa

    X = rng.standard_normal((3, 1024 + 2 * 256, 2)).astype(np.float32)
    fp = FeaturePipeline(kind="logmel", sr=8000.0, n_mels=40, n_fft=1024, hop_length=256, n_frames=3, fmax=3000.0)
    F = fp.transform(X)
    assert F.shape == (3, 2 * 40 * 3) == (3, fp.n_features(X.shape[1], 2))
    mel = librosa.feature.melspectrogram(y=X[1, :, 1], sr=8000, n_fft=1024, hop_length=256, n_mels=40,
                                         fmax=3000.0, center=False)
    np.testing.assert_allclose(F[1, 120:], (10 * np.log10(mel + EPS)).T.reshape(-1), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("change", [dict(n_mels=64), dict(power=1.0), dict(fmin=200.0), dict(fmax=4000.0),
                                   dict(htk=True), dict(mel_norm=None), dict(eps=1e-3)])
def test_each_logmel_parameter_changes_result(rng, change):
    base = dict(kind="logmel", sr=16000.0)
    X = rng.standard_normal((2, 3072, 1)).astype(np.float32) * 1e-3
    a = FeaturePipeline(**base).transform(X)
    b = FeaturePipeline(**base, **change).transform(X)
    assert a.shape != b.shape or not np.allclose(a, b)


def test_logmel_needs_sr_and_the_right_window(rng):
    with pytest.raises(ParameterError, match="sr"):
        FeaturePipeline(kind="logmel")
    fp = FeaturePipeline(kind="logmel", sr=16000.0)
    assert fp.logmel_window_length() == 3072
    with pytest.raises(ParameterError, match=r"needs windows of 3072 samples.*window_length=3000"):
        fp.transform(np.zeros((1, 3000, 1), np.float32))
    with pytest.raises(ParameterError, match="kind"):
        FeaturePipeline(kind="mfcc")
    with pytest.raises(DataError, match="NaN"):
        fp.transform(np.full((1, 3072, 1), np.nan, np.float32))


def test_raw_and_spectrum(rng):
    X = rng.standard_normal((4, 256, 3)).astype(np.float32)
    raw = FeaturePipeline(kind="raw")
    np.testing.assert_array_equal(raw.transform(X), X.reshape(4, -1))
    sr, L = 1024.0, 256
    t = np.arange(L) / sr
    tone = np.stack([np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 400 * t)], axis=1)[None].astype(np.float32)
    sp = FeaturePipeline(kind="spectrum", n_bands=8)
    F = sp.transform(tone)
    assert F.shape == (1, 16) == (1, sp.n_features(L, 2))
    # bins 1..128 (4 Hz each) in 8 bands of 16 bins = 64 Hz: 100 Hz -> band 1, 400 Hz -> band 6
    assert int(np.argmax(F[0, :8])) == 1 and int(np.argmax(F[0, 8:])) == 6
    lin = FeaturePipeline(kind="spectrum", n_bands=8, db=False).transform(tone)
    # amplitude 1 on bin 25 (Hann: 1 + two 0.5 neighbours) averaged over the band's 16 bins
    assert lin[0, 1] == pytest.approx(2.0 / 16, rel=1e-3)
    with pytest.raises(ParameterError, match="n_bands"):
        FeaturePipeline(kind="spectrum", n_bands=200).transform(tone)


@pytest.mark.parametrize("kind", ["raw", "logmel", "spectrum"])
def test_pipeline_dict_round_trip_reproduces_features(rng, kind):
    fp = FeaturePipeline(kind=kind, sr=16000.0, n_mels=32, n_bands=16)
    X = rng.standard_normal((2, fp.logmel_window_length(), 1)).astype(np.float32)
    d = json.loads(json.dumps(fp.to_dict()))
    fp2 = FeaturePipeline.from_dict(d)
    assert fp2 == fp
    np.testing.assert_array_equal(fp2.transform(X), fp.transform(X))
    with pytest.raises(ParameterError, match="kind"):
        FeaturePipeline.from_dict({"n_mels": 3})


# --------------------------------------------------------------------------- Normalizer
def test_normalizer_fits_normal_rows_only(rng):
    F = rng.normal(5.0, 2.0, size=(200, 4)).astype(np.float32)
    y = np.zeros(200, np.int8)
    F[:20] += 100.0
    y[:20] = 1
    nz = Normalizer().fit(F, y)
    np.testing.assert_allclose(nz.mean_, F[20:].mean(axis=0), rtol=1e-5)
    Z = nz.transform(F[20:])
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(nz.inverse_transform(Z), F[20:], rtol=1e-5, atol=1e-4)


def test_normalizer_constant_feature_and_global(rng):
    F = np.concatenate([rng.normal(0, 3.0, (50, 3)), np.full((50, 1), 7.0)], axis=1).astype(np.float32)
    nz = Normalizer().fit(F)
    assert nz.scale_[3] > 1e-3  # floored: a tiny change on new data stays tiny
    new = F[:1].copy()
    new[0, 3] += 0.01
    assert abs(nz.transform(new)[0, 3]) < 10
    g = Normalizer(mode="global").fit(F)
    assert np.unique(g.mean_).size == 1 and np.unique(g.scale_).size == 1
    np.testing.assert_array_equal(Normalizer(mode="none").fit(F).transform(F), F)
    assert not np.allclose(Normalizer(std_floor=0.5).fit(F).scale_, nz.scale_)
    with pytest.raises(ParameterError, match="mode"):
        Normalizer(mode="minmax")
    with pytest.raises(ParameterError, match="not fitted"):
        Normalizer().transform(F)
    with pytest.raises(ParameterError, match="4 features"):
        nz.transform(F[:, :3])


@pytest.mark.parametrize("mode", ["feature", "global"])
def test_normalizer_json_round_trip_is_exact(rng, mode):
    F = (rng.standard_normal((30, 5)) * [1, 10, 1e-3, 1e4, 0.3]).astype(np.float32)
    nz = Normalizer(mode=mode).fit(F)
    nz2 = Normalizer.from_dict(json.loads(json.dumps(nz.to_dict())))
    np.testing.assert_array_equal(nz2.mean_, nz.mean_)
    np.testing.assert_array_equal(nz2.scale_, nz.scale_)
    np.testing.assert_array_equal(nz2.transform(F), nz.transform(F))
    assert nz2.mode == mode
