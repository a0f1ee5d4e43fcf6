"""Read real recordings into a :class:`~edgesynth.data.Dataset`: one entry point, :func:`load`.

Formats (chosen by suffix; a directory is a WAV folder):

=================  ===============================================================================
``.tsv``/``.txt``  UCR archive: one series per line, label in the first column; tab, comma or
                   whitespace separated (detected from the first line).
``.arff``          Weka ARFF (dense): one series per ``@data`` row, label in the last attribute.
``.csv``           Header required; ``,`` or ``;`` separator (``;`` files may use a decimal comma).
                   Without ``window_length`` each row is one window (columns are time steps, like
                   UCR with a header). With ``window_length`` the file is one long recording: rows
                   are samples, every column except ``label_column`` and ``time_column`` is a
                   channel, and windows take a label from the per-sample labels by ``label_rule``;
                   ``groups`` are 10 contiguous time segments (windows overlapping a segment
                   boundary, possible only when ``hop_length < window_length``, share samples).
``.npz``           ``X`` of shape (n, length) or (n, length, channels); optional ``y`` (0/1, or
                   class labels with ``normal_label``), ``labels``, ``sr``, ``channel_names``,
                   ``groups``.
``.wav``           One recording, unlabelled, cut into windows.
directory          WAV folder, MIMII layout (``[id_XX/]normal/*.wav``, ``[id_XX/]abnormal/*.wav``)
                   or DCASE 2020 Task 2 layout (``train/normal_id_XX_*.wav``,
                   ``test/{normal,anomaly}_id_XX_*.wav``), or a plain folder (unlabelled).
=================  ===============================================================================

Labels: ``y = (label != normal_label)``; ``normal_label`` defaults to ``"1"`` for UCR/ARFF, to
``"0"`` when the labels are 0/1, to ``"normal"`` for WAV folders. Numeric labels are normalised
(``"1.0000000e+00"`` -> ``"1"``), so ``normal_label=1`` and ``"1.0"`` both work.

WAV folders: every file is read (mixed down to mono by default, ``channel=i`` picks one channel,
``channel="all"`` keeps them), checked against the sample rate (``sr``, default the first file's;
mismatches are resampled with ``resample=True`` or refused) and cut into windows of
``window_length`` samples (default 3072 = the DCASE/MLPerf Tiny log-mel window,
``FeaturePipeline(kind="logmel").logmel_window_length()``) every ``hop_length`` samples (default:
``window_length``, no overlap, everywhere). ``groups`` holds the file index of each window, so splits
keep whole files on one side; ``meta["files"]``, ``meta["split"]`` (``"train"``/``"test"`` per file
for DCASE) and ``meta["machine_ids"]`` describe the files. For folders larger than memory use
:func:`edgesynth.data.cache.extract_features_files` instead, which streams features file by file.

Every problem raises :class:`~edgesynth.errors.DataError` (bad data) or
:class:`~edgesynth.errors.ParameterError` (bad option) with a message ``"<file>: <problem>"``.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np

from edgesynth.data.dataset import Dataset
from edgesynth.data.windows import LABEL_RULES, frame, window_labels
from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_positive_int

log = logging.getLogger(__name__)

DEFAULT_WAV_WINDOW = 3072  # n_fft + 4 * hop_length of the DCASE log-mel: 5 frames = 640 features
#: WAV corpora whose files add up to more than this many bytes are windowed into a disk-backed
#: array (``np.memmap`` in the temp folder, unlinked once mapped) instead of RAM; see
#: :func:`load_wav_folder`'s ``spill``.
SPILL_BYTES = 512 * 1024 * 1024
TEXT_SUFFIXES = (".tsv", ".txt")
_ID_RE = re.compile(r"id_(\d+)")


# --------------------------------------------------------------------------- small helpers
def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def normalize_label(value) -> str:
    """Canonical string of a label: integral numbers lose their decimals (``1.0`` -> ``"1"``)."""
    s = str(value).strip().strip("'\"")
    try:
        v = float(s)
    except ValueError:
        return s
    if np.isfinite(v) and v == int(v):
        return str(int(v))
    return s


def _labels_to_y(labels: np.ndarray, normal_label, default, source: str) -> tuple[np.ndarray, str]:
    found = sorted(set(labels.tolist()))
    if normal_label is None:
        if default is not None and default in found:
            normal_label = default
        elif set(found) <= {"0", "1"}:
            normal_label = "0"
        elif "normal" in found:
            normal_label = "normal"
        else:
            raise DataError(
                f"{source}: cannot tell which label is normal; pass normal_label (--normal-label). "
                f"Labels found: {found}"
            )
    normal_label = normalize_label(normal_label)
    if normal_label not in found:
        raise DataError(
            f"{source}: unknown normal label {normal_label!r}: it does not occur in the data. Labels found: {found}"
        )
    return (labels != normal_label).astype(np.int8), normal_label


def require_two_classes(ds: Dataset, what: str = "this step") -> Dataset:
    """Return ``ds`` if it holds normal *and* anomalous windows, else raise :class:`DataError`."""
    src = ds.source or "dataset"
    if ds.y is None:
        raise DataError(f"{src}: {what} needs labelled data (normal and anomaly); this data has no labels")
    n_anom = int(np.sum(ds.y == 1))
    n_norm = int(ds.y.size - n_anom)
    if n_anom == 0 or n_norm == 0:
        only = "normal" if n_anom == 0 else "anomalous"
        raise DataError(
            f"{src}: {what} needs two classes (normal and anomaly) but all {ds.y.size} windows are {only}"
        )
    return ds


def _handle_nonfinite(X: np.ndarray, on_nonfinite: str, source: str, unit: str = "row"):
    """Return (X, keep_mask or None, n_dropped)."""
    flat = X.reshape(X.shape[0], -1)
    bad = ~np.isfinite(flat).all(axis=1)
    if not bad.any():
        return X, None, 0
    nbad = int(bad.sum())
    if on_nonfinite == "raise":
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: {nbad} {unit}(s) contain NaN or infinite values (first: {unit} {first + 1}); "
            f"fix the file or pass on_nonfinite='drop'"
        )
    keep = ~bad
    if not keep.any():
        raise DataError(f"{source}: every {unit} contains NaN or infinite values; nothing left after dropping")
    log.info("%s: dropped %d %s(s) with NaN/inf values", source, nbad, unit)
    return X[keep], keep, nbad


def _parse_table(rows: list[list[str]], line_numbers: list[int], source: str) -> np.ndarray:
    """Strings -> float64 matrix with errors naming line and column."""
    widths = Counter(len(r) for r in rows)
    if len(widths) > 1:
        expected = widths.most_common(1)[0][0]
        i = next(i for i, r in enumerate(rows) if len(r) != expected)
        raise DataError(
            f"{source}: ragged rows: line {line_numbers[i]} has {len(rows[i])} values, expected {expected}"
        )
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        pass
    for i, r in enumerate(rows):
        for j, cell in enumerate(r):
            try:
                float(cell)
            except ValueError:
                raise DataError(
                    f"{source}: non-numeric value {cell!r} at line {line_numbers[i]}, column {j + 1}"
                ) from None
    raise DataError(f"{source}: could not parse numbers")  # pragma: no cover


def _read_lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, ln) for i, ln in lines if ln]
    if not lines:
        raise DataError(f"{path}: empty file (no data rows)")
    return lines


# --------------------------------------------------------------------------- text formats
def _split_ucr(line: str, delim: str | None) -> list[str]:
    return [c.strip() for c in line.split(delim)] if delim else line.split()


def load_ucr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """UCR text file -> (X float64 (n, length), labels str (n,))."""
    lines = _read_lines(path)
    first = lines[0][1]
    delim = "\t" if "\t" in first else ("," if "," in first else None)
    rows = [_split_ucr(ln, delim) for _, ln in lines]
    if len(rows[0]) < 2:
        raise DataError(f"{path}: each line needs a label and at least one value; line {lines[0][0]} has {len(rows[0])}")
    M = _parse_table(rows, [i for i, _ in lines], str(path))
    labels = np.array([normalize_label(r[0]) for r in rows])
    return M[:, 1:], labels


def load_arff(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Dense ARFF -> (X float64 (n, n_attributes - 1), labels str (n,)); label = last attribute."""
    lines = _read_lines(path)
    n_attr, data_start = 0, None
    for k, (_, ln) in enumerate(lines):
        low = ln.lower()
        if low.startswith("%"):
            continue
        if low.startswith("@attribute"):
            n_attr += 1
        elif low.startswith("@data"):
            data_start = k + 1
            break
    if data_start is None:
        raise DataError(f"{path}: not an ARFF file (no @data section)")
    body = [(i, ln) for i, ln in lines[data_start:] if not ln.startswith("%")]
    if not body:
        raise DataError(f"{path}: empty file (no rows after @data)")
    if body[0][1].startswith("{"):
        raise DataError(f"{path}: sparse ARFF is not supported; write a dense ARFF")
    rows = [[c.strip().strip("'\"") for c in ln.split(",")] for _, ln in body]
    rows = [["nan" if c == "?" else c for c in r] for r in rows]
    if n_attr and len(rows[0]) != n_attr:
        raise DataError(f"{path}: line {body[0][0]} has {len(rows[0])} values but the header declares {n_attr} attributes")
    M = _parse_table([r[:-1] for r in rows], [i for i, _ in body], str(path))
    widths = {len(r) for r in rows}
    if len(widths) > 1:  # label column missing on some rows
        _parse_table(rows, [i for i, _ in body], str(path))
    labels = np.array([normalize_label(r[-1]) for r in rows])
    return M, labels


