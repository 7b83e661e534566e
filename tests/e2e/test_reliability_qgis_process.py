"""Every path a headless run can take ends in a clear result or a clear error, with nothing lost
(issue 14): outputs never overwrite inputs, NaN metrics never break a run, an interrupt is a failure
that leaves nothing behind, noisy reflectance is handled. Through the real qgis_process on small data.
"""
import hashlib
import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from conftest import SCRIPTS, qgis_process_env

QP = os.path.join(SCRIPTS, "qgis-process")
DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def args(alg, params):
    return [QP, "--json", "run", f"remine:{alg}", "--", *(f"{k}={v}" for k, v in params.items())]


def qgis_process(alg, **params):
    return subprocess.run(args(alg, params), capture_output=True, text=True, env=qgis_process_env(), timeout=300)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def hidden(folder):
    return [f for f in os.listdir(folder) if f.startswith(".")]


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    """Meuse points (EPSG:28992) with log(zinc) and a constant field, a 40 x 40 template and a model file."""
    import geopandas as gpd

    folder = tmp_path_factory.mktemp("reliability")
    d = pd.read_csv(os.path.join(DATA, "geostat", "meuse.csv"))
    d["logzn"], d["const"] = np.log(d["zinc"]), 5.0
    points = str(folder / "meuse.gpkg")
    gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d.x, d.y), crs="EPSG:28992").to_file(points, driver="GPKG")
    template = str(folder / "template.tif")
    with rasterio.open(template, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
                       crs="EPSG:28992", transform=Affine(100, 0, 178500, 0, -100, 334000)) as dst:
        dst.write(np.ones((1, 40, 40), np.float32))
    model = str(folder / "model.json")
    with open(model, "w") as f:  # gstat fit of log(zinc), tests/data/geostat/README.md
        json.dump({"model": "spherical", "psill": 0.5906, "range_": 897.0, "nugget": 0.0507}, f)
    return {"points": points, "template": template, "model": model}


def test_output_equal_to_the_template_is_refused_before_computing(meuse, tmp_path):
    before = digest(meuse["template"])
    var = tmp_path / "v.tif"
    run = qgis_process("ordinarykriging", INPUT=meuse["points"], FIELD="logzn", MODEL_FILE=meuse["model"],
                       TEMPLATE=meuse["template"], OUTPUT=meuse["template"], OUTPUT_VARIANCE=var)
    assert run.returncode != 0
    assert "Prediction (OUTPUT)" in run.stdout + run.stderr
    assert "is the input Template raster (grid) (TEMPLATE)" in run.stdout + run.stderr
    assert digest(meuse["template"]) == before and not var.exists()  # nothing computed, nothing written


def test_output_that_is_an_existing_folder_is_refused_before_computing(meuse, tmp_path):
    folder = tmp_path / "variance.tif"
    folder.mkdir()
    pred = tmp_path / "p.tif"
    run = qgis_process("ordinarykriging", INPUT=meuse["points"], FIELD="logzn", MODEL_FILE=meuse["model"],
                       TEMPLATE=meuse["template"], OUTPUT=pred, OUTPUT_VARIANCE=folder)
    assert run.returncode != 0
    assert f"Variance (OUTPUT_VARIANCE) {folder} is an existing folder" in run.stdout + run.stderr
    assert not pred.exists() and os.listdir(folder) == [] and hidden(tmp_path) == []


