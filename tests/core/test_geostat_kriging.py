"""Kriging: gstat parity on Meuse (R gstat 2.1-0, tests/data/geostat), equality with PyKrige 1.7 (global and
32-neighbour C backend), kriging variants checked against explicit numpy solutions, and bad inputs."""
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remine.core.errors import InputError, RemineWarning
from remine.core.geostat import (
    Exponential,
    ExternalDriftKriging,
    Gaussian,
    Matern,
    OrdinaryKriging,
    Power,
    SimpleKriging,
    Spherical,
    UniversalKriging,
    ordinary_kriging,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")
LOGZN = Spherical(psill=0.59060780221, range_=897.0209098, nugget=0.05066242682)  # gstat fit, meuse_reference.md


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    return d[["x", "y"]].to_numpy(float), d["zinc"].to_numpy(float)


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 5000, (600, 2))
    z = np.sin(xy[:, 0] / 900) + np.cos(xy[:, 1] / 1300) + 0.2 * rng.normal(size=600)
    targets = rng.uniform(-100, 5100, (1500, 2))
    return xy, z, targets


def _direct(model, xy, z, t, drift=None, drift_t=None, mean=None):
    """Textbook kriging by one dense solve per target (covariance form)."""
    est, var = [], []
    for j in range(len(t)):
        h = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        c0 = model.covariance(np.hypot(*(xy - t[j]).T))
        C = model.covariance(h)
        if mean is not None:
            lam = np.linalg.solve(C, c0)
            est.append(mean + lam @ (z - mean))
            var.append(model.sill - lam @ c0)
            continue
        F = np.ones((len(xy), 1)) if drift is None else np.column_stack([np.ones(len(xy)), drift])
        f0 = np.ones(1) if drift is None else np.r_[1.0, drift_t[j]]
        p = F.shape[1]
        K = np.block([[C, F], [F.T, np.zeros((p, p))]])
        sol = np.linalg.solve(K, np.r_[c0, f0])
        est.append(sol[:len(xy)] @ z)
        var.append(model.sill - sol[:len(xy)] @ c0 - sol[len(xy):] @ f0)
    return np.array(est), np.array(var)


def test_ok_log_zinc_on_meuse_grid_equals_gstat(meuse):
    # krige(log(zinc)~1, meuse, meuse.grid, v.fit): mean 5.707229 / 0.185332, first cell 6.499624 / 0.319808
    xy, zinc = meuse
    grid = pd.read_csv(os.path.join(DATA, "meuse_grid.csv"))[["x", "y"]].to_numpy(float)
    ref = pd.read_csv(os.path.join(DATA, "meuse_gstat_ok_logzinc_grid.csv"))
    est, var = ordinary_kriging(xy, np.log(zinc), grid, LOGZN, n_neighbors=None)
    assert len(est) == 3103
    assert est.mean() == pytest.approx(5.707229, abs=1e-4) and var.mean() == pytest.approx(0.185332, abs=1e-4)
    assert est[0] == pytest.approx(6.499624, abs=1e-4) and var[0] == pytest.approx(0.319808, abs=1e-4)
    np.testing.assert_allclose(est, ref["var1.pred"], atol=1e-8)
    np.testing.assert_allclose(var, ref["var1.var"], atol=1e-8)


def test_block_kriging_of_zinc_equals_gstat(meuse):
    # meuse_reference.md §4: 40 m x 40 m block at (181170, 333250) -> 268.8766 / 19047.94 (gstat 2.1-0);
    # point kriging 268.3168331 / 48542.30152; log(zinc) block 5.5752056842 / 0.0676445235
    from remine.core.geostat import experimental_variogram, fit_variogram

    xy, zinc = meuse
    t = np.array([[181170.0, 333250.0]])
    fitted = fit_variogram(experimental_variogram(xy, zinc), Spherical(150000, 800, 20000))
    est, var = OrdinaryKriging(fitted, n_neighbors=None, block_size=40).fit(xy, zinc).predict(t)
    assert est[0] == pytest.approx(268.8766, rel=0.005) and var[0] == pytest.approx(19047.94, rel=0.005)
    gstat_model = Spherical(134741.7892, 830.8358938, 24796.15712)
    est, var = OrdinaryKriging(gstat_model, n_neighbors=None, block_size=(40, 40)).fit(xy, zinc).predict(t)
    assert est[0] == pytest.approx(268.8765679, rel=1e-6) and var[0] == pytest.approx(19047.94268, rel=1e-6)
    est, var = OrdinaryKriging(gstat_model, n_neighbors=None).fit(xy, zinc).predict(t)
    assert est[0] == pytest.approx(268.3168331, rel=1e-6) and var[0] == pytest.approx(48542.30152, rel=1e-6)
    est, var = OrdinaryKriging(LOGZN, n_neighbors=None, block_size=40).fit(xy, np.log(zinc)).predict(t)
    assert est[0] == pytest.approx(5.5752056842, rel=1e-6) and var[0] == pytest.approx(0.0676445235, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), nugget=st.sampled_from([0.0, 0.3]), k=st.sampled_from([None, 8]))
