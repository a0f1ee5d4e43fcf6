"""Classic augmentation: shapes kept, input untouched, seeded, and every parameter matters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesynth.errors import DataError, ParameterError
from edgesynth.synth.augment import (
    AUGMENTATIONS,
    jitter,
    magnitude_warp,
    mixup,
    scaling,
    time_warp,
    window_slice,
)

NAMES = sorted(AUGMENTATIONS)


@pytest.fixture(scope="module")
def X():
    t = np.linspace(0, 4 * np.pi, 200)
    rng = np.random.default_rng(440)
    base = np.stack([np.sin(t), np.cos(2 * t), 0.5 * np.sin(3 * t)], axis=1)
    return (base[None] + 0.1 * rng.normal(size=(10, 200, 3))).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_seed_and_input_untouched(name, X):
    fn = AUGMENTATIONS[name]
    before = X.copy()
    a = fn(X, seed=1)
    assert a.shape == X.shape and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(X, before)
    assert not np.allclose(a, X)
    np.testing.assert_array_equal(fn(X, seed=1), a)
    assert not np.allclose(fn(X, seed=2), a)
    assert fn(X[:, :, 0], seed=1).shape == X.shape[:2]


@pytest.mark.parametrize(
    "name,param,a,b",
    [
        ("jitter", "sigma", 0.05, 0.2),
        ("scaling", "sigma", 0.1, 0.3),
        ("magnitude_warp", "sigma", 0.1, 0.3),
        ("magnitude_warp", "knots", 2, 6),
        ("time_warp", "sigma", 0.1, 0.3),
        ("time_warp", "knots", 2, 6),
        ("window_slice", "reduce_ratio", 0.8, 0.95),
        ("mixup", "alpha", 0.2, 2.0),
    ],
)
def test_each_parameter_changes_output(name, param, a, b, X):
    fn = AUGMENTATIONS[name]
    assert not np.allclose(fn(X, seed=3, **{param: a}), fn(X, seed=3, **{param: b}))


@pytest.mark.parametrize(
    "fn,kwargs",
    [(jitter, {"sigma": 0.0}), (scaling, {"sigma": 0.0}), (magnitude_warp, {"sigma": 0.0}),
     (time_warp, {"sigma": 0.0}), (window_slice, {"reduce_ratio": 1.0})],
)
def test_neutral_settings_are_identity(fn, kwargs, X):
    np.testing.assert_allclose(fn(X, seed=0, **kwargs), X, atol=1e-5)


def test_jitter_noise_is_relative_to_window_std(X):
    Y = jitter(100.0 * X, seed=0, sigma=0.1)
    ratio = (Y - 100.0 * X).std(axis=1) / (100.0 * X).std(axis=1)
    np.testing.assert_allclose(ratio, 0.1, rtol=0.2)


def test_scaling_multiplies_each_channel_by_one_factor(X):
    factor = scaling(X, seed=0, sigma=0.2) / X
    np.testing.assert_allclose(factor, np.broadcast_to(factor[:, :1], factor.shape), rtol=1e-4)


def test_time_warp_keeps_endpoints_and_monotonic_signals():
    ramp = np.tile(np.linspace(0, 1, 100, dtype=np.float32)[None, :, None], (5, 1, 1))
    Y = time_warp(ramp, seed=0, sigma=0.3)
    np.testing.assert_allclose(Y[:, [0, -1]], ramp[:, [0, -1]], atol=1e-6)
    assert np.all(np.diff(Y[:, :, 0], axis=1) >= -1e-6)
    assert not np.allclose(Y, ramp)


def test_window_slice_stretches_a_sub_window():
    ramp = np.tile(np.arange(100, dtype=np.float32)[None, :, None], (6, 1, 1))
    Y = window_slice(ramp, seed=0, reduce_ratio=0.5)
    span = Y[:, -1, 0] - Y[:, 0, 0]
    np.testing.assert_allclose(span, 49, atol=1e-4)


def test_mixup_stays_within_class():
    X = np.concatenate([np.zeros((5, 50, 1)), np.full((5, 50, 1), 10.0)]).astype(np.float32)
    X += np.random.default_rng(0).uniform(0, 1, size=X.shape).astype(np.float32)
    y = np.array([0] * 5 + [1] * 5)
    Y = mixup(X, y, seed=0, alpha=1.0)
    assert Y[:5].max() <= 1.0 and Y[5:].min() >= 10.0
    mixed_all = mixup(X, None, seed=0, alpha=1.0)
    assert np.any((mixed_all > 1.0) & (mixed_all < 10.0))


def test_mixup_keeps_each_output_closest_to_its_source():
    X = np.random.default_rng(1).normal(size=(20, 32, 2)).astype(np.float32)
    Y = mixup(X, seed=0, alpha=2.0)
    d = ((Y[:, None] - X[None]) ** 2).sum(axis=(2, 3))
    assert np.all(np.argmin(d, axis=1) == np.arange(20))


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_bad_ndim(name):
    fn = AUGMENTATIONS[name]
    with pytest.raises(DataError, match="NaN"):
        fn(np.full((2, 16, 1), np.nan), seed=0)
    with pytest.raises(ParameterError, match="ndim"):
        fn(np.zeros(16), seed=0)
    with pytest.raises(ParameterError, match="at least 4"):
        fn(np.zeros((2, 3)), seed=0)


@pytest.mark.parametrize(
    "fn,kwargs,match",
    [
        (jitter, {"sigma": -0.1}, "sigma"),
        (scaling, {"sigma": "big"}, "sigma"),
        (magnitude_warp, {"knots": 0}, "knots"),
        (time_warp, {"knots": 1.5}, "knots"),
        (window_slice, {"reduce_ratio": 0.0}, "reduce_ratio"),
        (window_slice, {"reduce_ratio": 1.2}, "reduce_ratio"),
        (mixup, {"alpha": 0.0}, "alpha"),
        (mixup, {"y": np.zeros(3)}, "y"),
    ],
)
def test_bad_parameters(fn, kwargs, match, X):
    with pytest.raises(ParameterError, match=match):
        fn(X, seed=0, **kwargs)


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    n=st.integers(1, 4),
    L=st.integers(4, 150),
    C=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_shapes_preserved(name, n, L, C, seed):
    X = np.random.default_rng(seed).normal(size=(n, L, C)).astype(np.float32)
    before = X.copy()
    Y = AUGMENTATIONS[name](X, seed=seed)
    assert Y.shape == X.shape and Y.dtype == np.float32 and np.all(np.isfinite(Y))
    np.testing.assert_array_equal(X, before)
