"""Raster drivers: unmix a cube, close a regression output, extract endmembers from a cube.

All work block by block through :func:`remine.core.blocks.map_blocks` (bounded memory, cancel-safe,
atomic outputs). Abundance rasters are written in **percent** (0–100, float32, NaN nodata).
"""
import functools
import warnings

import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, io_bytes_per_pixel, map_blocks, pixel_mask, with_work_bytes
from ..errors import InputError, RemineWarning
from ..progress import as_progress
from ..raster import band_statistics, check_output_path, raster_info, read_window
from ..raster.style import write_share_style
from ..spectra import library_from_rois, read_library
from ..spectra.library import SpectralLibrary
from .closure import CLOSE_METHODS, close, ensemble_intervals
from .endmembers import EndmemberSet, array_endmembers, library_endmembers, library_on_cube_bands, mineral_of
from .extraction import EXTRACTORS, estimate_n_endmembers, match_endmembers
from .intervals import bootstrap_intervals, residual_intervals
from .mesma import check_bundles, mesma, mesma_intervals
from .options import ENDMEMBER_SOURCES, INTERVAL_METHODS, VARIABILITY
from .solvers import check_method, solve_with_rmse


def _valid_pixels(block, info=None):
    """Pixel table (n, b) of a (b, rows, cols) block and the mask of usable pixels: finite in every
    band and not all zero (zero-filled borders are nodata); the mask from ``info.valid`` when the block
    engine computed it while reading."""
    valid = info.valid if info is not None and info.valid is not None else pixel_mask(block, require_nonzero=True)
    return block.reshape(block.shape[0], -1).T, valid


def unmix_pixels(pixels, endmember_set, method="fcls", intervals="residual", level=0.9, normalise=False,
                 n_draws=30, random_state=0, variability="bundle", model_form=True):
    """Unmix a pixel table with an :class:`EndmemberSet` (bundles allowed).

    Parameters
    ----------
    pixels : array (n, b) on the set's bands
    endmember_set : EndmemberSet
    method : "fcls" | "nnls" | "scls" | "ucls"
    intervals : None | "residual" | "bootstrap"
    level : float, nominal interval coverage
    normalise : bool
        Divide the abundances by their sum: a free per-pixel brightness factor (use with ``"nnls"`` when
        illumination varies; the result sums to one). Residual intervals are then those of the
        normalised abundances (delta method); bootstrap bounds are divided by the sum.
    n_draws : int, bootstrap draws
    variability : "bundle" | "mesma"
        ``"bundle"``: every spectrum of a mineral in one model, abundances summed; ``"mesma"``: the
        best model of one spectrum per mineral, per pixel (:func:`~remine.core.unmix.mesma.mesma`).
    model_form : bool, residual intervals of sum-to-one methods include the free-brightness term
        (see :mod:`remine.core.unmix.intervals`)

    Returns
    -------
    dict: ``abundances`` (n, m), ``rmse`` (n,), ``lower``/``upper`` (n, m) or None, ``spectrum``
    (n, m) int: 1-based index within each mineral's bundle of the dominant (bundle) or chosen (MESMA)
    spectrum (0 = absent).
    """
    es = endmember_set
    lower = upper = None
    if variability == "mesma":
        res = mesma(pixels, es.bundles, method)
        A, rmse, spectrum = res["abundances"], res["rmse"], res["spectrum"]
        if intervals == "residual":
            lower, upper = mesma_intervals(pixels, es.bundles, res, method, level, model_form,
                                           normalise=normalise)
    else:
        A, rmse, spectrum, raw = _bundle_unmixing(pixels, es, method)
        if intervals == "residual":
            flat, owner = es.flat()
            lower, upper = residual_intervals(pixels, flat, raw, method, level, rmse=rmse, groups=owner,
                                              model_form=model_form, normalise=normalise)
    if intervals == "bootstrap":
        lower, upper = bootstrap_intervals(pixels, es.bundles, method, level, n_draws, random_state)
    if normalise:
        total = A.sum(axis=1, keepdims=True)
        total = np.where(total > 0, total, np.nan)
        A = A / total
        if intervals == "bootstrap":  # residual intervals are computed for the normalised abundances
            lower, upper = lower / total, upper / total
    return {"abundances": A, "rmse": rmse, "lower": lower, "upper": upper, "spectrum": spectrum}


