"""The built-in simulator: deterministic, labelled, and each label shows its physical signature."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from edgesynth.data.dataset import Dataset
from edgesynth.data.simulate import (
    ECG_ABNORMALITIES,
    VIBRATION_FAULTS,
    EcgStream,
    VibrationStream,
    simulate_ecg,
    simulate_vibration,
)
from edgesynth.errors import ParameterError

SR = 4000.0


@pytest.fixture(scope="module")
def vib():
    return simulate_vibration(240, anomaly_fraction=0.5, seed=7)


@pytest.fixture(scope="module")
def ecg():
    return simulate_ecg(300, anomaly_fraction=0.4, normalize=False, seed=5)


def _amp(x, f, sr=SR):
    """Magnitude of the Hann-windowed spectrum of ``x`` at the bin nearest ``f`` Hz (+-1 bin max)."""
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    k = int(round(f * len(x) / sr))
    return spec[max(k - 1, 0):k + 2].max()


def _envelope_peak(x, resonance, sr=SR, fmax=400.0):
    sos = butter(4, [resonance - 300, resonance + 300], "bandpass", fs=sr, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x)))
    spec = np.abs(np.fft.rfft(env - env.mean()))
    f = np.fft.rfftfreq(len(x), 1 / sr)
    band = (f > 20) & (f < fmax)
    return f[band][np.argmax(spec[band])], spec[band].max() / np.median(spec[band])


# ----------------------------------------------------------------------------- vibration windows
def test_vibration_dataset_contract(vib):
    assert isinstance(vib, Dataset)
    assert vib.X.shape == (240, 1024, 3) and vib.X.dtype == np.float32
    assert vib.channel_names == ["x", "y", "z"] and vib.sr == SR
    assert vib.source == "simulate:vibration" and len(vib.sha256) == 64
    np.testing.assert_array_equal(vib.y, (vib.labels != "normal").astype(np.int8))
    labels, counts = np.unique(vib.labels[vib.y == 1], return_counts=True)
    assert set(labels) == set(VIBRATION_FAULTS) and counts.max() - counts.min() <= 1
    assert vib.y.sum() == 120
    # several windows per recording, recordings contiguous
    _, per_group = np.unique(vib.groups, return_counts=True)
    assert len(per_group) == 30 and per_group.min() >= 8
    assert np.all(np.diff(vib.groups) >= 0)
    assert len(vib.meta["window_params"]) == 240
    assert np.all(np.isfinite(vib.X))


def test_vibration_same_seed_same_data_other_seed_differs():
    a = simulate_vibration(12, window_length=256, seed=3)
    b = simulate_vibration(12, window_length=256, seed=3)
    c = simulate_vibration(12, window_length=256, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.sha256 == b.sha256 != c.sha256
    assert not np.allclose(a.X, c.X)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_length": 512},
        {"sr": 8000.0},
        {"anomaly_fraction": 0.5},
        {"faults": ("spike",)},
        {"n_recordings": 4},
    ],
)
def test_vibration_each_parameter_changes_output(kwargs):
    base = simulate_vibration(16, window_length=256, anomaly_fraction=0.25, seed=1)
    if "window_length" not in kwargs:
        kwargs = {"window_length": 256, **kwargs}
    other = simulate_vibration(16, **{"anomaly_fraction": 0.25, "seed": 1, **kwargs})
    assert other.X.shape != base.X.shape or not np.array_equal(other.X, base.X)


def test_anomaly_fraction_extremes():
    assert simulate_vibration(10, window_length=128, anomaly_fraction=0.0).y.sum() == 0
    assert simulate_vibration(10, window_length=128, anomaly_fraction=1.0).y.sum() == 10


def test_bearing_windows_envelope_peaks_at_bpfo(vib):
    idx = np.flatnonzero(vib.labels == "bearing")
    assert idx.size >= 15
    for i in idx:
        bpfo = vib.meta["bpfo_hz"][i]
        assert vib.meta["window_params"][i]["bpfo_hz"] == bpfo
        f_peak, _ = _envelope_peak(vib.X[i, :, 1].astype(float), vib.meta["resonance_hz"][i])
        assert abs(f_peak - bpfo) <= 2 * SR / 1024, (i, f_peak, bpfo)


def test_normal_windows_have_no_bpfo_line(vib):
    def line_strength(i):
        x = vib.X[i, :, 1].astype(float)
        sos = butter(4, [vib.meta["resonance_hz"][i] - 300, vib.meta["resonance_hz"][i] + 300],
                     "bandpass", fs=SR, output="sos")
        env = np.abs(hilbert(sosfiltfilt(sos, x)))
        return _amp(env, vib.meta["bpfo_hz"][i]) / np.median(np.abs(np.fft.rfft(env - env.mean()))[5:100])

    bearing = [line_strength(i) for i in np.flatnonzero(vib.labels == "bearing")]
    normal = [line_strength(i) for i in np.flatnonzero(vib.labels == "normal")]
    assert np.median(bearing) > 4 * np.median(normal)


def _same_recording_normals(ds, i):
    return np.flatnonzero((ds.groups == ds.groups[i]) & (ds.labels == "normal"))


def test_imbalance_grows_the_1x_harmonic(vib):
    for i in np.flatnonzero(vib.labels == "imbalance"):
        normals = _same_recording_normals(vib, i)
        if normals.size == 0:
            continue
        f1 = vib.meta["shaft_hz"][i]
        ref = np.mean([_amp(vib.X[j, :, 0], f1) for j in normals])
        assert _amp(vib.X[i, :, 0], f1) > 1.8 * ref


def test_looseness_adds_half_harmonics(vib):
    for i in np.flatnonzero(vib.labels == "looseness"):
        normals = _same_recording_normals(vib, i)
        if normals.size == 0:
            continue
        f_half = [vib.meta["shaft_hz"][i] * k for k in (0.5, 1.5, 2.5)]
        energy = sum(_amp(vib.X[i, :, 1], f) for f in f_half)
        ref = np.mean([sum(_amp(vib.X[j, :, 1], f) for f in f_half) for j in normals])
        assert energy > 3 * ref


def _spikiness(x):
    d = np.diff(x.astype(float), axis=0)
    return (np.abs(d).max(axis=0) / d.std(axis=0)).max()


def test_spike_windows_have_large_jumps(vib):
    spiky = [_spikiness(vib.X[i]) for i in np.flatnonzero(vib.labels == "spike")]
    normal = [_spikiness(vib.X[i]) for i in np.flatnonzero(vib.labels == "normal")]
    assert min(spiky) > 1.5 * max(normal)


def _longest_zero_run(x):
    flat = np.all(x == 0.0, axis=1).astype(int)
    best = run = 0
    for v in flat:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def test_dropout_windows_have_a_flat_zero_run(vib):
    for i in np.flatnonzero(vib.labels == "dropout"):
        p = vib.meta["window_params"][i]
        assert _longest_zero_run(vib.X[i]) >= p["length"] >= 0.1 * 1024
    assert max(_longest_zero_run(vib.X[i]) for i in np.flatnonzero(vib.labels == "normal")) == 0


def test_saturation_windows_clip(vib):
    def clipped_fraction(x):
        peak = np.abs(x).max(axis=0)
        return np.mean(np.abs(x) >= peak * (1 - 1e-6))

    sat = [clipped_fraction(vib.X[i]) for i in np.flatnonzero(vib.labels == "saturation")]
    normal = [clipped_fraction(vib.X[i]) for i in np.flatnonzero(vib.labels == "normal")]
    assert min(sat) > 0.02 > max(normal)


# ----------------------------------------------------------------------------- streams
@pytest.mark.parametrize("cls", [VibrationStream, EcgStream])
def test_stream_is_continuous_across_reads(cls):
    one = cls(seed=11).read(1000)
    s = cls(seed=11)
    parts = np.concatenate([s.read(1), s.read(299), s.read(700)])
    np.testing.assert_allclose(parts, one, atol=1e-5)


@pytest.mark.parametrize("cls,n_ch,names", [(VibrationStream, 3, ["x", "y", "z"]), (EcgStream, 1, ["ecg"])])
def test_stream_shape_names_and_seed(cls, n_ch, names):
    s = cls(seed=2)
    x = s.read(333)
    assert x.shape == (333, n_ch) and x.dtype == np.float32
    assert s.n_channels == n_ch and s.channel_names == names
    np.testing.assert_array_equal(cls(seed=2).read(333), x)
    assert not np.allclose(cls(seed=3).read(333), x)


@pytest.mark.parametrize("fault", VIBRATION_FAULTS)
def test_vibration_stream_faults_change_output_and_are_recorded(fault):
    normal = VibrationStream(seed=5).read(2048)
    s = VibrationStream(seed=5)
    faulty = s.read(2048, fault=fault, severity=0.8)
    assert not np.allclose(faulty, normal)
    assert s.last_fault["fault"] == fault and s.last_fault["severity"] == 0.8


def test_vibration_stream_severity_changes_output():
    a = VibrationStream(seed=5).read(1024, fault="imbalance", severity=0.2)
    b = VibrationStream(seed=5).read(1024, fault="imbalance", severity=0.9)
    assert np.abs(b).max() > np.abs(a).max()


@pytest.mark.parametrize("fault", EcgStream.faults)
def test_ecg_stream_faults(fault):
    n = 1500  # 6 s at 250 Hz: a beat fault lands within the read
    normal = EcgStream(seed=4).read(n)
    s = EcgStream(seed=4)
    faulty = s.read(n, fault=fault)
    assert s.last_fault["fault"] == fault
    assert not np.allclose(faulty, normal)


def test_stream_bad_input():
    s = VibrationStream(seed=0)
    with pytest.raises(ParameterError, match="n_samples"):
        s.read(0)
    with pytest.raises(ParameterError, match="fault"):
        s.read(10, fault="meltdown")
    with pytest.raises(ParameterError, match="severity"):
        s.read(10, fault="spike", severity=2.0)
    with pytest.raises(ParameterError, match="sr"):
        VibrationStream(-1.0)
    with pytest.raises(ParameterError, match="fault"):
        EcgStream(seed=0).read(10, fault="bearing")


# ----------------------------------------------------------------------------- ECG beats
def test_ecg_dataset_contract():
    ds = simulate_ecg(60, anomaly_fraction=0.2, seed=1)
    assert ds.X.shape == (60, 140, 1) and ds.X.dtype == np.float32
    assert ds.channel_names == ["ecg"] and ds.source == "simulate:ecg"
    assert ds.y.sum() == 12 and set(ds.labels[ds.y == 1]) == set(ECG_ABNORMALITIES)
    np.testing.assert_allclose(ds.X.mean(axis=1), 0, atol=1e-4)  # z-normalized like ECG5000
    np.testing.assert_allclose(ds.X.std(axis=1), 1, atol=1e-3)
    assert len(np.unique(ds.groups)) == 3
    raw = simulate_ecg(60, anomaly_fraction=0.2, seed=1, normalize=False)
    assert not np.allclose(raw.X.std(axis=1), 1, atol=0.05)


def test_ecg_same_seed_same_data():
    np.testing.assert_array_equal(simulate_ecg(20, seed=9).X, simulate_ecg(20, seed=9).X)
    assert not np.allclose(simulate_ecg(20, seed=9).X, simulate_ecg(20, seed=10).X)


@pytest.mark.parametrize(
    "kwargs", [{"length": 100}, {"anomaly_fraction": 0.5}, {"abnormalities": ("pvc",)},
               {"n_recordings": 5}, {"normalize": False}]
)
def test_ecg_each_parameter_changes_output(kwargs):
    base = simulate_ecg(20, anomaly_fraction=0.2, seed=1)
    other = simulate_ecg(20, **{"anomaly_fraction": 0.2, "seed": 1, **kwargs})
    assert other.X.shape != base.X.shape or not np.array_equal(other.X, base.X)


def _qrs_width(beat):
    dev = np.abs(beat - np.median(beat))
    return int(np.sum(dev > 0.5 * dev.max()))


def test_pvc_beats_have_wide_qrs(ecg):
    w = np.array([_qrs_width(b) for b in ecg.X[:, :, 0]])
    assert w[ecg.labels == "pvc"].min() > 1.5 * w[ecg.labels == "normal"].max()


def test_pvc_beats_are_premature(ecg):
    x = ecg.X[:, :, 0]
    peak = np.argmax(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)
    r = int(0.4 * x.shape[1])  # sinus R position in the window
    assert np.all(np.abs(peak[ecg.labels == "normal"] - r) <= 2)
    assert np.all(peak[ecg.labels == "pvc"] < r - 10)
    assert all(ecg.meta["window_params"][i]["prematurity_s"] > 0 for i in np.flatnonzero(ecg.labels == "pvc"))


def test_st_shift_moves_the_st_segment(ecg):
    r = int(0.4 * ecg.X.shape[1])  # the sinus R time sits at 40 % of the window

    def st_level(i):  # ST segment relative to the PR segment of the same beat
        x = ecg.X[i, :, 0]
        return x[r + 12:r + 28].mean() - x[r - 20:r - 12].mean()

    for i in np.flatnonzero(ecg.labels == "st_shift"):
        normals = np.flatnonzero((ecg.groups == ecg.groups[i]) & (ecg.labels == "normal"))
        shift = st_level(i) - np.median([st_level(j) for j in normals])
        expected = ecg.meta["window_params"][i]["st_mv"]
        assert np.sign(shift) == np.sign(expected) and abs(shift) > 0.5 * abs(expected), (shift, expected)


@pytest.mark.parametrize(
    "fn,kwargs,match",
    [
        (simulate_vibration, {"n_windows": 0}, "n_windows"),
        (simulate_vibration, {"n_windows": 4, "anomaly_fraction": 1.5}, "anomaly_fraction"),
        (simulate_vibration, {"n_windows": 4, "faults": ("meltdown",)}, "faults"),
        (simulate_vibration, {"n_windows": 4, "faults": ()}, "faults"),
        (simulate_vibration, {"n_windows": 4, "sr": 0.0}, "sr"),
        (simulate_vibration, {"n_windows": 4, "window_length": -3}, "window_length"),
        (simulate_ecg, {"n_beats": 4, "abnormalities": ("afib",)}, "abnormalities"),
        (simulate_ecg, {"n_beats": 4, "length": 8}, "length"),
        (simulate_ecg, {"n_beats": 2.5}, "n_beats"),
    ],
)
def test_bad_arguments(fn, kwargs, match):
    n = kwargs.pop("n_windows", None) if fn is simulate_vibration else kwargs.pop("n_beats")
    with pytest.raises(ParameterError, match=match):
        fn(n, **kwargs)


def test_ecg_stream_fault_held_over_short_reads_gives_few_abnormal_beats():
    """Like the device simulator: 10 ms reads, a 0.5 s fault, then normal signal."""
    s = EcgStream(250.0, seed=8)
    seen = []
    for i in range(2500):  # 10 s
        s.read(3, fault="pvc" if i < 50 else None)
        if s.last_fault:
            seen.append(s.last_fault["r_time_s"])
    assert 1 <= len(seen) <= 2
    assert max(seen) < 2.5
