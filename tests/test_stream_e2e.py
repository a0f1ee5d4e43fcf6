"""End to end on a real pseudo-terminal: device simulator -> pyserial -> framing -> scoring.

Every test ends on data, never on a sleep: the simulator writes a finite stream as fast as the
reader takes it (``paced=False``, blocking writes), the reader opens the port *before* the
simulator writes its first byte, and :func:`run_stream` stops once the simulator thread is done
and the port has nothing left (``until=``). Timeouts (``GUARD``) only turn a hang into a failure.
The simulator keeps what it sent (``keep_sent``) and the bytes it wrote (``keep_wire``), which
are the independent truth the reader's output is compared with.
"""
from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgesynth.errors import StreamError
from edgesynth.stream.device import DeviceSimulator, SineSource
from edgesynth.stream.live import SUMMARY_KEYS, run_stream
from edgesynth.stream.record import read_recording
from edgesynth.stream.serial_source import SerialSource

pytestmark = pytest.mark.serial

GUARD = 60.0  # seconds; a failure guard only
ROOT = Path(__file__).resolve().parents[1]


class EnergyScorer:
    """What ArtifactScorer offers, with a transparent score: the largest |value| in the window.

    The :class:`SineSource` signal stays below 1.3 in magnitude; its fault adds +-8, so a window
    alerts exactly when it overlaps an injected anomaly.
    """

    def __init__(self, window_length=64, hop_length=32, n_channels=3, threshold=3.0):
        self.window_length, self.hop_length = window_length, hop_length
        self.n_channels, self.threshold = n_channels, threshold
        self.sr = None

    def score_windows(self, X):
        return np.abs(X).max(axis=(1, 2))


def make_sim(tmp_path, **kw) -> DeviceSimulator:
    kw.setdefault("rate", 1000.0)
    kw.setdefault("source", SineSource(kw["rate"], seed=3))
    return DeviceSimulator(pty=True, link=tmp_path / "ttyEDGE0", paced=False, keep_sent=True, keep_wire=True,
                           write_timeout=GUARD, **kw)


def stream_from(sim: DeviceSimulator, scorer, *, reconnect_timeout=GUARD, on_event=None, **kw):
    """Open the reader on the simulator's stable link, then let the simulator write; run to the end."""
    sim.open()
    source = SerialSource(sim.link, reconnect_timeout=reconnect_timeout).open()
    events = []

    def collect(e):
        events.append(e)
        if on_event is not None:
            on_event(e)

    thread = sim.start()
    try:
        summary = run_stream(source, scorer, duration=GUARD, until=lambda: not thread.is_alive(),
                             on_event=collect, log=None, **kw)
    finally:
        sim.stop()
        thread.join(GUARD)
        source.close()
        sim.close()
    assert not thread.is_alive()
    return summary, events


def window_overlaps(events, schedule, offset):
    """For each window event: does it overlap an injected anomaly (simulator sample indices)?"""
    out = []
    for e in events:
        a, b = e["start"] + offset, e["end"] + offset
        out.append(any(a < end and b > start for start, end, _ in schedule))
    return np.array(out)


# --------------------------------------------------------------------------- the whole path
@pytest.mark.parametrize("fmt, record", [("text", "rec.csv"), ("binary", "rec.npz"), ("auto", "rec.csv")])
def test_pty_stream_scores_alerts_and_records_what_the_device_sent(tmp_path, fmt, record):
    wire = "text" if fmt == "text" else "binary"
    sim = make_sim(tmp_path, fmt=wire, duration=3.0, anomaly_every=0.7, anomaly_length=40, seed=1)
    out = io.StringIO()
    summary, events = stream_from(sim, EnergyScorer(), fmt=fmt, rate=1000.0, json=True, out=out,
                                  record=tmp_path / record)
    sent = sim.sent_samples()
    assert len(sent) == 3000 and len(sim.schedule) == 4
    # the reader joined before the first byte: text drops only the first line (unread, as any
    # reader joining mid-line must), binary loses nothing
    offset = 1 if wire == "text" else 0
    expected = sent[offset:]
    t, rec, names = read_recording(tmp_path / record)
    np.testing.assert_array_equal(rec, expected)
    assert np.all(np.diff(t) > 0)
    assert names == ["ch0", "ch1", "ch2"]
    assert tuple(summary) == SUMMARY_KEYS
    n_windows = (len(expected) - 64) // 32 + 1
    assert summary == {"samples": len(expected), "windows": n_windows, "alerts": summary["alerts"],
                       "bad_frames": 0, "lost_frames": 0, "rate_hz": 1000.0, "reconnects": 0}
    # alerts exactly on the windows that overlap an injected anomaly
    truth = window_overlaps(events, sim.schedule, offset)
    assert [e["anomaly"] for e in events] == truth.tolist()
    assert summary["alerts"] == truth.sum() > 0
    lines = out.getvalue().splitlines()
    assert len(lines) == n_windows
    assert [json.loads(ln)["anomaly"] for ln in lines] == truth.tolist()
    # replay: the recording, windowed and scored offline, gives the live scores
    X = np.lib.stride_tricks.sliding_window_view(rec, 64, axis=0)[::32].transpose(0, 2, 1)
    np.testing.assert_array_equal(EnergyScorer().score_windows(X), [e["score"] for e in events])


