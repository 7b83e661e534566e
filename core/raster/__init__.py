"""Raster I/O: spectral cubes with wavelengths in nm, atomic GeoTIFF outputs.

:mod:`.units` (wavelength units), :mod:`.info` (metadata), :mod:`.read` (windows and cubes, with
:mod:`.rawio` for uncompressed files), :mod:`.write` (GeoTIFF outputs and their QGIS :mod:`.style`),
:mod:`.stats` (band statistics). The names below are the package's interface.
"""
from .info import RasterInfo, open_raster, raster_info, read_class_names
from .read import (
    GDAL_CACHE_BYTES,
    READ_OPTIONS,
    Cube,
    as_window,
    check_bands,
    direct_layout,
    read_cube,
    read_window,
    read_window_table,
)
from .stats import BandStatistics, band_statistics
from .units import (
    NM_UNITS,
    UM_UNITS,
    WAVELENGTH_UNITS,
    WN_UNITS,
    infer_units,
    normalise_units,
    to_nanometres,
    wavelengths_to_nm,
)
from .write import (
    GTIFF_EXTENSIONS,
    SIDE_CARS,
    atomic_path,
    check_output_path,
    compression,
    fill_nodata,
    finish_output,
    gtiff_profile,
    write_classes,
    write_raster,
    write_spectral_tags,
)

__all__ = [
    "RasterInfo", "open_raster", "raster_info", "read_class_names", "GDAL_CACHE_BYTES", "READ_OPTIONS", "Cube",
    "as_window", "check_bands", "direct_layout", "read_cube", "read_window", "read_window_table", "BandStatistics",
    "band_statistics", "NM_UNITS", "UM_UNITS", "WAVELENGTH_UNITS", "WN_UNITS", "infer_units", "normalise_units",
    "to_nanometres", "wavelengths_to_nm", "GTIFF_EXTENSIONS", "SIDE_CARS", "atomic_path", "check_output_path",
    "compression", "fill_nodata", "finish_output", "gtiff_profile", "write_classes", "write_raster",
    "write_spectral_tags",
]
