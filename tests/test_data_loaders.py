"""Loaders (UCR, ARFF, CSV, NPZ, WAV folders), windowing, leak-free splits and every bad input."""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wavfixtures import SR, make_dcase, make_mimii, tone, write_wav  # noqa: E402

from edgesynth.data import Dataset, load, require_two_classes
from edgesynth.data.split import split_from_meta, train_test_split_groups
from edgesynth.data.windows import frame, n_windows, window_labels
from edgesynth.errors import DataError, ParameterError

TRAIN_COUNTS = {"1": 292, "2": 177, "3": 10, "4": 19, "5": 2}


# --------------------------------------------------------------------------- ECG5000 + formats
def test_ecg5000_loads_with_class_counts(ecg5000_dir):
    tr = load(ecg5000_dir / "ECG5000_TRAIN.tsv")
    te = load(ecg5000_dir / "ECG5000_TEST.tsv")
    assert tr.X.shape == (500, 140, 1) and te.X.shape == (4500, 140, 1)
    assert tr.X.dtype == np.float32
    assert dict(Counter(tr.labels.tolist())) == TRAIN_COUNTS
    assert int(tr.y.sum()) == 500 - 292 and tr.meta["normal_label"] == "1"
    assert set(te.labels.tolist()) == set(TRAIN_COUNTS)
    assert tr.sha256 and len(tr.sha256) == 64


def _write_formats(tmp: Path, X: np.ndarray, labels: np.ndarray) -> dict:
    """The same series as whitespace .txt, comma .txt, .arff, wide .csv (;), long .csv and .npz."""
    fmt = lambda row: [repr(float(v)) for v in row]  # noqa: E731 - exact float text
    out = {}
    p = tmp / "ecg_ws.txt"
    p.write_text("".join(f"  {lab}   " + "   ".join(fmt(r)) + "\n" for lab, r in zip(labels, X)))
    out["txt"] = p
    p = tmp / "ecg_comma.txt"
    p.write_text("".join(f"{float(lab):.7e}," + ",".join(fmt(r)) + "\n" for lab, r in zip(labels, X)))
    out["txt_comma"] = p
    p = tmp / "ecg.arff"
    head = ["% ECG5000 subset", "@RELATION ecg"] + [f"@ATTRIBUTE t{i} NUMERIC" for i in range(X.shape[1])]
    head += ["@ATTRIBUTE target {1,2,3,4,5}", "@DATA"]
    p.write_text("\n".join(head) + "\n" + "".join(",".join(fmt(r)) + f",{lab}\n" for lab, r in zip(labels, X)))
    out["arff"] = p
    p = tmp / "ecg_wide.csv"
    p.write_text("label;" + ";".join(f"t{i}" for i in range(X.shape[1])) + "\n"
                 + "".join(f"{lab};" + ";".join(fmt(r)) + "\n" for lab, r in zip(labels, X)))
    out["csv_wide"] = p
    p = tmp / "ecg_long.csv"
    L = X.shape[1]
    p.write_text("time,ecg,label\n" + "".join(
        f"{(i * L + j) / 140.0!r},{float(X[i, j])!r},{labels[i]}\n" for i in range(X.shape[0]) for j in range(L)))
    out["csv_long"] = p
    p = tmp / "ecg.npz"
    np.savez(p, X=X, y=labels.astype(int))
    out["npz"] = p
    return out


def test_same_data_in_every_format_gives_identical_arrays(ecg5000, tmp_path):
    Xtr, ytr, _, _ = ecg5000
    X, lab = Xtr[:60].astype(np.float64), ytr[:60]
    paths = _write_formats(tmp_path, X, lab)
    kw = {"csv_long": dict(window_length=140, label_column="label", time_column="time"),
          "csv_wide": dict(label_column="label")}
    loaded = {k: load(p, normal_label="1", **kw.get(k, {})) for k, p in paths.items()}
    for k, ds in loaded.items():
        np.testing.assert_array_equal(ds.X[:, :, 0], X.astype(np.float32), err_msg=k)
        np.testing.assert_array_equal(ds.labels, lab.astype(str), err_msg=k)
        np.testing.assert_array_equal(ds.y, (lab != 1).astype(np.int8), err_msg=k)
    assert loaded["csv_long"].sr == pytest.approx(140.0)
    assert loaded["csv_long"].channel_names == ["ecg"]


