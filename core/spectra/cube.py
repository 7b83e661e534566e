"""Block-wise spectral operations on cubes (GeoTIFF/ENVI in, GeoTIFF out, wavelengths kept).

Each function validates its inputs, then runs a pure block function through
:func:`remine.core.blocks.map_blocks` (bounded memory, progress, cancel, atomic outputs); their
``executor`` and ``scheduler`` (a Dask scheduler address: the blocks run on that cluster) are map_blocks'.
"""
import functools
import warnings

import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, map_blocks, with_work_bytes
from ..errors import InputError, RemineWarning
from ..raster import check_output_path, raster_info
from .continuum import METHODS, REFLECTANCE_FLOOR, continuum_removed, floor_message
from .features import absorption_feature, window_indices
from .preprocess import derivative, savgol, snv
from .resample import resample, resampling_matrix

FEATURE_BANDS = ("position_nm", "depth", "width_nm")


def _pixels(block):
    """(bands, rows, cols) -> (rows*cols, bands) table, a view (no copy)."""
    return block.reshape(block.shape[0], -1).T


def _cube(table, shape):
    """(rows*cols, bands) table -> (bands, rows, cols); no copy for the band-major tables of the kernels."""
    return table.T.reshape((table.shape[1],) + shape)


def _continuum_block(arrays, info, wavelengths_nm, method):
    block = arrays[0]
    out, n_low = continuum_removed(_pixels(block), wavelengths_nm, method, warn=False, return_count=True)
    return [_cube(out, block.shape[1:])], {"floored": n_low}


def _band_range(info, min_nm, max_nm):
    wl = info.wavelengths_nm
    keep = np.ones(len(wl), bool)
    if min_nm is not None:
        keep &= wl >= min_nm
    if max_nm is not None:
        keep &= wl <= max_nm
    idx = np.flatnonzero(keep)
    if idx.size < 3:
        raise InputError(f"{idx.size} band(s) of {info.path} lie in {min_nm}–{max_nm} nm; at least 3 are needed "
                         f"(the cube covers {wl[0]:.1f}–{wl[-1]:.1f} nm)")
    return idx


def continuum_removal_raster(path, out_path, method="divide", min_nm=None, max_nm=None, units=None,
                             max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None, scheduler=None):
    """Continuum-removed cube (upper hull per pixel) over the bands within [min_nm, max_nm].

    Returns dict: ``bands`` (count), ``wavelengths_nm`` of the output, ``floored`` (reflectance values
    <= 0 raised to the floor before division, see :func:`continuum_removed`).
    """
    if method not in METHODS:
        raise InputError(f"continuum removal method must be one of {METHODS}; got {method!r}")
    info = raster_info(path, units=units, require_wavelengths=True)
    check_output_path(out_path, [path])
    idx = _band_range(info, min_nm, max_nm)
    wl = info.wavelengths_nm[idx]
    out = BlockOutput(out_path, len(idx), "float32", wavelengths_nm=wl,
                      fwhm_nm=None if info.fwhm_nm is None else info.fwhm_nm[idx],
                      band_names=[info.band_names[i] for i in idx])
    tally = {"floored": 0}
    # temporaries: the block's float32 pixel table
    func = with_work_bytes(functools.partial(_continuum_block, wavelengths_nm=wl, method=method), 4 * len(idx))
    map_blocks(func, [info], [out], max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler,
               bands=[idx], tally=tally)
    if tally["floored"]:
        warnings.warn(floor_message(tally["floored"], REFLECTANCE_FLOOR), RemineWarning, stacklevel=2)
    return {"bands": int(len(idx)), "wavelengths_nm": wl, "floored": tally["floored"]}


#: cube preprocessing methods of :func:`preprocess_raster`
PREPROCESS_METHODS = ("savgol", "derivative", "snv")


def _preprocess_block(arrays, info, wavelengths_nm, method, window_length, polyorder, order):
    block = arrays[0]
    X = _pixels(block)
    if method == "savgol":
        out = savgol(X, window_length, polyorder)
    elif method == "derivative":
        out = derivative(X, wavelengths_nm, order, window_length or None, polyorder)
    else:
        with warnings.catch_warnings():  # nodata pixels (all NaN) stay NaN without "mean of empty slice"
            warnings.simplefilter("ignore", RuntimeWarning)
            out = snv(X)
    return [_cube(np.ascontiguousarray(out, dtype=np.float32), block.shape[1:])]


