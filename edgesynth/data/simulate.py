"""Built-in sensor simulator: labelled vibration and ECG data with no downloads (numpy/scipy only).

Two families, each with one place for the physics:

* :class:`VibrationStream` — a 3-axis accelerometer on rotating machinery: shaft harmonics
  (speed varying slightly per recording), a structural resonance excited by broadband noise,
  sensor noise; faults ``bearing`` (outer-race impulses at the defect frequency BPFO ringing the
  resonance), ``imbalance`` (growing 1x harmonic), ``looseness`` (half-harmonics, truncated
  waveform), and the sensor faults ``spike``, ``dropout`` (flat zeros), ``saturation`` (clipping).
* :class:`EcgStream` — ECG as a sum of Gaussian P, Q, R, S, T waves per beat (McSharry et al.
  2003 shapes), heart-rate variability, baseline wander and noise; abnormal beats ``pvc``
  (premature, no P wave, wide bizarre QRS, inverted T) and ``st_shift``.

The windowed simulators :func:`simulate_vibration` and :func:`simulate_ecg` cut labelled windows
out of these same sources, several per recording (``Dataset.groups``) so that group splits are
leak-free. Everything is deterministic under ``seed``; reading a stream in one call or in
several gives the same samples (phase, filter state and noise are continuous across calls).
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
from scipy.signal import lfilter

from edgesynth.data.dataset import Dataset
from edgesynth.errors import ParameterError
from edgesynth.validation import check_positive_int

VIBRATION_FAULTS = ("bearing", "imbalance", "looseness", "spike", "dropout", "saturation")
SENSOR_FAULTS = ("spike", "dropout", "saturation")
ECG_ABNORMALITIES = ("pvc", "st_shift")


# ----------------------------------------------------------------------------- shared helpers
def _check_choice(value, valid, name):
    if value not in valid:
        raise ParameterError(f"`{name}` must be one of {list(valid)}. Received: {name}={value!r}")
    return value


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}")
    return float(value)


def _check_sr(sr):
    if isinstance(sr, bool) or not isinstance(sr, (int, float)) or not math.isfinite(sr) or sr <= 0:
        raise ParameterError(f"`sr` must be a positive number of Hz. Received: sr={sr!r}")
    return float(sr)


def _check_severity(severity, rng):
    if severity is None:
        return float(rng.uniform(0.4, 1.0))
    if isinstance(severity, bool) or not isinstance(severity, (int, float)) or not 0 <= severity <= 1:
        raise ParameterError(f"`severity` must be in [0, 1] or None. Received: severity={severity!r}")
    return float(severity)


def _sensor_fault(x, kind, severity, rng):
    """Apply a sensor fault to ``x`` [shape=(n, n_channels)] in place; return its parameters."""
    n = x.shape[0]
    if kind == "spike":
        n_spikes = int(rng.integers(1, 4))
        pos = np.sort(rng.choice(n, size=min(n_spikes, n), replace=False))
        scale = x.std(axis=0) + 1e-12
        amp = (5.0 + 5.0 * severity) * scale
        signs = rng.choice([-1.0, 1.0], size=(pos.size, x.shape[1]))
        x[pos] += signs * amp
        return {"positions": pos.tolist(), "amplitude_std": 5.0 + 5.0 * severity}
    if kind == "dropout":
        length = max(1, int(round(n * (0.1 + 0.3 * severity))))
        start = int(rng.integers(0, n - length + 1))
        x[start:start + length] = 0.0
        return {"start": start, "length": length}
    if kind == "saturation":
        level = 0.7 - 0.4 * severity
        rng_ = level * np.abs(x).max(axis=0)
        np.clip(x, -rng_, rng_, out=x)
        return {"clip_level": rng_.tolist(), "level_of_peak": level}
    raise ParameterError(f"unknown sensor fault {kind!r}; expected one of {list(SENSOR_FAULTS)}")


def _content_hash(X):
    return hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()


def _split_counts(n, n_groups):
    return [len(a) for a in np.array_split(np.arange(n), n_groups)]


def _assign(n, fraction, kinds, rng):
    """Labels: ``round(fraction*n)`` random positions get kinds in balanced rotation."""
    labels = np.array(["normal"] * n, dtype=object)
    n_anom = int(round(fraction * n))
    if n_anom and kinds:
        idx = rng.choice(n, size=n_anom, replace=False)
        labels[idx] = np.resize(rng.permutation(np.asarray(kinds, dtype=object)), n_anom)
    return labels.astype(str)


# ----------------------------------------------------------------------------- vibration
class VibrationStream:
    """Continuous 3-axis accelerometer (g) on a rotating machine.

    Parameters
    ----------
    sr : float
        Sample rate in Hz (default 4000).
    seed : int or None
        Seeds the machine (shaft speed, harmonic amplitudes, resonance) and all noise.
    shaft_hz, resonance_hz : float or None
        Override the randomly drawn shaft rotation frequency (default ~25 Hz +-8 %) and structural
        resonance (default ~0.3 sr, at most 1200 Hz, +-5 %).

    Attributes
    ----------
    n_channels : int
        3.
    channel_names : list of str
        ``["x", "y", "z"]`` (x, y radial, z axial).
    bpfo_hz : float
        Outer-race defect frequency of the simulated bearing (9 balls, d/D = 0.2): 3.6 x shaft.
    last_fault : dict
        Parameters of the fault applied by the last :meth:`read` (``{}`` when none).

    Examples
    --------
    >>> s = VibrationStream(4000.0, seed=1)
    >>> s.read(256).shape
    (256, 3)
    >>> s.read(256, fault="bearing").dtype
    dtype('float32')
    """

    n_channels = 3
    channel_names = ["x", "y", "z"]
    faults = VIBRATION_FAULTS

    def __init__(self, sr=4000.0, *, seed=0, shaft_hz=None, resonance_hz=None):
        self.sr = _check_sr(sr)
        ss = np.random.SeedSequence(seed)
        machine, self._rng_res, self._rng_noise, self._rng_fault = (
            np.random.default_rng(s) for s in ss.spawn(4)
        )
        self.shaft_hz = float(shaft_hz) if shaft_hz else 25.0 * (1 + machine.uniform(-0.08, 0.08))
        nyq = self.sr / 2
        if not 0 < self.shaft_hz < nyq / 8:
            raise ParameterError(f"`shaft_hz` must be in (0, sr/16). Received: shaft_hz={shaft_hz!r}")
        if resonance_hz:
            self.resonance_hz = float(resonance_hz)
        else:
            self.resonance_hz = min(0.3 * self.sr, 1200.0) * (1 + machine.uniform(-0.05, 0.05))
        if not 0 < self.resonance_hz < 0.45 * self.sr:
            raise ParameterError(
                f"`resonance_hz` must be in (0, 0.45*sr). Received: resonance_hz={resonance_hz!r}"
            )
        self.bpfo_hz = 9 / 2 * (1 - 0.2) * self.shaft_hz
        # shaft harmonics 1x..4x, g; per-axis gain; random phase per harmonic and axis
        self._harm_amp = np.array([0.20, 0.07, 0.035, 0.015]) * (1 + machine.uniform(-0.15, 0.15, 4))
        self._harm_phase = machine.uniform(0, 2 * np.pi, (4, 3))
        self._axis_harm = np.array([1.0, 0.8, 0.3])
        self._axis_res = np.array([0.8, 1.0, 0.5])
        self._axis_bearing = np.array([0.6, 1.0, 0.3])
        self._axis_loose = np.array([0.5, 1.0, 0.2])
        self._loose_phase = machine.uniform(0, 2 * np.pi, 12)
        self._wobble = (machine.uniform(0.2, 1.0), machine.uniform(0, 2 * np.pi))
        self.res_std = 0.04 * (1 + machine.uniform(-0.1, 0.1))
        self.noise_std = 0.01
        # two-pole resonator, damping ratio 0.03, normalized to unit output variance for white input
        r = math.exp(-2 * math.pi * 0.03 * self.resonance_hz / self.sr)
        theta = 2 * math.pi * self.resonance_hz / self.sr
        self._a = np.array([1.0, -2 * r * math.cos(theta), r * r])
        h = lfilter([1.0], self._a, np.r_[1.0, np.zeros(int(40 / (1 - r)))])
        self._b = np.array([1.0 / math.sqrt(np.sum(h**2))])
        self._impulse_peak = float(self._b[0] * np.abs(h).max())
        self._zi = np.zeros((3, 2))
        self._phase = 0.0  # shaft phase (rad, kept mod 4 pi so half-harmonics stay continuous)
        self._t = 0  # samples emitted
        self._next_impact = float(machine.uniform(0, self.sr / self.bpfo_hz))
        self.last_fault: dict = {}

    def read(self, n_samples, fault=None, *, severity=None) -> np.ndarray:
        """Next ``n_samples`` samples [shape=(n_samples, 3), float32, g].

        ``fault`` (one of :attr:`faults` or None) applies to the samples returned by this call;
        ``severity`` in [0, 1] (None: drawn uniformly in [0.4, 1]) sets its strength. The fault's
        parameters are stored in :attr:`last_fault`.
        """
        n = check_positive_int(n_samples, "n_samples")
        if fault is not None:
            _check_choice(fault, VIBRATION_FAULTS, "fault")
        sev = _check_severity(severity, self._rng_fault) if fault else 0.0
        sr = self.sr
        t = (self._t + np.arange(n)) / sr
        f_inst = self.shaft_hz * (1 + 0.004 * np.sin(2 * np.pi * self._wobble[0] * t + self._wobble[1]))
        phi = self._phase + 2 * np.pi / sr * (np.cumsum(f_inst) - f_inst)
        self._phase = float((phi[-1] + 2 * np.pi * f_inst[-1] / sr) % (4 * np.pi))
        self._t += n
        params: dict = {}

        amp = np.tile(self._harm_amp, (n, 1))
        if fault == "imbalance":
            g_end = 2.0 + 3.0 * sev
            g_start = 1.0 + 0.6 * (g_end - 1.0)
            amp[:, 0] *= np.linspace(g_start, g_end, n)
            params = {"gain_start": g_start, "gain_end": g_end}
        kphi = np.arange(1, 5)[None, :] * phi[:, None]  # cos(k phi + p) = cos kphi cos p - sin kphi sin p
        harm = ((amp * np.cos(kphi)) @ np.cos(self._harm_phase) - (amp * np.sin(kphi)) @ np.sin(self._harm_phase))
        harm *= self._axis_harm
        if fault == "looseness":
            half = np.arange(1, 13) / 2.0  # 0.5x, 1x, 1.5x ... 6x
            a = (0.05 + 0.1 * sev) * 0.85 ** np.arange(12)
            loose = (a * np.cos(half * phi[:, None] + self._loose_phase)).sum(axis=1)
            part = harm + loose[:, None] * self._axis_loose
            cap = (0.7 - 0.3 * sev) * np.abs(part).max(axis=0)
            harm = np.minimum(part, cap)  # motion limited on one side: truncated waveform
            params = {"half_harmonic_amp": float(a[0]), "truncation_level": cap.tolist()}

        drive = self._rng_res.standard_normal((n, 3)) * self.res_std
        # bearing impacts: positions advance in every read so their timing stays continuous
        period = sr / self.bpfo_hz
        if fault == "bearing":
            pos, p = [], self._next_impact
            while p < n:
                pos.append(p)
                p += period * (1 + self._rng_fault.normal(0, 0.01))  # rolling-element slip
            self._next_impact = p - n
            pos = np.asarray(pos, dtype=float)
            peak = (3.0 + 5.0 * sev) * self.res_std
            idx = np.minimum(np.round(pos).astype(int), n - 1)
            amps = peak / self._impulse_peak * (1 + self._rng_fault.uniform(-0.2, 0.2, idx.size))
            np.add.at(drive, idx, amps[:, None] * self._axis_bearing[None, :])
            params = {"bpfo_hz": self.bpfo_hz, "impact_peak_g": peak, "n_impacts": int(idx.size)}
        else:
            self._next_impact = (self._next_impact - n) % period
        res = np.empty((n, 3))
        for ax in range(3):
            res[:, ax], self._zi[ax] = lfilter(self._b, self._a, drive[:, ax], zi=self._zi[ax])
        res *= self._axis_res
        x = harm + res + self._rng_noise.standard_normal((n, 3)) * self.noise_std
        if fault in SENSOR_FAULTS:
            params = _sensor_fault(x, fault, sev, self._rng_fault)
        self.last_fault = {"fault": fault, "severity": sev, **params} if fault else {}
        return x.astype(np.float32)


def _plan(n, frac, kinds, valid, what, n_recordings, per_recording, seed):
    """Validate the anomaly kinds, label the windows and seed each recording (shared by the simulators).

    Returns ``(rng, labels, rec_seeds, n_rec)``; the draws happen in a fixed order so a seed gives
    the same data.
    """
    kinds = tuple(kinds)
    for k in kinds:
        _check_choice(k, valid, what)
    if frac > 0 and not kinds:
        raise ParameterError(f"`{what}` is empty but anomaly_fraction > 0")
    n_rec = check_positive_int(n_recordings, "n_recordings") if n_recordings is not None else math.ceil(n / per_recording)
    n_rec = min(n_rec, n)
    rng = np.random.default_rng(seed)
    labels = _assign(n, frac, kinds, rng)
    rec_seeds = rng.integers(0, 2**63 - 1, size=n_rec)
    return rng, labels, rec_seeds, n_rec


def simulate_vibration(
    n_windows,
    *,
    window_length=1024,
    sr=4000.0,
    anomaly_fraction=0.1,
    faults=VIBRATION_FAULTS,
    n_recordings=None,
    seed=0,
) -> Dataset:
    """Labelled windows of simulated 3-axis machine vibration.

    Parameters
    ----------
    n_windows : int
        Number of windows.
    window_length : int
        Samples per window (default 1024 = 0.256 s at 4 kHz).
    sr : float
        Sample rate in Hz.
    anomaly_fraction : float in [0, 1]
        Fraction of windows that carry a fault (rounded); faults are spread evenly over ``faults``.
    faults : sequence of str
        Subset of ``("bearing", "imbalance", "looseness", "spike", "dropout", "saturation")``.
    n_recordings : int or None
        Number of recordings (machines / runs, each with its own shaft speed and resonance);
        default ``ceil(n_windows / 8)``. Windows of one recording are consecutive in time.
    seed : int or None

    Returns
    -------
    Dataset
        ``X`` [shape=(n_windows, window_length, 3)] in g, ``labels`` "normal" or the fault name,
        ``y = labels != "normal"``, ``groups`` = recording id, ``meta["window_params"]`` one dict
        per window (fault parameters, ``{}`` for normal windows), ``meta["bpfo_hz"]``,
        ``meta["shaft_hz"]`` and ``meta["resonance_hz"]`` per window.

    Examples
    --------
    >>> ds = simulate_vibration(16, window_length=256, anomaly_fraction=0.25, seed=3)
    >>> ds.X.shape, int(ds.y.sum()), ds.channel_names
    ((16, 256, 3), 4, ['x', 'y', 'z'])
    """
    n = check_positive_int(n_windows, "n_windows")
    L = check_positive_int(window_length, "window_length")
    sr = _check_sr(sr)
    frac = _check_fraction(anomaly_fraction, "anomaly_fraction")
    rng, labels, rec_seeds, n_rec = _plan(n, frac, faults, VIBRATION_FAULTS, "faults", n_recordings, 8, seed)
    X = np.empty((n, L, 3), dtype=np.float32)
    groups = np.empty(n, dtype=np.int64)
    wparams, shaft, bpfo, reson = [], [], [], []
    i = 0
    for g, count in enumerate(_split_counts(n, n_rec)):
        stream = VibrationStream(sr, seed=int(rec_seeds[g]))
        stream.read(int(rng.integers(0, L)) + 1)  # random start so windows do not align with t=0
        for _ in range(count):
            fault = None if labels[i] == "normal" else str(labels[i])
            X[i] = stream.read(L, fault=fault)
            groups[i] = g
            wparams.append(dict(stream.last_fault))
            shaft.append(stream.shaft_hz)
            bpfo.append(stream.bpfo_hz)
            reson.append(stream.resonance_hz)
            i += 1
    return Dataset(
        X=X,
        y=(labels != "normal").astype(np.int8),
        labels=labels,
        sr=sr,
        channel_names=list(VibrationStream.channel_names),
        source="simulate:vibration",
        groups=groups,
        sha256=_content_hash(X),
        meta={
            "simulator": "vibration",
            "seed": seed,
            "window_params": wparams,
            "shaft_hz": shaft,
            "bpfo_hz": bpfo,
            "resonance_hz": reson,
            "units": "g",
        },
    )


# ----------------------------------------------------------------------------- ECG
#            P      Q       R     S      T       (McSharry 2003, amplitudes a*b^2 scaled to R = 1 mV)
_WAVE_T = np.array([-0.20, -0.035, 0.0, 0.035, 0.30])  # s from the R peak (T scaled by sqrt(RR))
_WAVE_A = np.array([0.25, -0.17, 1.0, -0.25, 0.35])  # mV
_WAVE_W = np.array([0.030, 0.010, 0.011, 0.010, 0.060])  # s (T scaled by sqrt(RR))


def _beat_wave(t, beat):
    """ECG of one beat at times ``t`` (s, absolute): sum of Gaussians plus an optional ST shift."""
    d = t[:, None] - (beat["r"] + beat["offsets"])[None, :]
    y = (beat["amps"] * np.exp(-0.5 * (d / beat["widths"]) ** 2)).sum(axis=1)
    st = beat.get("st", 0.0)
    if st:
        j = beat["r"] + 0.05
        end = beat["r"] + beat["offsets"][4] + 1.5 * beat["widths"][4]
        y += st * (1 / (1 + np.exp(-(t - j) / 0.01)) - 1 / (1 + np.exp(-(t - end) / 0.02)))
    return y


class EcgStream:
    """Continuous single-lead ECG (mV): P-QRS-T beats, heart-rate variability, baseline wander.

    Parameters
    ----------
    sr : float
        Sample rate in Hz (default 250).
    seed : int or None
        Seeds the subject (heart rate, morphology, wander) and the beat-to-beat variability.

    Attributes
    ----------
    n_channels : int
        1.
    channel_names : list of str
        ``["ecg"]``.
    faults : tuple of str
        ``("pvc", "st_shift", "spike", "dropout", "saturation")``. A beat fault makes abnormal every
        beat that starts during the read, or else the next beat that has not started yet (which
        may fall in a later read; a fault held over many short reads queues only one such beat);
        sensor faults apply to the samples returned.

    Examples
    --------
    >>> s = EcgStream(250.0, seed=0)
    >>> s.read(500).shape
    (500, 1)
    """

    n_channels = 1
    channel_names = ["ecg"]
    faults = ECG_ABNORMALITIES + SENSOR_FAULTS

    def __init__(self, sr=250.0, *, seed=0):
        self.sr = _check_sr(sr)
        ss = np.random.SeedSequence(seed)
        subject, self._rng_beat, self._rng_noise, self._rng_fault = (
            np.random.default_rng(s) for s in ss.spawn(4)
        )
        self.heart_rate = float(subject.uniform(60, 85))  # bpm
        self.rr_mean = 60.0 / self.heart_rate
        self._amps = _WAVE_A * (1 + subject.uniform(-0.15, 0.15, 5))
        self._widths = _WAVE_W * (1 + subject.uniform(-0.1, 0.1, 5))
        self._resp = (subject.uniform(0.2, 0.33), subject.uniform(0, 2 * np.pi))
        self._wander = (subject.uniform(0.05, 0.15), subject.uniform(0.1, 0.3), subject.uniform(0, 2 * np.pi))
        self.noise_std = float(subject.uniform(0.01, 0.02))
        self._beats: list[dict] = []
        self._next_r = float(subject.uniform(0.1, 0.6))
        self._t = 0  # samples emitted
        self._pending: list[tuple[str, float]] = []
        self.last_fault: dict = {}

    # -- beats -----------------------------------------------------------------------------
    def _new_beat(self):
        r = self._next_r
        rr = self.rr_mean * (
            1 + 0.04 * np.sin(2 * np.pi * self._resp[0] * r + self._resp[1]) + 0.015 * self._rng_beat.standard_normal()
        )
        s = math.sqrt(rr)
        offsets, widths = _WAVE_T.copy(), self._widths.copy()
        offsets[4] *= s
        widths[4] *= s
        amps = self._amps * (1 + 0.03 * self._rng_beat.standard_normal(5))
        self._next_r = r + rr
        return {"r": r, "rr": rr, "offsets": offsets, "widths": widths, "amps": amps, "kind": "normal"}

    def _make_abnormal(self, beat, kind, severity):
        rng = self._rng_fault
        if kind == "pvc":
            early = (0.1 + 0.15 * severity) * beat["rr"]
            beat["r"] -= early
            amps, widths, offsets = beat["amps"].copy(), beat["widths"].copy(), beat["offsets"].copy()
            polarity = rng.choice([-1.0, 1.0])
            amps[0] = 0.0  # no P wave
            amps[1:4] = np.array([-0.3, 1.0 + 0.6 * severity, -0.8]) * polarity * abs(self._amps[2])
            widths[1:4] *= 2.5 + 1.5 * severity  # wide QRS
            offsets[1:4] *= 2.0 + 1.0 * severity
            amps[4] = -np.sign(amps[2]) * abs(amps[4]) * 1.5  # discordant (inverted) T
            widths[4] *= 1.3
            beat.update(amps=amps, widths=widths, offsets=offsets, kind="pvc",
                        params={"prematurity_s": early, "qrs_width_factor": 2.5 + 1.5 * severity,
                                "polarity": polarity})
        else:  # st_shift
            st = (0.15 + 0.2 * severity) * rng.choice([-1.0, 1.0]) * abs(self._amps[2])
            beat.update(st=st, kind="st_shift", params={"st_mv": st})
        beat["params"]["severity"] = severity
        return beat

    def _baseline(self, t):
        a, f, p = self._wander
        return a * np.sin(2 * np.pi * f * t + p) + 0.4 * a * np.sin(2 * np.pi * 0.05 * t + 2 * p)

    def _clean(self, t, beats):
        y = self._baseline(t)
        for b in beats:
            y += _beat_wave(t, b)
        return y

    # -- stream ----------------------------------------------------------------------------
    def read(self, n_samples, fault=None, *, severity=None) -> np.ndarray:
        """Next ``n_samples`` samples [shape=(n_samples, 1), float32, mV].

        See :attr:`faults` for what ``fault`` does; ``severity`` in [0, 1] (None: random).
        """
        n = check_positive_int(n_samples, "n_samples")
        if fault is not None:
            _check_choice(fault, self.faults, "fault")
        sev = _check_severity(severity, self._rng_fault) if fault else 0.0
        self.last_fault = {}
        beat_fault = fault if fault in ECG_ABNORMALITIES else None
        if beat_fault and all(k != beat_fault for k, _ in self._pending):
            self._pending.append((beat_fault, sev))  # at most one pending fault per kind
        t0, t1 = self._t / self.sr, (self._t + n) / self.sr
        while self._next_r < t1 + 1.0:
            self._beats.append(self._new_beat())
        for beat in self._beats:  # beats are in time order; a beat "starts" 0.5 s before its R
            onset = beat["r"] - 0.5
            if beat["kind"] != "normal" or onset < t0:
                continue
            if beat_fault and onset < t1:  # starts during a faulty read: abnormal
                kind, s = beat_fault, sev
                self._pending = [p for p in self._pending if p[0] != beat_fault]
            elif self._pending:  # otherwise the next beat takes a pending fault
                kind, s = self._pending.pop(0)
            else:
                break
            self._make_abnormal(beat, kind, s)
            self.last_fault = {"fault": kind, "r_time_s": beat["r"], **beat["params"]}
        self._beats = [b for b in self._beats if b["r"] > t0 - 1.5]
        t = t0 + np.arange(n) / self.sr
        x = (self._clean(t, self._beats) + self.noise_std * self._rng_noise.standard_normal(n))[:, None]
        self._t += n
        if fault in SENSOR_FAULTS:
            self.last_fault = {"fault": fault, "severity": sev, **_sensor_fault(x, fault, sev, self._rng_fault)}
        return x.astype(np.float32)

    def beat_window(self, length, kind="normal", *, severity=None, pre=0.4):
        """One beat resampled to ``length`` points [shape=(length,), mV], like ECG5000.

        The window spans ``[R - pre*RR, R + (1-pre)*RR]`` around the sinus R time; neighbour beats
        are normal, so the label describes the window. Returns ``(beat, params)``.
        """
        beat = self._new_beat()
        prev_r = beat["r"] - self.rr_mean
        nxt = self._new_beat()
        prev = dict(beat, r=prev_r)
        r_sinus, rr = beat["r"], beat["rr"]
        params: dict = {}
        if kind != "normal":
            beat = self._make_abnormal(beat, kind, _check_severity(severity, self._rng_fault))
            params = beat["params"]
        t = r_sinus + np.linspace(-pre, 1 - pre, length, endpoint=False) * rr
        y = self._clean(t, [prev, beat, nxt]) + self.noise_std * self._rng_noise.standard_normal(length)
        self._next_r = nxt["r"] + 0.5 * self.rr_mean  # next beat is independent of this window
        return y, params


def simulate_ecg(
    n_beats,
    *,
    length=140,
    anomaly_fraction=0.1,
    abnormalities=ECG_ABNORMALITIES,
    n_recordings=None,
    normalize=True,
    seed=0,
) -> Dataset:
    """Labelled single ECG beats, resampled to ``length`` points like ECG5000.

    Parameters
    ----------
    n_beats : int
    length : int
        Points per beat (default 140 as in ECG5000).
    anomaly_fraction : float in [0, 1]
        Fraction of abnormal beats, spread evenly over ``abnormalities``.
    abnormalities : sequence of str
        Subset of ``("pvc", "st_shift")``.
    n_recordings : int or None
        Subjects (each with its own heart rate, morphology, wander, noise); default
        ``ceil(n_beats / 20)``.
    normalize : bool
        z-normalize each beat (mean 0, std 1), as ECG5000 does.
    seed : int or None

    Returns
    -------
    Dataset
        ``X`` [shape=(n_beats, length, 1)], labels "normal"/"pvc"/"st_shift", ``y``, ``groups`` =
        subject id, ``meta["window_params"]`` per beat. ``sr`` is None (beats are resampled).

    Examples
    --------
    >>> ds = simulate_ecg(20, anomaly_fraction=0.2, seed=0)
    >>> ds.X.shape, sorted(set(ds.labels.tolist()))
    ((20, 140, 1), ['normal', 'pvc', 'st_shift'])
    """
    n = check_positive_int(n_beats, "n_beats")
    L = check_positive_int(length, "length")
    if L < 16:
        raise ParameterError(f"`length` must be at least 16 points. Received: length={length!r}")
    frac = _check_fraction(anomaly_fraction, "anomaly_fraction")
    rng, labels, rec_seeds, n_rec = _plan(n, frac, abnormalities, ECG_ABNORMALITIES, "abnormalities",
                                          n_recordings, 20, seed)
    X = np.empty((n, L, 1), dtype=np.float32)
    groups = np.empty(n, dtype=np.int64)
    wparams, hr = [], []
    i = 0
    for g, count in enumerate(_split_counts(n, n_rec)):
        src = EcgStream(250.0, seed=int(rec_seeds[g]))
        for _ in range(count):
            y, p = src.beat_window(L, str(labels[i]))
            if normalize:
                y = (y - y.mean()) / (y.std() + 1e-8)
            X[i, :, 0] = y
            groups[i] = g
            wparams.append(p)
            hr.append(src.heart_rate)
            i += 1
    return Dataset(
        X=X,
        y=(labels != "normal").astype(np.int8),
        labels=labels,
        sr=None,
        channel_names=["ecg"],
        source="simulate:ecg",
        groups=groups,
        sha256=_content_hash(X),
        meta={"simulator": "ecg", "seed": seed, "normalized": bool(normalize),
              "window_params": wparams, "heart_rate_bpm": hr, "units": "z" if normalize else "mV"},
    )


__all__ = [
    "VIBRATION_FAULTS",
    "ECG_ABNORMALITIES",
    "VibrationStream",
    "EcgStream",
    "simulate_vibration",
    "simulate_ecg",
]
