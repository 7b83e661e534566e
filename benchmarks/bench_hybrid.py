"""Hybrid kriging benchmark (issue 17): training time, prediction time against remine's own OK, block-wise memory.

Cases, each in its own subprocess (peak RSS = VmHWM of that process alone), on a synthetic field: 400 points in a
10 km square, a spherical variogram, 3 covariate rasters (smooth random fields; the target is a non-linear
function of the first plus a spatially correlated part):
  train – ``HybridKrigingRegressor(n_ensemble=5)`` with its defaults (300 epochs at most, early stopping) fitted
          on the 400 points with the 3 covariates; wall and CPU seconds (goal: <= 60 s on 2 cores).
  grid  – prediction with standard deviation of a 500 x 500 grid (250k cells) with the covariates, against
          remine's ``OrdinaryKriging`` (32 neighbours, with variance) on the same grid in the same process (goal:
          <= 15 s); the ensemble is trained with ``max_epochs=20`` there (prediction cost does not depend on it).
  big   – ``hybrid_kriging_raster`` of ``--big-cells`` cells (default 10^7) block-wise with one covariate raster
          (default 256 MB budget): peak RSS (goal: <= 1.5 GB) and time; ``n_ensemble=--big-members``.

    python benchmarks/bench_hybrid.py --out bench-output/bench_hybrid.json
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

EXTENT = 10_000.0


def field(rng, size, scale):
    from remine.core.demo import smooth_field

    return smooth_field(rng, (size, size), scale)


def data(n=400, size=500, seed=0):
    """Points (n, 2), values (n,), covariates at the points (n, 3), grid coords (size², 2), grid covariates."""
    rng = np.random.default_rng(seed)
    cov = np.stack([field(rng, size, size / s) for s in (40, 15, 8)])
    spatial = field(rng, size, size / 6)
    z = 3.0 * np.sin(2.0 * cov[0]) + 1.5 * np.abs(cov[0]) + 0.5 * cov[1] + spatial
    pick = rng.choice(size * size, n, replace=False)
    r, c = np.unravel_index(pick, (size, size))
    px = EXTENT / size
    xy = np.column_stack([(c + 0.5) * px, EXTENT - (r + 0.5) * px])
    rows, cols = np.mgrid[0:size, 0:size]
    grid = np.column_stack([(cols.ravel() + 0.5) * px, EXTENT - (rows.ravel() + 0.5) * px])
    return xy, z[r, c] + 0.1 * rng.standard_normal(n), cov[:, r, c].T, grid, cov.reshape(3, -1).T


def side_train():
    from remine.core.geostat import HybridKrigingRegressor

    xy, v, cov, _, _ = data()
    t, c = time.perf_counter(), time.process_time()
    reg = HybridKrigingRegressor("spherical", n_ensemble=5).fit(xy, v, cov)
    _common.child_report(time.perf_counter() - t, cpu_seconds=time.process_time() - c,
                         epochs=[len(h["loss"]) for h in reg.histories_],
                         best_epochs=[h["best_epoch"] for h in reg.histories_], std_scale=reg.std_scale_)


def side_grid():
    from remine.core.geostat import HybridKrigingRegressor, OrdinaryKriging

    xy, v, cov, grid, gcov = data()
    reg = HybridKrigingRegressor("spherical", n_ensemble=5, max_epochs=20).fit(xy, v, cov)
    reg.predict(grid[:5000], gcov[:5000], return_std=True)  # warm-up (numba caches, torch)
    t, c = time.perf_counter(), time.process_time()
    est, _ = reg.predict(grid, gcov, return_std=True)
    hybrid_s, hybrid_cpu = time.perf_counter() - t, time.process_time() - c
    ok = OrdinaryKriging(reg.model_, n_neighbors=32).fit(xy, v)
    ok.predict(grid[:5000])
    t, c = time.perf_counter(), time.process_time()
    ok.predict(grid)
    ok_s, ok_cpu = time.perf_counter() - t, time.process_time() - c
    _common.child_report(hybrid_s, cpu_seconds=hybrid_cpu, ok_seconds=ok_s, ok_cpu_seconds=ok_cpu,
                         ratio_to_ok=hybrid_s / ok_s, cells=len(grid), finite=bool(np.isfinite(est).all()))


def side_big(cells, members):
    import geopandas as gpd
    import rasterio
    from affine import Affine

    from remine.core.geostat.hybrid_map import hybrid_kriging_raster

    xy, v, _, _, _ = data()
    side = int(round(np.sqrt(cells)))
    with tempfile.TemporaryDirectory() as tmp:
        pts = os.path.join(tmp, "points.gpkg")
        gpd.GeoDataFrame({"z": v}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:32630").to_file(pts)
        cov_path = os.path.join(tmp, "cov.tif")
        px = EXTENT / side
        profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="float32", crs="EPSG:32630",
                       transform=Affine(px, 0, 0, 0, -px, EXTENT), tiled=True, blockxsize=256, blockysize=256)
        rng = np.random.default_rng(1)
        with rasterio.open(cov_path, "w", **profile) as dst:  # a smooth covariate written strip by strip
            for r0 in range(0, side, 256):
                h = min(256, side - r0)
                yy = (r0 + np.arange(h))[:, None] / side
                xx = np.arange(side)[None, :] / side
                dst.write((np.sin(9 * xx) * np.cos(7 * yy) + 0.01 * rng.standard_normal((h, side)))
                          .astype(np.float32)[None], window=((r0, r0 + h), (0, side)))
        pts_cov = np.sin(9 * xy[:, 0] / EXTENT) * np.cos(7 * (EXTENT - xy[:, 1]) / EXTENT)
        gdf = gpd.read_file(pts)
        gdf["z"] = v + 2.0 * pts_cov
        gdf.to_file(pts)
        t, c = time.perf_counter(), time.process_time()
        res = hybrid_kriging_raster(pts, "z", os.path.join(tmp, "p.tif"), os.path.join(tmp, "s.tif"),
                                    covariates=[cov_path], n_ensemble=members, max_epochs=20)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        with rasterio.open(res["prediction"]) as src:
            shape = src.shape
    _common.child_report(seconds, cpu_seconds=cpu, cells=shape[0] * shape[1], members=members)


def run_side(name, *args):
    """One case in its own process, with the host's 1-minute load average before and after (a shared host)."""
    before = os.getloadavg()[0]
    r = _common.run_side(__name__, name, *args)
    return dict(r, load_before=before, load_after=os.getloadavg()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="JSON result file")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--cases", default="train,grid,big")
    ap.add_argument("--big-cells", type=int, default=10_000_000)
    ap.add_argument("--big-members", type=int, default=5)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side == "train":
        return side_train()
    if args.side == "grid":
        return side_grid()
    if args.side == "big":
        return side_big(int(args.args[0]), int(args.args[1]))
    import torch

    result = {"machine": _common.machine(), "torch": torch.__version__, "cases": {}}
    cases = args.cases.split(",")
    if "train" in cases:
        r = run_side("train")
        result["cases"]["train_400_points_5_members"] = dict(r, goal_seconds=60, met=r["seconds"] <= 60)
        _common.write_json(args.out, result)  # after every case: a long case stopped keeps the others
    if "grid" in cases:
        r = run_side("grid")
        result["cases"]["predict_250k_cells"] = dict(r, goal_seconds=15, met=r["seconds"] <= 15)
        _common.write_json(args.out, result)
    if "big" in cases:
        r = run_side("big", args.big_cells, args.big_members)
        result["cases"]["blockwise_big"] = dict(r, goal_peak_rss_mb=1536, met=r["peak_rss_mb"] <= 1536)
    _common.write_json(args.out, result)


if __name__ == "__main__":
    main()
