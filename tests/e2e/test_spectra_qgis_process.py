"""The Spectra algorithms headless through the real qgis_process (scripts/qgis-process), chained on files.

Each qgis_process call costs ~5 s, so the raster chain runs on a 30 x 30 pixel crop of the demo cube
(kaolinite-dominated, all 224 bands); only the training set reads the whole demo cube (ROIs span it).
Outputs are checked with rasterio / pandas / h5py, independently of remine's readers.
"""
import json
import os
import subprocess

import geopandas
import h5py
import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import SCRIPTS, qgis_process_env

from remine.core.raster import read_cube, write_raster
from remine.core.spectra import continuum_removed

QP = os.path.join(SCRIPTS, "qgis-process")
WINDOW = ((60, 90), (210, 240))  # rows, cols of the demo cube (seed 0): 890 of 900 pixels kaolinite-dominated
KAOLINITE = 7  # class value in truth_class.tif (1…9 = sorted mineral names)


def qgis_process(alg, **params):
    """``qgis_process --json run remine:<alg> -- KEY=value ...`` -> CompletedProcess."""
    args = [QP, "--json", "run", f"remine:{alg}", "--", *(f"{k}={v}" for k, v in params.items())]
    return subprocess.run(args, capture_output=True, text=True, env=qgis_process_env(), timeout=300)


def results(run):
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return json.loads(run.stdout)["results"]


def band_wavelengths(path):
    """Band-centre wavelengths (nm) from the GeoTIFF band tags, read with rasterio."""
    with rasterio.open(path) as ds:
        return np.array([float(ds.tags(b)["wavelength"]) for b in range(1, ds.count + 1)])


