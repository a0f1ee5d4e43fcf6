"""Figures and the markdown report of a detector artifact (matplotlib, Agg backend, atomic writes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    from edgesynth.artifact import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    _plt().close(fig)
    return path


def plot_roc(y, scores: dict, path) -> Path:
    """ROC curves of several score sets ``{name: scores}`` for the same labels ``y``."""
    from edgesynth.detect.metrics import roc_auc, roc_curve_points

    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, s in scores.items():
        fpr, tpr = roc_curve_points(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(y, s):.4f})")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    ax.axvspan(0, 0.1, color="0.93", zorder=0, label="pAUC range")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.01), title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_score_hist(scores, y, threshold: float, path, *, title: str = "Anomaly scores") -> Path:
    """Histograms of normal and anomalous scores (log x when they span decades) with the threshold."""
    plt = _plt()
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    pos = s[s > 0]
    log = pos.size == s.size and s.size > 1 and pos.max() / pos.min() > 100
    edges = np.geomspace(pos.min(), pos.max(), 50) if log else np.linspace(s.min(), s.max() + 1e-12, 50)
    for lab, name, color in ((0, "normal", "tab:blue"), (1, "anomaly", "tab:red")):
        if np.any(y == lab):
            ax.hist(s[y == lab], bins=edges, alpha=0.6, label=f"{name} (n={int(np.sum(y == lab))})", color=color)
    ax.axvline(threshold, color="k", lw=1.2, ls="--", label=f"threshold {threshold:.4g}")
    if log:
        ax.set_xscale("log")
    ax.set(xlabel="score (mean squared reconstruction error)", ylabel="windows", title=title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_overlay(real, synth, path, *, title: str = "Real vs synthetic anomalies", max_lines: int = 8) -> Path:
    """Overlay of real and synthetic samples (first channel of windows, or feature vectors)."""
    plt = _plt()

    def rows(a):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 3:
            a = a[:, :, 0]
        return a.reshape(len(a), -1)[:max_lines]

    r, s = rows(real), rows(synth)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, a, name, color in ((axes[0], r, "real", "tab:blue"), (axes[1], s, "synthetic", "tab:orange")):
        for row in a:
            ax.plot(row, color=color, alpha=0.5, lw=0.8)
        if len(a):
            ax.plot(a.mean(axis=0), color="k", lw=1.2, label="mean")
            ax.legend(fontsize=8)
        ax.set_title(f"{name} (n shown={len(a)})")
        ax.set_xlabel("sample / feature index")
    fig.suptitle(title)
    return _save(fig, path)


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def write_report(directory, metrics: dict, figures: dict, *, title: str = "edgesynth detector") -> str:
    """Markdown report: test and validation metrics (float and int8), model size, figures.

    ``figures`` maps captions to paths relative to ``directory``. Returns the markdown text (the
    caller writes it, atomically, as ``report.md``).
    """
    lines = [f"# {title}", ""]
    keys = ("auc", "pauc", "precision", "recall", "f1", "fpr", "threshold", "n_normal", "n_anomaly")
    for split in ("test", "validation"):
        block = metrics.get(split)
        if not block:
            continue
        lines += [f"## {split.capitalize()}", ""]
        if split == "test" and block.get("anomaly_source"):
            lines += [f"Anomalies: {block['anomaly_source']}.", ""]
        lines += ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for kind in ("float", "int8"):
            m = block.get(kind)
            if m:
                lines.append(f"| {kind} | " + " | ".join(_fmt(m.get(k)) for k in keys) + " |")
        lines.append("")
    model = metrics.get("model")
    if model:
        lines += ["## Model", "", "| " + " | ".join(model) + " |", "|---" * len(model) + "|",
                  "| " + " | ".join(_fmt(v) for v in model.values()) + " |", ""]
    tl = metrics.get("tflm_vs_litert")
    if tl:
        lines += [f"TFLM vs LiteRT on {tl['n_windows']} test windows: {tl['mismatches']} of {tl['n_outputs']} "
                  f"int8 outputs differ, by at most {tl['max_step']} quantization step.", ""]
    if figures:
        lines += ["## Figures", ""]
        for caption, rel in figures.items():
            lines += [f"### {caption}", "", f"![{caption}]({rel})", ""]
    return "\n".join(lines)
