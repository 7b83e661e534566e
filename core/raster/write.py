"""Writing GeoTIFFs: atomic output paths, tiled compressed profiles, band names and wavelengths, classes
and QGIS styles."""
import contextlib
import errno
import functools
import glob
import json
import os
import re
import uuid

import numpy as np

from ..errors import InputError
from .read import GDAL_CACHE_BYTES, Cube
from .style import style_path, write_style

GTIFF_EXTENSIONS = (".tif", ".tiff")


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
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


def remove_stale_parts(path):
    """Delete the hidden partial files of earlier writes of ``path`` whose process no longer runs (a run
    killed outright, e.g. by SIGKILL or a power cut, cannot remove its own), with their side-cars."""
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
            finish_output(dst, tmp, band_names=band_names, wavelengths_nm=wavelengths_nm, fwhm_nm=fwhm_nm,
                          colormap=colormap, category_names=category_names, value_range=value_range)
    return path


def finish_output(dst, path, band_names=None, wavelengths_nm=None, fwhm_nm=None, colormap=None,
                  category_names=None, value_range=None, statistics=None):
    """Describe and close the GeoTIFF ``dst`` open for writing at ``path``, then write its QGIS style.

    Stores band names and wavelengths (:func:`write_spectral_tags`), ``statistics`` (a
    :class:`~remine.core.raster.stats.BandStatistics`), the colour table and class names
    (:func:`write_classes`); the style (:func:`~remine.core.raster.style.write_style`) is paletted for a
    class map, a pseudocolour ramp over ``value_range`` for continuous outputs, else none.
    """
    try:
        write_spectral_tags(dst, wavelengths_nm, fwhm_nm, band_names)
        if statistics is not None:
            statistics.write(dst)
        write_classes(dst, colormap, category_names)
    finally:
        dst.close()
    write_style(path, colormap, category_names, value_range)


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
