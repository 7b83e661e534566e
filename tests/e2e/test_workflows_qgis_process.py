"""The shipped workflows headless through the real qgis_process, on a small demo scene, as `make demo` runs them."""
import json
import os
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import SCRIPTS, passport_for, qgis_process_env

QP = os.path.join(SCRIPTS, "qgis-process")


def qgis_process(algorithm, **params):
    args = [QP, "--json", "run", algorithm, "--", *(f"{k}={v}" for k, v in params.items())]
    run = subprocess.run(args, capture_output=True, text=True, env=qgis_process_env(), timeout=600, check=False)
    return run


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 120 x 120 px demo scene with its 3D part (surfaces, auger holes), with passports as
    remine:createdemodata writes them (the reports find the truth through them)."""
    from remine.core.demo import make_demo

    paths = make_demo(str(tmp_path_factory.mktemp("wf_scene")), seed=0, size=120, n_samples=150)
    for path in paths.values():
        passport_for(path, "remine:createdemodata", {})
    return paths


def test_abundance_and_grade_workflows_then_report(scene, tmp_path):
    run = qgis_process("remine:abundance_workflow", cube=scene["cube"],
                       **{"unmix:abundances": tmp_path / "ab.tif", "report:run_report": tmp_path / "ab.html"})
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    results = json.loads(run.stdout)["results"]
    assert results["unmix:abundances"] == str(tmp_path / "ab.tif")
    metrics = json.load(open(tmp_path / "ab.html.passport.json"))["metrics"]
    assert metrics["abundance RMSE against the truth (% points)"] < 5.0    # truth found through the lineage
    temporary = {k: "TEMPORARY_OUTPUT" for k in ("variogram:variogram_report", "kriging:variance",
                                                 "kriging:cv_report", "spatial_cv:spatial_cv_report")}
    run = qgis_process("remine:grade_map_workflow", samples=scene["samples"], field="Zn_ppm",
                       template=scene["truth_grades"],
                       **{"kriging:grade": tmp_path / "zn.tif", "report:run_report": tmp_path / "zn.html"}, **temporary)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    metrics = json.load(open(tmp_path / "zn.html.passport.json"))["metrics"]
    with rasterio.open(tmp_path / "zn.tif") as pred, rasterio.open(scene["truth_grades"]) as truth:
        diff = pred.read(1).astype(float) - truth.read(list(truth.descriptions).index("Zn_ppm") + 1)
    assert metrics["kriged Zn_ppm RMSE against the truth"] == pytest.approx(float(np.sqrt(np.nanmean(diff ** 2))))
    assert metrics["kriging CV RMSE (Zn_ppm, spatial)"] > metrics["kriging CV RMSE (Zn_ppm, leave-one-out)"] > 0


def test_grade_map_hybrid_workflow(scene, tmp_path):
    pytest.importorskip("torch")
    outputs = {"kriging:grade": tmp_path / "ok.tif", "kriging:variance": "TEMPORARY_OUTPUT",
               "hybrid:hybrid_grade": tmp_path / "hy.tif", "hybrid:hybrid_std": tmp_path / "hy_std.tif",
               "hybrid:comparison_report": tmp_path / "cmp.html", "report:run_report": tmp_path / "run.html"}
    run = qgis_process("remine:grade_map_hybrid_workflow", samples=scene["samples"], field="Zn_ppm",
                       template=scene["truth_grades"], ensemble=1, epochs=5, folds=2, **outputs)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    hybrid = json.load(open(tmp_path / "hy.tif.passport.json"))
    with rasterio.open(tmp_path / "hy_std.tif") as ds:
        std = ds.read(1)
    band = next(v for k, v in hybrid["uncertainty"]["std"].items() if k != "sampled")
    assert band["mean"] == pytest.approx(float(np.nanmean(std)), rel=1e-5)
    metrics = json.load(open(tmp_path / "run.html.passport.json"))["metrics"]
    assert metrics["hybrid against kriging (Zn_ppm)"] == hybrid["metrics"]["verdict"]
    assert re.search("beats? kriging", metrics["hybrid against kriging (Zn_ppm)"])


def test_tailings_tonnage_workflow(scene, tmp_path):
    run = qgis_process("remine:tailings_tonnage_workflow", top=scene["surface_top"], base=scene["surface_base"],
                       samples=scene["holes"], grade_field="Zn_ppm", depth_field="depth_m", voxel_size=5,
                       realisations=5, cutoffs="400,700",
                       **{"volume:output_folder": tmp_path / "vol", "report:run_report": tmp_path / "vol.html"})
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    table = pd.read_csv(tmp_path / "vol" / "grade_tonnage.csv")
    metrics = json.load(open(tmp_path / "vol.html.passport.json"))["metrics"]
    first = table.iloc[0]
    assert metrics["tonnes above 400 Zn_ppm"] == (f"{first.tonnes:,.0f} t (P10 {first.tonnes_p10:,.0f} – "
                                                  f"P90 {first.tonnes_p90:,.0f})")


def test_mineral_map_workflow_stops_at_the_first_step_with_its_message(scene, tmp_path):
    run = qgis_process("remine:mineral_map_workflow", cube=scene["truth_grades"], rois=scene["rois"],
                       label_field="mineral", roi_id_field="roi_id",
                       **{"predict:class_map": tmp_path / "map.tif"},
                       **{k: "TEMPORARY_OUTPUT" for k in ("predict:probabilities", "predict:uncertainty",
                                                          "classifier:model", "classifier:classifier_report",
                                                          "report:run_report")})
    assert run.returncode != 0
    assert "wavelength" in run.stdout + run.stderr
    assert not (tmp_path / "map.tif").exists()


def test_mineral_map_workflow(scene, tmp_path):
    outputs = {"classifier:model": tmp_path / "m.rmodel", "predict:class_map": tmp_path / "map.tif",
               "report:run_report": tmp_path / "map.html"}
    run = qgis_process("remine:mineral_map_workflow", cube=scene["cube"], rois=scene["rois"], label_field="mineral",
                       roi_id_field="roi_id", folds=2, **outputs)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    metrics = json.load(open(tmp_path / "map.html.passport.json"))["metrics"]
    model = json.load(open(tmp_path / "m.rmodel.passport.json"))["metrics"]
    assert metrics["classifier CV overall accuracy"] == model["overall_accuracy"]
    assert 0.3 < metrics["map overall accuracy against the truth"] <= 1.0     # truth found beside the scene's cube
    with rasterio.open(tmp_path / "map.tif") as m, rasterio.open(scene["truth_class"]) as t:
        predicted, truth = m.read(1), t.read(1)
    valid = (predicted > 0) & (truth > 0)   # one code per mineral in both maps: codes compare directly
    assert metrics["map overall accuracy against the truth"] == pytest.approx(np.mean(predicted[valid] == truth[valid]))
