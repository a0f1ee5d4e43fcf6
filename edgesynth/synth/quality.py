"""How good are synthetic anomalies? Metrics against real held-out data of the same class.

Synthetic data is only useful when its quality is measured. Every metric here compares a set of
synthetic windows ``X_synth`` with *real held-out* windows ``X_real`` of the same class (never
with the data the generator was trained on, except for memorisation, which is about exactly that):

``discriminative_score``
    TimeGAN's definition: train a post-hoc classifier to tell real from synthetic on one split,
    report ``|accuracy - 0.5|`` on a held-out split. 0 is best (indistinguishable), 0.5 is worst
    (trivially told apart). Below-chance accuracy is clipped to 0 (score ``max(acc - 0.5, 0)``):
    it is no evidence of a difference, and it is what duplicated samples produce (a copy seen in
    training with the other label flips the prediction of its twin). The classifier is fixed so the *data* is compared, not the classifier:
    logistic regression on standardized flattened windows (``discriminative_score``), and a
    random forest (``discriminative_score_rf``, 100 trees), which also sees non-linear cues
    (smoothness, noise level) a linear model cannot.
``tstr``
    Train on Synthetic, Test on Real: a fixed logistic regression (C=1, balanced class weights) is
    trained on real normal + synthetic anomalies and tested on real held-out normal + anomalies;
    its ROC AUC is reported next to TRTR (the same classifier trained on the real training
    anomalies instead), TSTR+real (real and synthetic anomalies together) and a normal-only
    baseline (mean distance to the 5 nearest normal training windows, standardized). The inputs
    are scaled with statistics of the *real normal training data only* — per channel one mean and
    one standard deviation over all time steps for windows (the waveform's shape, i.e. the
    relative amplitude of its time steps, is kept), per feature for feature vectors — so the
    synthetic set never changes how the classifier sees its inputs: every method meets the same
    classifier. (A scaler fitted on normal + synthetic data would let an over-dispersed generator
    shrink the features it varies most.) On ECG5000, whose beats are z-normalized, this is plain
    logistic regression on the beats: TRTR with all 208 training anomalies gives 0.995.
``mmd``
    Maximum mean discrepancy with an RBF kernel, bandwidth by the median heuristic (median
    pairwise squared distance of the pooled sample), biased V-statistic (exactly 0 for identical
    sets) and a permutation-test p-value (small p: the two sets come from different distributions).
``memorisation``
    Euclidean distance from each synthetic window to its nearest *training* window, compared with
    the real-to-real nearest-neighbour distances inside the training set (leave-one-out):
    ``ratio`` = median synthetic-to-train / median real-to-real (about 1 is healthy, near 0 means
    copies), ``near_copy_fraction`` = share of synthetic windows closer to a training window than
    ``median_real_nn / 10``.
``marginal``
    Per channel, the 1-D Wasserstein distance and the Kolmogorov-Smirnov statistic between the
    pooled values of real and synthetic windows.
``spectral``
    Per channel, the mean absolute difference in dB between the Welch power spectral densities
    averaged over windows (windows only; ``None`` for feature vectors).

:func:`quality_report` computes all of them; :func:`write_quality` writes ``quality.json``,
``quality.md`` and ``figures/*.png`` (a PCA projection, overlays of real vs synthetic windows,
PSDs) atomically.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=(200, 16, 1)), rng.normal(size=(200, 16, 1))
>>> round(mmd_rbf(a, a, n_permutations=20)["mmd"], 6)
0.0
>>> discriminative_score(a, b + 5.0) > 0.45
True
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_array

_LR_C = 1.0


# --------------------------------------------------------------------------- helpers
def _as_windows(X: Any, name: str) -> np.ndarray:
    """Validate ``X`` as (n, L, C) windows or (n, d) features; returned as float64, ndim kept."""
    return check_array(X, name, ndim=(2, 3), dtype=np.float64)


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(X.shape[0], -1)


def _same_shape(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise ParameterError(
            f"`{na}` and `{nb}` must have the same sample shape. "
            f"Received: {na}.shape={a.shape}, {nb}.shape={b.shape}"
        )


def _subsample(X: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    if X.shape[0] <= m:
        return X
    return X[np.sort(rng.choice(X.shape[0], m, replace=False))]


def _logreg(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=_LR_C, max_iter=2000, class_weight="balanced", random_state=seed),
    )


def normal_scaler(N: np.ndarray):
    """``f(X) -> scaled flat X`` from real normal training data ``N`` (2-D or 3-D) only.

    Windows (n, L, C): one mean and standard deviation per channel over all windows and time
    steps; feature vectors (n, d): per feature. Zero spread counts as 1."""
    if N.ndim == 3:
        mu = N.mean(axis=(0, 1))
        sd = N.std(axis=(0, 1))
    else:
        mu, sd = N.mean(axis=0), N.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)

    def scale(X: np.ndarray) -> np.ndarray:
        return _flat((X - mu) / sd)

    return scale


def _tstr_logreg(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=_LR_C, max_iter=5000, class_weight="balanced", random_state=seed)


def _fit_quiet(clf, X, y):
    """Fit, ignoring only sklearn's ConvergenceWarning (separable data never 'converges')."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


