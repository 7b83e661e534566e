"""Write the spectral-file fixtures of this folder from the published format specifications.

Run from the repository root: ``.venv/bin/python tests/data/spectra/make_fixtures.py``. Deterministic.
Spectra: USGS splib 1995 (AVIRIS-convolved, public domain) as shipped in core/data/usgs1995_subset.npz.
"""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
USGS = np.load(os.path.join(HERE, "..", "..", "..", "core", "data", "usgs1995_subset.npz"))
NAMES = [str(n) for n in USGS["names"]]
WL = USGS["wavelengths_nm"].astype(float)
REFL = USGS["reflectance"].astype(float)
FIELDSPEC_NM = np.arange(350.0, 2501.0)  # FieldSpec 3/4: 2151 channels, 1 nm step


def usgs(name):
    return REFL[NAMES.index(name)]


def fieldspec_reflectance(name):
    """USGS spectrum linearly interpolated to the FieldSpec grid (ends held constant)."""
    return np.interp(FIELDSPEC_NM, WL, usgs(name))


def asd_header(version, data_type, data_format, channels=2151, ch1=350.0, step=1.0, comments=b"remine fixture"):
    """The 484-byte header of ASD File Format v8 (rev. B): byte offsets as documented in core/spectra/io_asd.py."""
    h = bytearray(484)
    h[0:3] = b"ASD" if version == 1 else f"as{version}".encode()
    h[3:3 + len(comments)] = comments
    struct.pack_into("<9h", h, 160, 30, 15, 10, 23, 10, 126, 1, 326, 0)  # 2026-11-23 10:15:30
    struct.pack_into("<B", h, 178, 0x60)     # program version 6.0
    struct.pack_into("<B", h, 179, version)  # file version
    struct.pack_into("<B", h, 186, data_type)
    struct.pack_into("<ff", h, 191, ch1, step)
    struct.pack_into("<B", h, 199, data_format)
    struct.pack_into("<H", h, 204, channels)
    struct.pack_into("<I", h, 390, 17)       # integration time, ms
    struct.pack_into("<B", h, 431, 4)        # instrument: FieldSpec FR/3/4
    struct.pack_into("<HH", h, 436, 300, 150)  # SWIR1/SWIR2 gains
    struct.pack_into("<ff", h, 444, 1000.0, 1800.0)  # splices
    return bytes(h)


def reference_block(description=b"white reference, Spectralon"):
    """Reference file header: flag (int16 -1 = true), two int64 times, int16-length description."""
    return struct.pack("<hqq", -1, 1795428900, 1795428930) + struct.pack("<h", len(description)) + description


def write_asd_v8():
    """FieldSpec 4, file version 8, reflectance stored as target DN (float64) + white reference DN."""
    nm = FIELDSPEC_NM
    white = 18000 + 6000 * np.exp(-((nm - 700) / 400) ** 2)       # smooth white-panel DN per detector
    white = np.where(nm > 1000, white * 0.55, white)                # detector gains differ
    white = np.where(nm > 1800, white * 0.8, white).round()
    target = fieldspec_reflectance("Kaolinite CM9") * white
    blob = asd_header(8, 1, 2) + target.astype("<f8").tobytes() + reference_block() + white.astype("<f8").tobytes()
    blob += b"\x00" * 64  # classifier/calibration sections (not read)
    with open(os.path.join(HERE, "kaolinite_fieldspec4_v8.asd"), "wb") as f:
        f.write(blob)


def write_asd_v1():
    """File version 1 (no reference section), raw DN as float32."""
    dn = (fieldspec_reflectance("Alunite GDS84 Na03") * 20000).astype("<f4")
    with open(os.path.join(HERE, "alunite_raw_v1.asd"), "wb") as f:
        f.write(asd_header(1, 0, 0) + dn.tobytes())


