"""On-disk feature cache: streamed extraction, cache hits asserted by counters, invalidation."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wavfixtures import make_mimii, tone, write_wav  # noqa: E402

from edgesynth.data import load
from edgesynth.data.cache import extract_features_files
from edgesynth.data.features import FeaturePipeline
from edgesynth.data.loaders import scan_wav_folder
from edgesynth.errors import DataError


@pytest.fixture
def wav_files(tmp_path, rng):
    root = make_mimii(tmp_path / "fan", rng, n_normal=2, n_abnormal=1)
    return root, [e["path"] for e in scan_wav_folder(root)]


def test_second_run_reads_cache_and_params_invalidate(tmp_path, wav_files):
    root, paths = wav_files
    cache = tmp_path / "cache"
    fp = FeaturePipeline(kind="logmel", sr=16000.0)
    first = extract_features_files(paths, fp, cache_dir=cache, progress=False)
    assert (first.hits, first.misses) == (0, 3)
    assert isinstance(first.F, np.memmap) and first.F.shape[1] == 640
    # same features as loading the folder and transforming in memory
    ds = load(root)
    np.testing.assert_array_equal(np.asarray(first.F), fp.transform(ds.X))
    np.testing.assert_array_equal(first.groups, ds.groups)

    second = extract_features_files(paths, fp, cache_dir=cache, progress=False)
    assert (second.hits, second.misses) == (3, 0)
    assert second.path == first.path
    np.testing.assert_array_equal(np.asarray(second.F), np.asarray(first.F))

    changed = extract_features_files(paths, FeaturePipeline(kind="logmel", sr=16000.0, n_mels=64),
                                     cache_dir=cache, progress=False)
    assert (changed.hits, changed.misses) == (0, 3) and changed.F.shape[1] == 320
    hop = extract_features_files(paths, fp, cache_dir=cache, hop_length=1536, progress=False)
    assert hop.misses == 3 and hop.F.shape[0] > first.F.shape[0]


def test_changed_file_content_misses_only_that_file(tmp_path, wav_files, rng):
    _, paths = wav_files
    cache = tmp_path / "cache"
    fp = FeaturePipeline(kind="spectrum", n_bands=16)
    extract_features_files(paths, fp, cache_dir=cache, window_length=1024, progress=False)
    write_wav(paths[0], tone(rng, 8000, freq=300))
    again = extract_features_files(paths, fp, cache_dir=cache, window_length=1024, progress=False)
    assert (again.hits, again.misses) == (2, 1)


def test_two_workers_match_one(tmp_path, wav_files):
    _, paths = wav_files
    fp = FeaturePipeline(kind="logmel", sr=16000.0, n_mels=32)
    one = extract_features_files(paths, fp, cache_dir=tmp_path / "c1", n_jobs=1, progress=False)
    two = extract_features_files(paths, fp, cache_dir=tmp_path / "c2", n_jobs=2, progress=False)
    assert two.misses == 3
    np.testing.assert_array_equal(np.asarray(two.F), np.asarray(one.F))


def test_bad_files_in_extraction(tmp_path, wav_files, rng):
    _, paths = wav_files
    fp = FeaturePipeline(kind="logmel", sr=16000.0)
    with pytest.raises(DataError, match=r"gone\.wav: no such file"):
        extract_features_files([tmp_path / "gone.wav"], fp, cache_dir=tmp_path / "c", progress=False)
    other = write_wav(tmp_path / "8k.wav", tone(rng, 8000, sr=8000), sr=8000)
    with pytest.raises(DataError, match=r"8k\.wav: sample rate 8000 Hz differs"):
        extract_features_files([other], fp, cache_dir=tmp_path / "c", progress=False)
    ok = extract_features_files([other], fp, cache_dir=tmp_path / "c", resample=True, progress=False)
    assert ok.F.shape == (5, 640)
    with pytest.raises(DataError, match="no files"):
        extract_features_files([], fp, cache_dir=tmp_path / "c", progress=False)
