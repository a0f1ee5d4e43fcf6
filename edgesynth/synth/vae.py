"""A conditional variational autoencoder that learns anomalies from a handful of examples.

The condition is the class: ``"normal"`` and ``"anomaly"``, or the anomaly *types* when string
labels are given (one-hot). Encoder and decoder are shared by all classes, so the few real
anomalies borrow the structure learned from the many normal windows; the class only shifts what
the decoder produces. Minority classes are oversampled so that each batch holds at least
``oversample`` of them.

With no real anomaly at all, :meth:`ConditionalVAE.sample` can draw latents from the *tails* of
the prior (``tail=(2, 3)``: per-coordinate RMS radius between 2 and 3 standard deviations, where
the prior sits at about 1), decoded with the normal condition: novel, off-manifold windows that
still carry the structure of the sensor.

Works on windows ``(n, window_length, n_channels)`` and on feature vectors ``(n, n_features)``:
samples are flattened internally and reshaped on output.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(64, 16, 1)).astype("float32"); y = (np.arange(64) < 6).astype(int)
>>> vae = ConditionalVAE(latent_dim=2, widths=(8,), epochs=2, seed=0).fit(X, y)
>>> vae.sample(3, label=1, seed=1).shape
(3, 16, 1)
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from edgesynth._tf import keras, tf
from edgesynth.errors import DataError, ModelError, ParameterError
from edgesynth.validation import check_array, check_binary_labels, check_positive_int

NORMAL = "normal"


# --------------------------------------------------------------------------- shared helpers
def prepare_xy(X: Any, y: Any, labels: Any, *, min_samples: int, who: str):
    """Validate ``X`` (2-D or 3-D), ``y`` (0/1 or None = all normal) and optional string ``labels``.

    Returns ``X float32, y int8, labels str array or None``.
    """
    X = check_array(X, "X", ndim=(2, 3))
    n = X.shape[0]
    if n < min_samples:
        raise DataError(
            f"{who} needs at least {min_samples} training samples. Received: X.shape={X.shape}"
        )
    y = np.zeros(n, np.int8) if y is None else check_binary_labels(y, n)
    if labels is not None:
        labels = np.asarray(labels).astype(str)
        if labels.shape != (n,):
            raise ParameterError(f"`labels` must have shape ({n},). Received: labels.shape={labels.shape}")
    return X, y, labels


def class_names(y: np.ndarray, labels: np.ndarray | None) -> tuple[list[str], np.ndarray]:
    """Condition classes (``"normal"`` first when present, then anomaly types) and class ids."""
    if labels is None:
        names = np.where(y == 1, "anomaly", NORMAL)
    else:
        names = np.where(y == 1, labels, NORMAL)
        if np.any((y == 1) & (labels == NORMAL)):
            raise DataError("`labels` marks an anomalous sample (y=1) as 'normal'")
    classes = ([NORMAL] if np.any(y == 0) else []) + sorted(set(names[y == 1].tolist()))
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[c] for c in names], dtype=np.int64)


def batch_schedule(cls: np.ndarray, *, epochs: int, batch_size: int, oversample: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Sample indices for every step: ``(epochs * steps, batch)`` and ``steps`` per epoch.

    Minority (non-majority) classes together get at least ``oversample`` of the draws, shared
    equally among them, so 5 anomalies among 500 normals are seen in every batch.
    """
    n = len(cls)
    bs = min(batch_size, n)
    steps = max(1, math.ceil(n / bs))
    ids, counts = np.unique(cls, return_counts=True)
    p = np.full(n, 1.0 / n)
    if len(ids) > 1 and oversample > 0:
        major = ids[np.argmax(counts)]
        minor_mask = cls != major
        share = max(float(minor_mask.mean()), float(oversample))
        minors = [i for i in ids if i != major]
        for i in minors:
            m = cls == i
            p[m] = share / len(minors) / m.sum()
        p[~minor_mask] = (1.0 - share) / (~minor_mask).sum()
        p /= p.sum()
    idx = rng.choice(n, size=(epochs * steps, bs), replace=True, p=p)
    return idx.astype(np.int64), steps


