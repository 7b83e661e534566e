"""Kriging benchmark: remine vs R gstat 2.1 and PyKrige 1.7 (C backend), same data, same run.

Cases (issue 7):
  grid  – 10,000 points -> 500 x 500 grid (250k cells), estimate + variance, 32 neighbours, spherical model;
          remine, PyKrige (``n_closest_points=32``, backend "C") and gstat (``krige(nmax=32)``); equality of
          remine with PyKrige and gstat.
  big   – 10,000 points -> 10^7 cells through ``krige_raster`` (block-wise GeoTIFFs); remine only (the peers
          would need minutes and, for PyKrige, memory growing with the grid).
  loo   – leave-one-out, 32 neighbours: remine on N = 10,000; remine and gstat ``krige.cv(nmax=32)`` on the same
          subset of ``--loo-subset`` points (gstat on all 10,000 takes ~5 min); remine's residuals compared with
          an explicit refit-per-point loop on 50 points.

Every side runs in its own subprocess so that its peak RSS (VmHWM, or ``/usr/bin/time -v`` for R) is
its own. The grid case reports the best of 3 runs for remine and gstat. Timings cover the kriging call only
(data loading, imports and numba's cached compile excluded), as
wall-clock ``seconds`` and as ``cpu_seconds`` (process CPU time, all threads), which is the fairer comparison on
a shared, loaded machine; remine uses up to all cores (numba threads), gstat and PyKrige one.

    python benchmarks/bench_kriging.py --out bench-output/bench_kriging.json
"""
import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

MODEL = {"psill": 1.0, "range_": 3000.0, "nugget": 0.1}  # spherical, metres
REPEATS = 3  # grid case of remine and gstat: best of 3 runs (PyKrige, ~20-70 s a run, runs once)
EXTENT = 10_000.0


def make_points(n, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, EXTENT, (n, 2))
    z = np.sin(xy[:, 0] / 1500) + np.cos(xy[:, 1] / 2000) + rng.normal(0, 0.3, n)
    return xy, z


def grid_axes(size):
    step = EXTENT / size
    return np.arange(size) * step + step / 2


# ---------------------------------------------------------------------------------------------- workers
def worker_remine_grid(d, k):
    from remine.core.geostat import OrdinaryKriging, Spherical

    xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
    g = grid_axes(int(np.load(os.path.join(d, "size.npy"))))
    gx, gy = np.meshgrid(g, g)
    targets = np.column_stack([gx.ravel(), gy.ravel()])
    ok = OrdinaryKriging(Spherical(**MODEL), n_neighbors=k).fit(xy, z)
    ok.predict(targets[:10000])  # compiles (or loads from numba's cache) the serial and the parallel kernel
    seconds = cpu = np.inf
    for _ in range(REPEATS):  # best of REPEATS: the machine is shared
        t0, c0 = time.perf_counter(), time.process_time()
        est, var = ok.predict(targets)
        seconds, cpu = min(seconds, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    np.save(os.path.join(d, "remine_est.npy"), est)
    np.save(os.path.join(d, "remine_var.npy"), var)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _common.peak_rss_mb()}


def worker_pykrige_grid(d, k):
    from pykrige.ok import OrdinaryKriging as PK

    xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
    g = grid_axes(int(np.load(os.path.join(d, "size.npy"))))
    t0, c0 = time.perf_counter(), time.process_time()
    pk = PK(xy[:, 0], xy[:, 1], z, variogram_model="spherical",  # PyKrige's list is [full sill, range, nugget]
            variogram_parameters=[MODEL["psill"] + MODEL["nugget"], MODEL["range_"], MODEL["nugget"]])
    est, var = pk.execute("grid", g, g, backend="C", n_closest_points=k)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(os.path.join(d, "pykrige_est.npy"), np.asarray(est).ravel())
    np.save(os.path.join(d, "pykrige_var.npy"), np.asarray(var).ravel())
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _common.peak_rss_mb()}


