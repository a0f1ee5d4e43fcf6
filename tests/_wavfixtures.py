"""Write small WAV fixtures (sines + noise) in MIMII and DCASE 2020 layouts, for loader tests.

Independent of the simulator: plain numpy signals written with soundfile.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(rng, n_samples: int, *, sr: int = SR, freq: float = 440.0, noise: float = 0.05, n_channels: int = 1):
    """A sine (plus a harmonic per channel) with Gaussian noise; float32 (n_samples, n_channels)."""
    t = np.arange(n_samples) / sr
    chans = [0.3 * np.sin(2 * np.pi * freq * (1 + 0.5 * c) * t) + noise * rng.standard_normal(n_samples)
             for c in range(n_channels)]
    return np.stack(chans, axis=1).astype(np.float32)


def write_wav(path: Path, x, *, sr: int = SR, subtype: str = "FLOAT") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def make_mimii(root: Path, rng, *, n_normal: int = 2, n_abnormal: int = 1, seconds: float = 0.5,
               machine_ids=("id_00",)) -> Path:
    """``root/id_XX/{normal,abnormal}/NNNNNNNN.wav``."""
    n = int(seconds * SR)
    for mid in machine_ids:
        for k in range(n_normal):
            write_wav(root / mid / "normal" / f"{k:08d}.wav", tone(rng, n, freq=440))
        for k in range(n_abnormal):
            write_wav(root / mid / "abnormal" / f"{k:08d}.wav", tone(rng, n, freq=1200, noise=0.2))
    return root


def make_dcase(root: Path, rng, *, n_train: int = 2, n_test_normal: int = 1, n_test_anomaly: int = 1,
               seconds: float = 0.5, machine_id: str = "id_00") -> Path:
    """``root/train/normal_id_XX_*.wav`` and ``root/test/{normal,anomaly}_id_XX_*.wav``."""
    n = int(seconds * SR)
    for k in range(n_train):
        write_wav(root / "train" / f"normal_{machine_id}_{k:08d}.wav", tone(rng, n, freq=440))
    for k in range(n_test_normal):
        write_wav(root / "test" / f"normal_{machine_id}_{k:08d}.wav", tone(rng, n, freq=440))
    for k in range(n_test_anomaly):
        write_wav(root / "test" / f"anomaly_{machine_id}_{k:08d}.wav", tone(rng, n, freq=1200, noise=0.2))
    return root
