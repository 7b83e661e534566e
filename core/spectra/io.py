"""read_library / write_library: one entry point for every spectral-library format."""
import glob
import os

from ..errors import InputError
from ..raster import atomic_path, check_output_path
from .io_asd import read_asd
from .io_csv import read_csv_library, write_csv_library
from .io_envi import read_sli, write_sli
from .io_jcamp import read_jcamp
from .library import SpectralLibrary

READ_FORMATS = {".csv": "csv", ".txt": "csv", ".sli": "envi", ".hdr": "envi", ".asd": "asd", ".jdx": "jcamp",
                ".dx": "jcamp", ".jcamp": "jcamp"}
WRITE_FORMATS = (".csv", ".sli")


def read_library(path, units=None):
    """Read a spectral library.

    Parameters
    ----------
    path : str, a list of paths, a folder or a glob pattern. Formats by extension: CSV (``.csv``,
        ``.txt``: wide or long, see :mod:`.io_csv`), ENVI spectral library (``.sli`` + ``.hdr``), ASD
        binary (``.asd``), JCAMP-DX (``.jdx``, ``.dx``). Several files are stacked (same grid needed).
    units : str, optional, wavelength units of the file when it does not say: "nm", "um" or "cm-1".

    Returns
    -------
    SpectralLibrary with wavelengths in nm, ascending.
    """
    paths = _expand(path)
    libraries = [_read_one(p, units) for p in paths]
    return libraries[0] if len(libraries) == 1 else SpectralLibrary.concat(libraries)


def _expand(path):
    if isinstance(path, (list, tuple)):
        paths = [str(p) for p in path]
    elif os.path.isdir(str(path)):
        paths = sorted(p for p in glob.glob(os.path.join(str(path), "*"))
                       if os.path.splitext(p)[1].lower() in READ_FORMATS and not p.lower().endswith(".hdr"))
    elif any(c in str(path) for c in "*?["):
        paths = sorted(glob.glob(str(path)))
    else:
        paths = [str(path)]
    if not paths:
        raise InputError(f"no spectral library files found at {path}")
    return paths


def _read_one(path, units):
    if not os.path.isfile(path):
        raise InputError(f"spectral library file not found: {path}")
    kind = READ_FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise InputError(f"unknown spectral library format {os.path.splitext(path)[1]!r} ({path}); expected "
                         f"{', '.join(sorted(READ_FORMATS))}")
    if kind == "csv":
        return read_csv_library(path, units)
    if kind == "envi":
        data = os.path.splitext(path)[0] if path.lower().endswith(".hdr") else path
        if path.lower().endswith(".hdr"):
            data = next((data + e for e in (".sli", ".spl", "") if os.path.isfile(data + e)), data)
        return read_sli(data, units)
    if kind == "asd":
        return read_asd(path)
    return read_jcamp(path, units)


def write_library(library, path):
    """Write ``library`` as wide CSV (``.csv``) or ENVI spectral library (``.sli`` + ``.hdr``), atomically.

    Returns the path.
    """
    path = check_output_path(path, extensions=WRITE_FORMATS)
    if path.lower().endswith(".sli"):
        return write_sli(library, path)
    with atomic_path(path) as tmp:
        write_csv_library(library, tmp)
    return path
