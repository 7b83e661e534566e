"""CSV spectral libraries (VNIR–SWIR and FTIR).

Two layouts are read:

* wide — one row per spectrum, one column per wavelength (header ``450``, ``450 nm``, ``4000 cm-1``…),
  other columns are metadata (the first of ``name``, ``sample_id``, ``id``, ``sample``, ``spectrum``
  names the spectra);
* long — one row per wavelength: the first column holds the wavelengths (header e.g.
  ``wavelength_nm``, ``Wavelength (µm)``, ``wavenumber (cm-1)``), every other column is a spectrum.

Units come from the ``units`` argument, else from the headers, else from the values only when they
leave no doubt (0.2–30 → µm). Wavenumbers are converted to nm and the bands sorted ascending.
"""
import re

import numpy as np

from ..errors import InputError
from ..raster import infer_units, normalise_units, to_nanometres
from .library import SpectralLibrary
from .resample import check_wavelengths

NAME_COLUMNS = ("name", "sample_id", "id", "sample", "spectrum", "spectrum_name")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_HEADER = re.compile(rf"^\s*(?:[A-Za-z]{{1,3}}_?)?({_NUMBER})\s*(?:\(?\s*([^\s()]+)\s*\)?)?\s*$")
_UNIT_HINT = re.compile(r"(nm|nanomet|µm|μm|um\b|micro|micron|cm-1|cm\^-1|cm⁻¹|1/cm|wavenumber)", re.I)


def _unit_of_text(text):
    """Units named in a header text (``"Wavelength (nm)"`` -> ``"nm"``), or None."""
    match = _UNIT_HINT.search(str(text))
    if not match:
        return None
    token = match.group(1).lower()
    if token.startswith("nm") or token.startswith("nanomet"):
        return "nm"
    if token in ("µm", "μm", "um") or token.startswith("micro"):
        return "um"
    return "cm-1"


def _spectral_column(header):
    """(value, units or None) if a header names a wavelength, else None."""
    match = _HEADER.match(str(header))
    if not match:
        return None
    try:
        units = normalise_units(match.group(2)) if match.group(2) else None
    except InputError:
        return None
    return float(match.group(1)), units


def resolve_units(values, units, hints, source):
    """Units of wavelength ``values``: the ``units`` argument, else the (single) header hint, else
    unambiguous values. Mixed hints, or hints contradicting the values, raise :class:`InputError`."""
    if units is not None:
        return normalise_units(units)
    hints = {h for h in hints if h}
    if len(hints) > 1:
        raise InputError(f"{source} mixes wavelength units ({', '.join(sorted(hints))}); use one unit for all bands")
    if hints:
        unit = hints.pop()
        guessed = infer_units(values)
        if guessed == "um" and unit != "um":
            raise InputError(f"{source} says {unit} but its wavelengths {np.min(values):g}–{np.max(values):g} "
                             "look like micrometres; fix the header or pass units")
        return unit
    unit = infer_units(values)
    if unit is None:
        raise InputError(f"{source} gives wavelengths {np.min(values):g}–{np.max(values):g} without units; these "
                         "could be nanometres or wavenumbers (cm-1): pass units='nm', 'um' or 'cm-1' or name "
                         "them in the header (e.g. 'wavelength_nm', '2200 nm', '4000 cm-1')")
    return unit


def to_ascending_nm(wavelengths, units, values, source):
    """Wavelengths to nm and bands sorted ascending -> (wavelengths_nm, values[:, order])."""
    wl = to_nanometres(np.asarray(wavelengths, dtype=float), units)
    order = np.argsort(wl, kind="stable")
    if not (np.all(order == np.arange(len(wl))) or np.all(order == np.arange(len(wl))[::-1])):
        check_wavelengths(wl, source=source)  # raises: not monotonic (or duplicates)
    return check_wavelengths(wl[order], source=source), values[:, order]


def read_csv_library(path, units=None):
    """Read a wide or long CSV spectral library (see module docstring) -> :class:`SpectralLibrary`."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep=None, engine="python")
    except Exception as exc:
        raise InputError(f"cannot read CSV {path}: {exc}") from exc
    frame.columns = _raw_header(path, frame.columns)
    if frame.shape[1] < 2 or len(frame) == 0:
        raise InputError(f"{path} has {frame.shape[1]} column(s) and {len(frame)} row(s); expected spectra")
    parsed = [_spectral_column(c) for c in frame.columns]
    spectral = [i for i, p in enumerate(parsed) if p is not None]
    if len(spectral) >= 3:
        return _wide(frame, parsed, spectral, units, path)
    return _long(frame, units, path)


def _raw_header(path, columns):
    """The header cells as written (pandas renames duplicates 'x' to 'x.1', hiding duplicate wavelengths)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        first = f.readline()
    try:
        cells = next(csv.reader([first], csv.Sniffer().sniff(first, delimiters=",;\t ")))
    except csv.Error:
        return columns
    cells = [c.strip() for c in cells]
    return cells if len(cells) == len(columns) else columns


def _wide(frame, parsed, spectral, units, path):
    wl = np.array([parsed[i][0] for i in spectral])
    unit = resolve_units(wl, units, [parsed[i][1] for i in spectral], str(path))
    meta = frame.drop(columns=[frame.columns[i] for i in spectral])
    values = frame.iloc[:, spectral].apply(pd_numeric, axis=0).to_numpy(dtype=float)
    name_col = next((c for c in meta.columns if str(c).strip().lower() in NAME_COLUMNS),
                    meta.columns[0] if len(meta.columns) else None)
    names = meta[name_col].astype(str).tolist() if name_col is not None else [f"spectrum_{i + 1}" for i in
                                                                              range(len(frame))]
    wl_nm, values = to_ascending_nm(wl, unit, values, str(path))
    if name_col is not None and name_col != "name":
        meta = meta.assign(name=names)
    return SpectralLibrary(names, wl_nm, values, meta if len(meta.columns) else None,
                           attrs={"source": str(path), "units_in": unit})


def pd_numeric(column):
    import pandas as pd

    return pd.to_numeric(column, errors="coerce")


def _long(frame, units, path):
    first = frame.columns[0]
    wl = pd_numeric(frame[first]).to_numpy(dtype=float)
    if not np.all(np.isfinite(wl)):
        raise InputError(f"{path}: neither wide (wavelength column headers) nor long (first column "
                         f"'{first}' of wavelengths) layout; the first column has non-numeric values")
    unit = resolve_units(wl, units, [_unit_of_text(first)], str(path))
    names = [str(c) for c in frame.columns[1:]]
    values = frame.iloc[:, 1:].apply(pd_numeric, axis=0).to_numpy(dtype=float).T
    wl_nm, values = to_ascending_nm(wl, unit, values, str(path))
    return SpectralLibrary(names, wl_nm, values, attrs={"source": str(path), "units_in": unit})


def write_csv_library(library, path):
    """Write a wide CSV: metadata columns, then one column per band headed ``<wavelength> nm``."""
    frame = library.to_frame()
    frame.columns = [f"{c:.4f} nm" if isinstance(c, float) else c for c in frame.columns]
    frame.to_csv(path, index=False)
