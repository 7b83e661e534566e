"""Raster I/O: spectral cubes with wavelengths, atomic GeoTIFF outputs.

A :class:`Cube` holds ``data`` float32 ``(bands, rows, cols)`` with NaN at nodata and
``wavelengths_nm`` ``(bands,)`` in nanometres, ascending. Wavelength units are converted at the
door (µm, cm⁻¹ → nm) and never guessed where a value could mean two things.

Wavelengths are read from (first match wins): the ``wavelengths`` argument; the ENVI metadata domain
(ENVI headers, and GeoTIFFs written by ENVI/remine); per-band ``wavelength`` items (GDAL, EnMAP-Box);
GDAL's ``IMAGERY`` domain (``CENTRAL_WAVELENGTH_UM``). remine writes all three so that QGIS, GDAL and
EnMAP-Box show them.
"""
import contextlib
import functools
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .errors import InputError
from .rawio import raw_layout, read_raw, read_table
from .style import style_path, write_style

NM_UNITS = {"nm", "nanometer", "nanometers", "nanometre", "nanometres"}
UM_UNITS = {"um", "µm", "μm", "micrometer", "micrometers", "micrometre", "micrometres", "micron", "microns"}
WN_UNITS = {"cm-1", "cm^-1", "1/cm", "cm⁻¹", "wavenumber", "wavenumbers", "inverse centimeters"}
GTIFF_EXTENSIONS = (".tif", ".tiff")
#: GDAL block cache while remine reads/writes (rasterio takes GDAL_CACHEMAX in bytes). GDAL's default,
#: 5 % of RAM, counts towards the process's memory and would break the block engine's budget. remine
#: writes whole output tiles and reads windows of whole input tiles, so the cache need not hold more
#: than a few tiles; a small one makes GDAL compress and write tiles as they are filled, beside the
#: computing thread, instead of all at closing (unmix_raster 100k px, median of 11 runs: 0.149 s with
#: 64 MB, 0.129 s with 4 MB). Reading a 256 x 256 px window of a 224-band ZSTD cube is not slower with a
#: small cache (64 -> 2 MB: 281 -> 198 ms pixel-interleaved, 103 -> 68 ms band-interleaved).
GDAL_CACHE_BYTES = 4 * 2**20
#: GDAL options while remine reads pixels through GDAL (uncompressed files stored band by band or
#: pixel-interleaved are read directly, see :mod:`remine.core.rawio`): the remaining uncompressed GeoTIFFs
#: (sparse, 12-bit, ...) are read straight into the output array (GTIFF_DIRECT_IO), not through the block
#: cache, so that a window cutting through tiles reads only its rows. Measured on a 200-band, 316 x 316 px
#: uncompressed cube read as 3 windows of 128 rows: 0.170 -> 0.053 CPU s (whole cube 0.094 -> 0.042 s);
#: compressed files are unaffected. (GDAL's memory-mapped reading, GTIFF_VIRTUAL_MEM_IO, reads twice as fast
#: again but keeps every page read mapped until the file is closed: the process's resident memory would grow
#: with the cube.)
READ_OPTIONS = {"GDAL_CACHEMAX": GDAL_CACHE_BYTES, "GTIFF_DIRECT_IO": "YES"}


# --------------------------------------------------------------------------------------------- units
def normalise_units(units):
    """Map a units string (``"Micrometers"``, ``"µm"``, ``"cm-1"``, ...) to ``"nm"``, ``"um"``, ``"cm-1"``.

    ``None``, ``""`` and ``"Unknown"`` give ``None``; anything else is an :class:`InputError`.
    """
    if units is None:
        return None
    key = str(units).strip().lower()
    if key in ("", "unknown", "none", "index"):
        return None
    if key in NM_UNITS:
        return "nm"
    if key in UM_UNITS:
        return "um"
    if key in WN_UNITS:
        return "cm-1"
    raise InputError(f"wavelength units '{units}' not understood; expected nm, µm (micrometers) or cm-1 (wavenumber)")


