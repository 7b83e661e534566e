"""core.volume 3D kriging and the 3D anisotropic variogram fit, against R gstat, PyKrige and the 3D demo truth."""
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError
from remine.core.geostat import Exponential, OrdinaryKriging, Spherical
from remine.core.volume import VoxelGrid
from remine.core.volume.demo3d import H_RANGE, V_RANGE, VOXEL, TruthField
from remine.core.volume.estimate import check_samples, krige_grid
from remine.core.volume.variogram3d import directional_variogram_3d, fit_anisotropic_3d

GSTAT3D = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")

@pytest.fixture(scope="module")
def small3d():
    rng = np.random.default_rng(7)
    xyz = np.column_stack([rng.uniform(0, 100, 60), rng.uniform(0, 100, 60), rng.uniform(0, 10, 60)])
    z = np.sin(xyz[:, 0] / 20) + np.cos(xyz[:, 2] / 2) + 0.1 * rng.standard_normal(60)
    t = np.column_stack([rng.uniform(0, 100, 200), rng.uniform(0, 100, 200), rng.uniform(0, 10, 200)])
    return xyz, z, t


@pytest.mark.parametrize("model, pk_name, pk_params", [
    (Spherical(1.0, 60.0, 0.05), "spherical", [1.05, 60.0, 0.05]),     # PyKrige: full sill first
    (Exponential(0.8, 20.0, 0.1), "exponential", [0.9, 60.0, 0.1]),   # PyKrige's range = 3a
])
def test_3d_anisotropic_ok_equals_pykrige(small3d, model, pk_name, pk_params):
    from pykrige.ok3d import OrdinaryKriging3D

    xyz, z, t = small3d
    ratio = 0.2                                          # vertical range = 0.2 x horizontal range
    pk = OrdinaryKriging3D(xyz[:, 0], xyz[:, 1], xyz[:, 2], z, variogram_model=pk_name,
                           variogram_parameters=pk_params, anisotropy_scaling_z=1.0 / ratio)
    pe, pv = pk.execute("points", t[:, 0], t[:, 1], t[:, 2], backend="vectorized")
    est, var = OrdinaryKriging(model, n_neighbors=None, anisotropy=(0, 0, 0, 1.0, ratio)).fit(xyz, z).predict(t)
    np.testing.assert_allclose(est, pe, atol=1e-6)
    np.testing.assert_allclose(var, pv, atol=1e-6)


@pytest.fixture(scope="module")
def gstat3d():
    """300 samples, 500 targets and gstat 2.1-0's 3D OK (tests/data/geostat/make_gstat3d_reference.R)."""
    s = pd.read_csv(os.path.join(GSTAT3D, "gstat3d_samples.csv"))
    t = pd.read_csv(os.path.join(GSTAT3D, "gstat3d_targets.csv"))
    return s[["x", "y", "z"]].to_numpy(), s.v.to_numpy(), t[["x", "y", "z"]].to_numpy(), t


def test_3d_anisotropic_ok_equals_gstat_global(gstat3d):
    """gstat ``anis = c(30, 10, 5, 0.5, 0.1)`` (azimuth, dip, plunge, two ratios), every sample: remine's mapping."""
    xyz, v, t, ref = gstat3d
    est, var = OrdinaryKriging(Spherical(1.0, 60.0, 0.1), n_neighbors=None,
                               anisotropy=(30, 10, 5, 0.5, 0.1)).fit(xyz, v).predict(t)
    np.testing.assert_allclose(est, ref.pred_global, rtol=0, atol=1e-6)
    np.testing.assert_allclose(var, ref.var_global, rtol=0, atol=1e-6)


def test_3d_anisotropic_ok_32_neighbours_equals_gstat(gstat3d):
    """gstat ``krige(nmax = 32)`` with ``anis = c(30, 0, 0, 0.5, 0.1)``, the 32 nearest in the anisotropic space.

    gstat picks its ``nmax`` nearest by Euclidean distance in the given coordinates, remine (like PyKrige and
    GSLIB's search ellipsoid) in the anisotropy-corrected space; the reference therefore gave gstat the mapped
    coordinates and the isotropic model (checked in the R script to equal its own ``anis`` globally). Tie-free:
    every target's 32nd and 33rd neighbours are ≥ 1.6 mm apart in that space.
    """
    xyz, v, t, ref = gstat3d
    est, var = OrdinaryKriging(Spherical(1.0, 60.0, 0.1), n_neighbors=32,
                               anisotropy=(30, 0, 0, 0.5, 0.1)).fit(xyz, v).predict(t)
    np.testing.assert_allclose(est, ref.pred_nmax32, rtol=0, atol=1e-6)
    np.testing.assert_allclose(var, ref.var_nmax32, rtol=0, atol=1e-6)
    # the neighbourhood matters here: every sample gives other values
    glob, _ = OrdinaryKriging(Spherical(1.0, 60.0, 0.1), n_neighbors=None,
                              anisotropy=(30, 0, 0, 0.5, 0.1)).fit(xyz, v).predict(t)
    assert np.abs(glob - ref.pred_nmax32).max() > 1e-3


