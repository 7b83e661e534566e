"""Variogram / cross-validation analyses with their files (CSV, JSON, HTML), automatic models, model JSON."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError
from remine.core.geostat import (
    Exponential,
    OrdinaryKriging,
    Power,
    Spherical,
    auto_model,
    experimental_variogram,
    initial_model,
    read_model_json,
    write_model_json,
)
from remine.core.geostat.report import cross_validation_analysis, variogram_analysis

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")


@pytest.fixture(scope="module")
def meuse_csv(tmp_path_factory):
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    d["logzn"] = np.log(d["zinc"])
    path = str(tmp_path_factory.mktemp("pts") / "meuse.csv")
    d.to_csv(path, index=False)
    return path


def test_variogram_analysis_files(meuse_csv, tmp_path):
    paths = {"table_path": str(tmp_path / "v.csv"), "model_path": str(tmp_path / "m.json"),
             "report_path": str(tmp_path / "v.html")}
    res = variogram_analysis(meuse_csv, "logzn", **paths)
    table = pd.read_csv(paths["table_path"])
    assert list(table.columns) == ["np", "dist", "gamma", "model"] and table["np"][0] == 57
    model = read_model_json(paths["model_path"])
    # automatic initial values -> gstat's vgm("Sph") fit: Nug 0.05065971, Sph 0.59060511, range 897.0011
    assert model.range_ == pytest.approx(897.0011, rel=0.01) and model.nugget == pytest.approx(0.05066, rel=0.01)
    assert json.load(open(paths["model_path"]))["fit"]["converged"] is True
    html = open(paths["report_path"]).read()
    assert "data:image/png;base64" in html and "Sample variogram" in html
    assert res["n_points"] == 155


def test_variogram_analysis_directional_and_other_models(meuse_csv, tmp_path):
    res = variogram_analysis(meuse_csv, "logzn", model="exponential", direction=45, tolerance=30,
                             estimator="cressie", report_path=str(tmp_path / "d.html"))
    assert isinstance(res["model"], Exponential) and res["experimental"].direction == 45
    assert isinstance(variogram_analysis(meuse_csv, "logzn", model="power")["model"], Power)


def test_analyses_refuse_bad_outputs_before_work(meuse_csv, tmp_path):
    with pytest.raises(InputError, match=r"must end with \.csv"):
        variogram_analysis(meuse_csv, "logzn", table_path=str(tmp_path / "v.txt"))
    with pytest.raises(InputError, match="output folder does not exist"):
        variogram_analysis(meuse_csv, "logzn", model_path=str(tmp_path / "no" / "m.json"))
    with pytest.raises(InputError, match="'cubic' unknown"):
        variogram_analysis(meuse_csv, "logzn", model="cubic")
    assert os.listdir(tmp_path) == []


def test_cross_validation_analysis(meuse_csv, tmp_path):
    model = Spherical(0.59060780221, 897.0209098, 0.05066242682)
    cv = cross_validation_analysis(meuse_csv, "logzn", OrdinaryKriging(model, n_neighbors=None),
                                   table_path=str(tmp_path / "cv.csv"), report_path=str(tmp_path / "cv.html"))
    assert cv.metrics["rmse"] == pytest.approx(0.3918, abs=0.002)  # gstat krige.cv
    assert len(pd.read_csv(tmp_path / "cv.csv")) == 155
    assert "residuals" in open(tmp_path / "cv.html").read()


def test_auto_and_initial_models_and_json_round_trip(tmp_path):
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    xy, z = d[["x", "y"]].to_numpy(float), np.log(d["zinc"].to_numpy(float))
    ev = experimental_variogram(xy, z)
    init = initial_model("spherical", ev)  # gstat's vgm_fill_na
    assert init.range_ == pytest.approx(ev.lags.max() / 3) and init.nugget == pytest.approx(ev.gamma[:3].mean())
    assert init.psill == pytest.approx(ev.gamma[-5:].mean())
    m = auto_model(xy, z)
    assert m.range_ == pytest.approx(897.0, rel=0.01)
    # with a drift the model is that of the regression residuals: a smaller sill
    drift = d[["dist"]].to_numpy(float)
    assert auto_model(xy, z, drift=drift).sill < m.sill
    path = write_model_json(m, str(tmp_path / "m.json"))
    assert read_model_json(path) == Spherical(m.psill, m.range_, m.nugget)
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "spherical", "sill": 1}')
    with pytest.raises(InputError, match="does not describe a variogram model"):
        read_model_json(str(bad))
