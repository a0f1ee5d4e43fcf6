"""Peer comparison on ECG5000: edgesynth's int8 detector vs emlearn's plain-C anomaly models.

Run from the repo root::

    python -m benchmarks.peers            # full run
    python -m benchmarks.peers --quick    # smoke run (few epochs, few repetitions)

emlearn (PyPI ``emlearn``) compiles scikit-learn / Keras models to plain C. On the same data
(ECG5000, 140 samples per beat, per-feature standardization fitted on the normal training beats,
class 1 = normal, classes 2-5 = anomalous) we compare, in one run:

* **ours** — edgesynth's default dense autoencoder (140-32-8-32-140) of :mod:`benchmarks.latency`, int8 PTQ,
  run by the TFLM interpreter (score: per-row MSE of the dequantized int8 reconstruction);
* **emlearn MLP** — the *same* trained float autoencoder converted by emlearn's Keras converter
  (``eml_net``, float32), score computed in C (MSE of ``eml_net_regress``'s output);
* **emlearn EllipticEnvelope** — scikit-learn's robust covariance model (score: squared
  Mahalanobis distance from ``eml_elliptic_envelope_predict``);
* **emlearn GaussianMixture** — 2 full-covariance components (score: minus the log-likelihood
  from ``eml_mixture_score``).

For every emlearn model the generated C is compiled twice: with ``gcc -O2`` for the host, into a
program that scores every test beat (AUC comes from *these* C scores) and times single-beat
inferences with ``clock_gettime``; and with ``arm-none-eabi-gcc -mcpu=cortex-m4 -Os`` for its
flash (.text + .rodata + .data) and static RAM (.data + .bss) from ``arm-none-eabi-size -A``.

Results: ``benchmarks/results/peers.json`` and ``peers.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from benchmarks._common import ae_shape, md_table, write_results
from benchmarks.latency import train_ecg_detector

N_FEATURES = 140
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-ffunction-sections", "-fdata-sections", "-std=c99"]

_HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
%(model)s

static float score_one(const float *x) {
%(score)s
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* argv: rows.bin n_rows scores.bin times.bin n_timed repeat warmup */
int main(int argc, char **argv) {
    if (argc != 8) return 2;
    const int n = atoi(argv[2]), n_timed = atoi(argv[5]), repeat = atoi(argv[6]), warmup = atoi(argv[7]);
    float *rows = malloc(sizeof(float) * (size_t)n * %(d)d);
    float *scores = malloc(sizeof(float) * (size_t)n);
    double *times = malloc(sizeof(double) * (size_t)n_timed * (size_t)repeat);
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(rows, sizeof(float), (size_t)n * %(d)d, f) != (size_t)n * %(d)d) return 3;
    fclose(f);
    for (int i = 0; i < n; i++) scores[i] = score_one(rows + (size_t)i * %(d)d);
    volatile float sink = 0.0f;
    for (int w = 0; w < warmup; w++)
        for (int i = 0; i < n_timed; i++) sink += score_one(rows + (size_t)i * %(d)d);
    size_t k = 0;
    for (int r = 0; r < repeat; r++) {
        for (int i = 0; i < n_timed; i++) {
            const long long t0 = now_ns();
            sink += score_one(rows + (size_t)i * %(d)d);
            times[k++] = (double)(now_ns() - t0) / 1e3;
        }
    }
    f = fopen(argv[3], "wb"); fwrite(scores, sizeof(float), (size_t)n, f); fclose(f);
    f = fopen(argv[4], "wb"); fwrite(times, sizeof(double), k, f); fclose(f);
    printf("%%f\n", (double)sink);
    return 0;
}
"""

_ARM_TU = r"""
%(model)s

float peer_score(const float *x);
float peer_score(const float *x) {
%(score)s
}
"""


def _quiet(fn):
    with np.errstate(under="ignore"):
        return fn()


