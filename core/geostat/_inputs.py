"""Shared checks of point inputs for variograms and kriging."""
import numpy as np

from ..errors import InputError, as_float_array
from ..points import drop_nan, merge_duplicates


def as_coords(coords, what="coords"):
    """``coords`` as float64 ``(n, 2|3)``; InputError otherwise."""
    c = as_float_array(coords, what, "numbers (x, y[, z] coordinates in metres)")
    if c.ndim != 2 or c.shape[1] not in (2, 3):
        raise InputError(f"{what} has shape {c.shape}; expected (n, 2) or (n, 3) x, y[, z] coordinates")
    return c


def prepare_points(coords, values, min_points=3, allow_constant=True, extra=None):
    """Validate sample points: drop NaN (counted), average duplicates (counted), require ``min_points``.

    ``extra`` (n, p), optional: further per-point variables (e.g. external drift) cleaned alongside.

    Returns
    -------
    coords (m, d) float64, values (m,) float64, info dict ``{"n_input", "n_nan", "n_duplicates"}``
    [, extra (m, p) when given].
    """
    c = as_coords(coords)
    v = as_float_array(values, "values", "numbers (one per point)").ravel()
    if len(v) != len(c):
        raise InputError(f"{len(c)} coordinates but {len(v)} values; expected one value per point")
    n_input = len(v)
    if extra is not None:
        extra = np.asarray(extra, dtype=float).reshape(n_input, -1)
        v = np.column_stack([v, extra])
    c, v, n_nan = drop_nan(c, v)
    c, v, n_dup = merge_duplicates(c, v)
    if extra is not None:
        v, extra = v[:, 0], v[:, 1:]
    if len(v) < min_points:
        raise InputError(f"{len(v)} valid distinct points (of {n_input} given, {n_nan} NaN, {n_dup} duplicates); "
                         f"at least {min_points} are needed")
    if not allow_constant and np.ptp(v) == 0:
        raise InputError(f"all {len(v)} values equal {v[0]:g}: the variogram is flat (zero everywhere); "
                         "there is no spatial variation to model")
    info = {"n_input": n_input, "n_nan": n_nan, "n_duplicates": n_dup}
    return (c, v, info) if extra is None else (c, v, info, extra)
