"""Band selection by wavelength: ranges and atmospheric water-vapour windows."""
import numpy as np

from .blocks import DEFAULT_MAX_BYTES, BlockOutput, map_blocks, with_work_bytes
from .errors import InputError
from .raster import raster_info

#: Wavelength windows (nm) dominated by atmospheric water vapour / detector edge in airborne and
#: drone VNIR–SWIR data; data there are noise (e.g. EnMAP-Box and ENVI default bad-band lists).
WATER_VAPOUR_NM = ((1340.0, 1460.0), (1790.0, 1960.0), (2450.0, np.inf))


def in_windows(wavelengths_nm, windows=WATER_VAPOUR_NM):
    """Boolean ``(bands,)``: True where a wavelength lies in one of ``windows`` [(lo, hi), ...] nm."""
    wl = np.asarray(wavelengths_nm, float)
    hit = np.zeros(wl.shape, bool)
    for lo, hi in windows:
        hit |= (wl >= lo) & (wl <= hi)
    return hit


def select_bands(wavelengths_nm, min_nm=None, max_nm=None, drop_water=False):
    """0-based indices of the bands within [min_nm, max_nm], optionally outside the water windows."""
    wl = np.asarray(wavelengths_nm, float)
    keep = np.ones(wl.shape, bool)
    if min_nm is not None:
        keep &= wl >= min_nm
    if max_nm is not None:
        keep &= wl <= max_nm
    if drop_water:
        keep &= ~in_windows(wl)
    return np.flatnonzero(keep)


def _copy(arrays, info):
    return [arrays[0]]


def spectral_subset(path, out_path, min_nm=None, max_nm=None, drop_water=False, units=None,
                    max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None, scheduler=None):
    """Copy the bands of a cube within a wavelength range (and outside water windows) to a GeoTIFF.

    Parameters
    ----------
    path : str
        Input cube (GeoTIFF/ENVI with wavelengths).
    out_path : str
        Output GeoTIFF; keeps wavelengths, FWHM and band names of the kept bands.
    min_nm, max_nm : float, optional
        Wavelength range in nm (inclusive).
    drop_water : bool
        Drop bands in :data:`WATER_VAPOUR_NM` (1340–1460, 1790–1960, ≥ 2450 nm).
    units : str, optional
        Units of the cube's wavelengths if the file does not say.
    max_bytes, progress, executor, scheduler : see :func:`remine.core.blocks.map_blocks`.

    Returns
    -------
    dict: ``bands_in``, ``bands_out``, ``wavelengths_nm`` (kept), ``dropped`` count.
    """
    if min_nm is not None and max_nm is not None and min_nm >= max_nm:
        raise InputError(f"minimum wavelength {min_nm} nm must be below maximum {max_nm} nm")
    info = raster_info(path, units=units, require_wavelengths=True)
    idx = select_bands(info.wavelengths_nm, min_nm, max_nm, drop_water)
    if idx.size == 0:
        raise InputError(f"no band of {path} lies in {min_nm}–{max_nm} nm"
                         f"{' outside the water-vapour windows' if drop_water else ''} (the cube covers "
                         f"{info.wavelengths_nm[0]:.1f}–{info.wavelengths_nm[-1]:.1f} nm)")
    out = BlockOutput(out_path, len(idx), "float32", wavelengths_nm=info.wavelengths_nm[idx],
                      fwhm_nm=None if info.fwhm_nm is None else info.fwhm_nm[idx],
                      band_names=[info.band_names[i] for i in idx])
    copy = with_work_bytes(_copy, 0)  # the output block is the input block: no temporaries
    map_blocks(copy, [info], [out], max_bytes=max_bytes, progress=progress, executor=executor, scheduler=scheduler,
               bands=[idx])
    return {"bands_in": info.count, "bands_out": int(idx.size), "dropped": int(info.count - idx.size),
            "wavelengths_nm": info.wavelengths_nm[idx]}
