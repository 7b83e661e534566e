"""Raster metadata: size, georeference, nodata and band wavelengths in nm, without pixels.

Wavelengths are read from (first match wins): the ``wavelengths`` argument; the ENVI metadata domain
(ENVI headers, and GeoTIFFs written by ENVI/remine); per-band ``wavelength`` items (GDAL, EnMAP-Box);
GDAL's ``IMAGERY`` domain (``CENTRAL_WAVELENGTH_UM``). remine writes all three so that QGIS, GDAL and
EnMAP-Box show them.
"""
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..errors import InputError
from .units import infer_units, normalise_units, to_nanometres, wavelengths_to_nm


def _parse_list(text):
    """ENVI-style ``"{ 1, 2, 3 }"`` → list of stripped strings."""
    return [t.strip() for t in str(text).strip().strip("{}").split(",") if t.strip()]


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


def read_class_names(path):
    """Class names stored by :func:`write_classes` (list of str), or None."""
    ds = open_raster(path)
    with ds:
        text = ds.tags(1).get("class_names")
    return json.loads(text) if text else None
