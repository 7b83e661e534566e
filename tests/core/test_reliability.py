"""Every user-triggerable failure of the library is an InputError that names what was given and what was
expected; jobs that cannot fit are refused before they start; silent nonsense is warned about (issue 14)."""
import datetime
import os
import time

import numpy as np
import pytest
import rasterio
from affine import Affine

from remine.core.blocks import BlockOutput, GridSpec, map_blocks
from remine.core.errors import InputError, RemineWarning
from remine.core.geostat import OrdinaryKriging, Spherical, krige_raster
from remine.core.raster import atomic_path

MODEL = Spherical(psill=1.0, range_=500.0, nugget=0.1)
RNG = np.random.default_rng(0)
XY = RNG.uniform(0, 1000, (60, 2))
Z = np.sin(XY[:, 0] / 200) + RNG.normal(0, 0.1, 60)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_neighbors": 0}, r"neighbours per estimate \(n_neighbors\) must be a whole number >= 1.*got 0"),
    ({"n_neighbors": -3}, r"n_neighbors\) must be .*got -3"),
    ({"n_neighbors": 2.5}, r"n_neighbors\) must be .*got 2\.5"),
    ({"max_dist": -10.0}, r"search radius \(max_dist\) must be a distance > 0 m.*got -10\.0"),
])
def test_kriging_search_parameters_are_checked(kwargs, message):
    with pytest.raises(InputError, match=message):
        OrdinaryKriging(MODEL, **kwargs).fit(XY, Z)


def test_a_global_neighbourhood_that_cannot_fit_in_memory_is_refused_at_fit():
    xy = RNG.uniform(0, 1e5, (400_000, 2))
    with pytest.raises(InputError, match=r"kriging with all 400,000 samples .* needs about .* TiB of memory, more "
                                         r"than the .* available; set neighbours per estimate \(n_neighbors"):
        OrdinaryKriging(MODEL, n_neighbors=None).fit(xy, np.ones(len(xy)))


def test_a_grid_beyond_the_cell_limit_is_refused_at_once_with_its_size(tmp_path):
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"the kriging grid is 100,000,000 x 100,000,000 = 1e\+16 cells \(.* PiB of "
                                         r"output uncompressed\).*use a larger pixel size"):
        krige_raster((XY, Z), extent=(0, 0, 1e9, 1e9), pixel_size=10, model=MODEL, out_prefix=str(tmp_path / "k"))
    assert time.perf_counter() - start < 5 and os.listdir(tmp_path) == []
    grid = GridSpec(3_000_000, 2_000_000, Affine(1, 0, 0, 0, -1, 0), None)
    with pytest.raises(InputError, match=r"the output grid is 3,000,000 x 2,000,000 = 6e\+12 cells"):
        map_blocks(lambda a, i: [a], [], [BlockOutput(str(tmp_path / "o.tif"), 1)], grid=grid)


def test_memory_budget_must_be_positive(tmp_path):
    grid = GridSpec(10, 10, Affine(1, 0, 0, 0, -1, 0), None)
    for bad in (0, -1, "256MB"):
        with pytest.raises(InputError, match=r"memory budget \(max_bytes\) must be a number of bytes > 0"):
            map_blocks(lambda a, i: [np.zeros((1, 2, 2))], [], [BlockOutput(str(tmp_path / "o.tif"), 1)],
                       grid=grid, max_bytes=bad)


def test_text_where_numbers_are_expected_is_named():
    from remine.core.unmix import close, fcls

    with pytest.raises(InputError, match=r"pixels must be numbers \(reflectance\); got 'n/a'"):
        fcls([[0.1, "n/a", 0.3]], np.eye(3))
    with pytest.raises(InputError, match=r"values must be numbers \(one per point\); got '<0\.5'"):
        OrdinaryKriging(MODEL).fit(XY[:3], [1.0, "<0.5", 2.0])
    with pytest.raises(InputError, match=r"abundances must be numbers \(fractions\); got 'kaolinite'"):
        close([["kaolinite", 0.5]])