def _read_csv(path: Path):
    lines = _read_lines(path)
    header = lines[0][1]
    sep = ";" if header.count(";") > header.count(",") else ","
    names = [c.strip().strip("'\"") for c in header.split(sep)]
    body = lines[1:]
    if not body:
        raise DataError(f"{path}: empty file (a header but no data rows)")
    rows = [[c.strip().strip("'\"") for c in ln.split(sep)] for _, ln in body]
    nums = [i for i, _ in body]
    for r, i in zip(rows, nums):
        if len(r) != len(names):
            raise DataError(f"{path}: ragged rows: line {i} has {len(r)} values, the header has {len(names)} columns")
    if sep == ";":  # decimal comma
        rows = [[c.replace(",", ".") for c in r] for r in rows]
    return names, rows, nums


def _column(names: list[str], col, what: str, path: Path) -> int:
    if col is None:
        return -1
    if isinstance(col, (int, np.integer)) and not isinstance(col, bool):
        if 0 <= col < len(names):
            return int(col)
    elif str(col) in names:
        return names.index(str(col))
    raise ParameterError(f"{path}: `{what}` {col!r} is not a column. Columns: {names}")


def _estimate_sr(times: list[str], path: Path) -> float | None:
    try:
        t = np.array(times, dtype=np.float64)
    except ValueError:
        try:
            t = np.array(times, dtype="datetime64[ns]").astype(np.int64) / 1e9
        except ValueError:
            return None
    d = np.diff(t)
    if d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise DataError(f"{path}: time column is not strictly increasing")
    return float(1.0 / np.median(d))


