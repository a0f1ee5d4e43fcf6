"""The :class:`Dataset` every loader and the simulator return."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgesynth.errors import DataError, ParameterError


@dataclass
class Dataset:
    """Labelled windows of sensor data.

    Attributes
    ----------
    X : np.ndarray [shape=(n_windows, window_length, n_channels), dtype=float32]
        The windows. Always 3-D; a univariate series has ``n_channels == 1``.
    y : np.ndarray [shape=(n_windows,), dtype=int8] or None
        0 = normal, 1 = anomaly; ``None`` when the source carries no labels.
    labels : np.ndarray [shape=(n_windows,)] or None
        The original labels as strings (``"1"``..``"5"`` for ECG5000, ``"bearing"`` for the
        simulator, ``"normal"``/``"anomaly"`` for WAV folders). Anomaly *types* for conditional
        generators come from here.
    sr : float or None
        Sample rate in Hz, when known.
    channel_names : list of str
        One name per channel.
    source : str
        Where the data came from (a path or ``"simulate:vibration"``).
    groups : np.ndarray [shape=(n_windows,), dtype=int64]
        Recording / file id of each window. Splits put whole groups on one side so windows of one
        recording never leak between train and test.
    sha256 : str or None
        Hash of the source file(s), recorded in manifests.
    meta : dict
        Loader-specific extras (e.g. ``{"normal_label": "1"}``, file names per group).
    """

    X: np.ndarray
    y: np.ndarray | None = None
    labels: np.ndarray | None = None
    sr: float | None = None
    channel_names: list[str] = field(default_factory=list)
    source: str = ""
    groups: np.ndarray | None = None
    sha256: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise ParameterError(
                f"`Dataset.X` must have shape (n_windows, window_length, n_channels). Received: X.shape={X.shape}"
            )
        if X.shape[0] == 0:
            raise DataError(f"dataset from {self.source or 'memory'!r} is empty (0 windows)")
        self.X = X.astype(np.float32, copy=False)
        n = X.shape[0]
        if self.y is not None:
            y = np.asarray(self.y)
            if y.shape != (n,):
                raise ParameterError(f"`Dataset.y` must have shape ({n},). Received: y.shape={y.shape}")
            self.y = y.astype(np.int8)
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(str)
        if self.groups is None:
            self.groups = np.arange(n, dtype=np.int64)
        else:
            self.groups = np.asarray(self.groups, dtype=np.int64)
        if not self.channel_names:
            self.channel_names = [f"ch{i}" for i in range(X.shape[2])]
        if len(self.channel_names) != X.shape[2]:
            raise ParameterError(
                f"`Dataset.channel_names` has {len(self.channel_names)} names for {X.shape[2]} channels"
            )

    # ------------------------------------------------------------------ conveniences
    @property
    def n_windows(self) -> int:
        return int(self.X.shape[0])

    @property
    def window_length(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[2])

    def subset(self, index) -> "Dataset":
        """A new Dataset with the windows selected by ``index`` (mask or integer indices)."""
        index = np.asarray(index)
        return Dataset(
            X=self.X[index],
            y=None if self.y is None else self.y[index],
            labels=None if self.labels is None else self.labels[index],
            sr=self.sr,
            channel_names=list(self.channel_names),
            source=self.source,
            groups=self.groups[index],
            sha256=self.sha256,
            meta=dict(self.meta),
        )

    def normal(self) -> "Dataset":
        """The windows labelled normal (all of them when unlabelled)."""
        if self.y is None:
            return self
        return self.subset(self.y == 0)

    def anomalies(self) -> "Dataset | None":
        """The windows labelled anomalous, or ``None`` when there are none."""
        if self.y is None or not np.any(self.y == 1):
            return None
        return self.subset(self.y == 1)

    def describe(self) -> dict:
        """Summary for manifests: shape, counts, source and hash."""
        out = {
            "source": self.source,
            "sha256": self.sha256,
            "n_windows": self.n_windows,
            "window_length": self.window_length,
            "n_channels": self.n_channels,
            "channel_names": list(self.channel_names),
            "sr": self.sr,
        }
        if self.y is not None:
            out["n_normal"] = int(np.sum(self.y == 0))
            out["n_anomaly"] = int(np.sum(self.y == 1))
        return out
