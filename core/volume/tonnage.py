"""Grade–tonnage curves above cut-offs, from one grade model or from simulated realisations.

Tonnes of a cell = volume fraction × cell volume (m³) × density (t/m³). Above a cut-off means grade ≥ cut-off.
Contained metal = Σ tonnes × grade × ``metal_factor`` (1e-6 turns ppm into tonnes of metal; 1e-2 for %).
"""
import warnings

import numpy as np

from ..errors import InputError, RemineWarning


def cell_tonnes(grid, density):
    """Tonnes ``(m,)`` of the active cells."""
    act = grid.active
    d = np.asarray(density, float)
    if d.ndim == 0:
        if not (np.isfinite(d) and d > 0):
            raise InputError(f"density {float(d)} must be > 0 (t/m³)")
        dens = float(d)
    elif d.shape == grid.shape:
        dens = d[act]
    else:
        raise InputError(f"density of shape {d.shape}; expected a number (t/m³) or an array {grid.shape}")
    return grid.fraction[act].astype(float) * grid.cell_volume * dens


def _active_values(grid, values, name):
    """``values`` of the active cells: (..., m) from (..., nz, ny, nx) or already (..., m)."""
    v = np.asarray(values)
    m = int(grid.active.sum())
    if v.shape[-3:] == grid.shape:
        return v[..., grid.active]
    if v.shape[-1] == m:
        return v
    raise InputError(f"{name} of shape {v.shape}; expected {grid.shape} (the grid) or (..., {m}) (its active cells)")


def _curve(tonnes, grade, cutoffs):
    """Tonnes, tonne-weighted grade sums above each sorted cut-off (one pass: bins + reverse cumulative sums)."""
    ok = np.isfinite(grade)
    g, t = grade[ok], tonnes[ok]
    bins = np.searchsorted(cutoffs, g, side="right")  # number of cut-offs <= g
    n = len(cutoffs) + 1
    tb = np.bincount(bins, weights=t, minlength=n)
    gb = np.bincount(bins, weights=t * g, minlength=n)
    tons = np.cumsum(tb[::-1])[::-1][1:]
    gsum = np.cumsum(gb[::-1])[::-1][1:]
    return tons, gsum


def realisation_curves(tonnes, realisations, cutoffs):
    """Per realisation, tonnes and tonne-weighted grade sums above each cut-off: ndarray (r, 2, cutoffs) from
    cell tonnes ``(m,)``, grades ``(r, m)`` and sorted unique ``cutoffs`` (what :func:`grade_tonnage` reduces to
    P10/P50/P90; a group of realisations can be reduced on its own)."""
    curves = [_curve(tonnes, r.astype(float), cutoffs) for r in realisations]
    return np.array(curves).reshape(len(curves), 2, len(cutoffs))


def above_counts(realisations, cutoffs):
    """Number of realisations with grade ≥ each cut-off, per cell: ndarray (cutoffs, m) int32 from grades
    ``(r, m)`` (sums over groups of realisations add up)."""
    reals = np.asarray(realisations)
    out = np.zeros((len(cutoffs), reals.shape[-1]), np.int32)
    for i, c in enumerate(cutoffs):
        for r in reals:
            out[i] += r >= c
    return out


def grade_tonnage(grid, grade, density, cutoffs, realisations=None, metal_factor=1e-6, percentiles=(10, 50, 90),
                  curves=None):
    """Tonnes, mean grade and contained metal above each cut-off.

    Parameters
    ----------
    grid : VoxelGrid
    grade : ndarray (nz, ny, nx) or (m,) active cells – the grade model (e.g. kriged, ppm); NaN cells are left
        out (their tonnes are reported in a warning).
    density : float (t/m³) or ndarray (nz, ny, nx).
    cutoffs : sequence of float – in the grade's units.
    realisations : ndarray (r, nz, ny, nx) or (r, m), optional – simulated grades.
    metal_factor : float – metal per tonne per grade unit (1e-6 for ppm → tonnes of metal).
    percentiles : the percentiles reported over the realisations (P10, P50, P90).
    curves : ndarray (r, 2, cutoffs), optional – instead of ``realisations``, their :func:`realisation_curves`
        above the sorted unique cut-offs (what the simulation returns when it reduces on a cluster).

    Returns
    -------
    pandas.DataFrame with columns ``cutoff``, ``tonnes``, ``mean_grade``, ``metal`` and, with realisations,
    ``tonnes_p10``, ``tonnes_p50``, ``tonnes_p90``, ``mean_grade_p10`` …, ``metal_p10`` … (one row per cut-off,
    in increasing order). ``mean_grade`` is NaN where no tonne lies above the cut-off.
    """
    import pandas as pd

    cut = np.asarray(cutoffs, float).ravel()
    if len(cut) == 0 or not np.all(np.isfinite(cut)):
        raise InputError(f"cut-offs {list(cutoffs)}; expected one or more finite grades")
    cut = np.unique(cut)
    tonnes = cell_tonnes(grid, density)
    g = _active_values(grid, grade, "grade").astype(float)
    missing = ~np.isfinite(g)
    if missing.any():
        warnings.warn(f"{int(missing.sum())} cells ({tonnes[missing].sum():.4g} t) have no grade and are left out "
                      "of the grade–tonnage table", RemineWarning, stacklevel=2)
    t, gs = _curve(tonnes, g, cut)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"cutoff": cut, "tonnes": t, "mean_grade": np.where(t > 0, gs / t, np.nan), "metal": gs * metal_factor}
    if realisations is not None:
        reals = _active_values(grid, realisations, "realisations")
        if reals.ndim != 2:
            raise InputError(f"realisations of shape {np.shape(realisations)}; expected (r, nz, ny, nx) or (r, m)")
        curves = realisation_curves(tonnes, reals, cut)
    if curves is not None:
        curves = np.asarray(curves, float)
        if curves.ndim != 3 or curves.shape[1:] != (2, len(cut)):
            raise InputError(f"realisation curves of shape {curves.shape}; expected (r, 2, {len(cut)})")
        rt, rg = curves[:, 0], curves[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            rmean = np.where(rt > 0, rg / rt, np.nan)
        for name, arr in (("tonnes", rt), ("mean_grade", rmean), ("metal", rg * metal_factor)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN mean grades above high cut-offs
                q = np.nanpercentile(arr, percentiles, axis=0)
            for p, row in zip(percentiles, q):
                out[f"{name}_p{p:g}"] = row
    return pd.DataFrame(out)


def probability_above(grid, realisations, cutoffs):
    """Fraction of realisations with grade ≥ each cut-off, per cell: ndarray (cutoffs, nz, ny, nx) float32
    (NaN outside the body)."""
    reals = _active_values(grid, realisations, "realisations")
    return probability_from_counts(grid, above_counts(reals, np.asarray(cutoffs, float).ravel()), len(reals))


def probability_from_counts(grid, counts, n_realisations):
    """:func:`probability_above` from :func:`above_counts` ``(cutoffs, m)`` of ``n_realisations``."""
    out = np.full((len(counts),) + grid.shape, np.nan, np.float32)
    out[:, grid.active] = np.asarray(counts) / n_realisations
    return out
