"""Synthetic anomaly quality on ECG5000 with only K=10 real anomalies.

``python -m benchmarks.synthesis [--quick] [--seeds 3] [--k 10] [--n 1000]``

Protocol: the official ECG5000 TRAIN split (292 normal beats, class 1) plus only K=10 of its 208
anomalous beats (classes 2-5, drawn per seed) trains each generator; quality is measured against
the real held-out anomalies of TEST (1873 beats) with :func:`edgesynth.synth.quality.quality_report`
(TSTR tested on all of TEST). Generators (inject / VAE-tail / VAE / GAN) run side by side with naive
references in the same run: the K real anomalies copied, jittered + scaled copies, and a
Gaussian fit (Ledoit-Wolf covariance) on them; TRTR with all 208 real training anomalies is the
upper reference. Each row is the mean ± std over seeds. Writes
``benchmarks/results/synthesis.{json,md}``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._common import ecg5000, mean_std, md_table, write_results

ECG = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "ecg5000"


def load_ecg(folder: Path = ECG):
    Xtr, ctr, Xte, cte = ecg5000(folder)
    return Xtr[:, :, None], ctr, Xte[:, :, None], cte


def _gaussian(F: np.ndarray, n: int, rng: np.random.Generator, *, mean=None, cov=None) -> np.ndarray:
    """``n`` draws of a Gaussian fitted to the rows of ``F`` (Ledoit-Wolf covariance); ``mean`` or
    ``cov`` replace the fitted ones."""
    from sklearn.covariance import LedoitWolf

    lw = LedoitWolf().fit(F.astype(np.float64))
    mu = lw.location_ if mean is None else mean
    c = lw.covariance_ if cov is None else cov
    return rng.multivariate_normal(mu, c, size=n)


#: Reference rows that are given *more* than the generators: all 208 real training anomalies.
#: They measure the floor set by K=10, not a method anyone could use with K real anomalies.
ORACLES = ("oracle:gauss-208", "oracle:mean-K+cov-208", "oracle:mean-208+cov-K")

#: Rows made of two other rows' samples of the same seed, half each (the parts must run first).
COMPOSITES = {"gan+inject-auto": ("gan", "inject-auto")}


def oracle(name: str, A: np.ndarray, A_all: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Gaussians that borrow the mean and/or covariance of all real training anomalies ``A_all``."""
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(seed)
    FK, F_all = A.reshape(len(A), -1), A_all.reshape(len(A_all), -1)
    shape = (n,) + A.shape[1:]
    if name == "oracle:gauss-208":
        out = _gaussian(F_all, n, rng)
    elif name == "oracle:mean-K+cov-208":
        out = _gaussian(F_all, n, rng, mean=FK.mean(axis=0))
    elif name == "oracle:mean-208+cov-K":
        out = _gaussian(FK, n, rng, mean=LedoitWolf().fit(F_all).location_)
    else:
        raise ValueError(name)
    return out.reshape(shape).astype(np.float32)


