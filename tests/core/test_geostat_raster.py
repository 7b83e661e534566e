"""krige_raster: block-wise prediction/variance GeoTIFFs (real files), equal to point predictions at cell
centres, cancel-safe, and every bad input leaves no output file."""
import os

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from remine.core.blocks import GridSpec
from remine.core.errors import CancelledError, InputError, RemineWarning
from remine.core.geostat import ExternalDriftKriging, OrdinaryKriging, Spherical, krige_raster
from remine.core.points import PointTable
from remine.core.progress import Progress

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")
LOGZN = Spherical(psill=0.59060780221, range_=897.0209098, nugget=0.05066242682)
RD = CRS.from_epsg(28992)


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    return PointTable(d[["x", "y"]].to_numpy(float), np.log(d["zinc"].to_numpy(float)), RD, np.arange(len(d)), d)


def _centres(path):
    with rasterio.open(path) as src:
        cols, rows = np.meshgrid(np.arange(src.width) + 0.5, np.arange(src.height) + 0.5)
        x, y = src.transform * (cols, rows)
        return np.column_stack([x.ravel(), y.ravel()]), src.read(1).ravel(), src.crs


def test_krige_raster_equals_point_kriging_and_is_block_independent(meuse, tmp_path):
    extent = (178600, 329700, 181400, 333600)
    out = krige_raster(meuse, extent=extent, pixel_size=40, crs="EPSG:28992", out_prefix=str(tmp_path / "zn"),
                       model=LOGZN, n_neighbors=32)
    assert os.path.exists(out["prediction"]) and os.path.exists(out["variance"])
    xy, pred, crs = _centres(out["prediction"])
    _, var, _ = _centres(out["variance"])
    assert crs == RD and pred.shape == (70 * 98,)
    e, v = OrdinaryKriging(LOGZN, n_neighbors=32).fit(meuse.coords, meuse.values).predict(xy)
    np.testing.assert_allclose(pred, e, rtol=1e-6)
    np.testing.assert_allclose(var, v, rtol=1e-5)
    small = krige_raster(meuse, extent=extent, pixel_size=40, crs="EPSG:28992", out_prefix=str(tmp_path / "s"),
                         model=LOGZN, max_bytes=200_000)
    _, pred_small, _ = _centres(small["prediction"])
    np.testing.assert_array_equal(pred_small, pred)
    assert out["n_points"] == 155 and out["model"]["model"] == "spherical"


def test_template_raster_auto_model_and_points_file(meuse, tmp_path):
    tpl = str(tmp_path / "tpl.tif")
    with rasterio.open(tpl, "w", driver="GTiff", width=30, height=20, count=1, dtype="float32", crs=RD,
                       transform=Affine(50, 0, 179000, 0, -50, 333000)) as dst:
        dst.write(np.zeros((1, 20, 30), np.float32))
    csv = tmp_path / "pts.csv"
    d = meuse.table[["x", "y", "zinc"]]
    d.to_csv(csv, index=False)
    from remine.core.points import read_points

    pts = read_points(str(csv), "zinc", crs="EPSG:28992")
    out = krige_raster(pts, tpl, str(tmp_path / "auto"))
    with rasterio.open(out["prediction"]) as src:
        assert (src.width, src.height) == (30, 20) and src.transform == Affine(50, 0, 179000, 0, -50, 333000)
        assert np.all(np.isfinite(src.read(1)))
    assert out["model"]["range_"] > 0


def test_external_drift_rasters(meuse, tmp_path):
    grid = GridSpec(40, 30, Affine(100, 0, 178500, 0, -100, 333700), RD)
    drift_path = str(tmp_path / "drift.tif")
    rows, cols = np.mgrid[0:30, 0:40]
    drift = (np.sin(cols / 7.0) + rows / 30.0).astype(np.float32)
    with rasterio.open(drift_path, "w", driver="GTiff", width=40, height=30, count=1, dtype="float32", crs=RD,
                       transform=grid.transform) as dst:
        dst.write(drift[None])
    out = krige_raster(meuse, grid, str(tmp_path / "ked"), model=LOGZN, drift=[drift_path])
    xy, pred, _ = _centres(out["prediction"])
    from remine.core.geostat.raster import sample_rasters

    kr = ExternalDriftKriging(LOGZN).fit(meuse.coords, meuse.values, drift=sample_rasters([drift_path], meuse.coords))
    e, _ = kr.predict(xy, drift=drift.reshape(-1, 1))
    np.testing.assert_allclose(pred, e, rtol=1e-5)


