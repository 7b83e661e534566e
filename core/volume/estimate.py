"""Grades per voxel by 3D ordinary kriging with anisotropy (the compiled kernel of :mod:`remine.core.geostat`),
block of voxels by block of voxels, here or on a Dask cluster (:func:`remine.core.cluster.tasks`); or by the
hybrid model (kriging corrected by a CNN-BiLSTM ensemble, :class:`remine.core.geostat.HybridKrigingRegressor`)."""
import contextlib
import warnings

import numpy as np

from .. import cluster
from ..errors import InputError, RemineWarning
from ..geostat import HybridKrigingRegressor, OrdinaryKriging
from ..geostat.anisotropy import as_anisotropy
from ..progress import as_progress

#: active cells per block of 3D kriging (whole grid rows: a block may hold one row more than this)
BLOCK_CELLS = 1 << 17
#: bytes per cell of a block being kriged: centres, anisotropic coordinates, neighbour search and outputs
BLOCK_BYTES_PER_CELL = 400


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


def plan_blocks(grid, cells=None):
    """Blocks of whole grid rows (layer, row) in C order holding about ``cells`` (default
    :data:`BLOCK_CELLS`) active cells each.

    Returns a list of ``(first row, end row, first active cell, end active cell)``: rows index the
    ``nz × ny`` grid rows, active cells the C-ordered active cells (``grid.centres()``). The plan depends on the
    grid only, so a local run and a cluster run krige the same blocks."""
    per_row = np.count_nonzero(grid.fraction.reshape(grid.nz * grid.ny, grid.nx) > 0, axis=1)
    cum = np.concatenate([[0], np.cumsum(per_row)])
    cells = BLOCK_CELLS if cells is None else cells
    blocks, row = [], 0
    while row < len(per_row):
        end = max(row + 1, int(np.searchsorted(cum, cum[row] + cells, side="right")) - 1)
        blocks.append((row, end, int(cum[row]), int(cum[end])))
        row = end
    return [b for b in blocks if b[3] > b[2]]


def _krige_block(shared, row0, row1, cell0, cell1, progress=None):
    """Estimate and variance ``(2, cell1 − cell0)`` float64 at the active cells of grid rows ``row0:row1``;
    ``shared`` = (fitted OrdinaryKriging, VoxelGrid)."""
    ok, grid = shared
    active = grid.fraction.reshape(grid.nz * grid.ny, grid.nx)[row0:row1] > 0
    rows, c = np.nonzero(active)
    k, r = np.divmod(rows + row0, grid.ny)
    centres = np.column_stack([grid.x0 + (c + 0.5) * grid.dx, grid.y0 - (r + 0.5) * grid.dy,
                               grid.z0 + (k + 0.5) * grid.dz])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemineWarning)  # counted over the whole grid by krige_grid
        return np.stack(ok.predict(centres)).astype(float)


def krige_grid(grid, coords, values, model, anisotropy=None, n_neighbors=32, max_dist=None, scheduler=None,
               progress=None):
    """3D ordinary kriging at the centres of the active cells, by blocks of whole grid rows (:func:`plan_blocks`)
    computed here or on the Dask cluster of ``scheduler`` (see :func:`remine.core.cluster.scheduler_address`):
    the same blocks give the same values.

    Parameters
    ----------
    grid : VoxelGrid. coords : ndarray (n, 3) metres. values : ndarray (n,).
    model : VariogramModel (range_ = horizontal range when ``anisotropy`` is given).
    anisotropy : Anisotropy or gstat ``(p, q, r, s, t)``, optional.
    n_neighbors : int – nearest samples (anisotropic distance) per voxel; None: all.
    max_dist : float, m, optional – search radius (anisotropic distance); voxels with no sample within: NaN.
    scheduler : str, optional – Dask scheduler address ("" : here). progress : Progress, optional (Cancel).

    Returns
    -------
    (estimate, variance) ndarrays (nz, ny, nx), NaN outside the body.
    """
    progress = as_progress(progress)
    ok = OrdinaryKriging(model, n_neighbors=n_neighbors, max_dist=max_dist, anisotropy=anisotropy)
    ok.fit(coords, values)
    blocks = plan_blocks(grid)
    out = np.empty((2, blocks[-1][3] if blocks else 0))
    largest = max((b[3] - b[2] for b in blocks), default=0)
    held = sum(a.nbytes for a in (grid.top, grid.base, grid.coverage, grid.fraction))  # each worker's grid
    with cluster.tasks(scheduler) as runner, contextlib.closing(runner.map(
            _krige_block, (ok, grid), blocks, progress,
            task=f"a block of this run ({largest:,} voxels, with the grid of {grid.fraction.size:,} cells)",
            task_bytes=largest * BLOCK_BYTES_PER_CELL + held,
            budget="larger voxels (voxel size and height; fewer cells in the grid)",
            describe=lambda b: f"the block of active voxels {b[2]}-{b[3] - 1}")) as results:
        for n, ((_, _, a, b), block) in enumerate(zip(blocks, results)):
            out[:, a:b] = block
            progress.report((n + 1) / len(blocks), f"block {n + 1}/{len(blocks)} of voxels")
    n_nan = int(np.isnan(out[0]).sum())
    if n_nan:
        warnings.warn(f"{n_nan} of {out.shape[1]} voxels have no sample within max_dist={max_dist} m: NaN there",
                      RemineWarning, stacklevel=2)
    return grid.full(out[0]), grid.full(out[1])


def hybrid_grid(grid, coords, values, model, anisotropy=None, n_neighbors=32, options=None, progress=None):
    """Grades per voxel by the hybrid model: ordinary kriging corrected by an ensemble of CNN-BiLSTM networks
    (:class:`~remine.core.geostat.HybridKrigingRegressor`), fitted and applied in the isotropic space of
    ``anisotropy`` (coordinates mapped as the anisotropic kriging maps them, so that the model's horizontal
    range holds in every direction there).

    Parameters
    ----------
    grid, coords (n, 3) m, values (n,), model, anisotropy : as :func:`krige_grid`.
    n_neighbors : int – neighbours of the kriging estimate inside the hybrid model.
    options : dict, optional – further HybridKrigingRegressor parameters (``n_ensemble``, ``max_epochs``, ...).
    progress : Progress, optional – training reports per epoch; Cancel stops within an epoch.

    Returns
    -------
    (estimate, variance) ndarrays (nz, ny, nx), NaN outside the body (variance: the square of the calibrated
    standard deviation), and the fitted HybridKrigingRegressor. DependencyError without PyTorch.
    """
    progress = as_progress(progress)
    aniso = as_anisotropy(anisotropy)
    iso = aniso.transform if aniso is not None else (lambda c: np.asarray(c, float))
    hybrid = HybridKrigingRegressor(model, kriging_neighbors=n_neighbors, **(options or {}))
    hybrid.fit(iso(coords), values, progress=progress.sub(0.0, 0.9))
    est, std = hybrid.predict(iso(grid.centres()), return_std=True, progress=progress.sub(0.9, 1.0))
    progress.report(1.0)
    return grid.full(est), grid.full(std ** 2), hybrid
