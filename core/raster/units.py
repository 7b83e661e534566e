"""Wavelength units: conversion to nanometres at the door (µm, cm⁻¹ → nm), never guessed where a value could
mean two things."""
import numpy as np

from ..errors import InputError

NM_UNITS = {"nm", "nanometer", "nanometers", "nanometre", "nanometres"}
UM_UNITS = {"um", "µm", "μm", "micrometer", "micrometers", "micrometre", "micrometres", "micron", "microns"}
WN_UNITS = {"cm-1", "cm^-1", "1/cm", "cm⁻¹", "wavenumber", "wavenumbers", "inverse centimeters"}
#: units a user can choose for files whose wavelengths carry none (the option list of the dialogs)
WAVELENGTH_UNITS = ("nm", "um", "cm-1")


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
