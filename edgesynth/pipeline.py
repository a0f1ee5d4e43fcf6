"""The end-to-end jobs behind ``edgesynth train``, ``evaluate``, ``export`` and ``demo``.

This module sits at the top of the one-way chain
``load -> features -> synthesize -> train -> quantize -> export / bench / stream``: it calls every
stage, and no stage imports it.

What :func:`train` does, in order:

1. split normal windows into train / test by recording (``groups``), so windows of one recording
   never leak; keep at most ``anomalies`` (K) labelled anomalies for training, the rest for the test;
2. extract features and fit the normalizer on normal training data only;
3. synthesize anomalies (``synth``) from the normal windows and the K real ones;
4. train the autoencoder detector (reconstruction loss, or the ABC loss with anomalies);
5. quantize to int8 (PTQ / QAT / best of both on validation AUC);
6. check that LiteRT and the TFLM interpreter agree on the int8 outputs (up to tie rounding),
   find the smallest TFLM arena;
7. calibrate the threshold on validation data *in the int8 model's score units*;
8. evaluate float and int8 on held-out data, draw figures, and write the artifact atomically.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgesynth.errors import DataError, ParameterError

DETECTOR_KIND = "detector"
#: Tolerated disagreement between LiteRT and TFLM int8 outputs (rounding of ties, see train()).
MAX_RUNTIME_MISMATCH_FRACTION = 0.01
MAX_RUNTIME_STEP = 8
#: Windows scored per batch by :func:`evaluate`.
EVAL_BATCH = 8192


@dataclass
class TrainConfig:
    """Everything :func:`train` needs besides the data. Recorded in the manifest.

    Parameters
    ----------
    features : {"raw", "logmel", "spectrum"} or None
        Feature pipeline; ``None`` picks ``logmel`` for audio folders, ``raw`` for windows of at
        most :data:`RAW_MAX_VALUES` values and ``spectrum`` for longer sensor windows.
    feature_params : dict
        Extra :class:`~edgesynth.data.features.FeaturePipeline` parameters.
    synth : {"none", "inject", "vae", "gan", "auto"}
        Synthetic anomalies to train with; ``auto`` picks from what the data offers.
    anomalies : int or None
        Use at most this many labelled anomalies for training (``0`` = none, ``None`` = 80 %).
    n_synth : int or None
        Number of synthetic anomalies (default: as many as normal training windows, 64..2000).
    epochs : int or None
        Detector training epochs (early stopping still applies); ``None`` = detector default.
    inject_domain : {"auto", "generic", "vibration", "ecg"}
        Injection kinds (:func:`edgesynth.synth.inject.default_kinds`); ``auto`` takes the
        simulator's family for simulated data and ``generic`` otherwise.
    max_windows : int
        At most this many normal training windows (validation: a quarter, test: half, held-out
        anomalies: half), drawn at random after the split by recording. Features are computed
        only for the windows used, in batches, so memory is bounded by this number and not by
        the corpus (a disk-backed WAV corpus is read through its mapping).
    synth_gate : float or None
        Drop synthetic anomalies closer to a normal training vector than this quantile of the
        normals' nearest-neighbour distances (they would teach the ABC loss to reject normal
        data); ``None`` keeps all.
    """

    features: str | None = None
    feature_params: dict = field(default_factory=dict)
    synth: str = "auto"
    anomalies: int | None = None
    n_synth: int | None = None
    epochs: int | None = None
    seed: int = 0
    architecture: str = "dense"
    widths: tuple | None = None
    bottleneck: int | None = None
    quantization: str = "best"
    threshold: str = "fpr"
    target_fpr: float = 0.01
    test_fraction: float = 0.2
    val_fraction: float = 0.15
    synth_epochs: int | None = None
    synth_gate: float | None = 0.9
    inject_domain: str = "auto"
    max_windows: int = 200_000
    qat_epochs: int = 3

    def validate(self) -> None:
        if self.synth not in ("none", "inject", "vae", "gan", "auto"):
            raise ParameterError(f"`synth` must be one of none|inject|vae|gan|auto. Received: synth={self.synth!r}")
        if self.anomalies is not None and self.anomalies < 0:
            raise ParameterError(f"`anomalies` must be >= 0. Received: anomalies={self.anomalies}")
        if self.inject_domain not in ("auto", "generic", "vibration", "ecg"):
            raise ParameterError(
                f"`inject_domain` must be one of auto|generic|vibration|ecg. Received: inject_domain={self.inject_domain!r}")
        if not isinstance(self.max_windows, (int, np.integer)) or self.max_windows < 8:
            raise ParameterError(f"`max_windows` must be an integer >= 8. Received: max_windows={self.max_windows!r}")
        if self.epochs is not None and self.epochs <= 0:
            raise ParameterError(f"`epochs` must be a positive integer. Received: epochs={self.epochs}")
        if not 0.0 < self.target_fpr < 1.0:
            raise ParameterError(f"`target_fpr` must be in (0, 1). Received: target_fpr={self.target_fpr}")


@dataclass
class TrainResult:
    """What :func:`train` produced: the artifact path and its metrics."""

    out_dir: Path
    metrics: dict
    manifest: dict
    seconds: float

    def summary(self) -> str:
        f, q = self.metrics["test"]["float"], self.metrics["test"]["int8"]
        qz = self.manifest["quantization"]
        rows = [
            ("AUC float / int8", f"{f['auc']:.4f} / {q['auc']:.4f}"),
            ("F1 int8 @ threshold", f"{q['f1']:.3f}"),
            ("model bytes (int8 .tflite)", f"{qz['tflite_bytes']:,}"),
            ("TFLM arena bytes", f"{qz['arena_bytes']:,}"),
            ("quantization", qz["method"]),
            ("test set", f"{q['n_normal']} normal / {q['n_anomaly']} anomalous ({self.metrics['test']['anomaly_source']})"),
            ("artifact", str(self.out_dir)),
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


# --------------------------------------------------------------------------- helpers
def _log(verbose: bool, msg: str) -> None:
    if verbose:
        print(f"[edgesynth] {msg}", flush=True)


def _split_groups(groups: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (keep, held_out) putting whole groups on one side."""
    uniq = np.unique(groups)
    n_out = int(round(len(uniq) * fraction))
    if len(uniq) >= 2:
        n_out = min(max(n_out, 1), len(uniq) - 1)
    else:
        n_out = 0
    out_groups = rng.choice(uniq, size=n_out, replace=False) if n_out else np.array([], dtype=groups.dtype)
    held = np.isin(groups, out_groups)
    return ~held, held


