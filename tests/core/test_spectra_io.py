"""Spectral-library readers and writers on real-format fixtures (tests/data/spectra, see its README)."""
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.spectra import SpectralLibrary, read_library, write_library

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "spectra")
NAMES, WL, FWHM, REFL = usgs_library()
FIELDSPEC_NM = np.arange(350.0, 2501.0)


def usgs(name):
    return REFL[NAMES.index(name)].astype(float)


def fixture(name):
    return os.path.join(DATA, name)


# ---------------------------------------------------------------------------------------------- ASD
def test_asd_v8_reflectance_is_target_over_white_reference():
    lib = read_library(fixture("kaolinite_fieldspec4_v8.asd"))
    assert lib.names == ["kaolinite_fieldspec4_v8"] and lib.n_bands == 2151
    np.testing.assert_allclose(lib.wavelengths_nm, FIELDSPEC_NM)
    # the fixture stores DN = R x white, R = USGS Kaolinite CM9 on the 1 nm grid
    np.testing.assert_allclose(lib.values[0], np.interp(FIELDSPEC_NM, WL, usgs("Kaolinite CM9")), rtol=1e-12)
    meta = lib.metadata.iloc[0]
    assert meta["asd_version"] == 8 and meta["quantity"] == "reflectance" and meta["integration_time_ms"] == 17
    assert meta["splice1_nm"] == 1000 and meta["splice2_nm"] == 1800 and meta["when"] == "2026-11-23T10:15:30"


def test_asd_v1_raw_dn():
    lib = read_library(fixture("alunite_raw_v1.asd"))
    assert lib.metadata["quantity"][0] == "raw"
    expected = (np.interp(FIELDSPEC_NM, WL, usgs("Alunite GDS84 Na03")) * 20000).astype(np.float32)
    np.testing.assert_array_equal(lib.values[0], expected)


@pytest.mark.parametrize("keep, message", [(300, "shorter than the 484-byte ASD header"),
                                           (484 + 8 * 1000, "truncated in the spectrum"),
                                           (484 + 8 * 2151 + 10, "truncated inside the reference header"),
                                           (484 + 8 * 2151 + 51 + 8 * 100, "truncated in the white reference")])
def test_asd_truncated(tmp_path, keep, message):
    blob = open(fixture("kaolinite_fieldspec4_v8.asd"), "rb").read()
    path = tmp_path / "cut.asd"
    path.write_bytes(blob[:keep])
    with pytest.raises(InputError, match=message):
        read_library(str(path))


def test_asd_unknown_version(tmp_path):
    blob = bytearray(open(fixture("kaolinite_fieldspec4_v8.asd"), "rb").read())
    blob[0:3] = b"as9"
    path = tmp_path / "future.asd"
    path.write_bytes(bytes(blob))
    with pytest.raises(InputError, match=r"unknown ASD file version b'as9'"):
        read_library(str(path))


def test_several_asd_files_stack(tmp_path):
    for k in range(3):
        shutil.copy(fixture("kaolinite_fieldspec4_v8.asd"), tmp_path / f"spec{k:05d}.asd")
    lib = read_library(str(tmp_path))
    assert lib.names == ["spec00000", "spec00001", "spec00002"] and lib.values.shape == (3, 2151)


# --------------------------------------------------------------------------------------------- ENVI
def test_envi_big_endian_micrometres():
    lib = read_library(fixture("usgs3_bigendian.sli"))
    assert lib.names == ["Kaolinite CM9", "Alunite GDS84 Na03", "Calcite WS272"]
    np.testing.assert_allclose(lib.wavelengths_nm, WL, atol=1e-3)  # header has µm to 6 decimals
    np.testing.assert_allclose(lib.values[2], usgs("Calcite WS272"))


def test_envi_roundtrip_keeps_names_wavelengths_fwhm(tmp_path):
    lib = SpectralLibrary.usgs().subset(["Kaolinite CM9", "Jarosite GDS99 K,Sy 200C"])
    path = write_library(lib, str(tmp_path / "out.sli"))
    assert os.path.isfile(tmp_path / "out.hdr")
    back = read_library(path)
    assert back.names == ["Kaolinite CM9", "Jarosite GDS99 K;Sy 200C"]  # ENVI lists cannot hold commas
    np.testing.assert_allclose(back.wavelengths_nm, lib.wavelengths_nm, atol=1e-6)
    np.testing.assert_allclose(back.fwhm_nm, lib.fwhm_nm, atol=1e-6)
    np.testing.assert_array_equal(back.values, lib.values.astype(np.float32))


def test_envi_truncated(tmp_path):
    shutil.copy(fixture("usgs3_bigendian.hdr"), tmp_path / "cut.hdr")
    (tmp_path / "cut.sli").write_bytes(open(fixture("usgs3_bigendian.sli"), "rb").read()[:1000])
    with pytest.raises(InputError, match="file truncated"):
        read_library(str(tmp_path / "cut.sli"))


# ---------------------------------------------------------------------------------------------- CSV
def test_csv_wide_roundtrip_with_metadata(tmp_path):
    lib = SpectralLibrary.usgs().subset([0, 5, 9])
    lib.metadata["mineral"] = ["alunite", "alunite", "calcite"]
    path = write_library(lib, str(tmp_path / "lib.csv"))
    back = read_library(path)
    assert back.names == lib.names and list(back.metadata["mineral"]) == ["alunite", "alunite", "calcite"]
    np.testing.assert_allclose(back.wavelengths_nm, lib.wavelengths_nm, atol=1e-4)
    np.testing.assert_allclose(back.values, lib.values, rtol=1e-6)


