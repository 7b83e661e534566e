"""Hybrid kriging of sample points onto a raster grid, block by block, with its comparison report.

The one-call function behind ``remine:hybridkriging``: read the points, sample the covariate rasters at them,
compare the hybrid with OK/KED on identical spatial folds (HTML report), fit the hybrid on all samples and
write the prediction and its calibrated standard deviation block by block (Cancel between blocks and members;
a cancelled or failed run leaves no output file). Grid cells where a covariate is nodata (or outside its raster)
get NaN in both outputs; they are counted and reported with a RemineWarning.
"""
import functools
import warnings

import numpy as np

from .. import cluster
from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, GridSpec, io_bytes_per_pixel, map_blocks, with_work_bytes
from ..errors import InputError, RemineWarning
from ..points import check_projected, read_points, to_crs
from ..progress import as_progress
from ..raster import check_output_path, raster_info
from .compare import compare_with_kriging
from .covariates import check_complete, raster_covariates
from .hybrid import HybridKrigingRegressor
from .hybrid_report import write_comparison_report
from .raster import grid_from_extent


def _hybrid_block(arrays, info, regressor, names, categorical):
    """Block function: estimate and standard deviation at the block's cell centres, and the count of cells
    without a covariate value (``{"no_covariate": n}``)."""
    x, y = info.xy()
    targets = np.column_stack([x.ravel(), y.ravel()])
    cov, missing = None, 0
    if arrays:
        table = np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=0).T.astype(float)
        missing = int(np.sum(~np.all(np.isfinite(table), axis=1)))
        cov = _with_categories(table, names, categorical)
    est, std = regressor.predict(targets, cov, return_std=True)
    shape = (1,) + x.shape
    return [est.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32)], {"no_covariate": missing}


def _with_categories(table, names, categorical):
    """Covariate table with class-map columns as integer labels (strings), so that they are one-hot encoded; a
    DataFrame whose columns are the raster bands' ``names`` (made unique by position where repeated)."""
    if not categorical:
        return table
    import pandas as pd

    columns = [n if names.count(n) == 1 else f"{n} #{j + 1}" for j, n in enumerate(names)]
    frame = pd.DataFrame(table, columns=columns)
    for j in categorical:
        col = table[:, j]
        frame[columns[j]] = np.where(np.isfinite(col), np.nan_to_num(col).astype(np.int64).astype(str), None)
    return frame


def _grid(template, covariates, extent, pixel_size, crs):
    if template:
        info = raster_info(template)
        return GridSpec(info.width, info.height, info.transform, info.crs)
    if covariates:
        info = raster_info(covariates[0])
        return GridSpec(info.width, info.height, info.transform, info.crs)
    if extent is None or pixel_size is None:
        raise InputError("no output grid: give a template raster, covariate rasters or an extent and pixel size")
    from rasterio.crs import CRS

    return grid_from_extent(extent, pixel_size, CRS.from_user_input(crs) if isinstance(crs, str) else crs)


