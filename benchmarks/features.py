"""Log-mel extraction throughput: edgesynth's cached, parallel extractor vs a plain librosa loop.

Run from the repo root::

    python -m benchmarks.features            # 24 clips of 10 s at 16 kHz, 3 repetitions
    python -m benchmarks.features --quick    # 4 clips, 1 repetition (smoke run)

Throughput is *seconds of audio per second of compute* (higher is better), for the same DCASE
features (128 mels, n_fft 1024, hop 512, 5 frames = 640 values per 3072-sample window, windows
every 3072 samples): a plain per-file loop (``soundfile.read`` + ``librosa.feature.melspectrogram``
+ ``10*log10(mel + eps)`` + stacking), and ``extract_features_files`` with 1 and 2 workers (cold
cache: a fresh cache folder per repetition), and a warm-cache rerun.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import md_table, timeit, write_results

SR = 16000
SECONDS = 10.0


def make_clips(folder: Path, n: int, seed: int = 0) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * SECONDS)) / SR
    paths = []
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(t.size)
        p = folder / f"normal_id_00_{i:08d}.wav"
        sf.write(str(p), x.astype(np.float32), SR, subtype="PCM_16")
        paths.append(p)
    return paths


def librosa_loop(paths) -> np.ndarray:
    """The baseline: one file after another, librosa directly."""
    import librosa
    import soundfile as sf

    out = []
    for p in paths:
        y, sr = sf.read(str(p), dtype="float32")
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=128,
                                             power=2.0, center=False)
        logmel = 10.0 * np.log10(mel + sys.float_info.epsilon)  # (128, n_frames)
        n_win = 1 + (y.size - 3072) // 3072
        out.append(np.stack([logmel[:, 6 * i:6 * i + 5].T.reshape(-1) for i in range(n_win)]))
    return np.concatenate(out).astype(np.float32)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 clips, 1 repetition")
    ap.add_argument("--clips", type=int, default=None)
    args = ap.parse_args(argv)
    n_clips = args.clips or (4 if args.quick else 24)
    repeat = 1 if args.quick else 3

    from edgesynth.data.cache import extract_features_files
    from edgesynth.data.features import FeaturePipeline

    fp = FeaturePipeline(kind="logmel", sr=float(SR))
    audio_s = n_clips * SECONDS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        paths = make_clips(tmp / "clips", n_clips)
        counter = iter(range(10**6))

        def ours(n_jobs):
            def run():
                return extract_features_files(paths, fp, cache_dir=tmp / f"cache{next(counter)}",
                                              n_jobs=n_jobs, progress=False)
            return run

        ref = librosa_loop(paths)
        check = ours(1)()
        max_diff = float(np.abs(np.asarray(check.F) - ref).max())
        warm_dir = tmp / "warm"
        extract_features_files(paths, fp, cache_dir=warm_dir, progress=False)

        rows, data = [], {"n_clips": n_clips, "clip_seconds": SECONDS, "sr": SR, "repeat": repeat,
                          "features": fp.to_dict(), "max_abs_diff_db_vs_librosa": max_diff, "results": {},
                          "cpu_count": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())}
        cases = [
            ("librosa loop (1 process)", lambda: librosa_loop(paths)),
            ("edgesynth, 1 worker, cold cache", ours(1)),
            ("edgesynth, 2 workers, cold cache", ours(2)),
            ("edgesynth, warm cache", lambda: extract_features_files(paths, fp, cache_dir=warm_dir, progress=False)),
        ]
        base = None
        for name, fn in cases:
            t = timeit(fn, repeat=repeat, warmup=1)
            thr = audio_s / (t["median_us"] / 1e6)
            base = base or thr
            data["results"][name] = {**t, "audio_seconds_per_second": thr, "ratio_vs_librosa_loop": thr / base}
            rows.append([name, t["median_us"] / 1e6, t["p99_us"] / 1e6, thr, thr / base])

    md = "\n".join([
        "# Log-mel feature extraction throughput",
        "",
        md_table(["method", "median s", "p99 s", "audio s / compute s", "x librosa loop"], rows),
        "",
        f"Max |difference| of edgesynth features vs the librosa loop: {max_diff:.2e} dB. "
        f"Machine: {os.cpu_count()} CPU(s), load average {data['loadavg_at_start'][0]:.1f} at start "
        "(worker scaling is only visible on idle cores).",
        "",
        "**Method.** "
        f"{n_clips} simulated clips of {SECONDS:g} s at {SR} Hz (sine + noise, 16-bit WAV) in a temporary "
        "folder. Each method runs once untimed (warm-up: imports, worker start-up, OS file cache), then "
        f"{repeat} timed repetition(s) with `time.perf_counter_ns`; the table gives the median and p99 "
        "of the whole-corpus time and the throughput at the median. Timed: reading every file, "
        "framing, log-mel (128 mels, n_fft 1024, hop 512, 5 frames, 3072-sample windows every "
        "3072 samples) and, for edgesynth, hashing each file, writing the per-file `.npy` cache and "
        "the combined memmap (cold runs use a fresh cache folder per repetition). The warm-cache row "
        "re-hashes every file and reads the cache. Ratios compare runs made in this same process.",
    ])
    write_results("features", data, md)
    print(md)
    return data


if __name__ == "__main__":
    main()
