"""remine:tailingsvolume headless through the real qgis_process on the 3D demo (auger holes, surfaces)."""
import json
import os
import subprocess

import geopandas as gpd
import pandas as pd
import rasterio
from conftest import SCRIPTS, qgis_process_env

QP = os.path.join(SCRIPTS, "qgis-process")


def qgis_process(**params):
    args = [QP, "--json", "run", "remine:tailingsvolume", "--", *(f"{k}={v}" for k, v in params.items())]
    return subprocess.run(args, capture_output=True, text=True, env=qgis_process_env(), timeout=600, check=False)


def test_tailings_volume_on_the_3d_demo(demo_scene, tmp_path):
    out = tmp_path / "volume"
    run = qgis_process(TOP=demo_scene["surface_top"], BASE=demo_scene["surface_base"], SAMPLES=demo_scene["holes"],
                       GRADE_FIELD="Zn_ppm", DEPTH_FIELD="depth_m", OUTPUT_FOLDER=out, VOXEL_SIZE=5,
                       N_REALISATIONS=10, CUTOFFS="400, 700,1000")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    got = json.loads(run.stdout)
    res = got["results"]
    log = " ".join(got["log"]["info"])
    assert "voxel height 0.5 m (median thickness / 10)" in log and "density 1.8" in log
    table = pd.read_csv(res["TONNAGE_CSV"])
    assert list(table.columns[:4]) == ["cutoff", "tonnes", "mean_grade", "metal"]
    assert {"tonnes_p10", "tonnes_p50", "tonnes_p90"} <= set(table.columns)
    assert list(table.cutoff) == [400, 700, 1000] and table.tonnes.is_monotonic_decreasing
    # the volume: the raster integral of top - base (demo: 0.5 m pixels)
    with rasterio.open(demo_scene["surface_top"]) as t, rasterio.open(demo_scene["surface_base"]) as b:
        integral = float((t.read(1).astype(float) - b.read(1)).sum() * 0.25)
    model = json.loads((out / "model.json").read_text())
    assert abs(model["volume_m3"] / integral - 1) < 0.005 and model["n_realisations"] == 10
    assert abs(table.tonnes_p50[0] / (1.8 * integral) - 0.85) < 0.15     # most of the body is above 400 ppm
    for key, unit in (("GRADE_SLICES", " ppm"), ("VARIANCE_SLICES", " ppm²")):   # styled, legends with units
        assert f'suffix="{unit}"' in open(os.path.splitext(res[key])[0] + ".qml", encoding="utf-8").read()
    with rasterio.open(res["GRADE_SLICES"]) as ds:
        assert ds.count == model["grid"][0] and ds.res == (5.0, 5.0) and ds.crs.to_epsg() == 32630
    assert abs(gpd.read_file(res["FOOTPRINT"]).volume_m3.sum() / model["volume_m3"] - 1) < 1e-6
    for key in ("VTK", "HTML", "TONNAGE_PLOT", "TONNAGE_CSV", "GRADE_SLICES", "FOOTPRINT"):
        assert os.path.getsize(res[key]) > 0 and os.path.exists(res[key] + ".passport.json"), key
    for png in ("volume", "slices", "holes", "surfaces"):
        assert (out / f"{png}.png").stat().st_size > 10000
    assert len(list(out.glob("p_above_*.tif"))) == 3
    assert not [p for p in os.listdir(out) if p.startswith(".")]            # no temporary folder left


def test_tailings_volume_constant_base(demo_scene, tmp_path):
    """BASE_ELEVATION (a number; QGIS's raster parameter takes no constant): the volume is the integral of top − 99 m
    (the demo's base raster lies at 99.2–103.6 m, the top at 100.1–112.3 m: every pixel has some thickness)."""
    out = tmp_path / "flat"
    run = qgis_process(TOP=demo_scene["surface_top"], BASE_ELEVATION=99, SAMPLES=demo_scene["holes"],
                       GRADE_FIELD="Zn_ppm", DEPTH_FIELD="depth_m", OUTPUT_FOLDER=out, VOXEL_SIZE=10, VOXEL_HEIGHT=1,
                       N_REALISATIONS=2, CUTOFFS="700")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    with rasterio.open(demo_scene["surface_top"]) as t:
        integral = float((t.read(1).astype(float) - 99.0).sum() * 0.25)
    model = json.loads((out / "model.json").read_text())
    assert abs(model["volume_m3"] / integral - 1) < 0.005 and model["grid"][0] == 14     # 99 m .. 113 m
    assert model["top_below_base_px"] == 0 and model["sample_problems"]["below_base"] == []


def test_tailings_volume_bad_input(demo_scene, tmp_path):
    out = tmp_path / "bad"
    common = dict(TOP=demo_scene["surface_top"], SAMPLES=demo_scene["holes"], GRADE_FIELD="Zn_ppm",
                  DEPTH_FIELD="depth_m", OUTPUT_FOLDER=out)
    labels = "'Base surface (m)' (a raster) or 'Base elevation (m, when no base raster)' (a constant)"
    run = qgis_process(**common)
    assert run.returncode != 0 and f"no base: give {labels}" in run.stderr
    run = qgis_process(**common, BASE=demo_scene["surface_base"], BASE_ELEVATION=99)
    assert run.returncode != 0 and f"both a base surface and a base elevation: give only one of {labels}" in run.stderr
    assert not out.exists() or not os.listdir(out)