# --------------------------------------------------------------------------- metrics
def discriminative_score(
    X_real: Any,
    X_synth: Any,
    *,
    classifier: str = "logistic",
    test_size: float = 0.3,
    seed: int | None = 0,
    max_samples: int = 2000,
) -> float:
    """TimeGAN's discriminative score ``|accuracy - 0.5|`` of a real-vs-synthetic classifier.

    Parameters
    ----------
    X_real, X_synth : np.ndarray [shape=(n, window_length, n_channels) or (n, n_features)]
        Real held-out samples and synthetic samples of the same class.
    classifier : {"logistic", "forest"}
        Logistic regression on standardized flattened samples, or a 100-tree random forest.
    test_size : float
        Share of the (balanced) pooled data held out to measure accuracy.
    seed : int or None
        Seeds the subsampling, the split and the forest.
    max_samples : int
        Each set is subsampled to ``min(n_real, n_synth, max_samples)`` so both classes are equal.

    Returns
    -------
    float
        ``max(accuracy - 0.5, 0)`` in [0, 0.5]; 0 = indistinguishable, 0.5 = trivially told
        apart (TimeGAN's ``|accuracy - 0.5|``, with below-chance accuracy counted as chance).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    R = _as_windows(X_real, "X_real")
    S = _as_windows(X_synth, "X_synth")
    _same_shape(R, S, "X_real", "X_synth")
    if classifier not in ("logistic", "forest"):
        raise ParameterError(
            f"`classifier` must be 'logistic' or 'forest'. Received: classifier={classifier!r}"
        )
    if not 0.0 < test_size < 1.0:
        raise ParameterError(f"`test_size` must be in (0, 1). Received: test_size={test_size!r}")
    rng = np.random.default_rng(seed)
    m = min(R.shape[0], S.shape[0], int(max_samples))
    if m < 4:
        raise DataError(
            f"discriminative score needs at least 4 real and 4 synthetic samples. "
            f"Received: {R.shape[0]} real, {S.shape[0]} synthetic"
        )
    R, S = _subsample(R, m, rng), _subsample(S, m, rng)
    X = np.concatenate([_flat(R), _flat(S)])
    y = np.r_[np.zeros(m, int), np.ones(m, int)]
    rs = int(rng.integers(2**31 - 1))
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, stratify=y, random_state=rs)
    if classifier == "logistic":
        clf = _logreg(rs)
    else:
        clf = RandomForestClassifier(n_estimators=100, random_state=rs, n_jobs=1)
    _fit_quiet(clf, Xtr, ytr)
    acc = float(np.mean(clf.predict(Xte) == yte))
    return max(acc - 0.5, 0.0)


def _sq_dists(Z: np.ndarray) -> np.ndarray:
    sq = np.sum(Z * Z, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0)


def mmd_rbf(
    X: Any,
    Y: Any,
    *,
    n_permutations: int = 200,
    seed: int | None = 0,
    max_samples: int = 500,
) -> dict[str, float]:
    """Maximum mean discrepancy with an RBF kernel and a permutation test.

    The bandwidth follows the median heuristic: ``k(a, b) = exp(-|a-b|^2 / median(|.|^2))`` over
    all pairs of the pooled sample. ``mmd2`` is the biased (V-statistic) estimate, exactly 0 for
    identical sets; ``p_value = (1 + #{permuted >= observed}) / (1 + n_permutations)``.

    Parameters
    ----------
    X, Y : np.ndarray [shape=(n, ...)]
        Two samples with the same per-sample shape (flattened internally).
    n_permutations : int
        Permutations for the p-value (0 skips the test, ``p_value`` is then ``None``).
    seed : int or None
        Seeds the subsampling and the permutations.
    max_samples : int
        Each set is subsampled to at most this many samples (the kernel matrix is O(n^2)).

    Returns
    -------
    dict
        ``{"mmd2", "mmd", "p_value", "bandwidth", "n_x", "n_y"}`` (``mmd = sqrt(mmd2)``).
    """
    A = _as_windows(X, "X")
    B = _as_windows(Y, "Y")
    _same_shape(A, B, "X", "Y")
    rng = np.random.default_rng(seed)
    A, B = _flat(_subsample(A, max_samples, rng)), _flat(_subsample(B, max_samples, rng))
    n, m = A.shape[0], B.shape[0]
    Z = np.concatenate([A, B])
    d2 = _sq_dists(Z)
    off = d2[np.triu_indices(n + m, k=1)]
    med = float(np.median(off)) if off.size else 1.0
    if med <= 0:
        positive = off[off > 0]
        med = float(np.median(positive)) if positive.size else 1.0
    K = np.exp(-d2 / med)
    a = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    stat = float(max(a @ K @ a, 0.0))
    p_value = None
    if n_permutations and n_permutations > 0:
        P = np.stack([a[rng.permutation(n + m)] for _ in range(int(n_permutations))], axis=1)
        perm = np.einsum("ij,ij->j", P, K @ P)
        p_value = float((1 + np.sum(perm >= stat - 1e-12)) / (1 + int(n_permutations)))
    return {
        "mmd2": stat,
        "mmd": float(np.sqrt(stat)),
        "p_value": p_value,
        "bandwidth": float(np.sqrt(med)),
        "n_x": int(n),
        "n_y": int(m),
    }


def nn_distances(Q: np.ndarray, R: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each row of Q to its nearest row of R (chunked brute force).

    With ``exclude_self`` (Q is R), a row is not its own neighbour (leave-one-out)."""
    out = np.empty(Q.shape[0])
    r2 = np.sum(R * R, axis=1)
    for s in range(0, Q.shape[0], 512):
        q = Q[s : s + 512]
        d2 = np.maximum(np.sum(q * q, axis=1)[:, None] + r2[None, :] - 2.0 * q @ R.T, 0.0)
        if exclude_self:
            idx = np.arange(s, s + q.shape[0])
            d2[np.arange(q.shape[0]), idx] = np.inf
        out[s : s + q.shape[0]] = np.sqrt(d2.min(axis=1))
    return out


def memorisation(X_synth: Any, X_train: Any, *, X_holdout: Any = None) -> dict[str, Any]:
    """Are synthetic samples copies of training samples?

    Parameters
    ----------
    X_synth : np.ndarray [shape=(n_synth, ...)]
    X_train : np.ndarray [shape=(n_train, ...)]
        Every real sample the generator saw (at least 2).
    X_holdout : np.ndarray [shape=(n_holdout, ...)], optional
        Real samples the generator did not see; their distance to the training set is reported
        as a second reference (``median_holdout_nn``).

    Returns
    -------
    dict
        ``median_synth_nn`` (synthetic -> nearest training sample), ``median_real_nn`` (training
        sample -> nearest other training sample), ``ratio`` (their quotient; about 1 is healthy,
        near 0 means copies), ``near_copy_fraction`` / ``n_near_copies`` (synthetic samples closer
        than ``median_real_nn / 10``), ``min_synth_nn``.
    """
    S = _as_windows(X_synth, "X_synth")
    T = _as_windows(X_train, "X_train")
    _same_shape(S, T, "X_synth", "X_train")
    if T.shape[0] < 2:
        raise DataError(f"memorisation needs at least 2 training samples. Received: {T.shape[0]}")
    S, T = _flat(S), _flat(T)
    d_s = nn_distances(S, T)
    d_r = nn_distances(T, T, exclude_self=True)
    med_r = float(np.median(d_r))
    thr = med_r / 10.0
    near = d_s < thr
    out = {
        "median_synth_nn": float(np.median(d_s)),
        "median_real_nn": med_r,
        "ratio": float(np.median(d_s) / med_r) if med_r > 0 else None,
        "near_copy_threshold": thr,
        "near_copy_fraction": float(np.mean(near)),
        "n_near_copies": int(np.sum(near)),
        "min_synth_nn": float(d_s.min()),
    }
    if X_holdout is not None:
        H = _as_windows(X_holdout, "X_holdout")
        _same_shape(H, _as_windows(X_train, "X_train"), "X_holdout", "X_train")
        out["median_holdout_nn"] = float(np.median(nn_distances(_flat(H), T)))
    return out


def _channels(X: np.ndarray) -> np.ndarray:
    """(n, L, C) stays; (n, d) becomes one 'channel' of d values."""
    return X if X.ndim == 3 else X[:, :, None]


def marginal_distances(X_real: Any, X_synth: Any) -> list[dict[str, float]]:
    """Per channel: 1-D Wasserstein distance and KS statistic of the pooled values.

    Returns
    -------
    list of dict
        One ``{"channel", "wasserstein", "ks"}`` per channel (feature vectors: one entry).
    """
    from scipy.stats import ks_2samp, wasserstein_distance

    R = _channels(_as_windows(X_real, "X_real"))
    S = _channels(_as_windows(X_synth, "X_synth"))
    _same_shape(R, S, "X_real", "X_synth")
    out = []
    for c in range(R.shape[2]):
        r, s = R[:, :, c].ravel(), S[:, :, c].ravel()
        out.append(
            {
                "channel": c,
                "wasserstein": float(wasserstein_distance(r, s)),
                "ks": float(ks_2samp(r, s).statistic),
            }
        )
    return out


def _mean_psd(X: np.ndarray, sr: float | None) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import welch

    L = X.shape[1]
    f, p = welch(X, fs=sr or 1.0, nperseg=min(L, 64), axis=1)
    return f, p.mean(axis=0)  # (F,), (F, C)


def spectral_distance(X_real: Any, X_synth: Any, *, sr: float | None = None) -> list[dict[str, float]] | None:
    """Per channel: mean |10 log10 PSD_real - 10 log10 PSD_synth| in dB (Welch, averaged over windows).

    Returns ``None`` for 2-D feature vectors (no time axis).
    """
    R = _as_windows(X_real, "X_real")
    S = _as_windows(X_synth, "X_synth")
    _same_shape(R, S, "X_real", "X_synth")
    if R.ndim != 3:
        return None
    _, pr = _mean_psd(R, sr)
    _, ps = _mean_psd(S, sr)
    eps = 1e-12
    db = np.abs(10 * np.log10(pr + eps) - 10 * np.log10(ps + eps))
    return [{"channel": c, "psd_db": float(db[:, c].mean())} for c in range(R.shape[2])]


def _auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def linear_auc(
    X_normal: Any,
    X_anomaly: Any,
    X_normal_test: Any,
    X_anomaly_test: Any,
    *,
    seed: int | None = 0,
) -> float:
    """ROC AUC of the fixed TSTR classifier: trained on ``X_normal`` (0) vs ``X_anomaly`` (1),
    tested on ``X_normal_test`` vs ``X_anomaly_test``.

    The classifier is a logistic regression (C=1, balanced class weights); its inputs are scaled
    with the mean and standard deviation of ``X_normal`` only (per channel for windows, per
    feature for feature vectors), so what is passed as anomalies never changes the scaling.

    Parameters
    ----------
    X_normal, X_anomaly, X_normal_test, X_anomaly_test : np.ndarray [shape=(n, ...)]
        The same per-sample shape each, at least one sample each.

    Returns
    -------
    float
        ROC AUC in [0, 1] (higher scores = anomalous).
    """
    N3 = _as_windows(X_normal, "X_normal")
    parts = []
    for name, arr in (("X_anomaly", X_anomaly), ("X_normal_test", X_normal_test), ("X_anomaly_test", X_anomaly_test)):
        a = _as_windows(arr, name)
        if a.shape[1:] != N3.shape[1:]:
            raise ParameterError(
                f"`{name}` must have the same sample shape as `X_normal`. "
                f"Received: {name}.shape={a.shape}, X_normal.shape={N3.shape}"
            )
        parts.append(a)
    scale = normal_scaler(N3)
    N, A, Nt, At = scale(N3), *(scale(a) for a in parts)
    clf = _fit_quiet(_tstr_logreg(0 if seed is None else int(seed)),
                     np.concatenate([N, A]), np.r_[np.zeros(len(N), int), np.ones(len(A), int)])
    return _auc(np.r_[np.zeros(len(Nt), int), np.ones(len(At), int)], clf.decision_function(np.concatenate([Nt, At])))


def tstr(
    X_normal: Any,
    X_synth: Any,
    X_normal_test: Any,
    X_anomaly_test: Any,
    *,
    X_anomaly_train: Any = None,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Train-on-synthetic, test-on-real ROC AUC of a fixed logistic regression.

    Parameters
    ----------
    X_normal : np.ndarray [shape=(n, ...)]
        Real normal training samples.
    X_synth : np.ndarray [shape=(n_synth, ...)]
        Synthetic anomalies.
    X_normal_test, X_anomaly_test : np.ndarray
        Real held-out normal samples and anomalies.
    X_anomaly_train : np.ndarray, optional
        The real training anomalies: adds ``trtr_auc`` (trained on them instead of synthetic) and
        ``tstr_plus_real_auc`` (trained on both).

    Returns
    -------
    dict
        ``tstr_auc``, ``normal_only_auc`` (5-NN distance to normal training data) and, with
        ``X_anomaly_train``, ``trtr_auc`` and ``tstr_plus_real_auc``.
    """
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    N3 = _as_windows(X_normal, "X_normal")
    S3, Nt3, At3 = (_as_windows(a, name) for a, name in ((X_synth, "X_synth"), (X_normal_test, "X_normal_test"),
                                                         (X_anomaly_test, "X_anomaly_test")))

    def lr_auc(A):
        return linear_auc(N3, A, Nt3, At3, seed=seed)

    out: dict[str, Any] = {"tstr_auc": lr_auc(S3)}
    scale = normal_scaler(N3)
    N, Nt, At = scale(N3), scale(Nt3), scale(At3)
    Xte = np.concatenate([Nt, At])
    yte = np.r_[np.zeros(len(Nt), int), np.ones(len(At), int)]
    sc = StandardScaler().fit(N)
    k = min(5, len(N))
    nn = NearestNeighbors(n_neighbors=k).fit(sc.transform(N))
    dist, _ = nn.kneighbors(sc.transform(Xte))
    out["normal_only_auc"] = _auc(yte, dist.mean(axis=1))
    if X_anomaly_train is not None:
        Ar3 = _as_windows(X_anomaly_train, "X_anomaly_train")
        out["trtr_auc"] = lr_auc(Ar3)
        out["tstr_plus_real_auc"] = lr_auc(np.concatenate([Ar3, S3]))
    out["n_test_normal"], out["n_test_anomaly"] = int(len(Nt)), int(len(At))
    return out


# --------------------------------------------------------------------------- references
#: The naive references every generator must beat, made from the K real training anomalies alone.
NAIVE_REFERENCES = ("copy", "jitter+scale", "gaussian")


def naive_reference(name: str, X_anomaly_train: Any, n: int, *, seed: int | None = 0) -> np.ndarray:
    """``n`` samples of a naive reference made from the real training anomalies ``A`` alone.

    ``copy``: the K anomalies drawn with replacement; ``jitter+scale``: those copies times a
    gain N(1, 0.1) per channel (per sample for feature vectors) plus white noise of 5 % of ``A``'s
    standard deviation; ``gaussian``: a multivariate normal fitted to ``A`` with the Ledoit-Wolf
    covariance ``(1 - s) S + s mu I``, sampled through its rank-K factor (no d x d matrix, so long
    windows cost O(K d) memory). A generator
    whose quality metrics are no better than these has learned nothing the K examples did not
    already say (the bias of few examples shows up here as well as in the generator).

    Parameters
    ----------
    name : {"copy", "jitter+scale", "gaussian"}
    X_anomaly_train : np.ndarray [shape=(K, ...)]
        The real anomalies the generator saw (at least 2).
    n : int
    seed : int or None

    Returns
    -------
    np.ndarray [shape=(n, *A.shape[1:]), dtype=float32]
    """
    from sklearn.covariance import ledoit_wolf_shrinkage

    A = _as_windows(X_anomaly_train, "X_anomaly_train")
    if A.shape[0] < 2:
        raise DataError(f"naive references need at least 2 real anomalies. Received: {A.shape[0]}")
    if name not in NAIVE_REFERENCES:
        raise ParameterError(f"`name` must be one of {NAIVE_REFERENCES}. Received: name={name!r}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(A), n)
    if name == "copy":
        out = A[idx]
    elif name == "jitter+scale":
        sd = A.std()
        gain_shape = (n,) + (1,) * (A.ndim - 2) + (A.shape[-1],) if A.ndim == 3 else (n, 1)
        out = A[idx] * rng.normal(1.0, 0.1, size=gain_shape) + rng.normal(0, 0.05 * sd, size=(n,) + A.shape[1:])
    else:
        F = _flat(A)
        mean = F.mean(axis=0)
        Fc = F - mean
        s = float(ledoit_wolf_shrinkage(Fc, assume_centered=True))
        mu = float(np.sum(Fc * Fc) / Fc.size)  # trace(S) / d with S = Fc.T Fc / K
        z = rng.standard_normal((n, F.shape[0]))
        eps = rng.standard_normal((n, F.shape[1]))
        out = (mean + np.sqrt(1.0 - s) * (z @ Fc) / np.sqrt(F.shape[0]) + np.sqrt(s * mu) * eps)
        out = out.reshape((n,) + A.shape[1:])
    return np.asarray(out, np.float32)


# --------------------------------------------------------------------------- report
def quality_report(
    X_real: Any,
    X_synth: Any,
    *,
    X_train: Any = None,
    X_normal: Any = None,
    X_normal_test: Any = None,
    X_anomaly_train: Any = None,
    sr: float | None = None,
    seed: int | None = 0,
    n_permutations: int = 200,
    forest: bool = True,
    references: bool = False,
) -> dict[str, Any]:
    """All quality metrics of ``X_synth`` against real held-out ``X_real`` of the same class.

    Parameters
    ----------
    X_real : np.ndarray [shape=(n_real, window_length, n_channels) or (n_real, n_features)]
        Real held-out samples of the class that was synthesized (anomalies).
    X_synth : np.ndarray [shape=(n_synth, ...)]
        Synthetic samples.
    X_train : np.ndarray, optional
        Every real sample the generator was trained on (memorisation reference).
    X_normal, X_normal_test : np.ndarray, optional
        Real normal training / held-out samples; both needed for TSTR.
    X_anomaly_train : np.ndarray, optional
        The real anomalies the generator saw (TRTR reference).
    sr : float, optional
        Sample rate, for PSD frequencies in the figures.
    seed : int or None
        Seeds every split, subsample and permutation.
    references : bool
        Also score the :data:`NAIVE_REFERENCES` made from ``X_anomaly_train`` (as many samples as
        ``X_synth``) with the same metrics: ``references`` = ``{name: {"discriminative_score",
        "discriminative_score_rf", "mmd", "tstr_auc"}}`` (needs at least 2 real training anomalies;
        ``None`` otherwise).

    Returns
    -------
    dict
        Keys ``discriminative_score``, ``discriminative_score_rf``, ``mmd``, ``mmd_p_value``,
        ``mmd_detail``, ``memorisation``, ``tstr``, ``tstr_auc``, ``marginal``, ``spectral``,
        ``references``, ``n_real``, ``n_synth`` (a metric whose inputs were not given is ``None``).
    """
    R = _as_windows(X_real, "X_real")
    S = _as_windows(X_synth, "X_synth")
    _same_shape(R, S, "X_real", "X_synth")
    rep: dict[str, Any] = {"n_real": int(R.shape[0]), "n_synth": int(S.shape[0])}
    rep["discriminative_score"] = discriminative_score(R, S, seed=seed)
    rep["discriminative_score_rf"] = (
        discriminative_score(R, S, classifier="forest", seed=seed) if forest else None
    )
    mmd = mmd_rbf(R, S, n_permutations=n_permutations, seed=seed)
    rep["mmd"], rep["mmd_p_value"], rep["mmd_detail"] = mmd["mmd"], mmd["p_value"], mmd
    rep["memorisation"] = (
        memorisation(S, X_train, X_holdout=R) if X_train is not None else None
    )
    if X_normal is not None and X_normal_test is not None:
        rep["tstr"] = tstr(X_normal, S, X_normal_test, R, X_anomaly_train=X_anomaly_train, seed=seed)
        rep["tstr_auc"] = rep["tstr"]["tstr_auc"]
    else:
        rep["tstr"], rep["tstr_auc"] = None, None
    rep["marginal"] = marginal_distances(R, S)
    rep["spectral"] = spectral_distance(R, S, sr=sr)
    rep["references"] = None
    if references and X_anomaly_train is not None and len(X_anomaly_train) >= 2:
        refs = {}
        for name in NAIVE_REFERENCES:
            Sr = naive_reference(name, X_anomaly_train, S.shape[0], seed=seed)
            refs[name] = {
                "discriminative_score": discriminative_score(R, Sr, seed=seed),
                "discriminative_score_rf": discriminative_score(R, Sr, classifier="forest", seed=seed) if forest else None,
                "mmd": mmd_rbf(R, Sr, n_permutations=0, seed=seed)["mmd"],
                "tstr_auc": (tstr(X_normal, Sr, X_normal_test, R, seed=seed)["tstr_auc"]
                             if X_normal is not None and X_normal_test is not None else None),
            }
        rep["references"] = refs
    return rep


_DEFINITIONS = [
    ("discriminative_score", "|accuracy - 0.5| of a logistic regression telling real from synthetic on a held-out split (TimeGAN; 0 best, 0.5 worst)"),
    ("discriminative_score_rf", "same with a 100-tree random forest (sees non-linear cues such as smoothness)"),
    ("mmd", "sqrt of the biased MMD^2, RBF kernel, median-heuristic bandwidth (0 = same distribution)"),
    ("mmd_p_value", "permutation test of MMD (small = distributions differ)"),
    ("tstr_auc", "ROC AUC on real test data of a logistic regression trained on real normal + synthetic anomalies"),
]


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def quality_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: a metric table with definitions, TSTR, memorisation, per channel."""
    lines = ["# Synthetic data quality", "",
             f"{report.get('n_synth')} synthetic samples compared with {report.get('n_real')} real held-out samples.", "",
             "| metric | value | definition |", "|---|---|---|"]
    for key, desc in _DEFINITIONS:
        lines.append(f"| {key} | {_fmt(report.get(key))} | {desc} |")
    t = report.get("tstr")
    if t:
        lines += ["", "## TSTR (logistic regression, AUC on real test data)", "",
                  "| trained on | AUC |", "|---|---|",
                  f"| real normal + synthetic anomalies (TSTR) | {_fmt(t.get('tstr_auc'))} |"]
        if "trtr_auc" in t:
            lines.append(f"| real normal + real training anomalies (TRTR) | {_fmt(t['trtr_auc'])} |")
            lines.append(f"| real normal + real + synthetic anomalies | {_fmt(t['tstr_plus_real_auc'])} |")
        lines.append(f"| normal only (5-NN distance baseline) | {_fmt(t.get('normal_only_auc'))} |")
    m = report.get("memorisation")
    if m:
        lines += ["", "## Memorisation", "",
                  "Distance from each synthetic sample to its nearest real training sample, vs real-to-real "
                  "nearest-neighbour distances inside the training set.", "",
                  f"- median synthetic -> train NN: {_fmt(m['median_synth_nn'])}",
                  f"- median real -> real NN: {_fmt(m['median_real_nn'])}",
                  f"- ratio: {_fmt(m['ratio'])} (about 1 healthy, near 0 = copies)",
                  f"- near copies (closer than {_fmt(m['near_copy_threshold'])}): {m['n_near_copies']} "
                  f"({_fmt(m['near_copy_fraction'])})"]
    refs = report.get("references")
    if refs:
        lines += ["", "## Against naive references", "",
                  "The same metrics for references made from the real training anomalies alone (as many samples "
                  "as synthesized): a generator no better than these has learned nothing the few examples did not "
                  "already show.", "",
                  "| samples | discriminative (LR) | discriminative (RF) | MMD | TSTR AUC |", "|---|---|---|---|---|",
                  f"| **synthetic** | {_fmt(report.get('discriminative_score'))} | "
                  f"{_fmt(report.get('discriminative_score_rf'))} | {_fmt(report.get('mmd'))} | "
                  f"{_fmt(report.get('tstr_auc'))} |"]
        for name, r in refs.items():
            lines.append(f"| {name} | {_fmt(r['discriminative_score'])} | {_fmt(r['discriminative_score_rf'])} | "
                         f"{_fmt(r['mmd'])} | {_fmt(r['tstr_auc'])} |")
    lines += ["", "## Per channel", "", "| channel | Wasserstein | KS | PSD distance (dB) |", "|---|---|---|---|"]
    spec = report.get("spectral") or []
    for i, mc in enumerate(report.get("marginal") or []):
        psd = spec[i]["psd_db"] if i < len(spec) else None
        lines.append(f"| {mc['channel']} | {_fmt(mc['wasserstein'])} | {_fmt(mc['ks'])} | {_fmt(psd)} |")
    lines += ["", "Figures: `figures/pca.png` (PCA fitted on real), `figures/overlay.png` (real vs synthetic), "
              "`figures/psd.png` (mean PSD per channel)."]
    return "\n".join(lines) + "\n"


def _save_fig(fig, path: Path) -> Path:
    from edgesynth.artifact import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return path


def plot_quality(out_dir: str | Path, X_real: Any, X_synth: Any, *, sr: float | None = None, seed: int = 0) -> list[Path]:
    """Write ``figures/pca.png``, ``figures/overlay.png`` and (windows) ``figures/psd.png``."""
    from matplotlib.figure import Figure
    from sklearn.decomposition import PCA

    R = _as_windows(X_real, "X_real")
    S = _as_windows(X_synth, "X_synth")
    _same_shape(R, S, "X_real", "X_synth")
    figs = Path(out_dir) / "figures"
    rng = np.random.default_rng(seed)
    paths = []

    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    Rf, Sf = _flat(R), _flat(S)
    if Rf.shape[1] >= 2 and Rf.shape[0] >= 2:
        pca = PCA(n_components=2, random_state=0).fit(Rf)
        pr, ps = pca.transform(Rf), pca.transform(Sf)
        ax.scatter(pr[:, 0], pr[:, 1], s=6, alpha=0.5, label=f"real (n={len(Rf)})")
        ax.scatter(ps[:, 0], ps[:, 1], s=6, alpha=0.5, label=f"synthetic (n={len(Sf)})")
        ax.set_xlabel("PC 1 (fitted on real)")
        ax.set_ylabel("PC 2")
        ax.legend(loc="best", fontsize=8)
    ax.set_title("PCA projection")
    fig.tight_layout()
    paths.append(_save_fig(fig, figs / "pca.png"))

    Rc, Sc = _channels(R), _channels(S)
    nch = min(Rc.shape[2], 3)
    fig = Figure(figsize=(7, 2.5 * nch))
    for c in range(nch):
        ax = fig.add_subplot(nch, 1, c + 1)
        t = np.arange(Rc.shape[1])
        for i in rng.choice(len(Rc), min(5, len(Rc)), replace=False):
            ax.plot(t, Rc[i, :, c], color="C0", alpha=0.3, lw=0.8)
        for i in rng.choice(len(Sc), min(5, len(Sc)), replace=False):
            ax.plot(t, Sc[i, :, c], color="C3", alpha=0.3, lw=0.8)
        ax.plot(t, Rc[:, :, c].mean(0), color="C0", lw=2, label="real mean")
        ax.plot(t, Sc[:, :, c].mean(0), color="C3", lw=2, label="synthetic mean")
        ax.set_ylabel(f"channel {c}")
        if c == 0:
            ax.legend(loc="best", fontsize=8)
            ax.set_title("real (blue) vs synthetic (red): 5 examples each and the means")
    fig.tight_layout()
    paths.append(_save_fig(fig, figs / "overlay.png"))

    if R.ndim == 3:
        f, pr = _mean_psd(R, sr)
        _, ps = _mean_psd(S, sr)
        fig = Figure(figsize=(6, 3.5))
        ax = fig.add_subplot()
        for c in range(min(R.shape[2], 3)):
            ax.semilogy(f, pr[:, c] + 1e-12, color=f"C{c}", label=f"real ch{c}")
            ax.semilogy(f, ps[:, c] + 1e-12, color=f"C{c}", ls="--", label=f"synthetic ch{c}")
        ax.set_xlabel("frequency (Hz)" if sr else "frequency (cycles/sample)")
        ax.set_ylabel("mean PSD")
        ax.legend(loc="best", fontsize=7)
        fig.tight_layout()
        paths.append(_save_fig(fig, figs / "psd.png"))
    return paths


def write_quality(
    out_dir: str | Path,
    report: dict[str, Any],
    X_real: Any,
    X_synth: Any,
    *,
    sr: float | None = None,
) -> list[Path]:
    """Write ``quality.json``, ``quality.md`` and ``figures/*.png`` into ``out_dir`` atomically.

    Each file is written to a temporary sibling and renamed, so an interrupted call never leaves
    a partial file. Returns the written paths.
    """
    from edgesynth.artifact import atomic_write_json, atomic_write_text

    out = Path(out_dir)
    paths = plot_quality(out, X_real, X_synth, sr=sr)
    paths.append(atomic_write_json(out / "quality.json", report))
    paths.append(atomic_write_text(out / "quality.md", quality_markdown(report)))
    return paths


__all__ = [
    "discriminative_score",
    "mmd_rbf",
    "memorisation",
    "marginal_distances",
    "spectral_distance",
    "tstr",
    "linear_auc",
    "naive_reference",
    "NAIVE_REFERENCES",
    "quality_report",
    "quality_markdown",
    "plot_quality",
    "write_quality",
]
