"""A conditional Wasserstein GAN with gradient penalty for (multichannel) time series.

Generator: noise + one-hot class -> dense -> ``len(filters)`` x (upsample x2, 1-D conv, leaky
ReLU) -> 1-D conv to ``n_channels`` -> cropped to ``window_length``. Critic: window with the
class broadcast as extra channels -> strided 1-D convs -> dense score (no batch norm, as the
gradient penalty requires). Training (WGAN-GP, Gulrajani et al. 2017) runs ``n_critic`` critic
steps per generator step with a gradient penalty of weight ``gp_weight``; minority classes are
oversampled per batch.

Training is stopped on *quality*, not on a fixed epoch count: every ``eval_every`` epochs the
generator produces a batch for the classes of a held-out real slice (stratified,
``validation_fraction`` of each class with at least 20 samples, so a handful of real anomalies
all go to training), the MMD (RBF, median heuristic) between the two is computed, and the
generator weights with the lowest MMD so far are kept; training stops after ``patience``
evaluations without improvement (or at ``max_epochs``). The spectral distance (mean dB
difference of Welch PSDs) is logged next to it in ``history_``.

Feature vectors ``(n, n_features)`` are treated as one-channel sequences.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgesynth._tf import keras, tf
from edgesynth.errors import ParameterError
from edgesynth.synth.vae import (
    GeneratorBase,
    batch_schedule,
    class_names,
    draw_latents,
    prepare_xy,
    step_dataset,
)
from edgesynth.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgesynth")
class WGANModel(keras.Model):
    """Conditional WGAN-GP as a Keras model; ``call((z, c))`` runs the generator.

    ``train_step`` expects ``(x (b, L, C), c (b, n_classes), noise...)`` where the noise tensors
    (latents for every critic and generator step, interpolation weights) come from the caller.
    """

    def __init__(self, window_length: int, n_channels: int, n_classes: int, *, noise_dim: int = 32,
                 filters=(64, 32), critic_filters=(32, 64), kernel_size: int = 5,
                 gp_weight: float = 10.0, n_critic: int = 5, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.window_length, self.n_channels = int(window_length), int(n_channels)
        self.n_classes, self.noise_dim = int(n_classes), int(noise_dim)
        self.filters, self.critic_filters = tuple(filters), tuple(critic_filters)
        self.kernel_size, self.gp_weight = int(kernel_size), float(gp_weight)
        self.n_critic, self.seed = int(n_critic), int(seed)
        k = iter(range(1000))

        def init():
            return keras.initializers.GlorotUniform(seed=self.seed * 7919 + next(k))

        L = keras.layers
        up = len(self.filters)
        base = math.ceil(self.window_length / 2**up)
        z_in = keras.Input((self.noise_dim,))
        c_in = keras.Input((self.n_classes,))
        h = L.Concatenate()([z_in, c_in])
        h = L.Dense(base * self.filters[0], kernel_initializer=init())(h)
        h = L.LeakyReLU(0.2)(h)
        h = L.Reshape((base, self.filters[0]))(h)
        for f in self.filters:
            h = L.UpSampling1D(2)(h)
            h = L.Conv1D(f, self.kernel_size, padding="same", kernel_initializer=init())(h)
            h = L.LeakyReLU(0.2)(h)
        h = L.Conv1D(self.n_channels, self.kernel_size, padding="same", kernel_initializer=init())(h)
        extra = base * 2**up - self.window_length
        if extra:
            h = L.Cropping1D((0, extra))(h)
        self.generator = keras.Model([z_in, c_in], h, name="generator")

        x_in = keras.Input((self.window_length, self.n_channels))
        c2 = keras.Input((self.n_classes,))
        h = L.Concatenate(axis=-1)([x_in, L.RepeatVector(self.window_length)(c2)])
        for f in self.critic_filters:
            h = L.Conv1D(f, self.kernel_size, strides=2, padding="same", kernel_initializer=init())(h)
            h = L.LeakyReLU(0.2)(h)
        h = L.Flatten()(h)
        h = L.Concatenate()([h, c2])
        out = L.Dense(1, kernel_initializer=init())(h)
        self.critic = keras.Model([x_in, c2], out, name="critic")
        self.d_tracker = keras.metrics.Mean(name="critic_loss")
        self.g_tracker = keras.metrics.Mean(name="generator_loss")
        self.gp_tracker = keras.metrics.Mean(name="gradient_penalty")

    def compile(self, *, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    def call(self, inputs, training=False):
        z, c = inputs
        return self.generator([z, c], training=training)

    @property
    def metrics(self):
        return [self.d_tracker, self.g_tracker, self.gp_tracker]

    def train_step(self, data):
        x, c, zs, eps = data  # zs: (n_critic + 1, b, noise_dim), eps: (n_critic, b, 1, 1)
        for i in range(self.n_critic):
            with tf.GradientTape() as tape:
                fake = self.generator([zs[i], c], training=True)
                d_real = self.critic([x, c], training=True)
                d_fake = self.critic([fake, c], training=True)
                mix = eps[i] * x + (1.0 - eps[i]) * fake
                with tf.GradientTape() as gp_tape:
                    gp_tape.watch(mix)
                    d_mix = self.critic([mix, c], training=True)
                g = gp_tape.gradient(d_mix, mix)
                norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=[1, 2]) + 1e-12)
                gp = tf.reduce_mean(tf.square(norm - 1.0))
                d_loss = (tf.reduce_mean(d_fake) - tf.reduce_mean(d_real) + self.gp_weight * gp
                          + 1e-3 * tf.reduce_mean(tf.square(d_real)))
            grads = tape.gradient(d_loss, self.critic.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.critic.trainable_variables))
        with tf.GradientTape() as tape:
            fake = self.generator([zs[self.n_critic], c], training=True)
            g_loss = -tf.reduce_mean(self.critic([fake, c], training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        self.d_tracker.update_state(d_loss)
        self.g_tracker.update_state(g_loss)
        self.gp_tracker.update_state(gp)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            "window_length": self.window_length, "n_channels": self.n_channels,
            "n_classes": self.n_classes, "noise_dim": self.noise_dim,
            "filters": list(self.filters), "critic_filters": list(self.critic_filters),
            "kernel_size": self.kernel_size, "gp_weight": self.gp_weight,
            "n_critic": self.n_critic, "seed": self.seed, "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _QualityStop(keras.callbacks.Callback):
    """Every ``every`` epochs: MMD + PSD distance to a held-out real slice; keep the best weights."""

    def __init__(self, est, R: np.ndarray, C: np.ndarray, z: np.ndarray, *, every: int, patience: int):
        super().__init__()
        self.est, self.R, self.C, self.z = est, R, C, z
        self.every, self.patience = every, patience
        self.best, self.best_weights, self.best_epoch, self.wait = np.inf, None, 0, 0
        self.log: list[dict[str, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        from edgesynth.synth.quality import mmd_rbf, spectral_distance

        gen = self.est.model_.generator
        fake = gen([tf.constant(self.z), tf.constant(self.C)], training=False).numpy()
        mmd = mmd_rbf(self.R, fake, n_permutations=0, seed=0)["mmd"]
        psd = float(np.mean([d["psd_db"] for d in spectral_distance(self.R, fake)]))
        self.log.append({"epoch": epoch + 1, "mmd": mmd, "psd_db": psd,
                         **{k: float(v) for k, v in (logs or {}).items()}})
        if mmd < self.best - 1e-6:
            self.best, self.best_epoch, self.wait = mmd, epoch + 1, 0
            self.best_weights = gen.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True


class TimeSeriesWGAN(GeneratorBase):
    """Conditional WGAN-GP for windows, with early stopping on MMD to held-out real data.

    Parameters
    ----------
    noise_dim : int
        Size of the generator's noise input.
    filters : tuple of int
        Generator conv widths (one x2 upsampling each).
    critic_filters : tuple of int
        Critic conv widths (one stride-2 conv each).
    kernel_size : int
    gp_weight : float
        Gradient-penalty weight (lambda).
    n_critic : int
        Critic updates per generator update.
    learning_rate : float
        Adam (beta_1=0.5, beta_2=0.9) learning rate of both networks. 1e-3 rather than the
        paper's 1e-4: on a few hundred windows the early stop then finds a better generator
        within ~200 epochs (ECG5000, ``benchmarks/synthesis``).
    batch_size : int
    max_epochs : int
        Upper bound; training normally stops earlier on the quality metric.
    eval_every : int
        Epochs between quality evaluations.
    patience : int
        Evaluations without MMD improvement before stopping.
    validation_fraction : float
        Share of each class with >= 20 samples held out for the quality metric (smaller classes
        are used for training in full).
    oversample : float
        Minimum share of minority classes per batch.
    seed : int
    verbose : int

    Attributes
    ----------
    model_ : WGANModel
    classes_ : list of str
    history_ : list of dict
        One entry per evaluation: epoch, mmd, psd_db, losses.
    best_epoch_ : int

    Notes
    -----
    The same seed gives the same generator within a process. Across processes TensorFlow's
    multithreaded CPU kernels may differ in the last bits under load, and adversarial training
    amplifies that over hundreds of epochs; for bit-identical runs enable
    ``tf.config.experimental.enable_op_determinism()`` first (``benchmarks/synthesis`` does).
    The library does not switch it on itself: it is global TensorFlow state.
    """

    _params = ("noise_dim", "filters", "critic_filters", "kernel_size", "gp_weight", "n_critic",
               "learning_rate", "batch_size", "max_epochs", "eval_every", "patience",
               "validation_fraction", "oversample", "seed", "verbose")
    min_samples = 16

    def __init__(self, *, noise_dim: int = 32, filters=(64, 32), critic_filters=(32, 64),
                 kernel_size: int = 5, gp_weight: float = 10.0, n_critic: int = 5,
                 learning_rate: float = 1e-3, batch_size: int = 64, max_epochs: int = 400,
                 eval_every: int = 10, patience: int = 6, validation_fraction: float = 0.2,
                 oversample: float = 0.25, seed: int | None = 0, verbose: int = 0):
        self.noise_dim = noise_dim
        self.filters = tuple(filters)
        self.critic_filters = tuple(critic_filters)
        self.kernel_size = kernel_size
        self.gp_weight = gp_weight
        self.n_critic = n_critic
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.eval_every = eval_every
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.oversample = oversample
        self.seed = seed
        self.verbose = verbose
        self.model_ = None

    def _check_params(self) -> None:
        for name in ("noise_dim", "kernel_size", "n_critic", "batch_size", "max_epochs",
                     "eval_every", "patience"):
            check_positive_int(getattr(self, name), name)
        for name in ("filters", "critic_filters"):
            v = getattr(self, name)
            if not v:
                raise ParameterError(f"`{name}` must hold at least one positive integer. Received: {name}={v!r}")
            for w in v:
                check_positive_int(w, name)
        if not (isinstance(self.gp_weight, (int, float)) and self.gp_weight >= 0):
            raise ParameterError(f"`gp_weight` must be a non-negative number. Received: gp_weight={self.gp_weight!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ParameterError(
                f"`learning_rate` must be a positive number. Received: learning_rate={self.learning_rate!r}"
            )
        if not (0 <= self.validation_fraction < 1):
            raise ParameterError(
                f"`validation_fraction` must be in [0, 1). Received: validation_fraction={self.validation_fraction!r}"
            )
        if not (0 <= self.oversample < 1):
            raise ParameterError(f"`oversample` must be in [0, 1). Received: oversample={self.oversample!r}")

    @property
    def _seq_shape(self) -> tuple[int, int]:
        return (self.shape_[0], self.shape_[1]) if len(self.shape_) == 2 else (self.shape_[0], 1)

    def _build_model(self) -> WGANModel:
        L, C = self._seq_shape
        return WGANModel(L, C, len(self.classes_), noise_dim=self.noise_dim, filters=self.filters,
                         critic_filters=self.critic_filters, kernel_size=self.kernel_size,
                         gp_weight=self.gp_weight, n_critic=self.n_critic, seed=self.model_seed_)

    def _build_variables(self) -> None:
        self.model_((tf.zeros((1, self.noise_dim)), tf.zeros((1, len(self.classes_)))))

    def _get_weights(self):
        return self.model_.generator.get_weights()

    def _set_weights(self, weights):
        self.model_.generator.set_weights(weights)

    def _extra_state(self):
        return {"best_epoch": int(getattr(self, "best_epoch_", 0))}

    def _load_extra(self, extra):
        self.best_epoch_ = int(extra.get("best_epoch", 0))

    def fit(self, X: Any, y: Any = None, *, labels: Any = None, epochs: int | None = None) -> "TimeSeriesWGAN":
        """Train with early stopping on MMD to a held-out real slice.

        Parameters
        ----------
        X : np.ndarray [shape=(n, window_length, n_channels) or (n, n_features)]
        y : np.ndarray [shape=(n,)], optional
            0 normal, 1 anomaly (``None`` = all normal).
        labels : np.ndarray [shape=(n,)] of str, optional
            Anomaly types used as conditions.
        epochs : int, optional
            Overrides ``max_epochs``.

        Returns
        -------
        self
        """
        if epochs is not None:
            self.max_epochs = epochs
        self._check_params()
        X, y, labels = prepare_xy(X, y, labels, min_samples=self.min_samples, who="TimeSeriesWGAN")
        self.shape_ = tuple(X.shape[1:])
        L, Cn = self._seq_shape
        S = X.reshape(len(X), L, Cn)
        self.mean_ = S.mean(axis=(0, 1)).astype(np.float32)
        sd = S.std(axis=(0, 1))
        self.scale_ = np.where(sd > 1e-8, sd, 1.0).astype(np.float32)
        S = ((S - self.mean_) / self.scale_).astype(np.float32)
        self.classes_, cls = class_names(y, labels)
        self.class_counts_ = np.bincount(cls, minlength=len(self.classes_))
        onehot = np.eye(len(self.classes_), dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        self.model_seed_ = int(rng.integers(2**31 - 1)) if self.seed is None else int(self.seed)

        val = np.zeros(len(S), bool)
        if self.validation_fraction > 0:
            for k in range(len(self.classes_)):
                members = np.flatnonzero(cls == k)
                if len(members) >= 20:
                    m = max(1, int(round(self.validation_fraction * len(members))))
                    val[rng.choice(members, m, replace=False)] = True
        tr = ~val
        R_val, c_val = (S[val], cls[val]) if val.any() else (S, cls)
        if len(R_val) > 256:
            keep = np.sort(rng.choice(len(R_val), 256, replace=False))
            R_val, c_val = R_val[keep], c_val[keep]
        self.n_validation_ = int(val.sum())

        S_tr, cls_tr = S[tr], cls[tr]
        idx, steps = batch_schedule(cls_tr, epochs=self.max_epochs, batch_size=self.batch_size,
                                    oversample=self.oversample, rng=rng)
        bs, nz, nc = idx.shape[1], self.noise_dim, self.n_critic

        def noise(s):
            zs = tf.random.stateless_normal((nc + 1, bs, nz), seed=s)
            eps = tf.random.stateless_uniform((nc, bs, 1, 1), seed=s + tf.constant([0, 1 << 40], tf.int64))
            return zs, eps

        ds = step_dataset((S_tr, onehot[cls_tr]), idx, int(rng.integers(2**31 - 1)), noise)
        self.model_ = self._build_model()
        opt = dict(learning_rate=self.learning_rate, beta_1=0.5, beta_2=0.9)
        g_opt, d_opt = keras.optimizers.Adam(**opt), keras.optimizers.Adam(**opt)
        # creating the optimizer slots before fit() spares tf.function a second trace of train_step
        g_opt.build(self.model_.generator.trainable_variables)
        d_opt.build(self.model_.critic.trainable_variables)
        self.model_.compile(g_optimizer=g_opt, d_optimizer=d_opt)
        stop = _QualityStop(self, R_val, onehot[c_val], rng.standard_normal((len(R_val), nz)).astype(np.float32),
                            every=self.eval_every, patience=self.patience)
        hist = self.model_.fit(ds, epochs=self.max_epochs, steps_per_epoch=steps, verbose=self.verbose,
                               callbacks=[stop])
        if stop.best_weights is not None:
            self.model_.generator.set_weights(stop.best_weights)
        self.best_epoch_ = stop.best_epoch or len(hist.epoch)
        self.epochs_run_ = len(hist.epoch)
        self.best_mmd_ = None if not np.isfinite(stop.best) else float(stop.best)
        self.history_ = stop.log
        self._rng_ = np.random.default_rng(rng.integers(2**31 - 1))
        return self

    def sample(self, n: int, *, label: Any = None, seed: int | None = None, tail=None) -> np.ndarray:
        """Draw ``n`` samples of class ``label`` (see :meth:`ConditionalVAE.sample`).

        ``tail`` draws the generator's noise at a per-coordinate RMS radius in ``[low, high]``;
        with no anomalies seen in fit, ``label=1`` requires it (normal condition, tail noise).

        Returns
        -------
        np.ndarray [shape=(n, *shape_), dtype=float32]
        """
        return self.sample_with_classes(n, label=label, seed=seed, tail=tail)[0]

    def sample_with_classes(self, n: int, *, label: Any = None, seed: int | None = None, tail=None):
        """Like :meth:`sample`, also returning the class name of each sample."""
        self._check_fitted()
        n = check_positive_int(n, "n")
        rng = self._sample_rng(seed)
        cls, fallback = self._resolve_classes(n, label, tail, rng)
        z = draw_latents(n, self.noise_dim, rng, tail)
        C = np.eye(len(self.classes_), dtype=np.float32)[cls]
        out = self.model_.generator([tf.constant(z), tf.constant(C)], training=False).numpy()
        out = out * self.scale_ + self.mean_
        names = np.full(n, "tail") if fallback else np.asarray(self.classes_)[cls]
        return out.reshape((n,) + tuple(self.shape_)).astype(np.float32), names.astype(str)


__all__ = ["TimeSeriesWGAN", "WGANModel"]
