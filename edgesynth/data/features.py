"""Feature pipelines (one window -> one feature vector) and the normalizer fitted on normal data.

Kinds
-----
``raw``
    The window flattened, channel-interleaved in time order: ``X.reshape(n, L * C)``.
``logmel``
    The DCASE 2020 Task 2 / MLPerf Tiny anomaly-detection front end, computed per channel on each
    window with ``center=False``: frames of ``n_fft`` samples every ``hop_length`` samples,
    periodic Hann window (``scipy.signal.get_window("hann", n_fft)`` as librosa), power spectrum
    ``|STFT|**power``, librosa's mel filter bank (``librosa.filters.mel``: Slaney mel scale and
    Slaney area normalisation unless ``htk``/``mel_norm`` say otherwise), then exactly the DCASE
    baseline's decibels::

        logmel = 20.0 / power * log10(mel + eps)         # eps = sys.float_info.epsilon

    (with ``power=2`` this is ``10*log10(mel + 2.22e-16)``; no ``ref``, no ``top_db`` clipping).
    A window of ``n_fft + (n_frames - 1) * hop_length`` samples (default 1024 + 4*512 = 3072)
    gives ``n_frames`` frames, flattened frame-major like the baseline's ``vector_array``:
    ``[frame0 mel0..mel127, frame1 mel0..., ...]`` = 5 * 128 = 640 values per channel; channels
    are concatenated. This equals ``librosa.feature.melspectrogram(y=window, sr=sr, n_fft=n_fft,
    hop_length=hop_length, n_mels=n_mels, power=power, center=False)`` to float32 precision.
``spectrum``
    For vibration: per channel, ``|rfft(window * hann)| * 2 / sum(hann)`` (amplitude spectrum),
    averaged in ``n_bands`` equal-width frequency bands over bins ``1 .. L//2`` (DC dropped), then
    ``20*log10(band + eps)`` when ``db`` (else linear); channels concatenated.

Every parameter is a dataclass field, stored by :meth:`FeaturePipeline.to_dict` in the manifest,
so ``FeaturePipeline.from_dict(manifest["features"]).transform(X)`` reproduces the features.

Example
-------
>>> import numpy as np
>>> fp = FeaturePipeline(kind="logmel", sr=16000.0)
>>> fp.logmel_window_length(), fp.n_features(3072, 1)
(3072, 640)
>>> fp.transform(np.zeros((2, 3072, 1), np.float32)).shape
(2, 640)
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields

import numpy as np

from edgesynth.errors import ParameterError
from edgesynth.validation import check_features, check_positive_int, check_windows

KINDS = ("raw", "logmel", "spectrum")
_BATCH = 256  # windows per FFT batch: bounds temporary memory


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (= ``scipy.signal.get_window("hann", n)``, librosa's STFT window)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


@dataclass
class FeaturePipeline:
    """Turn windows ``(n, window_length, n_channels)`` into feature rows ``(n, n_features)``.

    See the module docstring for the exact definition of each ``kind``. ``sr`` is needed by
    ``logmel`` (mel filter bank); ``fmax=None`` means ``sr / 2``.
    """

    kind: str = "raw"
    sr: float | None = None
    n_mels: int = 128
    n_fft: int = 1024
    hop_length: int = 512
    n_frames: int = 5
    power: float = 2.0
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    mel_norm: str | None = "slaney"
    eps: float = sys.float_info.epsilon
    n_bands: int = 32
    db: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError(f"`kind` must be one of {KINDS}. Received: kind={self.kind!r}")
        for name in ("n_mels", "n_fft", "hop_length", "n_frames", "n_bands"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        if not self.power > 0:
            raise ParameterError(f"`power` must be > 0. Received: power={self.power!r}")
        if self.kind == "logmel":
            if self.sr is None or not float(self.sr) > 0:
                raise ParameterError(f"`sr` (sample rate in Hz) is required for kind='logmel'. Received: sr={self.sr!r}")
            self.sr = float(self.sr)
        self._mel_basis = None

    # ------------------------------------------------------------------ shapes
    def logmel_window_length(self) -> int:
        """Samples per window that give exactly ``n_frames`` frames: ``n_fft + (n_frames-1)*hop_length``."""
        return self.n_fft + (self.n_frames - 1) * self.hop_length

    def n_features(self, window_length: int, n_channels: int = 1) -> int:
        """Length of one feature vector for windows of this shape."""
        window_length = check_positive_int(window_length, "window_length")
        n_channels = check_positive_int(n_channels, "n_channels")
        if self.kind == "raw":
            return window_length * n_channels
        if self.kind == "logmel":
            self._check_logmel_length(window_length)
            return self.n_mels * self.n_frames * n_channels
        n_bins = window_length // 2
        if n_bins < self.n_bands:
            raise ParameterError(
                f"`n_bands`={self.n_bands} needs windows of at least {2 * self.n_bands} samples. "
                f"Received: window_length={window_length}"
            )
        return self.n_bands * n_channels

    def _check_logmel_length(self, window_length: int) -> None:
        need = self.logmel_window_length()
        if window_length != need:
            raise ParameterError(
                f"logmel with n_fft={self.n_fft}, hop_length={self.hop_length}, n_frames={self.n_frames} "
                f"needs windows of {need} samples (window_length={need}). Received: window_length={window_length}"
            )

    # ------------------------------------------------------------------ transform
    def transform(self, X) -> np.ndarray:
        """Features of each window.

        Parameters
        ----------
        X : np.ndarray [shape=(n_windows, window_length, n_channels)] (2-D = one channel)

        Returns
        -------
        F : np.ndarray [shape=(n_windows, n_features), dtype=float32]
        """
        X = check_windows(X)
        n, L, C = X.shape
        d = self.n_features(L, C)
        if self.kind == "raw":
            return np.ascontiguousarray(X.reshape(n, L * C), dtype=np.float32)
        out = np.empty((n, d), dtype=np.float32)
        fn = self._logmel if self.kind == "logmel" else self._spectrum
        for s in range(0, n, _BATCH):
            out[s:s + _BATCH] = fn(X[s:s + _BATCH])
        return out

    def mel_basis(self) -> np.ndarray:
        """librosa's mel filter bank ``(n_mels, 1 + n_fft // 2)`` float32 for these parameters."""
        if self._mel_basis is None:
            import librosa

            self._mel_basis = librosa.filters.mel(
                sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax,
                htk=self.htk, norm=self.mel_norm, dtype=np.float32,
            )
        return self._mel_basis

    def _logmel(self, X: np.ndarray) -> np.ndarray:
        import scipy.fft

        n, L, C = X.shape
        win = _hann(self.n_fft)
        x = np.ascontiguousarray(X.transpose(0, 2, 1))  # (n, C, L)
        frames = np.lib.stride_tricks.sliding_window_view(x, self.n_fft, axis=-1)[:, :, :: self.hop_length]
        spec = scipy.fft.rfft(frames * win, axis=-1)  # (n, C, n_frames, 1 + n_fft/2) complex64
        S = np.abs(spec) ** self.power if self.power != 2.0 else spec.real ** 2 + spec.imag ** 2
        mel = S.astype(np.float32) @ self.mel_basis().T  # (n, C, n_frames, n_mels)
        logmel = (20.0 / self.power) * np.log10(mel + self.eps)
        return logmel.reshape(n, -1)

    def _spectrum(self, X: np.ndarray) -> np.ndarray:
        import scipy.fft

        n, L, C = X.shape
        win = _hann(L)
        mag = np.abs(scipy.fft.rfft(X * win[None, :, None], axis=1))[:, 1 : L // 2 + 1] * (2.0 / win.sum())
        edges = np.linspace(0, mag.shape[1], self.n_bands + 1).round().astype(int)
        bands = np.add.reduceat(mag, edges[:-1], axis=1) / np.diff(edges)[None, :, None]  # (n, n_bands, C)
        if self.db:
            bands = 20.0 * np.log10(bands + self.eps)
        return bands.transpose(0, 2, 1).reshape(n, -1)

    # ------------------------------------------------------------------ manifest
    def to_dict(self) -> dict:
        """Every parameter (JSON-ready), enough to rebuild an identical pipeline."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["window_length"] = self.logmel_window_length() if self.kind == "logmel" else None
        d["definition"] = {
            "raw": "X.reshape(n, window_length * n_channels)",
            "logmel": "20/power*log10(melfb(|rfft(hann*frame)|**power)+eps), center=False, frame-major",
            "spectrum": "20*log10(band_mean(|rfft(hann*x)|*2/sum(hann))+eps) per channel",
        }[self.kind]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeaturePipeline":
        """Inverse of :meth:`to_dict` (informational keys are ignored)."""
        names = {f.name for f in fields(cls)}
        if "kind" not in d:
            raise ParameterError(f"feature pipeline dict needs a 'kind'. Received keys: {sorted(d)}")
        return cls(**{k: v for k, v in d.items() if k in names})


NORMALIZER_MODES = ("feature", "global", "none")


@dataclass
class Normalizer:
    """Standardize features with statistics of *normal training data only*.

    ``transform(F) = (F - mean_) / scale_`` in float32. ``mode="feature"``: one mean/std per
    feature; ``"global"``: one mean/std over all values; ``"none"``: identity. A feature whose
    standard deviation is below ``std_floor`` times the global standard deviation (constant
    features, silent mel bands) gets that floor as scale, so it cannot explode on new data.
    """

    mode: str = "feature"
    std_floor: float = 1e-3

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZER_MODES:
            raise ParameterError(f"`mode` must be one of {NORMALIZER_MODES}. Received: mode={self.mode!r}")
        if not self.std_floor >= 0:
            raise ParameterError(f"`std_floor` must be >= 0. Received: std_floor={self.std_floor!r}")
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, F, y=None) -> "Normalizer":
        """Fit on ``F (n, n_features)``; with ``y``, only rows with ``y == 0`` (normal) are used."""
        F = check_features(F, "F")
        if y is not None:
            y = np.asarray(y)
            if y.shape != (F.shape[0],):
                raise ParameterError(f"`y` must have shape ({F.shape[0]},). Received: y.shape={y.shape}")
            F = check_features(F[y == 0], "F[y == 0] (normal rows)")
        F64 = F.astype(np.float64)
        d = F.shape[1]
        if self.mode == "none":
            mean, scale = np.zeros(d), np.ones(d)
        elif self.mode == "global":
            g = F64.std()
            mean = np.full(d, F64.mean())
            scale = np.full(d, g if g > 0 else 1.0)
        else:
            mean, std = F64.mean(axis=0), F64.std(axis=0)
            g = F64.std()
            floor = self.std_floor * g if g > 0 else 1.0
            scale = np.maximum(std, max(floor, np.finfo(np.float32).tiny))
        self.mean_ = mean.astype(np.float32)
        self.scale_ = scale.astype(np.float32)
        return self

    def _check(self, F) -> np.ndarray:
        if self.mean_ is None:
            raise ParameterError("this Normalizer is not fitted yet; call fit(F_normal) first")
        return check_features(F, "F", n_features=self.mean_.shape[0])

    def transform(self, F) -> np.ndarray:
        """``(F - mean_) / scale_`` as float32 ``(n, n_features)``."""
        F = self._check(F)
        return ((F - self.mean_) / self.scale_).astype(np.float32, copy=False)

    def inverse_transform(self, Z) -> np.ndarray:
        """``Z * scale_ + mean_`` as float32."""
        Z = self._check(Z)
        return (Z * self.scale_ + self.mean_).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        """Mode, floor and the float32 statistics as lists (exact JSON round trip)."""
        d = asdict(self)
        d["mean"] = None if self.mean_ is None else [float(v) for v in self.mean_]
        d["scale"] = None if self.scale_ is None else [float(v) for v in self.scale_]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        obj = cls(mode=d.get("mode", "feature"), std_floor=d.get("std_floor", 1e-3))
        if d.get("mean") is not None:
            obj.mean_ = np.asarray(d["mean"], dtype=np.float32)
            obj.scale_ = np.asarray(d["scale"], dtype=np.float32)
            if obj.mean_.shape != obj.scale_.shape or obj.mean_.ndim != 1:
                raise ParameterError("normalizer dict: 'mean' and 'scale' must be lists of equal length")
        return obj


__all__ = ["KINDS", "FeaturePipeline", "Normalizer", "NORMALIZER_MODES"]
