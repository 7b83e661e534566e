"""JCAMP-DX infrared spectra (``.jdx``, ``.dx``), version 4.24 (McDonald & Wilks 1988, Applied
Spectroscopy 42(1):151–162).

Reads labelled data records ``##LABEL=value`` (``$$`` starts a comment), one spectrum per block
(``##TITLE=`` … ``##END=``), from ``##XYDATA=(X++(Y..Y))`` — AFFN numbers or the ASDF compressed
forms SQZ (``@A-Ia-i``), DIF (``%J-Rj-r``) and DUP (``S-Zs``), with the DIF y-check value at the
start of the next line dropped — or from ``##XYPOINTS=(XY..XY)``. X is rebuilt from ``FIRSTX``,
``LASTX`` and ``NPOINTS``; values are scaled by ``XFACTOR`` / ``YFACTOR``. ``##XUNITS`` must say
``1/CM``, ``MICROMETERS`` or ``NANOMETERS`` (or pass ``units``): wavenumbers become nm, ascending.
"""
import os
import re

import numpy as np

from ..errors import InputError
from .io_csv import to_ascending_nm
from .library import SpectralLibrary

XUNITS = {"1/CM": "cm-1", "CM-1": "cm-1", "CM^-1": "cm-1", "MICROMETERS": "um", "MICRONS": "um", "UM": "um",
          "NANOMETERS": "nm", "NM": "nm"}
SQZ = {c: v for v, c in enumerate("@ABCDEFGHI")} | {c: -(v + 1) for v, c in enumerate("abcdefghi")}
DIF = {"%": 0} | {c: v + 1 for v, c in enumerate("JKLMNOPQR")} | {c: -(v + 1) for v, c in enumerate("jklmnopqr")}
DUP = {c: v + 1 for v, c in enumerate("STUVWXYZs")}
_TOKEN = re.compile(r"([@A-Ia-i%J-Rj-rS-Zs])(\d*\.?\d*)|([+-]?(?:\d+\.?\d*|\.\d+))")
_AFFN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?")


def read_jcamp(path, units=None):
    """Read a JCAMP-DX file -> :class:`SpectralLibrary` (one row per data block, wavelengths in nm)."""
    with open(path, encoding="latin-1") as f:
        text = f.read()
    blocks = _blocks(text)
    spectra = [_spectrum(b, units, path) for b in blocks if "XYDATA" in b or "XYPOINTS" in b]
    if not spectra:
        raise InputError(f"{path}: no ##XYDATA or ##XYPOINTS block; not a JCAMP-DX spectrum")
    wl0 = spectra[0][1]
    for title, wl, _, _ in spectra[1:]:
        if len(wl) != len(wl0) or not np.allclose(wl, wl0):
            raise InputError(f"{path}: block '{title}' has another x grid than the first block")
    import pandas as pd

    meta = pd.DataFrame([{"name": t, "yunits": y, "file": os.path.abspath(path)} for t, _, _, y in spectra])
    names = [t or f"{os.path.splitext(os.path.basename(path))[0]}_{i + 1}" for i, (t, *_) in enumerate(spectra)]
    meta["name"] = names
    return SpectralLibrary(names, wl0, np.stack([s[2] for s in spectra]), meta, attrs={"source": str(path)})


def _blocks(text):
    """List of dicts LABEL -> value (data records keep their raw lines) per ##TITLE … ##END block."""
    blocks, current, label = [], None, None
    for raw in text.splitlines():
        line = raw.split("$$", 1)[0].rstrip()
        match = re.match(r"^\s*##\s*([^=]*)=(.*)$", line)
        if match:
            label = re.sub(r"[\s\-/_]", "", match.group(1)).upper()
            value = match.group(2).strip()
            if label == "TITLE":
                current = {"TITLE": value}
                blocks.append(current)
            elif current is not None:
                if label == "END":
                    current, label = None, None
                    continue
                current[label] = [value] if label in ("XYDATA", "XYPOINTS") else value
        elif current is not None and label in ("XYDATA", "XYPOINTS") and line.strip():
            current[label].append(line)
    return blocks


