"""Which physical injections look like *your* anomalies? Ranking kinds against a few real ones.

Physical injection needs no real anomaly, but a library of kinds (spikes, drift, premature beats,
bearing impulses...) holds many that a given machine or patient never shows, and injecting those
teaches a detector the wrong thing (on ECG5000 a logistic regression trained on normal beats vs
injected spikes or ST shifts alone ranks the real anomalies at or below chance on some seeds,
while premature beats reach AUC 0.99). When a few real anomalies exist, each kind can be
*validated* against them before use, on the training data only:

for each candidate kind, and each of ``n_folds`` folds of the normal windows, anomalies of that
kind are injected into the other folds' normal windows; the fixed TSTR classifier
(:func:`edgesynth.synth.quality.linear_auc`: logistic regression, input scaling from the normal
windows only) is trained on those normal vs injected windows and asked to rank the **real**
anomalies above the held-out normal fold. The kind's score is that ROC AUC averaged over folds:
1 = training on this kind alone already separates the real anomalies from unseen normal windows,
0.5 = chance, below 0.5 = it teaches the opposite. This is TSTR run on the training data: no
held-out *test* data is touched. The classifier is linear, so a kind whose injections go both
ways (a shift up *or* down, random sign) scores low even when the real anomalies match one side:
pass the matching parameters through your own injection for such cases.

:func:`select_kinds` keeps the kinds within ``tolerance`` of the best score that clear chance
(0.5 plus two standard deviations of an uninformative kind's AUC at this many anomalies), at most
``max_kinds``. ``synthesize(..., method="inject", kinds="auto")`` and ``method="auto"``
with real anomalies use it.

The classifier sees the windows as given: for windows whose anomalies show in power rather than
in the waveform (vibration with random phase), pass ``transform`` (e.g. a fitted feature
pipeline's ``transform``) so kinds are compared in the feature space the detector uses.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.sin(np.linspace(0, 6 * np.pi, 64))[None, :, None] + 0.05 * rng.normal(size=(40, 64, 1))
>>> real = X[:5].copy(); real[:, 20:40] = 0.0          # the real anomalies: a dead sensor segment
>>> r = rank_kinds(X[5:], real, kinds=("noise_burst", "spike", "dropout"), seed=0)
>>> r.best
'dropout'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_array, check_positive_int


@dataclass
class KindRanking:
    """Validation scores of injection kinds against real anomalies.

    Attributes
    ----------
    scores : dict of str -> float
        Mean ROC AUC over folds per kind, best first.
    fold_scores : dict of str -> list of float
        The per-fold AUCs.
    n_normal, n_anomaly, n_folds : int
        What the ranking was computed from.
    chance_sd : float
        Standard deviation of one fold's AUC when a kind carries no information (Mann-Whitney
        null: ``sqrt((n_a + n_h + 1) / (12 n_a n_h))`` for ``n_a`` real anomalies and ``n_h``
        held-out normal windows); 0 when unknown.
    """

    scores: dict[str, float]
    fold_scores: dict[str, list[float]] = field(default_factory=dict)
    n_normal: int = 0
    n_anomaly: int = 0
    n_folds: int = 0
    chance_sd: float = 0.0

    @property
    def chance_level(self) -> float:
        """0.5 + 2 ``chance_sd``: a score below it is not evidence that a kind resembles the
        real anomalies (with 6 anomalies and 24 held-out windows a fold's AUC reaches 0.6 by
        chance one time in four)."""
        return 0.5 + 2.0 * self.chance_sd

    @property
    def best(self) -> str:
        """The kind with the highest score."""
        return next(iter(self.scores))

    def to_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "fold_scores": {k: list(v) for k, v in self.fold_scores.items()},
                "n_normal": self.n_normal, "n_anomaly": self.n_anomaly, "n_folds": self.n_folds,
                "chance_sd": self.chance_sd, "chance_level": self.chance_level}


def candidate_kinds(sr: float | None = None) -> tuple[str, ...]:
    """Every registered injection kind usable without / with a sample rate ``sr``."""
    from edgesynth.synth.inject import INJECTIONS

    return tuple(k for k, fn in INJECTIONS.items() if sr is not None or not fn.needs_sr)


def rank_kinds(
    X_normal: Any,
    X_anomaly: Any,
    *,
    kinds: Any = None,
    sr: float | None = None,
    seed: int | None = 0,
    n_folds: int = 5,
    n_inject: int = 300,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> KindRanking:
    """Score each injection kind by how well training on it alone ranks the real anomalies.

    Parameters
    ----------
    X_normal : np.ndarray [shape=(n_normal, window_length, n_channels) or (n_normal, window_length)]
        Real normal windows (at least ``2 * n_folds``).
    X_anomaly : np.ndarray [shape=(n_anomaly, ...)]
        The real anomalies (at least 1), same window shape.
    kinds : sequence of str, a domain name or None
        Candidates; ``None`` = every registered kind (:func:`candidate_kinds`).
    sr : float, optional
        Sample rate (kinds such as ``impulses`` need it).
    seed : int or None
        Seeds the folds and the injections: same seed, same ranking.
    n_folds : int
        Folds of the normal windows (at least 2).
    n_inject : int
        Injected windows per fold.
    transform : callable, optional
        Maps windows ``(n, L, C)`` to what the classifier sees (2-D features or windows).

    Returns
    -------
    KindRanking
        ``scores`` sorted best first.

    Raises
    ------
    DataError
        No real anomaly, too few normal windows, NaN.
    ParameterError
        Unknown kind, mismatched shapes, bad ``n_folds`` / ``n_inject``.
    """
    import zlib

    from edgesynth.synth.inject import _DOMAINS, _check_kind, default_kinds, inject_random
    from edgesynth.synth.quality import linear_auc

    N = check_array(X_normal, "X_normal", ndim=(2, 3))
    A = check_array(X_anomaly, "X_anomaly", ndim=(2, 3))
    N, A = (a[:, :, None] if a.ndim == 2 else a for a in (N, A))
    if A.shape[1:] != N.shape[1:]:
        raise ParameterError(
            f"`X_anomaly` must have the same window shape as `X_normal`. "
            f"Received: X_anomaly.shape={A.shape}, X_normal.shape={N.shape}"
        )
    n_folds = check_positive_int(n_folds, "n_folds")
    if n_folds < 2:
        raise ParameterError(f"`n_folds` must be at least 2. Received: n_folds={n_folds}")
    n_inject = check_positive_int(n_inject, "n_inject")
    if len(N) < 2 * n_folds:
        raise DataError(
            f"ranking injection kinds needs at least {2 * n_folds} normal windows ({n_folds} folds of 2). "
            f"Received: {len(N)}"
        )
    if kinds is None:
        kinds = candidate_kinds(sr)
    elif isinstance(kinds, str):
        kinds = default_kinds(kinds) if kinds in _DOMAINS else (kinds,)
    kinds = tuple(kinds)
    if not kinds:
        raise ParameterError("`kinds` must not be empty")
    for kind in kinds:
        _check_kind(kind, sr)

    def f(X):
        return X if transform is None else np.asarray(transform(X))

    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(len(N)), n_folds)
    # each kind's injections depend on (seed, kind) only, so a kind scores the same whatever the
    # other candidates are
    base = int(rng.integers(2**31 - 1))
    fold_seeds = np.array([np.random.default_rng([base, zlib.crc32(kd.encode())]).integers(2**31 - 1, size=n_folds)
                           for kd in kinds])
    A_f = f(A)
    fold_scores: dict[str, list[float]] = {}
    for j, held in enumerate(folds):
        train = np.setdiff1d(np.arange(len(N)), held)
        N_tr, N_held = f(N[train]), f(N[held])
        for i, kind in enumerate(kinds):
            I, _ = inject_random(N[train], n_inject, kinds=(kind,), sr=sr, seed=int(fold_seeds[i, j]))
            fold_scores.setdefault(kind, []).append(linear_auc(N_tr, f(I), N_held, A_f, seed=int(fold_seeds[i, j])))
    order = sorted(kinds, key=lambda kd: (-float(np.mean(fold_scores[kd])), kinds.index(kd)))
    n_a, n_h = len(A), len(N) / n_folds
    return KindRanking(scores={kd: float(np.mean(fold_scores[kd])) for kd in order},
                       fold_scores={kd: fold_scores[kd] for kd in order},
                       n_normal=int(len(N)), n_anomaly=int(n_a), n_folds=n_folds,
                       chance_sd=float(np.sqrt((n_a + n_h + 1) / (12.0 * n_a * n_h))))


def select_kinds(ranking: KindRanking, *, tolerance: float = 0.01, max_kinds: int = 3,
                 min_score: float | None = None) -> tuple[str, ...]:
    """Kinds worth injecting, best first: scores above ``min_score`` and within ``tolerance`` of
    the best, at most ``max_kinds``. Empty when no kind clears ``min_score``.

    ``min_score=None`` takes ``ranking.chance_level`` (0.5 plus two standard deviations of an
    uninformative kind's AUC), so a kind is injected only when the real anomalies give evidence
    for it.

    >>> select_kinds(KindRanking({"a": 0.99, "b": 0.985, "c": 0.9, "d": 0.4}))
    ('a', 'b')
    """
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise ParameterError(f"`tolerance` must be a non-negative number. Received: tolerance={tolerance!r}")
    max_kinds = check_positive_int(max_kinds, "max_kinds")
    floor = ranking.chance_level if min_score is None else float(min_score)
    if not ranking.scores:
        return ()
    best = max(ranking.scores.values())
    keep = [k for k, v in ranking.scores.items() if v > floor and v >= best - tolerance]
    return tuple(keep[:max_kinds])


__all__ = ["KindRanking", "candidate_kinds", "rank_kinds", "select_kinds"]
