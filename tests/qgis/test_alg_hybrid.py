"""remine:hybridkriging through real QGIS (processing.run) on the demo scene: maps, report, progress, Cancel,
bad input. One small ensemble with few epochs keeps it fast; the science is tested in tests/core."""
import json
import os

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps the progress texts; cancels once a text contains ``cancel_on``."""

    def __init__(self, cancel_on=None):
        super().__init__()
        self.texts, self.cancel_on = [], cancel_on

    def setProgressText(self, text):
        self.texts.append(text)
        if self.cancel_on and self.cancel_on in text:
            self.cancel()
        super().setProgressText(text)


def _params(scene, tmp_path, **extra):
    p = {"INPUT": scene["samples"], "FIELD": "Ca_ppm", "COVARIATES": [scene["truth_abundance"]],
         "N_NEIGHBORS": 12, "N_ENSEMBLE": 1, "MAX_EPOCHS": 40, "FOLDS": 3, "SEED": 0,
         "OUTPUT": str(tmp_path / "ca.tif"), "OUTPUT_STD": str(tmp_path / "ca_std.tif")}
    p.update(extra)
    return p


def test_hybrid_kriging_maps_report_and_progress(remine_processing, demo_scene, tmp_path):
    import processing

    feedback = RecordingFeedback()
    report = str(tmp_path / "report.html")
    res = processing.run("remine:hybridkriging", _params(demo_scene, tmp_path, OUTPUT_REPORT=report),
                         feedback=feedback)
    with rasterio.open(res["OUTPUT"]) as src, rasterio.open(res["OUTPUT_STD"]) as sd:
        est, std = src.read(1), sd.read(1)
        assert src.shape == (300, 300) and src.crs.to_epsg() == 32630
    assert np.isnan(est[0, 0]) and np.isnan(std[0, 0])  # the nodata corner of the covariates
    valid = np.isfinite(est)
    assert valid.mean() > 0.99 and np.all(std[valid] > 0)
    for key in ("OUTPUT", "OUTPUT_STD"):   # QGIS ramps whose legends say the unit of Zn_ppm
        assert 'suffix=" ppm"' in open(os.path.splitext(res[key])[0] + ".qml", encoding="utf-8").read()
    with rasterio.open(demo_scene["truth_grades"]) as src:
        truth = src.read(4)
    assert np.corrcoef(est[valid], truth[valid])[0, 1] > 0.9
    with open(report) as f:
        text = f.read()
    assert ("beats kriging" in text or "does not beat kriging" in text) and text.count("<img") == 3
    assert "KED" in text
    assert any("epoch" in t for t in feedback.texts) and any("block" in t for t in feedback.texts)
    with open(res["OUTPUT"] + ".passport.json") as f:
        passport = json.load(f)
    assert set(passport["metrics"]["comparison"]) == {"ok", "hybrid", "ked"}
    assert os.path.exists(res["OUTPUT_STD"] + ".passport.json") and os.path.exists(report + ".passport.json")


def test_cancel_within_training_leaves_nothing(remine_processing, demo_scene, tmp_path):
    import processing

    feedback = RecordingFeedback(cancel_on="epoch 2")
    with pytest.raises(QgsProcessingException, match="cancelled by the user: no output was written"):
        processing.run("remine:hybridkriging", _params(demo_scene, tmp_path), feedback=feedback)
    assert os.listdir(tmp_path) == []
    assert not any("block" in t for t in feedback.texts)


def test_bad_inputs_name_the_problem(remine_processing, demo_scene, tmp_path):
    import processing

    small = str(tmp_path / "small.tif")  # covers only the north-west quarter of the scene
    with rasterio.open(demo_scene["truth_abundance"]) as src:
        profile = src.profile
        data = src.read(1, window=((0, 150), (0, 150)))
    profile.update(width=150, height=150, count=1)
    with rasterio.open(small, "w", **profile) as dst:
        dst.write(data[None])
    with pytest.raises(QgsProcessingException, match=r"of 250 points have no covariate value .*: S\d+"):
        processing.run("remine:hybridkriging", _params(demo_scene, tmp_path, COVARIATES=[small]))
    other = str(tmp_path / "utm31.tif")
    profile.update(crs="EPSG:32631")
    with rasterio.open(other, "w", **profile) as dst:
        dst.write(data[None])
    with pytest.raises(QgsProcessingException, match="utm31.tif CRS EPSG:32631 differs from the grid CRS EPSG:32630"):
        processing.run("remine:hybridkriging", _params(demo_scene, tmp_path, COVARIATES=[other],
                                                       TEMPLATE=demo_scene["cube"]))
    assert sorted(os.listdir(tmp_path)) == ["small.tif", "utm31.tif"]
