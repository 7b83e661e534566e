"""Grades per voxel by 3D ordinary kriging with anisotropy (the compiled kernel of :mod:`remine.core.geostat`)."""
import numpy as np

from ..errors import InputError
from ..geostat import OrdinaryKriging


def check_samples(grid, coords, values, name="grade", surfaces_at=None):
    """Samples usable for the model: finite, inside the footprint and not above the top surface.

    ``surfaces_at``: (top, base) elevations (n,) of the surface rasters at the samples (default: the grid's
    column means, with half a voxel height of tolerance).

    Returns
    -------
    (coords (k, 3), values (k,), dict of problems: ``outside`` and ``above_top`` index arrays into the input).
    Raises InputError when no sample is left or the values are constant.
    """
    coords = np.asarray(coords, float)
    values = np.asarray(values, float)
    if coords.ndim != 2 or coords.shape[1] != 3 or len(coords) != len(values):
        raise InputError(f"samples: coords {coords.shape} and values {values.shape}; expected (n, 3) x, y, z "
                         "in metres and (n,) grades")
    ok = np.isfinite(values) & np.all(np.isfinite(coords), axis=1)
    if surfaces_at is None:
        top, base, tol = grid.surface_at(coords[:, :2], "top"), grid.surface_at(coords[:, :2], "base"), 0.5 * grid.dz
    else:
        (top, base), tol = surfaces_at, 1e-3
    outside = ok & ~(np.isfinite(top) & np.isfinite(grid.surface_at(coords[:, :2], "top")))
    above = ok & ~outside & (coords[:, 2] > top + tol)
    below = ok & ~outside & (coords[:, 2] < base - tol)
    keep = ok & ~outside & ~above & ~below
    problems = {"outside": np.flatnonzero(outside), "above_top": np.flatnonzero(above),
                "below_base": np.flatnonzero(below), "missing": np.flatnonzero(~ok)}
    if keep.sum() < 2:
        raise InputError(f"{int(keep.sum())} of {len(values)} samples lie inside the body ({len(problems['outside'])} "
                         f"outside the footprint, {len(problems['above_top'])} above the top surface, "
                         f"{len(problems['below_base'])} below the base); expected samples within the tailings")
    if np.ptp(values[keep]) == 0:
        raise InputError(f"the {name} is constant ({values[keep][0]:g}) at every sample: nothing to interpolate or "
                         "simulate; expected varying grades")
    return coords[keep], values[keep], problems


def krige_grid(grid, coords, values, model, anisotropy=None, n_neighbors=32, max_dist=None):
    """3D ordinary kriging at the centres of the active cells.

    Parameters
    ----------
    grid : VoxelGrid. coords : ndarray (n, 3) metres. values : ndarray (n,).
    model : VariogramModel (range_ = horizontal range when ``anisotropy`` is given).
    anisotropy : Anisotropy or gstat ``(p, q, r, s, t)``, optional.
    n_neighbors : int – nearest samples (anisotropic distance) per voxel; None: all.

    Returns
    -------
    (estimate, variance) ndarrays (nz, ny, nx), NaN outside the body.
    """
    ok = OrdinaryKriging(model, n_neighbors=n_neighbors, max_dist=max_dist, anisotropy=anisotropy)
    est, var = ok.fit(coords, values).predict(grid.centres())
    return grid.full(est.astype(float)), grid.full(var.astype(float))
