"""Run every benchmark, then refresh the README's results section from ``benchmarks/results/``.

    python -m benchmarks.run_all            # run all benchmarks (slow), then refresh README
    python -m benchmarks.run_all --quick    # smoke-sized runs
    python -m benchmarks.run_all --readme-only   # only rebuild the README table from results/

Each benchmark writes ``results/<name>.json`` and ``results/<name>.md``; the README shows the
markdown files in the order below, each with the command that reproduces it.
"""
from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: (module, result file stem, title)
BENCHMARKS = [
    ("benchmarks.demo", "demo", "End-to-end demo wall time"),
    ("benchmarks.detection", "detection", "Detection quality on ECG5000 (issue: tiny autoencoder detector)"),
    ("benchmarks.synthesis", "synthesis", "Synthetic anomaly quality on ECG5000"),
    ("benchmarks.export", "export", "Quantization and export sizes"),
    ("benchmarks.latency", "latency", "Latency and memory vs the MLPerf Tiny reference"),
    ("benchmarks.peers", "peers", "Peer comparison: emlearn"),
    ("benchmarks.standalone", "standalone", "Dependency-free C vs TFLM on Cortex-M"),
    ("benchmarks.features", "features", "Log-mel feature extraction throughput"),
    ("benchmarks.streaming", "streaming", "Streaming throughput and detection latency"),
]


def refresh_readme() -> None:
    parts = []
    for module, stem, title in BENCHMARKS:
        md = RESULTS / f"{stem}.md"
        if not md.is_file():
            continue
        body = md.read_text().strip()
        body = re.sub(r"^# .*\n+", "", body)  # drop the file's own H1
        parts.append(f"### {title}\n\nReproduce: `python -m {module}`\n\n{body}\n")
    text = (ROOT / "README.md").read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        raise SystemExit("README.md has no results markers")
    new = text.split(begin)[0] + begin + "\n" + (
        "All numbers below come from `python -m benchmarks.run_all` on a 2-core shared machine; "
        "compare ratios, not absolute times.\n\n" + "\n".join(parts)) + end + text.split(end)[1]
    (ROOT / "README.md").write_text(new)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="run all benchmarks and refresh the README")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--readme-only", action="store_true")
    ap.add_argument("--only", nargs="*", default=None, help="result stems to run")
    args = ap.parse_args(argv)
    if not args.readme_only:
        for module, stem, _ in BENCHMARKS:
            if args.only and stem not in args.only:
                continue
            try:
                importlib.import_module(module)
            except ModuleNotFoundError:
                print(f"skipping {module}: not present")
                continue
            cmd = [sys.executable, "-m", module] + (["--quick"] if args.quick else [])
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)
    refresh_readme()
    print("README.md results refreshed")


if __name__ == "__main__":
    main()
