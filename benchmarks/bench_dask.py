"""remine on a Dask cluster against the local executor: predict_raster of a >= 2 GB cube, krige_raster onto a
10^7-cell grid, and the volume's 3D kriging (krige_grid) and 50 SGS realisations of bench_volume's 10^6 voxels
(2,000 samples, 32 neighbours) reduced to the grade-tonnage report's needs (simulate_summary, as
tailings_volume runs it: on a cluster the realisations stay on the workers).

Goal (issue 20): a cluster of 2 single-thread worker processes (``dask scheduler`` + ``dask worker --nworkers 2
--nthreads 1``, started here) reaches >= 0.8x the throughput of the local executor, with the client's peak RSS
<= 500 MB; report the bytes that pass through the scheduler per block. Each side runs in its own process (peak
RSS measured alone); the cluster side connects once (its connection and version check are timed apart) and
passes the client as ``executor``, so that the bytes the client sends are counted too. Both sides write the
same GeoTIFFs, compared pixel for pixel. The volume tasks take a scheduler address (they connect once per
call: that connection and version check are inside their timing, and timed alone as
``connect_and_version_check_seconds``); their arrays are compared value for value, and the bytes they move are
given from their sizes (shared arguments pickled once, results per task) and, for the simulation, measured
between the workers (their transfer logs) and to the client (the reductions it receives).

Usage: python benchmarks/bench_dask.py [--out result.json] [--gb 2.05] [--cells 1e7] [--repeats 2]
       [--tasks predict,krige,krige3d,sgs]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from remine.core.blocks import DEFAULT_MAX_BYTES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from bench_kriging import EXTENT, MODEL, make_points  # noqa: E402
from bench_learn import library, pixels  # noqa: E402

MAX_BYTES = DEFAULT_MAX_BYTES
NEIGHBOURS = 32


def make_cube(path, gb, side=1536):
    """Uncompressed, tiled, band-interleaved float32 cube of ``gb`` GiB of mineral mixtures on the USGS bands,
    written 128 rows at a time."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from remine.core.raster import write_spectral_tags

    wl, _ = library()
    rows = int(np.ceil(gb * 2**30 / 4 / len(wl) / side / 256) * 256)
    profile = dict(driver="GTiff", width=side, height=rows, count=len(wl), dtype="float32", tiled=True,
                   blockxsize=256, blockysize=256, interleave="band", bigtiff="yes", crs="EPSG:32630",
                   transform=from_origin(500000, 7000000, 0.5, 0.5), nodata=None)
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, rows, 128):
            X, _ = pixels(128 * side, seed=r)
            dst.write(X.T.reshape(len(wl), 128, side), window=Window(0, r, side, 128))
        write_spectral_tags(dst, wl)
    return rows * side


# ------------------------------------------------------------------------------------------------ sides
class Blocks:
    """A Progress that counts the blocks written (map_blocks and krige_grid report "block k/n" after each block,
    simulate after each run of its path)."""

    def __init__(self):
        from remine.core.progress import Progress

        self.count = 0
        outer = self

        class Counter(Progress):
            def _report(self, fraction, message):
                outer.count += bool(message and message.startswith("block "))

        self.progress = Counter()


def traffic(client):
    """Bytes sent so far over the batched streams that pass through the scheduler: client -> scheduler (task
    submissions), scheduler -> client and workers (task state, work), workers -> scheduler (task done)."""
    def at_scheduler(dask_scheduler):
        return sum(c.byte_count for c in list(dask_scheduler.client_comms.values())
                   + list(dask_scheduler.stream_comms.values()))

    def at_worker(dask_worker):
        return dask_worker.batched_stream.byte_count

    return (client.scheduler_comm.byte_count + client.run_on_scheduler(at_scheduler)
            + sum(client.run(at_worker).values()))


def received(since, dask_worker=None):
    """Bytes this worker fetched from its peers since ``since`` (time.time()), from its transfer log."""
    return sum(e["total"] for e in dask_worker.transfer_incoming_log if e["start"] >= since)