def worker_remine_big(d, k, cells):
    from remine.core.geostat import OrdinaryKriging, Spherical, krige_raster

    xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
    side = int(round(np.sqrt(cells)))
    OrdinaryKriging(Spherical(**MODEL), n_neighbors=k).fit(xy, z).predict(xy[:10000])  # compile / load kernels
    t0, c0 = time.perf_counter(), time.process_time()
    out = krige_raster((xy, z), extent=(0, 0, EXTENT, EXTENT), pixel_size=EXTENT / side, crs="EPSG:32633",
                       out_prefix=os.path.join(d, "big"), model=Spherical(**MODEL), n_neighbors=k)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(os.path.getsize(out[key]) for key in ("prediction", "variance"))
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _common.peak_rss_mb(), "cells": side * side,
            "output_mb": size / 2**20}


def worker_remine_loo(d, k, subset):
    from remine.core.geostat import OrdinaryKriging, Spherical, cross_validate

    xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
    kr = OrdinaryKriging(Spherical(**MODEL), n_neighbors=k)
    cross_validate(kr, xy[:10000], z[:10000])  # compile / load the kernels
    t0 = time.perf_counter()
    cv = cross_validate(kr, xy, z, scheme="loo")
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    cv_sub = cross_validate(kr, xy[:subset], z[:subset], scheme="loo")
    seconds_sub = time.perf_counter() - t0
    np.save(os.path.join(d, "remine_loo_sub.npy"), cv_sub.table["predicted"].to_numpy())
    worst = 0.0
    for i in np.linspace(0, len(z) - 1, 50).astype(int):  # explicit refit without point i
        keep = np.arange(len(z)) != i
        e, _ = OrdinaryKriging(Spherical(**MODEL), n_neighbors=k).fit(xy[keep], z[keep]).predict(xy[i:i + 1])
        worst = max(worst, abs(e[0] - cv.table["predicted"][i]))
    return {"seconds": seconds, "peak_rss_mb": _common.peak_rss_mb(), "n": len(z), "rmse": cv.metrics["rmse"],
            "subset_seconds": seconds_sub, "max_abs_diff_vs_refit_loop_50_points": worst}


GSTAT_GRID = """suppressMessages({library(sp); library(gstat)})
d <- read.csv("%(pts)s"); coordinates(d) <- ~x+y
g <- read.csv("%(grid)s"); coordinates(g) <- ~x+y
m <- vgm(%(psill)r, "Sph", %(range)r, %(nugget)r)
t <- Inf; cpu <- Inf
for (r in 1:%(repeats)d) {
  st <- system.time(k <- krige(z~1, d, g, m, nmax=%(k)d, debug.level=0))
  t <- min(t, st[["elapsed"]]); cpu <- min(cpu, st[["user.self"]] + st[["sys.self"]])
}
write.csv(data.frame(pred=k$var1.pred, var=k$var1.var), "%(out)s", row.names=FALSE)
cat(sprintf("SECONDS %%.6f %%.6f\\n", t, cpu))
"""

GSTAT_LOO = """suppressMessages({library(sp); library(gstat)})
d <- read.csv("%(pts)s"); coordinates(d) <- ~x+y
m <- vgm(%(psill)r, "Sph", %(range)r, %(nugget)r)
st <- system.time(cv <- krige.cv(z~1, d, m, nmax=%(k)d, debug.level=0))
t <- st[["elapsed"]]; cpu <- st[["user.self"]] + st[["sys.self"]]
write.csv(data.frame(pred=cv$var1.pred), "%(out)s", row.names=FALSE)
cat(sprintf("SECONDS %%.6f %%.6f\\n", t, cpu))
"""


def run_gstat(script, d):
    out = _common.run_rscript(script, d)
    if "stdout" in out:
        line = next(row.split() for row in out.pop("stdout").splitlines() if row.startswith("SECONDS"))
        out.update(seconds=float(line[1]), cpu_seconds=float(line[2]))
    return out