# --------------------------------------------------------------------------- WAV
def _check_riff(path: Path) -> None:
    """Detect truncated RIFF/WAVE files (libsndfile silently reads what is there)."""
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes), not a WAV file")
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not plain RIFF (RF64, W64, ...): let libsndfile judge
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, csize = struct.unpack("<4sI", fh.read(8))
            if cid == b"data":
                if csize not in (0, 0xFFFFFFFF) and pos + 8 + csize > size:
                    raise DataError(
                        f"{path}: truncated WAV: the header announces {csize} data bytes but only "
                        f"{size - pos - 8} are present"
                    )
                return
            pos += 8 + csize + (csize & 1)
    raise DataError(f"{path}: corrupt WAV: no data chunk")


def read_wav(
    path: str | os.PathLike,
    *,
    channel=None,
    sr: float | None = None,
    resample: bool = False,
) -> tuple[np.ndarray, float]:
    """Read one WAV file as float32 ``(n_samples, n_channels)`` at ``sr``.

    Parameters
    ----------
    channel : None, int or "all"
        ``None`` mixes down to mono (mean of the channels), an int picks that channel, ``"all"``
        keeps every channel.
    sr : float or None
        Expected sample rate; ``None`` accepts the file's.
    resample : bool
        When the file's rate differs from ``sr``: resample (librosa, soxr_hq) if True, else raise.
    """
    import soundfile as sf

    path = Path(path)
    _check_riff(path)
    try:
        with sf.SoundFile(str(path)) as f:
            file_sr, n_ch, n_frames = float(f.samplerate), f.channels, f.frames
            data = f.read(dtype="float32", always_2d=True)
    except (RuntimeError, sf.SoundFileError) as exc:
        raise DataError(f"{path}: corrupt or unreadable WAV ({exc})") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: empty WAV (0 samples)")
    if data.shape[0] != n_frames:
        raise DataError(f"{path}: truncated WAV: {data.shape[0]} of {n_frames} frames readable")
    if channel is None:
        data = data.mean(axis=1, keepdims=True)
    elif isinstance(channel, str):
        if channel not in ("all", "mix"):
            raise ParameterError(f"`channel` must be an int, None/'mix' or 'all'. Received: channel={channel!r}")
        if channel == "mix":
            data = data.mean(axis=1, keepdims=True)
    else:
        c = int(channel)
        if not 0 <= c < n_ch:
            raise ParameterError(f"{path}: `channel`={channel} but the file has {n_ch} channel(s)")
        data = data[:, c:c + 1]
    if sr is not None and float(sr) != file_sr:
        if not resample:
            raise DataError(
                f"{path}: sample rate {file_sr:g} Hz differs from the expected {float(sr):g} Hz; "
                f"pass resample=True to resample, or keep one rate per folder"
            )
        import librosa

        data = librosa.resample(data.T, orig_sr=file_sr, target_sr=float(sr), res_type="soxr_hq").T
        data = np.ascontiguousarray(data, dtype=np.float32)
        file_sr = float(sr)
    return np.ascontiguousarray(data), file_sr


