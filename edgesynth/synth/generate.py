"""Synthesis entry points: one call from labelled windows to synthetic anomalies (+ quality).

* :func:`synthesize` — ``method`` in ``{"inject", "vae", "gan", "auto"}``, returns a
  :class:`SynthResult` (samples, their kinds, the fitted generator, info).
* :func:`choose_strategy` — what ``--synth auto`` uses: no real anomalies -> physical injection
  + VAE latent-tail sampling; a few -> conditional VAE + injection.
* :func:`run_synth` — what ``edgesynth synth DATA --out DIR`` does: hold out real data, synthesize
  from the rest, measure quality against the held-out real anomalies, and write an artifact
  directory (kind ``synth``) atomically: ``samples.npz``, ``generator/``, ``quality.json``,
  ``quality.md``, ``figures/*.png``, ``manifest.json``.

Importing this module does not import TensorFlow (only ``method="vae"``/``"gan"`` do).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_array, check_binary_labels, check_positive_int

METHODS = ("inject", "vae", "gan")
DEFAULT_TAIL = (2.0, 3.0)


@dataclass
class SynthResult:
    """Synthetic anomalies.

    Attributes
    ----------
    X : np.ndarray [shape=(n, window_length, n_channels) or (n, n_features), dtype=float32]
    kinds : np.ndarray [shape=(n,), str]
        What each sample is: ``"inject:spike"``, ``"vae:anomaly"``, ``"vae:tail"`` (latent-tail
        sample, no real anomaly seen), ``"gan:2"`` (anomaly type ``"2"``)...
    generator : ConditionalVAE, TimeSeriesWGAN or None
        The fitted generator (``None`` for injection, or for ``auto`` when several were used).
    info : dict
        Scalars only (str, int, float, None): method, counts, seed, tail bounds, classes...
    """

    X: np.ndarray
    kinds: np.ndarray
    generator: Any = None
    info: dict = field(default_factory=dict)


def choose_strategy(y: Any) -> tuple[str, ...]:
    """Which synthesis methods to use, given the real labels (what ``--synth auto`` runs).

    The rule (issue 4): with **no real anomaly**, nothing anomalous can be learned, so anomalies
    come from physics and from off-manifold sampling: physical injection into normal windows plus
    VAE *latent-tail* sampling (latents from the tails of the prior, decoded as normal: novel
    windows away from the normal mass). With **a few real anomalies**, a conditional VAE learns
    them while sharing the structure of the normal data, and injection adds physically plausible
    variety the few examples do not show. The GAN is never chosen automatically: on a handful of
    anomalies it needs far more training for less quality (see ``benchmarks/synthesis``).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)] or None
        0 normal, 1 anomaly (``None`` = unlabelled = all normal).

    Returns
    -------
    tuple of str
        ``("inject", "vae")`` without anomalies, ``("vae", "inject")`` with at least one.

    Examples
    --------
    >>> choose_strategy([0, 0, 0])
    ('inject', 'vae')
    >>> choose_strategy([0, 1, 0])
    ('vae', 'inject')
    """
    if y is None:
        return ("inject", "vae")
    y = np.asarray(y)
    return ("vae", "inject") if np.any(y == 1) else ("inject", "vae")


def auto_kinds(X_normal: np.ndarray, X_anomaly: np.ndarray, *, sr: float | None = None,
               seed: int | None = 0, transform=None, max_normal: int = 400,
               ) -> tuple[tuple[str, ...] | None, dict[str, Any]]:
    """Injection kinds for ``kinds="auto"``: validated against the real anomalies when there are
    any (:func:`edgesynth.synth.select.rank_kinds` on at most ``max_normal`` normal windows, drawn
    with the seed, + :func:`~edgesynth.synth.select.select_kinds`; ``transform`` maps windows to
    the space they are compared in, e.g. the detector's features), else the generic defaults
    (``None``: no real anomaly, or too few windows for any score to clear chance). Returns ``(kinds, info)``;
    ``kinds`` is ``()`` when real anomalies exist but no kind beats chance. ``info`` holds
    scalars only (for manifests).

    Raw windows are compared as they are: for random-phase signals (vibration) pass the feature
    transform, or a linear classifier on the waveform validates nothing."""
    from edgesynth.synth.select import rank_kinds, select_kinds

    n_folds = min(5, len(X_normal) // 2)
    if len(X_anomaly) == 0 or n_folds < 2:
        why = "no real anomaly" if len(X_anomaly) == 0 else f"only {len(X_normal)} normal windows"
        return None, {"kinds_selection": f"defaults ({why} to validate against)"}
    if len(X_normal) > max_normal:  # the ranking fits kinds x folds classifiers: bound its cost
        X_normal = X_normal[np.sort(np.random.default_rng(seed).choice(len(X_normal), max_normal, replace=False))]
    ranking = rank_kinds(X_normal, X_anomaly, sr=sr, seed=seed, n_folds=n_folds, transform=transform)
    if ranking.chance_level >= 1.0:  # too few windows: even a perfect AUC is no evidence
        return None, {"kinds_selection": f"defaults (too few windows to validate against: {len(X_anomaly)} real "
                                         f"anomalies, {len(X_normal)} normal windows)",
                      "kind_scores": ",".join(f"{k}={v:.3f}" for k, v in ranking.scores.items())}
    chosen = select_kinds(ranking)
    return chosen, {"kinds_selection": "validated against the real anomalies (TSTR on the training data)",
                    "kinds_selected": ",".join(chosen), "kinds_chance_level": round(ranking.chance_level, 4),
                    "kind_scores": ",".join(f"{k}={v:.3f}" for k, v in ranking.scores.items())}


def _check_xy(X, y, labels):
    X = check_array(X, "X", ndim=(2, 3))
    y = np.zeros(len(X), np.int8) if y is None else check_binary_labels(y, len(X))
    if labels is not None:
        labels = np.asarray(labels).astype(str)
        if labels.shape != (len(X),):
            raise ParameterError(f"`labels` must have shape ({len(X)},). Received: labels.shape={labels.shape}")
    return X, y, labels


def synthesize(
    X: Any,
    y: Any = None,
    *,
    method: str,
    n: int,
    sr: float | None = None,
    seed: int | None = 0,
    epochs: int | None = None,
    labels: Any = None,
    kinds: Any = None,
    **kw: Any,
) -> SynthResult:
    """Make ``n`` synthetic anomalies from real data.

    Parameters
    ----------
    X : np.ndarray [shape=(n_windows, window_length, n_channels) or (n, n_features)]
        Real training data: raw windows for ``inject``; windows or (normalized) feature rows for
        ``vae`` / ``gan``.
    y : np.ndarray [shape=(n_windows,)], optional
        0 normal, 1 anomaly (``None`` = all normal). May hold no anomaly at all.
    method : {"inject", "vae", "gan", "auto"}
        ``inject``: physical anomalies injected into random normal windows (never needs a real
        anomaly); ``vae``: :class:`~edgesynth.synth.vae.ConditionalVAE` fitted on ``X, y`` and
        sampled with ``label=1`` (the anomaly condition) when ``y`` holds anomalies, else with
        latent-tail sampling (``tail=(2, 3)``: latents 2-3 prior standard deviations out,
        decoded with the normal condition); ``gan``: :class:`~edgesynth.synth.gan.TimeSeriesWGAN`,
        conditional on the class, or with tail noise when ``y`` holds no anomaly; ``auto``:
        ``n`` split evenly over :func:`choose_strategy`.
    n : int
        Number of synthetic anomalies.
    sr : float, optional
        Sample rate (injections at a frequency need it).
    seed : int or None
        Seeds the injection draws, the generator's training and its sampling: same seed, same
        samples.
    epochs : int, optional
        VAE epochs / GAN maximum epochs (defaults: the generator's own).
    labels : np.ndarray [shape=(n_windows,)] of str, optional
        Anomaly types: the generators condition on them.
    kinds : sequence of str or str, optional
        Injection kinds, a domain (``"vibration"``, ``"ecg"``, ``"generic"``; see
        :func:`edgesynth.synth.inject.inject_random`) or ``"auto"``: the kinds that, validated
        against the real anomalies in ``y`` on the training data, best teach a classifier to find
        them (:mod:`edgesynth.synth.select`; without real anomalies, the generic defaults).
        ``method="auto"`` with real anomalies and no ``kinds`` does the same, and leaves injection
        out when no kind beats chance.
    **kw
        Generator hyper-parameters (e.g. ``latent_dim=4``), and ``tail=(low, high)`` to force
        tail sampling.

    Returns
    -------
    SynthResult
        ``X`` float32 of shape ``(n, *X.shape[1:])``; ``kinds`` like ``"inject:spike"``,
        ``"vae:anomaly"``, ``"vae:tail"``, ``"gan:anomaly"``; ``info`` holds scalars only.

    Raises
    ------
    ParameterError
        Unknown method, bad ``n``, mismatched ``y`` / ``labels``, unknown generator parameter.
    DataError
        NaN/inf in ``X``, no normal window to inject into, fewer samples than the generator needs.
    """
    if method not in METHODS + ("auto",):
        raise ParameterError(f"`method` must be one of {METHODS + ('auto',)}. Received: method={method!r}")
    n = check_positive_int(n, "n")
    X, y, labels = _check_xy(X, y, labels)
    n_anom = int(np.sum(y == 1))
    if method == "auto":
        methods = choose_strategy(y)
        sel_info: dict[str, Any] = {}
        if isinstance(kinds, str) and kinds == "auto" and not n_anom:
            kinds, sel_info = None, {"kinds_selection": "defaults (no real anomaly to validate against)"}
        if n_anom and (kinds is None or (isinstance(kinds, str) and kinds == "auto")):
            # a few real anomalies: inject only kinds validated against them (none: the VAE alone)
            chosen, sel_info = auto_kinds(X[y == 0], X[y == 1], sr=sr, seed=seed)
            kinds = chosen or None
            if not chosen:
                methods = tuple(m for m in methods if m != "inject")
        counts = [n // len(methods) + (i < n % len(methods)) for i in range(len(methods))]
        parts = []
        for i, (m, k) in enumerate(zip(methods, counts)):
            if k:
                parts.append(synthesize(X, y, method=m, n=k, sr=sr, labels=labels, kinds=kinds, epochs=epochs,
                                        seed=None if seed is None else seed + i,
                                        **({} if m == "inject" else kw)))
        info = {"method": "auto", "methods": "+".join(methods), "n": n, "n_train": int(len(X)),
                "n_real_anomalies": n_anom, "seed": seed, **sel_info}
        info.update({f"n_{m}": k for m, k in zip(methods, counts)})
        return SynthResult(
            X=np.concatenate([p.X for p in parts]),
            kinds=np.concatenate([p.kinds for p in parts]),
            generator=None,
            info=info,
        )

    info: dict[str, Any] = {"method": method, "n": n, "n_train": int(len(X)), "n_real_anomalies": n_anom,
                            "seed": seed}
    if method == "inject":
        if kw:
            raise ParameterError(f"method 'inject' takes no generator parameters. Received: {sorted(kw)}")
        Xn = X[y == 0]
        if len(Xn) == 0:
            raise DataError("method 'inject' needs normal windows (y == 0) to inject into; y holds only anomalies")
        from edgesynth.synth.inject import inject_random

        if isinstance(kinds, str) and kinds == "auto":
            kinds, sel_info = auto_kinds(Xn, X[y == 1], sr=sr, seed=seed)
            info.update(sel_info)
            if kinds is not None and not kinds:
                raise DataError(
                    "no injection kind resembles the real anomalies: trained on any single kind, the TSTR "
                    "classifier ranks them no better than chance "
                    f"(AUC <= {sel_info['kinds_chance_level']}: {sel_info['kind_scores']}); pass `kinds` "
                    "explicitly, or use method='vae'"
                )
        Xs, k = inject_random(Xn, n, kinds=kinds, sr=sr, seed=seed)
        k = np.asarray(k).astype(str)
        info["kinds"] = ",".join(sorted(set(k.tolist())))
        return SynthResult(np.asarray(Xs, np.float32), np.char.add("inject:", k), None, info)

    tail = kw.pop("tail", None)
    if method == "gan" and n_anom == len(X):
        raise DataError("method 'gan' needs normal windows (y == 0) too: y holds only anomalies")
    if n_anom == 0 and tail is None:
        tail = DEFAULT_TAIL
    if method == "vae":
        from edgesynth.synth.vae import ConditionalVAE as Gen
    else:
        from edgesynth.synth.gan import TimeSeriesWGAN as Gen
    try:
        gen = Gen(seed=seed, **kw)
    except TypeError as exc:
        raise ParameterError(f"unknown {Gen.__name__} parameter: {exc}. Received: {sorted(kw)}") from None
    gen.fit(X, y, labels=labels, epochs=epochs)
    Xs, names = gen.sample_with_classes(n, label=1, seed=seed, tail=tail)
    from edgesynth.synth.vae import parse_tail

    t = parse_tail(tail)
    info.update({"tail_low": None if t is None else t[0], "tail_high": None if t is None else t[1],
                 "classes": ",".join(gen.classes_), "epochs": epochs if epochs is not None else
                 getattr(gen, "epochs", getattr(gen, "max_epochs", None))})
    if method == "gan":
        info.update({"best_epoch": gen.best_epoch_, "epochs_run": gen.epochs_run_, "best_mmd": gen.best_mmd_})
    return SynthResult(Xs, np.char.add(f"{method}:", names), gen, info)


# --------------------------------------------------------------------------- run_synth
def _group_order(idx: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``idx`` reordered so whole groups (recordings) come together, groups in random order."""
    g = groups[idx]
    ug = rng.permutation(np.unique(g))
    rank = {v: i for i, v in enumerate(ug)}
    key = np.array([rank[v] for v in g])
    return idx[np.argsort(key, kind="stable")]


def split_for_synth(ds, *, anomalies: int | None, seed: int | None, test_size: float = 0.2):
    """Split a Dataset into training data for the generator and held-out real data for quality.

    Normal windows: ``test_size`` of the recordings (groups) are held out. Anomalies: ``anomalies``
    real anomalies are used for training and the rest held out; ``None`` holds out 30%.

    Returns
    -------
    dict of index arrays: ``normal_train``, ``normal_test``, ``anomaly_train``, ``anomaly_test``.
    """
    rng = np.random.default_rng(seed)
    y = np.zeros(ds.n_windows, np.int8) if ds.y is None else ds.y
    normal = _group_order(np.flatnonzero(y == 0), ds.groups, rng)
    anom = _group_order(np.flatnonzero(y == 1), ds.groups, rng)
    if len(normal) < 2:
        raise DataError(f"synthesis needs at least 2 normal windows (one to train on, one held out). Received: {len(normal)}")
    n_nt = max(1, int(round(test_size * len(normal))))
    out = {"normal_test": np.sort(normal[:n_nt]), "normal_train": np.sort(normal[n_nt:])}
    if anomalies is None:
        k = len(anom) - (max(1, int(round(0.3 * len(anom)))) if len(anom) >= 2 else 0)
    else:
        if isinstance(anomalies, bool) or not isinstance(anomalies, (int, np.integer)) or anomalies < 0:
            raise ParameterError(f"`anomalies` must be a non-negative integer. Received: anomalies={anomalies!r}")
        if anomalies > len(anom):
            raise DataError(
                f"`anomalies`={anomalies} real anomalies requested but the data holds only {len(anom)}"
            )
        k = int(anomalies)
    out["anomaly_train"], out["anomaly_test"] = np.sort(anom[:k]), np.sort(anom[k:])
    return out


def _as_dataset(dataset):
    from edgesynth.data.dataset import Dataset

    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, (str, Path)):
        from edgesynth.data import load

        return load(dataset)
    raise ParameterError(f"`dataset` must be an edgesynth Dataset or a path. Received: {type(dataset).__name__}")


def run_synth(
    dataset: Any,
    *,
    method: str,
    n: int = 200,
    anomalies: int | None = None,
    seed: int | None = 0,
    out_dir: str | Path,
    epochs: int | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Synthesize anomalies from a dataset and write a ``synth`` artifact with a quality report.

    Parameters
    ----------
    dataset : Dataset or path
        Labelled windows (``y`` None = all normal).
    method : {"inject", "vae", "gan", "auto"}
    n : int
        Number of synthetic anomalies.
    anomalies : int, optional
        Use only this many real anomalies for training (``--anomalies K``); the others are held
        out to measure quality. ``None``: 70% train, 30% held out.
    seed : int or None
    out_dir : path
        Artifact directory, written atomically (built in a hidden sibling, renamed at the end; on
        any error nothing is written and an older artifact there is kept).
    epochs : int, optional
    **kw
        Passed to :func:`synthesize` (generator hyper-parameters).

    Returns
    -------
    dict
        ``out_dir``, ``method``, ``n``, ``discriminative_score``, ``mmd``, ``tstr_auc`` (``None``
        when no real anomaly was held out), ``memorisation_ratio``, ``near_copy_fraction``.

    Files
    -----
    ``samples.npz`` (``X`` float32 synthetic windows, ``kinds`` str, ``y`` ones), ``generator/``
    (VAE/GAN: a ``generator`` artifact loadable with ``from_dir``; inject: ``generator.json`` with
    the parameters), ``quality.json``, ``quality.md``, ``figures/*.png``, ``manifest.json``
    (``synth``: method, n, seed, split counts, info).
    """
    from edgesynth.artifact import ArtifactWriter, to_json, write_manifest
    from edgesynth.synth.quality import memorisation, quality_report, write_quality

    if method not in METHODS + ("auto",):
        raise ParameterError(f"`method` must be one of {METHODS + ('auto',)}. Received: method={method!r}")
    n = check_positive_int(n, "n")
    ds = _as_dataset(dataset)
    check_array(ds.X, "dataset.X", ndim=3)
    sp = split_for_synth(ds, anomalies=anomalies, seed=seed)
    y = np.zeros(ds.n_windows, np.int8) if ds.y is None else ds.y
    tr = np.sort(np.r_[sp["normal_train"], sp["anomaly_train"]])
    res = synthesize(ds.X[tr], y[tr], method=method, n=n, sr=ds.sr, seed=seed,
                     labels=None if ds.labels is None else ds.labels[tr], epochs=epochs, **kw)

    X_real = ds.X[sp["anomaly_test"]]
    X_train = ds.X[tr]
    if len(X_real) >= 4:
        report = quality_report(
            X_real, res.X, X_train=X_train, X_normal=ds.X[sp["normal_train"]],
            X_normal_test=ds.X[sp["normal_test"]],
            X_anomaly_train=ds.X[sp["anomaly_train"]] if len(sp["anomaly_train"]) else None,
            sr=ds.sr, seed=seed, references=True,
        )
        reference = "held-out real anomalies"
    else:
        report = {"n_real": int(len(X_real)), "n_synth": int(len(res.X)), "discriminative_score": None,
                  "discriminative_score_rf": None, "mmd": None, "mmd_p_value": None, "tstr": None,
                  "tstr_auc": None, "marginal": None, "spectral": None, "references": None,
                  "memorisation": memorisation(res.X, X_train) if len(X_train) >= 2 else None}
        reference = "held-out real normal windows (fewer than 4 real anomalies held out)"
    report["reference"] = reference
    report["split"] = {k: int(len(v)) for k, v in sp.items()}
    report["method"] = method

    with ArtifactWriter(out_dir, kind="synth") as w:
        with open(w.file("samples.npz"), "wb") as fh:
            np.savez(fh, X=res.X, kinds=res.kinds.astype(str), y=np.ones(len(res.X), np.int8))
        if res.generator is not None:
            gdir = w.file("generator/generator.json").parent
            res.generator.write_into(gdir)
            from edgesynth.artifact import new_manifest

            gm = new_manifest(res.generator.kind)
            gm["generator"] = {"class": type(res.generator).__name__}
            write_manifest(gdir, gm)
        else:
            w.write_text("generator/generator.json", to_json({"class": None, "method": method, "info": res.info}))
        figure_real = X_real if len(X_real) >= 2 else ds.X[sp["normal_test"]]
        write_quality(w.tmp, report, figure_real, res.X, sr=ds.sr)
        w.manifest["data"] = ds.describe()
        w.manifest["synth"] = {"method": method, "n": n, "anomalies": anomalies, "seed": seed,
                               "split": report["split"], "info": res.info}
    mem = report.get("memorisation") or {}
    return {
        "out_dir": str(out_dir),
        "method": method,
        "n": n,
        "discriminative_score": report.get("discriminative_score"),
        "mmd": report.get("mmd"),
        "tstr_auc": report.get("tstr_auc"),
        "memorisation_ratio": mem.get("ratio"),
        "near_copy_fraction": mem.get("near_copy_fraction"),
    }


__all__ = ["SynthResult", "synthesize", "choose_strategy", "auto_kinds", "split_for_synth", "run_synth", "METHODS"]
