"""Live scoring: window a sample stream, score every window, report anomalies as they happen.

:class:`LiveScorer` is the I/O-free core (a ring buffer that cuts windows of ``window_length``
samples every ``hop_length`` samples and scores them in batches); :func:`run_stream` wires a
serial port, a framer, rate detection, recording and a scorer together — it is what
``edgesynth stream`` calls.

Events are dicts ``{"t", "score", "anomaly", "start", "end"}``: ``t`` is the host arrival time
(seconds since the port opened) of the window's last sample, ``start``/``end`` the window's
sample indices in the stream (end exclusive). The JSON output prints the first three keys.
"""
from __future__ import annotations

import json as _json
import sys
import time
from typing import Callable

import numpy as np

from edgesynth.errors import ParameterError, StreamError
from edgesynth.stream.autodetect import RateDetector
from edgesynth.stream.framing import detect_format, make_framer
from edgesynth.stream.record import Recorder
from edgesynth.stream.serial_source import SerialSource
from edgesynth.validation import check_positive_int

__all__ = ["LiveScorer", "run_stream", "SUMMARY_KEYS"]

SUMMARY_KEYS = ("samples", "windows", "alerts", "bad_frames", "lost_frames", "rate_hz", "reconnects")


class LiveScorer:
    """Sliding windows over a stream of samples, scored as soon as they are complete.

    Parameters
    ----------
    window_length, hop_length, n_channels : int
        Window geometry (as the model was trained).
    score_fn : callable
        ``score_fn(X [shape=(n, window_length, n_channels)]) -> scores (n,)``, higher = more
        anomalous (e.g. ``ArtifactScorer.score_windows``).
    threshold : float
        A window is an anomaly when ``score > threshold``.
    normalize : callable, optional
        Applied to the windows before ``score_fn`` (``ArtifactScorer`` normalizes itself).

    Examples
    --------
    >>> import numpy as np
    >>> s = LiveScorer(4, 2, 1, lambda X: np.abs(X).max(axis=(1, 2)), threshold=5.0)
    >>> x = np.zeros((10, 1), np.float32); x[7] = 9.0
    >>> [(e["start"], e["anomaly"]) for e in s.push(x)]
    [(0, False), (2, False), (4, True), (6, True)]
    """

    def __init__(
        self,
        window_length: int,
        hop_length: int,
        n_channels: int,
        score_fn: Callable[[np.ndarray], np.ndarray],
        threshold: float,
        normalize: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.window_length = check_positive_int(window_length, "window_length")
        self.hop_length = check_positive_int(hop_length, "hop_length")
        self.n_channels = check_positive_int(n_channels, "n_channels")
        if not callable(score_fn):
            raise ParameterError(f"`score_fn` must be callable. Received: score_fn={score_fn!r}")
        self.score_fn = score_fn
        self.threshold = float(threshold)
        self.normalize = normalize
        cap = 4 * self.window_length + self.hop_length
        self._buf = np.zeros((cap, self.n_channels), dtype=np.float32)
        self._tbuf = np.zeros(cap, dtype=np.float64)
        self._n = 0            # valid rows in the buffer
        self._next = 0         # buffer row where the next window starts
        self._base = 0         # stream index of buffer row 0
        self.samples = 0
        self.windows = 0
        self.alerts = 0

    @classmethod
    def from_scorer(cls, scorer) -> "LiveScorer":
        """Wrap an object with ``window_length, hop_length, n_channels, threshold, score_windows``."""
        missing = [a for a in ("window_length", "hop_length", "n_channels", "threshold", "score_windows")
                   if not hasattr(scorer, a)]
        if missing:
            raise ParameterError(
                f"`scorer` must provide window_length, hop_length, n_channels, threshold and "
                f"score_windows (like ArtifactScorer). Received {type(scorer).__name__} without {missing}"
            )
        return cls(scorer.window_length, scorer.hop_length, scorer.n_channels, scorer.score_windows,
                   scorer.threshold)

    def reset(self) -> None:
        """Drop buffered samples (after a gap in the stream); counters are kept."""
        self._base += self._n
        self._n = 0
        self._next = 0

    def push(self, samples, t=None) -> list[dict]:
        """Add samples ``(k, n_channels)`` (timestamps ``t`` ``(k,)``); return the new window events."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1 and self.n_channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.n_channels:
            raise StreamError(
                f"the stream carries samples of shape {x.shape[1:]}; the model expects "
                f"{self.n_channels} channel(s) per sample"
            )
        k = x.shape[0]
        if k == 0:
            return []
        if t is None:
            tt = np.arange(self._base + self._n, self._base + self._n + k, dtype=np.float64)
        else:
            tt = np.broadcast_to(np.asarray(t, dtype=np.float64), (k,))
        self._reserve(k)
        self._buf[self._n:self._n + k] = x
        self._tbuf[self._n:self._n + k] = tt
        self._n += k
        self.samples += k
        L, H = self.window_length, self.hop_length
        if self._n - self._next < L:
            return []
        starts = np.arange(self._next, self._n - L + 1, H)
        view = np.lib.stride_tricks.sliding_window_view(self._buf[:self._n], L, axis=0)  # (m, C, L)
        X = np.ascontiguousarray(view[starts].transpose(0, 2, 1))
        if self.normalize is not None:
            X = self.normalize(X)
        scores = np.asarray(self.score_fn(X), dtype=np.float64).reshape(-1)
        if scores.shape[0] != len(starts):
            raise StreamError(
                f"`score_fn` returned {scores.shape[0]} scores for {len(starts)} windows"
            )
        self._next = int(starts[-1]) + H
        ends = starts + L
        times = self._tbuf[ends - 1]
        events = []
        for s, e, tm, sc in zip(starts.tolist(), ends.tolist(), times.tolist(), scores.tolist()):
            anomaly = bool(sc > self.threshold)
            self.alerts += anomaly
            events.append({"t": tm, "score": sc, "anomaly": anomaly,
                           "start": self._base + s, "end": self._base + e})
        self.windows += len(events)
        return events

    def _reserve(self, k: int) -> None:
        cap = self._buf.shape[0]
        if self._n + k <= cap:
            return
        drop = min(self._next, self._n)  # rows no future window needs
        if drop:
            keep = self._n - drop
            self._buf[:keep] = self._buf[drop:self._n]
            self._tbuf[:keep] = self._tbuf[drop:self._n]
            self._n = keep
            self._next -= drop
            self._base += drop
        if self._n + k > cap:
            new = max(2 * cap, self._n + k)
            buf = np.zeros((new, self.n_channels), dtype=np.float32)
            tbuf = np.zeros(new, dtype=np.float64)
            buf[:self._n] = self._buf[:self._n]
            tbuf[:self._n] = self._tbuf[:self._n]
            self._buf, self._tbuf = buf, tbuf


def _round_rate(r: float | None) -> float | None:
    if r is None:
        return None
    return float(f"{r:.6g}")


def run_stream(
    url,
    scorer,
    *,
    baud: int = 115200,
    fmt: str = "auto",
    record=None,
    duration: float | None = None,
    rate: float | None = None,
    json: bool = False,
    out=sys.stdout,
    value_range=None,
    on_event: Callable[[dict], None] | None = None,
    measure_interval: float = 2.0,
    reconnect_timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    read_size: int = 65536,
    until: Callable[[], bool] | None = None,
    log="stderr",
) -> dict:
    """Read a serial stream, score it window by window, print alerts; return a summary.

    Parameters
    ----------
    url : str or SerialSource
        Port: a device path or pyserial URL (``/dev/ttyUSB0``, ``loop://``, ``socket://h:p``,
        ``rfc2217://h:p``), or an already built :class:`SerialSource`.
    scorer : ArtifactScorer-like or LiveScorer
        Anything with ``window_length, hop_length, n_channels, threshold, score_windows(X)``.
    baud : int
    fmt : {"auto", "text", "binary"}
        ``auto`` decides from the first bytes (:func:`~edgesynth.stream.framing.detect_format`).
    record : path-like, optional
        Record raw samples and timestamps to ``.csv`` (as it goes) or ``.npz`` (on exit).
    duration : float, optional
        Stop cleanly after this many seconds (default: until Ctrl-C).
    rate : float, optional
        Sampling rate in Hz; default: measured from arrival timing over ``measure_interval``.
    json : bool
        Print one JSON object per window ``{"t", "score", "anomaly"}``; otherwise print a line
        per anomalous window only. The caller prints the summary.
    out : text file
    value_range : (float, float), optional
        Samples outside are bad frames.
    on_event : callable, optional
        Called with every window event (including ``start``/``end`` sample indices).
    reconnect_timeout : float
        Seconds to keep trying to reopen a vanished port before :class:`StreamError`.
    clock : callable
        ``clock() -> seconds`` for timestamps, ``duration`` and rate detection.
    log : text file, "stderr" or None
        Status lines for people (port opened, reconnected, rate mismatch); ``"stderr"`` means
        ``sys.stderr`` at call time, None is silent. Never mixed into ``out``.
    until : callable, optional
        Checked whenever the port has nothing waiting; the stream ends when it returns True.
        With ``until=producer_finished`` everything the producer sent is read before stopping
        (tests and benchmarks stop on data, not on time).

    Raises
    ------
    StreamError
        The port cannot be opened, vanished and did not come back within
        ``reconnect_timeout``, or carries a different number of values per sample than the
        model's channels.

    Returns
    -------
    dict
        ``{"samples", "windows", "alerts", "bad_frames", "lost_frames", "rate_hz", "reconnects"}``.
    """
    if fmt not in ("auto", "text", "binary"):
        raise ParameterError(f"`format` must be 'auto', 'text' or 'binary'. Received: format={fmt!r}")
    if duration is not None and not (float(duration) > 0):
        raise ParameterError(f"`duration` must be a positive number of seconds. Received: duration={duration!r}")
    live = scorer if isinstance(scorer, LiveScorer) else LiveScorer.from_scorer(scorer)
    detector = RateDetector(interval=measure_interval, rate=rate)
    own_source = not isinstance(url, SerialSource)
    source = SerialSource(url, baud=baud, reconnect_timeout=reconnect_timeout, clock=clock) if own_source else url
    recorder = Recorder(record, clock=clock) if record is not None else None
    framer = None if fmt == "auto" else make_framer(fmt)
    head = bytearray()
    head_t: float | None = None
    t0 = clock()
    deadline = None if duration is None else t0 + float(duration)
    prev = 0.0
    seen_reconnects = source.reconnects
    start_reconnects = source.reconnects
    model_sr = getattr(scorer, "sr", None)

    def consume(rows, now, prev):
        """Record, window and score the samples a read completed; returns the new ``prev``."""
        if framer.n_channels is not None and framer.n_channels != live.n_channels:
            raise StreamError(
                f"the stream on {source.url!r} carries {framer.n_channels} value(s) per sample; the "
                f"model expects {live.n_channels} channel(s)"
            )
        k = rows.shape[0]
        if k == 0:
            return prev
        # the samples of one read are spread evenly since the previous read (strictly increasing,
        # also when two reads share a clock tick)
        now = max(now, prev + 1e-8 * k)
        times = prev + (now - prev) * (np.arange(1, k + 1, dtype=np.float64) / k)
        detector.update(now, k)
        if recorder is not None:
            if recorder.n_samples == 0 and getattr(framer, "channel_names", None):
                recorder.channel_names = list(framer.channel_names)
            recorder.write(times, rows)
        events = live.push(rows, times)
        if events:
            _emit(events, out, json=json, threshold=live.threshold, on_event=on_event)
        return now

    logf = sys.stderr if log == "stderr" else log

    def say(msg: str) -> None:
        if logf is not None:
            logf.write(msg + "\n")
            logf.flush()

    try:
        source.open()
        say(f"edgesynth stream: reading {source.url} ({fmt} format, {source.baud} baud); windows of "
            f"{live.window_length} samples every {live.hop_length}; Ctrl-C stops")
        while True:
            if deadline is not None and clock() >= deadline:
                break
            chunk = source.read(read_size, deadline=deadline)
            now = clock() - t0
            if source.reconnects != seen_reconnects:
                seen_reconnects = source.reconnects
                say(f"edgesynth stream: {source.url} came back after {source.last_error}; reconnected")
                if framer is not None:
                    framer.reset()
                live.reset()
                prev = now
            if not chunk:
                finished = until is not None and until()
                if framer is None and head and (finished or now - head_t >= 0.5):
                    # a quiet or finished stream: decide the format on what came
                    framer = _start_framer(head, value_range)
                    prev = consume(framer.feed(bytes(head)), now, prev)
                    head = bytearray()
                if finished:
                    break
                continue
            if framer is None:
                head += chunk
                head_t = now if head_t is None else head_t
                if len(head) < 64 and now - head_t < 0.5:
                    continue
                framer = _start_framer(head, value_range)
                chunk, head = bytes(head), bytearray()
            prev = consume(framer.feed(chunk), now, prev)
        if framer is not None and hasattr(framer, "flush"):  # lines still awaiting the axis count
            consume(framer.flush(), clock() - t0, prev)
    except KeyboardInterrupt:
        pass
    finally:
        if own_source:
            source.close()
        if recorder is not None:
            recorder.close(sr=detector.rate)
    rate_hz = _round_rate(detector.rate)
    if model_sr and rate_hz and abs(rate_hz - float(model_sr)) > 0.1 * float(model_sr):
        say(f"note: the stream runs at about {rate_hz:g} Hz but the model was trained at {float(model_sr):g} Hz")
    return {
        "samples": int(live.samples),
        "windows": int(live.windows),
        "alerts": int(live.alerts),
        "bad_frames": int(framer.bad_frames) if framer is not None else 0,
        "lost_frames": int(framer.lost_frames) if framer is not None else 0,
        "rate_hz": rate_hz,
        "reconnects": int(source.reconnects - start_reconnects),
    }


def _start_framer(head: bytes, value_range):
    return make_framer(detect_format(head), value_range=value_range)


def _emit(events, out, *, json: bool, threshold: float, on_event) -> None:
    lines = []
    for e in events:
        if on_event is not None:
            on_event(e)
        if json:
            lines.append(_json.dumps({"t": round(e["t"], 6), "score": e["score"], "anomaly": e["anomaly"]}))
        elif e["anomaly"]:
            lines.append(f"ALERT t={e['t']:.3f}s score={e['score']:.5g} > threshold {threshold:.5g}")
    if lines and out is not None:
        out.write("\n".join(lines) + "\n")
        out.flush()
