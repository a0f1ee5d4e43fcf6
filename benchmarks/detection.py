"""Detection quality on ECG5000, official split, several seeds, all rows in one run.

Train on ECG5000_TRAIN (500 beats), report on the 4500-beat ECG5000_TEST; class 1 is normal.
Rows:

* baselines: the TensorFlow "Intro to autoencoders" recipe (Dense 32-16-8 / 16-32-140, global
  min-max scaling, MAE, 20 epochs, batch 512, threshold mean + std of training losses), PCA
  reconstruction error (8 components, threshold at 1 % FPR of training normals), IsolationForest;
* edgesynth through its real entry point (:func:`edgesynth.pipeline.train` with defaults, then
  :func:`edgesynth.pipeline.evaluate` on TEST): normal-only (K = 0), K = 5 and 20 real anomalies,
  and K real + synthetic anomalies (inject / VAE / GAN / auto).

Metrics: AUC, pAUC (FPR <= 0.1, scikit-learn's standardized definition) and F1 at the calibrated threshold, float and
int8 (the int8 model runs on the TFLM interpreter), mean and sample std over seeds.

    python -m benchmarks.detection [--seeds 5] [--quick] [--rows name ...]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import md_table, mean_std, write_results

SHARED = Path(os.environ.get("EDGESYNTH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ECG = SHARED / "datasets" / "ecg5000"

#: (row name, synth, K real anomalies)
EDGESYNTH_ROWS = [
    ("edgesynth normal-only (K=0)", "none", 0),
    ("edgesynth K=0 + synth auto", "auto", 0),
    ("edgesynth K=5 real", "none", 5),
    ("edgesynth K=5 + inject", "inject", 5),
    ("edgesynth K=5 + VAE", "vae", 5),
    ("edgesynth K=5 + GAN", "gan", 5),
    ("edgesynth K=5 + auto", "auto", 5),
    ("edgesynth K=20 real", "none", 20),
    ("edgesynth K=20 + auto", "auto", 20),
]


def _metrics(y, s, thr):
    from edgesynth.detect.metrics import evaluate_scores

    m = evaluate_scores(y, s, thr)
    return {k: m[k] for k in ("auc", "pauc", "f1", "precision", "recall", "fpr")}


def tf_tutorial(Xtr, ytr, Xte, yte, seed):
    """The TensorFlow autoencoder tutorial's anomaly detector, as published."""
    from edgesynth._tf import keras

    lo, hi = Xtr.min(), Xtr.max()
    scale = lambda X: ((X - lo) / (hi - lo)).astype(np.float32)  # noqa: E731
    tr, te = scale(Xtr[ytr == 0]), scale(Xte)
    init = lambda i: keras.initializers.GlorotUniform(seed=seed * 100 + i)  # noqa: E731
    inp = keras.Input((Xtr.shape[1],))
    x = inp
    for i, (u, a) in enumerate([(32, "relu"), (16, "relu"), (8, "relu"), (16, "relu"), (32, "relu"),
                                (Xtr.shape[1], "sigmoid")]):
        x = keras.layers.Dense(u, activation=a, kernel_initializer=init(i))(x)
    m = keras.Model(inp, x)
    m.compile(optimizer="adam", loss="mae")
    m.fit(tr, tr, epochs=20, batch_size=512, shuffle=True, verbose=0)
    loss = lambda X: np.mean(np.abs(m.predict(X, verbose=0) - X), axis=1)  # noqa: E731
    ltr = loss(tr)
    thr = float(ltr.mean() + ltr.std())
    return {"float": _metrics(yte, loss(te), thr), "params": int(m.count_params())}


def pca_baseline(Xtr, ytr, Xte, yte, seed):
    from sklearn.decomposition import PCA

    from edgesynth.detect.thresholds import threshold_at_fpr

    mu, sd = Xtr[ytr == 0].mean(0), Xtr[ytr == 0].std(0) + 1e-6
    Z, Zt = (Xtr[ytr == 0] - mu) / sd, (Xte - mu) / sd
    p = PCA(n_components=8, random_state=seed).fit(Z)
    err = lambda A: np.mean((A - p.inverse_transform(p.transform(A))) ** 2, axis=1)  # noqa: E731
    return {"float": _metrics(yte, err(Zt), threshold_at_fpr(err(Z), 0.01)), "params": int(8 * Xtr.shape[1] * 2)}


def iforest_baseline(Xtr, ytr, Xte, yte, seed):
    from sklearn.ensemble import IsolationForest

    from edgesynth.detect.thresholds import threshold_at_fpr

    f = IsolationForest(n_estimators=100, random_state=seed).fit(Xtr[ytr == 0])
    s_tr, s_te = -f.score_samples(Xtr[ytr == 0]), -f.score_samples(Xte)
    return {"float": _metrics(yte, s_te, threshold_at_fpr(s_tr, 0.01)), "params": None}


