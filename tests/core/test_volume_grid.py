"""core.volume grid and grade–tonnage: analytic box, wedge and cone bodies between surfaces."""
import math

import numpy as np
import pandas as pd
import pytest
from affine import Affine

from remine.core.errors import InputError, RemineWarning
from remine.core.volume import VoxelGrid, grade_tonnage, probability_above
from remine.core.volume.tonnage import cell_tonnes, realisation_curves

PX = 0.5
TR = Affine(PX, 0.0, 1000.0, 0.0, -PX, 5000.0)


def _xy(shape):
    yy, xx = (np.mgrid[0:shape[0], 0:shape[1]] + 0.5) * PX
    return xx, yy


def test_box_fractions_volume_and_tonnage():
    top = np.full((60, 80), 10.0)                       # 40 m x 30 m, 2 m to 10 m
    grid = VoxelGrid.from_surfaces((top, TR), 2.0, dx=4.0, dy=5.0, dz=3.0)
    assert grid.shape == (4, 6, 10) and grid.z0 == 0.0
    # layers 0-3 (1/3 full), 3-6, 6-9 (full), 9-12 (1/3)
    np.testing.assert_allclose(grid.fraction[:, 2, 3], [1 / 3, 1, 1, 1 / 3], rtol=1e-6)
    assert grid.volume_m3 == pytest.approx(40 * 30 * 8, rel=1e-6)  # float32 fractions
    df = grade_tonnage(grid, np.full(grid.shape, 5.0), 1.5, [0, 5, 6])
    assert list(df.columns) == ["cutoff", "tonnes", "mean_grade", "metal"]
    np.testing.assert_allclose(df.tonnes, [40 * 30 * 8 * 1.5] * 2 + [0], rtol=1e-6)
    np.testing.assert_allclose(df.metal[:2], 40 * 30 * 8 * 1.5 * 5 * 1e-6, rtol=1e-6)
    assert np.isnan(df.mean_grade[2])


def test_grade_layers_above_cutoffs():
    top = np.full((40, 40), 10.0)                       # 20 x 20 m, 0 to 10 m, 1 m layers; grade = z of the centre
    grid = VoxelGrid.from_surfaces((top, TR), 0.0, 5.0, 5.0, 1.0)
    grade = np.broadcast_to((np.arange(grid.nz) + 0.5)[:, None, None], grid.shape)
    df = grade_tonnage(grid, grade, 2.0, [4.5, 9.0])
    np.testing.assert_allclose(df.tonnes, [400 * 6 * 2.0, 400 * 1 * 2.0], rtol=1e-6)
    np.testing.assert_allclose(df.mean_grade, [7.0, 9.5], rtol=1e-6)
    np.testing.assert_allclose(df.metal, df.tonnes * df.mean_grade * 1e-6, rtol=1e-9)


def test_wedge_volume():
    xx, _ = _xy((80, 120))                              # 60 m x 40 m, thickness 0.1 x (0 to 6 m)
    base = 50.0 + 0.02 * xx
    grid = VoxelGrid.from_surfaces((base + 0.1 * xx, TR), (base, TR), 7.0, 7.0, 0.4)
    assert grid.volume_m3 == pytest.approx(40 * 0.1 * 60 ** 2 / 2, rel=5e-3)
    assert grid.volume_m3 == pytest.approx(grid.info["raster_volume_m3"], rel=1e-6)


def test_cone_volume_and_tonnage():
    xx, yy = _xy((200, 200))                            # cone of radius 40 m, height 12 m on a 100 m square
    r = np.hypot(xx - 50, yy - 50)
    top = 100.0 + 12.0 * np.clip(1 - r / 40.0, 0, None)
    grid = VoxelGrid.from_surfaces((top, TR), 100.0, 2.5, 2.5, 0.5)
    cone = math.pi * 40 ** 2 * 12 / 3
    assert grid.volume_m3 == pytest.approx(cone, rel=5e-3)
    assert grid.volume_m3 == pytest.approx(grid.info["raster_volume_m3"], rel=1e-6)
    df = grade_tonnage(grid, np.ones(grid.shape), 1.6, [0.5])
    assert df.tonnes[0] == pytest.approx(1.6 * cone, rel=5e-3)


