"""Cross-validation: gstat krige.cv parity on Meuse and equality of the closed-form/updated LOO with an explicit
refit-per-point loop."""
import os

import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError
from remine.core.geostat import (
    ExternalDriftKriging,
    OrdinaryKriging,
    SimpleKriging,
    Spherical,
    cross_validate,
    ordinary_kriging,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")
LOGZN = Spherical(psill=0.59060780221, range_=897.0209098, nugget=0.05066242682)


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    return d[["x", "y"]].to_numpy(float), np.log(d["zinc"].to_numpy(float))


def test_loo_global_equals_gstat_krige_cv(meuse):
    # krige.cv(log(zinc)~1, meuse, v.fit): RMSE 0.3918, MAE 0.2922, r 0.8393 (meuse_reference.md §3)
    xy, z = meuse
    cv = cross_validate(OrdinaryKriging(LOGZN, n_neighbors=None), xy, z, scheme="loo")
    m = cv.metrics
    assert m["rmse"] == pytest.approx(0.3918, abs=0.002)
    assert m["mae"] == pytest.approx(0.2922, abs=0.002)
    assert m["r"] == pytest.approx(0.8393, abs=0.002)
    assert m["mean_error"] == pytest.approx(-2.07e-05, abs=1e-7)
    ref = pd.read_csv(os.path.join(DATA, "meuse_gstat_loo_logzinc.csv"))
    np.testing.assert_allclose(cv.table["predicted"], ref["var1.pred"], atol=1e-8)
    np.testing.assert_allclose(cv.table["variance"], ref["var1.var"], atol=1e-8)
    np.testing.assert_allclose(cv.table["zscore"], ref["zscore"], atol=1e-7)
    assert set(m) >= {"rmse", "mae", "r2", "mean_error", "mean_standardised_error", "msdr"}
    assert m["msdr"] == pytest.approx(np.mean(ref["zscore"] ** 2), rel=1e-6)


def test_loo_32_neighbours_equals_gstat_nmax32(meuse):
    # krige.cv(..., nmax=32): RMSE 0.3896 (issue 7)
    xy, z = meuse
    cv = cross_validate(OrdinaryKriging(LOGZN, n_neighbors=32), xy, z)
    assert cv.metrics["rmse"] == pytest.approx(0.3896, abs=0.002)


@pytest.mark.parametrize("make", [lambda m: OrdinaryKriging(m, n_neighbors=None),
                                  lambda m: OrdinaryKriging(m, n_neighbors=12),
                                  lambda m: SimpleKriging(m, mean=0.0, n_neighbors=None),
                                  lambda m: OrdinaryKriging(m, n_neighbors=10, lognormal=True)])
def test_loo_equals_explicit_refit_loop(make):
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 1000, (150, 2))
    z = np.exp(0.5 * np.sin(xy[:, 0] / 200) + 0.1 * rng.normal(size=150))
    model = Spherical(0.3, 400.0, 0.02)
    cv = cross_validate(make(model), xy, z)
    for i in range(0, 150, 15):  # explicit refit without point i
        keep = np.arange(150) != i
        e, v = make(model).fit(xy[keep], z[keep]).predict(xy[i:i + 1])
        assert cv.table["predicted"][i] == pytest.approx(e[0], rel=1e-9)
        assert cv.table["variance"][i] == pytest.approx(v[0], rel=1e-7)


def test_loo_with_external_drift_equals_refit():
    rng = np.random.default_rng(6)
    xy = rng.uniform(0, 1000, (100, 2))
    drift = np.column_stack([xy[:, 0] / 1000 + 0.1 * rng.normal(size=100)])
    z = 3 * drift[:, 0] + 0.2 * rng.normal(size=100)
    kr = ExternalDriftKriging(Spherical(0.05, 300.0, 0.01), n_neighbors=None)
    cv = cross_validate(kr, xy, z, drift=drift)
    keep = np.arange(100) != 7
    e, _ = ExternalDriftKriging(Spherical(0.05, 300.0, 0.01), n_neighbors=None).fit(
        xy[keep], z[keep], drift=drift[keep]).predict(xy[7:8], drift=drift[7:8])
    assert cv.table["predicted"][7] == pytest.approx(e[0], rel=1e-9)
    kf = cross_validate(kr, xy, z, drift=drift, scheme="kfold", k=4)
    assert kf.metrics["r2"] > 0.5


def test_kfold_and_spatial_schemes(meuse):
    xy, z = meuse
    kf = cross_validate(OrdinaryKriging(LOGZN), xy, z, scheme="kfold", k=5, seed=1)
    assert sorted(np.unique(kf.table["fold"])) == [0, 1, 2, 3, 4]
    fold0 = kf.table["fold"] == 0
    e, _ = ordinary_kriging(xy[~fold0], z[~fold0], xy[fold0], LOGZN, n_neighbors=32)
    np.testing.assert_allclose(kf.table["predicted"][fold0], e, rtol=1e-12)
    with pytest.warns(Warning):
        sp = cross_validate(OrdinaryKriging(LOGZN), xy, z, scheme="spatial", k=4, seed=0)
    assert sp.metrics["rmse"] > kf.metrics["rmse"]  # extrapolating to unsampled clusters is harder
    assert cross_validate(OrdinaryKriging(LOGZN), xy, z, scheme="kfold", k=5, seed=1).metrics == kf.metrics


def test_cv_bad_inputs(meuse):
    xy, z = meuse
    with pytest.raises(InputError, match="scheme 'holdout' unknown"):
        cross_validate(OrdinaryKriging(LOGZN), xy, z, scheme="holdout")
    with pytest.raises(InputError, match="k=1 folds"):
        cross_validate(OrdinaryKriging(LOGZN), xy, z, scheme="kfold", k=1)
    with pytest.raises(InputError, match="not a remine kriging estimator"):
        cross_validate(object(), xy, z)