@contextlib.contextmanager
def _scratch_cwd():
    """emlearn's ``convert(method="inline")`` compiles a test binary into ``./tmp``: keep it out of the repo."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="edgesynth-emlearn-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def _emlearn_models(model, Ztr: np.ndarray, seed: int) -> list[dict]:
    """emlearn C code and a C scoring body for each peer model, plus the Python-side scores to check."""
    import emlearn
    from sklearn.covariance import EllipticEnvelope
    from sklearn.mixture import GaussianMixture

    d = Ztr.shape[1]
    out = []
    with _scratch_cwd():
        mlp = emlearn.convert(model, method="loadable", return_type="regressor")
    out.append({
        "name": "emlearn MLP (same float AE)", "key": "emlearn_mlp",
        "code": mlp.save(name="peer_ae"),
        "score": (f"    static float y[{d}];\n    peer_ae_regress(x, {d}, y, {d});\n"
                  f"    float s = 0.0f;\n    for (int i = 0; i < {d}; i++) {{ const float e = x[i] - y[i]; s += e * e; }}\n"
                  f"    return s / {d};"),
        "python_score": lambda Z: np.mean((Z - model.predict(Z, verbose=0)) ** 2, axis=1),
        "description": "emlearn.convert(keras Sequential, method='loadable', return_type='regressor'); "
                       "score = MSE(x, eml_net_regress(x))",
    })
    with warnings.catch_warnings(), np.errstate(under="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # MinCovDet's "determinant has increased" notes
        ee = EllipticEnvelope(random_state=seed).fit(Ztr)
    with _scratch_cwd():
        conv = emlearn.convert(ee, method="inline")
    out.append({
        "name": "emlearn EllipticEnvelope", "key": "emlearn_elliptic",
        "code": conv.save(name="peer_ee"),
        "score": f"    return peer_ee_predict(x, {d});",
        "python_score": ee.mahalanobis,
        "description": "sklearn EllipticEnvelope (MinCovDet); score = squared Mahalanobis distance",
    })
    with np.errstate(under="ignore"):  # exp() of very negative log-densities underflows harmlessly
        gmm = GaussianMixture(n_components=2, covariance_type="full", reg_covar=1e-2, random_state=seed).fit(Ztr)
    with _scratch_cwd():
        conv = emlearn.convert(gmm, method="loadable")
    out.append({
        "name": "emlearn GaussianMixture (2 full)", "key": "emlearn_gmm",
        "code": conv.save(name="peer_gmm"),
        "score": ("    float p[2], s = 0.0f;\n    peer_gmm_score(x, %d, p, &s);\n    return -s;" % d),
        "python_score": lambda Z: _quiet(lambda: -gmm.score_samples(Z)),
        "description": "sklearn GaussianMixture(n_components=2, covariance_type='full', reg_covar=1e-2); "
                       "score = -log-likelihood",
    })
    return out


def _host_run(spec: dict, work: Path, rows_path: Path, n_rows: int, n_timed: int, repeat: int,
              warmup: int) -> tuple[np.ndarray, np.ndarray]:
    import emlearn

    src = work / f"{spec['key']}_host.c"
    exe = work / f"{spec['key']}_host"
    src.write_text(_HARNESS % {"model": spec["code"], "score": spec["score"], "d": N_FEATURES})
    if not exe.exists():
        subprocess.run(["gcc", "-O2", "-std=c99", "-I", emlearn.common.get_include_dir(), str(src), "-o", str(exe),
                        "-lm"], check=True, capture_output=True, text=True)
    scores_p, times_p = work / f"{spec['key']}.scores", work / f"{spec['key']}.times"
    subprocess.run([str(exe), str(rows_path), str(n_rows), str(scores_p), str(times_p), str(n_timed), str(repeat),
                    str(warmup)], check=True, capture_output=True, text=True)
    return np.fromfile(scores_p, dtype=np.float32), np.fromfile(times_p, dtype=np.float64)


def _arm_size(spec: dict, work: Path) -> dict | None:
    import emlearn

    cc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not cc or not size:
        return None
    src, obj = work / f"{spec['key']}_arm.c", work / f"{spec['key']}_arm.o"
    src.write_text(_ARM_TU % {"model": spec["code"], "score": spec["score"]})
    subprocess.run([cc, *ARM_FLAGS, "-I", emlearn.common.get_include_dir(), "-c", str(src), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([size, "-A", str(obj)], check=True, capture_output=True, text=True).stdout
    sec = {".text": 0, ".rodata": 0, ".data": 0, ".bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            for prefix in sec:
                if parts[0] == prefix or parts[0].startswith(prefix + "."):
                    sec[prefix] += int(parts[1])
    return {"flash_bytes": sec[".text"] + sec[".rodata"] + sec[".data"], "ram_bytes": sec[".data"] + sec[".bss"],
            "sections": sec}


def _stats(t_us: np.ndarray) -> dict:
    return {"median": float(np.median(t_us)), "p99": float(np.percentile(t_us, 99)), "n": int(t_us.size)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 epochs, few repetitions")
    ap.add_argument("--epochs", type=int, default=None, help="detector training epochs (default 60, quick 5)")
    ap.add_argument("--runs", type=int, default=None, help="timing passes, alternating models (default 3, quick 1)")
    args = ap.parse_args(argv)
    from sklearn.metrics import roc_auc_score

    from edgesynth.bench import bench_tflite
    from edgesynth.detect.models import reconstruction_score as mse_score
    from edgesynth.deploy.runtime import TFLMRunner

    epochs = args.epochs or (5 if args.quick else 60)
    n_runs = args.runs or (1 if args.quick else 3)
    repeat, warmup, n_timed = (10, 2, 32) if args.quick else (100, 10, 64)
    if not shutil.which("gcc"):
        raise SystemExit("gcc is needed to compile emlearn's C code")

    with tempfile.TemporaryDirectory(prefix="edgesynth-peers-") as tmp:
        work = Path(tmp)
        print("training our detector", file=sys.stderr, flush=True)
        det = train_ecg_detector(work / "ecg5000_detector", epochs=epochs)
        Zte, yte, Ztr = det["Z_test"].astype(np.float32), det["y_test"], det["Z_train"]
        rows_path = work / "test_rows.bin"
        np.ascontiguousarray(Zte, dtype=np.float32).tofile(rows_path)
        specs = _emlearn_models(det["model"], Ztr, seed=0)

        # ours: AUC from the TFLM interpreter, figures and latency from edgesynth.bench
        tflm = TFLMRunner(det["tflite"])
        ours_scores = mse_score(Zte, tflm.predict(Zte))
        results = {"ours": {"name": "edgesynth dense AE int8 (TFLM)", "auc": float(roc_auc_score(yte, ours_scores)),
                            "auc_float_keras": det["auc_float"], "times": []}}
        for s in specs:
            results[s["key"]] = {"name": s["name"], "description": s["description"], "times": [],
                                 "generated_c_bytes": len(s["code"].encode()), "arm": _arm_size(s, work)}
        for run in range(n_runs):  # alternate the models so machine drift hits them alike
            print(f"timing pass {run + 1}/{n_runs}", file=sys.stderr, flush=True)
            b = bench_tflite(det["tflite"], repeat=repeat * n_timed // 4, warmup=warmup, seed=run)
            results["ours"]["times"].append(b["latency_us"]["tflm_int8"])
            results["ours"]["bench"] = b
            for s in specs:
                sc, t = _host_run(s, work, rows_path, len(Zte), n_timed, repeat, warmup)
                r = results[s["key"]]
                r["times"].append(_stats(t))
                if run == 0:
                    ref = np.asarray(s["python_score"](Zte), dtype=np.float64)
                    r["auc"] = float(roc_auc_score(yte, sc))
                    r["auc_python"] = float(roc_auc_score(yte, ref))
                    r["max_rel_diff_c_vs_python"] = float(np.max(np.abs(sc - ref) / np.maximum(np.abs(ref), 1e-6)))

    ob = results["ours"]["bench"]
    for key, r in results.items():
        meds = [t["median"] for t in r["times"]]
        r["latency_us"] = {"median": float(np.median(meds)), "p99": float(np.median([t["p99"] for t in r["times"]])),
                           "n": int(sum(t["n"] for t in r["times"])), "median_per_pass": meds}
    ours_lat = results["ours"]["latency_us"]["median"]
    rows = []
    for key, r in results.items():
        if key == "ours":
            flash, ram = ob["tflite_bytes"], ob["arena_bytes"]
            flash_note, c_bytes = "int8 .tflite (+ TFLM code, not counted)", "-"
            runtime = "TFLM interpreter via Python binding"
        else:
            arm = r["arm"] or {}
            flash, ram = arm.get("flash_bytes"), arm.get("ram_bytes")
            flash_note, c_bytes = "Cortex-M4 object, -Os", f"{r['generated_c_bytes']:,}"
            runtime = "C loop, gcc -O2"
        r["flash_bytes"], r["ram_bytes"] = flash, ram
        rows.append([r["name"], f"{r['auc']:.4f}", c_bytes,
                     "-" if flash is None else f"{flash:,}", "-" if ram is None else f"{ram:,}",
                     "-" if flash is None else f"{flash / ob['tflite_bytes']:.2f}",
                     f"{r['latency_us']['median']:.2f} / {r['latency_us']['p99']:.2f}",
                     f"{r['latency_us']['median'] / ours_lat:.2f}", runtime])
    table = md_table(["model", "ECG5000 test AUC", "generated C bytes", "flash B", "RAM B", "flash / ours",
                      "host us per beat (median / p99)", "latency / ours", "how it runs"], rows)
    checks = md_table(
        ["emlearn model", "AUC (C scores)", "AUC (Python scores)", "max rel. diff C vs Python"],
        [[results[s["key"]]["name"], f"{results[s['key']]['auc']:.4f}", f"{results[s['key']]['auc_python']:.4f}",
          f"{results[s['key']]['max_rel_diff_c_vs_python']:.2e}"] for s in specs])
    command = "python -m benchmarks.peers" + (" --quick" if args.quick else "")
    md = (
        "# Peer comparison on ECG5000: edgesynth vs emlearn (plain C)\n\n" + table + "\n\n"
        "emlearn C agrees with the Python model it was converted from:\n\n" + checks + "\n\n"
        "### Method\n\n"
        f"ECG5000 (500 train / 4500 test beats of 140 samples; class 1 normal, 2-5 anomalous); every model is "
        f"fitted on the {len(Ztr)} normal training beats after per-feature standardization fitted on them. "
        f"Ours: {ae_shape()} dense AE trained {epochs} epochs, PTQ int8, AUC from the TFLM interpreter's "
        f"int8 reconstruction (float Keras AUC {det['auc_float']:.4f}); flash = the `.tflite` array, RAM = the "
        "smallest TFLM arena (bisection); the TFLM interpreter code is not counted. emlearn "
        f"{_emlearn_version()}: the MLP is the *same* trained float autoencoder (float32 weights); sizes from the "
        "generated C compiled alone with `arm-none-eabi-gcc " + " ".join(ARM_FLAGS) + "` and `arm-none-eabi-size -A` "
        "(flash = .text+.rodata+.data, RAM = .data+.bss; emlearn keeps GMM covariances as full 140x140 "
        "precision matrices and the elliptic envelope's precision matrix, all float32). Host latency: emlearn in a C "
        f"loop (gcc -O2, clock_gettime around one beat, {warmup} warm-up passes, {repeat} passes over {n_timed} beats); "
        f"ours through the TFLM Python binding (edgesynth.bench, set input + invoke + get output), which adds a few "
        f"microseconds of binding overhead per call that plain C does not pay. {n_runs} timing pass(es) alternating "
        "the models; medians of the per-pass medians. Host times come from a shared 2-core machine; compare "
        f"ratios.\n\nReproduce: `{command}`\n"
    )
    for r in results.values():
        r.pop("times", None)
    write_results("peers", {"command": command, "quick": args.quick, "epochs": epochs, "results": results}, md)
    print(md)
    return 0


def _emlearn_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("emlearn")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


if __name__ == "__main__":
    raise SystemExit(main())
