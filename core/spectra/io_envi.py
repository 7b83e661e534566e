"""ENVI spectral libraries: binary ``.sli`` + text ``.hdr`` (ENVI Header Format, L3Harris docs).

The ``.sli`` holds ``lines`` spectra × ``samples`` bands (``bands = 1``), after ``header offset``
bytes, of ``data type`` (1 uint8, 2 int16, 3 int32, 4 float32, 5 float64, 12 uint16, 13 uint32,
14 int64, 15 uint64) in ``byte order`` (0 little-, 1 big-endian). ``wavelength``, ``wavelength
units``, ``fwhm``, ``spectra names`` and ``reflectance scale factor`` are read.
"""
import os
import re

import numpy as np

from ..errors import InputError
from ..raster import atomic_path, normalise_units, to_nanometres
from .io_csv import resolve_units, to_ascending_nm
from .library import SpectralLibrary

ENVI_DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


def header_path(path):
    """The ``.hdr`` of an ENVI file (``x.sli.hdr`` or ``x.hdr``), or InputError."""
    for candidate in (path + ".hdr", os.path.splitext(path)[0] + ".hdr"):
        if os.path.isfile(candidate):
            return candidate
    raise InputError(f"ENVI header not found for {path} (looked for {path}.hdr and "
                     f"{os.path.splitext(path)[0]}.hdr)")


def parse_header(text, source="ENVI header"):
    """ENVI header text -> dict (lower-case keys; ``{...}`` values as lists of strings)."""
    if not text.lstrip().upper().startswith("ENVI"):
        raise InputError(f"{source} does not start with 'ENVI'; not an ENVI header")
    fields = {}
    for match in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, re.M):
        key, value = match.group(1).strip().lower(), match.group(2).strip()
        if value.startswith("{"):
            value = [v.strip() for v in value[1:-1].replace("\n", " ").split(",")]
            value = [v for v in value if v != ""]
        fields[key] = value
    return fields


def read_sli(path, units=None):
    """Read an ENVI spectral library -> :class:`SpectralLibrary` (wavelengths in nm, ascending)."""
    hdr = header_path(path)
    with open(hdr, encoding="utf-8", errors="replace") as f:
        fields = parse_header(f.read(), hdr)
    try:
        samples, lines = int(fields["samples"]), int(fields["lines"])
        dtype_code = int(fields.get("data type", 4))
        offset = int(fields.get("header offset", 0))
        order = int(fields.get("byte order", 0))
    except (KeyError, ValueError) as exc:
        raise InputError(f"{hdr}: missing or bad field {exc}; expected samples, lines, data type") from None
    if int(fields.get("bands", 1)) != 1:
        raise InputError(f"{hdr}: bands = {fields.get('bands')}; a spectral library has bands = 1")
    if dtype_code not in ENVI_DTYPES:
        raise InputError(f"{hdr}: unsupported data type {dtype_code}")
    dtype = np.dtype(ENVI_DTYPES[dtype_code]).newbyteorder(">" if order == 1 else "<")
    expected = offset + samples * lines * dtype.itemsize
    if os.path.getsize(path) < expected:
        raise InputError(f"{path} holds {os.path.getsize(path)} bytes; the header needs {expected} "
                         f"({lines} spectra × {samples} bands × {dtype.itemsize} bytes): file truncated")
    values = np.fromfile(path, dtype=dtype, count=samples * lines, offset=offset).reshape(lines, samples)
    values = values.astype(np.float64) / float(fields.get("reflectance scale factor", 1.0))
    if "wavelength" not in fields:
        raise InputError(f"{hdr} has no 'wavelength' field; a spectral library needs band wavelengths")
    wl = np.array([float(v) for v in fields["wavelength"]])
    if len(wl) != samples:
        raise InputError(f"{hdr}: {len(wl)} wavelengths for {samples} bands")
    unit = resolve_units(wl, units, [_units_field(fields.get("wavelength units"))], hdr)
    names = fields.get("spectra names") or [f"spectrum_{i + 1}" for i in range(lines)]
    if len(names) != lines:
        raise InputError(f"{hdr}: {len(names)} spectra names for {lines} spectra")
    wl_nm, values = to_ascending_nm(wl, unit, values, hdr)
    fwhm = None
    if "fwhm" in fields and len(fields["fwhm"]) == samples:
        fw = np.array([float(v) for v in fields["fwhm"]])
        fwhm = fw * 1e7 / wl ** 2 if unit == "cm-1" else to_nanometres(fw, unit)
        fwhm = fwhm[np.argsort(to_nanometres(wl, unit), kind="stable")]
    return SpectralLibrary(names, wl_nm, values, fwhm_nm=fwhm, attrs={"source": str(path), "units_in": unit})


def _units_field(value):
    if value is None:
        return None
    try:
        return normalise_units(value)
    except InputError:
        return None


def write_sli(library, path):
    """Write ``path`` (.sli, float32 little-endian) and ``path`` minus extension + ``.hdr``."""
    hdr = os.path.splitext(path)[0] + ".hdr"
    lines = ["ENVI", "description = {remine spectral library}", f"samples = {library.n_bands}",
             f"lines = {len(library)}", "bands = 1", "header offset = 0", "file type = ENVI Spectral Library",
             "data type = 4", "interleave = bsq", "byte order = 0", "wavelength units = Nanometers",
             "wavelength = {" + ", ".join(f"{w:.6f}" for w in library.wavelengths_nm) + "}",
             "spectra names = {" + ", ".join(n.replace(",", ";").replace("}", ")") for n in library.names) + "}"]
    if library.fwhm_nm is not None:
        lines.append("fwhm = {" + ", ".join(f"{w:.6f}" for w in library.fwhm_nm) + "}")
    with atomic_path(hdr) as tmp_hdr, atomic_path(path) as tmp:
        library.values.astype("<f4").tofile(tmp)
        with open(tmp_hdr, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return path
