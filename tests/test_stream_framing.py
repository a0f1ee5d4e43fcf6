"""Framing: text lines and COBS binary packets, fed arbitrary byte chunks (property tests)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edgesynth.errors import ParameterError
from edgesynth.stream.framing import (
    BinaryFramer,
    TextFramer,
    cobs_decode,
    cobs_encode,
    crc16_ccitt_false,
    decode_packet,
    detect_format,
    encode_packet,
    encode_text_block,
    encode_text_sample,
    make_framer,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def feed_all(framer, chunks, *, flush=False) -> np.ndarray:
    outs = [framer.feed(c) for c in chunks]
    if flush:
        outs.append(framer.flush())
    outs = [o for o in outs if o.size]
    if not outs:
        return np.empty((0, framer.n_channels or 0), np.float32)
    return np.concatenate(outs)


def split(data: bytes, cuts) -> list[bytes]:
    cuts = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges[:-1], edges[1:])]


rows_strategy = st.integers(1, 4).flatmap(
    lambda c: st.lists(
        st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=c, max_size=c),
        min_size=1, max_size=40,
    )
)
cuts_strategy = st.lists(st.integers(0, 10_000), max_size=30)


# --------------------------------------------------------------------------- CRC and COBS
def test_crc16_ccitt_false_known_vector():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF


@SETTINGS
@given(st.binary(max_size=1200))
def test_cobs_round_trip(data):
    enc = cobs_encode(data)
    assert b"\x00" not in enc
    assert cobs_decode(enc) == data
    assert len(enc) <= len(data) + 1 + len(data) // 254 + 1


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 509])
@pytest.mark.parametrize("fill", [b"\x01", b"\x00"])
def test_cobs_block_boundaries(n, fill):
    data = fill * n
    assert cobs_decode(cobs_encode(data)) == data
    assert cobs_decode(cobs_encode(data + b"\x00")) == data + b"\x00"


@SETTINGS
@given(st.binary(max_size=300))
def test_cobs_decode_only_raises_value_error(data):
    try:
        cobs_decode(data)
    except ValueError:
        pass


# --------------------------------------------------------------------------- text
@SETTINGS
@given(rows_strategy, cuts_strategy, st.sampled_from([",", "\t", " ", ", "]), st.booleans())
def test_text_any_split_gives_the_same_frames(rows, cuts, sep, crlf):
    x = np.asarray(rows, dtype=np.float32)
    eol = "\r\n" if crlf else "\n"
    text = "".join(sep.join(f"{v:.9g}" for v in r) + eol for r in x.tolist())
    data = text.encode()
    whole = feed_all(TextFramer(skip_first_line=False, n_channels=x.shape[1]), [data])
    np.testing.assert_array_equal(whole, x)
    f = TextFramer(skip_first_line=False, n_channels=x.shape[1])
    np.testing.assert_array_equal(feed_all(f, split(data, cuts)), x)
    assert f.bad_frames == 0 and f.frames == len(x)
    # autodetected axis count, first line dropped (the usual mid-line join)
    g = TextFramer()
    got = feed_all(g, split(data, cuts), flush=True)
    np.testing.assert_array_equal(got.reshape(-1, x.shape[1]), x[1:])


@SETTINGS
@given(st.binary(max_size=2000), cuts_strategy)
def test_text_never_raises_on_arbitrary_bytes(data, cuts):
    f = TextFramer()
    out = feed_all(f, split(data, cuts))
    f.flush()
    assert out.dtype == np.float32 and np.isfinite(out).all()
    g = TextFramer(n_channels=3, value_range=(-10, 10), max_line=64)
    out = feed_all(g, split(data, cuts))
    assert out.shape[1] == 3 and (np.abs(out) <= 10).all()


def _garbage_line(b: bytes) -> bytes:
    """A line no reader may take for data, a header or a comment: it carries a stray ``@``."""
    return b.replace(b"\n", b" ") + b"@"


@SETTINGS
@given(
    rows_strategy,
    st.lists(st.binary(max_size=30).map(_garbage_line), max_size=10),
    st.randoms(use_true_random=False),
    cuts_strategy,
)
def test_text_garbage_between_lines_gives_exactly_the_valid_frames(rows, garbage, rnd, cuts):
    x = np.asarray(rows, dtype=np.float32)
    garbage = [g for g in garbage if not g.strip().startswith(b"#")]
    lines = [encode_text_sample(r) for r in x]
    for g in garbage:
        lines.insert(rnd.randint(0, len(lines)), g + rnd.choice([b"\n", b"\r\n"]))
    f = TextFramer(n_channels=x.shape[1], skip_first_line=False)
    got = feed_all(f, split(b"".join(lines), cuts))
    np.testing.assert_array_equal(got, np.float32([[float(f"{v:.7g}") for v in r] for r in x.tolist()]))
    assert f.bad_frames == len(garbage) and f.frames == len(x)


def test_text_header_only_before_data_and_repeats_ignored():
    f = TextFramer(skip_first_line=False)
    out = f.feed(b"ax,ay\n1,2\nax,ay\nbooting sensor\n3,4\n")
    np.testing.assert_array_equal(out, [[1, 2], [3, 4]])
    assert f.channel_names == ["ax", "ay"] and f.bad_frames == 1  # the boot message


def test_text_header_comments_and_bad_lines_are_counted():
    data = (
        b"garbage from the middle of a line\n"
        b"# boot message\r\n"
        b"x\ty\tz\r\n"
        b"1\t2\t3\r\n"
        b"4 5 6\n"
        b"7,8\n"           # wrong field count
        b"1,nan,3\n"       # non-finite
        b"1,inf,3\n"
        b"1,abc,3\n"       # not a number
        b"1,2,300\n"       # out of range
        b"\n"
        b"  7 , 8 , 9  \n"
        b"1e40,0,0\n"      # overflows float32
        b"10,11,12"        # no newline yet
    )
    f = TextFramer(value_range=(-100, 100))
    out = feed_all(f, [data], flush=True)
    np.testing.assert_array_equal(out, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert f.channel_names == ["x", "y", "z"]
    assert f.comments == 1
    assert f.bad_frames == 6
    assert f.out_of_range == 2  # 300 and 1e40
    g = TextFramer(n_channels=1, skip_first_line=False)
    assert g.feed(b"1e40\n2\n").tolist() == [[2.0]] and g.bad_frames == 1
    np.testing.assert_array_equal(f.feed(b"\n"), [[10, 11, 12]])


def test_text_axis_count_is_the_majority():
    lines = b"".join(encode_text_sample([i, i + 1, i + 2]) for i in range(10))
    f = TextFramer(skip_first_line=False)
    out = f.feed(b"5,6\n" + lines)
    assert f.n_channels == 3 and out.shape == (10, 3) and f.bad_frames == 1


def test_text_overlong_line_is_one_bad_frame():
    f = TextFramer(n_channels=1, max_line=32, skip_first_line=False)
    assert f.feed(b"1" * 40).shape == (0, 1)
    assert f.feed(b"2" * 40).shape == (0, 1)
    np.testing.assert_array_equal(f.feed(b"333\n4\n"), [[4]])
    assert f.bad_frames == 1


def test_text_reset_drops_the_partial_line():
    f = TextFramer(n_channels=2, skip_first_line=False)
    f.feed(b"1,2\n3,")
    f.reset()
    np.testing.assert_array_equal(f.feed(b"4\n5,6\n"), [[5, 6]])
    assert f.bad_frames == 0


def test_encode_text_block_matches_encode_text_sample(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    assert encode_text_block(x) == b"".join(encode_text_sample(r) for r in x)


# --------------------------------------------------------------------------- binary
def packets_of(x: np.ndarray, per: int, dtype="float32", seq0=0) -> bytes:
    return b"".join(encode_packet(seq0 + i, x[s:s + per], dtype) for i, s in enumerate(range(0, len(x), per)))


@SETTINGS
@given(rows_strategy, cuts_strategy, st.integers(1, 7), st.sampled_from(["float32", "int16"]))
def test_binary_any_split_gives_the_same_frames(rows, cuts, per, dtype):
    x = np.asarray(rows, dtype=np.float32)
    if dtype == "int16":
        x = np.clip(np.rint(x), -32768, 32767).astype(np.float32)
    data = packets_of(x, per, dtype)
    f = BinaryFramer()
    np.testing.assert_array_equal(feed_all(f, split(data, cuts)), x)
    assert (f.bad_frames, f.lost_frames, f.frames) == (0, 0, -(-len(x) // per))


@SETTINGS
@given(
    st.lists(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=2, max_size=2),
             min_size=1, max_size=12),
    st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x00", b"\x07")), max_size=12),
    st.randoms(use_true_random=False),
    cuts_strategy,
)
def test_binary_garbage_between_frames_gives_exactly_the_valid_frames(rows, garbage, rnd, cuts):
    x = np.asarray(rows, dtype=np.float32)
    for g in garbage:  # a garbage run that happens to be a valid packet is not garbage
        assume(decode_packet_or_none(g) is None)
    frames = [encode_packet(i, x[i:i + 1]) for i in range(len(x))]
    pieces = list(frames)
    for g in garbage:  # garbage runs end in a delimiter, as a corrupt packet would
        pieces.insert(rnd.randint(1, len(pieces)), g + b"\x00")
    data = b"".join(pieces)
    f = BinaryFramer()
    np.testing.assert_array_equal(feed_all(f, split(data, cuts)), x)
    assert f.bad_frames == len(garbage)
    assert f.lost_frames == 0


def decode_packet_or_none(frame: bytes):
    try:
        return decode_packet(cobs_decode(frame))
    except ValueError:
        return None


@SETTINGS
@given(st.binary(max_size=3000), cuts_strategy)
def test_binary_never_raises_on_arbitrary_bytes(data, cuts):
    f = BinaryFramer(max_frame=256)
    out = feed_all(f, split(data, cuts))
    assert out.dtype == np.float32 and np.isfinite(out).all()


@SETTINGS
@given(st.binary(max_size=400), st.integers(0, 300))
def test_binary_survives_garbage_and_recovers(garbage, n):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    f = BinaryFramer(n_channels=3)
    f.feed(garbage + b"\x00")
    out = f.feed(packets_of(x, 2, seq0=n))
    np.testing.assert_array_equal(out, x)


def test_binary_lost_frames_from_sequence_gaps_with_wraparound():
    x = np.ones((1, 2), np.float32)
    data = b"".join(encode_packet(s, x) for s in (65533, 65534, 1, 2, 5))
    f = BinaryFramer()
    assert f.feed(data).shape == (5, 2)
    assert f.lost_frames == 4  # 65535, 0, 3, 4
    assert f.bad_frames == 0 and f.frames == 5


def test_binary_corrupt_packet_is_bad_and_lost():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    p = [bytearray(encode_packet(i, x)) for i in range(3)]
    p[1][5] ^= 0x40  # flip a bit inside the middle packet
    f = BinaryFramer()
    out = f.feed(b"".join(bytes(b) for b in p))
    np.testing.assert_array_equal(out, np.concatenate([x, x]))
    assert (f.bad_frames, f.lost_frames, f.frames) == (1, 1, 2)


def test_binary_channel_mismatch_and_range_are_bad_frames():
    f = BinaryFramer(n_channels=2, value_range=(-5, 5))
    data = encode_packet(0, np.zeros((2, 3))) + encode_packet(1, np.full((2, 2), 9.0)) + encode_packet(2, np.ones((2, 2)))
    np.testing.assert_array_equal(f.feed(data), np.ones((2, 2)))
    assert f.bad_frames == 2 and f.out_of_range == 1


def test_binary_first_partial_packet_is_skipped_not_bad():
    data = packets_of(np.ones((6, 2), np.float32), 2)
    f = BinaryFramer()
    out = f.feed(data[7:])  # joined mid-packet
    assert out.shape == (4, 2) and f.bad_frames == 0 and f.skipped_bytes > 0


def test_encode_packet_validates():
    with pytest.raises(ParameterError, match="dtype"):
        encode_packet(0, np.ones((2, 2)), "int8")
    with pytest.raises(ParameterError, match="samples"):
        encode_packet(0, np.ones((0, 2)))


def test_int16_packets_round_and_clip():
    f = BinaryFramer()
    out = f.feed(encode_packet(0, [[1.4, -40000.0, 40000.0]], "int16"))
    np.testing.assert_array_equal(out, [[1, -32768, 32767]])


# --------------------------------------------------------------------------- format detection
def test_detect_format(rng):
    x = rng.normal(size=(20, 3))
    assert detect_format(encode_text_block(x)[:64]) == "text"
    assert detect_format(b"x,y,z\r\n1\t2\t3\n") == "text"
    assert detect_format(encode_packet(0, x, "int16")[:64]) == "binary"
    assert detect_format(rng.integers(0, 256, 64, dtype=np.uint8).tobytes().replace(b"\x00", b"\x80")) == "binary"
    assert detect_format(b"") == "text"
    assert isinstance(make_framer("binary"), BinaryFramer)
    with pytest.raises(ParameterError, match="fmt"):
        make_framer("csv")