def to_nanometres(values, units):
    """Convert wavelengths or wavenumbers to nanometres.

    Parameters
    ----------
    values : array-like (bands,)
    units : str
        ``"nm"``, ``"um"``/``"µm"``/``"micrometers"`` or ``"cm-1"``/``"wavenumber"``.

    Returns
    -------
    ndarray (bands,) float64, nanometres (cm⁻¹ → 1e7 / value, so the order reverses).
    """
    values = np.asarray(values, dtype=float)
    unit = normalise_units(units)
    if unit is None:
        raise InputError("wavelength units missing; pass units='nm', 'um' or 'cm-1'")
    if unit == "um":
        return values * 1000.0
    if unit == "cm-1":
        if np.any(values <= 0):
            raise InputError(f"wavenumbers must be > 0 cm-1, got minimum {values.min():g}")
        return 1e7 / values
    return values


def infer_units(values):
    """Units of wavelengths given without units, only where the values leave no doubt.

    Values between 0.2 and 30 can only be micrometres (nm and cm⁻¹ would be absurd). Anything else
    (e.g. 400 … 2500, which could be nm or cm⁻¹) returns ``None``: the caller must ask the user.
    """
    values = np.asarray(values, dtype=float)
    if values.size and np.all((values > 0.2) & (values < 30)):
        return "um"
    return None


def wavelengths_to_nm(values, units, source="the raster"):
    """Wavelengths of ``source`` in nm, inferring units only when unambiguous (else InputError)."""
    values = np.asarray(values, dtype=float)
    unit = normalise_units(units) or infer_units(values)
    if unit is None:
        raise InputError(
            f"wavelengths of {source} ({values.min():g} … {values.max():g}) have no units and could be "
            "nanometres or wavenumbers (cm-1); give the units (units='nm', 'um' or 'cm-1')")
    return to_nanometres(values, unit)


def _parse_list(text):
    """ENVI-style ``"{ 1, 2, 3 }"`` → list of stripped strings."""
    return [t.strip() for t in str(text).strip().strip("{}").split(",") if t.strip()]


# ---------------------------------------------------------------------------------------- metadata
@dataclass
class RasterInfo:
    """Metadata of a raster, without pixels.

    ``wavelengths_nm``/``fwhm_nm`` are in nm and ascending; ``order`` maps output band k to the file's
    band ``order[k]`` (0-based): it differs from ``range(count)`` only for descending files (cm⁻¹).
    """

    path: str
    width: int
    height: int
    count: int
    dtype: str
    transform: object
    crs: object
    nodata: Optional[float]
    wavelengths_nm: Optional[np.ndarray]
    fwhm_nm: Optional[np.ndarray]
    band_names: List[str]
    bbl: Optional[np.ndarray]
    order: np.ndarray = field(repr=False, default=None)
    #: GDAL block (rows, cols) of the first band: tiles of a tiled GeoTIFF, strips otherwise
    block_shape: tuple = field(repr=False, default=None)
    #: compression of the file (e.g. "ZSTD", "DEFLATE"), None when uncompressed
    compression: Optional[str] = field(repr=False, default=None)


