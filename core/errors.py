"""Exception hierarchy of remine.

Every error subclasses a builtin so callers can catch it generically, and every message says
what was given and what was expected, e.g. ``InputError("points CRS EPSG:4326 differs from
raster CRS EPSG:32633; reproject the points layer")``.
"""


class RemineError(Exception):
    """Base class of all remine errors."""


class InputError(RemineError, ValueError):
    """Bad user input: a path, a parameter, a file's content. Nothing was written."""


class DependencyError(RemineError, ImportError):
    """An optional dependency is missing; the message names the package and the install command."""


class CancelledError(RemineError):
    """The user cancelled; partial outputs have been removed."""


class RemineWarning(UserWarning):
    """Something the user should know about (resampling, dropped NaN, extrapolation...)."""


def as_float_array(value, what, expected="numbers", dtype=float):
    """``numpy.asarray(value, dtype)``, or an :class:`InputError` naming ``what`` and the offending value when
    it holds text or other non-numbers (numpy's own error names neither)."""
    import numpy as np

    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be {expected}; got {_first_bad(value)!r} ({exc})") from None


def _first_bad(value):
    """The first element of a nested sequence that is not a number (or the value itself)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return value
    for item in value:
        if isinstance(item, (str, bytes)) or hasattr(item, "__iter__"):
            found = _first_bad(item)
            try:
                float(found)
            except (TypeError, ValueError):
                return found
        else:
            try:
                float(item)
            except (TypeError, ValueError):
                return item
    return value