def vm_hwm_mb():
    """Peak resident set (MB) of the process it runs in (a worker: sent by value, no import of _common)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def work(task, d, out, executor, progress=None):
    """Run ``task`` ("predict", "krige", "krige3d" or "sgs") once on ``executor`` (None: the local pipeline;
    for the volume tasks, their scheduler address)."""
    if task in VOLUME:
        return volume_work(task, out, executor, progress)
    if task == "predict":
        from remine.core.learn import predict_raster

        predict_raster(os.path.join(d, "model.rmodel"), os.path.join(d, "cube.tif"), out + ".tif", probabilities=False,
                       uncertainty=False, max_bytes=MAX_BYTES, executor=executor, progress=progress, scheduler="")
    else:
        from remine.core.geostat import Spherical, krige_raster

        xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
        side = int(np.load(os.path.join(d, "side.npy")))
        krige_raster((xy, z), extent=(0, 0, EXTENT, EXTENT), pixel_size=EXTENT / side, crs="EPSG:32633",
                     out_prefix=out, model=Spherical(**MODEL), n_neighbors=NEIGHBOURS, max_bytes=MAX_BYTES,
                     executor=executor, progress=progress, scheduler="")


VOLUME = ("krige3d", "sgs")
REALISATIONS = 50
DENSITY = 1.8


def volume_work(task, out, scheduler, progress=None, layers=None):
    """krige_grid or simulate (REALISATIONS) of bench_volume's data on the Dask cluster of ``scheduler`` (None:
    here); ``layers``: only the lowest layers (warm-up). Writes the result to ``out.npy``."""
    from bench_volume import make_data, make_grid, model

    from remine.core.volume.estimate import krige_grid
    from remine.core.volume.sgs import NormalScore, simulate_summary

    pts, v = make_data()
    grid = make_grid()
    if layers:
        grid.fraction = grid.fraction[:layers].copy()
    m, an = model()
    if task == "krige3d":
        result = np.stack(krige_grid(grid, pts, v, m, an, n_neighbors=NEIGHBOURS, scheduler=scheduler or "",
                                     progress=progress))
    else:
        res = simulate_summary(grid, pts, v, m, an, cutoffs=cutoffs(v), density=DENSITY,
                               n_realisations=REALISATIONS, n_neighbors=NEIGHBOURS, transform=NormalScore(v),
                               scheduler=scheduler or "", progress=progress)
        result = np.concatenate([res["curves"].ravel(), res["above"].ravel(), res["mean"].ravel()])
    np.save(out + ".npy", result)


def cutoffs(v):
    """The pipeline's default cut-offs: the data's 10/30/50/70/90 % quantiles, 3 digits."""
    return sorted({float(f"{q:.3g}") for q in np.quantile(v, [0.1, 0.3, 0.5, 0.7, 0.9])})


def volume_bytes(task):
    """Bytes the volume ``task`` moves on a cluster: its shared arguments (pickled, once through the scheduler)
    and the results sent to the client per task, with the task count."""
    import cloudpickle
    from bench_volume import make_data, make_grid, model

    from remine.core.geostat import OrdinaryKriging
    from remine.core.volume.estimate import plan_blocks
    from remine.core.volume.sgs import _MAX_TEMPLATE, _RUN, NormalScore, _cov_table, _template, assign_data

    def an_matrix(an):
        from remine.core.geostat.anisotropy import as_anisotropy

        return as_anisotropy(an).matrix(3)

    pts, v = make_data()
    grid = make_grid()
    m, an = model()
    cells = int(grid.active.sum())
    if task == "krige3d":
        shared = (OrdinaryKriging(m, n_neighbors=NEIGHBOURS, anisotropy=an).fit(pts, v), grid)
        tasks = len(plan_blocks(grid))
        per_task = 16 * cells / tasks
    else:  # the shared path, ranks and cell slots (24 B per cell), the covariance table and the cells' tonnes;
        # a run's weights go to the other workers, the chains' reductions to the client
        ns = NormalScore(v)
        d_flat = assign_data(grid, pts, ns.transform(v))[0]
        path = np.arange(cells - len(d_flat), dtype=np.int64)
        table = _cov_table(grid, *_template(grid, an_matrix(an), m.practical_range(), _MAX_TEMPLATE)[:1],
                           an_matrix(an), m)[0]
        shared = (path, np.empty(grid.shape, np.int64), np.empty(grid.shape, np.int64), table, np.empty(cells), ns)
        tasks = -(-len(path) // _RUN)
        n_cut = len(cutoffs(v))
        return {"tasks": tasks, "shared_bytes_pickled": len(cloudpickle.dumps(shared)),
                "weights_bytes_per_run": len(path) / tasks * (8 * NEIGHBOURS + 12),
                "to_client_bytes": 8 * cells + 4 * n_cut * cells + 16 * REALISATIONS * n_cut}
    return {"tasks": tasks, "shared_bytes_pickled": len(cloudpickle.dumps(shared)),
            "result_bytes_per_task": per_task}


def warm_up(task, d, executor):
    """Imports, compiled kernels and thread pools, outside the timing (on the workers too)."""
    if task in VOLUME:
        volume_work(task, os.path.join(d, "warm"), executor, layers=10)
    elif task == "predict":
        from remine.core.learn import predict_raster
        from remine.core.raster import read_cube, write_raster

        crop = read_cube(os.path.join(d, "cube.tif"), window=((0, 64), (0, 64)))
        small = write_raster(os.path.join(d, "warm.tif"), crop.data, like=crop, wavelengths_nm=crop.wavelengths_nm)
        predict_raster(os.path.join(d, "model.rmodel"), small, os.path.join(d, "warm_map.tif"), max_bytes=2**20,
                       probabilities=False, uncertainty=False, executor=executor, scheduler="")
    else:
        from remine.core.geostat import Spherical, krige_raster

        xy, z = np.load(os.path.join(d, "xy.npy")), np.load(os.path.join(d, "z.npy"))
        krige_raster((xy, z), extent=(0, 0, EXTENT, EXTENT), pixel_size=EXTENT / 200, crs="EPSG:32633",
                     out_prefix=os.path.join(d, "warm"), model=Spherical(**MODEL), n_neighbors=NEIGHBOURS,
                     max_bytes=2**20, executor=executor, scheduler="")


def side(task, which, d, out, repeats, scheduler_file=None):
    client = None
    result = {}
    if which == "dask":
        from distributed import Client

        from remine.core import cluster

        with open(scheduler_file) as f:
            address = json.load(f)["address"]
        t = time.perf_counter()
        client = Client(address, timeout=10, set_as_default=False, direct_to_workers=True)
        client.wait_for_workers(2, timeout=60)
        cluster.check_versions(client)
        result["connect_and_version_check_seconds"] = time.perf_counter() - t
    # the volume's functions take the scheduler's address, the raster functions the client
    executor = address if task in VOLUME and client else client
    warm_up(task, d, executor)
    seconds = cpu = worker_cpu = np.inf
    for _ in range(repeats):  # best of ``repeats``: the machine is shared
        blocks = Blocks()
        before = traffic(client) if client and task not in VOLUME else 0
        wc = sum(client.run(time.process_time).values()) if client else 0.0
        t0, c0, since = time.perf_counter(), time.process_time(), time.time()
        work(task, d, out, executor, blocks.progress)
        if time.perf_counter() - t0 < seconds:
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            if client:
                worker_cpu = sum(client.run(time.process_time).values()) - wc
                if task not in VOLUME:
                    result["scheduler_bytes_per_block"] = (traffic(client) - before) / blocks.count
                else:
                    result["worker_to_worker_bytes"] = sum(client.run(received, since).values())
            result["blocks"] = blocks.count
    result.update(seconds=seconds, cpu_seconds=cpu, peak_rss_mb=round(_common.peak_rss_mb(), 1))
    if client:
        result["worker_cpu_seconds"] = worker_cpu
        result["worker_peak_rss_mb"] = sorted(client.run(vm_hwm_mb).values())
        if task in VOLUME:
            result.update(volume_bytes(task))
        client.close()
    print(json.dumps(result))


def run_side(task, which, d, out, repeats, scheduler_file=""):
    cmd = [sys.executable, os.path.abspath(__file__), "--side", which, "--task", task, "--dir", d,
           "--target", out, "--repeats", str(repeats), "--scheduler-file", scheduler_file]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{task}/{which} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def start_cluster(d):
    """``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` (4 GiB each); (processes, scheduler file)."""
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    sched_file = os.path.join(d, "scheduler.json")
    env = {**os.environ, "PROJ_DATA": "/usr/share/proj"}
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", sched_file, "--port", "0", "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not os.path.exists(sched_file) and time.monotonic() < deadline:
        time.sleep(0.2)
    procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", sched_file, "--nworkers", "2", "--nthreads",
                                   "1", "--memory-limit", "4GiB", "--no-dashboard"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs, sched_file


def same_rasters(a, b):
    import rasterio

    with rasterio.open(a) as x, rasterio.open(b) as y:
        return bool(np.array_equal(x.read(), y.read(), equal_nan=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--gb", type=float, default=2.05, help="cube size in GiB")
    ap.add_argument("--cells", type=float, default=1e7, help="kriging grid cells")
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tasks", default="predict,krige,krige3d,sgs",
                    help="comma-separated: predict, krige, krige3d, sgs")
    ap.add_argument("--trees", type=int, default=50, help="XGBoost boosting rounds (x 9 classes)")
    ap.add_argument("--side")
    ap.add_argument("--task")
    ap.add_argument("--dir")
    ap.add_argument("--target")
    ap.add_argument("--scheduler-file", default="")
    a = ap.parse_args()
    if a.side:
        return side(a.task, a.side, a.dir, a.target, a.repeats, a.scheduler_file)

    from remine.core.learn import TrainingSet, fit_model, save_model

    result = {"machine": _common.machine(), "note": "2 cores shared with other jobs (load average in 'load')",
              "max_bytes_mb": MAX_BYTES / 2**20}
    d = tempfile.mkdtemp(prefix="remine-bench-dask-", dir=os.environ.get("BENCH_TMP"))
    procs = []
    try:
        wl, _ = library()
        n_px = 0
        if "predict" in a.tasks:
            n_px = make_cube(os.path.join(d, "cube.tif"), a.gb)
            X, y = pixels(3000, seed=1)
            ts = TrainingSet(X=X, y=y, groups=np.arange(len(y)) // 20, coords=np.zeros((len(y), 2)),
                             wavelengths_nm=wl, classes=sorted(set(y)))
            save_model(os.path.join(d, "model.rmodel"), fit_model("xgboost", ts, n_estimators=a.trees))
        xy, z = make_points(a.points)
        np.save(os.path.join(d, "xy.npy"), xy)
        np.save(os.path.join(d, "z.npy"), z)
        np.save(os.path.join(d, "side.npy"), int(round(np.sqrt(a.cells))))
        procs, sched_file = start_cluster(d)
        cube_gb = os.path.getsize(os.path.join(d, "cube.tif")) / 2**30 if n_px else 0.0
        tasks = {"predict_raster": ("predict", {"cube_gb": cube_gb,
                                                "pixels": n_px, "bands": len(wl),
                                                "model": f"xgboost, {a.trees} rounds x 9 classes"}),
                 "krige_raster": ("krige", {"cells": int(round(np.sqrt(a.cells))) ** 2, "points": a.points,
                                            "neighbours": NEIGHBOURS}),
                 "volume_krige_grid": ("krige3d", {"voxels": 10**6, "points": 2000, "neighbours": NEIGHBOURS}),
                 "volume_simulate": ("sgs", {"voxels": 10**6, "points": 2000, "neighbours": NEIGHBOURS,
                                             "realisations": REALISATIONS})}
        for name, (task, about) in tasks.items():
            if task not in a.tasks.split(","):
                continue
            local = run_side(task, "local", d, os.path.join(d, f"{task}_local"), a.repeats)
            dask = run_side(task, "dask", d, os.path.join(d, f"{task}_dask"), a.repeats, sched_file)
            suffix = {"predict": [".tif"], "krige": ["_prediction.tif", "_variance.tif"]}.get(task, [".npy"])
            files = [(os.path.join(d, f"{task}_local{s}"), os.path.join(d, f"{task}_dask{s}")) for s in suffix]
            same = [np.array_equal(np.load(a), np.load(b), equal_nan=True) if a.endswith(".npy") else
                    same_rasters(a, b) for a, b in files]
            result[name] = {**about, "local": local, "dask_2_workers_1_thread": dask,
                            "throughput_ratio": local["seconds"] / dask["seconds"],
                            "identical_values": all(same), "load": os.getloadavg()}
            print(json.dumps({name: result[name]}), flush=True)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    _common.write_json(a.out, result)


if __name__ == "__main__":
    main()
