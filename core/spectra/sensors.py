"""Band centres and widths (nm) of common sensors, for resampling to another sensor.

Gaussian approximations of the spectral response functions: centre and FWHM of each band.
Sentinel-2A MSI: ESA Sentinel-2 User Handbook (2015), table of central wavelengths / bandwidths.
Landsat 8 OLI: USGS Landsat 8 Data Users Handbook (v5, 2019), band ranges (FWHM = range width).
AVIRIS (1995): the 224 channels of the USGS 1995 library shipped with remine.
"""
import numpy as np

from ..data import usgs_library
from ..errors import InputError
from ..raster import raster_info
from .io import read_library

_S2 = [(442.7, 21), (492.4, 66), (559.8, 36), (664.6, 31), (704.1, 15), (740.5, 15), (782.8, 20), (832.8, 106),
       (864.7, 21), (945.1, 20), (1373.5, 31), (1613.7, 91), (2202.4, 175)]
_L8 = [(443.0, 20), (482.0, 60), (561.5, 57), (654.5, 37), (865.0, 28), (1608.5, 85), (2200.5, 187)]


def sensor_bands(name):
    """(wavelengths_nm, fwhm_nm) of a named sensor; names: see :data:`SENSORS`."""
    key = str(name).strip().lower()
    if key not in SENSORS:
        raise InputError(f"unknown sensor {name!r}; available: {', '.join(SENSORS)}")
    if key == "aviris1995":
        _, wl, fwhm, _ = usgs_library()
        return wl, fwhm
    table = np.array(SENSORS[key], dtype=float)
    order = np.argsort(table[:, 0])
    return table[order, 0], table[order, 1]


SENSORS = {"sentinel2": _S2, "landsat8": _L8, "aviris1995": None}


def target_grid(sensor=None, raster_path=None, library_path=None, fwhm_nm=None, units=None):
    """Target band centres and widths for resampling: a named sensor, another cube, or a library.

    Exactly one of ``sensor``, ``raster_path``, ``library_path`` is used. ``fwhm_nm`` (a number) overrides
    the target widths, or supplies them when the target has none (0 or None there: linear interpolation).
    ``units`` applies to the target raster/library when its file does not say.

    Returns (wavelengths_nm (t,), fwhm_nm (t,) or None).
    """
    given = [v is not None and v != "" for v in (sensor, raster_path, library_path)]
    if sum(given) != 1:
        raise InputError("give exactly one resampling target: a sensor name, a target raster or a target library")
    if sensor is not None and sensor != "":
        wl, fwhm = sensor_bands(sensor)
    elif raster_path:
        info = raster_info(raster_path, units=units, require_wavelengths=True)
        wl, fwhm = info.wavelengths_nm, info.fwhm_nm
    else:
        lib = read_library(library_path, units=units)
        wl, fwhm = lib.wavelengths_nm, lib.fwhm_nm
    if fwhm_nm:
        fwhm = np.full(len(wl), float(fwhm_nm))
    return np.asarray(wl, dtype=float), None if fwhm is None else np.asarray(fwhm, dtype=float)