def raster_info(path, units=None, wavelengths=None, require_wavelengths=False, require_crs=False):
    """Read a raster's metadata (size, georeference, nodata, wavelengths in nm).

    Parameters
    ----------
    path : str
        GeoTIFF, ENVI (.hdr next to the data file) or anything GDAL reads.
    units : str, optional
        Units of the file's wavelengths when the file does not say (or to override it).
    wavelengths : array-like (bands,), optional
        Wavelengths to use instead of the file's (in ``units``, or inferred when unambiguous).
    require_wavelengths, require_crs : bool
        Raise :class:`InputError` if the raster has none.

    Returns
    -------
    RasterInfo
    """
    ds = open_raster(path)
    with ds:
        wl, fwhm, bbl, file_units, names = _spectral_tags(ds)
        nodata = ds.nodata
        envi = {k.lower(): v for k, v in ds.tags(ns="ENVI").items()}
        if nodata is None and "data_ignore_value" in envi:
            nodata = float(envi["data_ignore_value"])
        info = RasterInfo(path=str(path), width=ds.width, height=ds.height, count=ds.count,
                          dtype=ds.dtypes[0], transform=ds.transform, crs=ds.crs, nodata=nodata,
                          wavelengths_nm=None, fwhm_nm=None, band_names=names, bbl=bbl,
                          order=np.arange(ds.count), block_shape=tuple(ds.block_shapes[0]),
                          compression=ds.compression.name.upper() if ds.compression else None)
    if wavelengths is not None:
        wl, fwhm, file_units = wavelengths, None, units
        if len(wl) != info.count:
            raise InputError(f"{len(wl)} wavelengths given for {info.count} bands of {path}")
    if wl is not None:
        unit = units if units is not None else file_units
        wl_nm = wavelengths_to_nm(wl, unit, source=os.path.basename(str(path)))
        fw_nm = None
        if fwhm is not None:
            fw = np.asarray(fwhm, float)
            # a width converts like a wavelength in µm; in cm⁻¹ via the derivative |dλ| = 1e7 Δν / ν²
            unit_n = normalise_units(unit) or infer_units(wl)
            fw_nm = fw * 1e7 / np.asarray(wl, float) ** 2 if unit_n == "cm-1" else to_nanometres(fw, unit_n)
        order = np.argsort(wl_nm, kind="stable")
        if np.any(np.diff(wl_nm[order]) == 0):
            raise InputError(f"{path} has duplicate wavelengths; each band needs its own wavelength")
        info.wavelengths_nm = wl_nm[order]
        info.fwhm_nm = None if fw_nm is None else fw_nm[order]
        info.band_names = [info.band_names[i] for i in order]
        info.bbl = None if info.bbl is None else info.bbl[order]
        info.order = order
    if require_wavelengths and info.wavelengths_nm is None:
        raise InputError(f"{path} has no band wavelengths (no ENVI 'wavelength', no band 'wavelength' "
                         "metadata); give them with wavelengths=[...] and units")
    if require_crs and info.crs is None:
        raise InputError(f"{path} has no CRS (coordinate reference system); assign one, e.g. "
                         "gdal_edit.py -a_srs EPSG:32630 FILE, before use")
    return info


def open_raster(path):
    """The raster at ``path`` opened for reading (a rasterio dataset; close it), or InputError. ``path``: a file,
    or a GDAL virtual path (``/vsicurl/https://...``, ``/vsis3/bucket/key``, ``/vsimem/...``)."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if path is None or not (str(path).startswith("/vsi") or os.path.exists(str(path))):
        raise InputError(f"raster not found: {path}")
    if os.path.isdir(str(path)):
        raise InputError(f"expected a raster file, got a directory: {path}")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            return rasterio.open(str(path))
    except RasterioIOError as exc:
        raise InputError(f"not a raster GDAL can read: {path} ({exc})") from None


def _spectral_tags(ds):
    """(wavelengths, fwhm, bbl, units, band_names) from a rasterio dataset, in file order and units."""
    envi = {k.lower(): v for k, v in ds.tags(ns="ENVI").items()}
    default = {k.lower(): v for k, v in ds.tags().items()}
    band_tags = [{k.lower(): v for k, v in ds.tags(b).items()} for b in range(1, ds.count + 1)]
    names = [d or f"Band {i + 1}" for i, d in enumerate(ds.descriptions)]
    if "band_names" in envi and len(_parse_list(envi["band_names"])) == ds.count:
        names = _parse_list(envi["band_names"])
    wl = fwhm = bbl = None
    units = envi.get("wavelength_units") or default.get("wavelength_units")
    if "wavelength" in envi:
        wl = [float(v) for v in _parse_list(envi["wavelength"])]
        if "fwhm" in envi:
            fwhm = [float(v) for v in _parse_list(envi["fwhm"])]
    elif all("wavelength" in t for t in band_tags) and ds.count:
        wl = [float(t["wavelength"]) for t in band_tags]
        units = band_tags[0].get("wavelength_units", units)
        if all("fwhm" in t for t in band_tags):
            fwhm = [float(t["fwhm"]) for t in band_tags]
    else:
        imagery = [{k.upper(): v for k, v in ds.tags(b, ns="IMAGERY").items()} for b in range(1, ds.count + 1)]
        if ds.count and all("CENTRAL_WAVELENGTH_UM" in t for t in imagery):
            wl, units = [float(t["CENTRAL_WAVELENGTH_UM"]) for t in imagery], "um"
            if all("FWHM_UM" in t for t in imagery):
                fwhm = [float(t["FWHM_UM"]) for t in imagery]
    if "bbl" in envi:
        bbl = np.array([float(v) for v in _parse_list(envi["bbl"])]) > 0
    if wl is not None and len(wl) != ds.count:
        raise InputError(f"{ds.name}: {len(wl)} wavelengths in the metadata for {ds.count} bands")
    if fwhm is not None and len(fwhm) != ds.count:
        fwhm = None
    return wl, fwhm, bbl, units, names


# ------------------------------------------------------------------------------------------- cubes
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
    """The file's :class:`~remine.core.rawio.RawLayout` when ``window`` is best read directly, else None:
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


