"""Sample variograms and variogram fits: gstat parity on Meuse (tests/data/geostat, R gstat 2.1-0) and
brute-force checks of the directional, robust and map variants."""
import os

import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError, RemineWarning
from remine.core.geostat import (
    Exponential,
    Gaussian,
    Matern,
    Nugget,
    Power,
    Spherical,
    experimental_variogram,
    fit_variogram,
    model_from_dict,
    variogram_map,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    return d[["x", "y"]].to_numpy(float), d["zinc"].to_numpy(float)


def test_log_zinc_variogram_equals_gstat_defaults(meuse):
    # gstat: variogram(log(zinc)~1, meuse); first bins printed in gstat's variogram help page
    xy, zinc = meuse
    ev = experimental_variogram(xy, np.log(zinc))
    ref = pd.read_csv(os.path.join(DATA, "meuse_gstat_variogram_logzinc.csv"))
    assert ev.cutoff == pytest.approx(1596.622616, rel=1e-9)
    assert ev.width == pytest.approx(106.4415077, rel=1e-9)
    np.testing.assert_array_equal(ev.npairs, ref["np"])
    np.testing.assert_allclose(ev.lags, ref["dist"], rtol=1e-9)
    np.testing.assert_allclose(ev.gamma, ref["gamma"], rtol=1e-9)
    lags, gamma, npairs = ev
    assert (npairs[0], npairs[1]) == (57, 299)
    assert lags[0] == pytest.approx(79.29244, abs=1e-5) and gamma[0] == pytest.approx(0.1234479, abs=1e-7)
    assert lags[1] == pytest.approx(163.97367, abs=1e-5) and gamma[1] == pytest.approx(0.2162185, abs=1e-7)


def test_spherical_fit_matches_gstat_fit_variogram(meuse):
    # fit.variogram(v, vgm(1, "Sph", 900, 1)): Nug 0.05066243, Sph 0.5906078, range 897.0209 (Pebesma 2016)
    xy, zinc = meuse
    m = fit_variogram(experimental_variogram(xy, np.log(zinc)), Spherical(psill=1, range_=900, nugget=1))
    assert m.nugget == pytest.approx(0.05066243, rel=0.01)
    assert m.psill == pytest.approx(0.5906078, rel=0.01)
    assert m.range_ == pytest.approx(897.0209, rel=0.01)
    assert m.fit_info_["converged"]
    assert m.fit_info_["sse"] == pytest.approx(9.011194e-06, rel=1e-4)  # gstat's SSErr


def test_fit_of_a_model_name_derives_initial_values_as_gstat(meuse):
    # gstat 1.2 (Pebesma 2016, "Fitting variogram models in gstat"): fit.variogram(v, vgm("Sph")) on log(zinc)
    # -> Nug 0.05065971, Sph 0.59060511, range 897.0011, with the initial values of gstat's vgm_fill_na
    xy, zinc = meuse
    ev = experimental_variogram(xy, np.log(zinc))
    m = fit_variogram(ev, "spherical")
    assert m.nugget == pytest.approx(0.05065971, rel=0.01)
    assert m.psill == pytest.approx(0.59060511, rel=0.01)
    assert m.range_ == pytest.approx(897.0011, rel=0.01)
    assert m.fit_info_["initial"] == {"model": "spherical", "psill": pytest.approx(ev.gamma[-5:].mean()),
                                      "range_": pytest.approx(ev.lags.max() / 3),
                                      "nugget": pytest.approx(ev.gamma[:3].mean())}
    # fit.variogram(variogram(zinc~1, meuse), vgm(c("Exp", "Mat", "Sph"))) picks Mat kappa 0.5 (the exponential):
    # Nug 9486.4, psill 163285.3, range 381.7076
    e = fit_variogram(experimental_variogram(xy, zinc), "Exp")
    assert (e.nugget, e.psill, e.range_) == pytest.approx((9486.4, 163285.3, 381.7076), rel=0.01)
    assert fit_variogram(ev, Spherical(1, 900, 1)).fit_info_["initial"]["range_"] == 900.0  # instance: as given


def test_zinc_fit_matches_gstat(meuse):
    # fit.variogram(variogram(zinc~1, meuse), vgm(150000, "Sph", 800, 20000)) -> 24796.16 / 134741.79 / 830.8359
    xy, zinc = meuse
    m = fit_variogram(experimental_variogram(xy, zinc), Spherical(psill=150000, range_=800, nugget=20000))
    assert m.nugget == pytest.approx(24796.16, rel=0.01)
    assert m.psill == pytest.approx(134741.79, rel=0.01)
    assert m.range_ == pytest.approx(830.8359, rel=0.01)


def test_fit_that_does_not_converge_is_reported_with_initial_values(meuse):
    xy, zinc = meuse
    ev = experimental_variogram(xy, zinc)
    with pytest.warns(RemineWarning, match=r"did not converge.*initial values.*'psill': 1\.0.*'range_': 800\.0"):
        m = fit_variogram(ev, Spherical(psill=1, range_=800, nugget=1), max_iter=3)
    assert not m.fit_info_["converged"]
    assert m.fit_info_["initial"] == {"model": "spherical", "psill": 1.0, "range_": 800.0, "nugget": 1.0}


def test_nested_fit_and_weights(meuse):
    xy, zinc = meuse
    ev = experimental_variogram(xy, np.log(zinc))
    nested = fit_variogram(ev, Nugget(0.05) + Spherical(0.3, 300) + Spherical(0.3, 1000))
    single = fit_variogram(ev, Spherical(1, 900, 1))
    assert nested.fit_info_["sse"] <= single.fit_info_["sse"] * (1 + 1e-6)
    for w in ("npairs", "equal", "cressie"):
        assert fit_variogram(ev, Spherical(1, 900, 1), weights=w).fit_info_["converged"]
    with pytest.raises(InputError, match="weights 'bad' unknown"):
        fit_variogram(ev, Spherical(), weights="bad")


def test_models_formulas_and_round_trip():
    h = np.array([0.0, 50.0, 100.0, 300.0])
    np.testing.assert_allclose(Spherical(2, 100, 1).gamma(h), [0, 1 + 2 * (0.75 - 0.0625), 3, 3])
    np.testing.assert_allclose(Exponential(2, 100).gamma(h), 2 * (1 - np.exp(-h / 100)))
    np.testing.assert_allclose(Gaussian(2, 100).gamma(h), 2 * (1 - np.exp(-(h / 100) ** 2)))
    np.testing.assert_allclose(Power(2, 1.5, 1).gamma(h), np.where(h > 0, 1 + 2 * h ** 1.5, 0))
    np.testing.assert_allclose(Nugget(3).gamma(h), [0, 3, 3, 3])
    # Matern with kappa 0.5 is the exponential model
    np.testing.assert_allclose(Matern(2, 100, 0, kappa=0.5).gamma(h), Exponential(2, 100).gamma(h), rtol=1e-12)
    nested = Nugget(0.1) + Spherical(1, 100) + Gaussian(2, 300)
    assert nested.sill == pytest.approx(3.1)
    assert model_from_dict(nested.to_dict()) == nested
    assert model_from_dict(Spherical(1, 2, 3).to_dict()) == Spherical(1, 2, 3)
    with pytest.raises(InputError, match="'cubic' unknown"):
        model_from_dict({"model": "cubic"})


def _brute_pairs(xy, z):
    i, j = np.triu_indices(len(z), 1)
    d = xy[j] - xy[i]
    return d, np.hypot(d[:, 0], d[:, 1]), z[j] - z[i]


def test_directional_and_cressie_equal_brute_force():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, (120, 2))
    z = np.sin(xy[:, 0] / 150) + 0.1 * rng.normal(size=120)
    d, h, dz = _brute_pairs(xy, z)
    az = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180
    ev = experimental_variogram(xy, z, cutoff=400, width=100, direction=90, tolerance=22.5)
    sel = (np.abs(az - 90) <= 22.5) & (h <= 400)
    k = np.ceil(h[sel] / 100).astype(int) - 1
    for b in range(4):
        assert ev.npairs[b] == np.sum(k == b)
        assert ev.gamma[b] == pytest.approx(0.5 * np.mean(dz[sel][k == b] ** 2), rel=1e-12)
    # the signal varies along x (azimuth 90): the E-W variogram rises faster than the N-S one
    ns = experimental_variogram(xy, z, cutoff=400, width=100, direction=0)
    assert ev.gamma[1] > 2 * ns.gamma[1]
    cr = experimental_variogram(xy, z, cutoff=400, width=100, estimator="cressie")
    close = h <= 400
    k = np.ceil(h[close] / 100).astype(int) - 1
    n0 = np.sum(k == 0)
    expected = 0.5 * np.mean(np.sqrt(np.abs(dz[close][k == 0]))) ** 4 / (0.457 + 0.494 / n0)
    assert cr.gamma[0] == pytest.approx(expected, rel=1e-12)


