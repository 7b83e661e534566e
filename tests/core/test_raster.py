"""core.raster: GeoTIFF/ENVI round trips with wavelengths in nm/µm/cm-1, atomic outputs, bad input."""
import os

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from remine.core.blocks import GridSpec
from remine.core.errors import InputError
from remine.core.raster import Cube, raster_info, read_class_names, read_cube, to_nanometres, write_raster

GRID = GridSpec(7, 5, from_origin(500000, 5560000, 0.5, 0.5), CRS.from_epsg(32630))


def write_envi(folder, data, interleave, header_extra):
    """A real ENVI file: raw little-endian float32 in the given interleave + a hand-written .hdr."""
    bands, lines, samples = data.shape
    order = {"bsq": (0, 1, 2), "bil": (1, 0, 2), "bip": (1, 2, 0)}[interleave]
    path = os.path.join(folder, f"cube_{interleave}.img")
    np.ascontiguousarray(data.transpose(order)).astype("<f4").tofile(path)
    with open(path[:-4] + ".hdr", "w") as f:
        f.write(f"ENVI\nsamples = {samples}\nlines = {lines}\nbands = {bands}\nheader offset = 0\n"
                f"file type = ENVI Standard\ndata type = 4\ninterleave = {interleave}\nbyte order = 0\n"
                "map info = {UTM, 1.0, 1.0, 500000.0, 5560000.0, 0.5, 0.5, 30, North, WGS-84, units=Meters}\n"
                + header_extra)
    return path


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("units,values,expected_nm", [
    ("Micrometers", [0.5, 0.6, 0.7], [500, 600, 700]),
    ("Nanometers", [500, 600, 700], [500, 600, 700]),
    ("Wavenumber", [20000, 16000, 12500], [500, 625, 800]),   # 1e7 / cm-1, ascending after reordering
])
def test_envi_round_trip_units(tmp_path, interleave, units, values, expected_nm):
    data = np.random.default_rng(1).random((3, 4, 6)).astype(np.float32)
    data[1, 2, 3] = -9999
    hdr = (f"wavelength units = {units}\nwavelength = {{{', '.join(map(str, values))}}}\n"
           "fwhm = {0.01, 0.01, 0.01}\nbbl = {1, 0, 1}\ndata ignore value = -9999\nband names = {a, b, c}\n")
    cube = read_cube(write_envi(str(tmp_path), data, interleave, hdr))
    np.testing.assert_allclose(cube.wavelengths_nm, expected_nm)
    order = np.argsort(to_nanometres(values, units))
    expected = data[order].copy()
    expected[expected == -9999] = np.nan
    np.testing.assert_array_equal(cube.data, expected)
    assert cube.band_names == [["a", "b", "c"][i] for i in order]
    assert cube.bbl.tolist() == [[True, False, True][i] for i in order]
    assert cube.crs.to_epsg() == 32630
    assert cube.transform.c == 500000 and cube.transform.a == 0.5


def test_geotiff_round_trip_keeps_wavelengths_for_gdal_and_enmapbox(tmp_path):
    data = np.random.default_rng(2).random((4, 5, 7)).astype(np.float32)
    data[0, 0, 0] = np.nan
    wl, fwhm = [450.0, 550.0, 650.0, 2200.0], [10.0, 10.0, 12.0, 9.0]
    path = write_raster(str(tmp_path / "c.tif"), data, like=GRID, wavelengths_nm=wl, fwhm_nm=fwhm)
    cube = read_cube(path)
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_allclose(cube.wavelengths_nm, wl)
    np.testing.assert_allclose(cube.fwhm_nm, fwhm)
    with rasterio.open(path) as ds:   # what GDAL / EnMAP-Box / QGIS read
        assert ds.tags(4)["wavelength"] == "2200" and ds.tags(4)["wavelength_units"] == "Nanometers"
        assert ds.tags(4)["fwhm"] == "9"
        assert float(ds.tags(4, ns="IMAGERY")["CENTRAL_WAVELENGTH_UM"]) == pytest.approx(2.2)
        assert ds.tags(ns="ENVI")["wavelength_units"] == "Nanometers"
        assert ds.descriptions[3] == "2200.0 nm"
        assert ds.profile["tiled"] and ds.profile["compress"] in ("zstd", "deflate")


def test_window_and_band_subset(tmp_path):
    data = np.arange(4 * 5 * 7, dtype=np.float32).reshape(4, 5, 7)
    path = write_raster(str(tmp_path / "c.tif"), data, like=GRID, wavelengths_nm=[400, 500, 600, 700])
    cube = read_cube(path, window=((1, 4), (2, 6)), bands=[1, 3])
    np.testing.assert_array_equal(cube.data, data[[1, 3], 1:4, 2:6])
    np.testing.assert_allclose(cube.wavelengths_nm, [500, 700])
    assert (cube.transform.c, cube.transform.f) == (500001.0, 5559999.5)
    assert isinstance(cube, Cube) and cube.pixels().shape == (12, 2)


def test_micrometre_values_without_units_are_inferred(tmp_path):
    path = write_raster(str(tmp_path / "c.tif"), np.zeros((2, 5, 7), np.float32), like=GRID)
    cube = read_cube(path, wavelengths=[0.45, 2.2])
    np.testing.assert_allclose(cube.wavelengths_nm, [450, 2200])