def scan_wav_folder(folder: str | os.PathLike) -> list[dict]:
    """Find the WAV files of a folder and what their path says about them.

    Returns one dict per file (sorted by relative path): ``path``, ``rel``, ``label``
    (``"normal"``, ``"anomaly"`` or ``None``), ``split`` (``"train"``, ``"test"`` or ``None``),
    ``machine_id`` (``"id_00"`` or ``None``), and ``layout`` (``"dcase"``, ``"mimii"``, ``"plain"``).
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")
    if not files:
        raise DataError(f"{folder}: folder has no .wav files")
    out = []
    for p in files:
        rel = p.relative_to(folder)
        dirs = [d.lower() for d in rel.parts[:-1]]
        name = p.name.lower()
        label = split = None
        if "abnormal" in dirs or name.startswith(("anomaly", "abnormal")):
            label = "anomaly"
        elif "normal" in dirs or name.startswith("normal"):
            label = "normal"
        for d in dirs:
            if d in ("train", "test"):
                split = d
        m = _ID_RE.search(name) or next((_ID_RE.search(d) for d in dirs if _ID_RE.search(d)), None)
        layout = "dcase" if split else ("mimii" if {"normal", "abnormal"} & set(dirs) else "plain")
        out.append({"path": p, "rel": rel.as_posix(), "label": label, "split": split,
                    "machine_id": f"id_{m.group(1)}" if m else None, "layout": layout})
    kinds = {f["label"] is None for f in out}
    if len(kinds) > 1:
        odd = next(f["rel"] for f in out if f["label"] is None)
        raise DataError(
            f"{folder}: some WAV files are labelled by their path (normal/abnormal folders or "
            f"normal_/anomaly_ names) and others are not, e.g. {odd!r}"
        )
    return out


def load_wav_folder(
    folder: Path,
    *,
    window_length: int | None = None,
    hop_length: int | None = None,
    channel=None,
    sr: float | None = None,
    resample: bool = False,
    on_nonfinite: str = "raise",
    normal_label=None,
    spill: bool | None = None,
) -> Dataset:
    """A folder of WAV files -> windows with one group per file (see the module docstring).

    ``spill``: write the windows file by file to a disk-backed array (``np.memmap``) instead of
    holding them in RAM; ``None`` = when the WAV files add up to more than :data:`SPILL_BYTES`.
    Peak memory is then one file's windows, whatever the corpus size; everything downstream
    (features in batches, finiteness checks in chunks) reads the windows through the mapping.
    """
    folder = Path(folder)
    entries = scan_wav_folder(folder) if folder.is_dir() else [
        {"path": folder, "rel": folder.name, "label": None, "split": None, "machine_id": None, "layout": "file"}
    ]
    L = DEFAULT_WAV_WINDOW if window_length is None else check_positive_int(window_length, "window_length")
    H = L if hop_length is None else check_positive_int(hop_length, "hop_length")
    if spill is None:
        spill = sum(Path(e["path"]).stat().st_size for e in entries) > SPILL_BYTES
    spill_fh = None
    if spill:
        import tempfile

        spill_fh = tempfile.NamedTemporaryFile(prefix="edgesynth-windows-", suffix=".f32", delete=False)
    n_windows = 0
    chunks, groups, labels, hashes, n_dropped = [], [], [], [], 0
    n_ch = None
    try:
        for g, e in enumerate(entries):
            sig, file_sr = read_wav(e["path"], channel=channel, sr=sr, resample=resample)
            sr = file_sr if sr is None else sr
            if n_ch is None:
                n_ch = sig.shape[1]
            elif sig.shape[1] != n_ch:
                raise DataError(f"{e['path']}: has {sig.shape[1]} channels, the first file has {n_ch}")
            W = frame(sig, window_length=L, hop_length=H, source=str(e["path"]))
            W, _, nd = _handle_nonfinite(W, on_nonfinite, str(e["path"]), unit="window")
            n_dropped += nd
            if spill_fh is not None:
                spill_fh.write(np.ascontiguousarray(W, dtype=np.float32).tobytes())
            else:
                chunks.append(W)
            n_windows += W.shape[0]
            groups.append(np.full(W.shape[0], g, dtype=np.int64))
            labels.append(np.full(W.shape[0], e["label"] or "", dtype=object))
            hashes.append(e["rel"] + ":" + sha256_file(e["path"]))
    except BaseException:
        if spill_fh is not None:  # a bad file: leave no half-written spill file behind
            spill_fh.close()
            os.unlink(spill_fh.name)
        raise
    if spill_fh is not None:
        spill_fh.close()
        try:
            X = np.memmap(spill_fh.name, dtype=np.float32, mode="r", shape=(n_windows, L, n_ch)) if n_windows else \
                np.zeros((0, L, n_ch), np.float32)
        finally:
            os.unlink(spill_fh.name)  # the mapping keeps the data; nothing is left behind on disk
    else:
        X = np.concatenate(chunks)
    lab = np.concatenate(labels).astype(str)
    y = None
    if entries[0]["label"] is not None:
        y, normal_label = _labels_to_y(lab, normal_label, "normal", str(folder))
    else:
        lab = None
        if normal_label is not None:
            raise DataError(f"{folder}: normal_label={normal_label!r} given but the WAV files carry no labels")
    meta = {
        "format": "wav",
        "layout": entries[0]["layout"],
        "files": [e["rel"] for e in entries],
        "split": [e["split"] for e in entries],
        "machine_ids": [e["machine_id"] for e in entries],
        "file_labels": [e["label"] for e in entries],
        "window_length": L,
        "hop_length": H,
        "channel": channel,
        "normal_label": normal_label,
        "n_dropped_nonfinite": n_dropped,
        "spilled_to_disk": bool(spill),
    }
    names = ["mono"] if n_ch == 1 and channel in (None, "mix") else [f"ch{i}" for i in range(n_ch)]
    if isinstance(channel, (int, np.integer)):
        names = [f"ch{int(channel)}"]
    sha = hashlib.sha256("\n".join(hashes).encode()).hexdigest() if len(hashes) > 1 else hashes[0].split(":")[-1]
    return Dataset(X=X, y=y, labels=lab, sr=float(sr), channel_names=names, source=str(folder),
                   groups=np.concatenate(groups), sha256=sha, meta=meta)


# --------------------------------------------------------------------------- entry point
def load(
    path: str | os.PathLike,
    *,
    normal_label=None,
    label_column=None,
    time_column=None,
    window_length: int | None = None,
    hop_length: int | None = None,
    label_rule: str = "last",
    channel=None,
    sr: float | None = None,
    resample: bool = False,
    on_nonfinite: str = "raise",
) -> Dataset:
    """Load a local file or WAV folder as windows (see the module docstring for the formats).

    Parameters
    ----------
    path : str or Path
        ``.tsv``/``.txt`` (UCR), ``.arff``, ``.csv``, ``.npz``, ``.wav`` or a folder of WAV files.
    normal_label : str or int, optional
        Label of the normal class; ``y = labels != normal_label``.
    label_column, time_column : str or int, optional
        CSV only: the column of labels / timestamps (neither becomes a channel).
    window_length, hop_length : int, optional
        Cut long recordings (CSV with ``window_length``, WAV) into windows.
    label_rule : {"last", "any", "majority"}
        Window label from per-sample labels (CSV long recordings), see
        :func:`edgesynth.data.windows.window_labels`.
    channel : None, int or "all"
        Channel to keep (int); WAV default mixes down to mono, ``"all"`` keeps every channel.
    sr : float, optional
        Sample rate (WAV: expected rate; others: recorded in the Dataset).
    resample : bool
        WAV: resample files whose rate differs from ``sr`` (else refuse them).
    on_nonfinite : {"raise", "drop"}
        NaN/inf: raise :class:`DataError`, or drop the rows/windows holding them (count in
        ``meta["n_dropped_nonfinite"]``).

    Returns
    -------
    Dataset
        ``X`` float32 (n_windows, window_length, n_channels), ``y`` int8 or None, ``labels``,
        ``groups``, ``sha256``, ``meta``.
    """
    path = Path(path)
    if on_nonfinite not in ("raise", "drop"):
        raise ParameterError(f"`on_nonfinite` must be 'raise' or 'drop'. Received: on_nonfinite={on_nonfinite!r}")
    if label_rule not in LABEL_RULES:
        raise ParameterError(f"`label_rule` must be one of {LABEL_RULES}. Received: label_rule={label_rule!r}")
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".wav":
        if label_column is not None or time_column is not None:
            raise ParameterError(f"{path}: label_column/time_column apply to CSV files only")
        return load_wav_folder(path, window_length=window_length, hop_length=hop_length, channel=channel,
                               sr=sr, resample=resample, on_nonfinite=on_nonfinite, normal_label=normal_label)
    if (label_column is not None or time_column is not None) and suffix != ".csv":
        raise ParameterError(f"{path}: label_column/time_column apply to CSV files only")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    if suffix != ".csv" and (window_length is not None or hop_length is not None):
        raise ParameterError(
            f"{path}: window_length/hop_length cut long recordings (CSV with rows = samples, WAV); "
            f"the rows of a {suffix} file are already windows"
        )
    meta: dict = {"format": suffix.lstrip(".")}
    groups = None
    channel_names = None
    if suffix in TEXT_SUFFIXES or suffix == ".arff":
        X, labels = load_ucr(path) if suffix in TEXT_SUFFIXES else load_arff(path)
        default_normal = "1"
    elif suffix == ".csv":
        X, labels, channel_names, sr, groups, extra = _load_csv(
            path, label_column, time_column, window_length, hop_length, label_rule, normal_label, sr, on_nonfinite)
        meta.update(extra)
        default_normal = None
    elif suffix == ".npz":
        X, labels, extra = _load_npz(path)
        channel_names = extra.get("channel_names")
        sr = extra.get("sr") if sr is None else sr
        groups = extra.get("groups")
        default_normal = None
    else:
        raise DataError(f"{path}: unsupported format {suffix!r}; expected .tsv, .txt, .arff, .csv, .npz, .wav or a folder")
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[:, :, None]
    if channel is not None and channel != "all":
        c = int(channel)
        if not 0 <= c < X.shape[2]:
            raise ParameterError(f"{path}: `channel`={channel} but the data has {X.shape[2]} channel(s)")
        X = X[:, :, c:c + 1]
        channel_names = [channel_names[c]] if channel_names else [f"ch{c}"]
    X, keep, n_dropped = _handle_nonfinite(X, on_nonfinite, str(path), unit="window" if "window_length" in meta else "row")
    if keep is not None:
        labels = None if labels is None else labels[keep]
        groups = None if groups is None else np.asarray(groups)[keep]
    meta["n_dropped_nonfinite"] = n_dropped
    y = None
    if labels is not None:
        y, normal_label = _labels_to_y(np.asarray(labels).astype(str), normal_label, default_normal, str(path))
        meta["normal_label"] = normal_label
    elif normal_label is not None:
        raise DataError(f"{path}: normal_label={normal_label!r} given but the file carries no labels")
    return Dataset(X=X.astype(np.float32), y=y, labels=labels, sr=None if sr is None else float(sr),
                   channel_names=list(channel_names) if channel_names else [], source=str(path),
                   groups=groups, sha256=sha256_file(path), meta=meta)


def _load_csv(path, label_column, time_column, window_length, hop_length, label_rule, normal_label, sr, on_nonfinite):
    names, rows, nums = _read_csv(path)
    li = _column(names, label_column, "label_column", path)
    ti = _column(names, time_column, "time_column", path)
    keep_cols = [j for j in range(len(names)) if j not in (li, ti)]
    if not keep_cols:
        raise DataError(f"{path}: no numeric data columns besides the label/time columns")
    M = _parse_table([[r[j] for j in keep_cols] for r in rows], nums, str(path))
    labels = np.array([normalize_label(r[li]) for r in rows]) if li >= 0 else None
    extra = {"columns": names, "label_column": None if li < 0 else names[li],
             "time_column": None if ti < 0 else names[ti]}
    if window_length is None:
        if ti >= 0:
            raise ParameterError(f"{path}: a time column means rows are samples of one recording; pass window_length")
        return M, labels, None, sr, None, extra  # wide: one row = one window
    L = check_positive_int(window_length, "window_length")
    H = L if hop_length is None else check_positive_int(hop_length, "hop_length")
    if ti >= 0 and sr is None:
        sr = _estimate_sr([r[ti] for r in rows], path)
        extra["sr_estimated"] = sr is not None
    X = frame(M, window_length=L, hop_length=H, source=str(path), dtype=np.float64)
    if labels is not None:
        found = sorted(set(labels.tolist()))
        _, normal = _labels_to_y(np.array(found), normal_label, None, str(path))
        labels = window_labels(labels, window_length=L, hop_length=H, rule=label_rule, normal=normal)
        extra["label_rule"] = label_rule
    extra.update({"window_length": L, "hop_length": H})
    # one recording: groups are 10 contiguous segments, so a group split is a split in time
    n = X.shape[0]
    groups = np.arange(n, dtype=np.int64) * min(n, 10) // n
    return X, labels, [names[j] for j in keep_cols], sr, groups, extra


def _load_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if "X" not in d:
        raise DataError(f"{path}: .npz must contain an array 'X'. Found: {sorted(d)}")
    X = d["X"]
    if X.ndim not in (2, 3):
        raise DataError(f"{path}: 'X' must have shape (n, length) or (n, length, channels). Received: {X.shape}")
    if X.shape[0] == 0 or X.size == 0:
        raise DataError(f"{path}: empty file ('X' has shape {X.shape})")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise DataError(f"{path}: non-numeric 'X' (dtype {X.dtype})")
    labels = None
    extra = {}
    if "labels" in d:
        labels = np.array([normalize_label(v) for v in d["labels"].reshape(-1)])
    if "y" in d:
        y = d["y"].reshape(-1)
        y = y.astype(np.int64) if y.dtype == np.bool_ else y
        if y.shape[0] != X.shape[0]:
            raise DataError(f"{path}: 'y' has {y.shape[0]} entries for {X.shape[0]} windows")
        if labels is None:  # 0/1 -> labels "0"/"1" (normal "0" by default); classes need normal_label
            labels = np.array([normalize_label(v) for v in y])
    if labels is not None and labels.shape[0] != X.shape[0]:
        raise DataError(f"{path}: 'labels' has {labels.shape[0]} entries for {X.shape[0]} windows")
    if "sr" in d:
        extra["sr"] = float(d["sr"])
    if "channel_names" in d:
        extra["channel_names"] = [str(c) for c in d["channel_names"].reshape(-1)]
    if "groups" in d:
        extra["groups"] = d["groups"].reshape(-1)
    return X.astype(np.float64), labels, extra


__all__ = ["load", "load_ucr", "load_arff", "load_wav_folder", "read_wav", "scan_wav_folder",
           "require_two_classes", "normalize_label", "sha256_file", "DEFAULT_WAV_WINDOW"]