@cluster.connects_first(needs=("torch",))
def hybrid_kriging_raster(points, field, prediction_path, std_path, covariates=(), template=None, extent=None,
                          pixel_size=None, crs=None, report_path=None, n_neighbors=16, n_ensemble=5, max_epochs=300,
                          k=5, seed=0, variogram_model="spherical", max_bytes=DEFAULT_MAX_BYTES, progress=None,
                          scheduler=None):
    """Hybrid kriging (:class:`HybridKrigingRegressor`) of ``field`` onto a grid; GeoTIFFs + HTML report.

    Parameters
    ----------
    points : str – point file (GeoPackage/Shapefile/CSV). field : str – numeric attribute (NaN rows dropped).
    prediction_path, std_path : str – output GeoTIFFs (float32, NaN nodata): estimate and calibrated std.
    covariates : list of str – rasters on the output grid (every band a covariate; single-band class maps with a
        colour table or class names are one-hot encoded); they must cover every point.
    template : str, optional – raster whose grid the outputs take (default: the first covariate's grid); or
        ``extent`` (xmin, ymin, xmax, ymax) + ``pixel_size`` (metres) + ``crs`` (default the points') without
        covariates. Points in another CRS than the grid are reprojected to it (RemineWarning); covariates must be
        in the grid's CRS.
    report_path : str, optional – HTML comparison report (:func:`compare_with_kriging` with ``k`` spatial folds).
    n_neighbors, n_ensemble, max_epochs, seed, variogram_model : see :class:`HybridKrigingRegressor`.
    max_bytes : int – memory budget of the blocks. progress : Progress, optional.
    scheduler : str, optional – Dask scheduler address that predicts the blocks (the fitted ensemble travels to
        the workers once); default :func:`remine.core.cluster.scheduler_address` (remine's Processing setting or
        ``REMINE_DASK_SCHEDULER``), "" runs locally; connected before the training (an unreachable scheduler fails
        at once). Training and the comparison run here.

    Returns
    -------
    dict: ``prediction``, ``std``, ``report`` (paths or None), ``n_points``, ``comparison`` (DataFrame or None),
    ``verdict`` (str or None), ``std_scale``, ``oof_coverage``, ``epochs`` (per member), ``features`` (the
    encoded covariate columns: one per band, one per class of a class map), ``n_no_covariate`` (grid cells
    without a covariate value: NaN in both outputs, RemineWarning when any).
    """
    progress = as_progress(progress)
    covariates = list(covariates or [])
    inputs = [points] + covariates + ([template] if template else [])
    check_output_path(prediction_path, inputs)
    check_output_path(std_path, inputs)
    if report_path:
        check_output_path(report_path, inputs, extensions=(".html", ".htm"))
    pts = read_points(points, field)
    grid = _grid(template, covariates, extent, pixel_size, crs if crs is not None else pts.crs)
    pts = to_crs(pts, grid.crs)
    check_projected(pts.crs)
    for path in covariates:
        crs_path = raster_info(path).crs
        if grid.crs is not None and crs_path is not None and crs_path != grid.crs:
            raise InputError(f"covariate raster {path} CRS {crs_path} differs from the grid CRS {grid.crs}; "
                             "reproject the raster first (covariates are sampled on the output grid)")
    coords = pts.coords[:, :2]
    cov, names, categorical = None, [], []
    if covariates:
        table, names, categorical = raster_covariates(covariates, coords)
        check_complete(table, "points", pts.ids)
        cov = _with_categories(table, names, categorical)
    params = {"n_neighbors": int(n_neighbors), "n_ensemble": int(n_ensemble), "max_epochs": int(max_epochs),
              "random_state": int(seed)}
    comparison = None
    fit_start = 0.0
    if report_path:
        fit_start = 0.6
        comparison = compare_with_kriging(coords, pts.values, k=k, seed=seed, covariates=cov,
                                          variogram_model=variogram_model, hybrid_params=params,
                                          progress=progress.sub(0.0, fit_start))
    reg = HybridKrigingRegressor(variogram_model, **params).fit(coords, pts.values, cov,
                                                                  progress=progress.sub(fit_start, 0.85))
    if report_path:
        notes = [(f"{len(pts.values)} points from {points}, field {field}; covariates: "
                  f"{', '.join(covariates) if covariates else 'none'}; {n_neighbors} neighbours, {n_ensemble} "
                  f"members, spatial {k}-fold cross-validation (seed {seed}).")]
    outputs = [BlockOutput(prediction_path, 1, band_names=[f"{field} (hybrid kriging)"]),
               BlockOutput(std_path, 1, band_names=[f"{field} standard deviation"])]
    n_in = sum(raster_info(p).count for p in covariates)
    per_cell = 8.0 * int(n_neighbors) * (6 + 2 * max(n_in, 1)) * 3 + 2048.0  # sequences, copies, kriging
    func = with_work_bytes(functools.partial(_hybrid_block, regressor=reg, names=names, categorical=categorical),
                           per_cell - io_bytes_per_pixel(n_in, outputs))  # per_cell counts the block's bytes too
    tally = {"no_covariate": 0}
    paths = map_blocks(func, covariates, outputs, max_bytes=max_bytes, progress=progress.sub(0.85, 1.0), grid=grid,
                       scheduler=scheduler, tally=tally)
    if tally["no_covariate"]:
        warnings.warn(f"{tally['no_covariate']} of {grid.width * grid.height} grid cells have no covariate value "
                      "(outside the covariate rasters or on nodata): the prediction and standard deviation are NaN "
                      "there", RemineWarning, stacklevel=2)
    if report_path:
        write_comparison_report(comparison, report_path, f"Hybrid kriging of {field} against kriging",
                                final_histories=reg.histories_, notes=notes)
    s = comparison.attrs["summary"] if comparison is not None else None
    return {"prediction": paths[0], "std": paths[1], "report": report_path, "n_points": len(reg.values_),
            "comparison": comparison, "verdict": s["verdict"] if s else None,
            "beats_kriging": s["beats_kriging"] if s else None, "std_scale": reg.std_scale_,
            "oof_coverage": reg.oof_coverage_, "epochs": [h["best_epoch"] for h in reg.histories_],
            "features": reg.encoder_.feature_names_ if reg.encoder_ is not None else [],
            "n_no_covariate": tally["no_covariate"]}