def test_kriging_honours_data_at_sample_locations(seed, nugget, k):
    # exact interpolator (gstat and PyKrige exact_values): estimate = datum, variance 0, nugget or not
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (30, 2))
    z = rng.normal(size=30)
    est, var = ordinary_kriging(xy, z, xy[:10], Exponential(1.0, 30.0, nugget), n_neighbors=k)
    np.testing.assert_allclose(est, z[:10], atol=1e-9)
    np.testing.assert_allclose(var, 0.0, atol=1e-9)


def test_global_ok_equals_pykrige(field):
    from pykrige.ok import OrdinaryKriging as PK

    xy, z, t = field
    for model, pk_name, pk_params in [
        (Spherical(1.0, 1500.0, 0.1), "spherical", [1.1, 1500.0, 0.1]),
        (Exponential(1.0, 500.0, 0.1), "exponential", [1.1, 1500.0, 0.1]),  # PyKrige's range = 3a
        (Gaussian(1.0, 800.0, 0.1), "gaussian", [1.1, 800.0 * 7 / 4, 0.1]),  # PyKrige's range = 7a/4
        (Power(0.01, 1.2, 0.05), "power", [0.01, 1.2, 0.05]),
    ]:
        pk = PK(xy[:, 0], xy[:, 1], z, variogram_model=pk_name, variogram_parameters=pk_params)
        pe, pv = pk.execute("points", t[:, 0], t[:, 1], backend="vectorized")
        est, var = ordinary_kriging(xy, z, t, model, n_neighbors=None)
        np.testing.assert_allclose(est, pe, rtol=1e-8, atol=1e-8 * np.abs(pe).max())
        np.testing.assert_allclose(var, pv, rtol=1e-8, atol=1e-8 * np.abs(pv).max())


def test_local_ok_equals_pykrige_c_backend_32_neighbours(field):
    from pykrige.ok import OrdinaryKriging as PK

    xy, z, t = field
    pk = PK(xy[:, 0], xy[:, 1], z, variogram_model="spherical", variogram_parameters=[1.1, 1500.0, 0.1])
    pe, pv = pk.execute("points", t[:, 0], t[:, 1], backend="C", n_closest_points=32)
    est, var = OrdinaryKriging(Spherical(1.0, 1500.0, 0.1), n_neighbors=32).fit(xy, z).predict(t)
    np.testing.assert_allclose(est, pe, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, pv, rtol=1e-6, atol=1e-6)


def test_local_neighbourhood_on_a_grid_equals_direct_solves(field):
    # grid targets: the kernel updates one factor from target to target; compare with independent solves
    from scipy.spatial import cKDTree

    xy, z, _ = field
    gx, gy = np.meshgrid(np.linspace(0, 5000, 60), np.linspace(0, 5000, 50))
    t = np.column_stack([gx.ravel(), gy.ravel()])
    model = Exponential(1.0, 700.0, 0.05)
    est, var = OrdinaryKriging(model, n_neighbors=16).fit(xy, z).predict(t)
    _, idx = cKDTree(xy).query(t, 16)
    pick = np.arange(0, len(t), 37)
    for j in pick:
        e, v = _direct(model, xy[idx[j]], z[idx[j]], t[j:j + 1])
        assert est[j] == pytest.approx(e[0], rel=1e-9, abs=1e-12)
        assert var[j] == pytest.approx(v[0], rel=1e-9, abs=1e-12)


