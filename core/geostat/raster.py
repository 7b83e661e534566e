"""Kriging onto a raster grid, block by block under a memory budget (prediction + variance GeoTIFFs)."""
import functools
import os
import tempfile
import warnings

import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, GridSpec, io_bytes_per_pixel, map_blocks, with_work_bytes
from ..errors import InputError, RemineWarning
from ..points import PointTable, check_projected, read_points, to_crs
from ..progress import as_progress
from ..raster import band_statistics, check_output_path, raster_info
from ..raster.style import MAGMA, unit_suffix, write_data_style
from ..resources import check_grid
from .fit import resolve_model
from .kriging import ExternalDriftKriging, OrdinaryKriging


def grid_from_extent(extent, pixel_size, crs=None):
    """GridSpec covering ``extent`` = (xmin, ymin, xmax, ymax) with square or (px, py) pixels (north up)."""
    from affine import Affine

    xmin, ymin, xmax, ymax = (float(v) for v in extent)
    px, py = (float(pixel_size), float(pixel_size)) if np.isscalar(pixel_size) else map(float, pixel_size)
    if not (xmax > xmin and ymax > ymin and px > 0 and py > 0):
        raise InputError(f"extent {extent} / pixel size {pixel_size} invalid; expected xmin < xmax, ymin < ymax "
                         "and a pixel size > 0")
    width, height = int(np.ceil((xmax - xmin) / px - 1e-9)), int(np.ceil((ymax - ymin) / py - 1e-9))
    return GridSpec(width, height, Affine(px, 0.0, xmin, 0.0, -py, ymax), crs)


def _as_grid(grid_like, extent, pixel_size, crs):
    if grid_like is not None:
        if isinstance(grid_like, GridSpec):
            return grid_like
        info = raster_info(grid_like)
        return GridSpec(info.width, info.height, info.transform, info.crs)
    if extent is None or pixel_size is None:
        raise InputError("no output grid: give grid_like (a template raster or GridSpec) or extent + pixel_size")
    from rasterio.crs import CRS

    return grid_from_extent(extent, pixel_size, CRS.from_user_input(crs) if crs is not None else None)


def _as_points(points, field):
    if isinstance(points, PointTable):
        return points
    if isinstance(points, str):
        if field is None:
            raise InputError(f"field is needed to read values from {points}")
        return read_points(points, field)
    coords, values = points
    return PointTable(np.asarray(coords, float), np.asarray(values, float), None, np.arange(len(values)), None)


def _check_extrapolation(grid, coords, reach):
    t = grid.transform
    xs = [t.c, t.c + t.a * grid.width]
    ys = [t.f, t.f + t.e * grid.height]
    lo, hi = coords[:, :2].min(axis=0) - reach, coords[:, :2].max(axis=0) + reach
    gx0, gx1, gy0, gy1 = min(xs), max(xs), min(ys), max(ys)
    inside = max(0.0, min(gx1, hi[0]) - max(gx0, lo[0])) * max(0.0, min(gy1, hi[1]) - max(gy0, lo[1]))
    frac = 1.0 - inside / ((gx1 - gx0) * (gy1 - gy0))
    if frac > 0.01:
        warnings.warn(f"{100 * frac:.0f}% of the grid lies farther than the practical range ({reach:.6g}) from "
                      "the samples' bounding box: extrapolation, estimates there revert to the mean and the "
                      "variance to the sill", RemineWarning, stacklevel=3)
    return frac


def _krige_block(arrays, info, kriger, nonnegative=False):
    """Block function for map_blocks: estimate and variance at the block's cell centres; with
    ``nonnegative`` estimates below 0 are set to 0 and flagged in a third output (1 = clipped)."""
    x, y = info.xy()
    targets = np.column_stack([x.ravel(), y.ravel()])
    drift = None
    if arrays:
        drift = np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=0).T.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemineWarning)  # reported once for the whole grid by krige_raster
        est, var = kriger.predict(targets, drift=drift) if drift is not None else kriger.predict(targets)
    shape = (1,) + x.shape
    out = [est.reshape(shape).astype(np.float32), var.reshape(shape).astype(np.float32)]
    if nonnegative:
        below = out[0] < 0
        out[0][below] = 0.0
        out.append(np.where(np.isfinite(out[0]), below, np.nan).astype(np.float32))
    return out


