"""The Learning algorithms through real QGIS Processing (processing.run)."""
import json
import os
import pickle
import shutil

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsRasterLayer

from remine.core.learn import build_training_set, load_model

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "learn")
NAMES = {"trainclassifier", "trainregressor", "predictraster", "evaluatemodel", "crmclassmap"}


def run(name, params):
    import processing

    return processing.run(f"remine:{name}", params)


def method_index(alg, name):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById(f"remine:{alg}").parameterDefinition(
        "METHOD").options().index(name)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Copies of the test cube and ROIs (QGIS writes .aux.xml statistics next to the layers it opens)."""
    folder = tmp_path_factory.mktemp("learn_scene")
    for name in ("cube.tif", "rois.gpkg"):
        shutil.copy(os.path.join(DATA, name), folder / name)
    return str(folder / "cube.tif"), str(folder / "rois.gpkg")


@pytest.fixture(scope="module")
def regression_h5(tmp_path_factory, scene):
    path = str(tmp_path_factory.mktemp("learn") / "grades.h5")
    build_training_set(*scene, target_fields=["kaolinite_pct", "Zn_ppm"]).save(path)
    return path


def test_learning_algorithms_are_listed(remine_processing):
    algs = {a.name(): a for a in remine_processing.algorithms()}
    assert NAMES <= set(algs)
    for name in NAMES:
        assert algs[name].group() == "Learning"
        assert "Inputs" in algs[name].shortHelpString() and "Reference" in algs[name].shortHelpString()


def test_train_predict_evaluate_on_the_demo_scene(remine_processing, demo_scene, tmp_path):
    model_path, report = str(tmp_path / "svm.rmodel"), str(tmp_path / "svm.html")
    res = run("trainclassifier", {"CUBE": demo_scene["cube"], "ROIS": demo_scene["rois"], "LABEL_FIELD": "mineral",
                                  "METHOD": method_index("trainclassifier", "svm"), "SCHEME": 0, "N_SPLITS": 3,
                                  "OUTPUT_MODEL": model_path, "OUTPUT_REPORT": report})
    assert res["OUTPUT_MODEL"] == model_path and res["OVERALL_ACCURACY"] > 0.8  # ROI-grouped CV on the demo
    html = open(report, encoding="utf-8").read()
    assert "Confusion matrix" in html and f"{res['OVERALL_ACCURACY']:.4g}" in html
    passport = json.load(open(model_path + ".passport.json"))
    assert passport["metrics"]["scheme"] == "group" and passport["metrics"]["kappa"] == res["KAPPA"]
    model = load_model(model_path)
    assert len(model.classes) == 9 and len(model.wavelengths_nm) == 224

    out = str(tmp_path / "classes.tif")
    pred = run("predictraster", {"MODEL": model_path, "INPUT": demo_scene["cube"], "MAX_MEMORY_MB": 32,
                                 "OUTPUT": out, "PROBABILITIES": str(tmp_path / "p.tif"),
                                 "UNCERTAINTY": str(tmp_path / "u.tif")})
    layer = QgsRasterLayer(pred["OUTPUT"], "classes")
    assert layer.isValid() and layer.bandCount() == 1
    with rasterio.open(pred["OUTPUT"]) as ds:
        assert json.loads(ds.tags(1)["class_names"])[1:] == model.classes and ds.colormap(1)[1][3] == 255
    with rasterio.open(pred["PROBABILITIES"]) as ds:
        p = ds.read()
    assert p.shape[0] == 9 and np.allclose(np.nansum(p, axis=0)[20:, 20:], 1, atol=1e-4)
    assert os.path.exists(pred["UNCERTAINTY"] + ".passport.json")


def test_train_regressor_and_evaluate(remine_processing, regression_h5, scene, tmp_path):
    model_path = str(tmp_path / "plsr.rmodel")
    res = run("trainregressor", {"TRAINING_SET": regression_h5, "METHOD": 0, "N_SPLITS": 4,
                                 "PREPROCESSING": 1, "OUTPUT_MODEL": model_path,
                                 "OUTPUT_REPORT": str(tmp_path / "plsr.html")})
    assert res["R2"] > 0.9 and res["RMSE"] > 0
    assert load_model(model_path).manifest["preprocessing"][0]["class"].endswith("SNV")
    ev = run("evaluatemodel", {"MODEL": model_path, "TEST_SET": regression_h5,
                               "OUTPUT_REPORT": str(tmp_path / "eval.html")})
    assert ev["R2"] > res["R2"] - 0.05  # training data: at least as good as cross-validated
    assert "Independent test set" in open(ev["OUTPUT_REPORT"], encoding="utf-8").read()
    unc = str(tmp_path / "grades_uncertainty.tif")  # a regressor writes the uncertainty it is asked for
    pred = run("predictraster", {"MODEL": model_path, "INPUT": scene[0], "OUTPUT": str(tmp_path / "grades.tif"),
                                 "UNCERTAINTY": unc})
    with rasterio.open(pred["UNCERTAINTY"]) as ds:
        assert list(ds.descriptions) == ["lower_kaolinite_pct", "lower_Zn_ppm", "upper_kaolinite_pct", "upper_Zn_ppm",
                                         "n_clipped"]
        bounds = ds.read(list(range(1, 5)))
    with rasterio.open(pred["OUTPUT"]) as ds:
        grades = ds.read()
    assert np.nanmin(grades) >= 0 and np.all((bounds[:2] <= grades + 1e-4) | np.isnan(grades))
    assert "n_clipped" in json.load(open(pred["OUTPUT"] + ".passport.json"))["metrics"]


def test_crm_class_map(remine_processing, scene, tmp_path):
    cube, rois = scene
    res = run("crmclassmap", {"CUBE": cube, "ROIS": rois, "TARGET_FIELD": "Zn_ppm", "THRESHOLD": 600.0,
                              "METHOD": method_index("crmclassmap", "lda"), "N_SPLITS": 4,
                              "OUTPUT_CLASS": str(tmp_path / "crm.tif"), "OUTPUT_PROBABILITY": str(tmp_path / "ph.tif"),
                              "OUTPUT_MODEL": str(tmp_path / "crm.rmodel"),
                              "OUTPUT_REPORT": str(tmp_path / "crm.html")})
    assert res["AUC"] > 0.9 and 0 <= res["YOUDEN_CUT"] <= 1
    with rasterio.open(res["OUTPUT_PROBABILITY"]) as ds:
        assert ds.count == 1 and ds.descriptions[0] == "P(high)"
        ph = ds.read(1)
    with rasterio.open(res["OUTPUT_CLASS"]) as ds:
        codes = ds.read(1)
    valid = codes > 0
    assert np.array_equal(codes[valid] == 1, ph[valid] >= 0.5)  # LDA: class = arg-max probability
    assert json.load(open(res["OUTPUT_CLASS"] + ".passport.json"))["metrics"]["threshold"] == 600.0
    ordinal = run("crmclassmap", {"CUBE": cube, "ROIS": rois, "TARGET_FIELD": "Zn_ppm", "THRESHOLD": 150.0,
                                  "UPPER_THRESHOLD": 1000.0, "METHOD": method_index("crmclassmap", "lda"),
                                  "N_SPLITS": 4, "OUTPUT_CLASS": str(tmp_path / "o.tif"),
                                  "OUTPUT_PROBABILITY": str(tmp_path / "o_ph.tif"),
                                  "OUTPUT_MODEL": str(tmp_path / "o.rmodel")})
    with rasterio.open(ordinal["OUTPUT_CLASS"]) as ds:
        assert json.loads(ds.tags(1)["class_names"]) == ["no data", "high", "low", "medium"]


def test_bad_inputs_raise_and_write_nothing(remine_processing, scene, tmp_path):
    cube, rois = scene
    model_path = tmp_path / "m.rmodel"
    with pytest.raises(QgsProcessingException, match="give a training set file"):
        run("trainclassifier", {"OUTPUT_MODEL": str(model_path)})
    with pytest.raises(QgsProcessingException, match="ROI layer has no field"):
        run("trainclassifier", {"CUBE": cube, "ROIS": rois, "LABEL_FIELD": "lithology",
                                "OUTPUT_MODEL": str(model_path)})
    assert not model_path.exists()
    with open(model_path, "wb") as f:
        pickle.dump({"not": "a model"}, f)
    out = tmp_path / "map.tif"
    with pytest.raises(QgsProcessingException, match="refuses to load pickles"):
        run("predictraster", {"MODEL": str(model_path), "INPUT": cube, "OUTPUT": str(out)})
    assert not out.exists()


def test_missing_bands_stop_and_existing_output_is_replaced(remine_processing, scene, tmp_path):
    cube, rois = scene
    from remine.core.blocks import GridSpec
    from remine.core.raster import read_cube, write_raster

    trained = run("trainclassifier", {"CUBE": cube, "ROIS": rois, "LABEL_FIELD": "mineral", "N_SPLITS": 4,
                                      "METHOD": method_index("trainclassifier", "lda"),
                                      "OUTPUT_MODEL": str(tmp_path / "lda.rmodel")})
    full = read_cube(cube)
    short = str(tmp_path / "short.tif")
    write_raster(short, full.data[:40], like=GridSpec(40, 40, full.transform, full.crs),
                 wavelengths_nm=full.wavelengths_nm[:40])
    out = tmp_path / "map.tif"
    with pytest.raises(QgsProcessingException, match="the model needs 15 bands"):
        run("predictraster", {"MODEL": trained["OUTPUT_MODEL"], "INPUT": short, "OUTPUT": str(out)})
    assert not out.exists()
    out.write_bytes(b"an older result")  # QGIS semantics: an existing destination is overwritten
    res = run("predictraster", {"MODEL": trained["OUTPUT_MODEL"], "INPUT": cube, "OUTPUT": str(out)})
    assert QgsRasterLayer(res["OUTPUT"], "m").isValid()