def preprocess_raster(path, out_path, method="savgol", window_length=11, polyorder=2, order=1, min_nm=None,
                      max_nm=None, units=None, max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None,
                      scheduler=None):
    """Spectral preprocessing of every pixel of a cube, block by block, wavelengths kept.

    Parameters
    ----------
    path, out_path : str, input cube (wavelengths needed) and output GeoTIFF (float32, same bands)
    method : "savgol" (Savitzky–Golay smoothing over ``window_length`` bands, polynomial ``polyorder``),
        "derivative" (``order`` 1 or 2 per nm / nm², after Savitzky–Golay smoothing when ``window_length``
        > 0) or "snv" (standard normal variate per pixel).
    min_nm, max_nm : optional band range kept (nm).

    Returns dict: ``bands`` (count), ``wavelengths_nm`` of the output. Pixels with a NaN band give NaN.
    """
    if method not in PREPROCESS_METHODS:
        raise InputError(f"preprocessing method must be one of {PREPROCESS_METHODS}; got {method!r}")
    info = raster_info(path, units=units, require_wavelengths=True)
    check_output_path(out_path, [path])
    idx = _band_range(info, min_nm, max_nm)
    wl = info.wavelengths_nm[idx]
    if method == "savgol" or (method == "derivative" and window_length):
        savgol(np.zeros((1, len(idx))), window_length, polyorder)  # checks the window before any block is read
    if method == "derivative" and order not in (1, 2):
        raise InputError(f"derivative order must be 1 or 2; got {order}")
    out = BlockOutput(out_path, len(idx), "float32", wavelengths_nm=wl,
                      fwhm_nm=None if info.fwhm_nm is None else info.fwhm_nm[idx],
                      band_names=[info.band_names[i] for i in idx])
    func = functools.partial(_preprocess_block, wavelengths_nm=wl, method=method, window_length=window_length,
                             polyorder=polyorder, order=order)
    map_blocks(func, [info], [out], max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler,
               bands=[idx])
    return {"bands": int(len(idx)), "wavelengths_nm": wl}


def _resample_block(arrays, info, wavelengths_nm, target_nm, target_fwhm_nm, source_fwhm_nm):
    block = arrays[0]
    out = resample(np.ascontiguousarray(_pixels(block)), wavelengths_nm, target_nm, target_fwhm_nm, source_fwhm_nm)
    return [_cube(out, block.shape[1:])]


def resample_raster(path, out_path, target_wavelengths_nm, target_fwhm_nm=None, units=None,
                    max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None, scheduler=None):
    """Resample a cube to target band centres/widths (Gaussian SRF, see :func:`resample`).

    Returns dict: ``bands`` (count), ``wavelengths_nm``, ``outside`` (target bands outside the cube range, NaN).
    """
    info = raster_info(path, units=units, require_wavelengths=True)
    check_output_path(out_path, [path])
    target = np.atleast_1d(np.asarray(target_wavelengths_nm, dtype=float))
    fwhm = None if target_fwhm_nm is None else np.broadcast_to(np.asarray(target_fwhm_nm, float), target.shape)
    weights = resampling_matrix(info.wavelengths_nm, target, fwhm, info.fwhm_nm)  # validates before writing
    outside = int((np.asarray(weights.sum(axis=0)).ravel() == 0).sum())
    out = BlockOutput(out_path, len(target), "float32", wavelengths_nm=target, fwhm_nm=fwhm)
    func = functools.partial(_resample_block, wavelengths_nm=info.wavelengths_nm, target_nm=target,
                             target_fwhm_nm=fwhm, source_fwhm_nm=info.fwhm_nm)
    map_blocks(func, [info], [out], max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler)
    return {"bands": int(len(target)), "wavelengths_nm": target, "outside": outside}


def _feature_block(arrays, info, wavelengths_nm, window_nm):
    block = arrays[0]
    feats = absorption_feature(np.ascontiguousarray(_pixels(block)), wavelengths_nm, window_nm)
    return [np.stack([feats[k].reshape(block.shape[1:]) for k in FEATURE_BANDS]).astype(np.float32)]


def absorption_feature_raster(path, out_path, window_nm, units=None, max_bytes=DEFAULT_MAX_BYTES, progress=None,
                              executor=None, scheduler=None):
    """3-band GeoTIFF of the deepest feature in ``window_nm``: position (nm), depth, width (nm).

    Returns dict: ``window_nm``, ``bands`` (the window's band count).
    """
    info = raster_info(path, units=units, require_wavelengths=True)
    check_output_path(out_path, [path])
    idx = window_indices(info.wavelengths_nm, window_nm)
    out = BlockOutput(out_path, len(FEATURE_BANDS), "float32", band_names=list(FEATURE_BANDS))
    wl = info.wavelengths_nm[idx]  # blocks hold only the window's bands
    func = functools.partial(_feature_block, wavelengths_nm=wl, window_nm=(float(wl[0]), float(wl[-1])))
    # temporaries: three float32 copies of the window's bands and of the features (table, continuum, ratio)
    func = with_work_bytes(func, 3 * 4 * (len(idx) + len(FEATURE_BANDS)))
    map_blocks(func, [info], [out], max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler,
               bands=[idx])
    return {"window_nm": tuple(float(v) for v in window_nm), "bands": int(len(idx))}
