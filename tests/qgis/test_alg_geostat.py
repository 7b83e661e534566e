"""remine:variogram, remine:ordinarykriging, remine:krigingcrossvalidation, remine:externaldriftkriging
through real QGIS (processing.run) on the Meuse data (tests/data/geostat)."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from qgis.core import QgsProcessingException, QgsProcessingFeedback

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")


@pytest.fixture(scope="module")
def meuse_gpkg(tmp_path_factory):
    import geopandas as gpd

    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    d["logzn"] = np.log(d["zinc"])
    folder = tmp_path_factory.mktemp("meuse")
    path = str(folder / "meuse.gpkg")
    gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d.x, d.y), crs="EPSG:28992").to_file(path, driver="GPKG")
    gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d.x / 1e5, d.y / 1e5), crs="EPSG:4326").to_file(
        str(folder / "geo.gpkg"), driver="GPKG")
    return path


@pytest.fixture(scope="module")
def logzn_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "gstat.json")
    with open(path, "w") as f:  # gstat fit of log(zinc), meuse_reference.md §2
        json.dump({"model": "spherical", "psill": 0.59060780221, "range_": 897.0209098, "nugget": 0.05066242682}, f)
    return path


def test_variogram(remine_processing, meuse_gpkg, tmp_path):
    import processing

    out = {k: str(tmp_path / f"v.{e}") for k, e in [("OUTPUT_TABLE", "csv"), ("OUTPUT_MODEL", "json"),
                                                      ("OUTPUT_REPORT", "html"), ("OUTPUT_PLOT", "png")]}
    processing.run("remine:variogram", {"INPUT": meuse_gpkg, "FIELD": "logzn", "MODEL": 0, **out})
    table = pd.read_csv(out["OUTPUT_TABLE"])
    assert list(table["np"][:2]) == [57, 299] and table["gamma"][0] == pytest.approx(0.1234479, abs=1e-7)
    model = json.load(open(out["OUTPUT_MODEL"]))
    # gstat fit from automatic initial values: Nug 0.05065971, Sph 0.59060511, range 897.0011 (Pebesma 2016)
    assert model["model"] == "spherical" and model["range_"] == pytest.approx(897.0, rel=0.01)
    assert model["nugget"] == pytest.approx(0.0507, rel=0.01) and model["psill"] == pytest.approx(0.5906, rel=0.01)
    assert "<img" in open(out["OUTPUT_REPORT"]).read()
    assert open(out["OUTPUT_PLOT"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(out["OUTPUT_MODEL"] + ".passport.json")


def test_ordinary_kriging_with_extent_and_cv_report(remine_processing, meuse_gpkg, logzn_model, tmp_path):
    import processing

    from remine.core.geostat import OrdinaryKriging, read_model_json

    pred, var, rep = str(tmp_path / "p.tif"), str(tmp_path / "v.tif"), str(tmp_path / "cv.html")
    res = processing.run("remine:ordinarykriging", {
        "INPUT": meuse_gpkg, "FIELD": "logzn", "MODEL_FILE": logzn_model, "N_NEIGHBORS": 32,
        "EXTENT": "178600,181400,329700,333600 [EPSG:28992]", "PIXEL_SIZE": 40, "OUTPUT": pred,
        "OUTPUT_VARIANCE": var, "CV_REPORT": rep})
    assert res["OUTPUT"] == pred and os.path.exists(rep)
    with rasterio.open(pred) as src:
        assert (src.width, src.height) == (70, 98) and src.crs.to_epsg() == 28992
        p = src.read(1)
        x, y = src.transform * (10.5, 20.5)
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    e, v = OrdinaryKriging(read_model_json(logzn_model)).fit(d[["x", "y"]].to_numpy(float),
                                                            np.log(d["zinc"])).predict(np.array([[x, y]]))
    assert p[20, 10] == pytest.approx(e[0], rel=1e-6)
    with rasterio.open(var) as src:
        assert src.read(1)[20, 10] == pytest.approx(v[0], rel=1e-5)
    assert os.path.exists(pred + ".passport.json") and os.path.exists(var + ".passport.json")


def test_ordinary_kriging_without_template_or_extent_covers_the_samples(remine_processing, meuse_gpkg, logzn_model,
                                                                        tmp_path):
    import processing

    pred = str(tmp_path / "p.tif")
    processing.run("remine:ordinarykriging", {"INPUT": meuse_gpkg, "FIELD": "logzn", "MODEL_FILE": logzn_model,
                                              "PIXEL_SIZE": 200, "OUTPUT": pred,
                                              "OUTPUT_VARIANCE": str(tmp_path / "v.tif")})
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    with rasterio.open(pred) as src:
        left, bottom, right, top = src.bounds
        assert src.res == (200, 200) and src.crs.to_epsg() == 28992
    assert left == pytest.approx(d.x.min() - 100) and top == pytest.approx(d.y.max() + 100)
    assert right >= d.x.max() + 100 > right - 200 and bottom <= d.y.min() - 100 < bottom + 200


def test_ordinary_kriging_template_block_and_auto_model(remine_processing, meuse_gpkg, tmp_path):
    import processing

    tpl = str(tmp_path / "tpl.tif")
    with rasterio.open(tpl, "w", driver="GTiff", width=20, height=15, count=1, dtype="float32", crs="EPSG:28992",
                       transform=Affine(100, 0, 179000, 0, -100, 333000)) as dst:
        dst.write(np.zeros((1, 15, 20), np.float32))
    pred = str(tmp_path / "zn.tif")
    processing.run("remine:ordinarykriging", {"INPUT": meuse_gpkg, "FIELD": "zinc", "MODEL": 0, "TEMPLATE": tpl,
                                              "BLOCK_SIZE": 100, "LOGNORMAL": True, "OUTPUT": pred,
                                              "OUTPUT_VARIANCE": str(tmp_path / "znv.tif")})
    with rasterio.open(pred) as src:
        z = src.read(1)
    assert z.shape == (15, 20) and np.all(np.isfinite(z)) and 100 < np.median(z) < 1500  # ppm


def test_cross_validation_loo_equals_gstat(remine_processing, meuse_gpkg, logzn_model, tmp_path):
    import processing

    table, rep = str(tmp_path / "cv.csv"), str(tmp_path / "cv.html")
    processing.run("remine:krigingcrossvalidation", {"INPUT": meuse_gpkg, "FIELD": "logzn",
                                                     "MODEL_FILE": logzn_model, "N_NEIGHBORS": 0, "SCHEME": 0,
                                                     "OUTPUT_TABLE": table, "OUTPUT_REPORT": rep})
    t = pd.read_csv(table)
    rmse = float(np.sqrt(np.mean(t["residual"] ** 2)))
    assert rmse == pytest.approx(0.3918, abs=0.002)  # gstat krige.cv, meuse_reference.md §3
    passport = json.load(open(table + ".passport.json"))
    assert passport["metrics"]["rmse"] == pytest.approx(rmse)


def _distance_drift(path):
    """A 30 x 40 raster of 100 m cells over Meuse: distance (in 3 km) from a cell near the river corner."""
    cols, rows = np.meshgrid(np.arange(30), np.arange(40))
    with rasterio.open(path, "w", driver="GTiff", width=30, height=40, count=1, dtype="float32", crs="EPSG:28992",
                       transform=Affine(100, 0, 178500, 0, -100, 333700)) as dst:
        dst.write((np.hypot(cols - 5, rows - 5) / 30.0).astype(np.float32)[None])
    return str(path)


def test_external_drift_kriging(remine_processing, meuse_gpkg, tmp_path):
    import processing

    drift = _distance_drift(tmp_path / "dist.tif")
    pred = str(tmp_path / "ked.tif")
    processing.run("remine:externaldriftkriging", {"INPUT": meuse_gpkg, "FIELD": "logzn", "DRIFT": [drift],
                                                   "N_NEIGHBORS": 32, "OUTPUT": pred,
                                                   "OUTPUT_VARIANCE": str(tmp_path / "kedv.tif")})
    with rasterio.open(pred) as src:
        assert src.shape == (40, 30) and np.all(np.isfinite(src.read(1)))


def test_external_drift_kriging_of_grades_stays_non_negative_and_cross_validates(remine_processing, meuse_gpkg,
                                                                                 tmp_path):
    """Zinc (ppm, all > 0) with a drift that grows away from the river corner: the linear drift extrapolated to
    the far cells goes below 0 there; those cells are set to 0 and counted. The same model cross-validates
    with the drift (leave-one-out) and gives per-point predictions."""
    import processing

    drift = _distance_drift(tmp_path / "dist.tif")
    pred = str(tmp_path / "ked.tif")
    processing.run("remine:externaldriftkriging", {"INPUT": meuse_gpkg, "FIELD": "zinc", "DRIFT": [drift],
                                                   "N_NEIGHBORS": 32, "OUTPUT": pred,
                                                   "OUTPUT_VARIANCE": str(tmp_path / "kedv.tif")})
    with rasterio.open(pred) as src:
        values = src.read(1)
    n_clipped = json.load(open(pred + ".passport.json"))["metrics"]["n_clipped"]
    assert np.nanmin(values) >= 0 and n_clipped == int(np.sum(values == 0)) > 0
    table = str(tmp_path / "kedcv.csv")
    processing.run("remine:krigingcrossvalidation", {"INPUT": meuse_gpkg, "FIELD": "zinc", "DRIFT": [drift],
                                                     "SCHEME": 0, "OUTPUT_TABLE": table})
    cv = pd.read_csv(table)
    assert len(cv) == 155 and np.isfinite(cv["predicted"]).all()
    metrics = json.load(open(table + ".passport.json"))["metrics"]
    assert metrics["drift"] == [drift] and metrics["rmse"] == pytest.approx(np.sqrt(np.mean(cv["residual"] ** 2)))
    ok_table = str(tmp_path / "okcv.csv")
    processing.run("remine:krigingcrossvalidation", {"INPUT": meuse_gpkg, "FIELD": "zinc", "SCHEME": 0,
                                                     "OUTPUT_TABLE": ok_table})
    assert not np.allclose(pd.read_csv(ok_table)["predicted"], cv["predicted"])  # the drift is used


class WarningsFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, text):  # noqa: N802 (QGIS API name)
        self.warnings.append(text)
        super().pushWarning(text)


def test_points_in_another_crs_than_the_extent_are_reprojected(remine_processing, meuse_gpkg, logzn_model,
                                                               tmp_path):
    """Meuse (RD New) kriged on an extent given in UTM 31N: the log says the points were reprojected and the
    grid covers them (the cells near samples are not extrapolated)."""
    import processing
    from pyproj import Transformer

    xs, ys = Transformer.from_crs("EPSG:28992", "EPSG:32631", always_xy=True).transform(
        [178600, 181400, 178600, 181400], [329700, 329700, 333600, 333600])
    feedback = WarningsFeedback()
    res = processing.run("remine:ordinarykriging", {
        "INPUT": meuse_gpkg, "FIELD": "logzn", "MODEL_FILE": logzn_model, "PIXEL_SIZE": 40,
        "EXTENT": f"{min(xs)},{max(xs)},{min(ys)},{max(ys)} [EPSG:32631]", "OUTPUT": str(tmp_path / "p.tif"),
        "OUTPUT_VARIANCE": str(tmp_path / "v.tif")}, feedback=feedback)
    assert any("points reprojected from EPSG:28992 to the grid CRS EPSG:32631" in t for t in feedback.warnings)
    with rasterio.open(res["OUTPUT"]) as ds:
        assert ds.crs.to_epsg() == 32631
        zn = ds.read(1)
    assert np.nanmin(zn) > 4 and np.nanmax(zn) < 8 and np.isfinite(zn).mean() > 0.99   # log(zinc): 4.7-7.5


def test_bad_inputs_leave_no_output(remine_processing, meuse_gpkg, logzn_model, tmp_path):
    import processing

    geo = os.path.join(os.path.dirname(meuse_gpkg), "geo.gpkg")
    pred = tmp_path / "p.tif"
    with pytest.raises(QgsProcessingException, match="geographic .* reproject"):
        processing.run("remine:ordinarykriging", {"INPUT": geo, "FIELD": "logzn", "MODEL_FILE": logzn_model,
                                                  "EXTENT": "1.7,1.8,3.2,3.3 [EPSG:4326]", "PIXEL_SIZE": 0.01,
                                                  "OUTPUT": str(pred), "OUTPUT_VARIANCE": str(tmp_path / "v.tif")})
    bad_model = tmp_path / "bad.json"
    bad_model.write_text("{not json")
    with pytest.raises(QgsProcessingException, match="cannot read a variogram model"):
        processing.run("remine:krigingcrossvalidation", {"INPUT": meuse_gpkg, "FIELD": "logzn",
                                                         "MODEL_FILE": str(bad_model),
                                                         "OUTPUT_TABLE": str(tmp_path / "cv.csv")})
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]