def test_real_tsv_matches_conftest_reader(ecg5000, ecg5000_dir):
    Xtr, ytr, _, _ = ecg5000
    ds = load(ecg5000_dir / "ECG5000_TRAIN.tsv")
    np.testing.assert_array_equal(ds.X[:, :, 0], Xtr)
    np.testing.assert_array_equal(ds.labels.astype(int), ytr)


def test_npz_3d_binary_y_and_channel(tmp_path, rng):
    X = rng.standard_normal((6, 16, 3)).astype(np.float32)
    y = np.array([0, 0, 1, 0, 1, 0])
    np.savez(tmp_path / "d.npz", X=X, y=y, sr=100.0, channel_names=np.array(["x", "y", "z"]))
    ds = load(tmp_path / "d.npz")
    assert ds.X.shape == (6, 16, 3) and ds.sr == 100.0 and ds.channel_names == ["x", "y", "z"]
    np.testing.assert_array_equal(ds.y, y)
    one = load(tmp_path / "d.npz", channel=2)
    np.testing.assert_array_equal(one.X[:, :, 0], X[:, :, 2])
    assert one.channel_names == ["z"]
    np.savez(tmp_path / "u.npz", X=X[:, :, 0])
    assert load(tmp_path / "u.npz").y is None


def test_csv_long_multichannel_label_rules(tmp_path):
    n = 40
    lab = np.zeros(n, int)
    lab[12] = 1  # one anomalous sample inside window 1 (samples 10..19), not at its end
    lab[29] = 1  # last sample of window 2
    rows = "".join(f"{i},{i * 0.5},{-i},{lab[i]}\n" for i in range(n))
    p = tmp_path / "log.csv"
    p.write_text("t,ax,ay,anom\n" + rows)
    last = load(p, window_length=10, label_column="anom", time_column="t")
    assert last.X.shape == (4, 10, 2) and last.channel_names == ["ax", "ay"]
    np.testing.assert_array_equal(last.y, [0, 0, 1, 0])
    anyr = load(p, window_length=10, label_column="anom", time_column="t", label_rule="any")
    np.testing.assert_array_equal(anyr.y, [0, 1, 1, 0])
    maj = load(p, window_length=10, hop_length=5, label_column="anom", time_column="t", label_rule="majority")
    assert maj.X.shape == (7, 10, 2) and maj.y.sum() == 0
    np.testing.assert_array_equal(last.X[1, :, 1], -np.arange(10, 20))


def test_csv_semicolon_decimal_comma(tmp_path):
    p = tmp_path / "eu.csv"
    p.write_text("a;b;label\n1,5;2,25;0\n3,0;4,0;1\n")
    ds = load(p, label_column="label")
    np.testing.assert_array_equal(ds.X[:, :, 0], [[1.5, 2.25], [3.0, 4.0]])
    np.testing.assert_array_equal(ds.y, [0, 1])


# --------------------------------------------------------------------------- WAV folders
def test_mimii_layout(tmp_path, rng):
    root = make_mimii(tmp_path / "fan", rng, n_normal=2, n_abnormal=1, machine_ids=("id_00", "id_02"))
    ds = load(root)
    per_file = n_windows(int(0.5 * SR), window_length=3072)
    assert ds.X.shape == (6 * per_file, 3072, 1) and ds.sr == SR
    assert ds.meta["layout"] == "mimii" and len(ds.meta["files"]) == 6
    assert set(ds.labels.tolist()) == {"normal", "anomaly"}
    assert ds.meta["machine_ids"][0] == "id_00" and ds.meta["machine_ids"][-1] == "id_02"
    for g, lab in enumerate(ds.meta["file_labels"]):
        assert set(ds.labels[ds.groups == g].tolist()) == {lab}
    assert int(ds.y.sum()) == 2 * per_file


