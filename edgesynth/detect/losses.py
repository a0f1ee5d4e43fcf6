"""Training losses of the autoencoder detector.

* ``mse`` / ``mae`` — normal-only reconstruction (every sample is treated as normal).
* ``abc`` — the *autoencoding binary classifier* loss (Yamaguchi, Koizumi & Harada, AAAI 2019):
  with ``e`` the per-sample reconstruction error (mean squared error, the same quantity as the
  anomaly score), normal samples minimise ``e`` and anomalous ones minimise
  ``-log(1 - exp(-e))``, which pushes their error up but saturates once it is large, so a few
  anomalies cannot blow the model up.

Losses take ``y_true`` packed as ``[x, label]`` (``(batch, d + 1)``, label 0 normal / 1 anomaly)
and ``y_pred`` = the reconstruction ``(batch, d)``; see :func:`pack_targets`.
"""
from __future__ import annotations

import numpy as np

from edgesynth.errors import ParameterError

LOSSES = ("mse", "mae", "abc")
#: Lower bound on the error inside ``-log(1 - exp(-e))`` (the loss is infinite at ``e = 0``).
ABC_EPS = 1e-6


def pack_targets(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(n, d), (n,) -> (n, d + 1)``: the reconstruction target with the label as last column."""
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    return np.concatenate([x, np.asarray(labels, np.float32).reshape(-1, 1)], axis=1)


def abc_anomaly_term(e: np.ndarray) -> np.ndarray:
    """``-log(1 - exp(-e))`` in numpy (reference for tests and reports).

    Examples
    --------
    >>> np.round(abc_anomaly_term(np.array([0.1, 1.0, 5.0])), 4)
    array([2.3522, 0.4587, 0.0068])
    """
    e = np.maximum(np.asarray(e, dtype=np.float64), ABC_EPS)
    return -np.log(-np.expm1(-e))


def get_loss(name: str):
    """Keras loss function ``(y_true_packed, y_pred) -> (batch,)`` for ``name`` in :data:`LOSSES`."""
    from edgesynth._tf import tf

    if name not in LOSSES:
        raise ParameterError(f"`loss` must be one of {LOSSES}. Received: loss={name!r}")

    def split(y_true, y_pred):
        x = y_true[:, :-1]
        lab = y_true[:, -1]
        return x, lab, y_pred

    if name == "mse":
        def mse(y_true, y_pred):
            x, _, xh = split(y_true, y_pred)
            return tf.reduce_mean(tf.square(x - xh), axis=-1)
        return mse
    if name == "mae":
        def mae(y_true, y_pred):
            x, _, xh = split(y_true, y_pred)
            return tf.reduce_mean(tf.abs(x - xh), axis=-1)
        return mae

    def abc(y_true, y_pred):
        x, lab, xh = split(y_true, y_pred)
        e = tf.reduce_mean(tf.square(x - xh), axis=-1)
        e_safe = tf.maximum(e, ABC_EPS)
        anomalous = -tf.math.log(-tf.math.expm1(-e_safe))
        return (1.0 - lab) * e + lab * anomalous

    return abc
