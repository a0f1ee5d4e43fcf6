"""One exception tree for edgesynth.

Every error edgesynth raises on bad input derives from :class:`EdgesynthError` *and* from the
builtin that matches it, so ``except ValueError`` keeps working for callers who do not know
edgesynth. Messages say which argument or file, what was expected, and what was received::

    ParameterError("`window_length` must be a positive integer. Received: window_length=-3")
"""


class EdgesynthError(Exception):
    """Base class of all edgesynth errors."""


class ParameterError(EdgesynthError, ValueError):
    """An argument has the wrong type, shape or value."""


class DataError(EdgesynthError, ValueError):
    """Input data (a file, an array, a folder) is empty, malformed, non-finite or mislabelled."""


class ModelError(EdgesynthError, ValueError):
    """A model or artifact is missing, corrupt, of the wrong kind, or inconsistent with its manifest."""


class ExportError(EdgesynthError, ValueError):
    """A model cannot be exported to firmware sources (unsupported op, float-only model, bad name)."""


class StreamError(EdgesynthError, IOError):
    """A serial port or byte stream failed (port vanished, cannot open, malformed configuration)."""


class NotAvailableError(EdgesynthError, RuntimeError):
    """A feature that is not built yet, or an optional tool that is not installed."""


__all__ = [
    "EdgesynthError",
    "ParameterError",
    "DataError",
    "ModelError",
    "ExportError",
    "StreamError",
    "NotAvailableError",
]