#: Windows with at most this many values (window_length * n_channels) are fed raw to the dense
#: autoencoder (beats, short sensor snippets); longer ones get a spectrum so the model stays in
#: the tens of kilobytes a microcontroller has.
RAW_MAX_VALUES = 512


def _default_features(ds) -> str:
    """``logmel`` for audio (WAV folders), ``raw`` for short windows, ``spectrum`` for long sensor windows."""
    if ds.meta.get("format") == "wav":
        return "logmel"
    return "raw" if ds.window_length * ds.n_channels <= RAW_MAX_VALUES else "spectrum"


def _normal_gate(Z_synth: np.ndarray, Z_normal: np.ndarray, quantile: float):
    """Drop synthetic anomalies that sit inside the normal cloud (label noise for the ABC loss).

    A synthetic sample is kept when its distance to the nearest normal training vector exceeds
    the ``quantile`` of the normals' own leave-one-out nearest-neighbour distances. Returns the
    boolean mask and a summary for the manifest.
    """
    from edgesynth.synth.quality import nn_distances

    ref = np.asarray(Z_normal[:2000], np.float64)
    radius = float(np.quantile(nn_distances(ref, ref, exclude_self=True), quantile))
    dist = nn_distances(np.asarray(Z_synth, np.float64), np.asarray(Z_normal, np.float64))
    keep = dist > radius
    if keep.sum() < max(1, len(keep) // 10):  # never gate away (almost) everything: keep the farthest 10 %
        keep = dist >= np.quantile(dist, 0.9)
    return keep, {"quantile": quantile, "radius": radius, "n_in": int(len(keep)),
                  "n_dropped": int((~keep).sum())}


def _cap(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``idx`` itself, or ``n`` of its entries drawn at random (sorted)."""
    return idx if idx.size <= n else np.sort(rng.choice(idx, n, replace=False))


def _features_of(pipe, X, rows: np.ndarray, *, batch: int = 4096) -> np.ndarray:
    """Features of the windows ``X[rows]``, computed in batches (X may be a disk-backed memmap)."""
    if rows.size == X.shape[0]:
        return pipe.transform(X)
    parts = [pipe.transform(np.asarray(X[rows[i:i + batch]])) for i in range(0, rows.size, batch)]
    return np.concatenate(parts)


def _inject_domain(cfg: TrainConfig, ds) -> str:
    """The injection kinds' family: as configured, else the simulator's, else ``generic``."""
    if cfg.inject_domain != "auto":
        return cfg.inject_domain
    fam = ds.meta.get("simulator")
    return fam if fam in ("vibration", "ecg") else "generic"


def _synth_methods(cfg: TrainConfig, n_real: int, domain: str) -> list[str]:
    """Synthesis methods to run. ``auto`` follows :func:`~edgesynth.synth.generate.choose_strategy`,
    except that with real anomalies *generic* injection is left out: guessed anomaly shapes lost to
    the real ones on ECG5000 (K=5: int8 AUC 0.9909 with injection vs 0.9953 without, 5 seeds),
    while a model of the real anomalies (conditional VAE) gained. Even kinds validated against the
    real anomalies (:func:`~edgesynth.synth.generate.auto_kinds`) cost the autoencoder there (K=5 VAE + validated
    injection 0.9957 ± 0.0007 vs VAE alone 0.9965 ± 0.0006), so ``auto`` does not inject them;
    ``synth="inject"`` does (0.9922 ± 0.0024 vs 0.9909 ± 0.0032 with the generic kinds). Physical
    injection of a known family (``inject_domain`` vibration / ecg, or simulated data) stays in."""
    if cfg.synth == "none":
        return []
    if cfg.synth != "auto":
        return [cfg.synth]
    from edgesynth.synth.generate import choose_strategy

    methods = list(choose_strategy(np.ones(n_real, dtype=np.int8)))
    if n_real and domain == "generic":
        methods = [m for m in methods if m != "inject"]
    return methods


# --------------------------------------------------------------------------- train
def train(dataset, out_dir, config: TrainConfig | None = None, *, verbose: bool = True) -> TrainResult:
    """Train, quantize, verify and evaluate a detector on ``dataset``; write the artifact ``out_dir``.

    Parameters
    ----------
    dataset : edgesynth.data.Dataset
        Labelled (or unlabelled = all normal) windows.
    out_dir : path-like
        Artifact directory (replaced atomically; nothing is written on error).
    config : TrainConfig
    verbose : bool
        Stage messages and Keras progress.

    Returns
    -------
    TrainResult
    """
    from edgesynth.artifact import ArtifactWriter, atomic_path
    from edgesynth.data.features import FeaturePipeline, Normalizer
    from edgesynth.detect.detector import Detector
    from edgesynth.detect.metrics import evaluate_scores
    from edgesynth.detect.models import model_stats, reconstruction_score
    from edgesynth.detect import report as rep
    from edgesynth.detect.thresholds import MIN_EXCEEDANCES, calibrate_threshold
    from edgesynth.deploy.quantize import quantize
    from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner, find_min_arena, recommended_arena

    t0 = time.perf_counter()
    cfg = config or TrainConfig()
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    ds = dataset
    y = ds.y if ds.y is not None else np.zeros(ds.n_windows, dtype=np.int8)
    normal_idx = np.flatnonzero(y == 0)
    anom_idx = np.flatnonzero(y == 1)
    if normal_idx.size < 4:
        raise DataError(
            f"training needs normal windows: {ds.source!r} has {normal_idx.size} normal window(s), at least 4 needed"
        )

    # 1. splits by recording -------------------------------------------------------------
    keep, held = _split_groups(ds.groups[normal_idx], cfg.test_fraction, rng)
    normal_train, normal_test = normal_idx[keep], normal_idx[held]
    if normal_test.size == 0:  # one recording only: fall back to a window split (stated in the report)
        perm = rng.permutation(normal_idx)
        n_test = max(1, int(round(len(perm) * cfg.test_fraction)))
        normal_test, normal_train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    fit_mask, val_mask = _split_groups(ds.groups[normal_train], cfg.val_fraction, rng)
    normal_fit, normal_val = normal_train[fit_mask], normal_train[val_mask]
    if normal_val.size == 0:
        perm = rng.permutation(normal_train)
        n_val = max(1, int(round(len(perm) * cfg.val_fraction)))
        normal_val, normal_fit = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    if cfg.anomalies is None:
        k = int(round(anom_idx.size * (1 - cfg.test_fraction)))
    else:
        k = min(cfg.anomalies, anom_idx.size)
    perm = rng.permutation(anom_idx)
    anom_train, anom_test = np.sort(perm[:k]), np.sort(perm[k:])
    n_before = {"normal_fit": int(normal_fit.size), "normal_val": int(normal_val.size),
                "normal_test": int(normal_test.size), "anom_train": int(anom_train.size), "anom_test": int(anom_test.size)}
    cap = cfg.max_windows
    normal_fit, anom_train = _cap(normal_fit, cap, rng), _cap(anom_train, cap, rng)
    normal_val = _cap(normal_val, max(cap // 4, 1), rng)
    normal_test, anom_test = _cap(normal_test, max(cap // 2, 1), rng), _cap(anom_test, max(cap // 2, 1), rng)
    n_after = {"normal_fit": int(normal_fit.size), "normal_val": int(normal_val.size),
               "normal_test": int(normal_test.size), "anom_train": int(anom_train.size), "anom_test": int(anom_test.size)}
    capped = {k: f"{n_before[k]} -> {n_after[k]}" for k in n_after if n_after[k] != n_before[k]}
    _log(verbose, f"data {ds.source}: {normal_fit.size} normal train, {normal_val.size} normal val, "
         f"{normal_test.size} normal test, {anom_train.size} real anomalies for training, {anom_test.size} held out"
         + (f" (capped at max_windows={cap} from {capped})" if capped else ""))
    # from here on, index arrays are positions in `used` (the windows whose features are computed)
    used = np.unique(np.concatenate([normal_fit, normal_val, normal_test, anom_train, anom_test]))
    pos = lambda idx: np.searchsorted(used, idx)  # noqa: E731
    normal_fit, normal_val, normal_test = pos(normal_fit), pos(normal_val), pos(normal_test)
    anom_train, anom_test = pos(anom_train), pos(anom_test)
    anom_idx = np.sort(np.concatenate([anom_train, anom_test]))

    # 2. features + normalization (normal training data only) ----------------------------
    kind = cfg.features or _default_features(ds)
    pipe = FeaturePipeline(kind=kind, sr=ds.sr, **cfg.feature_params)
    F_all = _features_of(pipe, ds.X, used)
    norm = Normalizer().fit(F_all[normal_fit])
    Z_all = norm.transform(F_all)
    del F_all  # only the normalized features are used from here on
    d = Z_all.shape[1]
    _log(verbose, f"features: {kind}, {d} values per window")

    # 3. synthesis -------------------------------------------------------------------------
    domain = _inject_domain(cfg, ds)
    methods = _synth_methods(cfg, anom_train.size, domain)
    n_synth_total = cfg.n_synth if cfg.n_synth is not None else int(np.clip(normal_fit.size, 64, 2000))
    synth_Z, synth_X, synth_kinds, synth_info = [], [], [], []
    inject_kinds = domain
    if "inject" in methods and anom_train.size and domain == "generic":
        # real anomalies and no known family: inject the kinds they validate (none: a clear error)
        def to_features(X):
            return norm.transform(pipe.transform(X))

        from edgesynth.synth.generate import auto_kinds

        # at most 400 normal windows are read (the corpus may be disk-backed); auto_kinds caps there too
        chosen, sel = auto_kinds(np.asarray(ds.X[used[normal_fit]]) if normal_fit.size <= 400 else
                                 np.asarray(ds.X[used[np.sort(rng.choice(normal_fit, 400, replace=False))]]),
                                 np.asarray(ds.X[used[anom_train]]), sr=ds.sr, seed=cfg.seed,
                                 transform=to_features)
        if chosen is None:  # too few windows to validate: the generic kinds, said so
            sel["used"] = "generic defaults (not validated: too few windows)"
        elif not chosen:
            raise DataError(
                "--synth inject: no injection kind resembles the real training anomalies (trained on any single "
                f"kind, a classifier ranks them no better than chance: {sel['kind_scores']}); use --synth vae, "
                "or name the family with --inject-domain"
            )
        else:
            inject_kinds = chosen
            sel["used"] = ",".join(chosen)
        _log(verbose, f"injection kinds for the {anom_train.size} real anomalies: {sel['used']}")
        synth_info.append({"method": "inject-kinds", **sel})
    if methods:
        from edgesynth.synth.generate import synthesize

        per = [n_synth_total // len(methods) + (1 if i < n_synth_total % len(methods) else 0) for i in range(len(methods))]
        for m, n_m in zip(methods, per):
            _log(verbose, f"synthesizing {n_m} anomalies with {m}")
            if m == "inject":
                # injection needs a few sources per sample, not the whole corpus (which may be disk-backed)
                src = normal_fit if normal_fit.size <= 4 * n_m else np.sort(rng.choice(normal_fit, 4 * n_m, replace=False))
                res = synthesize(ds.X[used[src]], np.zeros(src.size, np.int8), method="inject", n=n_m,
                                 sr=ds.sr, seed=cfg.seed, kinds=inject_kinds)
                synth_X.append(res.X)
                synth_Z.append(norm.transform(pipe.transform(res.X)))
            else:  # generators learn in normalized feature space
                Zg = np.concatenate([Z_all[normal_fit], Z_all[anom_train]])
                yg = np.concatenate([np.zeros(normal_fit.size, np.int8), np.ones(anom_train.size, np.int8)])
                kw = {"epochs": cfg.synth_epochs} if cfg.synth_epochs else {}
                res = synthesize(Zg, yg, method=m, n=n_m, seed=cfg.seed, **kw)
                synth_Z.append(np.asarray(res.X, np.float32).reshape(n_m, d))
            synth_kinds.append(np.asarray(res.kinds).astype(str))
            synth_info.append({"method": m, "n": n_m, **{k: v for k, v in (res.info or {}).items()
                                                           if isinstance(v, (int, float, str, bool))}})
    Z_synth = np.concatenate(synth_Z) if synth_Z else np.zeros((0, d), np.float32)
    kinds_synth = np.concatenate(synth_kinds) if synth_kinds else np.zeros(0, str)
    gate = {"quantile": cfg.synth_gate, "n_in": int(len(Z_synth)), "n_dropped": 0}
    if len(Z_synth) and cfg.synth_gate is not None:
        keep_s, gate = _normal_gate(Z_synth, Z_all[normal_fit], cfg.synth_gate)
        Z_synth, kinds_synth = Z_synth[keep_s], kinds_synth[keep_s]
        _log(verbose, f"synthetic anomalies inside the normal cloud dropped: {gate['n_dropped']} of {gate['n_in']}")
    # hold out a part of the synthetic anomalies for validation (threshold / quantization choice)
    sperm = rng.permutation(len(Z_synth))
    n_sval = int(round(len(Z_synth) * 0.2))
    Z_synth_val, Z_synth_fit = Z_synth[sperm[:n_sval]], Z_synth[sperm[n_sval:]]

    # 4. detector ----------------------------------------------------------------------------
    Z_anom_fit = np.concatenate([Z_all[anom_train], Z_synth_fit])
    det_kw = dict(architecture=cfg.architecture, seed=cfg.seed, verbose=1 if verbose else 0,
                  threshold=cfg.threshold, target_fpr=cfg.target_fpr)
    if cfg.epochs is not None:
        det_kw["epochs"] = cfg.epochs
    if cfg.widths is not None:
        det_kw["widths" if cfg.architecture == "dense" else "filters"] = tuple(cfg.widths)
    if cfg.bottleneck is not None:
        det_kw["bottleneck"] = cfg.bottleneck
    if len(Z_anom_fit):
        det_kw["loss"] = "abc"
    if cfg.architecture == "conv":
        if kind != "raw":
            raise ParameterError("`architecture='conv'` needs raw features (windows); use --features raw")
        det_kw["input_shape"] = (ds.window_length, ds.n_channels)
    _log(verbose, f"training {cfg.architecture} autoencoder ({det_kw.get('loss', 'mse')} loss, "
         f"{len(Z_anom_fit)} anomalies: {anom_train.size} real + {len(Z_synth_fit)} synthetic)")
    det = Detector(**det_kw)
    pre = model_stats(det.build(d))
    _log(verbose, f"model before training: {pre['params']:,} parameters, {pre['macs']:,} MACs per window, "
         f"~{pre['int8_bytes_estimate']:,} B of int8 weights")
    det.fit(Z_all[normal_fit], X_anomaly=Z_anom_fit if len(Z_anom_fit) else None)
    stats = model_stats(det.model_)

    # validation set: held-out normals + anomalies (real training ones and held-out synthetic ones)
    Z_val_anom = np.concatenate([Z_all[anom_train], Z_synth_val])
    Z_val = np.concatenate([Z_all[normal_val], Z_val_anom])
    y_val = np.concatenate([np.zeros(normal_val.size, np.int8), np.ones(len(Z_val_anom), np.int8)])

    # 5. quantization ------------------------------------------------------------------------
    _log(verbose, f"quantizing to int8 ({cfg.quantization})")
    qm = quantize(det.model_, Z_all[normal_fit], method=cfg.quantization,
                  X_val=Z_val, y_val=y_val if y_val.any() else None, qat_epochs=cfg.qat_epochs, seed=cfg.seed)

    # 6. runtimes: LiteRT vs TFLM agreement, smallest arena ----------------------------------
    arena_min = find_min_arena(qm.tflite)
    arena = recommended_arena(arena_min)
    tflm = TFLMRunner(qm.tflite, arena_size=arena)
    litert = LiteRTRunner(qm.tflite)
    test_idx = np.concatenate([normal_test, anom_test])
    Z_test_real = Z_all[test_idx]
    Xq = tflm.quantize_input(Z_test_real)
    out_tflm, out_lite = tflm.invoke_int8(Xq), litert.invoke_int8(Xq)
    diff = np.abs(out_tflm.astype(np.int16) - out_lite.astype(np.int16))
    n_mismatch, max_step = int(np.count_nonzero(diff)), int(diff.max(initial=0))
    # LiteRT's optimized FULLY_CONNECTED / TRANSPOSE_CONV round exact ties differently from TFLM's
    # reference kernels: one step on ~0.1 % of a layer's outputs, which the next layers can carry
    # to a few steps at the output. Scores always come from TFLM (what the device runs); a larger or
    # more frequent disagreement means a broken model or runtime, and nothing is written.
    if n_mismatch > MAX_RUNTIME_MISMATCH_FRACTION * diff.size or max_step > MAX_RUNTIME_STEP:
        from edgesynth.errors import ModelError

        raise ModelError(
            f"TFLM and LiteRT disagree on {n_mismatch} of {diff.size} int8 outputs (up to {max_step} steps) on "
            f"the test set; expected at most {MAX_RUNTIME_MISMATCH_FRACTION:.0%} of outputs and "
            f"{MAX_RUNTIME_STEP} steps; refusing to write"
        )
    _log(verbose, f"TFLM vs LiteRT on {len(Xq)} test windows: {n_mismatch} of {diff.size} int8 outputs differ "
         f"(max {max_step} step); smallest TFLM arena {arena_min} B")

    def int8_scores(Z):
        return reconstruction_score(Z, tflm.predict(Z))

    # 7. thresholds (float and int8 units) ------------------------------------------------------
    def calibrate(scores_val):
        if cfg.threshold == "f1" and not y_val.any():
            raise DataError("threshold='f1' needs anomalies (real or synthetic) in validation")
        return float(calibrate_threshold(scores_val, y_val, method=cfg.threshold, target_fpr=cfg.target_fpr))

    s_val_float = det.score_samples(Z_val)
    s_val_int8 = int8_scores(Z_val)
    thr_float, thr_int8 = calibrate(s_val_float), calibrate(s_val_int8)
    det.threshold_ = thr_float

    # 8. evaluation on held-out data -------------------------------------------------------------
    if anom_test.size:
        Z_te = Z_test_real
        y_te = np.concatenate([np.zeros(normal_test.size, np.int8), np.ones(anom_test.size, np.int8)])
        anomaly_source = "real held-out anomalies"
    elif len(Z_synth_val):
        Z_te = np.concatenate([Z_all[normal_test], Z_synth_val])
        y_te = np.concatenate([np.zeros(normal_test.size, np.int8), np.ones(len(Z_synth_val), np.int8)])
        anomaly_source = "synthetic anomalies (no real ones held out)"
    else:
        Z_te, y_te, anomaly_source = None, None, "none"
    s_te_float = det.score_samples(Z_te) if Z_te is not None else None
    s_te_int8 = int8_scores(Z_te) if Z_te is not None else None
    metrics = {
        "validation": {
            "float": evaluate_scores(y_val, s_val_float, thr_float) if y_val.any() else None,
            "int8": evaluate_scores(y_val, s_val_int8, thr_int8) if y_val.any() else None,
        },
        "quantization_auc": qm.aucs,
        "tflm_vs_litert": {"n_windows": int(len(Xq)), "n_outputs": int(diff.size), "mismatches": n_mismatch,
                           "max_step": max_step},
        "model": stats,
    }
    if Z_te is not None:
        metrics["test"] = {
            "float": evaluate_scores(y_te, s_te_float, thr_float),
            "int8": evaluate_scores(y_te, s_te_int8, thr_int8),
            "anomaly_source": anomaly_source,
        }
        metrics["test"]["max_abs_score_diff_int8_vs_float"] = float(np.max(np.abs(s_te_int8 - s_te_float)))
    else:
        metrics["test"] = None

    # 9. artifact ------------------------------------------------------------------------------
    manifest = {
        "data": {**ds.describe(), "max_windows": int(cfg.max_windows), "capped": capped,
                 "n_train_normal": int(normal_fit.size), "n_val_normal": int(normal_val.size),
                 "n_test_normal": int(normal_test.size), "n_train_anomalies": int(anom_train.size),
                 "n_test_anomalies": int(anom_test.size)},
        "window": {"window_length": ds.window_length, "hop_length": int(ds.meta.get("hop_length") or ds.window_length),
                   "n_channels": ds.n_channels, "channel_names": list(ds.channel_names), "sr": ds.sr},
        "features": pipe.to_dict(),
        "normalization": norm.to_dict(),
        "model": {"architecture": cfg.architecture, "input_dim": int(d), "loss": det.loss_, **stats},
        "detector_params": det.get_params(),
        "threshold": {"value": thr_int8, "float_value": thr_float, "method": cfg.threshold,
                      "target_fpr": cfg.target_fpr,
                      "estimator": ("gamma fit" if cfg.threshold == "fpr" and normal_val.size * cfg.target_fpr < MIN_EXCEEDANCES
                                    else "empirical"),
                      "n_calibration_normal": int(normal_val.size),
                      "units": "mean squared error between normalized features and the int8 model's dequantized reconstruction"},
        "quantization": {**qm.to_manifest(), "arena_bytes": int(arena), "arena_min_bytes": int(arena_min),
                         "arena_margin": "+10 %, rounded up to 16 B (edgesynth.deploy.runtime.recommended_arena)", "tflite_bytes": len(qm.tflite)},
        "synth": {"methods": methods, "inject_domain": domain, "n": int(len(Z_synth)), "details": synth_info,
                  "gate": gate, "kinds": {str(k): int(c) for k, c in zip(*np.unique(kinds_synth, return_counts=True))}},
        "train_config": asdict(cfg),
    }
    with ArtifactWriter(out_dir, kind=DETECTOR_KIND, manifest=manifest) as w:
        with atomic_path(w.file("detector.keras")) as tmp:
            det.model_.save(tmp)
        w.write_bytes("detector_int8.tflite", qm.tflite)
        w.write_json("metrics.json", metrics)
        figs = {}
        if Z_te is not None:
            figs["ROC curve"] = "figures/roc.png"
            rep.plot_roc(y_te, {"float": s_te_float, "int8": s_te_int8}, w.file(figs["ROC curve"]))
            figs["Score histogram (int8)"] = "figures/scores_int8.png"
            rep.plot_score_hist(s_te_int8, y_te, thr_int8, w.file(figs["Score histogram (int8)"]))
        if synth_X or len(Z_synth):
            figs["Real vs synthetic anomalies"] = "figures/real_vs_synthetic.png"
            if synth_X and anom_idx.size:
                real, fake = ds.X[used[anom_idx[:16]]], np.concatenate(synth_X)[:16]
            else:
                real = Z_all[anom_idx[:16]] if anom_idx.size else Z_all[normal_fit[:16]]
                fake = Z_synth[:16]
            rep.plot_overlay(real, fake, w.file(figs["Real vs synthetic anomalies"]))
        w.write_text("report.md", rep.write_report(w.tmp, metrics, figs, title=f"edgesynth detector — {ds.source}"))
    seconds = time.perf_counter() - t0
    from edgesynth.artifact import read_manifest

    return TrainResult(out_dir=Path(out_dir), metrics=metrics, manifest=read_manifest(out_dir), seconds=seconds)


# --------------------------------------------------------------------------- evaluate
def evaluate(artifact_dir, dataset) -> dict:
    """Score ``dataset`` with the artifact's float and int8 models at the stored thresholds.

    Returns ``{"float": M, "int8": M}`` where ``M`` has auc, pauc, precision, recall, f1,
    threshold, n_normal, n_anomaly (anomaly = positive class).
    """
    from edgesynth.deploy.scorer import ArtifactScorer
    from edgesynth.detect.detector import Detector
    from edgesynth.detect.metrics import evaluate_scores

    if dataset.y is None:
        raise DataError(f"evaluation needs labels; {dataset.source!r} has none")
    scorer = ArtifactScorer.from_dir(artifact_dir)
    det = Detector.from_dir(artifact_dir)
    s_float, s_int8 = [], []
    for i in range(0, dataset.n_windows, EVAL_BATCH):  # batches: a disk-backed corpus never sits in RAM
        Z = scorer.features(np.asarray(dataset.X[i:i + EVAL_BATCH]))
        s_float.append(det.score_samples(Z))
        s_int8.append(scorer.score_features(Z))
    s_float, s_int8 = np.concatenate(s_float), np.concatenate(s_int8)
    thr = scorer.manifest["threshold"]
    return {
        "float": evaluate_scores(dataset.y, s_float, float(thr["float_value"])),
        "int8": evaluate_scores(dataset.y, s_int8, float(thr["value"])),
    }


# --------------------------------------------------------------------------- export
def export(artifact_dir, out=None, *, name: str = "edgesynth", target: str = "tflm") -> list[Path]:
    """Write firmware sources for ``artifact_dir``.

    With ``out=None`` the sources go to ``artifact_dir/firmware/<target>`` and the artifact's manifest
    is updated (atomically); otherwise to ``out``.
    """
    from edgesynth.artifact import read_manifest, update_artifact
    from edgesynth.validation import check_c_identifier

    check_c_identifier(name, "name")
    artifact_dir = Path(artifact_dir)
    manifest = read_manifest(artifact_dir, kind=DETECTOR_KIND)
    tflite = (artifact_dir / "detector_int8.tflite").read_bytes()
    if out is not None:
        return _emit_firmware(tflite, manifest, out, name=name, target=target)

    written: list[Path] = []

    def add(tmp_dir: Path, man: dict) -> None:
        fw = tmp_dir / "firmware" / target
        paths = _emit_firmware(tflite, manifest, fw, name=name, target=target)
        rel = [Path(p).relative_to(tmp_dir) for p in paths]
        written.extend(rel)
        man.setdefault("firmware", {})[target] = {"name": name, "files": [p.as_posix() for p in rel]}

    update_artifact(artifact_dir, add)
    return [artifact_dir / p for p in written]


def _emit_firmware(tflite: bytes, manifest: dict, out, *, name: str, target: str) -> list[Path]:
    from edgesynth.errors import ParameterError
    from firmware_export import FirmwareConfig, export_firmware

    config = FirmwareConfig.from_manifest(manifest)
    if target in ("tflm", "arduino"):
        return [Path(p) for p in export_firmware(tflite, config, out, name=name, target=target)]
    if target == "standalone-c":
        from firmware_export.standalone import emit_standalone

        return [Path(p) for p in emit_standalone(tflite, config, out, name=name, features=manifest.get("features"))]
    raise ParameterError(f"`target` must be tflm, arduino or standalone-c. Received: target={target!r}")


# --------------------------------------------------------------------------- demo
def run_demo(out_dir, *, quick: bool = False, seed: int = 0, verbose: bool = True) -> dict:
    """The whole chain on simulated vibration data; returns (and prints) the summary.

    simulate -> synthesize anomalies from a handful of labelled ones -> train -> int8 -> TFLM check
    -> export firmware -> benchmark -> report.
    """
    from edgesynth.bench import run_bench
    from edgesynth.data.simulate import simulate_vibration

    t0 = time.perf_counter()
    n = 240 if quick else 1200
    _log(verbose, f"simulating {n} windows of 3-axis vibration")
    ds = simulate_vibration(n, window_length=1024, sr=4000.0, anomaly_fraction=0.25, seed=seed)
    cfg = TrainConfig(
        features="spectrum",
        synth="auto",
        anomalies=5,
        epochs=15 if quick else 80,
        seed=seed,
        n_synth=128 if quick else 600,
        synth_epochs=10 if quick else 60,
        qat_epochs=1 if quick else 3,
        quantization="ptq" if quick else "best",
    )
    res = train(ds, out_dir, cfg, verbose=verbose)
    _log(verbose, "exporting firmware sources")
    export(out_dir, name="edgesynth_demo", target="tflm")
    _log(verbose, "benchmarking")
    bench = run_bench(out_dir, repeat=20 if quick else 200)
    from edgesynth.artifact import atomic_write_json

    atomic_write_json(Path(out_dir) / "bench.json", bench)
    f, q = res.metrics["test"]["float"], res.metrics["test"]["int8"]
    summary = {
        "auc_float": f["auc"],
        "auc_int8": q["auc"],
        "f1_int8": q["f1"],
        "tflite_bytes": res.manifest["quantization"]["tflite_bytes"],
        "arena_bytes": res.manifest["quantization"]["arena_bytes"],
        "tflm_latency_us": bench["latency_us"]["tflm_int8"]["median"],
        "wall_seconds": time.perf_counter() - t0,
    }
    atomic_write_json(Path(out_dir) / "summary.json", summary)
    if verbose:
        print()
        print("edgesynth demo — summary")
        rows = [
            ("AUC float / int8", f"{summary['auc_float']:.4f} / {summary['auc_int8']:.4f}"),
            ("F1 int8", f"{summary['f1_int8']:.3f}"),
            ("model bytes (int8)", f"{summary['tflite_bytes']:,}"),
            ("TFLM arena bytes", f"{summary['arena_bytes']:,}"),
            ("TFLM host latency", f"{summary['tflm_latency_us']:.1f} us (median)"),
            ("wall time", f"{summary['wall_seconds']:.1f} s"),
            ("artifact", str(out_dir)),
        ]
        for k, v in rows:
            print(f"  {k:<20} {v}")
    return summary