def write_sli():
    """ENVI spectral library: 3 USGS spectra, float64 big-endian, wavelengths in micrometres."""
    names = ["Kaolinite CM9", "Alunite GDS84 Na03", "Calcite WS272"]
    values = np.stack([usgs(n) for n in names])
    values.astype(">f8").tofile(os.path.join(HERE, "usgs3_bigendian.sli"))
    with open(os.path.join(HERE, "usgs3_bigendian.hdr"), "w") as f:
        f.write("ENVI\ndescription = {USGS splib 1995 subset, remine fixture}\n"
                f"samples = {len(WL)}\nlines = 3\nbands = 1\nheader offset = 0\n"
                "file type = ENVI Spectral Library\ndata type = 5\ninterleave = bsq\nbyte order = 1\n"
                "wavelength units = Micrometers\n"
                "wavelength = {" + ", ".join(f"{w / 1000:.6f}" for w in WL) + "}\n"
                "spectra names = {" + ", ".join(names) + "}\n")


def ftir_absorbance(wavenumbers):
    """Synthetic kaolinite-like mid-IR absorbance: Gaussian bands at the kaolinite OH-stretching
    (3695, 3620 cm-1) and Si-O (1030, 1008 cm-1) positions (Madejová 2003, Vib. Spectrosc. 31:1-10)."""
    bands = [(3695, 12, 0.35), (3620, 10, 0.30), (1030, 25, 0.9), (1008, 20, 0.8), (912, 10, 0.4)]
    y = 0.05 + sum(a * np.exp(-0.5 * ((wavenumbers - c) / s) ** 2) for c, s, a in bands)
    return np.round(y, 4)


def write_jcamp_affn():
    """JCAMP-DX 4.24 (X++(Y..Y)) in AFFN, 1/CM, descending x, 4 cm-1 step from 4000 to 400 cm-1."""
    x = np.arange(4000.0, 399.0, -4.0)
    y = ftir_absorbance(x)
    yfactor = 0.0001
    lines = ["##TITLE=Kaolinite synthetic FTIR", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM",
             "##ORIGIN=remine test fixture", "##OWNER=public domain", "##XUNITS=1/CM", "##YUNITS=ABSORBANCE",
             "##XFACTOR=1.0", f"##YFACTOR={yfactor}", f"##FIRSTX={x[0]:.1f}", f"##LASTX={x[-1]:.1f}",
             f"##NPOINTS={len(x)}", f"##FIRSTY={y[0]}", "##XYDATA=(X++(Y..Y))"]
    ints = np.round(y / yfactor).astype(int)
    for start in range(0, len(x), 10):
        lines.append(f"{x[start]:.0f} " + " ".join(str(v) for v in ints[start:start + 10]))
    lines.append("##END=")
    with open(os.path.join(HERE, "kaolinite_ftir_affn.jdx"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_jcamp_difdup():
    """JCAMP-DX DIFDUP example worked by hand from the 4.24 rules (y = 100 102 102 102 99 95 95 95 96 100).

    Line 1: X=1000, SQZ 'A00' = 100, DIF 'K' = +2, '%' = 0 with DUP 'T' (twice), DIF 'l' = -3.
    Line 2: X=1004, y-check SQZ 'I9' = 99 (repeats the last y of line 1), DIF 'm' = -4, '%T', 'J', 'M'.
    """
    text = ("##TITLE=DIFDUP example\n##JCAMP-DX=4.24\n##DATA TYPE=INFRARED SPECTRUM\n##XUNITS=MICROMETERS\n"
            "##YUNITS=REFLECTANCE\n##XFACTOR=0.01\n##YFACTOR=0.001\n##FIRSTX=10.00\n##LASTX=10.09\n"
            "##NPOINTS=10\n##XYDATA=(X++(Y..Y))\n1000A00K%Tl\n1004I9m%TJM\n##END=\n")
    with open(os.path.join(HERE, "difdup_um.jdx"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    write_asd_v8()
    write_asd_v1()
    write_sli()
    write_jcamp_affn()
    write_jcamp_difdup()