def parse_tail(tail: Any) -> tuple[float, float] | None:
    """``None``, a float ``t`` (-> ``(t, t + 1)``) or ``(lo, hi)`` with ``0 <= lo <= hi``."""
    if tail is None:
        return None
    if isinstance(tail, (int, float, np.floating, np.integer)) and not isinstance(tail, bool):
        lo, hi = float(tail), float(tail) + 1.0
    else:
        try:
            lo, hi = (float(v) for v in tail)
        except Exception:
            raise ParameterError(f"`tail` must be a number or a (low, high) pair. Received: tail={tail!r}") from None
    if not (0 <= lo <= hi) or not np.isfinite(hi):
        raise ParameterError(f"`tail` must satisfy 0 <= low <= high. Received: tail={tail!r}")
    return lo, hi


def draw_latents(n: int, dim: int, rng: np.random.Generator, tail) -> np.ndarray:
    """Prior draws, or tail draws: random directions with per-coordinate RMS radius in ``tail``."""
    z = rng.standard_normal((n, dim))
    t = parse_tail(tail)
    if t is not None:
        u = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        r = rng.uniform(t[0], t[1], size=(n, 1)) * math.sqrt(dim)
        z = u * r
    return z.astype(np.float32)


class GeneratorBase:
    """fit/sample/save/from_dir plumbing shared by :class:`ConditionalVAE` and the WGAN."""

    kind = "generator"
    min_samples = 8
    _params: tuple[str, ...] = ()

    # ---------------------------------------------------------------- sklearn-like params
    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if getattr(self, "model_", None) is None:
            raise ModelError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    # ---------------------------------------------------------------- labels for sampling
    def _resolve_classes(self, n: int, label: Any, tail, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """Class ids for ``n`` samples of ``label`` (0, 1 or a class name); True if tail fallback."""
        classes = self.classes_
        if isinstance(label, str):
            if label not in classes:
                raise ParameterError(f"`label` must be one of {classes}. Received: label={label!r}")
            return np.full(n, classes.index(label)), False
        if label is None:
            label = 1
        if label in (0, False):
            if NORMAL not in classes:
                raise ParameterError("`label=0` needs normal training samples; none were seen in fit")
            return np.full(n, classes.index(NORMAL)), False
        if label not in (1, True):
            raise ParameterError(f"`label` must be 0, 1 or a class name. Received: label={label!r}")
        anomalous = [i for i, c in enumerate(classes) if c != NORMAL]
        if not anomalous:
            if parse_tail(tail) is None:
                raise ParameterError(
                    "no anomalies were seen in fit, so `label=1` needs tail sampling: pass e.g. tail=(2, 3)"
                )
            return np.full(n, classes.index(NORMAL)), True
        w = np.array([self.class_counts_[i] for i in anomalous], float)
        return rng.choice(anomalous, size=n, p=w / w.sum()), False

    def _sample_rng(self, seed) -> np.random.Generator:
        if seed is None:
            return self._rng_
        return np.random.default_rng(seed)

    # ---------------------------------------------------------------- persistence
    def _state(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "params": self.get_params(),
            "shape": list(self.shape_),
            "classes": list(self.classes_),
            "class_counts": [int(c) for c in self.class_counts_],
            "mean": np.asarray(self.mean_).tolist(),
            "scale": np.asarray(self.scale_).tolist(),
            "model_seed": int(self.model_seed_),
            "extra": self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def write_into(self, directory: str | Path) -> None:
        """Write ``generator.json`` + ``weights.npz`` into an existing (temporary) directory."""
        from edgesynth.artifact import to_json

        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "generator.json").write_text(to_json(self._state()), "utf-8")
        weights = self._get_weights()
        with open(d / "weights.npz", "wb") as fh:
            np.savez(fh, **{f"w{i:03d}": w for i, w in enumerate(weights)})

    def save(self, directory: str | Path) -> Path:
        """Save as an artifact directory (kind ``generator``), atomically; returns the path."""
        from edgesynth.artifact import ArtifactWriter

        self._check_fitted()
        with ArtifactWriter(directory, kind=self.kind) as w:
            self.write_into(w.tmp)
            w.manifest["generator"] = {"class": type(self).__name__, "params": self.get_params()}
        return Path(directory)

    @classmethod
    def from_dir(cls, directory: str | Path):
        """Load a generator saved with :meth:`save` (the manifest's file hashes are verified)."""
        from edgesynth.artifact import read_manifest

        d = Path(directory)
        read_manifest(d, kind=cls.kind)
        try:
            state = json.loads((d / "generator.json").read_text("utf-8"))
            with np.load(d / "weights.npz") as z:
                weights = [z[k] for k in sorted(z.files)]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read generator from {str(d)!r}: {exc}") from exc
        if state.get("class") != cls.__name__:
            raise ModelError(f"{str(d)!r} holds a {state.get('class')!r}, not a {cls.__name__}")
        obj = cls(**state["params"])
        obj.shape_ = tuple(state["shape"])
        obj.classes_ = list(state["classes"])
        obj.class_counts_ = np.asarray(state["class_counts"], np.int64)
        obj.mean_ = np.asarray(state["mean"], np.float32)
        obj.scale_ = np.asarray(state["scale"], np.float32)
        obj.model_seed_ = int(state["model_seed"])
        obj._load_extra(state.get("extra", {}))
        obj.model_ = obj._build_model()
        obj._build_variables()
        try:
            obj._set_weights(weights)
        except ValueError as exc:
            raise ModelError(f"weights in {str(d)!r} do not fit the saved configuration: {exc}") from exc
        obj._rng_ = np.random.default_rng(obj.seed)
        return obj

    def _load_extra(self, extra: dict[str, Any]) -> None:
        pass

    def _get_weights(self) -> list[np.ndarray]:
        return self.model_.get_weights()

    def _set_weights(self, weights: list[np.ndarray]) -> None:
        self.model_.set_weights(weights)


# --------------------------------------------------------------------------- Keras model
@keras.saving.register_keras_serializable(package="edgesynth")
class CVAEModel(keras.Model):
    """Conditional VAE as a Keras model: ``call((x, c)) -> reconstruction``.

    Parameters
    ----------
    input_dim : int
        Flattened sample size.
    n_classes : int
        Width of the one-hot condition ``c``.
    latent_dim : int
    widths : tuple of int
        Encoder hidden widths (the decoder mirrors them).
    beta : float
        Weight of the KL term (beta-VAE).
    seed : int
        Seeds the weight initializers.

    ``train_step`` expects batches ``(x (b, input_dim), c (b, n_classes), eps (b, latent_dim))``
    where ``eps`` is the reparameterization noise (drawn by the caller, so training is
    reproducible without touching TensorFlow's global seed).
    """

    def __init__(self, input_dim: int, n_classes: int, *, latent_dim: int = 8, widths=(64, 32),
                 beta: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.n_classes = int(input_dim), int(n_classes)
        self.latent_dim, self.widths = int(latent_dim), tuple(int(w) for w in widths)
        self.beta, self.seed = float(beta), int(seed)
        k = iter(range(1000))

        def init():
            return keras.initializers.GlorotUniform(seed=self.seed * 7919 + next(k))

        L = keras.layers
        self.enc = [L.Dense(w, activation="relu", kernel_initializer=init()) for w in self.widths]
        self.mu = L.Dense(self.latent_dim, kernel_initializer=init())
        self.logvar = L.Dense(self.latent_dim, kernel_initializer="zeros")
        self.dec = [L.Dense(w, activation="relu", kernel_initializer=init()) for w in self.widths[::-1]]
        self.out = L.Dense(self.input_dim, kernel_initializer=init())
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.rec_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def encode(self, x, c):
        h = tf.concat([x, c], axis=1)
        for layer in self.enc:
            h = layer(h)
        return self.mu(h), self.logvar(h)

    def decode(self, z, c):
        h = tf.concat([z, c], axis=1)
        for layer in self.dec:
            h = layer(h)
        return self.out(h)

    def call(self, inputs, training=False):
        x, c = inputs
        mu, _ = self.encode(x, c)
        return self.decode(mu, c)

    @property
    def metrics(self):
        return [self.loss_tracker, self.rec_tracker, self.kl_tracker]

    def train_step(self, data):
        x, c, eps = data
        with tf.GradientTape() as tape:
            mu, logvar = self.encode(x, c)
            logvar = tf.clip_by_value(logvar, -10.0, 10.0)
            z = mu + tf.exp(0.5 * logvar) * eps
            x_hat = self.decode(z, c)
            rec = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(x - x_hat), axis=1))
            kl = tf.reduce_mean(
                -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
            )
            loss = rec + self.beta * kl
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.rec_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            "input_dim": self.input_dim,
            "n_classes": self.n_classes,
            "latent_dim": self.latent_dim,
            "widths": list(self.widths),
            "beta": self.beta,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def step_dataset(arrays: tuple[np.ndarray, ...], idx: np.ndarray, seed: int, noise) -> "tf.data.Dataset":
    """tf.data pipeline yielding ``(*[a[idx_step] for a in arrays], noise(step_seed))`` per step.

    ``noise`` maps a stateless seed (shape (2,)) to extra tensors; the noise of step ``s`` is a
    pure function of ``(seed, s)``, so training is reproducible.
    """
    consts = [tf.constant(a) for a in arrays]
    seeds = np.stack([np.full(len(idx), int(seed) % (2**31 - 1)), np.arange(len(idx))], axis=1)

    def gather(i, s):
        return (*[tf.gather(a, i) for a in consts], *noise(s))

    ds = tf.data.Dataset.from_tensor_slices((idx, seeds.astype(np.int64)))
    return ds.map(gather).prefetch(2)