# ------------------------------------------------------------------------------------------ output
def check_output_path(path, inputs=(), extensions=GTIFF_EXTENSIONS):
    """Refuse an output path that cannot be written safely.

    Raises :class:`InputError` when the path is an existing folder, its folder is missing or read-only, the
    extension is not one of ``extensions`` (None: any), or the path is one of ``inputs`` (outputs never
    overwrite inputs).
    """
    if not path:
        raise InputError("no output path given")
    path = os.path.abspath(str(path))
    if os.path.isdir(path):
        raise InputError(f"output {path} is an existing folder; expected a file name")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise InputError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise InputError(f"output folder is read-only: {folder}")
    if extensions and not path.lower().endswith(tuple(extensions)):
        raise InputError(f"output {path} must end with {' or '.join(extensions)} (GeoTIFF)")
    for src in inputs:
        if src and os.path.exists(str(src)) and os.path.realpath(str(src)) == os.path.realpath(path):
            raise InputError(f"output {path} is also an input; choose another output path")
    return path


SIDE_CARS = (".aux.xml", ".ovr")


def _disk_full(exc):
    """Whether ``exc`` (OSError, or GDAL's error through rasterio) says the disk is full (ENOSPC)."""
    import errno

    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


def remove_stale_parts(path):
    """Delete the hidden partial files of earlier writes of ``path`` whose process no longer runs (a run
    killed outright, e.g. by SIGKILL or a power cut, cannot remove its own), with their side-cars."""
    import glob
    import re

    folder, name = os.path.split(os.path.abspath(str(path)))
    base, ext = os.path.splitext(name)
    pattern = re.compile(re.escape(f".{base}.part-") + r"(\d+)-[0-9a-f]{8}" + re.escape(ext))
    for found in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(base)}.part-*")):
        match = pattern.match(os.path.basename(found))
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.remove(found)