def rel_diff(a, b):
    return float(np.nanmax(np.abs(a - b)) / np.nanmax(np.abs(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="JSON result file")
    ap.add_argument("--n", type=int, default=10_000, help="sample points")
    ap.add_argument("--grid", type=int, default=500, help="grid side (cells) of the grid case")
    ap.add_argument("--big-cells", type=float, default=1e7, help="cells of the big case (0: skip)")
    ap.add_argument("--neighbors", type=int, default=32)
    ap.add_argument("--loo-subset", type=int, default=1000, help="points of the gstat LOO comparison")
    ap.add_argument("--skip-pykrige", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        fn = {"remine-grid": worker_remine_grid, "pykrige-grid": worker_pykrige_grid,
              "remine-big": worker_remine_big, "remine-loo": worker_remine_loo}[a.worker]
        print(json.dumps(fn(a.data, *[float(x) if "." in x or "e" in x else int(x) for x in a.args])))
        return

    import pandas as pd

    d = tempfile.mkdtemp(prefix="bench_kriging_")
    try:
        xy, z = make_points(a.n)
        np.save(os.path.join(d, "xy.npy"), xy)
        np.save(os.path.join(d, "z.npy"), z)
        np.save(os.path.join(d, "size.npy"), np.array(a.grid))
        pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "z": z}).to_csv(os.path.join(d, "pts.csv"), index=False)
        pd.DataFrame({"x": xy[:a.loo_subset, 0], "y": xy[:a.loo_subset, 1], "z": z[:a.loo_subset]}).to_csv(
            os.path.join(d, "pts_sub.csv"), index=False)
        g = grid_axes(a.grid)
        gx, gy = np.meshgrid(g, g)
        pd.DataFrame({"x": gx.ravel(), "y": gy.ravel()}).to_csv(os.path.join(d, "grid.csv"), index=False)
        params = {"psill": MODEL["psill"], "range": MODEL["range_"], "nugget": MODEL["nugget"], "k": a.neighbors,
                  "repeats": REPEATS}
        result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "load_average_at_start": os.getloadavg()},
                  "model": {"spherical": MODEL}, "n_points": a.n, "neighbors": a.neighbors}

        grid = {"cells": a.grid * a.grid}
        grid["remine"] = _common.run_worker(__file__, "remine-grid", d, a.neighbors)
        grid["gstat"] = run_gstat(GSTAT_GRID % dict(params, pts=os.path.join(d, "pts.csv"),
                                                    grid=os.path.join(d, "grid.csv"),
                                                    out=os.path.join(d, "gstat_grid.csv")), d)
        if not a.skip_pykrige:
            grid["pykrige"] = _common.run_worker(__file__, "pykrige-grid", d, a.neighbors)
        est = np.load(os.path.join(d, "remine_est.npy"))
        var = np.load(os.path.join(d, "remine_var.npy"))
        if "seconds" in grid.get("pykrige", {}):
            grid["max_rel_diff_vs_pykrige"] = {"estimate": rel_diff(est, np.load(os.path.join(d, "pykrige_est.npy"))),
                                               "variance": rel_diff(var, np.load(os.path.join(d, "pykrige_var.npy")))}
        if "seconds" in grid["gstat"]:
            gs = pd.read_csv(os.path.join(d, "gstat_grid.csv"))
            grid["max_rel_diff_vs_gstat"] = {"estimate": rel_diff(est, gs["pred"].to_numpy()),
                                             "variance": rel_diff(var, gs["var"].to_numpy())}
        for key in ("seconds", "cpu_seconds"):
            peers = [grid[p][key] for p in ("gstat", "pykrige") if key in grid.get(p, {})]
            if peers and key in grid["remine"]:
                grid[f"speedup_vs_fastest_peer_{key}"] = min(peers) / grid["remine"][key]
        result["grid"] = grid
        print(json.dumps({"grid": grid}, indent=1), flush=True)

        if a.big_cells:
            result["big"] = _common.run_worker(__file__, "remine-big", d, a.neighbors, int(a.big_cells))
            print(json.dumps({"big": result["big"]}, indent=1), flush=True)

        loo = {"remine": _common.run_worker(__file__, "remine-loo", d, a.neighbors, a.loo_subset)}
        loo["gstat_subset"] = run_gstat(GSTAT_LOO % dict(params, pts=os.path.join(d, "pts_sub.csv"),
                                                         out=os.path.join(d, "gstat_loo.csv")), d)
        loo["subset_n"] = a.loo_subset
        if "seconds" in loo["gstat_subset"] and "seconds" in loo["remine"]:
            loo["speedup_vs_gstat_same_subset"] = loo["gstat_subset"]["seconds"] / loo["remine"]["subset_seconds"]
            gs = pd.read_csv(os.path.join(d, "gstat_loo.csv"))["pred"].to_numpy()
            loo["max_rel_diff_vs_gstat_subset"] = rel_diff(np.load(os.path.join(d, "remine_loo_sub.npy")), gs)
        result["loo"] = loo
        result["machine"]["load_average_at_end"] = os.getloadavg()
        _common.write_json(a.out, result)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
