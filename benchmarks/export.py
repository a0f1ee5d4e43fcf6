"""Deployment footprint: edgesynth's ECG5000 detector vs the MLPerf Tiny AD reference model.

Run from the repo root::

    python -m benchmarks.export [--quick]

For each model, side by side: flatbuffer bytes, smallest TFLM arena (bisection on the host
interpreter, :func:`edgesynth.deploy.runtime.find_min_arena`) and the emitted arena (+10 %
margin), parameters and MACs (from the pure-Python reader), float / int8 AUC (ECG5000 only; the
reference model's ToyADMOS data is not available here, its published int8 AUC is quoted), host
latency per inference in the TFLM and LiteRT interpreters, and ratios reference / ours.

ECG5000 detector: edgesynth's default dense autoencoder (140-32-8-32-140) (the shape of the DET helper's
default; built here so the benchmark does not depend on ``edgesynth.detect``) (ReLU) trained briefly on the normal training beats
(class 1), per-feature standardization fitted on them, PTQ int8 with per-tensor dense weights.
Test labels: class 1 normal, classes 2-5 anomalous.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._common import ae_shape, ecg5000, default_ae_hidden, md_table, timeit, write_results

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ECG_DIR = SHARED / "datasets" / "ecg5000"
REF = SHARED / "reference_models" / "ad01_int8.tflite"


def _load_ecg():
    return ecg5000(ECG_DIR)


def _train_ecg(epochs: int, seed: int = 0):
    from edgesynth._tf import keras
    from edgesynth.deploy.quantize import quantize
    from edgesynth.detect.models import reconstruction_score as mse_score

    Xtr, ytr, Xte, yte = _load_ecg()
    normal = Xtr[ytr == 1]
    mean, scale = normal.mean(0), normal.std(0) + 1e-6
    Ztr = (normal - mean) / scale
    Zte = (Xte - mean) / scale
    y = (yte != 1).astype(int)
    init = keras.initializers.GlorotUniform(seed=seed)
    i = keras.Input((140,))
    x = i
    for w in default_ae_hidden():
        x = keras.layers.Dense(w, activation="relu", kernel_initializer=init)(x)
    model = keras.Model(i, keras.layers.Dense(140, kernel_initializer=init)(x))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(Ztr, Ztr, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    q = quantize(model, Ztr, method="ptq", X_val=Zte, y_val=y, seed=seed)
    return q, Zte, y, mse_score


def _row(name, tfl, *, aucs=None, quick=False):
    from edgesynth.deploy.runtime import LiteRTRunner, TFLMRunner, find_min_arena, recommended_arena
    from firmware_export.tflite_model import TFLiteModel

    m = TFLiteModel.from_bytes(tfl)
    arena = find_min_arena(tfl)
    tflm, lite = TFLMRunner(tfl, arena_size=recommended_arena(arena)), LiteRTRunner(tfl)
    x = np.zeros((1, tflm.n_features_in), np.int8)
    rep = 20 if quick else 200
    t_tflm = timeit(lambda: tflm.invoke_int8(x), repeat=rep, warmup=5)
    t_lite = timeit(lambda: lite.invoke_int8(x), repeat=rep, warmup=5)
    return {
        "model": name, "flatbuffer_bytes": len(tfl), "arena_min_bytes": arena,
        "arena_emitted_bytes": recommended_arena(arena), "params": m.n_params, "macs": m.macs(),
        "ops": m.op_names, "auc_float": None if not aucs else aucs.get("float"),
        "auc_int8": None if not aucs else aucs.get("ptq"),
        "tflm_us_median": t_tflm["median_us"], "tflm_us_p99": t_tflm["p99_us"],
        "litert_us_median": t_lite["median_us"], "litert_us_p99": t_lite["p99_us"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 training epochs, fewer timing repetitions")
    args = ap.parse_args(argv)

    rows = []
    if ECG_DIR.is_dir():
        q, _, _, _ = _train_ecg(2 if args.quick else 40)
        rows.append(_row("edgesynth ECG5000 dense AE (int8 PTQ)", q.tflite, aucs=q.aucs, quick=args.quick))
    if REF.is_file():
        r = _row("MLPerf Tiny ad01_int8 (reference)", REF.read_bytes(), quick=args.quick)
        r["auc_int8_published"] = 0.86
        rows.append(r)
    ratios = {}
    if len(rows) == 2:
        ours, ref = rows
        for k in ("flatbuffer_bytes", "arena_min_bytes", "params", "macs", "tflm_us_median"):
            ratios[k] = ref[k] / ours[k]

    def fmt(v):
        return "n/a" if v is None else v

    table = md_table(
        ["model", "flatbuffer B", "arena min B", "arena emitted B", "params", "MACs", "AUC float", "AUC int8",
         "TFLM us (median / p99)", "LiteRT us (median / p99)"],
        [[r["model"], r["flatbuffer_bytes"], r["arena_min_bytes"], r["arena_emitted_bytes"], r["params"],
          r["macs"], fmt(r["auc_float"]), fmt(r["auc_int8"]) if "auc_int8_published" not in r
          else f"{r['auc_int8_published']} (published, ToyADMOS)",
          f"{r['tflm_us_median']:.1f} / {r['tflm_us_p99']:.1f}",
          f"{r['litert_us_median']:.1f} / {r['litert_us_p99']:.1f}"] for r in rows],
    )
    ratio_md = "\n".join(f"- {k}: reference / ours = {v:.1f}x" for k, v in ratios.items())
    md = (
        "# Deployment footprint: ECG5000 detector vs MLPerf Tiny AD reference\n\n" + table + "\n\n"
        + ("## Ratios (same run)\n\n" + ratio_md + "\n\n" if ratios else "")
        + "## Method\n\n"
        "Flatbuffer bytes are the `.tflite` size. *arena min* is the smallest tensor arena with which "
        "the host TFLM interpreter (tflite-micro wheel, reference kernels) allocates and invokes the "
        "model, found by bisection to the byte (the RecordingMicroAllocator printout under-reports it); "
        "*arena emitted* adds the documented 10 % margin rounded up to 16 B. Params and MACs come from "
        "the pure-Python flatbuffer reader (constant tensors; FULLY_CONNECTED/CONV MACs). The ECG5000 "
        f"detector is a {ae_shape()} dense AE trained on normal training beats "
        f"({'2' if args.quick else '40'} epochs), PTQ int8 with per-tensor weights; AUC on the ECG5000 "
        "test set (class 1 normal) with score = per-row MSE between the normalized input and the "
        "dequantized int8 reconstruction. Latency: one inference (batch 1) through the Python "
        f"bindings, {5} warm-up calls then {20 if args.quick else 200} timed calls with "
        "`time.perf_counter_ns`; median and p99; host numbers include Python call overhead and are only "
        "comparable within this table.\n"
    )
    write_results("export", {"rows": rows, "ratios": ratios, "quick": args.quick}, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