def test_a_damaged_model_file_is_an_input_error(tmp_path):
    from remine.core.learn import TrainedModel, load_model, make_estimator, save_model

    X, y = RNG.normal(size=(40, 5)), np.repeat(["a", "b"], 20)
    path = save_model(str(tmp_path / "m.rmodel"), TrainedModel(
        estimator=make_estimator("plsda").fit(X, y), wavelengths_nm=np.linspace(400, 900, 5),
        task="classification", classes=["a", "b"]))
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 3
    data[middle:middle + 64] = bytes(64)  # bytes overwritten in the compressed estimator
    damaged = tmp_path / "damaged.rmodel"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"model file .*damaged.rmodel' is damaged \(.*\); expected a model file "
                                         "written by remine"):
        load_model(str(damaged))
    damaged.write_bytes(bytes(data[: len(data) // 2]))  # truncated copy
    with pytest.raises(InputError, match=r"not a remine model file|is damaged"):
        load_model(str(damaged))


def test_a_full_disk_is_named_and_leaves_nothing(tmp_path):
    out = tmp_path / "out.tif"
    with pytest.raises(InputError, match=rf"no space left on the disk of {tmp_path} while writing out.tif"):
        with atomic_path(str(out)) as tmp:
            open(tmp, "wb").write(b"started")
            with open("/dev/full", "wb") as full:  # the kernel's always-full device: a real ENOSPC
                full.write(b"x" * 2**16)
                full.flush()
    assert os.listdir(tmp_path) == []


def test_an_all_nan_cube_warns_that_the_output_is_empty(tmp_path):
    from remine.core.raster import write_raster
    from remine.core.spectra.cube import continuum_removal_raster

    path = str(tmp_path / "nan.tif")
    write_raster(path, np.full((5, 8, 8), np.nan, np.float32), like=GridSpec(8, 8, Affine(1, 0, 0, 0, -1, 8), None),
                 wavelengths_nm=np.linspace(500, 900, 5))
    with pytest.warns(RemineWarning, match=r"every pixel of cr.tif is nodata: nan.tif gave no usable pixel"):
        continuum_removal_raster(path, str(tmp_path / "cr.tif"))


def test_unwritable_folders_and_existing_folders_are_refused_before_computing(tmp_path):
    from remine.core.raster import check_output_path

    with pytest.raises(InputError, match="output folder is read-only: /proc/self"):  # even root cannot write there
        check_output_path("/proc/self/out.tif")
    (tmp_path / "out.tif").mkdir()
    with pytest.raises(InputError, match=r"out.tif is an existing folder; expected a file name"):
        krige_raster((XY, Z), extent=(0, 0, 1000, 1000), pixel_size=50, model=MODEL,
                     prediction_path=str(tmp_path / "out.tif"), variance_path=str(tmp_path / "v.tif"))
    assert os.listdir(tmp_path) == ["out.tif"] and os.listdir(tmp_path / "out.tif") == []


def test_remine_reads_leave_no_sidecar_beside_the_inputs(tmp_path):
    # GDAL PAM writes <input>.aux.xml when statistics or metadata are set on a dataset opened for reading;
    # remine's readers (header, windows through GDAL and directly, samples, passports) must not
    from remine.core.geostat.raster import sample_rasters
    from remine.core.raster import raster_info, read_cube, write_raster
    from remine.core.report.passport import make_passport
    from remine.core.spectra.cube import continuum_removal_raster

    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    grid = GridSpec(20, 20, Affine(1, 0, 500000, 0, -1, 4000000), "EPSG:32633")
    data = RNG.uniform(0.1, 0.5, (6, 20, 20)).astype(np.float32)
    wl = np.linspace(2000, 2400, 6)
    write_raster(str(inputs / "zstd.tif"), data, like=grid, wavelengths_nm=wl)
    with rasterio.open(str(inputs / "raw.img"), "w", driver="ENVI", width=20, height=20, count=6, dtype="float32",
                       crs="EPSG:32633", transform=grid.transform) as dst:
        dst.write(data)
        dst.update_tags(ns="ENVI", wavelength="{" + ",".join(f"{w:g}" for w in wl) + "}",
                        wavelength_units="Nanometers")
    before = sorted(os.listdir(inputs))
    for name in ("zstd.tif", "raw.img"):
        path = str(inputs / name)
        raster_info(path)
        read_cube(path, window=((2, 9), (3, 17)))
        continuum_removal_raster(path, str(outputs / f"cr_{name}.tif"))
        sample_rasters([path], np.array([[500005.5, 3999994.5]]))
        make_passport("remine:test", "0", {}, {"INPUT": path}, str(outputs / f"cr_{name}.tif"),
                      datetime.datetime.now(datetime.timezone.utc))
    assert sorted(os.listdir(inputs)) == before  # no .aux.xml, no .ovr, nothing else
