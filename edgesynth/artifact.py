"""Artifact directories, manifests and atomic writes.

Every command that produces something on disk writes a *directory* with a ``manifest.json``
describing how it was made (versions, data source and hash, feature pipeline, normalization,
threshold, quantization parameters) and the sha256 of every file in it, so any later step can
rebuild the context without the original command line.

Writes are atomic:

* single files go to a temporary file in the same folder, then :func:`os.replace`;
* whole artifact directories are built in a hidden sibling ``.DIR.tmp-XXXX`` by
  :class:`ArtifactWriter` and renamed into place only when the block finishes without error, so
  an interrupted run leaves the previous artifact (or nothing), never a half-written one.

Example
-------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with ArtifactWriter(root / "model", kind="detector") as w:
...     _ = w.write_json("metrics.json", {"auc": 0.99})
...     w.manifest["threshold"] = {"value": 0.5}
>>> read_manifest(root / "model")["threshold"]
{'value': 0.5}
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgesynth.errors import ModelError, ParameterError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- atomic files
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_sibling(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the usual permissions
    return Path(name)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def to_json(obj: Any) -> str:
    """Serialize ``obj`` (numpy scalars and arrays allowed) to pretty, key-sorted JSON."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON atomically."""
    return atomic_write_text(path, to_json(obj))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    For libraries that insist on writing a file themselves (``model.save``, ``savefig``, ``np.savez``)::

        with atomic_path(out / "detector.keras") as tmp:
            model.save(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if tmp.is_dir():
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()


# --------------------------------------------------------------------------- hashing, versions
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks (works on files larger than memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def versions() -> dict[str, str | None]:
    """Versions of edgesynth and the runtimes that shape an artifact (no heavy imports)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in (
        "edgesynth",
        "tensorflow",
        "tf-keras",
        "tensorflow-model-optimization",
        "ai-edge-litert",
        "tflite-micro",
        "librosa",
        "numpy",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# --------------------------------------------------------------------------- manifests
def new_manifest(kind: str) -> dict[str, Any]:
    """A fresh manifest skeleton for an artifact of ``kind`` (``detector``, ``synth``, ...)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "files": {},
    }


def file_hashes(directory: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for every file below ``directory`` except the manifest."""
    directory = Path(directory)
    return {
        p.relative_to(directory).as_posix(): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
    }


def write_manifest(directory: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Hash every file in ``directory`` into ``manifest['files']`` and write it atomically."""
    directory = Path(directory)
    manifest = dict(manifest)
    manifest["files"] = file_hashes(directory)
    return atomic_write_json(directory / MANIFEST, manifest)


def read_manifest(directory: str | os.PathLike, *, verify: bool = True, kind: str | None = None) -> dict[str, Any]:
    """Read ``DIR/manifest.json``; with ``verify``, check every listed file's sha256.

    Raises :class:`ModelError` naming the directory and the problem (missing manifest, corrupt
    JSON, missing or modified file, wrong kind).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"artifact directory {str(directory)!r} does not exist")
    path = directory / MANIFEST
    if not path.is_file():
        raise ModelError(f"{str(directory)!r} is not an edgesynth artifact: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or "kind" not in manifest:
        raise ModelError(f"{str(path)!r} is not an edgesynth manifest (no 'kind')")
    if kind is not None and manifest["kind"] != kind:
        raise ModelError(
            f"{str(directory)!r} holds a {manifest['kind']!r} artifact; expected a {kind!r} artifact"
        )
    if verify:
        for rel, digest in manifest.get("files", {}).items():
            f = directory / rel
            if not f.is_file():
                raise ModelError(f"artifact {str(directory)!r} is missing {rel!r} listed in its manifest")
            if sha256_file(f) != digest:
                raise ModelError(
                    f"artifact file {str(f)!r} does not match the sha256 in its manifest (modified or corrupt)"
                )
    return manifest


class ArtifactWriter:
    """Build an artifact directory atomically.

    Files are written into a hidden temporary sibling; on a clean exit the manifest (with file
    hashes) is written and the directory is renamed to ``path``, replacing an older artifact
    there. On an exception the temporary directory is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        Final artifact directory.
    kind : str
        Artifact kind recorded in the manifest.
    manifest : dict, optional
        Initial manifest content (merged over :func:`new_manifest`).
    """

    def __init__(self, path: str | os.PathLike, *, kind: str, manifest: dict | None = None):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ParameterError(f"`--out` must be a directory; {str(self.path)!r} is a file")
        self.manifest = new_manifest(kind)
        if manifest:
            self.manifest.update(manifest)
        self.tmp: Path | None = None

    def __enter__(self) -> "ArtifactWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent))
        os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        return self

    def file(self, rel: str) -> Path:
        """Path of ``rel`` inside the temporary directory (parents created)."""
        assert self.tmp is not None, "use ArtifactWriter as a context manager"
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_bytes(self, rel: str, data: bytes) -> Path:
        p = self.file(rel)
        p.write_bytes(data)
        return p

    def write_text(self, rel: str, text: str) -> Path:
        return self.write_bytes(rel, text.encode("utf-8"))

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_text(rel, to_json(obj))

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            write_manifest(self.tmp, self.manifest)
            old = None
            if self.path.exists():
                old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
                os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        return False


def update_artifact(path: str | os.PathLike, writer_fn) -> dict[str, Any]:
    """Atomically add or replace files in an existing artifact directory.

    Copies the artifact to a temporary sibling, calls ``writer_fn(tmp_dir, manifest)`` (which may
    write files and edit the manifest dict in place), re-hashes and renames it into place.
    Used by ``export`` to add ``firmware/`` to a detector artifact.
    """
    path = Path(path)
    manifest = read_manifest(path)
    with ArtifactWriter(path, kind=manifest["kind"]) as w:
        shutil.rmtree(w.tmp)
        shutil.copytree(path, w.tmp)
        (w.tmp / MANIFEST).unlink(missing_ok=True)
        w.manifest = manifest
        writer_fn(w.tmp, w.manifest)
    return read_manifest(path)
