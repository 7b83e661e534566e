"""remine:report and remine:exportcatalog through processing.run, and the passports real algorithms write."""
import json
import os

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException


def run_folder(demo_scene, tmp_path):
    """A small run through processing: a spectral subset and a coarse kriging of the demo scene."""
    import processing

    run = tmp_path / "run"
    run.mkdir()
    subset = str(run / "subset.tif")
    processing.run("remine:spectralsubset", {"INPUT": demo_scene["cube"], "MIN_WAVELENGTH": 2000,
                                             "MAX_WAVELENGTH": 2400, "OUTPUT": subset})
    pred, var = str(run / "zn.tif"), str(run / "zn_variance.tif")
    processing.run("remine:ordinarykriging", {"INPUT": demo_scene["samples"], "FIELD": "Zn_ppm",
                                              "EXTENT": "500000,500150,5559850,5560000 [EPSG:32630]",
                                              "PIXEL_SIZE": 5, "OUTPUT": pred, "OUTPUT_VARIANCE": var})
    return run, subset, pred, var


def test_passports_of_real_algorithms(remine_processing, demo_scene, tmp_path):
    run, subset, pred, var = run_folder(demo_scene, tmp_path)
    passport = json.load(open(subset + ".passport.json"))
    assert passport["extent"]["bands"] == passport["metrics"]["bands_out"]
    assert passport["uncertainty"] == {"kind": "none"} and passport["lineage"] == []
    kriged = json.load(open(pred + ".passport.json"))
    assert kriged["extent"]["width"] == 30 and kriged["crs"] == "EPSG:32630"
    with rasterio.open(var) as ds:
        variance = ds.read(1)
    summary = kriged["uncertainty"]["variance"]["variance"]
    assert kriged["uncertainty"]["kind"] == "kriging variance"
    assert summary["mean"] == pytest.approx(float(np.nanmean(variance)), rel=1e-6)
    assert summary["p90"] == pytest.approx(float(np.nanquantile(variance, 0.9)), rel=1e-6)


def test_report_and_catalogue_of_a_run(remine_processing, demo_scene, tmp_path):
    import processing

    run, subset, pred, var = run_folder(demo_scene, tmp_path)
    html = str(tmp_path / "report.html")
    res = processing.run("remine:report", {"INPUT": str(run), "OUTPUT": html})
    assert res["OUTPUT"] == html and res["N_PROBLEMS"] == 0
    page = open(html, encoding="utf-8").read()
    assert "subset.tif" in page and "Geostatistics" in page and "<svg" in page
    # a report of a list of outputs: its own passport carries their passports as lineage
    listed = str(tmp_path / "listed.html")
    processing.run("remine:report", {"OUTPUTS": [subset, pred], "OUTPUT": listed})
    passport = json.load(open(listed + ".passport.json"))
    assert {i["path"] for i in passport["inputs"]} == {subset, pred}
    assert {a["algorithm"] for a in passport["lineage"]} == {"remine:spectralsubset", "remine:ordinarykriging"}
    # a modified input is flagged
    with open(subset, "ab") as f:
        f.write(b"\0")
    res = processing.run("remine:report", {"INPUT": str(run), "OUTPUT": html})
    assert res["N_PROBLEMS"] == 1
    assert json.load(open(html + ".passport.json"))["metrics"]["problems"][0]["problem"] == "modified"
    stac = str(tmp_path / "stac")
    res = processing.run("remine:exportcatalog", {"INPUT": str(run), "OUTPUT": stac})
    assert res["N_ITEMS"] == 3 and os.path.isfile(os.path.join(stac, "catalog.json"))
    assert os.path.isfile(os.path.join(stac, "catalog.json.passport.json"))


def test_report_without_a_run_says_what_it_expects(remine_processing, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="expected a run folder or a list of outputs"):
        processing.run("remine:report", {"OUTPUT": str(tmp_path / "r.html")})
    assert not os.path.exists(tmp_path / "r.html")