def test_variogram_map_is_symmetric_and_counts_pairs_twice():
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 500, (60, 2))
    z = rng.normal(size=60)
    vm = variogram_map(xy, z, width=50, cutoff=200)
    assert vm["gamma"].shape == (8, 8)
    np.testing.assert_array_equal(vm["npairs"], vm["npairs"][::-1, ::-1])
    _, _, dz = _brute_pairs(xy, z)
    d, _, _ = _brute_pairs(xy, z)
    inside = (np.abs(d[:, 0]) < 200) & (np.abs(d[:, 1]) < 200)
    assert vm["npairs"].sum() == 2 * inside.sum()


def test_bad_inputs():
    xy = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1]])
    with pytest.raises(InputError, match="values are flat|flat"):
        experimental_variogram(xy, np.full(4, 7.0))
    with pytest.raises(InputError, match="at least 3"):
        experimental_variogram(xy[:2], [1.0, 2.0])
    with pytest.raises(InputError, match=r"shape \(4,\); expected \(n, 2\)"):
        experimental_variogram(xy[:, 0], [1.0, 2, 3, 4])
    with pytest.raises(InputError, match="estimator 'robust' unknown"):
        experimental_variogram(xy, [1.0, 2, 3, 4], estimator="robust")
    with pytest.warns(RemineWarning, match="dropped 1 of 5 points with NaN"):
        ev = experimental_variogram(np.vstack([xy, [[5, 5]]]), [1.0, 2, 3, 4, np.nan], cutoff=3)
    assert ev.npairs.sum() == 6


