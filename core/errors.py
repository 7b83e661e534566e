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
        naming the package and the command that installs it.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module
        hint = f"pip install 'remine[{extra}]'" if extra else f"pip install {pkg}"
        raise DependencyError(
            f"optional dependency '{pkg}' is not installed (needed here); install it with: {hint}"
        ) from exc
