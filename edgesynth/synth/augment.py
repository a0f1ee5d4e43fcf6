"""Classic time-series augmentation for either class (Um et al. 2017; Zhang et al. 2018 mixup).

Every function takes windows ``X`` [shape=(n, window_length, n_channels) or (n, window_length)],
returns a new float32 array of the same shape (the input is never modified) and draws its
randomness from ``seed``. Noise-like magnitudes (``sigma`` of :func:`jitter`) are relative to
each window's per-channel standard deviation, so one default fits z-normalized ECG and raw
vibration alike.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(8, 128, 3)).astype(np.float32)
>>> [AUGMENTATIONS[k](X, seed=1).shape for k in ("jitter", "time_warp")]
[(8, 128, 3), (8, 128, 3)]
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from edgesynth.errors import ParameterError
from edgesynth.validation import check_positive_int, check_windows


def _windows(X):
    Xw = check_windows(X)
    if Xw.shape[1] < 4:
        raise ParameterError(f"windows must have at least 4 samples. Received: X.shape={np.shape(X)}")
    return Xw.astype(np.float64)


def _out(Xn, X):
    return Xn.astype(np.float32).reshape(np.shape(X))


def _nonneg(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not v >= 0:
        raise ParameterError(f"`{name}` must be a non-negative number. Received: {name}={v!r}")
    return float(v)


def _smooth_curves(rng, n, L, C, sigma, knots):
    """Random smooth curves around 1 [shape=(n, L, C)]: cubic splines through ``knots`` + 2 points."""
    k = check_positive_int(knots, "knots")
    xs = np.linspace(0, L - 1, k + 2)
    ys = rng.normal(1.0, sigma, size=(n, k + 2, C))
    return CubicSpline(xs, ys, axis=1)(np.arange(L))


def jitter(X, *, seed=None, sigma=0.05):
    """Add Gaussian noise of ``sigma`` x the per-window, per-channel standard deviation.

    Returns np.ndarray [same shape as X, float32].
    """
    Xw = _windows(X)
    s = _nonneg(sigma, "sigma")
    rng = np.random.default_rng(seed)
    std = Xw.std(axis=1, keepdims=True)
    return _out(Xw + rng.standard_normal(Xw.shape) * s * std, X)


def scaling(X, *, seed=None, sigma=0.1):
    """Multiply each window and channel by a factor drawn from N(1, sigma)."""
    Xw = _windows(X)
    s = _nonneg(sigma, "sigma")
    rng = np.random.default_rng(seed)
    return _out(Xw * rng.normal(1.0, s, size=(Xw.shape[0], 1, Xw.shape[2])), X)


def magnitude_warp(X, *, seed=None, sigma=0.2, knots=4):
    """Multiply by a smooth random curve around 1 (cubic spline through ``knots`` interior points)."""
    Xw = _windows(X)
    s = _nonneg(sigma, "sigma")
    rng = np.random.default_rng(seed)
    n, L, C = Xw.shape
    return _out(Xw * _smooth_curves(rng, n, L, C, s, knots), X)


def time_warp(X, *, seed=None, sigma=0.2, knots=4):
    """Resample along a smooth random time axis (local speed-ups and slow-downs).

    The speed curve (as in :func:`magnitude_warp`, shared by all channels) is integrated and
    rescaled so the warped axis still spans the whole window.
    """
    Xw = _windows(X)
    s = _nonneg(sigma, "sigma")
    rng = np.random.default_rng(seed)
    n, L, C = Xw.shape
    speed = np.clip(_smooth_curves(rng, n, L, 1, s, knots)[:, :, 0], 0.05, None)
    t = np.cumsum(speed, axis=1)
    t = (t - t[:, :1]) / (t[:, -1:] - t[:, :1]) * (L - 1)
    grid = np.arange(L)
    out = np.empty_like(Xw)
    for i in range(n):
        for c in range(C):
            out[i, :, c] = np.interp(t[i], grid, Xw[i, :, c])
    return _out(out, X)


def window_slice(X, *, seed=None, reduce_ratio=0.9):
    """Crop a random slice of ``reduce_ratio`` x window_length and stretch it back to full length."""
    Xw = _windows(X)
    if isinstance(reduce_ratio, bool) or not isinstance(reduce_ratio, (int, float)) or not 0 < reduce_ratio <= 1:
        raise ParameterError(f"`reduce_ratio` must be in (0, 1]. Received: reduce_ratio={reduce_ratio!r}")
    rng = np.random.default_rng(seed)
    n, L, C = Xw.shape
    m = max(2, int(round(reduce_ratio * L)))
    starts = rng.integers(0, L - m + 1, size=n)
    src = np.linspace(0, m - 1, L)
    out = np.empty_like(Xw)
    for i in range(n):
        for c in range(C):
            out[i, :, c] = np.interp(src + starts[i], np.arange(L), Xw[i, :, c])
    return _out(out, X)


def mixup(X, y=None, *, seed=None, alpha=0.2):
    """Convex mix of each window with a random partner of the same class.

    ``lam ~ Beta(alpha, alpha)`` folded to ``max(lam, 1 - lam)`` so each output stays closest to
    its own window; the output keeps the input's order and labels. ``y`` [shape=(n,)] gives the
    classes (None: all one class); a class with one window is returned unchanged.
    """
    Xw = _windows(X)
    a = _nonneg(alpha, "alpha")
    if a == 0:
        raise ParameterError(f"`alpha` must be > 0. Received: alpha={alpha!r}")
    n = Xw.shape[0]
    yy = np.zeros(n, dtype=int) if y is None else np.asarray(y)
    if yy.shape != (n,):
        raise ParameterError(f"`y` must have shape ({n},). Received: y.shape={yy.shape}")
    rng = np.random.default_rng(seed)
    lam = rng.beta(a, a, size=n)
    lam = np.maximum(lam, 1 - lam)
    partner = np.arange(n)
    for cls in np.unique(yy):
        idx = np.flatnonzero(yy == cls)
        partner[idx] = rng.choice(idx, size=idx.size)
    out = lam[:, None, None] * Xw + (1 - lam[:, None, None]) * Xw[partner]
    return _out(out, X)


AUGMENTATIONS = {
    "jitter": jitter,
    "scaling": scaling,
    "magnitude_warp": magnitude_warp,
    "time_warp": time_warp,
    "window_slice": window_slice,
    "mixup": mixup,
}

__all__ = ["AUGMENTATIONS"] + list(AUGMENTATIONS)
