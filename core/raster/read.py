"""Reading pixels: spectral cubes and windows as float32 ``(bands, rows, cols)`` with NaN at nodata.

A :class:`Cube` holds ``data`` float32 ``(bands, rows, cols)`` and ``wavelengths_nm`` ``(bands,)`` in
nanometres, ascending. Uncompressed files GDAL would read as stored are read directly
(:mod:`remine.core.raster.rawio`); everything else through GDAL.
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..errors import InputError
from .info import open_raster, raster_info
from .rawio import raw_layout, read_raw, read_table

#: GDAL block cache while remine reads/writes, bytes. GDAL's default (5 % of RAM) counts towards the process's
#: memory and would break the block engine's budget; remine reads and writes whole tiles, so a few tiles
#: suffice, and a small cache makes GDAL compress and write tiles as they are filled (benchmarks/NOTES.md).
GDAL_CACHE_BYTES = 4 * 2**20
#: GDAL options while remine reads pixels through GDAL: uncompressed GeoTIFFs that :mod:`.rawio` does not
#: read (sparse, 12-bit, ...) are read straight into the output array, not through the block cache, so that
#: a window cutting through tiles reads only its rows (benchmarks/NOTES.md).
READ_OPTIONS = {"GDAL_CACHEMAX": GDAL_CACHE_BYTES, "GTIFF_DIRECT_IO": "YES"}


@dataclass
class Cube:
    """A spectral cube (or any multi-band raster window).

    Attributes
    ----------
    data : ndarray float32 (bands, rows, cols), NaN at nodata
    wavelengths_nm : ndarray float64 (bands,) in nm, ascending; None for non-spectral rasters
    fwhm_nm : ndarray (bands,) in nm, or None
    transform : affine.Affine of ``data``'s top-left pixel (window-aware)
    crs : rasterio.crs.CRS or None
    band_names : list[str] (bands,)
    bbl : ndarray bool (bands,) good-band list, or None
    """

    data: np.ndarray
    wavelengths_nm: Optional[np.ndarray]
    fwhm_nm: Optional[np.ndarray] = None
    transform: object = None
    crs: object = None
    band_names: List[str] = field(default_factory=list)
    bbl: Optional[np.ndarray] = None

    @property
    def shape(self):
        """(bands, rows, cols)."""
        return self.data.shape

    def pixels(self):
        """Pixel table ``(rows * cols, bands)`` (a copy), row-major pixel order."""
        return self.data.reshape(self.data.shape[0], -1).T.copy()


def as_window(window, height, width, path=""):
    """A rasterio Window from a Window or ``((row_start, row_stop), (col_start, col_stop))``, checked."""
    from rasterio.windows import Window

    if window is None:
        return Window(0, 0, width, height)
    if not isinstance(window, Window):
        (r0, r1), (c0, c1) = window
        window = Window(c0, r0, c1 - c0, r1 - r0)
    c0, r0 = int(window.col_off), int(window.row_off)
    c1, r1 = c0 + int(window.width), r0 + int(window.height)
    if window.width <= 0 or window.height <= 0 or c0 < 0 or r0 < 0 or c1 > width or r1 > height:
        raise InputError(f"window rows {r0}:{r1}, cols {c0}:{c1} is outside {path} "
                         f"({height} rows x {width} cols) or empty")
    return window


def read_window(info, window, bands=None, dataset=None):
    """Pixels of a window as float32 ``(bands, rows, cols)`` with NaN at nodata, bands in ``info`` order.

    ``bands`` are 0-based indices into ``info``'s (ascending-wavelength) band order. ``dataset``: the file
    already open (:func:`open_raster`), else it is opened and closed here (about 6 ms for a 200-band file).
    """
    import rasterio

    file_bands = _file_bands(info, bands)
    layout = direct_layout(info, window)
    if layout is not None:
        data = read_raw(layout, window, file_bands)
    else:
        indexes = [b + 1 for b in file_bands]
        with rasterio.Env(**READ_OPTIONS):
            if dataset is None:
                with open_raster(info.path) as ds:
                    data = ds.read(indexes, window=window, out_dtype="float32")
            else:
                data = dataset.read(indexes, window=window, out_dtype="float32")
    return _nodata_to_nan(info, data)


def _file_bands(info, bands):
    """0-based file band indices of ``bands`` (indices in ``info``'s ascending-wavelength order; None: all)."""
    sel = np.arange(info.count) if bands is None else np.asarray(bands, dtype=int)
    return [int(info.order[b]) for b in sel]


def _nodata_to_nan(info, data):
    """``data`` (float32) with the file's nodata value replaced by NaN, in place."""
    if info.nodata is not None and not np.isnan(info.nodata):
        data[data == np.float32(info.nodata)] = np.nan
    return data


def direct_layout(info, window):
    """The file's :class:`~remine.core.raster.rawio.RawLayout` when ``window`` is best read directly, else None:
    an uncompressed file GDAL would read as it is stored (bands apart or pixel-interleaved), a window
    inside the raster, and blocks (tiles, strips) at most 1024 px wide or, for wider ones (whole ENVI
    bands or images), a window using at least half of the bytes read."""
    layout = raw_layout(info.path)
    if layout is None or (layout.width, layout.height, layout.bands) != (info.width, info.height, info.count):
        return None
    r0, c0, h, w = (int(v) for v in (window.row_off, window.col_off, window.height, window.width))
    inside = h > 0 and w > 0 and r0 >= 0 and c0 >= 0 and r0 + h <= info.height and c0 + w <= info.width
    return layout if inside and (layout.block_cols <= 1024 or layout.use(window) >= 0.5) else None


def read_window_table(info, window, bands=None):
    """A window of a pixel-interleaved raster as a float32 pixel table ``(rows * cols, bands)`` (NaN at
    nodata, bands in ``info`` order), read without transposition; None for other files (use
    :func:`read_window`)."""
    layout = direct_layout(info, window)
    if layout is None or not layout.pixel_interleaved:
        return None
    return _nodata_to_nan(info, read_table(layout, window, _file_bands(info, bands)))


def check_bands(bands, count, path=""):
    """Validate 0-based band indices against ``count`` bands."""
    if bands is None:
        return None
    bands = np.atleast_1d(np.asarray(bands))
    if bands.size == 0 or not np.issubdtype(bands.dtype, np.integer) or bands.min() < 0 or bands.max() >= count:
        raise InputError(f"band indices {bands.tolist()} are outside {path} (0-based, {count} bands)")
    return bands


def read_cube(path, window=None, bands=None, wavelengths=None, units=None, require_wavelengths=True,
              require_crs=False):
    """Read a spectral cube (or a window / band subset of it).

    Parameters
    ----------
    path : str
        GeoTIFF or ENVI (BSQ/BIL/BIP with .hdr) or any GDAL raster.
    window : rasterio Window or ((row_start, row_stop), (col_start, col_stop)), optional
    bands : sequence of int, optional
        0-based band indices, in ascending-wavelength order.
    wavelengths : array-like (bands,), optional
        Override or supply the wavelengths (in ``units``).
    units : str, optional
        ``"nm"``, ``"um"`` or ``"cm-1"`` when the file does not say.
    require_wavelengths : bool
        A raster without wavelengths is an InputError (default) — set False for non-spectral rasters.
    require_crs : bool
        A raster without CRS is an InputError.

    Returns
    -------
    Cube with ``data`` float32 (bands, rows, cols), bands sorted by wavelength.
    """
    info = raster_info(path, units=units, wavelengths=wavelengths, require_wavelengths=require_wavelengths,
                       require_crs=require_crs)
    win = as_window(window, info.height, info.width, path)
    sel = check_bands(bands, info.count, path)
    data = read_window(info, win, sel)
    from rasterio.windows import transform as window_transform

    def pick(a):
        return None if a is None else (a if sel is None else a[sel])

    names = info.band_names if sel is None else [info.band_names[i] for i in sel]
    return Cube(data=data, wavelengths_nm=pick(info.wavelengths_nm), fwhm_nm=pick(info.fwhm_nm),
                transform=window_transform(win, info.transform), crs=info.crs, band_names=names,
                bbl=pick(info.bbl))
