"""ASD FieldSpec binary spectra (``.asd``, file versions 1–8), per "ASD File Format version 8" (ASD Inc. /
Malvern Panalytical, rev. B).

Layout used here (little-endian; offsets in bytes):

====== ===== ============================================================
0      3     version: ``ASD`` (v1) or ``as2`` … ``as8``
3      157   comments (text)
160    18    ``when``: 9 int16 (tm_sec, min, hour, mday, mon 0–11, year − 1900, …)
186    1     data_type: 0 raw DN, 1 reflectance, 2 radiance, 3 no units, 4 irradiance,
             5 QI, 6 transmittance, 7 unknown, 8 absorbance
191    4     ch1_wavel: float32, first wavelength (nm)
195    4     wavel_step: float32 (nm)
199    1     data_format: 0 float32, 1 int32, 2 float64
204    2     channels: uint16
390    4     integration time (ms), uint32
431    1     instrument (4 = FieldSpec FR / 3 / 4)
444    8     splice1/splice2 wavelengths (float32, nm)
484          spectrum: channels values of data_format
====== ===== ============================================================

From version 2 the spectrum is followed by the reference header — flag (int16, −1 = true),
reference time and spectrum time (2 × int64), description (int16 length + bytes) — and the white
reference (channels values of data_format). A reflectance file (data_type 1) stores the target DN;
reflectance = target / white reference.
"""
import os
import struct

import numpy as np

from ..errors import InputError
from .library import SpectralLibrary

HEADER_BYTES = 484
VERSIONS = {b"ASD": 1, **{f"as{v}".encode(): v for v in range(2, 9)}}
DATA_TYPES = ("raw", "reflectance", "radiance", "no_units", "irradiance", "quality_index", "transmittance",
              "unknown", "absorbance")
DATA_FORMATS = {0: "<f4", 1: "<i4", 2: "<f8"}


def read_asd(path):
    """Read one ASD binary file -> :class:`SpectralLibrary` with one spectrum (wavelengths in nm).

    Reflectance files with a white reference are returned as reflectance (target / reference);
    other data types as stored (``metadata['quantity']`` says which: raw DN, radiance…).
    """
    with open(path, "rb") as f:
        blob = f.read()
    name = os.path.splitext(os.path.basename(path))[0]
    if len(blob) < HEADER_BYTES:
        raise InputError(f"{path}: {len(blob)} bytes, shorter than the {HEADER_BYTES}-byte ASD header: "
                         "file truncated or not an ASD file")
    version = VERSIONS.get(blob[:3])
    if version is None:
        raise InputError(f"{path}: unknown ASD file version {blob[:3]!r}; expected 'ASD' or 'as2' … 'as8' "
                         "(ASD File Format v1–v8)")
    data_type, = struct.unpack_from("<B", blob, 186)
    ch1, step = struct.unpack_from("<ff", blob, 191)
    data_format, = struct.unpack_from("<B", blob, 199)
    channels, = struct.unpack_from("<H", blob, 204)
    itime, = struct.unpack_from("<I", blob, 390)
    instrument, = struct.unpack_from("<B", blob, 431)
    splice1, splice2 = struct.unpack_from("<ff", blob, 444)
    if data_format not in DATA_FORMATS:
        raise InputError(f"{path}: unknown ASD data format {data_format}; expected 0 float, 1 integer, 2 double")
    if channels == 0 or not step > 0:
        raise InputError(f"{path}: ASD header gives {channels} channels with step {step:g} nm; not a spectrum")
    dtype = np.dtype(DATA_FORMATS[data_format])
    spectrum, offset = _array(blob, HEADER_BYTES, channels, dtype, path, "spectrum")
    values, quantity = spectrum.astype(np.float64), DATA_TYPES[data_type] if data_type < len(DATA_TYPES) else "unknown"
    if version >= 2:
        offset += 2 + 16  # reference flag (int16) + reference and spectrum times (int64 × 2)
        if offset + 2 > len(blob):
            raise InputError(f"{path}: ASD v{version} file truncated inside the reference header")
        length, = struct.unpack_from("<h", blob, offset)
        offset += 2 + max(length, 0)
        reference, offset = _array(blob, offset, channels, dtype, path, "white reference")
        if quantity == "reflectance":
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(reference != 0, values / reference, np.nan)
    elif quantity == "reflectance":
        quantity = "reflectance (as stored, v1 file without white reference)"
    wl = ch1 + step * np.arange(channels)
    comments = blob[3:160].split(b"\0", 1)[0].decode("latin-1").strip()
    meta = {"name": name, "file": os.path.abspath(path), "asd_version": version, "quantity": quantity,
            "instrument": instrument, "integration_time_ms": itime, "splice1_nm": splice1, "splice2_nm": splice2,
            "comments": comments, "when": _when(blob)}
    import pandas as pd

    return SpectralLibrary([name], wl, values[None], pd.DataFrame([meta]), attrs={"source": str(path)})


def _array(blob, offset, count, dtype, path, what):
    end = offset + count * dtype.itemsize
    if end > len(blob):
        raise InputError(f"{path}: file truncated in the {what} ({len(blob)} bytes, {end} needed for "
                         f"{count} channels)")
    return np.frombuffer(blob, dtype=dtype, count=count, offset=offset), end


def _when(blob):
    sec, minute, hour, mday, mon, year = struct.unpack_from("<6h", blob, 160)
    try:
        import datetime

        return datetime.datetime(year + 1900, mon + 1, mday, hour, minute, sec).isoformat()
    except ValueError:
        return ""
