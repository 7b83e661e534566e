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


def require(module, package=None, extra=None):
    """Import an optional dependency lazily.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"torch"``.
    package : str, optional
        pip package name if it differs from the module name.
    extra : str, optional
        remine extra that brings it (``deep``, ``dask``, ``viz``).

    Raises
    ------
    DependencyError
        naming the package and the command that installs it: for one of remine's packages the message of
        :func:`remine.core.dependencies.import_error` (the dependency dialog, the pip command for this
        interpreter), followed by the library's extra.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        from .dependencies import import_error  # here: dependencies imports this module

        pkg = package or module
        hint = f"pip install 'remine[{extra}]'" if extra else f"pip install {pkg}"
        error = import_error(exc)
        if error is not None:
            raise DependencyError(f"{error}; as a Python library: {hint}") from exc
        raise DependencyError(
            f"optional dependency '{pkg}' is not installed (needed here); install it with: {hint}"
        ) from exc


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
