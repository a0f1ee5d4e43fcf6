"""Live scoring, the reconnecting serial source, recording, and run_stream over loop://."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesynth.errors import ParameterError, StreamError
from edgesynth.stream.framing import encode_packet, encode_text_block
from edgesynth.stream.live import SUMMARY_KEYS, LiveScorer, run_stream
from edgesynth.stream.record import Recorder, read_recording
from edgesynth.stream.serial_source import SerialSource


def max_abs(X):
    return np.abs(X).max(axis=(1, 2))


class DuckScorer:
    """What ArtifactScorer offers, with a trivial score."""

    def __init__(self, window_length=16, hop_length=8, n_channels=3, threshold=3.0):
        self.window_length, self.hop_length, self.n_channels, self.threshold = (
            window_length, hop_length, n_channels, threshold)
        self.calls = 0

    def score_windows(self, X):
        assert X.shape[1:] == (self.window_length, self.n_channels)
        self.calls += 1
        return max_abs(X)


# --------------------------------------------------------------------------- LiveScorer
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 9), st.integers(1, 12), st.lists(st.integers(0, 40), max_size=12))
def test_live_scorer_windows_match_framing_for_any_chunking(window_length, hop_length, cuts):
    x = np.random.default_rng(440).normal(size=(150, 2)).astype(np.float32)
    seen = []

    def score(X):
        seen.append(X.copy())
        return X.sum(axis=(1, 2))

    s = LiveScorer(window_length, hop_length, 2, score, threshold=0.0)
    edges = [0, *sorted(set(min(c * 4, 150) for c in cuts)), 150]
    events = []
    for a, b in zip(edges[:-1], edges[1:]):
        events += s.push(x[a:b])
    starts = np.arange(0, 150 - window_length + 1, hop_length)
    expected = np.stack([x[i:i + window_length] for i in starts])
    np.testing.assert_array_equal(np.concatenate(seen), expected)
    assert [e["start"] for e in events] == starts.tolist()
    assert [e["end"] for e in events] == (starts + window_length).tolist()
    assert s.windows == len(starts) and s.samples == 150
    assert s.alerts == sum(e["anomaly"] for e in events)


def test_live_scorer_hop_length_changes_the_windows():
    x = np.zeros((100, 1), np.float32)
    a = LiveScorer(10, 5, 1, max_abs, 1.0)
    b = LiveScorer(10, 10, 1, max_abs, 1.0)
    assert len(a.push(x)) == 19 and len(b.push(x)) == 10


def test_live_scorer_threshold_timestamps_reset_and_normalize():
    s = LiveScorer(4, 4, 1, max_abs, threshold=1.0, normalize=lambda X: X * 10)
    ev = s.push(np.array([[0.0], [0.0], [0.0], [0.2]]), t=np.arange(4) * 0.5)
    assert ev[0]["anomaly"] and ev[0]["t"] == 1.5 and ev[0]["score"] == pytest.approx(2.0)
    s.push(np.zeros((2, 1)))
    s.reset()  # a gap: the two buffered samples are not joined to what follows
    ev = s.push(np.zeros((4, 1)))
    assert [(e["start"], e["end"]) for e in ev] == [(6, 10)]


def test_live_scorer_rejects_wrong_shapes():
    s = LiveScorer(4, 2, 3, max_abs, 1.0)
    with pytest.raises(StreamError, match="3 channel"):
        s.push(np.zeros((5, 2)))
    bad = LiveScorer(4, 2, 1, lambda X: np.zeros(1), 1.0)
    with pytest.raises(StreamError, match="scores"):
        bad.push(np.zeros((8, 1)))
    with pytest.raises(ParameterError, match="window_length"):
        LiveScorer(0, 2, 1, max_abs, 1.0)
    with pytest.raises(ParameterError, match="score_windows"):
        LiveScorer.from_scorer(object())


# --------------------------------------------------------------------------- SerialSource
class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


class FlakyPort:
    def __init__(self, chunks):
        self.chunks = list(chunks)

    @property
    def in_waiting(self):
        return len(self.chunks[0]) if self.chunks and isinstance(self.chunks[0], bytes) else 0

    def read(self, n):
        item = self.chunks.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        pass


def test_serial_source_reconnects_with_exponential_backoff():
    clock = FakeClock()
    plan = [FlakyPort([b"abc", serial.SerialException("device disconnected")]),
            OSError(2, "No such file"), OSError(2, "No such file"), OSError(2, "No such file"),
            FlakyPort([b"def"])]

    def opener(url, *, baudrate, timeout):
        item = plan.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    src = SerialSource("/dev/ttyFAKE", opener=opener, clock=clock, sleep=clock.sleep,
                       backoff_initial=0.1, backoff_max=0.25)
    src.open()
    assert src.read() == b"abc"
    assert src.read() == b"" and src.reconnects == 1
    assert clock.sleeps == [0.1, 0.2, 0.25]
    assert src.read() == b"def"


def test_serial_source_gives_up_after_the_timeout():
    clock = FakeClock()
    calls = []

    def opener(url, *, baudrate, timeout):
        calls.append(url)
        if len(calls) == 1:
            return FlakyPort([OSError(5, "Input/output error")])
        raise serial.SerialException("could not open port")

    src = SerialSource("/dev/ttyGONE", opener=opener, clock=clock, sleep=clock.sleep, reconnect_timeout=3.0)
    src.open()
    with pytest.raises(StreamError, match=r"/dev/ttyGONE.*did not come back within 3 s"):
        src.read()
    assert sum(clock.sleeps) <= 3.0 and src.reconnects == 0


def test_serial_source_stops_reconnecting_at_the_deadline():
    clock = FakeClock()
    state = {"n": 0}

    def opener(url, *, baudrate, timeout):
        state["n"] += 1
        if state["n"] == 1:
            return FlakyPort([OSError(5, "Input/output error")])
        raise OSError(2, "gone")

    src = SerialSource("/dev/ttyX", opener=opener, clock=clock, sleep=clock.sleep)
    src.open()
    assert src.read(deadline=1.0) == b""
    assert clock.t < 1.0


def test_serial_source_open_errors_name_the_port(tmp_path):
    with pytest.raises(StreamError, match="nope"):
        SerialSource(str(tmp_path / "nope")).open()
    with pytest.raises(ParameterError, match="baud"):
        SerialSource("loop://", baud=0)


# --------------------------------------------------------------------------- Recorder
def test_csv_recording_flushes_whole_lines_every_interval_and_loads_back(tmp_path, rng):
    clock = FakeClock()
    path = tmp_path / "rec.csv"
    x = rng.normal(size=(300, 3)).astype(np.float32)
    t = np.arange(300) / 100.0
    r = Recorder(path, channel_names=["x", "y", "z"], clock=clock, flush_interval=1.0)
    r.write(t[:100], x[:100])
    assert path.read_text() == ""             # still buffered
    clock.t = 1.0
    r.write(t[100:200], x[100:200])           # interval passed: on disk now
    on_disk = path.read_text()
    assert on_disk.startswith("t,x,y,z\n") and on_disk.endswith("\n") and on_disk.count("\n") == 201
    r.write(t[200:], x[200:])
    r.close()
    tt, xx, names = read_recording(path)
    np.testing.assert_array_equal(xx, x)
    np.testing.assert_allclose(tt, t, atol=1e-9)
    assert names == ["x", "y", "z"]
    from edgesynth.data import loaders

    ds = loaders.load(path, time_column="t", window_length=100)
    assert ds.X.shape == (3, 100, 3)
    np.testing.assert_array_equal(ds.X.reshape(-1, 3), x)
    assert ds.sr == pytest.approx(100.0)


def test_npz_recording_is_written_atomically_on_close(tmp_path, rng):
    path = tmp_path / "rec.npz"
    x = rng.normal(size=(50, 2)).astype(np.float32)
    r = Recorder(path)
    r.write(np.arange(50) * 0.01, x)
    assert not path.exists()
    r.close(sr=100.0)
    tt, xx, names = read_recording(path)
    np.testing.assert_array_equal(xx, x)
    assert names == ["ch0", "ch1"] and len(list(tmp_path.iterdir())) == 1
    with np.load(path) as z:
        assert float(z["sr"]) == 100.0 and z["X"].shape == (1, 50, 2)


def test_recorder_validates(tmp_path):
    with pytest.raises(ParameterError, match="record"):
        Recorder(tmp_path / "rec.txt")
    r = Recorder(tmp_path / "r.csv")
    r.write([0.0], [[1.0, 2.0]])
    with pytest.raises(ParameterError, match="channels"):
        r.write([1.0], [[1.0, 2.0, 3.0]])
    r.close()


# --------------------------------------------------------------------------- run_stream over loop://
@pytest.mark.parametrize("fmt", ["text", "binary", "auto"])
def test_run_stream_over_loop_url(fmt, rng, tmp_path):
    x = rng.normal(scale=0.5, size=(96, 3)).astype(np.float32)  # loop:// holds 4096 bytes
    x[48:52] = 8.0
    wire_fmt = "text" if fmt == "text" else "binary"
    if wire_fmt == "text":
        data = b"x,y,z\n" + encode_text_block(x)
    else:
        data = b"".join(encode_packet(i, x[s:s + 12]) for i, s in enumerate(range(0, 96, 12)))
    src = SerialSource("loop://").open()
    # a leading delimiter stands in for the usual truncated first line / packet
    src.write((b"\n" if wire_fmt == "text" else b"\x00") + data)
    out = io.StringIO()
    events = []
    summary = run_stream(src, DuckScorer(), fmt=fmt, duration=0.5, json=True, out=out,
                         on_event=events.append, record=tmp_path / "r.csv")
    src.close()
    assert tuple(summary) == SUMMARY_KEYS
    assert summary["samples"] == 96 and summary["windows"] == (96 - 16) // 8 + 1
    assert summary["bad_frames"] == 0 and summary["lost_frames"] == 0 and summary["reconnects"] == 0
    lines = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert len(lines) == summary["windows"] and set(lines[0]) == {"t", "score", "anomaly"}
    alerts = [(e["start"], e["end"]) for e in events if e["anomaly"]]
    assert alerts and all(s < 52 and e > 48 for s, e in alerts)
    assert summary["alerts"] == len(alerts)
    _, rec, names = read_recording(tmp_path / "r.csv")
    np.testing.assert_array_equal(rec, x if wire_fmt == "binary" else np.float32(encode_back(x)))
    assert names == (["x", "y", "z"] if wire_fmt == "text" else ["ch0", "ch1", "ch2"])


def encode_back(x):
    return np.array([[float(f"{v:.7g}") for v in row] for row in x.tolist()])


def test_run_stream_plain_alerts_and_channel_mismatch():
    x = np.zeros((40, 2), np.float32)
    x[20] = 9
    src = SerialSource("loop://").open()
    src.write(b"\n" + encode_text_block(x))
    out = io.StringIO()
    run_stream(src, DuckScorer(n_channels=2), fmt="text", duration=0.3, out=out)
    assert out.getvalue().startswith("ALERT t=") and "threshold 3" in out.getvalue()
    src.write(b"\n" + encode_text_block(x))
    with pytest.raises(StreamError, match="2 value.*3 channel"):
        run_stream(src, DuckScorer(n_channels=3), fmt="text", duration=0.3, out=out)
    src.close()
    with pytest.raises(ParameterError, match="format"):
        run_stream("loop://", DuckScorer(), fmt="csv")


# --------------------------------------------------------------------------- the reader on arbitrary bytes
class BytesPort:
    """A serial-like port that delivers given chunks, then stays quiet."""

    def __init__(self, chunks):
        self.chunks = [c for c in chunks if c]

    @property
    def in_waiting(self):
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n):
        if not self.chunks:
            return b""
        c = self.chunks[0]
        self.chunks[0] = c[n:]
        if not self.chunks[0]:
            self.chunks.pop(0)
        return c[:n]

    def close(self):
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=12), st.sampled_from(["auto", "text", "binary"]),
       st.booleans())
def test_run_stream_never_fails_on_arbitrary_bytes(chunks, fmt, with_valid):
    if with_valid:  # garbage around a valid stretch
        x = np.random.default_rng(440).normal(size=(40, 3)).astype(np.float32)
        valid = encode_text_block(x) if fmt != "binary" else encode_packet(0, x)
        chunks = [*chunks[:1], valid, *chunks[1:]]
    port = BytesPort(chunks)
    src = SerialSource("fake://", opener=lambda url, **kw: port)
    try:
        summary = run_stream(src, DuckScorer(), fmt=fmt, until=lambda: not port.chunks, duration=30.0,
                             out=io.StringIO(), log=None)
    except StreamError as exc:
        # the one refusal: lines that consistently carry another number of values than the model
        assert re.search(r"carries \d+ value\(s\) per sample; the model expects 3", str(exc))
        return
    assert tuple(summary) == SUMMARY_KEYS
    assert summary["windows"] == max(0, (summary["samples"] - 16) // 8 + 1)
    if with_valid and not any(chunks[:1] + chunks[2:]):  # nothing but the valid stretch
        assert summary["samples"] == (40 if fmt == "binary" else 39) and summary["bad_frames"] == 0


@pytest.mark.parametrize("name", ["edgesynth.stream.autodetect", "edgesynth.stream.live", "edgesynth.stream.record"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