def test_dcase_layout_and_predefined_split(tmp_path, rng):
    root = make_dcase(tmp_path / "valve", rng, n_train=2, n_test_normal=1, n_test_anomaly=2)
    ds = load(root, hop_length=1536)
    assert ds.meta["layout"] == "dcase"
    assert ds.meta["split"].count("train") == 2 and ds.meta["split"].count("test") == 3
    train, test = split_from_meta(ds)
    assert train.y.sum() == 0 and test.y.sum() > 0
    assert not set(train.groups.tolist()) & set(test.groups.tolist())


def test_multichannel_wav_pick_mix_keep(tmp_path, rng):
    x = tone(rng, 4000, n_channels=2)
    p = write_wav(tmp_path / "st" / "normal" / "a.wav", x)
    write_wav(tmp_path / "st" / "abnormal" / "b.wav", x[::-1].copy())
    mix = load(tmp_path / "st", window_length=1000)
    pick = load(tmp_path / "st", window_length=1000, channel=1)
    keep = load(tmp_path / "st", window_length=1000, channel="all")
    assert mix.X.shape == (8, 1000, 1) and keep.X.shape == (8, 1000, 2)
    ga = mix.meta["files"].index("normal/a.wav")
    np.testing.assert_allclose(mix.X[mix.groups == ga, :, 0], x.reshape(4, 1000, 2).mean(axis=2), atol=1e-6)
    np.testing.assert_array_equal(pick.X[pick.groups == ga, :, 0], x[:, 1].reshape(4, 1000))
    np.testing.assert_array_equal(keep.X[keep.groups == ga], x.reshape(4, 1000, 2))
    with pytest.raises(ParameterError, match="channel"):
        load(p, window_length=1000, channel=5)


def test_single_wav_file_unlabelled(tmp_path, rng):
    p = write_wav(tmp_path / "rec.wav", tone(rng, 5000))
    ds = load(p, window_length=1000, hop_length=500)
    assert ds.X.shape == (9, 1000, 1) and ds.y is None


def test_sample_rate_mismatch_refused_or_resampled(tmp_path, rng):
    root = tmp_path / "mixed"
    write_wav(root / "normal" / "a.wav", tone(rng, 8000))
    write_wav(root / "normal" / "b.wav", tone(rng, 4000, sr=8000), sr=8000)
    with pytest.raises(DataError, match=r"b\.wav.*sample rate 8000 Hz differs from the expected 16000"):
        load(root, window_length=1000)
    ds = load(root, window_length=1000, resample=True)
    assert ds.sr == SR and ds.X.shape == (16, 1000, 1)
    ds2 = load(root, window_length=500, sr=8000, resample=True)
    assert ds2.sr == 8000 and ds2.X.shape[0] == 16


def test_split_groups_never_leak(rng):
    X = rng.standard_normal((40, 8)).astype(np.float32)
    groups = np.repeat(np.arange(10), 4)
    y = np.isin(groups, [2, 7, 8]).astype(np.int8)
    ds = Dataset(X=X, y=y, groups=groups)
    train, test = train_test_split_groups(ds, test_size=0.3, seed=1)
    assert not set(train.groups.tolist()) & set(test.groups.tolist())
    assert train.n_windows + test.n_windows == 40
    assert test.y.sum() > 0 and train.y.sum() > 0
    t2, _ = train_test_split_groups(ds, test_size=0.3, seed=1)
    np.testing.assert_array_equal(train.groups, t2.groups)
    with pytest.raises(DataError, match="at least 2 groups"):
        train_test_split_groups(Dataset(X=X, groups=np.zeros(40)), test_size=0.5)
    with pytest.raises(ParameterError, match="test_size"):
        train_test_split_groups(ds, test_size=1.5)


