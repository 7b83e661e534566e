"""Raster drivers: unmix a cube, close a regression output, extract endmembers from a cube.

All work block by block through :func:`remine.core.blocks.map_blocks` (bounded memory, cancel-safe,
atomic outputs). Abundance rasters are written in **percent** (0–100, float32, NaN nodata).
"""
import functools
import warnings

import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, map_blocks
from ..errors import InputError, RemineWarning
from ..progress import as_progress
from ..raster import check_output_path, raster_info
from .closure import CLOSE_METHODS, close, ensemble_intervals
from .endmembers import EndmemberSet, array_endmembers, library_endmembers
from .intervals import bootstrap_intervals, residual_intervals
from .solvers import check_method, solve_with_rmse

INTERVAL_METHODS = ("residual", "bootstrap")


def _valid_pixels(block):
    """Pixel table (n, b) of a (b, rows, cols) block and the mask of usable pixels: finite in every
    band and not all zero (zero-filled borders are nodata)."""
    X = block.reshape(block.shape[0], -1).T
    return X, np.isfinite(X).all(axis=1) & (X != 0).any(axis=1)


def unmix_pixels(pixels, endmember_set, method="fcls", intervals="residual", level=0.9, normalise=False,
                 n_draws=30, random_state=0):
    """Unmix a pixel table with an :class:`EndmemberSet` (bundles allowed).

    Parameters
    ----------
    pixels : array (n, b) on the set's bands
    endmember_set : EndmemberSet
    method : "fcls" | "nnls" | "scls" | "ucls"
    intervals : None | "residual" | "bootstrap"
    level : float, nominal interval coverage
    normalise : bool
        Divide the abundances (and bounds) by their sum: a free per-pixel brightness factor
        (use with ``"nnls"`` when illumination varies; the result sums to one).
    n_draws : int, bootstrap draws

    Returns
    -------
    dict: ``abundances`` (n, m), ``rmse`` (n,), ``lower``/``upper`` (n, m) or None, ``spectrum``
    (n, m) int: 1-based index of the dominant spectrum within each mineral's bundle (0 = absent).
    """
    es = endmember_set
    flat, owner = es.flat()
    m = len(es.minerals)
    raw, rmse = solve_with_rmse(pixels, flat, method, check=not es.has_variability)
    indicator = np.zeros((len(flat), m))
    indicator[np.arange(len(flat)), owner] = 1.0
    A = raw @ indicator
    spectrum = np.zeros(A.shape, dtype=np.int32)
    if es.has_variability:
        for k in range(m):
            cols = np.flatnonzero(owner == k)
            best = np.argmax(raw[:, cols], axis=1) + 1
            spectrum[:, k] = np.where(raw[:, cols].max(axis=1) > 0, best, 0)
    else:
        spectrum[A > 0] = 1
    lower = upper = None
    if intervals == "residual":
        lo, up = residual_intervals(pixels, flat, raw, method, level, rmse=rmse)
        lower, upper = np.clip(lo @ indicator, 0, 1), np.clip(up @ indicator, 0, 1)
    elif intervals == "bootstrap":
        lower, upper = bootstrap_intervals(pixels, es.bundles, method, level, n_draws, random_state)
    if normalise:
        total = A.sum(axis=1, keepdims=True)
        total = np.where(total > 0, total, np.nan)
        A = A / total
        if lower is not None:
            lower, upper = np.clip(lower / total, 0, 1), np.clip(upper / total, 0, 1)
    return {"abundances": A, "rmse": rmse, "lower": lower, "upper": upper, "spectrum": spectrum}


def _unmix_block(arrays, info, endmember_set, method, intervals, level, normalise, n_draws, random_state,
                 report_spectra):
    block = arrays[0]
    _, rows, cols = block.shape
    m = len(endmember_set.minerals)
    X, valid = _valid_pixels(block)
    out = np.full((m + 1 + (2 * m if intervals else 0) + (m if report_spectra else 0), rows * cols), np.nan,
                  dtype=np.float32)
    if valid.any():
        res = unmix_pixels(X[valid], endmember_set, method, intervals, level, normalise, n_draws, random_state)
        bands = [100.0 * res["abundances"].T, res["rmse"][None]]
        if intervals:
            bands += [100.0 * res["lower"].T, 100.0 * res["upper"].T]
        if report_spectra:
            bands.append(res["spectrum"].T)
        out[:, valid] = np.concatenate(bands)
    return [out.reshape(-1, rows, cols)]


