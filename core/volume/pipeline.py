"""The whole 3D tailings model in one call (what ``remine:tailingsvolume`` runs): surfaces + auger samples →
voxel grid, 3D anisotropic variogram, grades with variance (3D kriging, or the hybrid model), SGS realisations,
grade–tonnage table and plot, probability above cut-off, elevation slices, footprint, VTK and 3D views.
"""
import json
import math
import os
import shutil
import tempfile
import warnings

import numpy as np

from .. import cluster
from ..errors import InputError, RemineWarning
from ..points import check_projected, read_points, to_crs
from ..progress import as_progress
from .estimate import check_samples, hybrid_grid, krige_grid
from .grid import VoxelGrid, read_surface
from .render import render_volume, write_footprint, write_slices
from .sgs import NormalScore, simulate_summary
from .tonnage import grade_tonnage, probability_from_counts
from .variogram3d import fit_anisotropic_3d

DEFAULT_COLUMNS = 2500  # default voxel size: about this many columns over the raster
DEFAULT_LAYERS = 10     # default voxel height: the median thickness in about this many layers
#: estimators of the voxel grades: ``estimator=`` values and the curve's label in the grade–tonnage plot
ESTIMATORS = {"kriging": "kriging (smoothed)", "hybrid": "hybrid model (kriging + CNN-BiLSTM)"}


def _surface_at(surface, xy):
    """Elevation of a surface (raster Surface or constant) at points (n, 2): nearest pixel, NaN outside."""
    if not hasattr(surface, "data"):
        return np.full(len(xy), float(surface))
    inv = ~surface.transform
    col, row = inv * (xy[:, 0], xy[:, 1])
    col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    h, w = surface.data.shape
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.full(len(xy), np.nan)
    out[inside] = surface.data[row[inside], col[inside]]
    return out


def read_samples(path, grade_field, top, depth_field=None, z_field=None, crs=None):
    """Sample coordinates ``(n, 3)`` (z from the depth below the top surface, a z field or the geometry's z),
    grades ``(n,)``, their ids and CRS. ``crs``: the surfaces' CRS; samples in another CRS are reprojected
    to it (x, y; a RemineWarning names both CRS)."""
    pts = to_crs(read_points(path, grade_field), crs, "samples", "surfaces")
    check_projected(pts.crs, "samples")
    xy = pts.coords[:, :2]
    if depth_field:
        if depth_field not in pts.table.columns:
            raise InputError(f"samples: depth field '{depth_field}' not found; available fields: "
                             f"{list(pts.table.columns)}")
        depth = np.asarray(pts.table[depth_field], float)
        z = _surface_at(read_surface(top, "top"), xy) - depth
    elif z_field:
        if z_field not in pts.table.columns:
            raise InputError(f"samples: z field '{z_field}' not found; available fields: {list(pts.table.columns)}")
        z = np.asarray(pts.table[z_field], float)
    elif pts.coords.shape[1] == 3:
        z = pts.coords[:, 2]
    else:
        raise InputError("samples have no depth: give the depth field (m below the top surface) or a z field "
                         "(elevation, m), or 3D point geometries")
    return np.column_stack([xy, z]), pts.values, pts.ids, pts.crs


def default_sizes(top, base, voxel_size, voxel_height):
    """Voxel size (≈ DEFAULT_COLUMNS columns over the raster) and height (the median thickness over
    DEFAULT_LAYERS), rounded to 1, 2 or 5 × 10^k; and a sentence saying so."""
    ref = top if hasattr(top, "data") else base
    said = []
    if not voxel_size:
        h, w = ref.data.shape
        area = h * w * ref.pixel_size[0] * ref.pixel_size[1]
        voxel_size = max(ref.pixel_size[0], _round(math.sqrt(area / DEFAULT_COLUMNS)))
        said.append(f"voxel size {voxel_size:g} m (about {DEFAULT_COLUMNS} columns)")
    if not voxel_height:
        t = top.data if hasattr(top, "data") else np.full(ref.data.shape, float(top))
        b = base.data if hasattr(base, "data") else np.full(ref.data.shape, float(base))
        thick = (t - b)[np.isfinite(t - b) & (t > b)]
        voxel_height = _round(float(np.median(thick)) / DEFAULT_LAYERS) if len(thick) else 1.0
        said.append(f"voxel height {voxel_height:g} m (median thickness / {DEFAULT_LAYERS})")
    return float(voxel_size), float(voxel_height), "; ".join(said)


def _round(v):
    """``v`` rounded to 1, 2 or 5 × a power of ten."""
    e = 10 ** math.floor(math.log10(v))
    return min((m * e for m in (1, 2, 5, 10)), key=lambda c: abs(c - v))