def test_3d_anisotropic_ok_32_neighbours_equals_pykrige(gstat3d):
    """PyKrige ``OrdinaryKriging3D(n_closest_points=32)``, rotated anisotropy of gstat ``c(30, 0, 0, 0.5, 0.1)``.

    PyKrige's major axis is x after a counter-clockwise rotation by ``anisotropy_angle_z`` (60° from East = azimuth
    30°), and it stretches the other axes by ``anisotropy_scaling_*`` = major range / their range (2 and 10).
    """
    from pykrige.ok3d import OrdinaryKriging3D

    xyz, v, t, _ = gstat3d
    pk = OrdinaryKriging3D(xyz[:, 0], xyz[:, 1], xyz[:, 2], v, variogram_model="spherical",
                           variogram_parameters=[1.1, 60.0, 0.1],   # PyKrige: full sill first
                           anisotropy_scaling_y=2.0, anisotropy_scaling_z=10.0, anisotropy_angle_z=60.0)
    pe, pv = pk.execute("points", t[:, 0], t[:, 1], t[:, 2], backend="loop", n_closest_points=32)
    est, var = OrdinaryKriging(Spherical(1.0, 60.0, 0.1), n_neighbors=32,
                               anisotropy=(30, 0, 0, 0.5, 0.1)).fit(xyz, v).predict(t)
    np.testing.assert_allclose(est, pe, rtol=0, atol=1e-6)
    np.testing.assert_allclose(var, pv, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def demo3d(demo_scene):
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], *VOXEL)
    holes = gpd.read_file(demo_scene["holes"])
    xyz = np.column_stack([holes.x, holes.y, holes.z_m])
    return grid, xyz, holes.Zn_ppm.to_numpy(), holes


def test_demo_holes_and_truth_voxels(demo_scene, demo3d):
    import rasterio

    grid, xyz, zn, holes = demo3d
    assert holes.hole_id.nunique() == 40 and len(holes) > 300
    assert {"depth_m", "z_m", "Zn_ppm", "Cu_ppm"} <= set(holes.columns)
    # several depths per hole, z = top - depth, inside the body
    per_hole = holes.groupby("hole_id").depth_m.count()
    assert per_hole.min() >= 2 and per_hole.median() >= 8
    top = grid.surface_at(xyz[:, :2], "top")
    assert np.all(xyz[:, 2] <= top + VOXEL[2]) and np.all(xyz[:, 2] >= grid.surface_at(xyz[:, :2], "base"))
    with rasterio.open(demo_scene["truth_voxels"]) as ds:
        truth = ds.read()
        assert ds.count == grid.nz and (ds.width, ds.height) == (grid.nx, grid.ny)
    # the truth raster is the truth field at the voxel centres, NaN outside the body
    np.testing.assert_allclose(truth[grid.active], TruthField(0).grade(grid.centres()), rtol=1e-6)
    assert np.isnan(truth[~grid.active]).all()
    # samples are the truth with a 5 % lab error
    ratio = zn / TruthField(0).grade(xyz)
    assert 0.02 < np.std(np.log(ratio)) < 0.08
    # grades vary with depth: layering makes the vertical variogram rise within a few metres
    ev = directional_variogram_3d(xyz, np.log(zn), "vertical", cutoff=4.0, n_lags=8)
    assert ev.gamma[0] < 0.5 * ev.gamma[-1]


def test_anisotropic_fit_and_kriging_on_demo(demo3d):
    grid, xyz, zn, _ = demo3d
    model, aniso, evs = fit_anisotropic_3d(xyz, zn)
    range_h, range_v = model.range_, evs["range_v"]
    # the truth: gaussian covariance with 35 m / 2.5 m correlation lengths (plus a 4 m layering)
    assert 10 < range_h < 3 * H_RANGE and 0.5 * V_RANGE < range_v < 3 * V_RANGE
    assert aniso.ratios[1] == pytest.approx(range_v / range_h) and aniso.ratios[1] < 0.3
    est, var = krige_grid(grid, xyz, zn, model, aniso)
    act = grid.active
    assert np.isfinite(est[act]).all() and np.isnan(est[~act]).all() and (var[act] >= -1e-9).all()
    truth = TruthField(0).grade(grid.centres())
    r_aniso = np.corrcoef(est[act], truth)[0, 1]
    iso, _ = krige_grid(grid, xyz, zn, model)           # the same model without anisotropy
    r_iso = np.corrcoef(iso[act], truth)[0, 1]
    assert r_aniso > 0.6 and r_aniso > r_iso + 0.05, (r_aniso, r_iso)


def test_bad_samples(demo3d):
    grid, xyz, zn, _ = demo3d
    moved = xyz.copy()
    moved[0, 2] += 50.0                                  # above the top
    moved[1, 0] -= 1e4                                    # outside the footprint
    _, v, problems = check_samples(grid, moved, zn)
    assert list(problems["above_top"]) == [0] and list(problems["outside"]) == [1] and len(v) == len(zn) - 2
    with pytest.raises(InputError, match="constant"):
        check_samples(grid, xyz, np.full(len(zn), 3.0))