def test_recording_loads_back_through_the_data_loaders(tmp_path):
    from edgesynth.data import load

    sim = make_sim(tmp_path, fmt="text", duration=0.5, seed=2)
    stream_from(sim, EnergyScorer(), fmt="text", rate=1000.0, out=None, record=tmp_path / "rec.csv")
    ds = load(tmp_path / "rec.csv", time_column="t", window_length=100)
    expected = sim.sent_samples()[1:]
    assert ds.X.shape == (len(expected) // 100, 100, 3)
    np.testing.assert_array_equal(ds.X.reshape(-1, 3), expected[: ds.X.shape[0] * 100])
    assert ds.sr is not None and ds.sr > 0


# --------------------------------------------------------------------------- corruption
def _pieces(data: bytes, sep: bytes) -> list[tuple[int, int]]:
    """(start, end) of each separator-terminated piece, separator included."""
    out, start = [], 0
    for m in re.finditer(re.escape(sep), data):
        out.append((start, m.end()))
        start = m.end()
    return out


def test_corrupted_binary_stream_yields_exactly_the_intact_packets(tmp_path):
    sim = make_sim(tmp_path, fmt="binary", duration=2.0, corrupt=0.01, seed=4, packet_samples=8)
    summary, _ = stream_from(sim, EnergyScorer(threshold=1e9), fmt="binary", rate=1000.0, out=None,
                             record=tmp_path / "rec.npz")
    assert sim.corrupted_bytes > 0
    sent = sim.sent_samples()
    # independent truth: a packet arrives iff none of its bytes and not the delimiter before it
    # were hit. Each write is a 10 ms block of 10 samples, sent as packets of 8 and 2 samples.
    intact, rows, i, k, prev_delim_ok = [], [], 0, 0, True
    for clean, written in sim.wire:
        packets = _pieces(clean, b"\x00")
        assert len(clean) == len(written) and len(packets) == 2
        for (a, b), n in zip(packets, (8, 2)):
            if clean[a:b] == written[a:b] and prev_delim_ok:
                intact.append(k)
                rows.append(sent[i:i + n])
            prev_delim_ok = written[b - 1] == 0
            i, k = i + n, k + 1
    assert i == len(sent) == 2000
    _, rec, _ = read_recording(tmp_path / "rec.npz")
    np.testing.assert_array_equal(rec, np.concatenate(rows))
    assert summary["samples"] == len(rec) < len(sent)
    # lost frames: the gaps in sequence numbers between the first and the last intact packet
    assert summary["lost_frames"] == (intact[-1] - intact[0] + 1) - len(intact)
    assert summary["bad_frames"] >= 1


def test_corrupted_text_stream_keeps_going_and_counts_bad_lines(tmp_path):
    sim = make_sim(tmp_path, fmt="text", duration=2.0, corrupt=0.01, seed=5)
    summary, _ = stream_from(sim, EnergyScorer(threshold=1e9), fmt="text", rate=1000.0, out=None,
                             record=tmp_path / "rec.csv")
    clean = b"".join(c for c, _ in sim.wire)
    written = b"".join(w for _, w in sim.wire)
    sent = sim.sent_samples()
    lines = _pieces(clean, b"\n")
    assert len(lines) == len(sent)
    # a line is intact when its bytes and the newline before it were not hit
    hit = [clean[a:b] != written[a:b] for a, b in lines]
    intact = [k for k in range(1, len(lines)) if not hit[k] and not hit[k - 1]]
    n_hit = sum(hit)
    assert n_hit > 50  # ~1 % of ~25-byte lines
    _, rec, _ = read_recording(tmp_path / "rec.csv")
    # every intact line arrives, in order; text has no checksum, so a hit line can still parse
    # as numbers (a digit turned into another digit): at most one extra row per hit line
    pos = 0
    for k in intact:
        while pos < len(rec) and not np.array_equal(rec[pos], sent[k]):
            pos += 1
        assert pos < len(rec), f"intact line {k} missing from the recording"
        pos += 1
    extra = len(rec) - len(intact)
    assert 0 <= extra <= n_hit
    # every hit line is either such a row, a bad frame, or merged with a neighbour into one
    assert n_hit // 2 <= summary["bad_frames"] + extra <= 2 * n_hit
    assert summary["samples"] == len(rec)


# --------------------------------------------------------------------------- unplug / replug
def test_replugging_the_device_causes_a_reconnect(tmp_path):
    # ~100 kB of packets: more than a pty buffers (~24 kB) while nobody reads, so the stream is
    # still flowing when the reader is back whatever the scheduling
    sim = make_sim(tmp_path, fmt="binary", duration=8.0, anomaly_every=0.5, anomaly_length=40, seed=6)
    state = {}

    def replug_once(e):
        if "old" not in state:  # after the first window: unplug and plug back in (a new pty)
            state["old"] = sim.path
            state["new"] = sim.reopen()
            state["link"] = os.readlink(sim.link)

    summary, events = stream_from(sim, EnergyScorer(), fmt="binary", rate=1000.0, out=None,
                                  record=tmp_path / "rec.csv", on_event=replug_once)
    assert state["new"] != state["old"] and state["link"] == state["new"]
    assert summary["reconnects"] == 1
    sent = sim.sent_samples()
    _, rec, _ = read_recording(tmp_path / "rec.csv")
    # what arrived is the start of the stream, a gap (what was left in the unplugged port and
    # what the device sent before the reader was back), then the rest of the stream to its end
    n1 = 0
    while n1 < len(rec) and np.array_equal(rec[n1], sent[n1]):
        n1 += 1
    assert n1 >= 64
    tail = rec[n1:]
    np.testing.assert_array_equal(tail, sent[len(sent) - len(tail):])
    assert len(tail) >= 1000 or n1 == len(sent)
    assert summary["samples"] == len(rec) <= len(sent)
    assert summary["bad_frames"] <= 1  # at most the packet cut by the unplug
    if len(rec) < len(sent):  # (a gap is all but certain)
        # windows never straddle the gap, and anomalies are still flagged after it
        assert all(e["end"] <= n1 or e["start"] >= n1 for e in events)
        assert any(e["anomaly"] and e["start"] >= n1 for e in events)


def test_a_port_that_vanishes_for_good_raises_stream_error(tmp_path):
    sim = make_sim(tmp_path, fmt="text", duration=30.0, seed=7)

    def unplug(e):
        sim.close()  # the pty and its link are gone

    with pytest.raises(StreamError, match=r"ttyEDGE0.*disappeared and did not come back within 0.3 s"):
        stream_from(sim, EnergyScorer(), fmt="text", rate=1000.0, out=None, record=tmp_path / "rec.csv",
                    reconnect_timeout=0.3, on_event=unplug)
    # what arrived before the port vanished is on disk, in whole lines
    _, rec, _ = read_recording(tmp_path / "rec.csv")
    assert len(rec) >= 64
    np.testing.assert_array_equal(rec, sim.sent_samples()[1:1 + len(rec)])


def test_opening_a_missing_port_names_it(tmp_path):
    with pytest.raises(StreamError, match=r"cannot open serial port .*no-such-tty"):
        run_stream(str(tmp_path / "no-such-tty"), EnergyScorer(), duration=1.0, log=None)


# --------------------------------------------------------------------------- pyserial URL handlers
def test_spy_url_sees_exactly_the_bytes_the_device_wrote(tmp_path, capsys):
    """``spy://`` wraps the real pty: its hex dump of received bytes is the simulator's wire."""
    sim = make_sim(tmp_path, fmt="binary", duration=0.3, seed=8)
    sim.open()
    source = SerialSource(f"spy://{sim.link}").open()
    thread = sim.start()
    try:
        summary = run_stream(source, EnergyScorer(), duration=GUARD, until=lambda: not thread.is_alive(),
                             rate=1000.0, out=None, log=None)
    finally:
        thread.join(GUARD)
        source.close()
        sim.close()
    dump = capsys.readouterr().err
    # hex dump rows: "<time> RX   <offset>  <16 bytes as hex, 49 columns> <ascii>"
    rx = bytes.fromhex("".join(m.group(1) for m in re.finditer(r"(?m)^[\d.]+ RX   [0-9A-F]{4}  (.{49})", dump)))
    assert rx == b"".join(w for _, w in sim.wire)
    assert summary["samples"] == 300 and summary["bad_frames"] == 0



# --------------------------------------------------------------------------- the real detector
MACHINE_FAULTS = ("bearing", "imbalance", "looseness")


def detection_report(events, schedule, offset, window_length):
    """(missed anomalies, alerts on clean windows) in simulator sample indices.

    An anomaly counts as detected when a window that starts before ``start + window_length``
    and overlaps it alerts: the alert comes at most one window after the window the anomaly
    starts in.
    """
    missed = []
    for start, end, kind in schedule:
        near = [e for e in events
                if e["start"] + offset < start + window_length and e["end"] + offset > start]
        if near and not any(e["anomaly"] for e in near):
            missed.append((start, kind))
    truth = window_overlaps(events, schedule, offset)
    false_alarms = [e["start"] + offset for e, t in zip(events, truth) if e["anomaly"] and not t]
    return missed, false_alarms


@pytest.fixture(scope="module")
def artifact_scorer(demo_artifact):
    from edgesynth.deploy.scorer import ArtifactScorer

    return ArtifactScorer.from_dir(demo_artifact)


def test_real_detector_flags_injected_faults_on_a_binary_pty_stream(tmp_path, artifact_scorer):
    sc = artifact_scorer
    assert (sc.window_length, sc.n_channels, sc.sr) == (1024, 3, 4000.0)
    n = 20 * sc.window_length
    sim = make_sim(tmp_path, fmt="binary", rate=4000.0, source=None, signal="vibration", seed=11,
                   duration=n / 4000.0, anomaly_every=1.0, anomaly_length=sc.window_length,
                   anomaly_kinds=MACHINE_FAULTS)
    summary, events = stream_from(sim, sc, fmt="auto", rate=4000.0, out=None, record=tmp_path / "rec.npz")
    assert len(sim.schedule) == 5
    assert summary["samples"] == n and summary["windows"] == 20 and summary["bad_frames"] == 0
    missed, false_alarms = detection_report(events, sim.schedule, 0, sc.window_length)
    # every fault is caught; a clean window alerts only where the model itself flags it (its threshold
    # is calibrated at 1 % FPR, so at most a rare one among the clean windows)
    assert missed == [] and len(false_alarms) <= 1
    assert [e["anomaly"] for e in events] == [bool(e["score"] > sc.threshold) for e in events]
    assert summary["alerts"] >= len(sim.schedule)
    # replay: the recording scored offline gives the live scores
    _, rec, _ = read_recording(tmp_path / "rec.npz")
    np.testing.assert_array_equal(rec, sim.sent_samples())
    np.testing.assert_allclose(sc.score_windows(rec.reshape(20, 1024, 3)), [e["score"] for e in events],
                               rtol=1e-6)


def _line(stream, deadline: float) -> str:
    """One line from an unbuffered pipe; fails (instead of hanging) after ``deadline``."""
    r, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
    if not r:
        raise AssertionError("timed out waiting for the subprocess")
    return stream.readline().decode()


def _cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgesynth.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0, cwd=ROOT)


