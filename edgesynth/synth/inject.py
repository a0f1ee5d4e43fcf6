"""Physical anomaly injection: turn normal windows into labelled anomalies, no real anomaly needed.

Every injection is a kernel ``kernel(x, rng, sr, **params) -> x_new`` on one window
``x`` [shape=(window_length, n_channels), float64], registered in :data:`INJECTIONS` by name.
Magnitudes are relative to the window's own scale (the per-channel standard deviation, or its
peak deviation), so the defaults work on z-normalized ECG, vibration in g or pressure in bar.

A parameter given as a number is used as is; given as a ``(low, high)`` tuple it is drawn
uniformly per window (integers for integer parameters). The defaults are ranges, so
:func:`inject_random` produces varied anomalies. Positions (``start``, ``duration``) are
fractions of the window length; frequencies are in Hz and need ``sr``.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(4, 256, 2)).astype(np.float32)
>>> inject(X, "level_shift", seed=0, shift=3.0, start=0.5).shape
(4, 256, 2)
>>> Xa, kinds = inject_random(X, 6, kinds="vibration", sr=1000.0, seed=0)
>>> Xa.shape, kinds.shape
((6, 256, 2), (6,))
"""
from __future__ import annotations

import inspect

import numpy as np

from edgesynth.errors import ParameterError
from edgesynth.validation import check_positive_int, check_windows

INJECTIONS: dict = {}
_MIN_LENGTH = 8


def _register(name, *, needs_sr=False):
    def deco(fn):
        sig = inspect.signature(fn)
        fn.kind = name
        fn.needs_sr = needs_sr
        fn.defaults = {k: p.default for k, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}
        INJECTIONS[name] = fn
        return fn

    return deco


