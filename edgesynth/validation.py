"""Reusable validators (like ``librosa.util.valid_audio``): they raise, never assert."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from edgesynth.errors import DataError, ParameterError

_C_RESERVED = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary
    _Noreturn _Static_assert _Thread_local alignas alignof and and_eq asm bitand bitor bool catch
    char8_t char16_t char32_t class compl concept consteval constexpr constinit const_cast co_await
    co_return co_yield decltype delete dynamic_cast explicit export false friend mutable namespace
    new noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast
    requires static_assert static_cast template this thread_local throw true try typeid typename
    using virtual wchar_t xor xor_eq main NULL""".split()
)
_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as int if it is a positive integer, else raise :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) <= 0:
        raise ParameterError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def check_array(
    x: Any,
    name: str = "X",
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_samples: int = 1,
    finite: bool = True,
    dtype=np.float32,
) -> np.ndarray:
    """Validate a numeric array and return it as ``dtype``.

    Raises :class:`DataError` for empty, non-numeric or non-finite data and
    :class:`ParameterError` for a wrong number of dimensions.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists, objects
        raise DataError(f"`{name}` is not a numeric array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise DataError(f"`{name}` must be numeric. Received dtype={arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ParameterError(
                f"`{name}` must have ndim in {allowed}. Received: {name}.shape={arr.shape}"
            )
    n = arr.shape[0] if arr.ndim else 0
    if n < min_samples or arr.size == 0:
        raise DataError(
            f"`{name}` needs at least {min_samples} sample(s). Received: {name}.shape={arr.shape}"
        )
    arr = arr.astype(dtype, copy=False)
    if finite and np.issubdtype(arr.dtype, np.floating) and not _all_finite(arr):
        bad = sum(int(np.size(c) - np.count_nonzero(np.isfinite(c))) for c in _row_chunks(arr))
        raise DataError(f"`{name}` contains {bad} NaN or infinite value(s); expected finite numbers")
    return arr


def _row_chunks(arr: np.ndarray, max_values: int = 1 << 24):
    """Row blocks of ``arr`` of at most ``max_values`` values (bounded temporaries on big / mapped data)."""
    rows = max(1, max_values // max(1, int(np.prod(arr.shape[1:], dtype=np.int64))))
    for i in range(0, arr.shape[0], rows):
        yield arr[i:i + rows]


def _all_finite(arr: np.ndarray) -> bool:
    return all(np.isfinite(c).all() for c in _row_chunks(arr))


def check_windows(x: Any, name: str = "X") -> np.ndarray:
    """Validate windows of shape ``(n_windows, window_length, n_channels)``.

    A 2-D array ``(n_windows, window_length)`` is accepted as one channel and returned 3-D.
    """
    arr = check_array(x, name, ndim=(2, 3))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def check_features(x: Any, name: str = "X", *, n_features: int | None = None) -> np.ndarray:
    """Validate a feature matrix ``(n_samples, n_features)``; float32, finite, non-empty."""
    arr = check_array(x, name, ndim=2)
    if n_features is not None and arr.shape[1] != n_features:
        raise ParameterError(
            f"`{name}` must have {n_features} features per sample. Received: {name}.shape={arr.shape}"
        )
    return arr


def check_binary_labels(y: Any, n: int, name: str = "y") -> np.ndarray:
    """Validate 0/1 labels (0 normal, 1 anomaly) of length ``n``; returns int8."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ParameterError(f"`{name}` must have shape ({n},). Received: {name}.shape={arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = sorted(set(np.unique(arr).tolist()) - {0, 1})[:5]
        raise DataError(f"`{name}` must hold 0 (normal) or 1 (anomaly). Received values {bad}")
    return arr.astype(np.int8)


def check_c_identifier(name: Any, what: str = "name") -> str:
    """Return ``name`` if it is a valid C/C++ identifier that is not a reserved word."""
    from edgesynth.errors import ExportError

    if not isinstance(name, str) or not _C_IDENT.match(name):
        raise ExportError(
            f"`{what}` must be a C identifier ([A-Za-z_][A-Za-z0-9_]*). Received: {what}={name!r}"
        )
    if name in _C_RESERVED:
        raise ExportError(f"`{what}` must not be a C/C++ reserved word. Received: {what}={name!r}")
    if name.startswith("__") or re.match(r"^_[A-Z]", name):
        raise ExportError(
            f"`{what}` must not start with '__' or '_' + capital (reserved in C). Received: {what}={name!r}"
        )
    return name