def _process_alive(pid):
    """Whether process ``pid`` runs (always True on Windows, where os.kill would terminate it)."""
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user (or not on this platform): leave its files
        return True
    return True


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete it on error.

    GDAL side-cars of the temporary file (``.aux.xml``) and its QGIS style (``.qml``) follow it. A
    cancelled or failed write leaves neither a partial file nor a changed previous file.
    """
    path = os.path.abspath(str(path))
    base, ext = os.path.splitext(os.path.basename(path))
    remove_stale_parts(path)
    tmp = os.path.join(os.path.dirname(path), f".{base}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}{ext}")
    pairs = [(tmp + s, path + s) for s in SIDE_CARS] + [(style_path(tmp), style_path(path))]
    try:
        yield tmp
    except BaseException as exc:
        for p in [tmp] + [a for a, _ in pairs]:
            if os.path.exists(p):
                os.remove(p)
        if _disk_full(exc):
            raise InputError(f"no space left on the disk of {os.path.dirname(path)} while writing "
                             f"{os.path.basename(path)} (nothing was kept); free some space or write the output "
                             "to another disk") from None
        raise
    if not os.path.exists(tmp):
        return  # the caller wrote nothing: nothing to publish
    for src, dst in pairs:
        if os.path.exists(dst):
            os.remove(dst)
        if os.path.exists(src):
            os.replace(src, dst)
    os.replace(tmp, path)


@functools.lru_cache(maxsize=1)
def compression():
    """GeoTIFF compression options: ZSTD level 1 where GDAL has it (3× faster than DEFLATE at the same
    size on reflectance cubes; read by GDAL ≥ 2.3, hence QGIS, EnMAP-Box, rasterio), else DEFLATE level 1."""
    try:
        from osgeo import gdal

        options = gdal.GetDriverByName("GTiff").GetMetadataItem("DMD_CREATIONOPTIONLIST") or ""
    except ImportError:
        options = ""
    return {"compress": "zstd", "zstd_level": 1} if "ZSTD" in options else {"compress": "deflate", "zlevel": 1}


def gtiff_profile(like, count, dtype="float32", nodata=None, tile=256):
    """A tiled, compressed GeoTIFF profile on the grid of ``like`` (see :func:`compression`).

    ``like``: a :class:`Cube`, :class:`RasterInfo`, :class:`remine.core.blocks.GridSpec`-like object
    (width, height, transform, crs) or a rasterio profile dict.
    """
    if isinstance(like, dict):
        width, height, transform, crs = like["width"], like["height"], like["transform"], like.get("crs")
    elif isinstance(like, Cube):
        _, height, width = like.data.shape
        transform, crs = like.transform, like.crs
    else:
        width, height, transform, crs = like.width, like.height, like.transform, like.crs
    dtype = np.dtype(dtype).name
    if nodata is None and np.issubdtype(np.dtype(dtype), np.floating):
        nodata = float("nan")
    profile = dict(driver="GTiff", width=int(width), height=int(height), count=int(count), dtype=dtype,
                   transform=transform, crs=crs, nodata=nodata, tiled=True, blockxsize=tile, blockysize=tile,
                   **compression(), bigtiff="if_safer", num_threads="all_cpus",
                   interleave="band" if count > 1 else "pixel")
    if width < tile or height < tile:  # GTiff tiles must be multiples of 16 and need not exceed the image
        profile.update(blockxsize=max(16, min(tile, -(-int(width) // 16) * 16)),
                       blockysize=max(16, min(tile, -(-int(height) // 16) * 16)))
    return profile


def write_spectral_tags(dst, wavelengths_nm=None, fwhm_nm=None, band_names=None):
    """Store band names and wavelengths so that GDAL, QGIS and EnMAP-Box show them.

    Writes band descriptions; per-band ``wavelength``/``wavelength_units``/``fwhm`` (GDAL, EnMAP-Box);
    the ENVI domain lists; and GDAL's ``IMAGERY`` domain (``CENTRAL_WAVELENGTH_UM``, ``FWHM_UM``).
    """
    count = dst.count
    if band_names is None and wavelengths_nm is not None:
        band_names = [f"{w:.1f} nm" for w in wavelengths_nm]
    if band_names is not None:
        if len(band_names) != count:
            raise InputError(f"{len(band_names)} band names for {count} bands")
        for b, name in enumerate(band_names, start=1):
            dst.set_band_description(b, str(name))
    if wavelengths_nm is None:
        return
    wl = np.asarray(wavelengths_nm, float)
    if wl.shape != (count,):
        raise InputError(f"{wl.size} wavelengths for {count} bands")
    fw = None if fwhm_nm is None else np.asarray(fwhm_nm, float)
    for b in range(count):
        tags = {"wavelength": f"{wl[b]:.6g}", "wavelength_units": "Nanometers"}
        if fw is not None:
            tags["fwhm"] = f"{fw[b]:.6g}"
        dst.update_tags(b + 1, **tags)
        imagery = {"CENTRAL_WAVELENGTH_UM": f"{wl[b] / 1000:.8g}"}
        if fw is not None:
            imagery["FWHM_UM"] = f"{fw[b] / 1000:.8g}"
        dst.update_tags(b + 1, ns="IMAGERY", **imagery)
    envi = {"wavelength": "{" + ", ".join(f"{w:.6g}" for w in wl) + "}", "wavelength_units": "Nanometers"}
    if fw is not None:
        envi["fwhm"] = "{" + ", ".join(f"{w:.6g}" for w in fw) + "}"
    dst.update_tags(ns="ENVI", **envi)
    dst.update_tags(wavelength_units="Nanometers")


def write_raster(path, data, like, nodata=None, band_names=None, wavelengths_nm=None, fwhm_nm=None,
                 dtype=None, colormap=None, category_names=None, value_range=None):
    """Write an array as a tiled, compressed GeoTIFF, atomically (temp file + rename).

    Parameters
    ----------
    path : str
        Output ``.tif``; its folder must exist and be writable.
    data : ndarray (bands, rows, cols) or (rows, cols)
        NaN marks nodata in float data; for integer output NaN becomes ``nodata``.
    like : Cube | RasterInfo | GridSpec | dict
        Grid (size, transform, CRS); wavelengths are taken from a Cube unless given.
    nodata : float, optional
        Default NaN for float output.
    band_names : list[str], optional
    wavelengths_nm, fwhm_nm : array (bands,), optional
        Stored for GDAL/QGIS/EnMAP-Box (see :func:`write_spectral_tags`).
    dtype : str, optional
        Output type (default: ``data.dtype``, float64 written as float32).
    colormap : dict {value: (r, g, b[, a])}, optional
        Colour table for band 1 (uint8/uint16 class maps).
    category_names : list[str], optional
        Class names for band 1 values 0, 1, 2 … (band item ``class_names`` and the QGIS style labels).
    value_range : (float, float), optional
        Range of a pseudocolour QGIS style for continuous outputs (e.g. (0, 100) for abundances in %).

    Returns
    -------
    str : the absolute output path.
    """
    import rasterio

    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise InputError(f"raster data must be (bands, rows, cols) or (rows, cols), got shape {data.shape}")
    if dtype is None:
        dtype = "float32" if data.dtype == np.float64 else data.dtype.name
    if isinstance(like, Cube):
        wavelengths_nm = like.wavelengths_nm if wavelengths_nm is None and like.data.shape[0] == data.shape[0] \
            else wavelengths_nm
        fwhm_nm = like.fwhm_nm if fwhm_nm is None and like.data.shape[0] == data.shape[0] else fwhm_nm
    profile = gtiff_profile(like, data.shape[0], dtype, nodata)
    if (profile["height"], profile["width"]) != data.shape[1:]:
        raise InputError(f"data of {data.shape[1]} x {data.shape[2]} pixels does not match the grid "
                         f"({profile['height']} x {profile['width']})")
    path = check_output_path(path)
    out = fill_nodata(data, profile["dtype"], profile["nodata"])
    with atomic_path(path) as tmp:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(out)
            write_spectral_tags(dst, wavelengths_nm, fwhm_nm, band_names)
            write_classes(dst, colormap, category_names)
        write_style(tmp, colormap, category_names, value_range)
    return path


def fill_nodata(data, dtype, nodata):
    """``data`` cast to ``dtype`` with NaN replaced by ``nodata`` (integer outputs)."""
    if np.issubdtype(np.dtype(dtype), np.floating):
        return data.astype(dtype, copy=False)
    nan = np.isnan(data) if np.issubdtype(data.dtype, np.floating) else None
    out = np.where(nan, 0, data).astype(dtype) if nan is not None else data.astype(dtype, copy=False)
    if nan is not None and nan.any():
        if nodata is None:
            raise InputError("integer output with NaN values needs a nodata value")
        out[nan] = nodata
    return out


def write_classes(dst, colormap=None, category_names=None):
    """Colour table ``{value: (r, g, b[, a])}`` and class names (band item ``class_names``, JSON) on band 1."""
    if colormap:
        dst.write_colormap(1, {int(k): tuple(int(c) for c in v) for k, v in colormap.items()})
    if category_names:
        dst.update_tags(1, class_names=json.dumps(list(category_names)))


class BandStatistics:
    """Per-band count, sum, sum of squares, minimum and maximum of the valid cells, accumulated block by
    block (:func:`remine.core.blocks.map_blocks` with ``BlockOutput(statistics=True)``) and stored as GDAL
    band statistics (``STATISTICS_MINIMUM/MAXIMUM/MEAN/STDDEV/VALID_PERCENT``): GDAL returns them without
    computing (``GetStatistics`` with force off), so readers need not scan the pixels, and
    :func:`band_statistics` reads them back.
    """

    def __init__(self, count, nodata=None):
        self.nodata = nodata
        self.n = np.zeros(count)
        self.total = np.zeros(count)
        self.squares = np.zeros(count)
        self.minimum = np.full(count, np.inf)
        self.maximum = np.full(count, -np.inf)

    def add(self, block):
        """Add a block (count, rows, cols); NaN and the nodata value are not counted (one compiled pass:
        2 ms for 9 bands x 100k px, against 27 ms for the numpy expression)."""
        a = np.ascontiguousarray(block).reshape(len(self.n), -1)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
        skip = float(self.nodata) if self.nodata is not None and np.isfinite(self.nodata) else np.nan
        _statistics_kernel()(a, skip, self.n, self.total, self.squares, self.minimum, self.maximum)

    def write(self, dst):
        """Store the statistics on the open dataset ``dst`` (a band without valid cells: valid percent 0 only)."""
        cells = dst.width * dst.height
        for b in range(len(self.n)):
            tags = {"STATISTICS_VALID_PERCENT": repr(float(100.0 * self.n[b] / cells))}
            if self.n[b]:
                mean = self.total[b] / self.n[b]
                std = np.sqrt(max(self.squares[b] / self.n[b] - mean * mean, 0.0))
                tags.update(STATISTICS_MINIMUM=repr(float(self.minimum[b])),
                            STATISTICS_MAXIMUM=repr(float(self.maximum[b])), STATISTICS_MEAN=repr(float(mean)),
                            STATISTICS_STDDEV=repr(float(std)))
            dst.update_tags(b + 1, **tags)


@functools.lru_cache(maxsize=None)
def _statistics_kernel():
    """Compile (once) the accumulating kernel of :meth:`BandStatistics.add`."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def accumulate(a, skip, n, total, squares, minimum, maximum):
        for b in range(a.shape[0]):
            row = a[b]
            c, s, ss, lo, hi = 0.0, 0.0, 0.0, minimum[b], maximum[b]
            for v32 in row:
                v = np.float64(v32)
                if np.isfinite(v) and v != skip:
                    c += 1.0
                    s += v
                    ss += v * v
                    lo = min(lo, v)
                    hi = max(hi, v)
            n[b] += c
            total[b] += s
            squares[b] += ss
            minimum[b] = lo
            maximum[b] = hi

    return accumulate


def band_statistics(path):
    """Statistics stored by :class:`BandStatistics`: ``{band name: {"count", "sum", "mean", "stddev",
    "minimum", "maximum"}}`` (count 0 and NaN values for a band without valid cells)."""
    with open_raster(path) as ds:
        cells = ds.width * ds.height
        names = [d or f"band {i + 1}" for i, d in enumerate(ds.descriptions)]
        tags = [ds.tags(b + 1) for b in range(ds.count)]
    out = {}
    for name, t in zip(names, tags):
        if "STATISTICS_VALID_PERCENT" not in t:
            raise InputError(f"{path} band {name!r} has no stored statistics "
                             "(BlockOutput(statistics=True) writes them)")
        count = int(round(float(t["STATISTICS_VALID_PERCENT"]) * cells / 100.0))
        values = {k: float(t.get(f"STATISTICS_{k.upper()}", "nan")) for k in ("mean", "stddev", "minimum", "maximum")}
        out[name] = dict(count=count, sum=values["mean"] * count if count else 0.0, **values)
    return out


def read_class_names(path):
    """Class names stored by :func:`write_classes` (list of str), or None."""
    ds = open_raster(path)
    with ds:
        text = ds.tags(1).get("class_names")
    return json.loads(text) if text else None