# ----------------------------------------------------------------------------- helpers
def _draw(value, rng, name):
    """A number as is; a (low, high) pair drawn uniformly (integers when both ends are int)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ParameterError(f"`{name}` must be a number or a (low, high) pair. Received: {name}={value!r}")
        lo, hi = value
        if hi < lo:
            raise ParameterError(f"`{name}` range must have low <= high. Received: {name}={value!r}")
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(lo, hi))
    return value


def _scale(x):
    """Per-channel standard deviation [shape=(n_channels,)], never zero."""
    s = x.std(axis=0)
    fallback = float(x.std()) or float(np.abs(x).max()) or 1.0
    return np.where(s > 1e-12 * max(1.0, float(np.abs(x).max())), s, fallback)


def _sign(sign, rng, name="sign"):
    if sign == "random":
        return float(rng.choice([-1.0, 1.0]))
    if sign in ("up", 1, 1.0):
        return 1.0
    if sign in ("down", -1, -1.0):
        return -1.0
    raise ParameterError(f"`{name}` must be 'random', 'up' or 'down'. Received: {name}={sign!r}")


def _fraction(v, name, *, low=0.0, high=1.0):
    if not isinstance(v, (int, float, np.number)) or not low <= v <= high:
        raise ParameterError(f"`{name}` must be in [{low}, {high}]. Received: {name}={v!r}")
    return float(v)


def _positive(v, name):
    if not isinstance(v, (int, float, np.number)) or not v > 0:
        raise ParameterError(f"`{name}` must be a positive number. Received: {name}={v!r}")
    return float(v)


def _segment(L, start, duration, rng):
    """Integer [a, b) of length ``duration*L``; ``start`` None = random position."""
    n = max(1, int(round(_fraction(duration, "duration") * L)))
    a = int(rng.integers(0, L - n + 1)) if start is None else int(round(_fraction(start, "start") * L))
    return a, min(L, a + n)


def _r_peak(x):
    """Index of the largest deviation from the median (the R peak of a beat)."""
    return int(np.argmax(np.abs(x - np.median(x))))


def _warp(x, out_knots, src_knots):
    """Resample ``x`` (L,) so that output positions ``out_knots`` read source ``src_knots``."""
    L = x.shape[0]
    pos = np.interp(np.arange(L), out_knots, src_knots)
    return np.interp(pos, np.arange(L), x)


# ----------------------------------------------------------------------------- generic kinds
@_register("spike")
def spike(x, rng, sr, *, n_spikes=(1, 3), amplitude=(4.0, 8.0), width=1, channels="all"):
    """Short spikes (sensor glitch, electrical transient).

    n_spikes : int or (low, high), default (1, 3)
    amplitude : float or range, default (4, 8) — height in channel standard deviations, random sign
    width : int, default 1 — samples per spike
    channels : "all" or "one", default "all" — every channel or one random channel
    """
    L, C = x.shape
    k = check_positive_int(n_spikes, "n_spikes")
    w = check_positive_int(width, "width")
    if w > L:
        raise ParameterError(f"`width` must be at most the window length {L}. Received: width={w}")
    if channels not in ("all", "one"):
        raise ParameterError(f"`channels` must be 'all' or 'one'. Received: channels={channels!r}")
    amp = _positive(amplitude, "amplitude") * _scale(x)
    mask = np.ones(C) if channels == "all" else np.eye(C)[rng.integers(C)]
    for p in rng.choice(max(1, L - w + 1), size=min(k, L - w + 1), replace=False):
        x[p:p + w] += rng.choice([-1.0, 1.0], size=C) * amp * mask
    return x


@_register("level_shift")
def level_shift(x, rng, sr, *, shift=(2.0, 4.0), start=(0.2, 0.6), sign="random"):
    """A step in the mean from ``start`` to the end (offset fault, valve change).

    shift : float or range, default (2, 4) — step size in channel standard deviations
    start : fraction of the window or range, default (0.2, 0.6)
    sign : "random", "up" or "down", default "random"
    """
    a = int(round(_fraction(start, "start") * x.shape[0]))
    x[a:] += _sign(sign, rng) * float(shift) * _scale(x)
    return x


@_register("drift")
def drift(x, rng, sr, *, amount=(2.0, 5.0), start=(0.0, 0.5), sign="random"):
    """A linear ramp from ``start`` reaching ``amount`` standard deviations at the window end.

    amount : float or range, default (2, 5)
    start : fraction or range, default (0, 0.5)
    sign : "random", "up" or "down", default "random"
    """
    L = x.shape[0]
    a = min(int(round(_fraction(start, "start") * L)), L - 1)
    ramp = np.zeros(L)
    ramp[a:] = np.linspace(0.0, 1.0, L - a)
    x += _sign(sign, rng) * float(amount) * ramp[:, None] * _scale(x)
    return x


@_register("noise_burst")
def noise_burst(x, rng, sr, *, amplitude=(1.0, 3.0), duration=(0.1, 0.3), start=None):
    """Additive Gaussian noise over a segment (loose connector, EMI).

    amplitude : float or range, default (1, 3) — noise std in channel standard deviations
    duration : fraction or range, default (0.1, 0.3)
    start : fraction or None (random), default None
    """
    a, b = _segment(x.shape[0], start, duration, rng)
    x[a:b] += rng.standard_normal((b - a, x.shape[1])) * _positive(amplitude, "amplitude") * _scale(x)
    return x


@_register("dropout")
def dropout(x, rng, sr, *, duration=(0.1, 0.4), start=None, mode="zero"):
    """Flatline over a segment: the sensor reads zero (``mode="zero"``) or holds its last value.

    duration : fraction or range, default (0.1, 0.4)
    start : fraction or None (random), default None
    mode : "zero" or "hold", default "zero"
    """
    a, b = _segment(x.shape[0], start, duration, rng)
    if mode == "zero":
        x[a:b] = 0.0
    elif mode == "hold":
        x[a:b] = x[max(a - 1, 0)]
    else:
        raise ParameterError(f"`mode` must be 'zero' or 'hold'. Received: mode={mode!r}")
    return x


@_register("saturation")
def saturation(x, rng, sr, *, level=(0.3, 0.7)):
    """Clipping at a range ``mean +- level * peak deviation`` per channel (ADC or sensor range).

    level : fraction or range, default (0.3, 0.7)
    """
    lv = _fraction(level, "level")
    mu = x.mean(axis=0)
    r = lv * np.abs(x - mu).max(axis=0)
    return np.clip(x, mu - r, mu + r)


@_register("frequency_shift")
def frequency_shift(x, rng, sr, *, factor=(1.15, 1.4), direction="random"):
    """Scale every frequency by ``factor`` (speed change, detuned resonance) by resampling time.

    factor : float > 1 or range, default (1.15, 1.4)
    direction : "random", "up" (multiply frequencies) or "down" (divide), default "random"
    """
    f = _positive(factor, "factor")
    f = f if _sign(direction, rng, "direction") > 0 else 1.0 / f
    L = x.shape[0]
    pad = int(np.ceil(L * max(f - 1.0, 0.0) / 2)) + 2
    xp = np.pad(x, ((pad, pad), (0, 0)), mode="reflect") if pad < L else np.pad(x, ((pad, pad), (0, 0)), mode="wrap")
    c = (L - 1) / 2
    src = c + (np.arange(L) - c) * f + pad
    return np.stack([np.interp(src, np.arange(xp.shape[0]), xp[:, j]) for j in range(x.shape[1])], axis=1)


@_register("harmonic_growth")
def harmonic_growth(x, rng, sr, *, gain=(2.0, 4.0), harmonic=1, bandwidth=2):
    """Amplify the dominant spectral peak or its harmonic (imbalance: 1x, misalignment: 2x).

    gain : float or range, default (2, 4) — amplitude factor of the peak
    harmonic : int, default 1 — 1 = the dominant peak itself, 2 = twice its frequency, ...
    bandwidth : int, default 2 — bins on each side of the peak that are amplified
    """
    g = _positive(gain, "gain")
    h = check_positive_int(harmonic, "harmonic")
    bw = int(bandwidth)
    if bw < 0:
        raise ParameterError(f"`bandwidth` must be >= 0. Received: bandwidth={bandwidth!r}")
    L = x.shape[0]
    mu = x.mean(axis=0)
    spec = np.fft.rfft(x - mu, axis=0)
    for j in range(x.shape[1]):
        k0 = int(np.argmax(np.abs(spec[1:, j]))) + 1
        k = min(h * k0, spec.shape[0] - 1)
        spec[max(1, k - bw):k + bw + 1, j] *= g
    return np.fft.irfft(spec, n=L, axis=0) + mu


@_register("impulses", needs_sr=True)
def impulses(x, rng, sr, *, frequency=None, resonance=None, damping=0.05, amplitude=(3.0, 6.0), jitter=0.01):
    """Periodic impacts ringing a decaying resonance: a bearing defect at ``frequency`` Hz.

    frequency : float (Hz), range or None, default None — impacts per second; None draws from
        [min(10 sr / window_length, sr / 32), sr / 16] (at least ~10 impacts per window)
    resonance : float (Hz), range or None, default None — ringing frequency; None draws from
        [0.15, 0.35] * sr
    damping : float, default 0.05 — damping ratio of the resonance (smaller rings longer)
    amplitude : float or range, default (3, 6) — impact peak in channel standard deviations
    jitter : float, default 0.01 — random timing jitter as a fraction of the period (slip)
    """
    L = x.shape[0]
    if frequency is None:
        hi = sr / 16
        frequency = float(rng.uniform(min(10 * sr / L, hi / 2), hi))
    if resonance is None:
        resonance = float(rng.uniform(0.15, 0.35) * sr)
    f, fr = _positive(frequency, "frequency"), _positive(resonance, "resonance")
    zeta = _fraction(damping, "damping", low=1e-4, high=0.9)
    if fr >= sr / 2:
        raise ParameterError(f"`resonance` must be below sr/2 = {sr / 2}. Received: resonance={fr}")
    period = sr / f
    w = 2 * np.pi * fr / sr
    n_h = min(L, int(np.ceil(np.log(1e3) / (zeta * w))) + 1)
    t = np.arange(n_h)
    h = np.exp(-zeta * w * t) * np.sin(w * np.sqrt(1 - zeta**2) * t)
    h /= np.abs(h).max()
    train = np.zeros(L)
    p = float(rng.uniform(0, period))
    while p < L:
        train[int(p)] += 1.0 + rng.uniform(-0.1, 0.1)
        p += period * (1 + jitter * rng.standard_normal())
    wave = np.convolve(train, h)[:L]
    return x + wave[:, None] * _positive(amplitude, "amplitude") * _scale(x)


# ----------------------------------------------------------------------------- ECG morphology
def _qrs_half_width(x, r):
    med = np.median(x)
    thr = 0.5 * abs(x[r] - med)
    dev = np.abs(x - med) > thr
    a = r
    while a > 0 and dev[a - 1]:
        a -= 1
    b = r
    while b < len(x) - 1 and dev[b + 1]:
        b += 1
    return max(2.0, 1.5 * (b - a + 1) / 2)


@_register("widened_qrs")
def widened_qrs(x, rng, sr, *, factor=(1.6, 2.5), qrs_width=None):
    """Stretch the QRS complex in time around the R peak (bundle branch block, ventricular beat).

    factor : float > 1 or range, default (1.6, 2.5) — widening factor
    qrs_width : fraction of the window or None, default None — QRS width before widening;
        None estimates it from the samples above half the R amplitude
    """
    f = _positive(factor, "factor")
    L = x.shape[0]
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        r = _r_peak(x[:, j])
        w = _qrs_half_width(x[:, j], r) if qrs_width is None else max(1.0, _fraction(qrs_width, "qrs_width") * L / 2)
        o_k, s_k = [float(r)], [float(r)]
        if r > 0:  # left side: [r - f w, r] reads [r - w, r], the rest is compressed
            o_lo = r - f * w
            o_k, s_k = ([0.0, o_lo] + o_k, [0.0, r - w] + s_k) if o_lo > 0 else ([0.0] + o_k, [r - r / f] + s_k)
        if r < L - 1:
            o_hi, end = r + f * w, L - 1.0
            o_k, s_k = (o_k + [o_hi, end], s_k + [r + w, end]) if o_hi < end else (o_k + [end], s_k + [r + (end - r) / f])
        out[:, j] = _warp(x[:, j], o_k, s_k)
    return out


@_register("st_shift")
def st_shift(x, rng, sr, *, shift=(0.5, 1.0), sign="random", start=0.05, duration=(0.2, 0.3)):
    """Raise or depress the ST segment after the R peak (ischaemia).

    shift : float or range, default (0.5, 1.0) — in channel standard deviations
    sign : "random", "up" (elevation) or "down" (depression), default "random"
    start : fraction of the window after the R peak, default 0.05 (the J point)
    duration : fraction or range, default (0.2, 0.3)
    """
    L = x.shape[0]
    s = _sign(sign, rng) * float(shift)
    n = max(2, int(round(_fraction(duration, "duration") * L)))
    taper = max(1, n // 6)
    bump = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, taper + 2)[1:-1])
    bump[:taper], bump[-taper:] = ramp, ramp[::-1]
    scale = _scale(x)
    for j in range(x.shape[1]):
        a = _r_peak(x[:, j]) + int(round(_fraction(start, "start") * L))
        if a < L:
            seg = bump[: L - a]
            x[a:a + seg.size, j] += s * scale[j] * seg
    return x


@_register("premature_beat")
def premature_beat(x, rng, sr, *, shift=(0.05, 0.15)):
    """The beat arrives early: the waveform moves left by ``shift`` of the window, the tail holds.

    shift : fraction or range, default (0.05, 0.15)
    """
    L = x.shape[0]
    d = _fraction(shift, "shift", high=0.9) * L
    src = np.arange(L) + d
    return np.stack([np.interp(src, np.arange(L), x[:, j]) for j in range(x.shape[1])], axis=1)


# ----------------------------------------------------------------------------- public API
_DOMAINS = {
    "vibration": ("impulses", "harmonic_growth", "frequency_shift", "spike", "dropout", "saturation", "noise_burst"),
    "ecg": ("widened_qrs", "st_shift", "premature_beat", "spike", "noise_burst"),
    "generic": ("spike", "level_shift", "drift", "noise_burst", "dropout", "saturation",
                "frequency_shift", "harmonic_growth"),
}


def default_kinds(domain="generic") -> tuple:
    """Injection kinds suited to ``domain`` ("vibration", "ecg" or "generic")."""
    if domain not in _DOMAINS:
        raise ParameterError(f"`domain` must be one of {list(_DOMAINS)}. Received: domain={domain!r}")
    return _DOMAINS[domain]


def _check_kind(kind, sr, params=None):
    if not isinstance(kind, str) or kind not in INJECTIONS:
        raise ParameterError(f"unknown injection kind {kind!r}; valid kinds: {sorted(INJECTIONS)}")
    fn = INJECTIONS[kind]
    if fn.needs_sr and sr is None:
        raise ParameterError(f"injection {kind!r} needs the sample rate: pass `sr` (Hz). Received: sr=None")
    if params:
        bad = sorted(set(params) - set(fn.defaults))
        if bad:
            raise ParameterError(
                f"unknown parameter(s) {bad} for injection {kind!r}; valid: {sorted(fn.defaults)}"
            )
    return fn


def _check_input(X, sr):
    Xw = check_windows(X)
    if Xw.shape[1] < _MIN_LENGTH:
        raise ParameterError(f"windows must have at least {_MIN_LENGTH} samples. Received: X.shape={np.shape(X)}")
    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, (int, float, np.number)) or not sr > 0):
        raise ParameterError(f"`sr` must be a positive number of Hz or None. Received: sr={sr!r}")
    return Xw, (None if sr is None else float(sr))


def _apply(fn, x, rng, sr, params):
    drawn = {k: _draw(v, rng, k) for k, v in {**fn.defaults, **params}.items()}
    out = fn(x.astype(np.float64), rng, sr, **drawn)
    return out, drawn


def inject(X, kind, *, sr=None, seed=None, return_params=False, **params):
    """Inject anomaly ``kind`` into every window of ``X``.

    Parameters
    ----------
    X : np.ndarray [shape=(n, window_length, n_channels) or (n, window_length)]
        Normal windows; not modified.
    kind : str
        A key of :data:`INJECTIONS` (see :func:`default_kinds`).
    sr : float or None
        Sample rate in Hz; required by kinds with ``needs_sr`` (``impulses``).
    seed : int or None
    return_params : bool
        Also return the parameters drawn for each window.
    **params
        Overrides of the kind's parameters (numbers, or ``(low, high)`` ranges drawn per window).

    Returns
    -------
    X_new : np.ndarray [same shape as X, float32]
    params : list of dict, only when ``return_params``
    """
    fn = _check_kind(kind, sr, params)
    Xw, sr = _check_input(X, sr)
    rng = np.random.default_rng(seed)
    out = np.empty(Xw.shape, dtype=np.float32)
    drawn = []
    for i in range(Xw.shape[0]):
        out[i], d = _apply(fn, Xw[i], rng, sr, params)
        drawn.append(d)
    out = out.reshape(np.shape(X))
    return (out, drawn) if return_params else out


def inject_random(X, n, *, kinds=None, sr=None, seed=None, return_params=False):
    """``n`` anomalies: random source windows of ``X``, each with a kind from ``kinds``.

    Parameters
    ----------
    X : np.ndarray [shape=(n_windows, window_length, n_channels) or (n_windows, window_length)]
    n : int
        Number of anomalous windows to make.
    kinds : sequence of str, a domain name ("vibration", "ecg", "generic") or None
        None: the "generic" kinds, plus ``impulses`` when ``sr`` is given. Kinds are used in
        equal numbers (balanced), in random order.
    sr : float or None
    seed : int or None
    return_params : bool
        Also return the drawn parameters per sample.

    Returns
    -------
    X_new : np.ndarray [shape=(n, window_length, n_channels)] (2-D input gives (n, window_length))
    kinds : np.ndarray [shape=(n,), str]
    """
    n = check_positive_int(n, "n")
    if kinds is None:
        kinds = default_kinds("generic") + (("impulses",) if sr is not None else ())
    elif isinstance(kinds, str):
        kinds = default_kinds(kinds) if kinds in _DOMAINS else (kinds,)
    kinds = tuple(kinds)
    if not kinds:
        raise ParameterError("`kinds` must not be empty")
    fns = {k: _check_kind(k, sr) for k in kinds}
    Xw, sr = _check_input(X, sr)
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(np.resize(np.asarray(kinds, dtype=object), n)).astype(str)
    src = rng.integers(0, Xw.shape[0], size=n)
    out = np.empty((n,) + Xw.shape[1:], dtype=np.float32)
    drawn = []
    for i in range(n):
        out[i], d = _apply(fns[chosen[i]], Xw[src[i]], rng, sr, {})
        drawn.append({"kind": chosen[i], "source_index": int(src[i]), **d})
    if np.ndim(X) == 2:
        out = out[:, :, 0]
    return (out, chosen, drawn) if return_params else (out, chosen)


__all__ = ["INJECTIONS", "inject", "inject_random", "default_kinds"] + sorted(INJECTIONS)