def edgesynth_row(tr_ds, te_ds, synth, k, seed, quick):
    from edgesynth.pipeline import TrainConfig, evaluate, train

    cfg = TrainConfig(synth=synth, anomalies=k, seed=seed, test_fraction=0.1)
    if quick:
        cfg.epochs, cfg.synth_epochs, cfg.quantization = 10, 5, "ptq"
    with tempfile.TemporaryDirectory() as tmp:
        res = train(tr_ds, Path(tmp) / "a", cfg, verbose=False)
        ev = evaluate(Path(tmp) / "a", te_ds)
    keep = ("auc", "pauc", "f1", "precision", "recall", "fpr")
    return {
        "float": {k2: ev["float"][k2] for k2 in keep},
        "int8": {k2: ev["int8"][k2] for k2 in keep},
        "tflite_bytes": res.manifest["quantization"]["tflite_bytes"],
        "arena_bytes": res.manifest["quantization"]["arena_bytes"],
        "quantization": res.manifest["quantization"]["method"],
        "params": res.manifest["model"]["params"],
        "seconds": res.seconds,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 seeds, few epochs (smoke run)")
    ap.add_argument("--rows", nargs="*", default=None, help="substrings of row names to run")
    args = ap.parse_args(argv)
    if not (ECG / "ECG5000_TRAIN.tsv").is_file():
        raise SystemExit(f"ECG5000 not found under {ECG}")
    from edgesynth.data import load

    seeds = list(range(2 if args.quick else args.seeds))
    tr_ds = load(ECG / "ECG5000_TRAIN.tsv", normal_label=1)
    te_ds = load(ECG / "ECG5000_TEST.tsv", normal_label=1)
    Xtr, ytr, Xte, yte = tr_ds.X[:, :, 0], tr_ds.y, te_ds.X[:, :, 0], te_ds.y
    rows = [("TF tutorial autoencoder", lambda s: tf_tutorial(Xtr, ytr, Xte, yte, s)),
            ("PCA reconstruction (8 comp.)", lambda s: pca_baseline(Xtr, ytr, Xte, yte, s)),
            ("IsolationForest", lambda s: iforest_baseline(Xtr, ytr, Xte, yte, s))]
    rows += [(name, (lambda s, sy=sy, k=k: edgesynth_row(tr_ds, te_ds, sy, k, s, args.quick)))
             for name, sy, k in EDGESYNTH_ROWS]
    if args.rows:
        rows = [r for r in rows if any(q.lower() in r[0].lower() for q in args.rows)]
    results = {}
    for name, fn in rows:
        runs = []
        for s in seeds:
            t0 = time.perf_counter()
            runs.append(fn(s))
            print(f"{name:32s} seed {s}: AUC float {runs[-1]['float']['auc']:.4f}"
                  + (f" int8 {runs[-1]['int8']['auc']:.4f}" if "int8" in runs[-1] else "")
                  + f" ({time.perf_counter() - t0:.1f} s)", flush=True)
        results[name] = runs

    def agg(runs, kind, key):
        vals = [r[kind][key] for r in runs if kind in r]
        return mean_std(vals) if vals else None

    table = []
    summary = {}
    for name, runs in results.items():
        row = {}
        for kind in ("float", "int8"):
            for key in ("auc", "pauc", "f1"):
                row[f"{kind}_{key}"] = agg(runs, kind, key)
        row["tflite_bytes"] = runs[0].get("tflite_bytes")
        row["params"] = runs[0].get("params")
        summary[name] = row
        cell = lambda v: "—" if v is None else f"{v[0]:.4f} ± {v[1]:.4f}"  # noqa: E731
        table.append([name, cell(row["float_auc"]), cell(row["int8_auc"]), cell(row["int8_pauc"] or row["float_pauc"]),
                      cell(row["int8_f1"] or row["float_f1"]),
                      "—" if row["tflite_bytes"] is None else f"{row['tflite_bytes']:,}"])
    ref = summary.get("edgesynth normal-only (K=0)")
    notes = []
    for k in (0, 5, 20):
        base = summary.get("edgesynth normal-only (K=0)" if k == 0 else f"edgesynth K={k} real")
        for name, row in summary.items():
            if name.startswith(f"edgesynth K={k} +") and base and row["int8_auc"] and base["int8_auc"]:
                gain = row["int8_auc"][0] - base["int8_auc"][0]
                spread = max(row["int8_auc"][1], base["int8_auc"][1])
                verdict = "exceeds" if gain > spread else ("within" if abs(gain) <= spread else "a LOSS beyond")
                notes.append(f"- {name} vs {'normal-only' if k == 0 else f'K={k} real only'}: int8 AUC "
                             f"{gain:+.4f} ({verdict} seed spread {spread:.4f})")
    if ref:
        for name, row in summary.items():
            if name.startswith("edgesynth K=5") and row["int8_auc"]:
                notes.append(f"- {name} vs normal-only: int8 AUC {row['int8_auc'][0] - ref['int8_auc'][0]:+.4f}")
    md = "\n".join([
        "# Detection quality on ECG5000",
        "",
        f"Official split: train on ECG5000_TRAIN (500 beats), test on the 4,500-beat ECG5000_TEST (class 1 normal); "
        f"{len(seeds)} seeds, mean ± std. pAUC over FPR ≤ 0.1 as scikit-learn computes it (McClish-standardized; 0.5 = chance). F1 at the calibrated threshold "
        f"(edgesynth: 1 % FPR on validation normals, in int8 units; TF tutorial: mean + std of training loss; "
        f"PCA / IsolationForest: 1 % FPR of training normals). int8 = the full-integer model on the TFLM interpreter."
        + (" **Quick run (few epochs) — not the reference numbers.**" if args.quick else ""),
        "",
        md_table(["model", "AUC float", "AUC int8", "pAUC (int8 if any)", "F1 (int8 if any)", "model bytes"], table),
        "",
        "Effect of synthetic anomalies (gain in mean int8 AUC; 'exceeds' = larger than the larger seed std):",
        "",
        *notes,
    ])
    out = {"dataset": "ECG5000", "seeds": seeds, "quick": args.quick, "summary": summary, "runs": results}
    write_results("detection", out, md)
    print(md)
    return out


if __name__ == "__main__":
    main()