# --------------------------------------------------------------------------- estimator
class ConditionalVAE(GeneratorBase):
    """Conditional VAE generator with an sklearn-like interface.

    Parameters
    ----------
    latent_dim : int
        Size of the latent space.
    widths : tuple of int
        Hidden layer widths of the encoder (the decoder mirrors them).
    beta : float
        KL weight; larger = smoother latent space, blurrier samples.
    learning_rate : float
        Adam learning rate.
    epochs : int
        Passes over the (oversampled) training data.
    batch_size : int
    oversample : float
        Minimum share of minority-class samples in each batch (0 disables oversampling).
    output_noise : bool
        Add the per-dimension residual noise measured on the training data to decoded samples
        (sampling ``p(x|z)`` instead of its mean, so samples are not over-smooth).
    seed : int
        Seeds initializers, batches, reparameterization noise and unseeded :meth:`sample` calls.
    verbose : int
        Keras verbosity.

    Attributes
    ----------
    model_ : CVAEModel
    classes_ : list of str
        Condition classes (``"normal"`` first when present).
    shape_ : tuple
        Per-sample shape seen in fit.
    history_ : dict
        Keras training history (loss, reconstruction, kl per epoch).
    """

    _params = ("latent_dim", "widths", "beta", "learning_rate", "epochs", "batch_size",
               "oversample", "output_noise", "prior", "seed", "verbose")
    min_samples = 8

    def __init__(self, *, latent_dim: int = 8, widths=(64, 32), beta: float = 1.0,
                 learning_rate: float = 1e-3, epochs: int = 200, batch_size: int = 64,
                 oversample: float = 0.25, output_noise: bool = True, prior: str = "class",
                 seed: int | None = 0, verbose: int = 0):
        self.latent_dim = latent_dim
        self.widths = tuple(widths)
        self.beta = beta
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.oversample = oversample
        self.output_noise = output_noise
        self.prior = prior
        self.seed = seed
        self.verbose = verbose
        self.model_ = None

    def _check_params(self) -> None:
        check_positive_int(self.latent_dim, "latent_dim")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        if not self.widths:
            raise ParameterError(f"`widths` must hold at least one positive integer. Received: widths={self.widths!r}")
        for w in self.widths:
            check_positive_int(w, "widths")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise ParameterError(f"`beta` must be a non-negative number. Received: beta={self.beta!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ParameterError(
                f"`learning_rate` must be a positive number. Received: learning_rate={self.learning_rate!r}"
            )
        if not (0 <= self.oversample < 1):
            raise ParameterError(f"`oversample` must be in [0, 1). Received: oversample={self.oversample!r}")
        if self.prior not in ("class", "standard"):
            raise ParameterError(f"`prior` must be 'class' or 'standard'. Received: prior={self.prior!r}")

    def _build_model(self) -> CVAEModel:
        return CVAEModel(int(np.prod(self.shape_)), len(self.classes_), latent_dim=self.latent_dim,
                         widths=self.widths, beta=self.beta, seed=self.model_seed_)

    def _build_variables(self) -> None:
        d, k = int(np.prod(self.shape_)), len(self.classes_)
        self.model_((tf.zeros((1, d)), tf.zeros((1, k))))

    def _extra_state(self):
        return {"noise_std": np.asarray(self.noise_std_).tolist(),
                "prior_mean": np.asarray(self.prior_mean_).tolist(),
                "prior_chol": np.asarray(self.prior_chol_).tolist()}

    def _load_extra(self, extra):
        self.noise_std_ = np.asarray(extra["noise_std"], np.float32)
        self.prior_mean_ = np.asarray(extra["prior_mean"], np.float64)
        self.prior_chol_ = np.asarray(extra["prior_chol"], np.float64)

    def _fit_class_priors(self, mu: np.ndarray, logvar: np.ndarray, cls: np.ndarray) -> None:
        """Per-class Gaussian on the aggregate posterior: mean of the posterior means, covariance =
        covariance of the means + mean posterior variance (a class-conditional learned prior)."""
        k, d = len(self.classes_), self.latent_dim
        self.prior_mean_ = np.zeros((k, d))
        self.prior_chol_ = np.zeros((k, d, d))
        for c in range(k):
            m, lv = mu[cls == c].astype(np.float64), logvar[cls == c].astype(np.float64)
            cov = np.diag(np.exp(lv).mean(axis=0))
            if len(m) > 1:
                cov = cov + np.cov(m.T).reshape(d, d)
            self.prior_mean_[c] = m.mean(axis=0)
            self.prior_chol_[c] = np.linalg.cholesky(cov + 1e-6 * np.eye(d))

    def fit(self, X: Any, y: Any = None, *, labels: Any = None, epochs: int | None = None) -> "ConditionalVAE":
        """Train on windows or features.

        Parameters
        ----------
        X : np.ndarray [shape=(n, window_length, n_channels) or (n, n_features)]
        y : np.ndarray [shape=(n,)], optional
            0 normal, 1 anomaly; ``None`` = all normal (sample anomalies with ``tail=``).
        labels : np.ndarray [shape=(n,)] of str, optional
            Anomaly types; anomalous samples are conditioned on their type.
        epochs : int, optional
            Overrides the ``epochs`` given at construction.

        Returns
        -------
        self
        """
        if epochs is not None:
            self.epochs = epochs
        self._check_params()
        X, y, labels = prepare_xy(X, y, labels, min_samples=self.min_samples, who="ConditionalVAE")
        self.shape_ = tuple(X.shape[1:])
        F = X.reshape(len(X), -1)
        self.mean_ = F.mean(axis=0).astype(np.float32)
        sd = F.std(axis=0)
        self.scale_ = np.where(sd > 1e-8, sd, 1.0).astype(np.float32)
        Z = ((F - self.mean_) / self.scale_).astype(np.float32)
        self.classes_, cls = class_names(y, labels)
        self.class_counts_ = np.bincount(cls, minlength=len(self.classes_))
        C = np.eye(len(self.classes_), dtype=np.float32)[cls]
        rng = np.random.default_rng(self.seed)
        self.model_seed_ = int(rng.integers(2**31 - 1)) if self.seed is None else int(self.seed)
        idx, steps = batch_schedule(cls, epochs=self.epochs, batch_size=self.batch_size,
                                    oversample=self.oversample, rng=rng)
        latent = self.latent_dim
        bs = idx.shape[1]
        ds = step_dataset((Z, C), idx, int(rng.integers(2**31 - 1)),
                          lambda s: (tf.random.stateless_normal((bs, latent), seed=s),))
        self.model_ = self._build_model()
        self._build_variables()
        opt = keras.optimizers.Adam(learning_rate=self.learning_rate)
        # creating the optimizer slots before fit() spares tf.function a second trace of train_step
        opt.build(self.model_.trainable_variables)
        self.model_.compile(optimizer=opt)
        hist = self.model_.fit(ds, epochs=self.epochs, steps_per_epoch=steps, verbose=self.verbose)
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        mu, logvar = self.model_.encode(tf.constant(Z), tf.constant(C))
        self._fit_class_priors(mu.numpy(), np.clip(logvar.numpy(), -10, 10), cls)
        rec = self.model_.decode(mu, tf.constant(C)).numpy()
        self.noise_std_ = (Z - rec).std(axis=0).astype(np.float32)
        self._rng_ = np.random.default_rng(rng.integers(2**31 - 1))
        return self

    def decode(self, z: np.ndarray, cls: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """Decode latents ``z (n, latent_dim)`` with class ids ``cls (n,)`` to samples ``(n, *shape_)``."""
        self._check_fitted()
        C = np.eye(len(self.classes_), dtype=np.float32)[np.asarray(cls)]
        out = self.model_.decode(tf.constant(z, tf.float32), tf.constant(C)).numpy()
        if self.output_noise and rng is not None:
            out = out + rng.standard_normal(out.shape).astype(np.float32) * self.noise_std_
        out = out * self.scale_ + self.mean_
        return out.reshape((len(out),) + tuple(self.shape_)).astype(np.float32)

    def encode(self, X: Any, y: Any = None, *, labels: Any = None) -> np.ndarray:
        """Posterior means ``(n, latent_dim)`` of ``X`` under its class condition."""
        self._check_fitted()
        X = check_array(X, "X", ndim=(2, 3))
        if tuple(X.shape[1:]) != tuple(self.shape_):
            raise ParameterError(f"`X` must have per-sample shape {self.shape_}. Received: X.shape={X.shape}")
        y = np.zeros(len(X), np.int8) if y is None else check_binary_labels(y, len(X))
        names = np.where(y == 1, "anomaly" if labels is None else np.asarray(labels).astype(str), NORMAL)
        try:
            cls = np.array([self.classes_.index(c) for c in names])
        except ValueError as exc:
            raise ParameterError(f"unknown class in y/labels: {exc}") from None
        Z = (X.reshape(len(X), -1) - self.mean_) / self.scale_
        C = np.eye(len(self.classes_), dtype=np.float32)[cls]
        mu, _ = self.model_.encode(tf.constant(Z, tf.float32), tf.constant(C))
        return mu.numpy()

    def sample(self, n: int, *, label: Any = None, seed: int | None = None, tail=None) -> np.ndarray:
        """Draw ``n`` samples of class ``label``.

        Parameters
        ----------
        n : int
        label : {None, 1, 0} or str
            ``None`` or 1 = anomalies (types in proportion to the training counts), 0 = normal, or
            a class name.
        seed : int or None
            Same seed, same samples. ``None`` continues the estimator's own random stream.
        tail : float or (float, float), optional
            Sample latents in the tails of the prior: random directions with per-coordinate RMS
            radius uniform in ``[low, high]`` standard deviations (the prior's bulk is at about 1).
            With no anomalies seen in fit, ``label=1`` requires it and decodes tail latents of the
            normal class: novel windows off the normal manifold.

        Notes
        -----
        With ``prior="class"`` (default) latents come from a Gaussian fitted per class on the
        aggregate posterior of its training samples (``prior_mean_``, ``prior_chol_``), and tails
        are measured in that Gaussian's units; with ``prior="standard"`` from N(0, I). With few
        anomalies the class prior covers the region the decoder was trained on for that class,
        where N(0, I) mostly decodes between the examples.

        Returns
        -------
        np.ndarray [shape=(n, *shape_), dtype=float32]
        """
        return self.sample_with_classes(n, label=label, seed=seed, tail=tail)[0]

    def sample_with_classes(self, n: int, *, label: Any = None, seed: int | None = None, tail=None):
        """Like :meth:`sample`, also returning the class name of each sample (``"tail"`` for
        tail samples drawn with the normal condition because no anomaly was seen)."""
        self._check_fitted()
        n = check_positive_int(n, "n")
        rng = self._sample_rng(seed)
        cls, fallback = self._resolve_classes(n, label, tail, rng)
        z = draw_latents(n, self.latent_dim, rng, tail)
        if self.prior == "class":
            z = (self.prior_mean_[cls] + np.einsum("nij,nj->ni", self.prior_chol_[cls], z)).astype(np.float32)
        names = np.full(n, "tail") if fallback else np.asarray(self.classes_)[cls]
        return self.decode(z, cls, rng=rng), names.astype(str)


__all__ = ["ConditionalVAE", "CVAEModel", "GeneratorBase"]