# --------------------------------------------------------------------------- bad input
def test_missing_and_unsupported(tmp_path):
    with pytest.raises(DataError, match=r"nope\.tsv: no such file"):
        load(tmp_path / "nope.tsv")
    (tmp_path / "x.xlsx").write_text("a")
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported format"):
        load(tmp_path / "x.xlsx")


@pytest.mark.parametrize("name,text", [("e.tsv", ""), ("e.txt", "\n\n  \n"), ("e.csv", "a,b\n"),
                                       ("e.arff", "@relation x\n@attribute a numeric\n@data\n")])
def test_empty_file(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=rf"{name}: empty file"):
        load(tmp_path / name, normal_label="1")


def test_empty_npz_and_wav(tmp_path):
    np.savez(tmp_path / "e.npz", X=np.zeros((0, 10)))
    with pytest.raises(DataError, match=r"e\.npz: empty"):
        load(tmp_path / "e.npz")
    (tmp_path / "w" / "normal").mkdir(parents=True)
    (tmp_path / "w" / "normal" / "z.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"z\.wav: empty file"):
        load(tmp_path / "w")


def test_ragged_rows(tmp_path):
    (tmp_path / "r.tsv").write_text("1\t0.1\t0.2\t0.3\n2\t0.1\t0.2\n1\t0.5\t0.6\t0.7\n")
    with pytest.raises(DataError, match=r"r\.tsv: ragged rows: line 2 has 3 values, expected 4"):
        load(tmp_path / "r.tsv")
    (tmp_path / "r.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    with pytest.raises(DataError, match=r"r\.csv: ragged rows: line 3"):
        load(tmp_path / "r.csv", label_column="label")


def test_non_numeric_cell(tmp_path):
    (tmp_path / "n.txt").write_text("1 0.1 0.2\n1 0.1 abc\n")
    with pytest.raises(DataError, match=r"n\.txt: non-numeric value 'abc' at line 2, column 3"):
        load(tmp_path / "n.txt")
    (tmp_path / "n.csv").write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(DataError, match=r"n\.csv: non-numeric value 'x'"):
        load(tmp_path / "n.csv")


def test_nonfinite_raise_or_drop(tmp_path):
    (tmp_path / "f.tsv").write_text("1\t0.1\t0.2\n2\tNaN\t0.2\n1\t0.3\tinf\n2\t0.5\t0.6\n")
    with pytest.raises(DataError, match=r"f\.tsv: 2 row\(s\) contain NaN or infinite values \(first: row 2\)"):
        load(tmp_path / "f.tsv")
    ds = load(tmp_path / "f.tsv", on_nonfinite="drop")
    assert ds.X.shape == (2, 2, 1) and ds.meta["n_dropped_nonfinite"] == 2
    np.testing.assert_array_equal(ds.labels, ["1", "2"])
    (tmp_path / "g.tsv").write_text("1\tnan\t0.2\n")
    with pytest.raises(DataError, match="nothing left"):
        load(tmp_path / "g.tsv", on_nonfinite="drop")
    with pytest.raises(ParameterError, match="on_nonfinite"):
        load(tmp_path / "g.tsv", on_nonfinite="ignore")


def test_unknown_normal_label_lists_labels(tmp_path):
    (tmp_path / "l.tsv").write_text("1\t0.1\t0.2\n2\t0.3\t0.2\n")
    with pytest.raises(DataError, match=r"l\.tsv: unknown normal label '7'.*Labels found: \['1', '2'\]"):
        load(tmp_path / "l.tsv", normal_label=7)
    (tmp_path / "l.csv").write_text("a,b,kind\n1,2,ok\n3,4,bad\n")
    with pytest.raises(DataError, match=r"l\.csv: cannot tell which label is normal.*\['bad', 'ok'\]"):
        load(tmp_path / "l.csv", label_column="kind")
    assert load(tmp_path / "l.csv", label_column="kind", normal_label="ok").y.tolist() == [0, 1]
    with pytest.raises(ParameterError, match=r"l\.csv: `label_column` 'nope' is not a column"):
        load(tmp_path / "l.csv", label_column="nope")


def test_require_two_classes(tmp_path):
    (tmp_path / "one.tsv").write_text("1\t0.1\t0.2\n1\t0.3\t0.2\n")
    ds = load(tmp_path / "one.tsv")
    with pytest.raises(DataError, match=r"one\.tsv: evaluation needs two classes .* all 2 windows are normal"):
        require_two_classes(ds, "evaluation")
    with pytest.raises(DataError, match="needs labelled data"):
        require_two_classes(Dataset(X=np.zeros((2, 3)), source="x.npz"), "evaluation")
    both = Dataset(X=np.zeros((2, 3)), y=np.array([0, 1]))
    assert require_two_classes(both) is both


def test_truncated_and_corrupt_wav(tmp_path, rng):
    good = write_wav(tmp_path / "a" / "normal" / "good.wav", tone(rng, 8000), subtype="PCM_16")
    data = good.read_bytes()
    (tmp_path / "a" / "normal" / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.wav: truncated WAV"):
        load(tmp_path / "a", window_length=1000)
    (tmp_path / "a" / "normal" / "cut.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(DataError, match=r"cut\.wav: corrupt"):
        load(tmp_path / "a", window_length=1000)
    (tmp_path / "a" / "normal" / "cut.wav").write_bytes(b"this is not audio at all" * 4)
    with pytest.raises(DataError, match=r"cut\.wav: corrupt or unreadable WAV"):
        load(tmp_path / "a", window_length=1000)


def test_folder_without_wav(tmp_path):
    (tmp_path / "d" / "normal").mkdir(parents=True)
    (tmp_path / "d" / "normal" / "readme.txt").write_text("no audio here")
    with pytest.raises(DataError, match=r"d: folder has no \.wav files"):
        load(tmp_path / "d")


def test_window_longer_than_recording(tmp_path, rng):
    write_wav(tmp_path / "s" / "normal" / "short.wav", tone(rng, 2000))
    with pytest.raises(DataError, match=r"short\.wav: window longer than the recording: window_length=3072.*2000"):
        load(tmp_path / "s")
    (tmp_path / "c.csv").write_text("a\n1\n2\n3\n")
    with pytest.raises(DataError, match=r"c\.csv: window longer than the recording"):
        load(tmp_path / "c.csv", window_length=10)


def test_mixed_labelled_and_unlabelled_wavs(tmp_path, rng):
    write_wav(tmp_path / "m" / "normal" / "a.wav", tone(rng, 4000))
    write_wav(tmp_path / "m" / "other" / "b.wav", tone(rng, 4000))
    with pytest.raises(DataError, match=r"other/b\.wav"):
        load(tmp_path / "m", window_length=1000)


def test_options_for_the_wrong_format(tmp_path):
    (tmp_path / "o.tsv").write_text("1\t0.1\t0.2\n")
    with pytest.raises(ParameterError, match="CSV files only"):
        load(tmp_path / "o.tsv", label_column="x")
    with pytest.raises(ParameterError, match="label_rule"):
        load(tmp_path / "o.tsv", label_rule="first")


# --------------------------------------------------------------------------- windows (properties)
@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), L=st.integers(1, 50), H=st.integers(1, 60), C=st.integers(1, 3))
def test_frame_count_and_content(n, L, H, C):
    x = np.arange(n * C, dtype=np.float32).reshape(n, C)
    expected = 0 if n < L else 1 + (n - L) // H
    assert n_windows(n, window_length=L, hop_length=H) == expected
    if expected == 0:
        with pytest.raises(DataError, match="window longer than the recording"):
            frame(x, window_length=L, hop_length=H)
        return
    W = frame(x, window_length=L, hop_length=H)
    assert W.shape == (expected, L, C) and W.flags.c_contiguous
    for i in (0, expected - 1):
        np.testing.assert_array_equal(W[i], x[i * H:i * H + L])


def _naive_label(w, rule, normal):
    c = Counter(w.tolist())
    if rule == "last":
        return w[-1]
    if rule == "any":
        abn = {k: v for k, v in c.items() if k != normal}
        if not abn:
            return normal
        top = max(abn.values())
        return min(k for k, v in abn.items() if v == top)
    top = max(c.values())
    tied = [k for k, v in c.items() if v == top]
    non_normal = [k for k in tied if k != normal]
    return min(non_normal) if non_normal else normal


@settings(max_examples=80, deadline=None)
@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=80), L=st.integers(1, 20), H=st.integers(1, 20),
       rule=st.sampled_from(["last", "any", "majority"]))