def test_cli_stream_detects_records_and_replays(tmp_path, demo_artifact):
    """simulator on a pty -> ``edgesynth stream --json --record`` in its own process, Ctrl-C to stop."""
    from edgesynth.data import load
    from edgesynth.deploy.scorer import ArtifactScorer

    L, n_windows = 1024, 16
    n = n_windows * L + 1  # the reader drops the first line unread
    sim = make_sim(tmp_path, fmt="text", rate=4000.0, source=None, signal="vibration", seed=12,
                   duration=n / 4000.0, anomaly_every=1.0, anomaly_length=L, anomaly_kinds=MACHINE_FAULTS)
    sim.open()
    rec = tmp_path / "rec.csv"
    proc = _cli("stream", "--port", sim.link, "--model", str(demo_artifact), "--json", "--rate", "4000",
                "--record", str(rec), "--duration", str(GUARD))
    deadline = time.monotonic() + GUARD
    thread = None
    try:
        while "edgesynth stream: reading" not in _line(proc.stderr, deadline):
            pass  # the port is open: the device may start
        thread = sim.start()
        windows = [json.loads(_line(proc.stdout, deadline)) for _ in range(n_windows)]
        thread.join(GUARD)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: stops cleanly, prints the summary
        rest, err = proc.communicate(timeout=GUARD)
    finally:
        sim.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sim.close()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(rest.decode().strip().splitlines()[-1])["summary"]
    assert summary == {"samples": n - 1, "windows": n_windows, "alerts": sum(w["anomaly"] for w in windows),
                       "bad_frames": 0, "lost_frames": 0, "rate_hz": 4000.0, "reconnects": 0}
    assert all(set(w) == {"t", "score", "anomaly"} for w in windows)
    assert all(a["t"] < b["t"] for a, b in zip(windows, windows[1:]))
    events = [dict(w, start=k * L, end=(k + 1) * L) for k, w in enumerate(windows)]
    missed, false_alarms = detection_report(events, sim.schedule, 1, L)
    # every fault is caught; clean windows alert only where the model itself flags them (1 % FPR threshold)
    assert len(sim.schedule) == 4 and missed == [] and len(false_alarms) <= 1
    thr = ArtifactScorer.from_dir(demo_artifact).threshold
    assert [w["anomaly"] for w in windows] == [bool(w["score"] > thr) for w in windows]
    # --record equals what the simulator sent, and loads back through the data loaders
    ds = load(rec, time_column="t", window_length=L)
    np.testing.assert_array_equal(ds.X.reshape(-1, 3), sim.sent_samples()[1:])
    assert ds.channel_names == ["ch0", "ch1", "ch2"]
    # replay: scoring the recording offline gives what was printed live
    scores = ArtifactScorer.from_dir(demo_artifact).score_windows(ds.X)
    np.testing.assert_allclose(scores, [w["score"] for w in windows], rtol=1e-6)