def _endmember_set(endmembers, info, minerals):
    from ..spectra.library import SpectralLibrary

    if isinstance(endmembers, EndmemberSet):
        return endmembers
    if isinstance(endmembers, str):
        from ..spectra import read_library

        endmembers = read_library(endmembers)
    if isinstance(endmembers, SpectralLibrary):
        if info.wavelengths_nm is None:
            raise InputError(f"{info.path} has no band wavelengths: library endmembers cannot be matched to its bands")
        return library_endmembers(endmembers, info.wavelengths_nm, info.fwhm_nm, minerals)
    values = np.asarray(endmembers, dtype=float)
    if minerals is None:
        minerals = [f"endmember_{i + 1}" for i in range(len(values))]
    return array_endmembers(values, minerals, info.count)


def unmix_raster(cube_path, endmembers, out_path, method="fcls", intervals=True, max_bytes=DEFAULT_MAX_BYTES,
                 progress=None, *, minerals=None, interval_method="residual", level=0.9, normalise=False,
                 n_draws=30, random_state=0, executor=None):
    """Unmix a cube block by block into a multi-band abundance raster.

    Parameters
    ----------
    cube_path : str, spectral cube with band wavelengths (nm/µm/cm⁻¹ in the file)
    endmembers : SpectralLibrary | str (library file) | EndmemberSet | array (m, b) on the cube's bands
        Library spectra are grouped by mineral (metadata ``mineral`` or the first word of the name) and
        resampled to the cube (with a warning; an error if the ranges do not overlap). Several spectra of
        one mineral are unmixed together and summed (bundle unmixing).
    out_path : str, output GeoTIFF
    method : "fcls" | "nnls" | "scls" | "ucls"
    intervals : bool, write lower/upper bounds
    max_bytes : int, memory budget for the blocks in flight
    progress : Progress, optional
    minerals : list of str, optional, minerals to keep (library) or names of the array rows
    interval_method : "residual" (noise and conditioning) | "bootstrap" (endmember variability)
    level : float, nominal coverage of the bounds (0.9)
    normalise : bool, divide by the abundance sum (free brightness; see :func:`unmix_pixels`)
    n_draws : int, bootstrap draws
    executor : see :func:`remine.core.blocks.map_blocks`

    Returns
    -------
    dict: ``path``, ``band_names``, ``minerals``, ``spectra`` ({mineral: [spectrum names]}), ``method``.
    Bands: abundance per mineral (%, named after the mineral), ``rmse`` (reconstruction RMSE, cube
    units), then ``lower_<mineral>`` and ``upper_<mineral>`` (%), then, when a mineral has several
    spectra, ``spectrum_<mineral>`` (1-based index in its bundle of the dominant spectrum, 0 = absent).
    Pixels with a NaN band or all zeros are nodata (NaN).
    """
    progress = as_progress(progress)
    check_method(method)
    if interval_method not in INTERVAL_METHODS:
        raise InputError(f"unknown interval method {interval_method!r}; expected one of {INTERVAL_METHODS}")
    if not 0 < level < 1:
        raise InputError(f"interval level must be between 0 and 1 (e.g. 0.9); got {level}")
    info = raster_info(cube_path)
    check_output_path(out_path, [cube_path])
    es = _endmember_set(endmembers, info, minerals)
    if intervals and interval_method == "bootstrap" and not es.has_variability:
        raise InputError("bootstrap intervals need several library spectra for at least one mineral; "
                         f"each of {', '.join(es.minerals)} has one. Use interval_method='residual'")
    report_spectra = es.has_variability
    names = list(es.minerals) + ["rmse"]
    if intervals:
        names += [f"lower_{m}" for m in es.minerals] + [f"upper_{m}" for m in es.minerals]
    if report_spectra:
        names += [f"spectrum_{m}" for m in es.minerals]
    func = functools.partial(_unmix_block, endmember_set=es, method=method,
                             intervals=interval_method if intervals else None, level=level, normalise=normalise,
                             n_draws=n_draws, random_state=random_state, report_spectra=report_spectra)
    progress.info(f"unmixing {info.width}x{info.height} pixels, {len(es.band_index)} bands, "
                  f"{len(es.minerals)} minerals ({sum(len(b) for b in es.bundles)} spectra), method {method}")
    map_blocks(func, [cube_path], [BlockOutput(out_path, len(names), band_names=names)], max_bytes=max_bytes,
               progress=progress, executor=executor, bands=[list(es.band_index)], work_factor=4.0)
    return {"path": out_path, "band_names": names, "minerals": list(es.minerals),
            "spectra": dict(zip(es.minerals, es.spectrum_names)), "method": method}