def tonnage_plot(table, path, grade_name, label=ESTIMATORS["kriging"]):
    """Grade–tonnage PNG: tonnes and mean grade above cut-off, the estimated (``label``: kriged or hybrid) curve
    beside the simulated P10–P90 band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, col, label in ((axes[0], "tonnes", "tonnes above cut-off (t)"),
                           (axes[1], "mean_grade", f"mean grade above cut-off ({grade_name})")):
        if f"{col}_p10" in table:
            ax.fill_between(table.cutoff, table[f"{col}_p10"], table[f"{col}_p90"], color="tab:orange", alpha=0.3,
                            label="simulations P10–P90")
            ax.plot(table.cutoff, table[f"{col}_p50"], color="tab:orange", label="simulations P50")
        ax.plot(table.cutoff, table[col], "o-", color="tab:blue", label=label)
        ax.set_xlabel(f"cut-off ({grade_name})")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


@cluster.connects_first
def tailings_volume(top, base, samples, grade_field, out_dir, depth_field=None, z_field=None, voxel_size=None,
                    voxel_height=None, density=1.8, cutoffs=None, n_realisations=50, n_neighbors=32, seed=0,
                    metal_factor=1e-6, render=True, max_cells=None, progress=None, scheduler=None,
                    estimator="kriging", hybrid_options=None):
    """Build the 3D model of a tailings body and write its outputs into ``out_dir``.

    Parameters
    ----------
    top, base : raster path or constant elevation (m) (see :meth:`VoxelGrid.from_surfaces`).
    samples : point file (GeoPackage, Shapefile, CSV), projected CRS in metres.
    grade_field : str. depth_field : str – depth below the top surface (m); or z_field : str – elevation (m).
    voxel_size, voxel_height : float, m – defaults from the footprint and the thickness (said in the log).
    density : float, t/m³. cutoffs : list of grades (default: the data's 10/30/50/70/90 % quantiles).
    n_realisations : int – SGS realisations (0: kriging only). n_neighbors : int. seed : int.
    metal_factor : metal per tonne per grade unit (1e-6: ppm → t). render : bool – PyVista views and VTK.
    scheduler : str, optional – Dask scheduler address for the 3D kriging and the simulations (default
        :func:`remine.core.cluster.scheduler_address`; "": here); the same outputs either way. Connected
        once, before any work (an unreachable scheduler fails at once).
    estimator : "kriging" (3D ordinary kriging with variance) | "hybrid" (kriging corrected by a CNN-BiLSTM
        ensemble, :func:`~remine.core.volume.estimate.hybrid_grid`; needs PyTorch) – the voxel grades.
    hybrid_options : dict, optional – HybridKrigingRegressor parameters (``n_ensemble``, ``max_epochs``, ...).

    Returns
    -------
    dict: paths (``tonnage_csv``, ``tonnage_plot``, ``grade_slices``, ``variance_slices``, ``probability``
    (list, one GeoTIFF per cut-off), ``footprint``, ``vtk``, ``html``, PNG views ``volume``, ``slices``,
    ``holes``, ``surfaces``, ``model_json``) and ``summary`` (volume, tonnes, variogram,
    sample problems, defaults).
    """
    progress = as_progress(progress)
    if estimator not in ESTIMATORS:
        raise InputError(f"estimator '{estimator}' unknown; expected one of {list(ESTIMATORS)}")
    t_surf, b_surf = read_surface(top, "top"), read_surface(base, "base")
    ref = t_surf if hasattr(t_surf, "data") else b_surf
    coords, values, ids, _ = read_samples(samples, grade_field, t_surf, depth_field, z_field, getattr(ref, "crs", None))
    dx, dz, said = default_sizes(t_surf, b_surf, voxel_size, voxel_height)
    if said:
        progress.info(f"defaults: {said}")
    kw = {} if max_cells is None else {"max_cells": max_cells}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RemineWarning)
        grid = VoxelGrid.from_surfaces(t_surf, b_surf, dx, dx, dz, n_realisations=n_realisations, **kw)
    for w in caught:
        progress.warn(str(w.message))
    progress.info(f"voxel grid {grid.nx} x {grid.ny} x {grid.nz} of {dx:g} x {dx:g} x {dz:g} m, "
                  f"{int(grid.active.sum()):,} cells in the body, volume {grid.volume_m3:,.0f} m³")
    at = (_surface_at(t_surf, coords[:, :2]), _surface_at(b_surf, coords[:, :2]))
    coords, values, problems = check_samples(grid, coords, values, grade_field, surfaces_at=at)
    for key, what in (("outside", "outside the footprint"), ("above_top", "above the top surface"),
                      ("below_base", "below the base")):
        if len(problems[key]):
            listed = ", ".join(str(ids[i]) for i in problems[key][:20])
            progress.warn(f"{len(problems[key])} samples {what} were left out: {listed}"
                          + (" …" if len(problems[key]) > 20 else ""))
    progress.report(0.05, "variogram")
    model, aniso, evs = fit_anisotropic_3d(coords, values)
    progress.info(f"3D variogram: {model!r}, vertical range {evs['range_v']:.3g} m (anisotropy ratio "
                  f"{aniso.ratios[1]:.3g})")
    progress.check()
    hybrid = None
    if estimator == "hybrid":
        progress.report(0.1, "hybrid model (kriging + CNN-BiLSTM ensemble)")
        est, var, hybrid = hybrid_grid(grid, coords, values, model, aniso, n_neighbors=n_neighbors,
                                       options=hybrid_options, progress=progress.sub(0.1, 0.3))
        progress.info(f"hybrid model: {len(hybrid.members_)} members, out-of-fold coverage of the uncalibrated "
                      f"{hybrid.coverage:.0%} interval {hybrid.oof_coverage_:.2f}")
    else:
        progress.report(0.1, "3D kriging")
        est, var = krige_grid(grid, coords, values, model, aniso, n_neighbors=n_neighbors, scheduler=scheduler,
                              progress=progress.sub(0.1, 0.3))
    quantiles = np.quantile(values, [0.1, 0.3, 0.5, 0.7, 0.9])
    cut = sorted({float(c) for c in cutoffs} if cutoffs else {float(f"{q:.3g}") for q in quantiles})
    curves = prob = None
    arrays = {grade_field: est, f"{estimator}_variance": var}
    if n_realisations:
        progress.check()
        ns = NormalScore(values)
        ns_model, ns_aniso, _ = fit_anisotropic_3d(coords, ns.transform(values))
        sim = simulate_summary(grid, coords, values, ns_model, ns_aniso, cutoffs=cut, density=density,
                               n_realisations=n_realisations, n_neighbors=n_neighbors, seed=seed, transform=ns,
                               progress=progress.sub(0.3, 0.75), scheduler=scheduler)
        curves, prob = sim["curves"], probability_from_counts(grid, sim["above"], n_realisations)
        arrays["simulated_mean"] = grid.full(sim["mean"])
    progress.report(0.75, "grade–tonnage")
    table = grade_tonnage(grid, est, density, cut, curves=curves, metal_factor=metal_factor)
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".volume-", dir=out_dir)
    try:
        paths = _write_outputs(work, grid, table, est, var, prob, cut, arrays, density, coords, values,
                               grade_field, render, progress, estimator)
        summary = {"volume_m3": grid.volume_m3, "tonnes": float(grid.volume_m3 * density), "grid": list(grid.shape),
                   "voxel_m": [dx, dx, dz], "n_samples": len(values), "cutoffs": cut,
                   "variogram": model.to_dict(), "anisotropy_ratio": float(aniso.ratios[1]),
                   "range_vertical_m": evs["range_v"], "n_realisations": int(n_realisations),
                   "estimator": estimator,
                   "sample_problems": {k: [str(ids[i]) for i in v] for k, v in problems.items()},
                   "top_below_base_px": grid.info["top_below_base_px"], "defaults": said}
        if hybrid is not None:
            summary["hybrid"] = {"members": len(hybrid.members_), "oof_coverage": hybrid.oof_coverage_,
                                 "std_scale": hybrid.std_scale_, "coverage": hybrid.coverage}
        paths["model_json"] = os.path.join(work, "model.json")
        with open(paths["model_json"], "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
        for name in os.listdir(work):  # outputs and their side-cars (QGIS styles), all at once at the end
            os.replace(os.path.join(work, name), os.path.join(out_dir, name))
        final = {k: ([os.path.join(out_dir, os.path.basename(q)) for q in p] if isinstance(p, list)
                     else os.path.join(out_dir, os.path.basename(p))) for k, p in paths.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.report(1.0)
    return {**final, "summary": summary, "table": table}


def _write_outputs(work, grid, table, est, var, prob, cut, arrays, density, coords, values, grade_field, render,
                   progress, estimator):
    """Every output file into the folder ``work`` (``prob``: probabilities above the cut-offs (cutoffs, nz, ny,
    nx), or None); returns {key: path or list of paths}."""
    paths = {"tonnage_csv": os.path.join(work, "grade_tonnage.csv")}
    table.to_csv(paths["tonnage_csv"], index=False)
    paths["tonnage_plot"] = tonnage_plot(table, os.path.join(work, "grade_tonnage.png"), grade_field,
                                         ESTIMATORS[estimator])
    paths["grade_slices"] = write_slices(grid, est, os.path.join(work, "grade_slices.tif"), grade_field)
    paths["variance_slices"] = write_slices(grid, var, os.path.join(work, "variance_slices.tif"), "variance")
    paths["probability"] = []
    if prob is not None:
        for c, p in zip(cut, prob):
            name = f"p_above_{c:g}"
            arrays[name] = p
            paths["probability"].append(write_slices(grid, p, os.path.join(work, f"{name}.tif"), name))
    tonnes = grid.fraction * grid.cell_volume * density
    paths["footprint"] = write_footprint(grid, os.path.join(work, "footprint.gpkg"), tonnes)
    progress.check()
    if render:
        progress.report(0.8, "3D views (PyVista, separate process)")
        paths.update(render_volume(grid, arrays, work, scalar=grade_field, cutoff=cut[len(cut) // 2],
                                   holes=coords, hole_values=values,
                                   title=f"{grade_field} ({'kriged' if estimator == 'kriging' else 'hybrid model'})"))
    return paths
