"""The tiny autoencoder detector, in scikit-learn style.

Sign convention (PyOD's): :meth:`Detector.score_samples` and :meth:`Detector.decision_function`
return *higher = more anomalous*; :meth:`Detector.predict` returns 1 for ``score > threshold_``.

Training modes:

* normal-only reconstruction (``loss="mse"`` or ``"mae"``);
* with anomalies (real, synthetic, or both) and ``loss="abc"``: the autoencoding binary
  classifier loss (see :mod:`edgesynth.detect.losses`), anomalies weighted so both classes carry
  the same total weight (class balancing).

Early stopping watches the loss on a validation split (``validation_fraction`` of each class) and
restores the best weights; the threshold is calibrated on the same validation data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgesynth.errors import DataError, ModelError, ParameterError
from edgesynth.validation import check_binary_labels, check_features, check_positive_int

ARCHITECTURES = ("dense", "conv")


def _balanced(X_normal: np.ndarray, X_anomaly: np.ndarray):
    """Rows, 0/1 labels and class-balancing weights (both classes the same total weight, mean 1)."""
    X = np.concatenate([X_normal, X_anomaly])
    lab = np.r_[np.zeros(len(X_normal)), np.ones(len(X_anomaly))].astype(np.float32)
    w = np.ones(len(X), np.float32)
    if len(X_anomaly):
        w[lab == 1] = len(X_normal) / len(X_anomaly)
        w *= len(X) / w.sum()
    return X, lab, w


class Detector:
    """Autoencoder anomaly detector for normalized feature vectors ``(n, n_features)``.

    Parameters
    ----------
    architecture : {"dense", "conv"}
        ``conv`` needs ``input_shape=(window_length, n_channels)`` and flat raw windows.
    widths, bottleneck : dense autoencoder shape (see :func:`~edgesynth.detect.models.build_dense_autoencoder`).
    filters, kernel_size : conv autoencoder shape.
    loss : {"mse", "mae", "abc"} or None
        ``None`` = ``"abc"`` when anomalies are given to :meth:`fit`, else ``"mse"``.
    epochs, batch_size, learning_rate : training (Adam).
    validation_fraction : float
        Share of each class held out for early stopping and threshold calibration.
    patience : int
        Early-stopping patience in epochs.
    threshold : {"fpr", "f1", "percentile"}
        Calibration method (see :func:`~edgesynth.detect.thresholds.calibrate_threshold`).
    target_fpr : float
        False-positive rate for ``fpr`` / ``percentile``.
    seed : int
        Seeds initializers and shuffling; global state is left alone unless ``deterministic``.
    deterministic : bool
        Also enable TensorFlow op determinism (slower, reseeds Keras' global generators).
    verbose : int
        Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).

    Attributes
    ----------
    model_ : tf_keras.Model
    threshold_ : float
    n_features_in_ : int
    history_ : dict
        Keras training history.
    loss_ : str
        Loss actually used.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 16)).astype("float32")
    >>> det = Detector(epochs=2, verbose=0).fit(X)
    >>> det.score_samples(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        *,
        architecture: str = "dense",
        widths=None,
        bottleneck: int | None = None,
        filters=None,
        kernel_size: int = 5,
        input_shape=None,
        loss: str | None = None,
        epochs: int = 100,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        validation_fraction: float = 0.15,
        patience: int = 10,
        threshold: str = "fpr",
        target_fpr: float = 0.01,
        seed: int = 0,
        deterministic: bool = False,
        verbose: int = 0,
    ):
        self.architecture = architecture
        self.widths = widths
        self.bottleneck = bottleneck
        self.filters = filters
        self.kernel_size = kernel_size
        self.input_shape = input_shape
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.threshold = threshold
        self.target_fpr = target_fpr
        self.seed = seed
        self.deterministic = deterministic
        self.verbose = verbose

    # ------------------------------------------------------------------ params
    def get_params(self) -> dict:
        """Constructor arguments (JSON-friendly), as in scikit-learn."""
        keys = ("architecture", "widths", "bottleneck", "filters", "kernel_size", "input_shape", "loss",
                "epochs", "batch_size", "learning_rate", "validation_fraction", "patience", "threshold",
                "target_fpr", "seed", "deterministic", "verbose")
        out = {}
        for k in keys:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def _validate_params(self) -> None:
        from edgesynth.detect.losses import LOSSES
        from edgesynth.detect.thresholds import METHODS

        if self.architecture not in ARCHITECTURES:
            raise ParameterError(f"`architecture` must be one of {ARCHITECTURES}. Received: architecture={self.architecture!r}")
        if self.loss is not None and self.loss not in LOSSES:
            raise ParameterError(f"`loss` must be one of {LOSSES}. Received: loss={self.loss!r}")
        if self.threshold not in METHODS:
            raise ParameterError(f"`threshold` must be one of {METHODS}. Received: threshold={self.threshold!r}")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.patience, "patience")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ParameterError(
                f"`validation_fraction` must be in [0, 1). Received: validation_fraction={self.validation_fraction}")
        if not 0.0 < self.target_fpr < 1.0:
            raise ParameterError(f"`target_fpr` must be in (0, 1). Received: target_fpr={self.target_fpr}")
        if not self.learning_rate > 0:
            raise ParameterError(f"`learning_rate` must be > 0. Received: learning_rate={self.learning_rate}")

    def build(self, n_features: int):
        """Build (untrained) the model this detector would train for ``n_features`` inputs."""
        from edgesynth.detect import models

        if self.architecture == "dense":
            kw = {}
            if self.widths is not None:
                kw["widths"] = self.widths
            if self.bottleneck is not None:
                kw["bottleneck"] = self.bottleneck
            return models.build_dense_autoencoder(n_features, seed=self.seed, **kw)
        if self.input_shape is None:
            raise ParameterError("`architecture='conv'` needs `input_shape=(window_length, n_channels)`")
        L, C = (int(v) for v in self.input_shape)
        if L * C != n_features:
            raise ParameterError(
                f"`input_shape`={tuple(self.input_shape)} holds {L * C} values but X has {n_features} features per row")
        kw = {"filters": self.filters} if self.filters is not None else {}
        return models.build_conv_autoencoder(L, C, kernel_size=self.kernel_size, seed=self.seed, **kw)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, X_anomaly=None) -> "Detector":
        """Train on normal rows of ``X`` (and anomalies, if any).

        Parameters
        ----------
        X : np.ndarray [shape=(n, n_features)]
            Training rows; all normal unless ``y`` says otherwise.
        y : np.ndarray [shape=(n,)] or None
            0 normal / 1 anomaly for the rows of ``X``.
        X_anomaly : np.ndarray [shape=(m, n_features)] or None
            Extra anomalies (real or synthetic).

        Returns
        -------
        self
        """
        from edgesynth._tf import keras, set_deterministic, tf
        from edgesynth.detect.losses import get_loss, pack_targets
        from edgesynth.detect.thresholds import calibrate_threshold

        self._validate_params()
        X = check_features(X, "X")
        y = np.zeros(len(X), np.int8) if y is None else check_binary_labels(y, len(X))
        X_norm = X[y == 0]
        X_anom = [X[y == 1]]
        if X_anomaly is not None:
            X_anom.append(check_features(X_anomaly, "X_anomaly", n_features=X.shape[1]))
        X_anom = np.concatenate(X_anom) if X_anom else np.zeros((0, X.shape[1]), np.float32)
        if len(X_norm) == 0:
            raise DataError(
                f"training needs normal windows; X has {len(X)} row(s) and all are labelled anomalous")
        if len(X_norm) < 2:
            raise DataError(
                f"training needs at least 2 normal windows (one to fit, one to calibrate). Received {len(X_norm)}")
        loss_name = self.loss or ("abc" if len(X_anom) else "mse")
        if len(X_anom) and loss_name != "abc":
            raise ParameterError(
                f"anomalies were given but loss={loss_name!r} ignores them; use loss='abc' (or None)")
        rng = np.random.default_rng(self.seed)

        def split(A):
            perm = rng.permutation(len(A))
            n_val = int(round(len(A) * self.validation_fraction))
            if len(A) - n_val < 1:
                n_val = len(A) - 1
            return A[perm[n_val:]], A[perm[:n_val]]

        n_fit, n_val = split(X_norm)
        a_fit, a_val = split(X_anom) if len(X_anom) > 1 else (X_anom, X_anom[:0])
        Xf, lf, wf = _balanced(n_fit, a_fit)
        if self.deterministic:
            set_deterministic(self.seed)
        model = self.build(X.shape[1])
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=get_loss(loss_name))
        bs = min(int(self.batch_size), len(Xf))
        train_ds = (tf.data.Dataset.from_tensor_slices((Xf, pack_targets(Xf, lf), wf))
                    .shuffle(len(Xf), seed=self.seed, reshuffle_each_iteration=True).batch(bs))
        callbacks, val_ds = [], None
        if len(n_val):
            Xv, lv, wv = _balanced(n_val, a_val)
            val_ds = tf.data.Dataset.from_tensor_slices((Xv, pack_targets(Xv, lv), wv)).batch(max(bs, 256))
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(self.patience),
                                                           restore_best_weights=True))
        hist = model.fit(train_ds, validation_data=val_ds, epochs=int(self.epochs), callbacks=callbacks,
                         verbose=self.verbose)
        if not np.all(np.isfinite(hist.history["loss"])):
            raise ModelError("training diverged (non-finite loss); lower `learning_rate` or check the data scale")
        self.model_ = model
        self.loss_ = loss_name
        self.n_features_in_ = int(X.shape[1])
        self.history_ = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
        # calibrate on validation data (falls back to training normals when there is none)
        if len(n_val):
            cal_X = np.concatenate([n_val, a_val])
            cal_y = np.r_[np.zeros(len(n_val), np.int8), np.ones(len(a_val), np.int8)]
        else:
            cal_X, cal_y = Xf, lf.astype(np.int8)
        if self.threshold == "f1" and not cal_y.any():
            raise DataError("threshold='f1' needs anomalies to calibrate on; give X_anomaly or use 'fpr'")
        self.threshold_ = calibrate_threshold(self.score_samples(cal_X), cal_y, method=self.threshold,
                                              target_fpr=self.target_fpr)
        return self

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ModelError("this Detector is not fitted yet; call fit() or Detector.from_dir() first")

    def reconstruct(self, X) -> np.ndarray:
        """Float reconstruction ``(n, n_features)`` of ``X``."""
        self._check_fitted()
        X = check_features(X, "X", n_features=self.n_features_in_)
        return np.asarray(self.model_(X, training=False), dtype=np.float32)

    def score_samples(self, X) -> np.ndarray:
        """Anomaly scores ``(n,)``: mean squared reconstruction error; higher = more anomalous."""
        from edgesynth.detect.models import reconstruction_score

        X = check_features(X, "X", n_features=getattr(self, "n_features_in_", None))
        out = []
        for i in range(0, len(X), 4096):
            out.append(reconstruction_score(X[i:i + 4096], self.reconstruct(X[i:i + 4096])))
        return np.concatenate(out)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - threshold_`` (positive = flagged)."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X) -> np.ndarray:
        """1 (anomaly) where ``score > threshold_``, else 0; int8 ``(n,)``."""
        self._check_fitted()
        return (self.score_samples(X) > self.threshold_).astype(np.int8)

    def calibrate(self, X, y=None, *, method: str | None = None, target_fpr: float | None = None) -> float:
        """Re-calibrate ``threshold_`` on ``(X, y)`` and return it."""
        from edgesynth.detect.thresholds import calibrate_threshold

        self.threshold_ = calibrate_threshold(self.score_samples(X), y, method=method or self.threshold,
                                              target_fpr=self.target_fpr if target_fpr is None else target_fpr)
        return self.threshold_

    # ------------------------------------------------------------------ disk
    def save(self, path) -> Path:
        """Write a float detector artifact: ``detector.keras`` + ``manifest.json`` (atomic)."""
        from edgesynth.artifact import ArtifactWriter, atomic_path
        from edgesynth.detect.models import model_stats

        self._check_fitted()
        manifest = {
            "model": {"architecture": self.architecture, "input_dim": self.n_features_in_, "loss": self.loss_,
                      **model_stats(self.model_)},
            "threshold": {"float_value": float(self.threshold_), "method": self.threshold,
                          "target_fpr": self.target_fpr},
            "detector_params": self.get_params(),
        }
        with ArtifactWriter(path, kind="detector", manifest=manifest) as w:
            with atomic_path(w.file("detector.keras")) as tmp:
                self.model_.save(tmp)
        return Path(path)

    @classmethod
    def from_dir(cls, path) -> "Detector":
        """Load the float detector of an artifact directory (``detector.keras`` + manifest threshold)."""
        from edgesynth._tf import keras
        from edgesynth.artifact import read_manifest

        path = Path(path)
        manifest = read_manifest(path, kind="detector")
        f = path / "detector.keras"
        if not f.is_file():
            raise ModelError(f"artifact {str(path)!r} has no detector.keras")
        try:
            model = keras.models.load_model(f, compile=False)
        except Exception as exc:
            raise ModelError(f"cannot load {str(f)!r}: {exc}") from exc
        params = dict(manifest.get("detector_params") or {})
        m = manifest.get("model", {})
        params.setdefault("architecture", m.get("architecture", "dense"))
        det = cls(**{k: v for k, v in params.items() if k in cls().get_params()})
        det.model_ = model
        det.loss_ = m.get("loss", "mse")
        det.n_features_in_ = int(model.input_shape[-1])
        thr = manifest.get("threshold", {})
        if "float_value" not in thr:
            raise ModelError(f"manifest of {str(path)!r} has no threshold.float_value")
        det.threshold_ = float(thr["float_value"])
        return det
