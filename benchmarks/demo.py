"""End-to-end wall time of ``edgesynth demo`` (goal: under 3 minutes on 2 CPU cores).

Method: runs the full demo (simulate -> synthesize -> train -> int8 -> TFLM check -> export ->
bench -> report) once in a fresh subprocess per repetition, timing the whole command including
the TensorFlow import, exactly as a user experiences it.

    python -m benchmarks.demo [--quick] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import md_table, write_results


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="time `edgesynth demo --quick`")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    runs = []
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "demo"
            cmd = [sys.executable, "-m", "edgesynth.cli", "demo", "--out", str(out), "--seed", str(r)]
            if args.quick:
                cmd.append("--quick")
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            summary = json.loads((out / "summary.json").read_text())
            runs.append({"seed": r, "wall_seconds": wall, **summary})
    walls = sorted(x["wall_seconds"] for x in runs)
    data = {
        "quick": args.quick,
        "runs": runs,
        "median_wall_seconds": walls[len(walls) // 2],
        "goal_seconds": 180,
        "method": "whole `edgesynth demo` command in a subprocess, TensorFlow import included",
    }
    rows = [[x["seed"], x["wall_seconds"], x["auc_float"], x["auc_int8"], x["tflite_bytes"], x["arena_bytes"],
             x["tflm_latency_us"]] for x in runs]
    md = "# End-to-end demo\n\n" + md_table(
        ["seed", "wall s", "AUC float", "AUC int8", "model bytes", "arena bytes", "TFLM host us"], rows)
    md += f"\n\nGoal: under 180 s on 2 cores. Method: {data['method']}; command `python -m benchmarks.demo" + \
        (" --quick" if args.quick else "") + "`.\n"
    write_results("demo_quick" if args.quick else "demo", data, md)
    print(md)
    return data


if __name__ == "__main__":
    main()
