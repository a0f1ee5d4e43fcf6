"""The device simulator's signal, schedule, encoding and corruption (no port needed)."""
from __future__ import annotations

import numpy as np
import pytest

from edgesynth.errors import ParameterError
from edgesynth.stream.device import DeviceSimulator, SineSource, default_source
from edgesynth.stream.framing import BinaryFramer, TextFramer


def sim(**kw):
    kw.setdefault("source", SineSource(1000.0, seed=1))
    return DeviceSimulator(pty=True, rate=1000.0, **kw)


def test_schedule_and_faults_follow_anomaly_every():
    s = sim(anomaly_every=0.2, anomaly_length=50, anomaly_kinds=("a", "b"))
    calls = []
    orig = s.source.read
    s.source.read = lambda n, fault=None: calls.append((n, fault)) or orig(n, fault=fault)
    x = s.generate(0, 700)
    assert x.shape == (700, 3)
    assert s.schedule == [(200, 250, "a"), (400, 450, "b"), (600, 650, "a")]
    assert calls == [(200, None), (50, "a"), (150, None), (50, "b"), (150, None), (50, "a"), (50, None)]
    assert np.abs(x[200:250]).max() > 5 and np.abs(x[:200]).max() < 2


def test_anomaly_every_changes_the_schedule():
    a, b = sim(anomaly_every=0.1), sim(anomaly_every=0.3)
    a.generate(0, 1000)
    b.generate(0, 1000)
    assert len(a.schedule) == 9 and len(b.schedule) == 3
    assert a.anomaly_length == 50 and b.anomaly_length == 150


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_encode_gives_what_a_reader_decodes(fmt):
    s = sim(fmt=fmt, packet_samples=7)
    x = s.generate(0, 50)
    data, seen = s.encode(x)
    f = TextFramer(skip_first_line=False, n_channels=3) if fmt == "text" else BinaryFramer()
    np.testing.assert_array_equal(f.feed(data), seen)
    if fmt == "binary":
        np.testing.assert_array_equal(seen, x)
        assert f.frames == 8


def test_int16_binary_scales():
    s = sim(fmt="binary", dtype="int16", int16_scale=100.0)
    x = np.array([[0.5, -1.234, 400.0]], np.float32)
    data, seen = s.encode(x)
    np.testing.assert_array_equal(seen, [[50, -123, 32767]])
    np.testing.assert_array_equal(BinaryFramer().feed(data), seen)


def test_corruption_fraction_and_seed():
    data = bytes(100_000)
    a = sim(corrupt=0.01, seed=5)._corrupt(data)
    b = sim(corrupt=0.01, seed=5)._corrupt(data)
    c = sim(corrupt=0.05, seed=5)._corrupt(data)
    assert a == b
    changed = sum(1 for u in a if u)
    assert 800 < changed < 1200
    assert sum(1 for u in c if u) > 4000
    assert sim(corrupt=0.0)._corrupt(data) == data


def test_same_seed_same_signal():
    def first(seed):
        return DeviceSimulator(pty=True, rate=4000.0, seed=seed, signal="vibration").generate(0, 256)

    np.testing.assert_array_equal(first(1), first(1))
    assert not np.array_equal(first(1), first(2))


def test_default_source_falls_back_to_a_sine_at_low_rates(capsys):
    s = default_source("vibration", sr=10.0, seed=0)
    assert isinstance(s, SineSource) and s.read(5).shape == (5, 3)
    assert "sine" in capsys.readouterr().err
    assert default_source("sine", sr=10.0).n_channels == 3
    with pytest.raises(ParameterError, match="signal"):
        default_source("audio", sr=10.0)


def test_simulator_validates():
    with pytest.raises(ParameterError, match="port"):
        DeviceSimulator()
    with pytest.raises(ParameterError, match="rate"):
        DeviceSimulator(pty=True, rate=0)
    with pytest.raises(ParameterError, match="format"):
        DeviceSimulator(pty=True, fmt="csv")
    with pytest.raises(ParameterError, match="corrupt"):
        DeviceSimulator(pty=True, corrupt=2.0)
    with pytest.raises(ParameterError, match="anomaly_every"):
        DeviceSimulator(pty=True, anomaly_every=0)
    with pytest.raises(ParameterError, match="reopen"):
        DeviceSimulator("loop://").reopen()


def test_each_anomaly_is_read_in_one_piece_whatever_the_block_size():
    """Fault parameters (spike positions, dropout span, ...) must span the whole anomaly, not
    one write block; and the samples must not depend on the block size."""
    def run(block):
        s = sim(anomaly_every=0.2, anomaly_length=50, block=block)
        calls = []
        orig = s.source.read
        s.source.read = lambda n, fault=None: calls.append((n, fault)) or orig(n, fault=fault)
        x = np.concatenate([s.generate(i, min(block, 500 - i)) for i in range(0, 500, block)])
        return x, [c for c in calls if c[1] is not None]

    x7, faults7 = run(7)
    x500, faults500 = run(500)
    assert faults7 == faults500 == [(50, "burst"), (50, "burst")]
    np.testing.assert_array_equal(x7, x500)


def test_generate_continues_where_it_stopped():
    s = sim()
    s.generate(0, 10)
    with pytest.raises(ParameterError, match="sample 10"):
        s.generate(0, 10)