class _CancelAfterFirst(Progress):
    def __init__(self):
        self.calls = 0

    def _report(self, fraction, message):
        self.calls += 1

    def is_cancelled(self):
        return self.calls >= 1


def test_cancel_leaves_no_output(meuse, tmp_path):
    prefix = str(tmp_path / "c")
    with pytest.raises(CancelledError):
        krige_raster(meuse, extent=(178600, 329700, 181400, 333600), pixel_size=10, crs="EPSG:28992",
                     out_prefix=prefix, model=LOGZN, max_bytes=2_000_000, progress=_CancelAfterFirst())
    assert os.listdir(tmp_path) == []


def test_points_in_another_crs_are_reprojected_to_the_grid(meuse, tmp_path):
    """Meuse (RD New) kriged on a UTM 31N grid: the points are reprojected (said), and a cell holds what kriging
    in RD New gives at the same place (UTM's scale and grid convergence there move distances by < 0.1 %)."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:28992", "EPSG:32631", always_xy=True)
    x, y = to_utm.transform(180000.0, 331000.0)
    grid = GridSpec(3, 3, Affine(20.0, 0, x - 30, 0, -20.0, y + 30), CRS.from_epsg(32631))
    with pytest.warns(RemineWarning, match="points reprojected from EPSG:28992 to the grid CRS EPSG:32631"):
        out = krige_raster(meuse, grid, str(tmp_path / "utm"), model=LOGZN)
    with rasterio.open(out["prediction"]) as ds:
        centre = ds.read(1)[1, 1]
    expected, _ = OrdinaryKriging(LOGZN).fit(meuse.coords, meuse.values).predict(np.array([[180000.0, 331000.0]]))
    assert centre == pytest.approx(expected[0], abs=1e-4)   # 3.9e-6 here (float32 output)


def test_bad_inputs_leave_no_output(meuse, tmp_path):
    prefix = str(tmp_path / "bad")
    extent = (178600, 329700, 181400, 333600)
    geo = PointTable(np.array([[5.1, 52.0], [5.2, 52.1], [5.3, 52.0]]), np.array([1.0, 2, 3]),
                     CRS.from_epsg(4326), np.arange(3), None)
    with pytest.raises(InputError, match="geographic .* reproject"):
        krige_raster(geo, extent=(5, 51, 6, 53), pixel_size=0.01, crs="EPSG:4326", out_prefix=prefix, model=LOGZN)
    with pytest.raises(InputError, match="at least 3"):
        krige_raster((meuse.coords[:2], meuse.values[:2]), extent=extent, pixel_size=40, out_prefix=prefix,
                     model=LOGZN)
    with pytest.raises(InputError, match="extent .* invalid"):
        krige_raster(meuse, extent=(1, 1, 0, 0), pixel_size=40, out_prefix=prefix, model=LOGZN)
    with pytest.raises(InputError, match="no output grid"):
        krige_raster(meuse, out_prefix=prefix, model=LOGZN)
    with pytest.raises(InputError):
        krige_raster(meuse, extent=extent, pixel_size=40, crs="EPSG:28992",
                     out_prefix=str(tmp_path / "missing_dir" / "x"), model=LOGZN)
    flat = PointTable(meuse.coords, np.full(155, 3.0), RD, np.arange(155), None)
    with pytest.raises(InputError, match="flat"):
        krige_raster(flat, extent=extent, pixel_size=40, crs="EPSG:28992", out_prefix=prefix)
    assert os.listdir(tmp_path) == []


def test_grid_far_outside_the_data_warns(meuse, tmp_path):
    with pytest.warns(RemineWarning, match="farther than the practical range .* extrapolation"):
        out = krige_raster(meuse, extent=(190000, 340000, 192000, 342000), pixel_size=100, crs="EPSG:28992",
                           out_prefix=str(tmp_path / "far"), model=LOGZN)
    assert out["extrapolated_fraction"] == pytest.approx(1.0)


def test_threads_executor_gives_the_same_rasters(meuse, tmp_path):
    # worker threads use the kernel without a parallel region; blocks must not depend on the executor
    kw = dict(extent=(178600, 329700, 181400, 333600), pixel_size=40, crs="EPSG:28992", model=LOGZN,
              max_bytes=300_000)
    serial = krige_raster(meuse, out_prefix=str(tmp_path / "a"), **kw)
    threads = krige_raster(meuse, out_prefix=str(tmp_path / "b"), executor="threads", **kw)
    for key in ("prediction", "variance"):
        np.testing.assert_array_equal(_centres(serial[key])[1], _centres(threads[key])[1])
