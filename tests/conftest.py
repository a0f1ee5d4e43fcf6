"""Shared fixtures: seeded RNG, the ECG5000 files from ../shared (skipped cleanly when absent)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGESYNTH_SHARED", ROOT.parent / "shared"))
ECG5000_DIR = SHARED / "datasets" / "ecg5000"
REFERENCE_DIR = SHARED / "reference_models"


@pytest.fixture
def rng():
    """A fresh, seeded generator (librosa's 440) for each test."""
    return np.random.default_rng(440)


@pytest.fixture(scope="session")
def ecg5000_dir() -> Path:
    """Folder with ECG5000_TRAIN.tsv / ECG5000_TEST.tsv; skips when the shared data is absent."""
    if not (ECG5000_DIR / "ECG5000_TRAIN.tsv").is_file():
        pytest.skip(f"ECG5000 not found under {ECG5000_DIR} (shared data absent)")
    return ECG5000_DIR


@pytest.fixture(scope="session")
def ecg5000(ecg5000_dir):
    """(X_train, y_train, X_test, y_test) as float32 (n, 140) and raw integer class labels 1..5."""
    def read(name):
        arr = np.loadtxt(ecg5000_dir / name, delimiter="\t", dtype=np.float64)
        return arr[:, 1:].astype(np.float32), arr[:, 0].astype(int)

    Xtr, ytr = read("ECG5000_TRAIN.tsv")
    Xte, yte = read("ECG5000_TEST.tsv")
    return Xtr, ytr, Xte, yte


@pytest.fixture(scope="session")
def reference_model_path() -> Path:
    """The MLPerf Tiny ad01 int8 model; skips when the shared folder is absent."""
    p = REFERENCE_DIR / "ad01_int8.tflite"
    if not p.is_file():
        pytest.skip(f"reference model not found at {p}")
    return p


def require_tool(name: str) -> str:
    """Path of an external tool; in CI (CI=true) a missing tool is a failure, locally a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (.ci/run installs it) but is not on PATH")
        pytest.skip(f"{name} not installed")
    return path


@pytest.fixture(scope="session")
def demo_artifact(tmp_path_factory) -> Path:
    """``edgesynth demo --quick`` run once per session (through the CLI entry point, in-process)."""
    from edgesynth.cli import main

    out = tmp_path_factory.mktemp("demo") / "artifact"
    rc = main(["demo", "--out", str(out), "--quick", "--quiet", "--seed", "0"])
    assert rc == 0
    return out