def sample_rasters(paths, coords):
    """Values of single-band rasters at ``coords`` (n, 2): (n, len(paths)) float64, NaN outside or at nodata."""
    import rasterio
    from rasterio.transform import rowcol

    out = np.full((len(coords), len(paths)), np.nan)
    for j, path in enumerate(paths):
        with rasterio.open(path) as src:
            rows, cols = (np.asarray(a) for a in rowcol(src.transform, coords[:, 0], coords[:, 1]))
            inside = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
            if inside.any():
                vals = np.ma.stack(list(src.sample(coords[inside, :2], indexes=1, masked=True)))
                out[inside, j] = np.ma.filled(vals.astype(float), np.nan).ravel()
    return out


def krige_raster(points, grid_like=None, out_prefix=None, *, extent=None, pixel_size=None, crs=None, field=None,
                 model=None, kriger=None, n_neighbors=32, drift=None, max_bytes=DEFAULT_MAX_BYTES, progress=None,
                 executor=None, scheduler=None, prediction_path=None, variance_path=None, nonnegative=None):
    """Krige sample points onto a grid; write ``<out_prefix>_prediction.tif`` and ``<out_prefix>_variance.tif``.

    Parameters
    ----------
    points : str (GeoPackage/Shapefile/CSV path, with ``field``) | PointTable | (coords (n, 2), values (n,))
    grid_like : str (template raster) | GridSpec, or use ``extent`` (xmin, ymin, xmax, ymax) + ``pixel_size``
        (metres) + ``crs``.
    out_prefix : str – path prefix of the two GeoTIFFs (float32, NaN nodata); or give ``prediction_path`` and
        ``variance_path`` explicitly.
    model : VariogramModel or model name, optional – used when ``kriger`` has no model; a name (default
        "spherical") fits that model to the sample variogram (of log values for a log-normal kriger, of drift
        residuals with ``drift``), see :func:`~remine.core.geostat.fit.resolve_model`.
    kriger : unfitted kriging estimator, optional – its parameters are used, the estimator itself is left as
        it is; default ``OrdinaryKriging(model, n_neighbors)`` (``ExternalDriftKriging`` with ``drift``).
    drift : list of str, optional – single-band rasters on the output grid used as external drift.
    max_bytes : int – memory budget of the blocks in flight. progress, executor, scheduler (a Dask
        scheduler address): see ``map_blocks``.
    nonnegative : bool, optional – the field cannot be negative (grades, concentrations): estimates below 0
        are set to 0, counted and announced with a RemineWarning. Default: True when every sample is >= 0.
        Kriging weights can be negative, so ordinary and especially external drift kriging (a linear drift
        extrapolated beyond the sampled drift values) can predict negative grades; clipping keeps the map
        physical, the variance is left as it is. Log-normal kriging avoids the clipping altogether.

    Returns
    -------
    dict: ``prediction``, ``variance`` (paths), ``model`` (dict), ``n_points``, ``extrapolated_fraction``,
    ``n_clipped`` (cells set to 0), ``kriger`` (the fitted estimator, e.g. for cross-validation) and ``points``
    (the PointTable used).

    Raises
    ------
    InputError: geographic CRS, < 3 valid points, bad grid or output path. Points in another CRS than the grid
    are reprojected to it (RemineWarning).
    """
    if out_prefix is None and (prediction_path is None or variance_path is None):
        raise InputError("out_prefix (or prediction_path and variance_path) is needed for the output GeoTIFFs")
    prediction_path = prediction_path or f"{out_prefix}_prediction.tif"
    variance_path = variance_path or f"{out_prefix}_variance.tif"
    sources = [p for p in [points, grid_like, *(drift or [])] if isinstance(p, str)]
    for path in (prediction_path, variance_path):  # before the points are read and the model fitted
        check_output_path(path, sources)
    if os.path.abspath(prediction_path) == os.path.abspath(variance_path):
        raise InputError(f"prediction and variance outputs are the same file {prediction_path}; give each its own")
    progress = as_progress(progress)
    progress.report(0.0, "reading the points and fitting the kriging model")
    pts = _as_points(points, field)
    grid = _as_grid(grid_like, extent, pixel_size, crs)
    check_grid(grid.width, grid.height, 8, os.path.dirname(os.path.abspath(prediction_path)),
               what="the kriging grid", change="use a larger pixel size, a smaller extent or a coarser template")
    check_projected(grid.crs, "grid")
    pts = to_crs(pts, grid.crs)
    check_projected(pts.crs, "points")
    coords, values = pts.coords[:, :2], pts.values
    drift_at_points = None
    if drift:
        drift = list(drift)
        for path in drift:
            count = raster_info(path).count
            if count != 1:
                raise InputError(f"drift raster {path} has {count} bands; expected single-band rasters (one "
                                 "per drift variable)")
        drift_at_points = sample_rasters(drift, coords)
    if kriger is None:
        kriger = (ExternalDriftKriging if drift else OrdinaryKriging)(None, n_neighbors=n_neighbors)
    kriger = type(kriger)(**kriger.get_params(deep=False))  # a new estimator: the caller's stays unfitted
    if kriger.model is None:
        kriger.set_params(model=resolve_model(model, coords, values, drift_at_points, kriger.lognormal))
    kriger.fit(coords, values, drift=drift_at_points)
    frac = _check_extrapolation(grid, kriger.coords_, kriger.model.practical_range())
    if nonnegative is None:
        nonnegative = bool(np.nanmin(values) >= 0)
    outputs = [BlockOutput(prediction_path, 1, band_names=["prediction"]),
               BlockOutput(variance_path, 1, band_names=["variance"])]
    with tempfile.TemporaryDirectory(prefix="remine-") as scratch:
        if nonnegative:  # per-cell flags with statistics: their sum is the count of clipped cells
            outputs.append(BlockOutput(os.path.join(scratch, "clipped.tif"), 1, band_names=["clipped"],
                                       statistics=True))
        # temporaries: the kriging chunks' coordinates, neighbour indices and distances, 23 times the cell's bytes
        cell_bytes = io_bytes_per_pixel(len(drift or []), outputs)
        func = with_work_bytes(functools.partial(_krige_block, kriger=kriger, nonnegative=nonnegative),
                               23 * cell_bytes)
        paths = map_blocks(func, drift or [], outputs, max_bytes=max_bytes, progress=progress, executor=executor,
                           scheduler=scheduler, grid=grid)
        n_clipped = int(round(band_statistics(paths[2])["clipped"]["sum"])) if nonnegative else 0
    if n_clipped:
        warnings.warn(f"{n_clipped} kriged cell(s) below 0 were set to 0 (the samples of {field or 'the field'} are "
                      "all >= 0)", RemineWarning, stacklevel=2)
    # QGIS styles: the prediction over its range, the variance from 0, legends in the field's unit ("Zn_ppm": ppm)
    write_data_style(paths[0], unit=unit_suffix(field))
    write_data_style(paths[1], colours=MAGMA, from_zero=True, unit=unit_suffix(field, "²"))
    return {"prediction": paths[0], "variance": paths[1], "model": kriger.model.to_dict(),
            "n_points": int(len(kriger.values_)), "extrapolated_fraction": float(frac), "n_clipped": n_clipped,
            "kriger": kriger, "points": pts}