def test_integer_output_with_colour_table_and_class_names(tmp_path):
    cls = np.array([[0, 1, 2, 1, 0, 0, 1]] * 5, dtype=np.uint8)
    path = write_raster(str(tmp_path / "cls.tif"), cls, like=GRID, nodata=255,
                        colormap={0: (255, 0, 0), 1: (0, 255, 0)},
                        category_names=["kaolinite", "alunite", "jarosite"])
    assert read_class_names(path) == ["kaolinite", "alunite", "jarosite"]
    with rasterio.open(path) as ds:
        assert ds.colormap(1)[1][:3] == (0, 255, 0)
        assert ds.read(1).tolist() == cls.tolist()
    qml = open(str(tmp_path / "cls.qml")).read()   # QGIS loads it as the default style: paletted, labelled
    assert 'type="paletted"' in qml and 'label="alunite"' in qml and 'color="#00ff00"' in qml
    assert not [f for f in os.listdir(tmp_path) if ".part-" in f]


# ------------------------------------------------------------------------------------ bad input
def assert_no_output(folder):
    leftovers = [f for f in os.listdir(folder) if f.endswith((".tif", ".xml")) and f != "in.tif"]
    assert not leftovers, leftovers


def test_missing_path():
    with pytest.raises(InputError, match="raster not found: /nonexistent/cube.tif"):
        read_cube("/nonexistent/cube.tif")


def test_not_a_raster(tmp_path):
    bad = tmp_path / "notes.tif"
    bad.write_text("this is not a raster")
    with pytest.raises(InputError, match="not a raster GDAL can read"):
        read_cube(str(bad))


def test_cube_without_wavelengths(tmp_path):
    path = write_raster(str(tmp_path / "in.tif"), np.zeros((2, 5, 7), np.float32), like=GRID)
    with pytest.raises(InputError, match="has no band wavelengths.*give them with wavelengths"):
        read_cube(path)


def test_ambiguous_units(tmp_path):
    path = write_raster(str(tmp_path / "in.tif"), np.zeros((2, 5, 7), np.float32), like=GRID)
    with pytest.raises(InputError, match=r"\(450 … 2200\) have no units and could be nanometres or wavenumbers"):
        read_cube(path, wavelengths=[450, 2200])
    cube = read_cube(path, wavelengths=[450, 2200], units="nm")
    np.testing.assert_allclose(cube.wavelengths_nm, [450, 2200])


@pytest.mark.parametrize("window", [((0, 6), (0, 7)), ((2, 2), (0, 3)), ((-1, 3), (0, 3)), ((0, 3), (5, 9))])
def test_window_outside(tmp_path, window):
    path = write_raster(str(tmp_path / "in.tif"), np.zeros((2, 5, 7), np.float32), like=GRID,
                        wavelengths_nm=[500, 600])
    with pytest.raises(InputError, match=r"is outside .* \(5 rows x 7 cols\) or empty"):
        read_cube(path, window=window)


@pytest.mark.parametrize("bands", [[2], [-1], [0, 5]])
def test_band_outside(tmp_path, bands):
    path = write_raster(str(tmp_path / "in.tif"), np.zeros((2, 5, 7), np.float32), like=GRID,
                        wavelengths_nm=[500, 600])
    with pytest.raises(InputError, match=r"band indices .* are outside .*\(0-based, 2 bands\)"):
        read_cube(path, bands=bands)


def test_output_directory_missing(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        write_raster(str(tmp_path / "nope" / "out.tif"), np.zeros((5, 7), np.float32), like=GRID)
    assert not (tmp_path / "nope").exists()


def test_output_directory_read_only(tmp_path):
    """Root ignores permission bits, so the write is attempted as user 'nobody' when running as root."""
    import subprocess
    import sys
    import tempfile

    folder = tempfile.mkdtemp(prefix="remine-ro-")
    os.chmod(folder, 0o555)
    code = ("import numpy as np, sys\n"
            "from rasterio.transform import from_origin\n"
            "from remine.core.blocks import GridSpec\n"
            "from remine.core.raster import write_raster\n"
            "from remine.core.errors import InputError\n"
            "try:\n"
            f"    write_raster({folder!r} + '/out.tif', np.zeros((5, 7), 'float32'),\n"
            "                 like=GridSpec(7, 5, from_origin(0, 0, 1, 1)))\n"
            "except InputError as e:\n    print(e); sys.exit(3)\n")
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        run = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert run.returncode == 3, run.stderr
        assert f"output folder is read-only: {folder}" in run.stdout
        assert os.listdir(folder) == []
    finally:
        os.chmod(folder, 0o755)
        os.rmdir(folder)


def test_output_equal_to_input_is_refused(tmp_path):
    from remine.core.bands import spectral_subset

    path = write_raster(str(tmp_path / "in.tif"), np.ones((2, 5, 7), np.float32), like=GRID, wavelengths_nm=[500, 600])
    before = open(path, "rb").read()
    with pytest.raises(InputError, match="is also an input; choose another output path"):
        spectral_subset(path, path)
    assert open(path, "rb").read() == before


def test_missing_crs(tmp_path):
    path = write_raster(str(tmp_path / "in.tif"), np.zeros((2, 5, 7), np.float32),
                        like=GridSpec(7, 5, from_origin(0, 0, 1, 1), None), wavelengths_nm=[500, 600])
    with pytest.raises(InputError, match="has no CRS .*assign one"):
        read_cube(path, require_crs=True)
    assert raster_info(path).crs is None