def test_simple_universal_external_drift_and_matern_equal_direct_solves(field):
    xy, z, t = field
    xy, z, t = xy[:120], z[:120], t[:40]
    model = Spherical(1.0, 1500.0, 0.1)
    e, v = SimpleKriging(model, mean=0.5, n_neighbors=None).fit(xy, z).predict(t)
    de, dv = _direct(model, xy, z, t, mean=0.5)
    np.testing.assert_allclose(e, de, rtol=1e-9), np.testing.assert_allclose(v, dv, rtol=1e-9)
    e, v = UniversalKriging(model, drift="linear", n_neighbors=None).fit(xy, z).predict(t)
    de, dv = _direct(model, xy, z, t, drift=xy, drift_t=t)
    np.testing.assert_allclose(e, de, rtol=1e-8), np.testing.assert_allclose(v, dv, rtol=1e-8)
    drift = np.sin(xy[:, :1] / 900)
    drift_t = np.sin(t[:, :1] / 900)
    e, v = ExternalDriftKriging(model, n_neighbors=None).fit(xy, z, drift=drift).predict(t, drift=drift_t)
    de, dv = _direct(model, xy, z, t, drift=drift, drift_t=drift_t)
    np.testing.assert_allclose(e, de, rtol=1e-8), np.testing.assert_allclose(v, dv, rtol=1e-8)
    mat = Matern(1.0, 400.0, 0.1, kappa=1.5)  # no closed form in the kernel: tabulated gamma
    e, v = OrdinaryKriging(mat, n_neighbors=None).fit(xy, z).predict(t)
    de, dv = _direct(mat, xy, z, t)
    np.testing.assert_allclose(e, de, rtol=1e-7), np.testing.assert_allclose(v, dv, rtol=1e-7)


