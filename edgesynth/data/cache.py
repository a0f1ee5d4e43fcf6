"""Feature extraction for corpora larger than memory: file by file, in parallel, cached on disk.

:func:`extract_features_files` reads one WAV file at a time in each worker process (joblib), cuts
it into windows, computes its features and saves them as ``<cache_dir>/<key>.npy``; only the
small per-file summary travels back to the parent. ``key`` is the sha256 of the file's bytes,
the feature pipeline (:meth:`FeaturePipeline.to_dict`), the framing options and a cache version,
so changing any of them makes a new key (a cache miss), and renaming or moving a file does not.
The per-file arrays are then copied one by one into a single ``.npy`` memmap (also cached, keyed
by the list of file keys), so peak memory is one file's windows plus one file's features, whatever
the corpus size.

Example
-------
>>> res = extract_features_files(paths, FeaturePipeline(kind="logmel", sr=16000.0),
...                              cache_dir="~/.cache/edgesynth", n_jobs=2)   # doctest: +SKIP
>>> res.F.shape, res.hits, res.misses                                        # doctest: +SKIP
((5200, 640), 0, 100)
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgesynth.data.features import FeaturePipeline
from edgesynth.data.loaders import DEFAULT_WAV_WINDOW, read_wav, sha256_file
from edgesynth.data.windows import frame
from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_positive_int

CACHE_VERSION = 1


@dataclass
class CachedFeatures:
    """Result of :func:`extract_features_files`.

    Attributes
    ----------
    F : np.memmap [shape=(n_windows, n_features), dtype=float32]
        Features of every window of every file, in file order (read-only memmap).
    groups : np.ndarray [shape=(n_windows,), dtype=int64]
        Index into ``files`` of each row.
    files : list of str
    keys : list of str
        Cache key of each file.
    hits, misses : int
        Files read from the cache / computed in this call.
    path : Path
        The combined ``.npy`` file behind ``F``.
    """

    F: np.ndarray
    groups: np.ndarray
    files: list[str]
    keys: list[str]
    hits: int
    misses: int
    path: Path
    info: dict = field(default_factory=dict)


def _params(pipeline: FeaturePipeline, window_length, hop_length, channel, sr, resample) -> dict:
    return {"cache_version": CACHE_VERSION, "features": pipeline.to_dict(), "window_length": window_length,
            "hop_length": hop_length, "channel": channel, "sr": sr, "resample": bool(resample)}


def _key(file_sha: str, params: dict) -> str:
    blob = json.dumps({"file": file_sha, **params}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _extract_one(path: str, params: dict, pipeline_dict: dict, cache_dir: str, mel_basis=None) -> tuple[str, int, bool]:
    """Worker: (key, n_windows, was_cached). Writes ``<cache_dir>/<key>.npy`` on a miss."""
    key = _key(sha256_file(path), params)
    target = Path(cache_dir) / f"{key}.npy"
    if target.is_file():
        try:
            return key, int(np.load(target, mmap_mode="r").shape[0]), True
        except (ValueError, OSError):  # damaged cache entry: recompute it
            target.unlink(missing_ok=True)
    pipeline = FeaturePipeline.from_dict(pipeline_dict)
    if mel_basis is not None:  # computed once by the parent: workers need not import librosa
        pipeline._mel_basis = mel_basis
    sig, _ = read_wav(path, channel=params["channel"], sr=params["sr"], resample=params["resample"])
    W = frame(sig, window_length=params["window_length"], hop_length=params["hop_length"], source=path)
    if not np.isfinite(W).all():
        raise DataError(f"{path}: contains NaN or infinite samples")
    F = pipeline.transform(W)
    _save_npy(target, F)
    return key, int(F.shape[0]), False


def extract_features_files(
    paths,
    pipeline: FeaturePipeline,
    *,
    cache_dir: str | os.PathLike,
    n_jobs: int = 1,
    window_length: int | None = None,
    hop_length: int | None = None,
    channel=None,
    sr: float | None = None,
    resample: bool = False,
    progress: bool = True,
) -> CachedFeatures:
    """Features of many WAV files, streamed file by file into an on-disk cache.

    Parameters
    ----------
    paths : sequence of str or Path
        WAV files, in the order rows should appear.
    pipeline : FeaturePipeline
        ``kind="logmel"`` needs ``pipeline.sr``; files at another rate are resampled
        (``resample=True``) or refused.
    cache_dir : str or Path
        Folder for ``<key>.npy`` files (created if missing).
    n_jobs : int
        Worker processes (joblib ``loky``); 1 runs in this process.
    window_length, hop_length : int, optional
        Framing; default for logmel ``pipeline.logmel_window_length()``, otherwise 3072;
        ``hop_length`` defaults to ``window_length``.
    channel, sr, resample
        As in :func:`edgesynth.data.loaders.read_wav`; ``sr`` defaults to ``pipeline.sr``.
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    CachedFeatures
        ``F`` (read-only ``np.memmap``), ``groups``, and ``hits``/``misses`` counters.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise DataError("extract_features_files: no files given")
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    if window_length is None:
        window_length = pipeline.logmel_window_length() if pipeline.kind == "logmel" else DEFAULT_WAV_WINDOW
    window_length = check_positive_int(window_length, "window_length")
    hop_length = window_length if hop_length is None else check_positive_int(hop_length, "hop_length")
    pipeline.n_features(window_length, 1)  # fail early on a window the pipeline cannot take
    if sr is None:
        sr = pipeline.sr
    for p in paths:
        if not Path(p).is_file():
            raise DataError(f"{p}: no such file")
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    params = _params(pipeline, window_length, hop_length, channel, None if sr is None else float(sr), resample)
    pdict = pipeline.to_dict()
    basis = pipeline.mel_basis() if pipeline.kind == "logmel" else None

    from tqdm.auto import tqdm

    bar = tqdm(total=len(paths), desc="features", unit="file", disable=not progress)
    try:
        if n_jobs == 1:
            results = []
            for p in paths:
                results.append(_extract_one(p, params, pdict, str(cache), basis))
                bar.update(1)
        else:
            from joblib import Parallel, delayed

            gen = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
                delayed(_extract_one)(p, params, pdict, str(cache), basis) for p in paths
            )
            results = []
            for r in gen:
                results.append(r)
                bar.update(1)
    finally:
        bar.close()

    keys = [k for k, _, _ in results]
    counts = np.array([n for _, n, _ in results], dtype=np.int64)
    hits = sum(1 for *_, h in results if h)
    combined = cache / ("all-" + hashlib.sha256("\n".join(keys).encode()).hexdigest() + ".npy")
    if not combined.is_file():
        _concat(cache, keys, counts, combined)
    F = np.load(combined, mmap_mode="r")
    if F.shape[0] != counts.sum():  # pragma: no cover - corrupted combined file
        combined.unlink()
        _concat(cache, keys, counts, combined)
        F = np.load(combined, mmap_mode="r")
    groups = np.repeat(np.arange(len(paths), dtype=np.int64), counts)
    return CachedFeatures(F=F, groups=groups, files=paths, keys=keys, hits=hits, misses=len(paths) - hits,
                          path=combined, info={"params": params, "n_windows_per_file": counts.tolist()})


def _concat(cache: Path, keys: list[str], counts: np.ndarray, target: Path) -> None:
    """Copy the per-file arrays one at a time into one .npy memmap (atomic rename at the end)."""
    first = np.load(cache / f"{keys[0]}.npy", mmap_mode="r")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(int(counts.sum()), first.shape[1]))
        row = 0
        for k, n in zip(keys, counts):
            part = np.load(cache / f"{k}.npy", mmap_mode="r")
            if part.shape[1] != first.shape[1]:
                raise ParameterError(f"cache entry {k}.npy has {part.shape[1]} features, expected {first.shape[1]}")
            out[row:row + n] = part
            row += n
        out.flush()
        del out
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["CachedFeatures", "extract_features_files", "CACHE_VERSION"]