def _bundle_unmixing(pixels, es, method):
    """Every spectrum at once: mineral abundances (n, m), RMSE (n,), dominant spectrum (n, m) and the
    per-spectrum abundances (n, sum k_i)."""
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
    return A, rmse, spectrum, raw


def _unmix_block(arrays, info, endmember_set, method, intervals, level, normalise, n_draws, random_state,
                 report_spectra, variability="bundle"):
    block = arrays[0]
    _, rows, cols = block.shape
    m = len(endmember_set.minerals)
    X, valid = _valid_pixels(block, info)  # X: (n, b) band-major view of the block, no copy
    if not valid.any():
        n_out = m + 1 + (2 * m if intervals else 0) + (m if report_spectra else 0)
        return [np.full((n_out, rows, cols), np.nan, dtype=np.float32)]
    res = unmix_pixels(X, endmember_set, method, intervals, level, normalise, n_draws, random_state, variability)
    bands = [(100.0, res["abundances"]), (1.0, res["rmse"][:, None])]
    if intervals:
        bands += [(100.0, res["lower"]), (100.0, res["upper"])]
    if report_spectra:
        bands.append((1.0, res["spectrum"]))
    # band-major (C order), as GDAL writes it and the statistics read it: no further copy on the writing thread
    out = np.empty((sum(b.shape[1] for _, b in bands), rows * cols), dtype=np.float32)
    k = 0
    for scale, b in bands:
        np.multiply(b.T, scale, out=out[k:k + b.shape[1]], casting="unsafe")
        k += b.shape[1]
    out[:, ~valid] = np.nan
    return [out.reshape(-1, rows, cols)]


def endmember_set(endmembers, info, minerals, group_field=None):
    if isinstance(endmembers, EndmemberSet):
        return endmembers
    if isinstance(endmembers, str):
        endmembers = read_library(endmembers)
    if isinstance(endmembers, SpectralLibrary):
        if info.wavelengths_nm is None:
            raise InputError(f"{info.path} has no band wavelengths: library endmembers cannot be matched to its bands")
        return library_endmembers(endmembers, info.wavelengths_nm, info.fwhm_nm, minerals, group_field)
    values = np.asarray(endmembers, dtype=float)
    if minerals is None:
        minerals = [f"endmember_{i + 1}" for i in range(len(values))]
    return array_endmembers(values, minerals, info.count)