def test_csv_long_wavenumbers_become_ascending_nm(tmp_path):
    path = tmp_path / "ftir.csv"
    wn = np.array([4000.0, 3000.0, 2000.0, 1000.0])
    pd.DataFrame({"wavenumber (cm-1)": wn, "s1": [1, 2, 3, 4], "s2": [5, 6, 7, 8]}).to_csv(path, index=False)
    lib = read_library(str(path))
    np.testing.assert_allclose(lib.wavelengths_nm, 1e7 / wn)  # descending cm-1 = ascending nm
    np.testing.assert_array_equal(lib.values, [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert lib.names == ["s1", "s2"]


def test_csv_micrometres_inferred_and_units_argument(tmp_path):
    path = tmp_path / "um.csv"
    pd.DataFrame({"wl": [0.5, 1.0, 2.0], "a": [0.1, 0.2, 0.3]}).to_csv(path, index=False)
    np.testing.assert_allclose(read_library(str(path)).wavelengths_nm, [500, 1000, 2000])
    path2 = tmp_path / "nm.csv"
    pd.DataFrame({"wl": [500, 1000, 2000], "a": [0.1, 0.2, 0.3]}).to_csv(path2, index=False)
    np.testing.assert_allclose(read_library(str(path2), units="nm").wavelengths_nm, [500, 1000, 2000])


@pytest.mark.parametrize("header, values, message", [
    (["name", "500", "1000", "2000"], None, "could be nanometres or wavenumbers"),
    (["name", "500 nm", "1000 nm", "4000 cm-1"], None, "mixes wavelength units"),
    (["name", "500 nm", "1000 nm", "1000 nm"], None, "duplicate wavelengths 1000"),
    (["name", "500 nm", "2000 nm", "1000 nm"], None, "not monotonic: 2000 nm is followed by 1000 nm"),
    (["name", "0.5 nm", "1.0 nm", "2.0 nm"], None, "look like micrometres"),
])
def test_csv_bad_wavelengths(tmp_path, header, values, message):
    path = tmp_path / "bad.csv"
    path.write_text(",".join(header) + "\nx,0.1,0.2,0.3\n")
    with pytest.raises(InputError, match=message):
        read_library(str(path))


def test_write_library_refuses_bad_paths(tmp_path):
    lib = SpectralLibrary.usgs().subset([0])
    with pytest.raises(InputError, match="must end with .csv or .sli"):
        write_library(lib, str(tmp_path / "lib.xlsx"))
    with pytest.raises(InputError, match="output folder does not exist"):
        write_library(lib, str(tmp_path / "nope" / "lib.csv"))
    assert os.listdir(tmp_path) == []


# -------------------------------------------------------------------------------------------- JCAMP
def test_jcamp_affn_wavenumbers():
    lib = read_library(fixture("kaolinite_ftir_affn.jdx"))
    wn = np.arange(4000.0, 399.0, -4.0)
    np.testing.assert_allclose(lib.wavelengths_nm, 1e7 / wn)
    assert lib.names == ["Kaolinite synthetic FTIR"] and lib.metadata["yunits"][0] == "ABSORBANCE"
    # strongest absorption: the Si-O stretching pair 1030/1008 cm-1 written by make_fixtures.py
    assert 1e7 / 1030 <= lib.wavelengths_nm[np.argmax(lib.values[0])] <= 1e7 / 1008


def test_jcamp_difdup_decoding_with_y_check():
    lib = read_library(fixture("difdup_um.jdx"))
    np.testing.assert_allclose(lib.values[0], np.array([100, 102, 102, 102, 99, 95, 95, 95, 96, 100]) * 0.001)
    np.testing.assert_allclose(lib.wavelengths_nm, np.linspace(10000, 10090, 10))


def test_jcamp_without_xunits(tmp_path):
    text = open(fixture("difdup_um.jdx")).read().replace("##XUNITS=MICROMETERS\n", "")
    (tmp_path / "nounits.jdx").write_text(text)
    with pytest.raises(InputError, match="has no ##XUNITS"):
        read_library(str(tmp_path / "nounits.jdx"))
    lib = read_library(str(tmp_path / "nounits.jdx"), units="um")
    assert lib.wavelengths_nm[0] == pytest.approx(10000)


def test_jcamp_failed_y_check(tmp_path):
    text = open(fixture("difdup_um.jdx")).read().replace("1004I9m", "1004I8m")
    (tmp_path / "bad.jdx").write_text(text)
    with pytest.raises(InputError, match="y-check failed"):
        read_library(str(tmp_path / "bad.jdx"))


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.spc").write_text("x")
    with pytest.raises(InputError, match="unknown spectral library format '.spc'"):
        read_library(str(tmp_path / "x.spc"))
    with pytest.raises(InputError, match="not found"):
        read_library(str(tmp_path / "missing.csv"))


def test_envi_reflectance_scale_factor_and_int16(tmp_path):
    values = np.array([[1000, 2000, 3000], [4000, 5000, 6000]], dtype="<i2")
    values.tofile(tmp_path / "scaled.sli")
    (tmp_path / "scaled.hdr").write_text(
        "ENVI\nsamples = 3\nlines = 2\nbands = 1\nheader offset = 0\ndata type = 2\nbyte order = 0\n"
        "reflectance scale factor = 10000\nwavelength units = Nanometers\nwavelength = {500, 1000, 2000}\n")
    lib = read_library(str(tmp_path / "scaled.sli"))
    np.testing.assert_allclose(lib.values, values / 10000)
    assert lib.names == ["spectrum_1", "spectrum_2"]
