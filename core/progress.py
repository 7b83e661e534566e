"""Progress reporting and cancellation, independent of QGIS.

Core functions take ``progress: Progress | None``. The QGIS layer adapts ``QgsProcessingFeedback``
to this interface (processing_provider/base.py); scripts may pass :class:`PrintProgress`.
"""
from .errors import CancelledError


class Progress:
    """Interface: ``report(fraction, message)`` and ``is_cancelled()``.

    ``fraction`` is in [0, 1]. Subclasses override :meth:`_report` and :meth:`is_cancelled`.
    """

    def report(self, fraction, message=None):
        self._report(min(max(float(fraction), 0.0), 1.0), message)

    def _report(self, fraction, message):  # pragma: no cover - trivial default
        pass

    def info(self, message):
        """A line for the log (QGIS: pushInfo)."""

    def warn(self, message):
        """A warning for the log (QGIS: reportError(fatal=False))."""

    def is_cancelled(self):
        return False

    def check(self):
        """Raise :class:`CancelledError` if the user cancelled."""
        if self.is_cancelled():
            raise CancelledError("cancelled by the user")

    def sub(self, start, end):
        """A Progress mapping [0, 1] onto [start, end] of this one (for multi-step jobs)."""
        return _SubProgress(self, start, end)


class NullProgress(Progress):
    """Reports nothing, never cancelled."""


class PrintProgress(Progress):
    """Prints to stdout, for scripts."""

    def _report(self, fraction, message):
        print(f"{100 * fraction:5.1f}%" + (f" {message}" if message else ""), flush=True)

    def info(self, message):
        print(message, flush=True)

    def warn(self, message):
        print(f"warning: {message}", flush=True)


class _SubProgress(Progress):
    def __init__(self, parent, start, end):
        self.parent, self.start, self.end = parent, start, end

    def _report(self, fraction, message):
        self.parent.report(self.start + (self.end - self.start) * fraction, message)

    def info(self, message):
        self.parent.info(message)

    def warn(self, message):
        self.parent.warn(message)

    def is_cancelled(self):
        return self.parent.is_cancelled()


def as_progress(progress):
    """``None`` -> :class:`NullProgress`; anything else is returned as is."""
    return NullProgress() if progress is None else progress