def unmix_raster(cube_path, endmembers, out_path, method="fcls", intervals=True, max_bytes=DEFAULT_MAX_BYTES,
                 progress=None, *, minerals=None, interval_method="residual", level=0.9, normalise=False,
                 n_draws=30, random_state=0, executor=None, scheduler=None, variability="bundle",
                 group_field=None):
    """Unmix a cube block by block into a multi-band abundance raster.

    Parameters
    ----------
    cube_path : str, spectral cube with band wavelengths (nm/µm/cm⁻¹ in the file)
    endmembers : SpectralLibrary | str (library file) | EndmemberSet | array (m, b) on the cube's bands
        Library spectra are resampled to the cube (with a warning; an error if the ranges do not overlap).
        Each spectrum is one endmember (band named after it) unless ``group_field`` is given.
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
    executor, scheduler : see :func:`remine.core.blocks.map_blocks` (``scheduler``: a Dask scheduler address)
    variability : "bundle" (all spectra of a mineral at once) | "mesma" (best model of one spectrum per
        mineral, per pixel; InputError beyond :data:`~remine.core.unmix.mesma.MAX_MODELS` models)
    group_field : str, optional, library metadata column grouping spectra into bundles (e.g. ``"mineral"``
        of :meth:`SpectralLibrary.usgs`): several spectra of one group are unmixed together and summed
        (bundle unmixing) or tried one at a time (MESMA). Without it spectra are never merged.

    Returns
    -------
    dict: ``path``, ``band_names``, ``minerals``, ``spectra`` ({mineral: [spectrum names]}), ``method``,
    ``variability``, ``summary`` (mean abundance and mean interval width per mineral in %, mean RMSE),
    ``shown`` (the mineral of largest mean abundance, shown by the QGIS style).
    Bands: abundance per mineral (%, named after the mineral), ``rmse`` (reconstruction RMSE, cube units),
    then ``lower_<mineral>`` and ``upper_<mineral>`` (%), then, when a mineral has several spectra,
    ``spectrum_<mineral>`` (1-based index in its bundle of the dominant (bundle) or chosen (MESMA) spectrum,
    0 = absent).
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
    if variability not in VARIABILITY:
        raise InputError(f"unknown endmember variability {variability!r}; expected one of {VARIABILITY}")
    es = endmember_set(endmembers, info, minerals, group_field)
    if variability == "mesma":
        check_bundles(es.bundles, names=es.minerals)
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
                             n_draws=n_draws, random_state=random_state, report_spectra=report_spectra,
                             variability=variability)
    progress.info(f"unmixing {info.width}x{info.height} pixels, {len(es.band_index)} bands, "
                  f"{len(es.minerals)} minerals ({sum(len(b) for b in es.bundles)} spectra), method {method}")
    # bytes per pixel beyond the block's input and output, measured with tracemalloc (8 minerals, FCLS, bundle
    # unmixing): 277 B without intervals, 860 B with residual intervals, i.e. about 6 (n, k) float64 arrays of
    # the solver and 10 (n, m) more for the intervals (estimated with 25 % margin); the bootstrap's (draws, n, m)
    # stack and MESMA's per-model arrays are estimated, not measured: those paths keep a 3x factor
    m, n_spectra = len(es.minerals), sum(len(b) for b in es.bundles)
    bootstrap = bool(intervals) and interval_method == "bootstrap"
    extra = 8 * (6 * n_spectra + (10 * m if intervals else 0) + (2 * n_draws * m if bootstrap else 0)
                 + (12 * m if variability == "mesma" else 0))
    output = BlockOutput(out_path, len(names), band_names=names, statistics=True)
    margin = 2.0 if bootstrap or variability == "mesma" else 0.25  # times the input and output bytes
    func = with_work_bytes(func, margin * io_bytes_per_pixel(len(es.band_index), [output]) + extra)
    map_blocks(func, [info], [output], max_bytes=max_bytes, progress=progress, executor=executor,
               scheduler=scheduler, bands=[list(es.band_index)], mask="nonzero")
    _, shown = write_share_style(out_path, es.minerals)
    return {"path": out_path, "band_names": names, "minerals": list(es.minerals), "shown": shown,
            "spectra": dict(zip(es.minerals, es.spectrum_names)), "method": method, "variability": variability,
            "summary": _summary(out_path, es.minerals, intervals)}


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
                 max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None, scheduler=None):
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
    dict: ``path``, ``band_names``, ``minerals``, ``n_clipped`` (input values outside [0, 1] / [0, 100]: projected as
    they are by ``"simplex"``, clipped by ``"ilr"``), ``shown`` (the mineral of largest mean abundance, shown
    by the QGIS style). Bands: closed abundance per mineral (%), with two or
    more members ``lower_<mineral>`` and ``upper_<mineral>`` (quantiles across members after closure), and
    ``n_clipped`` (per pixel count).
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
    spectral = next((i for i in infos if i.wavelengths_nm is not None), None)
    if spectral is not None:
        wl = spectral.wavelengths_nm
        raise InputError(f"{spectral.path} has {spectral.count} bands with wavelengths ({wl.min():g}–{wl.max():g} nm): "
                         "it is a spectral cube, not regression rasters with one band per mineral; close the "
                         "per-mineral outputs of a regression model or of remine:unmix instead")
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
    map_blocks(func, infos, [BlockOutput(out_path, len(names), band_names=names, statistics=True)],
               max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler)
    _, shown = write_share_style(out_path, minerals)
    n_clipped = int(round(band_statistics(out_path)["n_clipped"]["sum"]))
    if n_clipped:
        treatment = "projected onto the simplex as they are" if method == "simplex" else "clipped before closure"
        warnings.warn(f"{n_clipped} input value(s) outside [0, {100 if input_percent else 1}] were {treatment}",
                      RemineWarning, stacklevel=2)
    return {"path": out_path, "band_names": names, "n_clipped": n_clipped, "minerals": minerals, "shown": shown}


def _summary(path, minerals, intervals):
    """Passport summary of an abundance raster: mean abundance, mean interval width (%), mean RMSE."""
    stats = band_statistics(path)
    summary = {"mean_abundance_percent": {m: round(stats[m]["mean"], 3) for m in minerals},
               "mean_rmse": stats["rmse"]["mean"]}
    if intervals:
        summary["mean_interval_width_percent"] = {
            m: round(stats[f"upper_{m}"]["mean"] - stats[f"lower_{m}"]["mean"], 3) for m in minerals}
    return summary


def sample_pixels(cube_path, max_pixels=50000, random_state=0, progress=None):
    """Random sample of at most ``max_pixels`` valid pixels, read strip by strip (bounded memory).

    Returns ``pixels`` (n, b) float32, ``rows`` (n,), ``cols`` (n,) and the cube's RasterInfo.
    """
    from rasterio.windows import Window

    progress = as_progress(progress)
    info = raster_info(cube_path, require_wavelengths=True)
    rng = np.random.default_rng(random_state)
    strip = max(1, int(32 * 2**20 // max(1, 4 * info.count * info.width)))
    share = max_pixels / (info.width * info.height)
    tables, rows, cols = [], [], []
    for r0 in range(0, info.height, strip):
        progress.check()
        h = min(strip, info.height - r0)
        X, valid = _valid_pixels(read_window(info, Window(0, r0, info.width, h)))
        idx = np.flatnonzero(valid)
        if share < 1:
            idx = idx[rng.random(idx.size) < share]
        tables.append(X[idx])
        rows.append(r0 + idx // info.width)
        cols.append(idx % info.width)
        progress.report(min(1.0, (r0 + h) / info.height), "sampling pixels")
    pixels = np.concatenate(tables) if tables else np.empty((0, info.count), np.float32)
    if len(pixels) == 0:
        raise InputError(f"{cube_path} has no valid pixel (all NaN/nodata or zero)")
    return pixels, np.concatenate(rows), np.concatenate(cols), info


#: spectral angle (degrees) beyond which a library match is reported as a poor suggestion
LARGE_ANGLE_DEG = 10.0


def extract_endmembers(cube_path, n_endmembers=None, method="nfindr", estimator="eigengap", library=None,
                       max_pixels=50000, random_state=0, progress=None, names=None):
    """Endmembers of a cube with unique names, each with the closest library spectrum as a suggestion.

    Parameters
    ----------
    cube_path : str
    n_endmembers : int, optional; estimated with ``estimator`` (see :func:`estimate_n_endmembers`) when None
    method : "nfindr" | "vca" | "atgp"
    library : SpectralLibrary, optional, for the suggestions by spectral angle (one-to-one); default the
        shipped USGS 1995 subset. Resampled to the cube.
    max_pixels : int, random sample of pixels the extraction sees
    names : list of str, optional, one unique name per endmember; default ``EM1 ... EMn``

    Returns
    -------
    SpectralLibrary on the cube's bands, named ``names``; metadata: ``library_match`` (suggested library
    spectrum), ``suggested_mineral`` (its first word), ``angle_deg`` (spectral angle to it), ``row``,
    ``col``, ``x``, ``y`` (map coordinates of the pixel centre). The suggestions never group endmembers;
    a :class:`RemineWarning` names those whose angle exceeds :data:`LARGE_ANGLE_DEG`.
    """
    progress = as_progress(progress)
    if method not in EXTRACTORS:
        raise InputError(f"unknown extraction method {method!r}; expected one of {sorted(EXTRACTORS)}")
    if names is not None:
        names = [str(n).strip() for n in names]
        if n_endmembers is None:
            n_endmembers = len(names)
        if len(names) != n_endmembers or len(set(names)) != len(names) or not all(names):
            raise InputError(f"endmember names {', '.join(names)}: expected {n_endmembers} unique, non-empty names")
    pixels, rows, cols, info = sample_pixels(cube_path, max_pixels, random_state, progress.sub(0.0, 0.6))
    if n_endmembers is None:
        n_endmembers = estimate_n_endmembers(pixels, estimator, random_state=random_state)
        progress.info(f"estimated number of endmembers ({estimator}): {n_endmembers}")
        n_endmembers = max(2, n_endmembers)
    kwargs = {} if method == "atgp" else {"random_state": random_state}
    spectra, idx = EXTRACTORS[method](pixels, n_endmembers, **kwargs)
    progress.report(0.8, f"{method}: {n_endmembers} endmembers")
    library = SpectralLibrary.usgs() if library is None else library
    on_bands, keep = library_on_cube_bands(library, info.wavelengths_nm, info.fwhm_nm)
    _, matched, angles = match_endmembers(spectra[:, keep], on_bands.values, on_bands.names,
                                          unique=len(on_bands) >= n_endmembers)
    names = names or [f"EM{k + 1}" for k in range(n_endmembers)]
    angle_deg = np.round(np.degrees(angles), 3)
    poor = [f"{n} ~ {m} ({a:.1f}°)" for n, m, a in zip(names, matched, angle_deg) if a > LARGE_ANGLE_DEG]
    if poor:
        warnings.warn(f"library suggestions with a spectral angle above {LARGE_ANGLE_DEG:g}° are poor matches: "
                      f"{'; '.join(poor)}. The endmembers keep their own names", RemineWarning, stacklevel=2)
    r, c = rows[idx], cols[idx]
    t = info.transform
    meta = {"library_match": matched, "suggested_mineral": [mineral_of(n) for n in matched], "angle_deg": angle_deg,
            "row": r, "col": c,
            "x": t.c + (c + 0.5) * t.a + (r + 0.5) * t.b, "y": t.f + (c + 0.5) * t.d + (r + 0.5) * t.e}
    import pandas as pd

    progress.report(1.0)
    return SpectralLibrary(names, info.wavelengths_nm, spectra, pd.DataFrame(meta), info.fwhm_nm,
                           {"source": str(cube_path), "method": method})




def endmember_library(source, cube_path, library_path=None, rois_path=None, roi_field="mineral", n_endmembers=None,
                      extraction="nfindr", progress=None, estimator="eigengap"):
    """Endmember spectra for :func:`unmix_raster` from one of :data:`ENDMEMBER_SOURCES`.

    ``"library"``: a spectral library file (CSV, ENVI .sli, ...; :func:`remine.core.spectra.read_library`);
    ``"rois"``: the mean spectrum of the cube under each ROI polygon, named by ``roi_field``;
    ``"extract"``: :func:`extract_endmembers` (``n_endmembers`` None = estimated with ``estimator``),
    named EM1 ... EMn; ``"usgs"``: the shipped USGS 1995 subset (field ``mineral`` for bundles).
    Returns a SpectralLibrary.
    """
    if source == "library":
        if not library_path:
            raise InputError("endmember source 'library' needs a spectral library file")
        return read_library(library_path)
    if source == "rois":
        if not rois_path:
            raise InputError("endmember source 'rois' needs an ROI polygon layer")
        return library_from_rois(cube_path, rois_path, "mean", name_field=roi_field or None, progress=progress)
    if source == "extract":
        return extract_endmembers(cube_path, n_endmembers, extraction, estimator, progress=progress)
    if source == "usgs":
        return SpectralLibrary.usgs()
    raise InputError(f"unknown endmember source {source!r}; expected one of {ENDMEMBER_SOURCES}")