def test_nan_cross_validation_metrics_are_null_with_a_note(meuse, tmp_path):
    # constant values: R² and r of the cross-validation are undefined (0/0); the run ends well
    out = {k: tmp_path / f for k, f in [("OUTPUT", "p.tif"), ("OUTPUT_VARIANCE", "v.tif"), ("CV_REPORT", "cv.html")]}
    run = qgis_process("ordinarykriging", INPUT=meuse["points"], FIELD="const", MODEL_FILE=meuse["model"],
                       TEMPLATE=meuse["template"], **out)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    for path in out.values():
        metrics = json.load(open(f"{path}.passport.json"))["metrics"]
        assert metrics["cross_validation"]["r2"] is None and metrics["cross_validation"]["rmse"] < 1e-9
        assert any(n.startswith("metrics.cross_validation.r2 is NaN") for n in metrics["notes"])
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("signum, name", [(signal.SIGINT, "SIGINT (Ctrl-C)"), (signal.SIGTERM, "SIGTERM")])
def test_an_interrupt_is_a_failure_that_leaves_nothing(meuse, tmp_path, signum, name):
    pred, var = tmp_path / "p.tif", tmp_path / "v.tif"
    # 4000 x 4000 cells: far longer than the wait for its first block
    params = dict(INPUT=meuse["points"], FIELD="logzn", MODEL_FILE=meuse["model"], PIXEL_SIZE=1,
                  EXTENT="178500,182500,330000,334000 [EPSG:28992]", OUTPUT=pred, OUTPUT_VARIANCE=var)
    proc = subprocess.Popen(args("ordinarykriging", params), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=qgis_process_env())
    deadline = time.monotonic() + 120
    while not hidden(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert hidden(tmp_path), "the kriging never started writing"
    proc.send_signal(signum)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, log[-3000:]
    assert f"interrupted by {name}: no output was written" in log
    assert os.listdir(tmp_path) == []  # no output, no passport, no hidden part file


def test_stale_part_files_of_a_killed_run_are_cleaned_by_the_next_run(tmp_path):
    from remine.core.raster import atomic_path

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".out.part-{dead.pid}-0123abcd.tif"
    live = tmp_path / f".out.part-{os.getpid()}-4567cdef.tif"  # a run of this process still writing
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")
    with atomic_path(str(tmp_path / "out.tif")) as tmp:
        open(tmp, "wb").write(b"done")
    assert sorted(os.listdir(tmp_path)) == [live.name, "out.tif"]


def test_non_positive_reflectance_is_floored_not_nan(tmp_path):
    from remine.core.raster import read_cube, write_raster

    cube = read_cube(os.path.join(DATA, "learn", "cube.tif"), window=((0, 16), (20, 36)))
    data = cube.data.copy()
    data[0] = -0.004  # noisy first band of atmospherically corrected data: the hull's first vertex <= 0
    data[10, :2] = 0.0
    path, out = str(tmp_path / "noisy.tif"), tmp_path / "cr.tif"
    write_raster(path, data, like=cube)
    run = qgis_process("continuumremoval", INPUT=path, OUTPUT=out)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    n = 16 * 16 + 2 * 16
    assert f"{n} reflectance value(s) <= 0 (noise) were raised to 0.0001" in run.stdout + run.stderr
    with rasterio.open(out) as ds:
        result = ds.read()
    assert np.isfinite(result).all() and result.max() <= 1.0 + 1e-6  # main: NaN in every pixel (hull <= 0)
    assert json.load(open(f"{out}.passport.json"))["metrics"]["floored_values"] == n


def test_a_grid_too_large_is_refused_at_once_with_its_size(meuse, tmp_path):
    # 1e8 x 1e8 cells: on main the run grew by ~55 MB/s without progress or end
    run = subprocess.run(args("ordinarykriging", dict(
        INPUT=meuse["points"], FIELD="logzn", MODEL_FILE=meuse["model"], PIXEL_SIZE=10,
        EXTENT="0,1000000000,0,1000000000 [EPSG:28992]", OUTPUT=tmp_path / "p.tif",
        OUTPUT_VARIANCE=tmp_path / "v.tif")), capture_output=True, text=True, env=qgis_process_env(), timeout=120)
    assert run.returncode != 0
    assert "the kriging grid is 100,000,000 x 100,000,000 = 1e+16 cells" in run.stdout + run.stderr
    assert "use a larger pixel size, a smaller extent or a coarser template" in run.stdout + run.stderr
    assert os.listdir(tmp_path) == []
