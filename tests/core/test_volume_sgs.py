"""core.volume sequential Gaussian simulation: data honoured, histogram and variogram reproduced, and the
P10–P90 band of the 3D demo contains the true tonnage at most cut-offs."""
import geopandas as gpd
import numpy as np
import pytest
from affine import Affine

from remine.core.geostat import Spherical
from remine.core.volume import VoxelGrid, grade_tonnage
from remine.core.volume.demo3d import VOXEL, TruthField
from remine.core.volume.sgs import NormalScore, simulate
from remine.core.volume.variogram3d import fit_anisotropic_3d

CUTOFFS = [300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1500]


def test_normal_score_round_trip_and_tails():
    rng = np.random.default_rng(0)
    z = np.exp(rng.normal(6, 0.5, 500))
    ns = NormalScore(z)
    y = ns.transform(z)
    assert abs(y.mean()) < 1e-9 and y.std() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(ns.back(y), z, rtol=1e-9)
    tails = ns.back(np.array([-6.0, -3.5, 3.5, 6.0]))
    assert 0 <= tails[0] < tails[1] < z.min() and z.max() < tails[2] < tails[3] <= ns.zmax
    assert ns.back(np.array([8.0]))[0] == pytest.approx(ns.zmax, rel=1e-6)


@pytest.fixture(scope="module")
def simulated(demo_scene):
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], *VOXEL)
    holes = gpd.read_file(demo_scene["holes"])
    xyz = np.column_stack([holes.x, holes.y, holes.z_m])
    zn = holes.Zn_ppm.to_numpy()
    ns = NormalScore(zn)
    model, aniso, _ = fit_anisotropic_3d(xyz, ns.transform(zn))
    res = simulate(grid, xyz, zn, model, aniso, n_realisations=50, seed=3, transform=ns)
    return grid, xyz, zn, model, aniso, res


def test_sgs_honours_data_and_reproduces_histogram(simulated):
    grid, _, zn, _, _, res = simulated
    reals = res["realisations"]
    assert reals.shape == (50, grid.active.sum()) and np.isfinite(reals).all()
    slot = np.full(grid.shape, -1)
    slot[grid.active] = np.arange(grid.active.sum())
    at_data = reals[:, slot.ravel()[res["data_cells"]]]
    np.testing.assert_allclose(at_data, np.broadcast_to(zn[res["data_index"]], at_data.shape), rtol=1e-5)
    assert len(res["data_index"]) + res["unused_data"] == len(zn)
    # histogram: the 10-90 % deciles of the realisations against the data's (equal-weight holes cover the body):
    # relative differences, median over deciles and realisations < 6 %, each < 25 %
    q = np.linspace(10, 90, 9)
    dec = np.percentile(reals, q, axis=1)                # (9, 50)
    rel = np.abs(dec / np.percentile(zn, q)[:, None] - 1)
    assert np.median(rel) < 0.06 and rel.max() < 0.25, rel.max(axis=1)


def test_sgs_reproduces_the_variogram(simulated):
    grid, _, _, model, aniso, res = simulated
    ns = res["transform"]
    y = grid.full(ns.transform(res["realisations"][:10]))    # normal scores (10, nz, ny, nx)
    ratio = aniso.ratios[1]
    # along x (horizontal) and z (vertical), lags within the range, averaged over 10 realisations
    for axis, step, lags in ((3, grid.dx, (1, 2, 3)), (1, grid.dz, (1, 2, 3, 4))):
        for lag in lags:
            a = np.take(y, range(lag, y.shape[axis]), axis=axis)
            b = np.take(y, range(y.shape[axis] - lag), axis=axis)
            gam = 0.5 * np.nanmean((a - b) ** 2)
            h = lag * step / (ratio if axis == 1 else 1.0)   # distance in the model's (horizontal) units
            expect = float(model.gamma(np.array([h]))[0])
            assert abs(gam - expect) < 0.2 * max(expect, 0.3), (axis, lag, gam, expect)


def test_p10_p90_contains_true_tonnage(simulated):
    grid, _, _, _, _, res = simulated
    truth = TruthField(0).grade(grid.centres())
    sim = grade_tonnage(grid, truth, 1.8, CUTOFFS, realisations=res["realisations"])
    inside = (sim.tonnes_p10 <= sim.tonnes) & (sim.tonnes <= sim.tonnes_p90)   # tonnes = the truth here
    assert inside.sum() >= 8, sim[["cutoff", "tonnes", "tonnes_p10", "tonnes_p90"]]


def test_sgs_is_deterministic_per_seed():
    grid = VoxelGrid.from_surfaces((np.full((40, 40), 10.0), Affine(1, 0, 0, 0, -1, 40)), 0.0, 1.0, 1.0, 1.0)
    xyz = np.array([[0.5, 39.5, 0.5], [20.5, 20.5, 5.5], [35.5, 3.5, 9.5]])
    v = np.array([1.0, 2.0, 3.0])
    model = Spherical(1.0, 8.0, 0.0)
    a = simulate(grid, xyz, v, model, n_realisations=4, seed=11)["realisations"]
    b = simulate(grid, xyz, v, model, n_realisations=4, seed=11)["realisations"]
    c = simulate(grid, xyz, v, model, n_realisations=4, seed=12)["realisations"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
