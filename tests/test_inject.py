"""Physical anomaly injection: every kind produces its labelled effect, honours seed and parameters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import hilbert

from edgesynth.data.simulate import simulate_ecg
from edgesynth.errors import DataError, ParameterError
from edgesynth.synth.inject import INJECTIONS, default_kinds, inject, inject_random

SR = 4000.0
ALL_KINDS = sorted(INJECTIONS)


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(440).normal(0.0, 2.0, size=(6, 1024, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def beats():
    return simulate_ecg(8, anomaly_fraction=0.0, seed=0).X


def _inputs(kind, noise, beats):
    return beats if kind in ("widened_qrs", "st_shift", "premature_beat") else noise


def _peak_freq(x, sr=SR):
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    spec[0] = 0
    return np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)]


def _tone(f, L=1024, C=1, sr=SR):
    t = np.arange(L) / sr
    return np.repeat(np.sin(2 * np.pi * f * t)[None, :, None], C, axis=2).astype(np.float32)


# ----------------------------------------------------------------------------- registry
def test_registry_documents_every_kind():
    expected = {"spike", "level_shift", "drift", "noise_burst", "dropout", "saturation", "impulses",
                "harmonic_growth", "frequency_shift", "widened_qrs", "st_shift", "premature_beat"}
    assert set(INJECTIONS) == expected
    for name, fn in INJECTIONS.items():
        assert fn.kind == name and fn.__doc__ and fn.defaults
        for param in fn.defaults:
            assert param in fn.__doc__, (name, param)
    assert [k for k, fn in INJECTIONS.items() if fn.needs_sr] == ["impulses"]


@pytest.mark.parametrize("domain", ["vibration", "ecg", "generic"])
def test_default_kinds(domain):
    kinds = default_kinds(domain)
    assert kinds and set(kinds) <= set(INJECTIONS)


def test_default_kinds_unknown_domain():
    with pytest.raises(ParameterError, match="domain"):
        default_kinds("audio")


# ----------------------------------------------------------------------------- common behaviour
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_shape_dtype_seed_and_input_untouched(kind, noise, beats):
    X = _inputs(kind, noise, beats)
    before = X.copy()
    a = inject(X, kind, sr=SR, seed=1)
    assert a.shape == X.shape and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(X, before)
    assert not np.allclose(a, X)
    np.testing.assert_array_equal(inject(X, kind, sr=SR, seed=1), a)
    assert not np.array_equal(inject(X, kind, sr=SR, seed=2), a)
    two_d = inject(X[:, :, 0], kind, sr=SR, seed=1)
    assert two_d.shape == X.shape[:2]


# One test per hyper-parameter: changing it (same seed) changes the output.
PARAM_CASES = [
    ("spike", "n_spikes", 1, 5),
    ("spike", "amplitude", 4.0, 8.0),
    ("spike", "width", 1, 4),
    ("spike", "channels", "all", "one"),
    ("level_shift", "shift", 2.0, 4.0),
    ("level_shift", "start", 0.2, 0.6),
    ("level_shift", "sign", "up", "down"),
    ("drift", "amount", 2.0, 5.0),
    ("drift", "start", 0.0, 0.5),
    ("drift", "sign", "up", "down"),
    ("noise_burst", "amplitude", 1.0, 3.0),
    ("noise_burst", "duration", 0.1, 0.3),
    ("noise_burst", "start", 0.1, 0.5),
    ("dropout", "duration", 0.1, 0.4),
    ("dropout", "start", 0.1, 0.5),
    ("dropout", "mode", "zero", "hold"),
    ("saturation", "level", 0.3, 0.7),
    ("frequency_shift", "factor", 1.2, 1.4),
    ("frequency_shift", "direction", "up", "down"),
    ("harmonic_growth", "gain", 2.0, 4.0),
    ("harmonic_growth", "harmonic", 1, 2),
    ("harmonic_growth", "bandwidth", 0, 3),
    ("impulses", "frequency", 100.0, 150.0),
    ("impulses", "resonance", 800.0, 1200.0),
    ("impulses", "damping", 0.02, 0.1),
    ("impulses", "amplitude", 3.0, 6.0),
    ("impulses", "jitter", 0.0, 0.05),
    ("widened_qrs", "factor", 1.6, 2.5),
    ("widened_qrs", "qrs_width", None, 0.1),
    ("st_shift", "shift", 0.5, 1.0),
    ("st_shift", "sign", "up", "down"),
    ("st_shift", "start", 0.05, 0.1),
    ("st_shift", "duration", 0.2, 0.3),
    ("premature_beat", "shift", 0.05, 0.15),
]


def test_param_cases_cover_every_parameter():
    covered = {(k, p) for k, p, _, _ in PARAM_CASES}
    assert covered == {(k, p) for k, fn in INJECTIONS.items() for p in fn.defaults}


@pytest.mark.parametrize("kind,param,a,b", PARAM_CASES)
def test_each_parameter_changes_output(kind, param, a, b, noise, beats):
    X = _inputs(kind, noise, beats)
    if kind == "harmonic_growth":
        X = _tone(100.0, C=3) + 0.3 * _tone(200.0, C=3) + 0.01 * noise[:1]
    out_a = inject(X, kind, sr=SR, seed=3, **{param: a})
    out_b = inject(X, kind, sr=SR, seed=3, **{param: b})
    assert not np.allclose(out_a, out_b)


def test_ranges_are_drawn_per_window(noise):
    _, params = inject(noise, "level_shift", seed=0, return_params=True, shift=(1.0, 5.0))
    shifts = [p["shift"] for p in params]
    assert len(set(shifts)) == len(noise) and all(1.0 <= s <= 5.0 for s in shifts)
    _, params = inject(noise, "spike", seed=0, return_params=True, n_spikes=(1, 3))
    assert all(isinstance(p["n_spikes"], int) and 1 <= p["n_spikes"] <= 3 for p in params)


# ----------------------------------------------------------------------------- labelled effects
def test_impulses_envelope_and_psd_at_requested_frequencies():
    X = np.random.default_rng(1).normal(0, 0.1, size=(3, 4096, 1)).astype(np.float32)
    Y = inject(X, "impulses", sr=SR, seed=0, frequency=125.0, resonance=1000.0, amplitude=5.0, jitter=0.0)
    f = np.fft.rfftfreq(4096, 1 / SR)
    for y in Y[:, :, 0].astype(float):
        assert abs(_peak_freq(y) - 1000.0) < 60  # PSD: the excited resonance
        env = np.abs(hilbert(y))
        spec = np.abs(np.fft.rfft(env - env.mean()))
        band = (f > 20) & (f < 400)
        assert abs(f[band][np.argmax(spec[band])] - 125.0) <= SR / 4096  # envelope: the defect rate


def test_level_shift_changes_mean_by_shift_times_std(noise):
    Y = inject(noise, "level_shift", seed=0, shift=3.0, start=0.5, sign="up")
    std = noise.std(axis=1)
    np.testing.assert_allclose(Y[:, 512:] - noise[:, 512:], np.broadcast_to(3.0 * std[:, None, :], (6, 512, 3)), rtol=1e-4)
    np.testing.assert_array_equal(Y[:, :512], noise[:, :512])
    down = inject(noise, "level_shift", seed=0, shift=3.0, start=0.5, sign="down")
    assert np.all(down[:, -1] < noise[:, -1])


def test_drift_ramps_to_amount(noise):
    Y = inject(noise, "drift", seed=0, amount=4.0, start=0.25, sign="up")
    d = Y - noise
    np.testing.assert_allclose(d[:, -1], 4.0 * noise.std(axis=1), rtol=1e-4)
    np.testing.assert_allclose(d[:, :256], 0, atol=1e-6)
    assert np.all(np.diff(d[:, 256:], axis=1) >= -1e-5)


def test_spike_count_and_height(noise):
    Y = inject(noise, "spike", seed=0, n_spikes=3, amplitude=6.0)
    d = np.abs(Y - noise)
    changed = np.any(d > 0, axis=2).sum(axis=1)
    np.testing.assert_array_equal(changed, 3)
    np.testing.assert_allclose(d.max(axis=1), 6.0 * noise.std(axis=1), rtol=1e-4)


def test_noise_burst_is_a_contiguous_louder_segment(noise):
    Y = inject(noise, "noise_burst", seed=0, amplitude=3.0, duration=0.25)
    d = Y - noise
    for i in range(len(noise)):
        idx = np.flatnonzero(np.any(d[i] != 0, axis=1))
        assert idx.size == 256 and idx[-1] - idx[0] == 255
        assert 2.5 < d[i, idx].std() / noise[i].std() < 3.5


@pytest.mark.parametrize("mode", ["zero", "hold"])
def test_dropout_flatlines(mode, noise):
    Y = inject(noise, "dropout", seed=0, duration=0.2, start=0.4, mode=mode)
    seg = Y[:, 410:615]
    assert np.all(seg == seg[:, :1])
    if mode == "zero":
        assert np.all(seg == 0)
    else:
        np.testing.assert_array_equal(seg[:, 0], noise[:, 409])


def test_saturation_clips_at_level(noise):
    Y = inject(noise, "saturation", seed=0, level=0.4)
    mu = noise.mean(axis=1, keepdims=True)
    peak = np.abs(noise - mu).max(axis=1, keepdims=True)
    assert np.all(np.abs(Y - mu) <= 0.4 * peak + 1e-5)
    at_rail = np.isclose(np.abs(Y - mu), 0.4 * peak, rtol=1e-4)
    assert np.all(at_rail.mean(axis=1) > 0.05)


@pytest.mark.parametrize("direction,factor", [("up", 1.25), ("down", 1.25)])
def test_frequency_shift_moves_the_dominant_peak(direction, factor):
    X = _tone(200.0, L=2048)
    Y = inject(X, "frequency_shift", sr=SR, seed=0, factor=factor, direction=direction)
    expected = 200.0 * factor if direction == "up" else 200.0 / factor
    assert abs(_peak_freq(Y[0, :, 0], SR) - expected) <= 2 * SR / 2048


@pytest.mark.parametrize("harmonic,f", [(1, 100.0), (2, 200.0)])
def test_harmonic_growth_amplifies_the_dominant_harmonic(harmonic, f):
    X = _tone(100.0) + 0.2 * _tone(200.0) + 0.1 * _tone(437.0)
    Y = inject(X, "harmonic_growth", seed=0, gain=3.0, harmonic=harmonic)

    def amp(x, freq):
        return np.abs(np.fft.rfft(x))[round(freq * 1024 / SR)]

    assert amp(Y[0, :, 0], f) == pytest.approx(3.0 * amp(X[0, :, 0], f), rel=1e-3)
    assert amp(Y[0, :, 0], 437.0) == pytest.approx(amp(X[0, :, 0], 437.0), rel=0.05)


def _qrs_width(beat):
    dev = np.abs(beat - np.median(beat))
    return int(np.sum(dev > 0.5 * dev.max()))


def test_widened_qrs_widens(beats):
    Y = inject(beats, "widened_qrs", seed=0, factor=2.0)
    for x, y in zip(beats[:, :, 0], Y[:, :, 0]):
        assert _qrs_width(y) >= 1.6 * _qrs_width(x)
        assert np.argmax(y) == np.argmax(x)


@pytest.mark.parametrize("sign", ["up", "down"])
def test_st_shift_offsets_the_segment_after_r(sign, beats):
    Y = inject(beats, "st_shift", seed=0, shift=0.8, sign=sign, start=0.05, duration=0.25)
    r = np.argmax(np.abs(beats[:, :, 0] - np.median(beats[:, :, 0], axis=1, keepdims=True)), axis=1)
    for i in range(len(beats)):
        mid = r[i] + 7 + 17  # middle of the 35-sample segment
        d = Y[i, mid, 0] - beats[i, mid, 0]
        assert d == pytest.approx((0.8 if sign == "up" else -0.8) * beats[i, :, 0].std(), rel=1e-4)
        np.testing.assert_array_equal(Y[i, : r[i] + 7], beats[i, : r[i] + 7])


def test_premature_beat_moves_r_earlier(beats):
    Y = inject(beats, "premature_beat", seed=0, shift=0.1)
    assert np.all(np.argmax(beats[:, :, 0], axis=1) - np.argmax(Y[:, :, 0], axis=1) == 14)


# ----------------------------------------------------------------------------- inject_random
def test_inject_random_balanced_and_seeded(noise):
    Xa, kinds = inject_random(noise, 28, kinds="vibration", sr=SR, seed=0)
    assert Xa.shape == (28, 1024, 3) and Xa.dtype == np.float32 and kinds.shape == (28,)
    _, counts = np.unique(kinds, return_counts=True)
    assert set(kinds) == set(default_kinds("vibration")) and counts.min() == counts.max() == 4
    Xb, kinds_b = inject_random(noise, 28, kinds="vibration", sr=SR, seed=0)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(kinds, kinds_b)
    Xc, _ = inject_random(noise, 28, kinds="vibration", sr=SR, seed=1)
    assert not np.allclose(Xa, Xc)


def test_inject_random_defaults_and_params(noise):
    _, kinds = inject_random(noise, 16, seed=0)
    assert set(kinds) == set(default_kinds("generic"))
    _, kinds = inject_random(noise, 18, sr=SR, seed=0)
    assert "impulses" in set(kinds)
    X2, kinds, params = inject_random(noise[:, :, 0], 5, kinds=["spike"], seed=0, return_params=True)
    assert X2.shape == (5, 1024) and set(kinds) == {"spike"}
    assert all(p["kind"] == "spike" and 0 <= p["source_index"] < 6 for p in params)


# ----------------------------------------------------------------------------- bad input
def test_unknown_kind_lists_valid_kinds(noise):
    with pytest.raises(ParameterError, match="valid kinds.*level_shift"):
        inject(noise, "meltdown")
    with pytest.raises(ParameterError, match="unknown injection kind"):
        inject_random(noise, 3, kinds=["spike", "meltdown"])


def test_missing_sr(noise):
    with pytest.raises(ParameterError, match="sr"):
        inject(noise, "impulses")
    with pytest.raises(ParameterError, match="sr"):
        inject_random(noise, 3, kinds="vibration")


@pytest.mark.parametrize(
    "X,err,match",
    [
        (np.full((2, 64, 1), np.nan, dtype=np.float32), DataError, "NaN"),
        (np.zeros(64, dtype=np.float32), ParameterError, "ndim"),
        (np.zeros((1, 2, 64, 1), dtype=np.float32), ParameterError, "ndim"),
        (np.zeros((2, 4, 1), dtype=np.float32), ParameterError, "at least"),
        (np.zeros((0, 64, 1), dtype=np.float32), DataError, "at least"),
    ],
)
def test_bad_arrays(X, err, match):
    with pytest.raises(err, match=match):
        inject(X, "spike", seed=0)


@pytest.mark.parametrize(
    "kind,params,match",
    [
        ("spike", {"height": 3.0}, "unknown parameter"),
        ("spike", {"amplitude": -1.0}, "amplitude"),
        ("spike", {"n_spikes": 0}, "n_spikes"),
        ("level_shift", {"start": 1.5}, "start"),
        ("level_shift", {"sign": "sideways"}, "sign"),
        ("dropout", {"mode": "nan"}, "mode"),
        ("saturation", {"level": (0.9, 0.1)}, "low <= high"),
        ("saturation", {"level": (0.1, 0.2, 0.3)}, "pair"),
        ("impulses", {"resonance": 3000.0}, "resonance"),
    ],
)
def test_bad_params(kind, params, match, noise):
    with pytest.raises(ParameterError, match=match):
        inject(noise, kind, sr=SR, seed=0, **params)


def test_bad_sr_and_n(noise):
    with pytest.raises(ParameterError, match="sr"):
        inject(noise, "spike", sr=-5.0)
    with pytest.raises(ParameterError, match="`n`"):
        inject_random(noise, 0)


# ----------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(ALL_KINDS),
    n=st.integers(1, 3),
    L=st.integers(8, 200),
    C=st.integers(1, 3),
    two_d=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_shape_preserved_input_untouched(kind, n, L, C, two_d, seed):
    X = np.random.default_rng(seed).normal(size=(n, L) if two_d else (n, L, C)).astype(np.float32)
    before = X.copy()
    Y = inject(X, kind, sr=1000.0, seed=seed)
    assert Y.shape == X.shape and Y.dtype == np.float32 and np.all(np.isfinite(Y))
    np.testing.assert_array_equal(X, before)


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(1e-3, 1e4), offset=st.floats(-1e3, 1e3))
def test_property_magnitudes_follow_the_window_scale(scale, offset):
    """Relative magnitudes: injecting into a*x + b equals a*inject(x) + b."""
    X = np.random.default_rng(0).normal(size=(2, 128, 2))
    for kind in ("level_shift", "spike", "drift", "saturation", "noise_burst"):
        ref = inject(X, kind, seed=1).astype(float)
        got = inject(scale * X + offset, kind, seed=1).astype(float)
        np.testing.assert_allclose((got - offset) / scale, ref, rtol=1e-3, atol=1e-3 * (1 + abs(offset) / scale))
