"""Cut long recordings into windows, and give each window one label.

A recording of ``n_samples`` samples cut into windows of ``window_length`` samples every
``hop_length`` samples gives::

    n_windows = 1 + (n_samples - window_length) // hop_length      (n_samples >= window_length)

Samples after the last full window are dropped (no padding), so every window is real data.

Example
-------
>>> import numpy as np
>>> frame(np.arange(10.0), window_length=4, hop_length=3)[:, :, 0]
array([[0., 1., 2., 3.],
       [3., 4., 5., 6.],
       [6., 7., 8., 9.]], dtype=float32)
>>> window_labels(np.array([0, 0, 1, 0, 0, 0]), window_length=3, hop_length=3, rule="any")
array([1, 0])
"""
from __future__ import annotations

import numpy as np

from edgesynth.errors import DataError, ParameterError
from edgesynth.validation import check_positive_int

LABEL_RULES = ("last", "any", "majority")


def n_windows(n_samples: int, *, window_length: int, hop_length: int | None = None) -> int:
    """Number of full windows in ``n_samples`` samples (0 when the recording is too short)."""
    window_length = check_positive_int(window_length, "window_length")
    hop_length = window_length if hop_length is None else check_positive_int(hop_length, "hop_length")
    if n_samples < window_length:
        return 0
    return 1 + (int(n_samples) - window_length) // hop_length


def frame(
    signal: np.ndarray,
    *,
    window_length: int,
    hop_length: int | None = None,
    source: str = "signal",
    dtype=np.float32,
) -> np.ndarray:
    """Cut a recording into (possibly overlapping) windows.

    Parameters
    ----------
    signal : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
        The recording; the channel axis is kept.
    window_length : int > 0
        Samples per window.
    hop_length : int > 0 or None
        Samples between the starts of consecutive windows (default: ``window_length``, no overlap).
    source : str
        Name used in error messages (a file name).

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, window_length, n_channels), dtype=float32]
        A new contiguous array (not a view).

    Raises
    ------
    DataError
        When the recording is shorter than one window.
    """
    window_length = check_positive_int(window_length, "window_length")
    hop_length = window_length if hop_length is None else check_positive_int(hop_length, "hop_length")
    x = np.asarray(signal)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ParameterError(
            f"`signal` must have shape (n_samples,) or (n_samples, n_channels). Received: shape={x.shape}"
        )
    n = n_windows(x.shape[0], window_length=window_length, hop_length=hop_length)
    if n == 0:
        raise DataError(
            f"{source}: window longer than the recording: window_length={window_length} samples but "
            f"the recording has only {x.shape[0]} samples"
        )
    view = np.lib.stride_tricks.sliding_window_view(x, window_length, axis=0)[::hop_length]
    # view: (n_windows, n_channels, window_length)
    return np.ascontiguousarray(view[:n].transpose(0, 2, 1), dtype=dtype)


def window_labels(
    point_labels: np.ndarray,
    *,
    window_length: int,
    hop_length: int | None = None,
    rule: str = "last",
    normal=0,
) -> np.ndarray:
    """One label per window from one label per sample.

    Parameters
    ----------
    point_labels : np.ndarray [shape=(n_samples,)]
        Label of every sample (integers or strings).
    window_length, hop_length : int
        As in :func:`frame`; window ``i`` covers samples ``[i*hop, i*hop + window_length)``.
    rule : {"last", "any", "majority"}
        * ``"last"``: the label of the window's last sample (what a streaming detector knows when
          the window completes).
        * ``"any"``: ``normal`` if every sample is ``normal``; otherwise the most frequent
          non-normal label of the window (ties: the smallest label).
        * ``"majority"``: the most frequent label of the window; ties go to a non-normal label,
          then to the smallest label.
    normal : scalar
        The normal label (used by ``"any"`` and for ties in ``"majority"``).

    Returns
    -------
    labels : np.ndarray [shape=(n_windows,)], same dtype as ``point_labels``
    """
    if rule not in LABEL_RULES:
        raise ParameterError(f"`rule` must be one of {LABEL_RULES}. Received: rule={rule!r}")
    window_length = check_positive_int(window_length, "window_length")
    hop_length = window_length if hop_length is None else check_positive_int(hop_length, "hop_length")
    lab = np.asarray(point_labels)
    if lab.ndim != 1:
        raise ParameterError(f"`point_labels` must be 1-D. Received: shape={lab.shape}")
    n = n_windows(lab.shape[0], window_length=window_length, hop_length=hop_length)
    if n == 0:
        raise DataError(
            f"window longer than the labels: window_length={window_length} but only {lab.shape[0]} labels"
        )
    starts = np.arange(n) * hop_length
    ends = starts + window_length
    if rule == "last":
        return lab[ends - 1]
    values, codes = np.unique(lab, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.empty((n, values.size), dtype=np.int64)
    for k in range(values.size):  # one cumulative sum per class: O(n_samples) memory
        cs = np.concatenate([[0], np.cumsum(codes == k, dtype=np.int64)])
        counts[:, k] = cs[ends] - cs[starts]
    is_normal = values == normal
    if rule == "any":
        abn = counts.copy()
        abn[:, is_normal] = -1
        pick = np.argmax(abn, axis=1)  # argmax returns the first (smallest label) on ties
        has_abn = abn.max(axis=1) > 0
        normal_code = np.flatnonzero(is_normal)
        if normal_code.size:
            pick = np.where(has_abn, pick, normal_code[0])
        return values[pick]
    # majority: break ties towards non-normal labels, then towards the smallest label
    score = counts * 2 + (~is_normal)[None, :].astype(np.int64)
    return values[np.argmax(score, axis=1)]


__all__ = ["LABEL_RULES", "n_windows", "frame", "window_labels"]
