"""Extraction -> unmixing headless through the real qgis_process on the Samson scene (48 x 48 subsample,
tests/data/unmix/samson_sub.npz): extracted endmembers keep their identities through unmixing."""
import json
import os
import subprocess

import numpy as np
import pandas as pd
import rasterio
from conftest import SCRIPTS, qgis_process_env
from rasterio.crs import CRS
from rasterio.transform import from_origin

from remine.core.blocks import GridSpec
from remine.core.raster import write_raster

QP = os.path.join(SCRIPTS, "qgis-process")
DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "unmix", "samson_sub.npz")


def qgis_process(alg, **params):
    args = [QP, "--json", "run", f"remine:{alg}", "--", *(f"{k}={v}" for k, v in params.items())]
    run = subprocess.run(args, capture_output=True, text=True, env=qgis_process_env(), timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run


def samson_cube(folder):
    with np.load(DATA) as d:
        cube, wl = d["cube"], d["wavelengths_nm"]
    path = os.path.join(folder, "samson.tif")
    grid = GridSpec(cube.shape[2], cube.shape[1], from_origin(500000, 5560000, 1, 1), CRS.from_epsg(32630))
    write_raster(path, cube, like=grid, wavelengths_nm=wl)
    return path


def test_extract_then_unmix_keeps_every_endmember(tmp_path):
    """Four endmembers extracted from Samson (trees, water, soil): two of them have their closest USGS
    suggestion in the same mineral (Sphalerite), which used to merge them into one bundle (4 in, 3 out).
    Now: EM1..EM4 in, four abundance bands EM1..EM4 out, and a warning about the poor suggestions."""
    cube = samson_cube(str(tmp_path))
    lib = str(tmp_path / "endmembers.csv")
    run = qgis_process("extractendmembers", INPUT=cube, N_ENDMEMBERS=4, MAX_PIXELS=5000, OUTPUT=lib)
    assert "poor matches" in run.stdout + run.stderr
    table = pd.read_csv(lib)
    assert list(table["name"]) == ["EM1", "EM2", "EM3", "EM4"]
    assert table["suggested_mineral"].duplicated().any()  # the case that used to merge endmembers
    assert (table["angle_deg"] > 10).any()
    out = str(tmp_path / "abundances.tif")
    qgis_process("unmix", INPUT=cube, ENDMEMBER_SOURCE=0, LIBRARY=lib, METHOD=1, NORMALISE="true",
                 INTERVALS="false", OUTPUT=out)
    with rasterio.open(out) as ds:
        names, data = list(ds.descriptions), ds.read()
    assert names == ["EM1", "EM2", "EM3", "EM4", "rmse"]
    assert np.allclose(np.nansum(data[:4], axis=0), 100, atol=1e-3)
    with open(out + ".passport.json", encoding="utf-8") as f:
        passport = json.load(f)
    assert passport["metrics"]["minerals"] == ["EM1", "EM2", "EM3", "EM4"]