def test_duplicates_are_averaged_and_counted():
    xy = np.array([[0.0, 0], [0, 0], [1, 0], [0, 1], [1, 1]])
    with pytest.warns(RemineWarning, match="1 duplicate points .* averaged; 4 distinct"):
        ev = experimental_variogram(xy, [1.0, 3.0, 2.0, 3.0, 4.0], cutoff=3)
    assert ev.npairs.sum() == 6  # 4 distinct locations


def test_fit_anisotropy_recovers_the_direction_of_a_simulated_field():
    from remine.core.geostat import Anisotropy, fit_anisotropy

    # Gaussian field simulated (Cholesky) with azimuth 30°, ratio 0.4, exponential range 250 m
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 3000, (700, 2))
    x = Anisotropy((30.0,), (0.4,)).transform(xy)
    cov = Exponential(1.0, 250.0, 0.0).covariance(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1)))
    z = np.linalg.cholesky(cov + 1e-8 * np.eye(700)) @ rng.normal(size=700)
    model, aniso, ranges = fit_anisotropy(xy, z, Exponential(1.0, 300.0, 0.05), cutoff=1200)
    assert aniso.angles[0] == pytest.approx(30.0, abs=10.0)
    assert aniso.ratios[0] < 0.7 and model.range_ > max(ranges.values()) * 0.9
    assert ranges[45.0] > ranges[135.0]  # 15° from the major axis vs 15° from the minor one
    with pytest.raises(InputError, match="at least 3"):
        fit_anisotropy(xy, z, Exponential(1.0, 300.0), directions=(0, 90))
