"""The shipped graphical models (models/*.model3) and the generated algorithm reference."""
import json
import os
import re
import sys

import numpy as np
import pytest
from conftest import ROOT, SCRIPTS
from qgis.core import QgsApplication, QgsProcessingModelAlgorithm

MODELS = ("mineral_map_workflow", "abundance_workflow", "grade_map_workflow", "grade_map_hybrid_workflow",
          "tailings_tonnage_workflow")


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    """A 120 x 120 px demo scene (same generator as the full demo) so that whole workflows run in seconds."""
    from remine.core.demo import make_demo

    return make_demo(str(tmp_path_factory.mktemp("small_scene")), seed=0, size=120, n_samples=150)


def test_models_are_in_the_toolbox_group_workflows_and_valid(remine_processing):
    algs = {a.name(): a for a in remine_processing.algorithms()}
    for name in MODELS:
        model = algs[name]
        assert isinstance(model, QgsProcessingModelAlgorithm) and model.group() == "Workflows"
        ok, issues = model.validate()
        assert ok, issues
        text = model.shortHelpString()
        assert "Inputs" in text and "Outputs" in text and "Reference" in text
        # a readable name in the toolbox and in the dialog Processing opens (the id stays for scripts): the title
        # the help starts with, e.g. "Mineral abundances with intervals"
        title = re.search(r"<b>([^<]+)</b>", text).group(1)
        assert model.displayName() == title != name and title[0].isupper() and "_" not in title
        instance = QgsApplication.processingRegistry().createAlgorithmById(f"remine:{name}")
        assert instance.displayName() == title and instance.id() == f"remine:{name}"
        assert model.outputDefinitions(), name                     # steps resolved: the model has outputs
        for p in model.parameterDefinitions():                    # every input documented
            assert model.helpContent().get(p.name()) or p.isDestination(), (name, p.name())


def test_shipped_models_are_what_build_models_writes(remine_processing, tmp_path, monkeypatch):
    sys.path.insert(0, SCRIPTS)
    try:
        import build_models
    finally:
        sys.path.remove(SCRIPTS)
    monkeypatch.setattr(build_models, "MODELS_DIR", str(tmp_path))
    for build in build_models.BUILDERS:
        path = build()
        with open(path, encoding="utf-8") as f, open(os.path.join(ROOT, "models", os.path.basename(path)),
                                                     encoding="utf-8") as g:
            assert f.read() == g.read(), f"models/{os.path.basename(path)} is stale: run make models"


def test_algorithm_reference_is_current(remine_processing):
    from remine.processing_provider.reference import algorithm_reference

    with open(os.path.join(ROOT, "docs", "algorithms.md"), encoding="utf-8") as f:
        assert f.read() == algorithm_reference(remine_processing), "docs/algorithms.md is stale: run make docs"


def test_mineral_map_workflow(remine_processing, small_scene, tmp_path):
    import processing

    out = {k: str(tmp_path / f"{k}.{ext}") for k, ext in
           (("map", "tif"), ("proba", "tif"), ("unc", "tif"), ("model", "rmodel"), ("report", "html"))}
    res = processing.run("remine:mineral_map_workflow", {
        "cube": small_scene["cube"], "rois": small_scene["rois"], "label_field": "mineral", "roi_id_field": "roi_id",
        "folds": 2,
        "predict:class_map": out["map"], "predict:probabilities": out["proba"], "predict:uncertainty": out["unc"],
        "classifier:model": out["model"], "classifier:classifier_report": "TEMPORARY_OUTPUT",
        "report:run_report": out["report"]})
    assert res["predict:class_map"] == out["map"] and os.path.isfile(out["report"])
    passport = json.load(open(out["map"] + ".passport.json"))
    steps = {a["algorithm"] for a in passport["lineage"]}
    assert {"remine:spectralsubset", "remine:continuumremoval", "remine:buildtrainingset",
            "remine:trainclassifier"} <= steps
    report = json.load(open(out["report"] + ".passport.json"))
    assert 0.5 < report["metrics"]["classifier CV overall accuracy"] <= 1.0
    assert report["metrics"]["n_problems"] == 0


def test_abundance_workflow_stops_at_the_first_step_on_a_cube_without_wavelengths(remine_processing, small_scene,
                                                                                  tmp_path):
    import processing
    import rasterio
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    plain = str(tmp_path / "plain.tif")
    with rasterio.open(small_scene["cube"]) as src:
        profile, data = src.profile, src.read()
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data)
    out = str(tmp_path / "ab.tif")
    feedback = QgsProcessingFeedback()
    with pytest.raises(QgsProcessingException, match="Spectral subset"):     # the first step
        processing.run("remine:abundance_workflow", {"cube": plain, "unmix:abundances": out,
                                                     "report:run_report": str(tmp_path / "r.html")},
                       feedback=feedback)
    assert "has no band wavelengths" in feedback.textLog()
    assert not os.path.exists(out)


def test_abundance_and_grade_workflows_through_processing(remine_processing, small_scene, tmp_path):
    import processing

    ab = str(tmp_path / "ab.tif")
    processing.run("remine:abundance_workflow", {"cube": small_scene["cube"], "unmix:abundances": ab,
                                                 "report:run_report": str(tmp_path / "ab.html")})
    import rasterio

    with rasterio.open(ab) as ds:
        names = list(ds.descriptions)
        total = ds.read(list(range(1, names.index("rmse") + 1)))          # the mineral bands come first
    assert abs(float(np.nanmean(total.sum(axis=0))) - 100.0) < 1e-3     # closure: abundances sum to 100 %
    zn = str(tmp_path / "zn.tif")
    processing.run("remine:grade_map_workflow", {
        "samples": small_scene["samples"], "field": "Cu_ppm", "template": small_scene["truth_grades"],
        "kriging:grade": zn, "kriging:variance": str(tmp_path / "zn_var.tif"),
        "report:run_report": str(tmp_path / "zn.html")})
    passport = json.load(open(zn + ".passport.json"))
    assert passport["parameters"]["FIELD"] == "Cu_ppm" and passport["uncertainty"]["kind"] == "kriging variance"
    assert {a["algorithm"] for a in passport["lineage"]} == {"remine:variogram"}