def _number(block, key, path, default=None):
    if key not in block:
        if default is not None:
            return default
        raise InputError(f"{path}: JCAMP-DX block '{block.get('TITLE', '')}' has no ##{key}")
    try:
        return float(block[key])
    except ValueError:
        raise InputError(f"{path}: ##{key}={block[key]} is not a number") from None


def _spectrum(block, units, path):
    title = block.get("TITLE", "")
    if units is None:
        xunits = block.get("XUNITS", "").strip().upper().replace(" ", "")
        if not xunits:
            raise InputError(f"{path}: JCAMP-DX block '{title}' has no ##XUNITS; the x axis could be wavenumbers "
                             "or wavelengths: pass units='cm-1', 'um' or 'nm'")
        if xunits not in XUNITS:
            raise InputError(f"{path}: ##XUNITS={block['XUNITS']} is not a spectral axis; expected 1/CM, "
                             "MICROMETERS or NANOMETERS")
        units = XUNITS[xunits]
    xfactor = _number(block, "XFACTOR", path, 1.0)
    yfactor = _number(block, "YFACTOR", path, 1.0)
    if "XYDATA" in block:
        form = block["XYDATA"][0].replace(" ", "").upper()
        if form != "(X++(Y..Y))":
            raise InputError(f"{path}: ##XYDATA={block['XYDATA'][0]} not supported; expected (X++(Y..Y))")
        y = _xydata(block["XYDATA"][1:])
        n = int(_number(block, "NPOINTS", path, float(len(y))))
        if len(y) != n:
            raise InputError(f"{path}: block '{title}' has {len(y)} y values, ##NPOINTS says {n}")
        first, last = _number(block, "FIRSTX", path), _number(block, "LASTX", path)
        x = np.linspace(first, last, n)
    else:
        numbers = [float(v) for line in block["XYPOINTS"][1:] for v in _AFFN.findall(line)]
        if len(numbers) % 2:
            raise InputError(f"{path}: ##XYPOINTS of block '{title}' has an odd count of numbers")
        x, y = np.array(numbers[0::2]) * xfactor, np.array(numbers[1::2])
    wl, values = to_ascending_nm(x, units, np.asarray(y, dtype=float)[None] * yfactor, f"{path} ({title})")
    return title, wl, values[0], block.get("YUNITS", "")


def _xydata(lines):
    """Ordinates of ``(X++(Y..Y))`` lines (AFFN or ASDF), abscissae dropped, DIF y-checks removed."""
    ys, previous_dif = [], False
    for line in lines:
        if not re.search(r"[@A-DF-Ia-df-i%J-Rj-rS-Zs]", line):
            values = [float(v) for v in _AFFN.findall(line)]
            ys.extend(values[1:])
            previous_dif = False
            continue
        values, kinds = _asdf(line)
        line_y = values[1:]
        if previous_dif and line_y:
            if ys and abs(line_y[0] - ys[-1]) > 1e-9 * max(1.0, abs(ys[-1])):
                raise InputError(f"JCAMP-DX y-check failed: line starts with {line_y[0]:g}, previous line "
                                 f"ended with {ys[-1]:g}")
            line_y = line_y[1:]
        ys.extend(line_y)
        previous_dif = kinds[-1] == "dif"
    return np.array(ys, dtype=float)


def _asdf(line):
    """Decode one ASDF line -> (values, kinds) where kinds[i] is 'abs' or 'dif'."""
    values, kinds, last_diff = [], [], None
    for match in _TOKEN.finditer(line):
        char, digits, affn = match.groups()
        if affn is not None:
            values.append(float(affn))
            kinds.append("abs")
            last_diff = None
        elif char in SQZ:
            values.append(float(_signed(SQZ[char], digits)))
            kinds.append("abs")
            last_diff = None
        elif char in DIF:
            last_diff = float(_signed(DIF[char], digits))
            values.append(values[-1] + last_diff)
            kinds.append("dif")
        else:
            count = int(str(DUP[char]) + digits)
            for _ in range(count - 1):
                values.append(values[-1] + (last_diff if last_diff is not None else 0.0))
                kinds.append(kinds[-1])
    return values, kinds


def _signed(lead, digits):
    text = str(abs(lead)) + digits
    return -float(text) if lead < 0 else float(text)