def test_universal_kriging_equals_pykrige_regional_linear(field):
    from pykrige.uk import UniversalKriging as PUK

    xy, z, t = field
    xy, z, t = xy[:200], z[:200], t[:100]
    pk = PUK(xy[:, 0], xy[:, 1], z, variogram_model="spherical", variogram_parameters=[1.1, 1500.0, 0.1],
             drift_terms=["regional_linear"])
    pe, pv = pk.execute("points", t[:, 0], t[:, 1])
    e, v = UniversalKriging(Spherical(1.0, 1500.0, 0.1), n_neighbors=None).fit(xy, z).predict(t)
    np.testing.assert_allclose(e, pe, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(v, pv, rtol=1e-7, atol=1e-9)


def test_lognormal_kriging_back_transform(meuse):
    # Journel (1980): z* = exp(y*_OK + σ²_OK/2 + μ) with μ the Lagrange multiplier (C λ + μ 1 = c)
    xy, zinc = meuse
    t = np.array([[181170.0, 333250.0], [179500.0, 331000.0]])
    est, _ = OrdinaryKriging(LOGZN, n_neighbors=None, lognormal=True).fit(xy, zinc).predict(t)
    y, s2 = ordinary_kriging(xy, np.log(zinc), t, LOGZN, n_neighbors=None)
    C = LOGZN.covariance(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    K = np.block([[C, np.ones((155, 1))], [np.ones((1, 155)), np.zeros((1, 1))]])
    mu = np.array([np.linalg.solve(K, np.r_[LOGZN.covariance(np.hypot(*(xy - p).T)), 1.0])[-1] for p in t])
    np.testing.assert_allclose(est, np.exp(y + s2 / 2 + mu), rtol=1e-9)
    assert 200 < est[0] < 400  # ppm, near the 268 ppm block estimate
    with pytest.raises(InputError, match="values > 0"):
        OrdinaryKriging(LOGZN, lognormal=True).fit(xy, zinc - 1000)


def test_3d_and_anisotropy():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (80, 2))
    z = rng.normal(size=80)
    t = rng.uniform(0, 100, (20, 2))
    model = Spherical(1.0, 40.0, 0.1)
    e2, v2 = ordinary_kriging(xy, z, t, model, n_neighbors=12)

    def flat(a):
        return np.column_stack([a, np.full(len(a), 5.0)])

    e3, v3 = ordinary_kriging(flat(xy), z, flat(t), model, n_neighbors=12)
    np.testing.assert_allclose(e3, e2, rtol=1e-10), np.testing.assert_allclose(v3, v2, rtol=1e-10)
    # azimuth 0 (north), ratio 0.5: the same as isotropic kriging with y coordinates divided by 2
    ea, va = ordinary_kriging(xy, z, t, model, n_neighbors=None, anisotropy=(0.0, 0.5))
    sq = np.array([2.0, 1.0])  # x distances count double (minor axis along x), y unchanged
    ei, vi = ordinary_kriging(xy * sq, z, t * sq, model, n_neighbors=None)
    np.testing.assert_allclose(ea, ei, rtol=1e-10), np.testing.assert_allclose(va, vi, rtol=1e-10)
    # 3D anisotropy with equal ratios of 1 changes nothing
    e3a, _ = ordinary_kriging(flat(xy), z, flat(t), model, n_neighbors=12, anisotropy=(30, 10, 5, 1.0, 1.0))
    np.testing.assert_allclose(e3a, e2, rtol=1e-9)


def test_sklearn_conventions():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    ok = OrdinaryKriging(Spherical(1, 2, 0), n_neighbors=8, max_dist=5.0)
    assert clone(ok).get_params() == ok.get_params()
    assert not hasattr(ok, "coords_")
    rng = np.random.default_rng(0)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ok.predict(np.zeros((1, 2)))
    assert ok.fit(rng.uniform(0, 10, (20, 2)), rng.normal(size=20)) is ok
    with pytest.raises(InputError, match="not a variogram model"):
        OrdinaryKriging(None).fit(rng.uniform(0, 10, (20, 2)), rng.normal(size=20))


def test_singular_system_is_regularised_with_a_warning():
    # duplicated-ish collinear samples, gaussian model without nugget: numerically singular
    x = np.linspace(0, 1, 40)
    xy = np.column_stack([x, 2 * x])
    z = np.sin(3 * x)
    with pytest.warns(RemineWarning, match="singular or nearly so.*regularised"):
        est, var = ordinary_kriging(xy, z, np.array([[0.5, 1.0], [0.3, 0.2]]), Gaussian(1.0, 5.0, 0.0),
                                    n_neighbors=None)
    assert np.all(np.isfinite(est)) and np.all(np.isfinite(var))


def test_fewer_points_than_neighbours_uses_all():
    rng = np.random.default_rng(0)
    xy, z = rng.uniform(0, 10, (10, 2)), rng.normal(size=10)
    with pytest.warns(RemineWarning, match="10 samples but n_neighbors=32: using all samples"):
        e, _ = ordinary_kriging(xy, z, np.array([[5.0, 5.0]]), Spherical(1, 5), n_neighbors=32)
    assert e[0] == pytest.approx(ordinary_kriging(xy, z, np.array([[5.0, 5.0]]), Spherical(1, 5), None)[0][0])


def test_bad_point_inputs():
    xy = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1]])
    t = np.array([[0.5, 0.5]])
    with pytest.raises(InputError, match=r"2 valid distinct points .* at least 3"):
        ordinary_kriging(xy[:2], [1.0, 2.0], t, Spherical())
    with pytest.warns(RemineWarning, match="dropped 1 of 4 points with NaN"):
        e, _ = ordinary_kriging(xy, [1.0, 2.0, np.nan, 4.0], t, Spherical(1, 10), n_neighbors=None)
    assert np.isfinite(e[0])
    with pytest.warns(RemineWarning, match="1 duplicate points"):
        e, v = ordinary_kriging(np.vstack([xy, xy[:1]]), [1.0, 2, 3, 4, 3.0], xy[:1], Spherical(1, 10), None)
    assert e[0] == pytest.approx(2.0) and v[0] == pytest.approx(0.0, abs=1e-12)  # mean of 1 and 3
    with pytest.raises(InputError, match="geographic"):
        from rasterio.crs import CRS

        OrdinaryKriging(Spherical()).fit(xy, [1.0, 2, 3, 4], crs=CRS.from_epsg(4326))
    with pytest.raises(InputError, match="targets have 3 coordinates"):
        ordinary_kriging(xy, [1.0, 2, 3, 4], np.zeros((1, 3)), Spherical())
    with pytest.raises(InputError, match="simple kriging needs a bounded model"):
        SimpleKriging(Power()).fit(xy, [1.0, 2, 3, 4])
    with pytest.raises(InputError, match="range_ must be > 0"):
        ordinary_kriging(xy, [1.0, 2, 3, 4], t, Spherical(1, 0))
    with pytest.raises(InputError, match="drift values"):
        ExternalDriftKriging(Spherical()).fit(xy, [1.0, 2, 3, 4])
    with pytest.raises(InputError, match="constant over the samples"):
        ExternalDriftKriging(Spherical()).fit(xy, [1.0, 2, 3, 4], drift=np.ones(4))


def test_far_targets_and_max_dist_warn():
    rng = np.random.default_rng(0)
    xy, z = rng.uniform(0, 100, (50, 2)), rng.normal(size=50)
    with pytest.warns(RemineWarning, match="1 of 2 targets lie farther than the model's practical range"):
        ordinary_kriging(xy, z, np.array([[50.0, 50], [5000, 5000]]), Spherical(1, 20), n_neighbors=8)
    with pytest.warns(RemineWarning, match="1 of 2 targets have no sample within max_dist"):
        e, v = ordinary_kriging(xy, z, np.array([[50.0, 50], [500, 500]]), Spherical(1, 2000), n_neighbors=8,
                                max_dist=30)
    assert np.isfinite(e[0]) and np.isnan(e[1]) and np.isnan(v[1])