def passport(path):
    with open(f"{path}.passport.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def small_cube(demo_scene, tmp_path_factory):
    """(path, Cube, truth classes (30, 30)) of a 30 x 30 crop of the demo cube."""
    cube = read_cube(demo_scene["cube"], window=WINDOW)
    path = str(tmp_path_factory.mktemp("spectra_e2e") / "crop.tif")
    write_raster(path, cube.data, like=cube)
    with rasterio.open(demo_scene["truth_class"]) as ds:
        truth = ds.read(1)[WINDOW[0][0]:WINDOW[0][1], WINDOW[1][0]:WINDOW[1][1]]
    assert (truth == KAOLINITE).mean() > 0.9  # precondition of the golden-position check below
    return path, cube, truth


def test_continuum_removal_then_al_oh_feature(small_cube, tmp_path):
    path, cube, truth = small_cube
    cr = str(tmp_path / "cr.tif")
    assert results(qgis_process("continuumremoval", INPUT=path, MIN_WAVELENGTH=2000, MAX_WAVELENGTH=2450,
                                OUTPUT=cr))["OUTPUT"] == cr
    kept = (cube.wavelengths_nm >= 2000) & (cube.wavelengths_nm <= 2450)
    with rasterio.open(cr) as ds:
        assert (ds.count, ds.width, ds.height) == (int(kept.sum()), 30, 30)
        assert ds.transform == cube.transform
        values = ds.read()
    np.testing.assert_allclose(band_wavelengths(cr), cube.wavelengths_nm[kept], atol=1e-3)
    assert np.all(values <= 1 + 1e-6) and np.isfinite(values).all()
    assert np.isclose(values[0], 1, atol=1e-6).all() and np.isclose(values[-1], 1, atol=1e-6).all()  # hull ends
    row = cube.data[kept][:, 15, :].T  # (30 pixels, bands): the algorithm equals the in-memory function
    np.testing.assert_allclose(values[:, 15, :].T, continuum_removed(row, cube.wavelengths_nm[kept]), atol=1e-6)
    assert passport(cr)["metrics"]["bands"] == int(kept.sum())

    feat = str(tmp_path / "feat.tif")
    results(qgis_process("absorptionfeature", INPUT=cr, WINDOW=1, OUTPUT=feat))  # preset 1 = Al-OH 2150–2250 nm
    with rasterio.open(feat) as ds:
        assert ds.count == 3 and ds.descriptions == ("position_nm", "depth", "width_nm")
        position, depth, width = ds.read()
    found = depth > 0
    assert found.mean() > 0.9
    assert np.all((position[found] >= 2150) & (position[found] <= 2250))
    assert np.all(width[found] > 0)
    # USGS kaolinite Al-OH doublet, deeper band at 2206 nm (Clark et al. 1990, JGR 95(B8) 12653): ±8 nm (issue 4)
    assert abs(np.median(position[found & (truth == KAOLINITE)]) - 2206) <= 8
    meta = passport(feat)
    assert (meta["metrics"]["window_min_nm"], meta["metrics"]["window_max_nm"]) == (2150.0, 2250.0)


def test_import_wavenumber_csv_then_resample_to_it(small_cube, tmp_path):
    path, cube, _ = small_cube
    wavenumbers = [3333.33, 4347.83, 4545.45, 4761.9, 5000.0]  # cm-1 ascending, as FTIR exports: 3000…2000 nm
    csv = tmp_path / "ftir.csv"
    pd.DataFrame([["flat", 0.5, 0.5, 0.5, 0.5, 0.5], ["ramp", 0.1, 0.2, 0.3, 0.4, 0.5]],
                 columns=["name", *(f"{w:g} cm-1" for w in wavenumbers)]).to_csv(csv, index=False)
    lib = str(tmp_path / "lib.csv")
    results(qgis_process("importspectrallibrary", INPUT=csv, OUTPUT=lib))
    table = pd.read_csv(lib)
    spectral = [c for c in table.columns if c.endswith(" nm")]
    nm = np.array([float(c.split()[0]) for c in spectral])
    np.testing.assert_allclose(nm, 1e7 / np.array(wavenumbers[::-1]), rtol=1e-5)  # converted and ascending
    assert list(table["name"]) == ["flat", "ramp"]
    np.testing.assert_allclose(table[spectral].to_numpy()[1], [0.5, 0.4, 0.3, 0.2, 0.1])  # bands reordered too
    assert passport(lib)["metrics"]["spectra"] == 2

    out = str(tmp_path / "resampled.tif")
    results(qgis_process("resampletosensor", INPUT=path, TARGET=4, TARGET_LIBRARY=lib, OUTPUT=out))
    with rasterio.open(out) as ds:
        assert (ds.count, ds.width, ds.height) == (5, 30, 30)
        values = ds.read()
    np.testing.assert_allclose(band_wavelengths(out), nm, rtol=1e-5)
    # no target widths: linear interpolation of every pixel spectrum; 3000 nm lies beyond the cube (2508 nm): NaN
    expected = np.interp(nm[:4], cube.wavelengths_nm, cube.data[:, 7, 11])
    np.testing.assert_allclose(values[:4, 7, 11], expected, rtol=1e-5)
    assert np.isnan(values[4]).all() and np.isfinite(values[:4]).all()
    assert passport(out)["metrics"]["bands_outside"] == 1


def test_build_training_set_from_demo_rois(demo_scene, tmp_path):
    out, summary = str(tmp_path / "train.h5"), str(tmp_path / "summary.csv")
    res = results(qgis_process("buildtrainingset", INPUT=demo_scene["cube"], ROIS=demo_scene["rois"],
                               LABEL_FIELD="mineral", MAX_PIXELS_PER_ROI=20, SEED=0, OUTPUT=out, SUMMARY=summary))
    assert res == {"OUTPUT": out, "SUMMARY": summary}
    rois = geopandas.read_file(demo_scene["rois"])
    with h5py.File(out, "r") as f:
        assert {"X", "y", "groups", "coords", "wavelengths_nm"} <= set(f)
        n, bands = f["X"].shape
        assert bands == 224 and f["wavelengths_nm"].shape == (224,)
        assert f["y"].shape == f["groups"].shape == (n,) and f["coords"].shape[0] == n
        labels = {v.decode() for v in f["y"][()]}
        groups = set(f["groups"][()].tolist())
        assert np.isfinite(f["X"][()]).all()
    assert labels == set(rois["mineral"])
    assert groups == set(rois["roi_id"])
    assert n <= 20 * len(rois)
    table = pd.read_csv(summary)
    assert table["n_pixels"].sum() == n and set(table["class"]) == labels


def test_feature_window_outside_sensor_range_fails_cleanly(small_cube, tmp_path):
    path, _, _ = small_cube
    out = tmp_path / "bad.tif"
    run = qgis_process("absorptionfeature", INPUT=path, WINDOW=0, MIN_WAVELENGTH=2600, MAX_WAVELENGTH=2700,
                       OUTPUT=out)
    assert run.returncode != 0
    assert "feature window 2600–2700 nm is outside the sensor range" in run.stdout + run.stderr
    assert not out.exists() and not os.path.exists(f"{out}.passport.json")