def naive(name: str, A: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Reference generators from the K real anomalies ``A`` (K, L, C): the library's own
    :func:`edgesynth.synth.quality.naive_reference` (what ``edgesynth synth`` reports next to a
    generator)."""
    from edgesynth.synth.quality import naive_reference

    return naive_reference(name, A, n, seed=seed)


def k_sweep(Xtr, ctr, anom_te, normal_tr, normal_te, *, ks, seeds: int, n: int) -> dict[int, list[dict]]:
    """Discriminative score and TSTR of the Gaussian reference fitted on K real anomalies, for
    each K: how many real anomalies the mean and covariance estimate needs before the goals hold."""
    from edgesynth.synth.quality import discriminative_score, tstr

    out: dict[int, list[dict]] = {}
    pool = np.flatnonzero(ctr != 1)
    for k in ks:
        for s in range(seeds):
            rng = np.random.default_rng(1000 + s)
            A = Xtr[rng.choice(pool, min(k, len(pool)), replace=False)]
            S = naive("gaussian", A, n, s)
            out.setdefault(k, []).append({
                "seed": s,
                "disc_lr": discriminative_score(anom_te, S, seed=s),
                "disc_rf": discriminative_score(anom_te, S, classifier="forest", seed=s),
                "tstr_auc": tstr(normal_tr, S, normal_te, anom_te, seed=s)["tstr_auc"],
            })
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 seed, fewer epochs and samples (smoke run)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--k", type=int, default=10, help="real anomalies used for training")
    p.add_argument("--n", type=int, default=1000, help="synthetic anomalies per method")
    p.add_argument("--methods", default="copy,jitter+scale,gaussian,inject,inject-auto,vae-tail,vae,gan,auto,"
                   "gan+inject-auto," + ",".join(ORACLES))
    p.add_argument("--sweep", default="10,20,50,100,208",
                   help="K values for the Gaussian reference's K sweep (empty: skip)")
    args = p.parse_args(argv)

    from edgesynth._tf import tf
    from edgesynth.synth.generate import synthesize
    from edgesynth.synth.quality import quality_report, tstr

    # GAN training over hundreds of epochs amplifies last-bit differences of multithreaded CPU
    # kernels between runs; deterministic kernels make the table reproducible
    tf.config.experimental.enable_op_determinism()

    seeds = 1 if args.quick else args.seeds
    n = 300 if args.quick else args.n
    vae_epochs = 150 if args.quick else 300
    gan_kw = dict(max_epochs=60 if args.quick else 200, eval_every=5 if args.quick else 10,
                  patience=5, n_critic=3, learning_rate=1e-3, filters=(32, 16), critic_filters=(16, 32))
    methods = args.methods.split(",")

    Xtr, ctr, Xte, cte = load_ecg()
    normal_tr, anom_tr = Xtr[ctr == 1], Xtr[ctr != 1]
    normal_te, anom_te = Xte[cte == 1], Xte[cte != 1]
    ref = tstr(normal_tr, anom_tr, normal_te, anom_te, seed=0)
    trtr_all = ref["tstr_auc"]

    rows: dict[str, list[dict]] = {m: [] for m in methods}
    k_classes: list[dict[str, int]] = []
    test_classes = {str(c): int(v) for c, v in zip(*np.unique(cte[cte != 1], return_counts=True))}
    for s in range(seeds):
        rng = np.random.default_rng(1000 + s)
        k_idx = rng.choice(np.flatnonzero(ctr != 1), args.k, replace=False)
        A = Xtr[k_idx]
        k_classes.append({str(c): int(v) for c, v in zip(*np.unique(ctr[k_idx], return_counts=True))})
        X_train = np.concatenate([normal_tr, A])
        y_train = np.r_[np.zeros(len(normal_tr), np.int8), np.ones(len(A), np.int8)]
        cache: dict[str, np.ndarray] = {}
        for m in methods:
            t0 = time.perf_counter_ns()
            info = {}
            if m in COMPOSITES:
                a, b = COMPOSITES[m]
                if a not in cache or b not in cache:
                    raise SystemExit(f"{m} needs {a} and {b} earlier in --methods")
                S = np.concatenate([cache[a][: n - n // 2], cache[b][: n // 2]])
                info = {"kinds_selected": rows[b][-1].get("kinds_selected", "")}
            elif m in ("copy", "jitter+scale", "gaussian"):
                S = naive(m, A, n, s)
            elif m in ORACLES:
                S = oracle(m, A, anom_tr, n, s)
            elif m == "inject":
                S = synthesize(X_train, y_train, method="inject", n=n, seed=s, kinds="ecg").X
            elif m == "inject-auto":  # kinds validated against the K real anomalies (training data only)
                r = synthesize(X_train, y_train, method="inject", n=n, seed=s, kinds="auto")
                S, info = r.X, {"kinds_selected": r.info["kinds_selected"]}
            elif m == "auto":  # conditional VAE + validated injection, half each (synthesize / synth --method auto)
                r = synthesize(X_train, y_train, method="auto", n=n, seed=s, epochs=vae_epochs)
                S, info = r.X, {"kinds_selected": r.info.get("kinds_selected", ""), "methods": r.info["methods"]}
            elif m == "vae-tail":  # no real anomaly: VAE on the normal beats, latent-tail sampling
                S = synthesize(normal_tr, None, method="vae", n=n, seed=s, epochs=vae_epochs).X
            elif m == "vae":
                r = synthesize(X_train, y_train, method="vae", n=n, seed=s, epochs=vae_epochs)
                S = r.X
            elif m == "gan":
                r = synthesize(X_train, y_train, method="gan", n=n, seed=s, **gan_kw)
                S, info = r.X, {"best_epoch": r.info["best_epoch"], "epochs_run": r.info["epochs_run"]}
            else:
                raise SystemExit(f"unknown method {m!r}")
            fit_s = (time.perf_counter_ns() - t0) / 1e9
            cache[m] = S
            q = quality_report(anom_te, S, X_train=X_train, X_normal=normal_tr, X_normal_test=normal_te,
                               X_anomaly_train=A, seed=s, n_permutations=100)
            mem = q["memorisation"]
            rows[m].append({
                "seed": s, "fit_s": fit_s, **info,
                "disc_lr": q["discriminative_score"], "disc_rf": q["discriminative_score_rf"],
                "tstr_auc": q["tstr"]["tstr_auc"], "tstr_plus_real_auc": q["tstr"]["tstr_plus_real_auc"],
                "trtr_k_auc": q["tstr"]["trtr_auc"], "normal_only_auc": q["tstr"]["normal_only_auc"],
                "mmd": q["mmd"], "mmd_p": q["mmd_p_value"], "mem_ratio": mem["ratio"],
                "near_copy_fraction": mem["near_copy_fraction"], "min_nn": mem["min_synth_nn"],
                "near_copy_threshold": mem["near_copy_threshold"],
                "psd_db": q["spectral"][0]["psd_db"], "wasserstein": q["marginal"][0]["wasserstein"],
            })
            print(f"seed {s} {m:13s} disc {rows[m][-1]['disc_lr']:.3f}/{rows[m][-1]['disc_rf']:.3f} "
                  f"TSTR {rows[m][-1]['tstr_auc']:.4f} MMD {rows[m][-1]['mmd']:.3f} "
                  f"mem {rows[m][-1]['mem_ratio']:.2f} near {rows[m][-1]['near_copy_fraction']:.3f} ({fit_s:.0f}s)",
                  flush=True)

    def ms(m, key, fmt="{:.3f}"):
        a, b = mean_std(r[key] for r in rows[m])
        return f"{fmt.format(a)} ± {fmt.format(b)}"

    def mean(m, key):
        return mean_std(r[key] for r in rows[m])[0]

    gen_methods = [m for m in methods if m not in ORACLES]
    oracle_methods = [m for m in methods if m in ORACLES]
    keys = [("disc_lr", "{:.3f}"), ("disc_rf", "{:.3f}"), ("tstr_auc", "{:.4f}"), ("tstr_plus_real_auc", "{:.4f}"),
            ("mmd", "{:.3f}"), ("mmd_p", "{:.3f}"), ("mem_ratio", "{:.2f}"), ("near_copy_fraction", "{:.3f}"),
            ("psd_db", "{:.2f}"), ("fit_s", "{:.0f}")]
    headers = ["Method", "disc (LR)", "disc (RF)", "TSTR AUC", "TSTR+K real AUC", "MMD", "MMD p", "NN ratio",
               "near copies", "PSD dB", "time s"]
    table = md_table(headers, [[m] + [ms(m, k, f) for k, f in keys] for m in gen_methods])
    oracle_table = md_table(headers, [[m] + [ms(m, k, f) for k, f in keys] for m in oracle_methods]) \
        if oracle_methods else ""
    trtr_k = mean_std(r["trtr_k_auc"] for r in rows[methods[0]]) if methods else (float("nan"), 0)
    normal_only = rows[methods[0]][0]["normal_only_auc"] if methods else float("nan")
    goals = {}
    for m in gen_methods:
        goals[m] = {
            "disc_lr<=0.15": mean(m, "disc_lr") <= 0.15,
            "disc_rf<=0.15": mean(m, "disc_rf") <= 0.15,
            "tstr_auc>=0.995": mean(m, "tstr_auc") >= 0.995,
            "tstr+k>=trtr208": mean(m, "tstr_plus_real_auc") >= trtr_all,
            "no_near_copies": all(r["near_copy_fraction"] == 0 for r in rows[m]),
        }
    yes = {True: "yes", False: "no"}

    ks = [int(v) for v in args.sweep.split(",") if v.strip()]
    sweep = k_sweep(Xtr, ctr, anom_te, normal_tr, normal_te, ks=ks, seeds=seeds, n=n) if ks else {}
    sweep_table = md_table(
        ["K real anomalies", "disc (LR)", "disc (RF)", "TSTR AUC"],
        [[str(k)] + [f"{a:.3f} ± {b:.3f}" if key != "tstr_auc" else f"{a:.4f} ± {b:.4f}"
                     for key in ("disc_lr", "disc_rf", "tstr_auc")
                     for a, b in [mean_std(r[key] for r in v)]] for k, v in sweep.items()],
    ) if sweep else ""

    notes = []
    if gen_methods:
        best = min(gen_methods, key=lambda m: mean(m, "disc_lr"))
        notes.append(
            f"- Lowest discriminative score (LR) among the methods: **{best}** ({mean(best, 'disc_lr'):.3f}); the "
            f"random forest tells every method apart (>= {min(mean(m, 'disc_rf') for m in gen_methods):.2f}). "
            f"The K={args.k} beats per seed come from classes {k_classes}; the TEST anomalies are {test_classes}."
        )
    if "oracle:mean-K+cov-208" in rows and "oracle:mean-208+cov-K" in rows:
        notes.append(
            "- Where the discriminative score comes from (oracle rows, which borrow statistics of all 208 real "
            "training anomalies): a Gaussian with the *true* covariance but the mean of the K beats scores "
            f"{mean('oracle:mean-K+cov-208', 'disc_lr'):.3f} (LR); with the covariance of the K beats but the mean of "
            f"all 208, {mean('oracle:mean-208+cov-K', 'disc_lr'):.3f}. The linear discriminator finds the error of a "
            f"mean estimated from K={args.k} samples (about sigma/sqrt(K) per value, in 140 values), and every "
            "generator trained on K anomalies inherits it: nothing in the normal beats tells where the anomalies' "
            "mean lies."
        )
    if sweep:
        ok = [k for k, v in sweep.items() if mean_std(r["disc_lr"] for r in v)[0] <= 0.15]
        ok_t = [k for k, v in sweep.items() if mean_std(r["tstr_auc"] for r in v)[0] >= 0.995]
        notes.append(
            "- K sweep of the Gaussian reference (below): the LR discriminative score first reaches <= 0.15 at "
            f"K = {ok[0] if ok else 'none of ' + str(ks)}; TSTR >= 0.995 at K = {ok_t[0] if ok_t else 'none of ' + str(ks)}. "
            f"The random forest stays at >= {min(mean_std(r['disc_rf'] for r in v)[0] for v in sweep.values()):.2f} "
            "even at K = 208: it separates any Gaussian from real beats (shape, not moments), and it separates "
            "resampled sets that contain near-duplicates (a twin in its training split gives the answer away)."
        )
    if gen_methods:
        notes.append(
            f"- TSTR: TRTR with all 208 real training anomalies is {trtr_all:.4f} in this run (the issue's reference "
            f"0.995); the K={args.k} real anomalies alone give {trtr_k[0]:.4f}. The goal asks K real + synthetic "
            "anomalies to match 208 real ones with a fixed linear classifier; "
            + (f"the oracle Gaussian fitted on all 208 reaches {mean('oracle:gauss-208', 'tstr_auc'):.4f}."
               if "oracle:gauss-208" in rows else "")
        )
    mixed = [m for m in ("inject-auto", "auto", "gan+inject-auto") if m in rows]
    if mixed:
        best_t = max(gen_methods, key=lambda m: mean(m, "tstr_auc"))
        notes.append(
            "- Validated injection (kinds the K real anomalies select on TRAIN; per seed: "
            f"{[r.get('kinds_selected') for r in rows[mixed[0]]]}): "
            + ", ".join(f"{m} TSTR {mean(m, 'tstr_auc'):.4f} (+K real {mean(m, 'tstr_plus_real_auc'):.4f})" for m in mixed)
            + f". Highest TSTR here: **{best_t}** {mean(best_t, 'tstr_auc'):.4f} vs TRTR-208 {trtr_all:.4f}; the seed "
            f"spread of that row is {mean_std(r['tstr_auc'] for r in rows[best_t])[1]:.4f}."
        )
    for m in gen_methods:
        if m != "copy" and not goals[m]["no_near_copies"]:
            worst = max(r["near_copy_fraction"] for r in rows[m])
            notes.append(f"- {m} fails the memorisation goal: up to {worst:.2%} of its samples lie closer to a "
                         "training beat than median real-to-real NN / 10.")
    if "vae-tail" in rows:
        a, b = mean_std(r["tstr_auc"] for r in rows["vae-tail"])
        notes.append(
            f"- vae-tail (no real anomaly) has TSTR {a:.3f} ± {b:.3f}: tail samples surround the normal mass "
            "on all sides, which a *linear* classifier cannot separate from its centre; they are meant for a "
            "distance/reconstruction detector (the autoencoder), not for a linear TSTR."
        )
    reading = "\n".join(notes)
    goal_table = md_table(
        ["Method", "disc (LR) <= 0.15", "disc (RF) <= 0.15", "TSTR AUC >= 0.995",
         f"TSTR+K real >= TRTR-208 ({trtr_all:.4f})", "no sample closer than median real NN / 10"],
        [[m, yes[g["disc_lr<=0.15"]], yes[g["disc_rf<=0.15"]], yes[g["tstr_auc>=0.995"]], yes[g["tstr+k>=trtr208"]],
          yes[g["no_near_copies"]]] for m, g in goals.items()],
    )
    oracle_md = f"""
Oracle references (same run and seeds; they are given statistics of all 208 real training
anomalies, which no generator here sees — they locate the floor, they are not methods):
`gauss-208` = Gaussian fitted on all 208; `mean-K+cov-208` = mean of the K beats, covariance of
all 208; `mean-208+cov-K` = mean of all 208, covariance of the K beats.

{oracle_table}
""" if oracle_table else ""
    sweep_md = f"""
Gaussian reference fitted on K real anomalies, for growing K (same seeds; {n} samples each):

{sweep_table}
""" if sweep_table else ""
    kinds_chosen = {m: [r.get("kinds_selected") for r in rows[m]] for m in ("inject-auto",) if m in rows}
    md = f"""# Synthetic anomalies on ECG5000 (K={args.k} real anomalies)

{table}

References in the same run (logistic regression, AUC on all of TEST): TRTR with all 208 real
training anomalies **{trtr_all:.4f}**; TRTR with the K={args.k} real anomalies (mean over seeds)
**{trtr_k[0]:.4f} ± {trtr_k[1]:.4f}**; normal-only baseline (5-NN distance) **{normal_only:.4f}**.
{oracle_md}{sweep_md}
Goals of issue 9 (means over seeds; "no near copies" must hold in every seed):

{goal_table}

Reading the tables:

{reading}

## Method

ECG5000 official split. Per seed ({seeds} seed(s)): K={args.k} anomalous TRAIN beats drawn at random;
the generators see the 292 normal TRAIN beats + those K (inject only uses the normal beats,
``kinds="ecg"``; inject-auto injects the kinds that :mod:`edgesynth.synth.select` validates
against the K real anomalies on the training data (TSTR inside TRAIN: each kind alone must teach
the fixed classifier to rank the K above held-out normal TRAIN beats; kinds within 0.01 of the
best, at most 3; chosen per seed: {kinds_chosen}); auto = ``synthesize(method="auto")``: half
conditional VAE, half validated injection; vae-tail is the VAE trained on the normal beats only,
sampled in the latent tails: what ``choose_strategy`` does with no real anomaly;
gan+inject-auto = the first half of the gan row's samples + the first half of inject-auto's, same
seed). {n} synthetic anomalies per method.
Quality against the 1873 TEST anomalies:
discriminative score = max(acc - 0.5, 0) of a logistic regression (standardized) / 100-tree random
forest on a 30% held-out split of balanced real-vs-synthetic (TimeGAN's |acc - 0.5|); TSTR = ROC
AUC on TEST (2627 normal + 1873 anomalous beats) of a logistic regression (C=1, balanced, inputs
scaled by the mean and standard deviation of the real normal TRAIN beats only, so every method
meets the same classifier; on these z-normalized beats that is plain logistic regression)
trained on the normal TRAIN beats + synthetic anomalies (TSTR+K real: + the K real ones too);
MMD = RBF kernel, median heuristic, 100 permutations (p floor 1/101); NN ratio = median
distance synthetic -> nearest training beat / median real-to-real NN distance inside the
training set; near copies = share of synthetic beats closer than that median / 10.
VAE: {vae_epochs} epochs, defaults otherwise. GAN: {gan_kw}, early stop on MMD to a held-out 20%
of the normal beats (all K anomalies train). Times are wall-clock fit + sample seconds on a
shared 2-core machine (no warm-up; not a speed benchmark), TensorFlow op determinism on. Mean ± std (ddof=1) over seeds.
"""
    data = {"k": args.k, "n": n, "seeds": seeds, "quick": args.quick, "trtr_all_auc": trtr_all,
            "trtr_k_auc": trtr_k[0], "normal_only_auc": normal_only, "k_classes": k_classes,
            "test_anomaly_classes": test_classes, "rows": rows, "goals": goals,
            "k_sweep": {str(k): v for k, v in sweep.items()},
            "vae_epochs": vae_epochs, "gan": {k: list(v) if isinstance(v, tuple) else v for k, v in gan_kw.items()}}
    write_results("synthesis", data, md)
    print(md)
    return data


if __name__ == "__main__":
    main()
