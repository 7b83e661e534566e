"""The Spectra algorithms through real QGIS Processing (processing.run), on the demo scene."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from remine.core.learn import TrainingSet
from remine.core.raster import read_cube
from remine.core.spectra import absorption_feature, continuum_removed, read_library, sensor_bands

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "spectra")


def run(name, params):
    import processing

    return processing.run(f"remine:{name}", params)


def test_algorithms_are_listed_with_help(remine_processing):
    names = {a.name() for a in remine_processing.algorithms()}
    assert {"importspectrallibrary", "continuumremoval", "resampletosensor", "absorptionfeature",
            "buildtrainingset"} <= names


def test_continuum_removal(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "cr.tif")
    res = run("continuumremoval", {"INPUT": demo_scene["cube"], "MIN_WAVELENGTH": 2000, "MAX_WAVELENGTH": 2450,
                                   "OUTPUT": out})
    cube, src = read_cube(res["OUTPUT"]), read_cube(demo_scene["cube"], window=((0, 300), (0, 300)))
    sel = (src.wavelengths_nm >= 2000) & (src.wavelengths_nm <= 2450)
    np.testing.assert_allclose(cube.wavelengths_nm, src.wavelengths_nm[sel], atol=1e-3)
    pixels = src.data[sel][:, 100, :].T
    np.testing.assert_allclose(cube.data[:, 100, :].T, continuum_removed(pixels, src.wavelengths_nm[sel]),
                               atol=1e-6)
    assert QgsRasterLayer(out, "cr").isValid()
    assert json.load(open(out + ".passport.json"))["metrics"]["bands"] == int(sel.sum())


def test_absorption_feature_and_window_outside(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "feat.tif")
    run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 1, "OUTPUT": out})
    feat, src = read_cube(out, require_wavelengths=False), read_cube(demo_scene["cube"])
    assert feat.band_names == ["position_nm", "depth", "width_nm"]
    expected = absorption_feature(src.data[:, 50, :].T, src.wavelengths_nm, (2150, 2250))
    np.testing.assert_allclose(feat.data[0, 50], expected["position_nm"], atol=1e-3, equal_nan=True)
    bad = str(tmp_path / "bad.tif")
    with pytest.raises(QgsProcessingException, match="outside the sensor range"):
        run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 0, "MIN_WAVELENGTH": 2400,
                                  "MAX_WAVELENGTH": 2700, "OUTPUT": bad})
    assert not os.path.exists(bad)


def test_resample_to_sentinel2_and_cancel(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "s2.tif")
    run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 0, "OUTPUT": out})
    cube = read_cube(out)
    np.testing.assert_allclose(cube.wavelengths_nm, sensor_bands("sentinel2")[0], atol=1e-3)
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    other = str(tmp_path / "cancelled.tif")
    import processing

    processing.run("remine:resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 1, "OUTPUT": other},
                   feedback=feedback)
    assert not os.path.exists(other)


def test_import_library_from_file_and_from_rois(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "asd.csv")
    run("importspectrallibrary", {"INPUT": os.path.join(DATA, "kaolinite_fieldspec4_v8.asd"), "OUTPUT": out})
    lib = read_library(out)
    assert lib.names == ["kaolinite_fieldspec4_v8"] and lib.n_bands == 2151
    sli = str(tmp_path / "rois.sli")
    run("importspectrallibrary", {"RASTER": demo_scene["cube"], "ROIS": demo_scene["rois"], "NAME_FIELD": "mineral",
                                  "STATISTIC": 0, "OUTPUT": sli})
    rois = read_library(sli)
    assert len(rois) == 27 and "kaolinite" in rois.names and rois.n_bands == 224
    with pytest.raises(QgsProcessingException, match="give a spectra file"):
        run("importspectrallibrary", {"OUTPUT": str(tmp_path / "none.csv")})
    assert not os.path.exists(tmp_path / "none.csv")


def test_build_training_set_classification_and_lab_errors(remine_processing, demo_scene, tmp_path):
    out, summary = str(tmp_path / "train.h5"), str(tmp_path / "summary.csv")
    res = run("buildtrainingset", {"INPUT": demo_scene["cube"], "ROIS": demo_scene["rois"], "LABEL_FIELD": "mineral",
                                   "MAX_PIXELS_PER_ROI": 20, "OUTPUT": out, "SUMMARY": summary})
    ts = TrainingSet.load(res["OUTPUT"])
    assert ts.is_classification and ts.X.shape[1] == 224 and len(set(ts.groups.tolist())) == 27
    table = pd.read_csv(res["SUMMARY"])
    assert list(table.columns) == ["class", "n_pixels", "n_rois", "fraction"] and table["n_pixels"].sum() == len(ts.y)
    assert json.load(open(out + ".passport.json"))["metrics"]["task"] == "classification"
    lab = tmp_path / "lab.csv"
    pd.DataFrame({"roi_id": [1, 2, 99], "Zn_ppm": [1.0, 2.0, 3.0]}).to_csv(lab, index=False)
    bad = str(tmp_path / "bad.h5")
    with pytest.raises(QgsProcessingException, match="lab table ids that match no ROI 'roi_id': 99"):
        run("buildtrainingset", {"INPUT": demo_scene["cube"], "ROIS": demo_scene["rois"], "LAB_TABLE": str(lab),
                                 "OUTPUT": bad, "SUMMARY": str(tmp_path / "bad.csv")})
    assert not os.path.exists(bad) and not os.path.exists(tmp_path / "bad.csv")


def test_resample_to_a_library_grid_with_fwhm(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "lib_grid.tif")
    res = run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 4,
                                   "TARGET_LIBRARY": os.path.join(DATA, "usgs3_bigendian.sli"), "TARGET_FWHM": 20,
                                   "OUTPUT": out})
    cube = read_cube(res["OUTPUT"])
    lib = read_library(os.path.join(DATA, "usgs3_bigendian.sli"))
    np.testing.assert_allclose(cube.wavelengths_nm, lib.wavelengths_nm, atol=1e-3)
    np.testing.assert_allclose(cube.fwhm_nm, 20.0)
    with pytest.raises(QgsProcessingException, match="exactly one resampling target"):
        run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 3, "OUTPUT": str(tmp_path / "x.tif")})
    with pytest.raises(QgsProcessingException, match="give both the minimum and the maximum"):
        run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 0, "MIN_WAVELENGTH": 2100,
                                  "OUTPUT": str(tmp_path / "y.tif")})
    assert not os.path.exists(tmp_path / "x.tif") and not os.path.exists(tmp_path / "y.tif")
