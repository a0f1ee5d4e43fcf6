"""Artifact directories: manifest round trip, hashes, atomic writes."""
import json
import os

import numpy as np
import pytest

from edgesynth.artifact import (
    ArtifactWriter,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    read_manifest,
    sha256_file,
    to_json,
    update_artifact,
)
from edgesynth.errors import ModelError, ParameterError


def test_manifest_round_trip(tmp_path):
    out = tmp_path / "art"
    with ArtifactWriter(out, kind="detector") as w:
        w.write_bytes("detector_int8.tflite", b"\x01\x02")
        w.write_json("metrics.json", {"auc": np.float32(0.5), "arr": np.arange(3)})
        w.manifest["threshold"] = {"value": 0.25}
        w.manifest["normalization"] = {"mean": [0.1, 0.2]}
    m = read_manifest(out, kind="detector")
    assert m["threshold"] == {"value": 0.25}
    assert m["normalization"] == {"mean": [0.1, 0.2]}
    assert set(m["files"]) == {"detector_int8.tflite", "metrics.json"}
    assert m["files"]["detector_int8.tflite"] == sha256_file(out / "detector_int8.tflite")
    assert m["versions"]["numpy"] == np.__version__
    assert json.loads((out / "metrics.json").read_text()) == {"arr": [0, 1, 2], "auc": 0.5}


def test_modified_file_is_detected(tmp_path):
    out = tmp_path / "art"
    with ArtifactWriter(out, kind="detector") as w:
        w.write_bytes("a.bin", b"abc")
    (out / "a.bin").write_bytes(b"abd")
    with pytest.raises(ModelError, match="does not match the sha256"):
        read_manifest(out)
    read_manifest(out, verify=False)  # explicit opt-out still reads


def test_missing_and_wrong_kind(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        read_manifest(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no manifest.json"):
        read_manifest(tmp_path / "empty")
    with ArtifactWriter(tmp_path / "s", kind="synth"):
        pass
    with pytest.raises(ModelError, match="expected a 'detector' artifact"):
        read_manifest(tmp_path / "s", kind="detector")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_manifest(tmp_path / "bad")


def test_interrupted_write_keeps_previous_artifact(tmp_path):
    out = tmp_path / "art"
    with ArtifactWriter(out, kind="detector") as w:
        w.write_text("report.md", "old")
    with pytest.raises(RuntimeError, match="boom"):
        with ArtifactWriter(out, kind="detector") as w:
            w.write_text("report.md", "new, half written")
            raise RuntimeError("boom")
    assert (out / "report.md").read_text() == "old"
    read_manifest(out)
    # no temporary directories left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


def test_interrupted_first_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with ArtifactWriter(tmp_path / "art", kind="detector") as w:
            w.write_text("x", "y")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_writer_replaces_old_artifact_files(tmp_path):
    out = tmp_path / "art"
    with ArtifactWriter(out, kind="detector") as w:
        w.write_text("old_only.txt", "x")
    with ArtifactWriter(out, kind="detector") as w:
        w.write_text("new.txt", "y")
    assert not (out / "old_only.txt").exists()
    assert set(read_manifest(out)["files"]) == {"new.txt"}


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ParameterError, match="is a file"):
        ArtifactWriter(f, kind="detector")


def test_atomic_write_failure_keeps_old(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    atomic_write_json(p, {"v": 1})

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(p, b"partial")
    monkeypatch.undo()
    assert json.loads(p.read_text()) == {"v": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_atomic_path_removes_tmp_on_error(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "m.keras") as tmp:
            tmp.write_bytes(b"half")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_to_json_rejects_nan():
    with pytest.raises(ValueError):
        to_json({"x": float("nan")})


def test_update_artifact_adds_files_atomically(tmp_path):
    out = tmp_path / "art"
    with ArtifactWriter(out, kind="detector") as w:
        w.write_text("a.txt", "a")

    def add(tmp, man):
        (tmp / "firmware").mkdir()
        (tmp / "firmware" / "x.h").write_text("// x")
        man["firmware"] = {"tflm": {"name": "x"}}

    m = update_artifact(out, add)
    assert set(m["files"]) == {"a.txt", "firmware/x.h"}
    assert m["firmware"]["tflm"]["name"] == "x"

    def fail(tmp, man):
        (tmp / "half.txt").write_text("h")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        update_artifact(out, fail)
    assert not (out / "half.txt").exists()
    read_manifest(out)


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    import stat

    from edgesynth.artifact import ArtifactWriter, atomic_write_text

    mask = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "a.h", "x")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        with ArtifactWriter(tmp_path / "art", kind="test", manifest={}) as w:
            w.write_text("f.txt", "y")
        assert stat.S_IMODE((tmp_path / "art").stat().st_mode) == 0o755
    finally:
        os.umask(mask)