def test_cli_stream_on_a_missing_port_is_a_one_line_error(tmp_path, demo_artifact, capsys):
    from edgesynth.cli import main

    rc = main(["stream", "--port", str(tmp_path / "ttyGONE"), "--model", str(demo_artifact), "--duration", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert re.match(r"edgesynth stream: error: cannot open serial port '.*ttyGONE'", err)


def test_cli_simulate_device_on_a_new_pty_at_its_rate(tmp_path):
    """``edgesynth simulate-device --pty`` prints its port; pyserial reads it at the given rate."""
    from edgesynth.stream.autodetect import RateDetector
    from edgesynth.stream.framing import BinaryFramer

    rate = 2000.0
    proc = _cli("simulate-device", "--pty", "--rate", "2000", "--format", "binary", "--anomaly-every", "0.5",
                "--seed", "3")
    deadline = time.monotonic() + GUARD
    try:
        path = _line(proc.stdout, deadline).strip()
        assert path.startswith("/dev/")
        framer, detector, got = BinaryFramer(), RateDetector(interval=1.0, min_intervals=10), []
        with SerialSource(path) as src:
            while not detector.done and time.monotonic() < deadline:
                rows = framer.feed(src.read())
                if len(rows):
                    detector.update(time.monotonic(), len(rows))
                    got.append(rows)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert detector.rate == pytest.approx(rate, rel=0.05)
    got = np.concatenate(got)
    assert framer.lost_frames == 0 and framer.bad_frames == 0 and len(got) >= rate
    # the samples are the simulator's stream (same seed, same signal), joined mid-stream
    ref = DeviceSimulator(pty=True, rate=rate, fmt="binary", anomaly_every=0.5, seed=3)
    expected = ref.generate(0, 40 * len(got))
    start = int(np.flatnonzero((expected == got[0]).all(axis=1))[0])
    np.testing.assert_array_equal(got, expected[start:start + len(got)])
