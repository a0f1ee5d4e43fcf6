"""Helpers shared by the benchmarks: timing with warm-up, and JSON + markdown results."""
from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def timeit(fn: Callable[[], Any], *, repeat: int = 50, warmup: int = 5) -> dict[str, float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed with perf_counter_ns.

    Returns ``{"median_us", "p99_us", "mean_us", "n"}``.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / 1e3)
    return {
        "median_us": float(statistics.median(times)),
        "p99_us": float(np.percentile(times, 99)),
        "mean_us": float(statistics.fmean(times)),
        "n": int(repeat),
    }


def write_results(name: str, data: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``benchmarks/results/<name>.json`` and ``<name>.md`` (atomically)."""
    from edgesynth.artifact import atomic_write_json, atomic_write_text

    data = dict(data)
    data.setdefault("machine", {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()})
    RESULTS.mkdir(parents=True, exist_ok=True)
    jp = atomic_write_json(RESULTS / f"{name}.json", data)
    mp = atomic_write_text(RESULTS / f"{name}.md", markdown.rstrip() + "\n")
    return jp, mp


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def mean_std(values) -> tuple[float, float]:
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def default_ae_hidden() -> tuple[int, ...]:
    """Hidden layer widths of edgesynth's default dense autoencoder (encoder, bottleneck, decoder)."""
    from edgesynth.detect.models import DENSE_BOTTLENECK, DENSE_WIDTHS

    return (*DENSE_WIDTHS, DENSE_BOTTLENECK, *DENSE_WIDTHS[::-1])


def ae_shape(input_dim: int = 140) -> str:
    """``"140-32-8-32-140"``: the default dense autoencoder's shape as text."""
    return "-".join(str(w) for w in (input_dim, *default_ae_hidden(), input_dim))


#: ECG5000 in the shared data folder (``EDGESYNTH_SHARED`` overrides ``../shared``).
import os as _os  # noqa: E402

ECG5000_DIR = Path(_os.environ.get("EDGESYNTH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "datasets" / "ecg5000"


def ecg5000(folder: Path = ECG5000_DIR):
    """``(X_train, class_train, X_test, class_test)``: float32 ``(n, 140)`` beats and the integer
    classes 1..5 (1 = normal), read with edgesynth's own UCR loader."""
    from edgesynth.data import load

    out = []
    for name in ("ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv"):
        ds = load(Path(folder) / name, normal_label=1)
        out += [ds.X[:, :, 0], ds.labels.astype(float).astype(int)]
    return tuple(out)