def test_window_labels_rules(labels, L, H, rule):
    lab = np.array(labels)
    n = n_windows(lab.size, window_length=L, hop_length=H)
    if n == 0:
        return
    got = window_labels(lab, window_length=L, hop_length=H, rule=rule, normal=0)
    assert got.shape == (n,)
    for i in range(n):
        assert got[i] == _naive_label(lab[i * H:i * H + L], rule, 0)


def test_window_labels_strings():
    lab = np.array(["ok", "ok", "bad", "ok", "ok", "ok"])
    np.testing.assert_array_equal(window_labels(lab, window_length=3, rule="any", normal="ok"), ["bad", "ok"])
    with pytest.raises(ParameterError, match="rule"):
        window_labels(lab, window_length=3, rule="first")


def test_window_length_on_a_windowed_format(tmp_path):
    (tmp_path / "w.tsv").write_text("1\t0.1\t0.2\n")
    with pytest.raises(ParameterError, match=r"w\.tsv: window_length/hop_length cut long recordings"):
        load(tmp_path / "w.tsv", window_length=2)


# --------------------------------------------------------------------------- corpora larger than RAM
def test_wav_folder_spills_windows_to_a_disk_backed_array(tmp_path, rng, monkeypatch):
    import tempfile

    from edgesynth.data import loaders
    from _wavfixtures import make_mimii

    root = make_mimii(tmp_path / "mimii", rng, n_normal=3, n_abnormal=2, seconds=0.5)
    in_ram = load(root)
    before = set(os.listdir(tempfile.gettempdir()))
    spilled = loaders.load_wav_folder(root, spill=True)
    assert isinstance(spilled.X.base, np.memmap) or isinstance(spilled.X, np.memmap)
    assert spilled.meta["spilled_to_disk"] and not in_ram.meta["spilled_to_disk"]
    np.testing.assert_array_equal(np.asarray(spilled.X), in_ram.X)
    np.testing.assert_array_equal(spilled.y, in_ram.y)
    np.testing.assert_array_equal(spilled.groups, in_ram.groups)
    assert set(os.listdir(tempfile.gettempdir())) == before  # the spill file is unlinked once mapped
    # auto: a corpus over SPILL_BYTES is spilled without being asked
    monkeypatch.setattr(loaders, "SPILL_BYTES", 0)
    assert load(root).meta["spilled_to_disk"]


def test_spill_leaves_nothing_behind_on_a_bad_file(tmp_path, rng):
    import tempfile

    from edgesynth.data import loaders
    from _wavfixtures import make_mimii

    root = make_mimii(tmp_path / "mimii", rng, n_normal=2, n_abnormal=1, seconds=0.5)
    (root / "id_00" / "normal" / "zz_broken.wav").write_bytes(b"RIFF\x00\x00")
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(DataError):
        loaders.load_wav_folder(root, spill=True)
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_finiteness_check_is_chunked_and_exact():
    from edgesynth.validation import _row_chunks, check_windows

    X = np.zeros((5000, 64, 3), np.float32)
    X[4321, 7, 2] = np.nan
    X[17, 0, 0] = np.inf
    chunks = list(_row_chunks(X, max_values=1000))
    assert sum(len(c) for c in chunks) == 5000 and max(c.size for c in chunks) <= 1000
    with pytest.raises(DataError, match="contains 2 NaN or infinite"):
        check_windows(X)