def _close_block(arrays, info, method, level, scale):
    m = arrays[0].shape[0]
    rows, cols = arrays[0].shape[1:]
    members = np.stack([a.reshape(m, -1).T for a in arrays]).astype(np.float64) / scale  # (k, n, m)
    valid = np.isfinite(members).all(axis=(0, 2))
    k = len(arrays)
    out = np.full(((3 * m if k > 1 else m) + 1, rows * cols), np.nan, dtype=np.float32)
    if valid.any():
        M = members[:, valid]
        out[-1, valid] = np.count_nonzero((M < 0) | (M > 1), axis=(0, 2))
        if k > 1:
            centre, lower, upper = ensemble_intervals(M, level, method)
            out[m:2 * m, valid] = 100.0 * lower.T
            out[2 * m:3 * m, valid] = 100.0 * upper.T
        else:
            centre = close(M[0], method, warn=False)
        out[:m, valid] = 100.0 * centre.T
    return [out.reshape(-1, rows, cols)]


def close_raster(paths, out_path, minerals=None, method="simplex", input_percent=True, level=0.9,
                 max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None):
    """Close per-mineral regression rasters into compositions (%, sum 100), with ensemble intervals.

    Parameters
    ----------
    paths : str or list of str
        One raster per ensemble member, each with one band per mineral (same grid, same band order).
    out_path : str
    minerals : list of str, optional; default the first raster's band names. Must match the band count.
    method : "simplex" | "ilr" (see :func:`remine.core.unmix.close`)
    input_percent : bool, inputs in percent (0–100) rather than fractions (0–1)
    level : float, nominal coverage of the ensemble quantile interval

    Returns
    -------
    dict: ``path``, ``band_names``, ``n_clipped`` (input values outside [0, 1] / [0, 100], clipped before
    closure). Bands: closed abundance per mineral (%), with two or more members ``lower_<mineral>`` and
    ``upper_<mineral>`` (quantiles across members after closure), and ``n_clipped`` (per pixel count).
    """
    progress = as_progress(progress)
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise InputError("no regression raster given")
    if method not in CLOSE_METHODS:
        raise InputError(f"unknown closure method {method!r}; expected one of {CLOSE_METHODS}")
    infos = [raster_info(p) for p in paths]
    check_output_path(out_path, paths)
    counts = {i.path: i.count for i in infos}
    if len(set(counts.values())) != 1:
        raise InputError(f"ensemble members have different band counts: {counts}; expected one band per mineral each")
    m = infos[0].count
    minerals = list(minerals) if minerals else list(infos[0].band_names)
    if len(minerals) != m:
        raise InputError(f"{paths[0]} has {m} bands but {len(minerals)} minerals were given "
                         f"({', '.join(minerals)}); expected one band per mineral")
    if m < 2:
        raise InputError(f"closure needs at least two mineral bands; {paths[0]} has {m}")
    names = list(minerals)
    if len(paths) > 1:
        names += [f"lower_{x}" for x in minerals] + [f"upper_{x}" for x in minerals]
    names.append("n_clipped")
    func = functools.partial(_close_block, method=method, level=level, scale=100.0 if input_percent else 1.0)
    map_blocks(func, paths, [BlockOutput(out_path, len(names), band_names=names)], max_bytes=max_bytes,
               progress=progress, executor=executor)
    n_clipped = _band_sum(out_path, len(names))
    if n_clipped:
        warnings.warn(f"{n_clipped} input value(s) outside [0, {100 if input_percent else 1}] were clipped "
                      "before closure", RemineWarning, stacklevel=2)
    return {"path": out_path, "band_names": names, "n_clipped": n_clipped}


def _band_sum(path, band):
    """Sum of one band (1-based), window by window."""
    import rasterio

    total = 0.0
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(path) as ds:
        for _, window in ds.block_windows(band):
            total += float(np.nansum(ds.read(band, window=window)))
    return int(round(total))