def test_realisation_percentiles_and_probability():
    grid = VoxelGrid.from_surfaces((np.full((20, 20), 4.0), TR), 0.0, 5.0, 5.0, 1.0)   # 4 x 2 x 2 cells
    base = np.linspace(0, 10, grid.active.sum())
    reals = np.stack([base + s for s in range(11)])     # tonnes above 5: increasing with the shift
    df = grade_tonnage(grid, base, 1.0, [5.0], realisations=reals)
    each = [grade_tonnage(grid, r, 1.0, [5.0]).tonnes[0] for r in reals]
    for p in (10, 50, 90):
        assert df[f"tonnes_p{p}"][0] == pytest.approx(np.percentile(each, p))
        assert f"metal_p{p}" in df and f"mean_grade_p{p}" in df
    prob = probability_above(grid, reals, [5.0])
    assert prob.shape == (1,) + grid.shape
    np.testing.assert_allclose(prob[0][grid.active], (reals >= 5.0).mean(axis=0))
    # the same table from the realisations' curves (what the simulation reduces to on a cluster)
    curves = realisation_curves(cell_tonnes(grid, 1.0), reals, np.array([5.0]))
    pd.testing.assert_frame_equal(grade_tonnage(grid, base, 1.0, [5.0], curves=curves), df, check_exact=True)
    with pytest.raises(InputError, match=r"curves of shape \(11, 2, 1\); expected \(r, 2, 2\)"):
        grade_tonnage(grid, base, 1.0, [5.0, 6.0], curves=curves)


def test_bad_surfaces():
    top = np.full((40, 40), 10.0)
    top[:5, :5] = -1.0
    with pytest.warns(RemineWarning, match="25 pixels have the top below the base"):
        grid = VoxelGrid.from_surfaces((top, TR), 0.0, 5.0, 5.0, 1.0)
    assert grid.info["top_below_base_px"] == 25
    assert grid.volume_m3 == pytest.approx((1600 - 25) * 10 * PX * PX, rel=1e-6)
    coarse = Affine(1.0, 0.0, 1000.0, 0.0, -1.0, 5000.0)
    with pytest.warns(RemineWarning, match="resampled"):
        g2 = VoxelGrid.from_surfaces((np.full((40, 40), 10.0), TR), (np.zeros((20, 20)), coarse), 5.0, 5.0, 1.0)
    assert g2.info["base_resampled"] and g2.volume_m3 == pytest.approx(20 * 20 * 10, rel=1e-6)
    with pytest.raises(InputError, match=r"more than the limit.*GiB"):
        VoxelGrid.from_surfaces((top, TR), 0.0, 0.5, 0.5, 0.01, max_cells=10 ** 5)
    with pytest.raises(InputError, match="both constants"):
        VoxelGrid.from_surfaces(10.0, 0.0, 1.0, 1.0, 1.0)
    with pytest.raises(InputError, match="dz=0"):
        VoxelGrid.from_surfaces((top, TR), 0.0, 1.0, 1.0, 0)


def test_base_in_another_crs_is_reprojected():
    """Top in UTM 30N (40 m x 30 m at 10 m), base a plane 2 m + 5 % eastwards given on a 0.5 m grid in UTM 31N
    (about 4° rotated against the top's grid): reprojected onto the top's grid with a warning; the volume is the
    analytic 40 x 30 x (10 - 3) m³."""
    from pyproj import Transformer
    from rasterio.crs import CRS

    x0, y0 = 500000.0, 4500000.0
    top = (np.full((60, 80), 10.0), Affine(PX, 0.0, x0, 0.0, -PX, y0), CRS.from_epsg(32630))
    to31, to30 = (Transformer.from_crs(a, b, always_xy=True) for a, b in (("EPSG:32630", "EPSG:32631"),
                                                                          ("EPSG:32631", "EPSG:32630")))
    corners = np.array(to31.transform([x0 - 20, x0 + 60, x0 - 20, x0 + 60], [y0 + 20, y0 + 20, y0 - 50, y0 - 50]))
    west, north = corners[0].min(), corners[1].max()
    cols, rows = int(np.ceil(np.ptp(corners[0]) / PX)), int(np.ceil(np.ptp(corners[1]) / PX))
    xx, yy = np.meshgrid(west + (np.arange(cols) + 0.5) * PX, north - (np.arange(rows) + 0.5) * PX)
    east30, _ = to30.transform(xx, yy)
    base = (2.0 + 0.05 * (east30 - x0), Affine(PX, 0.0, west, 0.0, -PX, north), CRS.from_epsg(32631))
    with pytest.warns(RemineWarning, match="the base surface has another CRS than the reference surface.*resampled"):
        grid = VoxelGrid.from_surfaces(top, base, 5.0, 5.0, 1.0)
    assert grid.info["base_resampled"] and grid.crs == CRS.from_epsg(32630)
    assert grid.volume_m3 == pytest.approx(40 * 30 * 7.0, rel=5e-3)
    np.testing.assert_allclose(grid.base[0], 2.0 + 0.05 * (np.arange(8) * 5 + 2.5), atol=0.01)
