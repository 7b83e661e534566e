"""Block work on a real Dask cluster (LocalCluster, 2 worker processes): the same outputs as the local run
for a class map, unmixing, kriging and continuum removal; Cancel, a killed worker, every worker lost, an
unreachable scheduler, inputs the workers cannot see, blocks too large for the workers' memory, a worker running
out of memory."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from conftest import Recorder

from remine.core import cluster
from remine.core.blocks import BlockOutput, GridSpec, map_blocks, with_work_bytes
from remine.core.cluster import ClusterError
from remine.core.demo import mineral_spectra
from remine.core.errors import CancelledError
from remine.core.geostat import krige_raster
from remine.core.learn import build_training_set, fit_model, predict_raster
from remine.core.progress import Progress
from remine.core.spectra.cube import continuum_removal_raster
from remine.core.spectra.library import SpectralLibrary
from remine.core.unmix import unmix_raster

distributed = pytest.importorskip("distributed")
WORKER_MEMORY = 3 * 2**30


@pytest.fixture(scope="module")
def address():
    """Scheduler address of a LocalCluster of 2 single-thread worker processes, 3 GiB each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit=WORKER_MEMORY) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def model(demo_scene):
    return fit_model("extratrees", build_training_set(demo_scene["cube"], demo_scene["rois"], label_field="mineral"),
                     n_estimators=10, n_jobs=1)


def read(path):
    with rasterio.open(path) as ds:
        return ds.read()


def assert_same_rasters(local, remote):
    for a, b in zip(local, remote):
        np.testing.assert_array_equal(read(a), read(b))


def remine_tasks(address):
    with distributed.Client(address, set_as_default=False) as client:
        return client.run_on_scheduler(lambda dask_scheduler: [k for k in dask_scheduler.tasks
                                                               if str(k).startswith("remine-block")])


class CancelAfter(Progress):
    def __init__(self, blocks):
        self.blocks, self.seen = blocks, 0

    def _report(self, fraction, message):
        self.seen += message.startswith("block ")

    def is_cancelled(self):
        return self.seen >= self.blocks


def test_class_map_equals_the_local_one_and_says_where_it_ran(demo_scene, model, address, tmp_path):
    outputs = {}
    for name, scheduler in (("local", ""), ("dask", address)):
        with cluster.recording() as runs:
            outputs[name] = predict_raster(model, demo_scene["cube"], str(tmp_path / f"{name}.tif"),
                                           max_bytes=64 * 2**20, scheduler=scheduler)
        outputs[name + " runs"] = runs
    assert_same_rasters(*([outputs[n][k] for k in ("map", "probabilities", "uncertainty")] for n in ("local", "dask")))
    assert outputs["local runs"] == [{"where": "local"}]
    assert cluster.where(outputs["dask runs"]) == {"where": "dask", "scheduler": address, "workers": 2, "threads": 2}
    assert len(np.unique(read(outputs["dask"]["map"]))) > 3  # a real map, not an empty one


def test_unmixing_through_the_environment_variable(demo_scene, address, tmp_path, monkeypatch):
    """Values equal the local run's where both use BLAS alike: Dask's nanny starts workers with one BLAS thread
    (OMP_NUM_THREADS=1), and OpenBLAS's multi-threaded products round a few values differently in the last bit."""
    from threadpoolctl import threadpool_limits

    names, wl, fwhm, spectra = mineral_spectra()
    library = SpectralLibrary(names, wl, spectra, fwhm_nm=fwhm)
    with threadpool_limits(1, user_api="blas"):
        local = unmix_raster(demo_scene["cube"], library, str(tmp_path / "local.tif"), max_bytes=32 * 2**20)
    monkeypatch.setenv(cluster.ENV, address)
    with cluster.recording() as runs:
        remote = unmix_raster(demo_scene["cube"], library, str(tmp_path / "dask.tif"), max_bytes=32 * 2**20)
    assert runs[0]["where"] == "dask"
    assert_same_rasters([local["path"]], [remote["path"]])
    assert remote["summary"] == local["summary"]  # statistics accumulated from the blocks as they arrive


KRIGING = dict(field="Zn_ppm", n_neighbors=16, max_bytes=2 * 2**20)  # blocks of 64 x 64 cells: 25 blocks


@pytest.fixture(scope="module")
def local_kriging(demo_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("kriging") / "local"
    return krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(out), scheduler="",
                        **KRIGING)


def test_kriging_and_continuum_removal_equal_the_local_ones(demo_scene, address, local_kriging, tmp_path):
    remote = krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(tmp_path / "dask"),
                          scheduler=address, **KRIGING)
    assert remote["model"] == local_kriging["model"]
    assert_same_rasters([local_kriging["prediction"], local_kriging["variance"]],
                        [remote["prediction"], remote["variance"]])
    kw = dict(min_nm=2000, max_nm=2400, max_bytes=16 * 2**20)
    continuum_removal_raster(demo_scene["cube"], str(tmp_path / "cr_local.tif"), scheduler="", **kw)
    continuum_removal_raster(demo_scene["cube"], str(tmp_path / "cr_dask.tif"), scheduler=address, **kw)
    assert_same_rasters([str(tmp_path / "cr_local.tif")], [str(tmp_path / "cr_dask.tif")])


def no_input_pixel_reads(monkeypatch, path):
    """Makes every read of the pixels of raster ``path`` by this process fail (remine's direct reader, used only for
    inputs, and rasterio's reads of that file; the client still reads its outputs to style them); workers are
    other processes, untouched."""
    import rasterio.io

    from remine.core.raster import read as reader

    def tripwire(*args, **kwargs):
        raise AssertionError("the client read pixels")

    def guarded(read):
        def read_unless_input(ds, *args, **kwargs):
            if os.path.realpath(ds.name) == os.path.realpath(path):
                tripwire()
            return read(ds, *args, **kwargs)
        return read_unless_input

    monkeypatch.setattr(reader, "read_raw", tripwire)
    monkeypatch.setattr(reader, "read_table", tripwire)
    monkeypatch.setattr(rasterio.io.DatasetReader, "read", guarded(rasterio.io.DatasetReader.read))


def test_resampling_equals_the_local_run_and_the_client_reads_no_pixel(demo_scene, model, address, tmp_path,
                                                                       monkeypatch):
    """Resampling (a cube in, a cube out) and a class map (its pixel-table reader) on the cluster while this
    process cannot read a pixel of the cube: the workers read every window."""
    target = np.arange(450.0, 2400.0, 50.0)
    kw = dict(max_bytes=8 * 2**20)
    from remine.core.spectra.cube import resample_raster

    resample_raster(demo_scene["cube"], str(tmp_path / "local.tif"), target, 50.0, scheduler="", **kw)
    predict_raster(model, demo_scene["cube"], str(tmp_path / "map_local.tif"), scheduler="", **kw)
    with monkeypatch.context() as patch:
        no_input_pixel_reads(patch, demo_scene["cube"])
        with pytest.raises(AssertionError, match="the client read pixels"):  # the wire holds for a local run
            resample_raster(demo_scene["cube"], str(tmp_path / "wired.tif"), target, 50.0, scheduler="", **kw)
        resample_raster(demo_scene["cube"], str(tmp_path / "dask.tif"), target, 50.0, scheduler=address, **kw)
        predict_raster(model, demo_scene["cube"], str(tmp_path / "map_dask.tif"), scheduler=address, **kw)
    assert not os.path.exists(tmp_path / "wired.tif")
    assert_same_rasters([str(tmp_path / "local.tif"), str(tmp_path / "map_local.tif")],
                        [str(tmp_path / "dask.tif"), str(tmp_path / "map_dask.tif")])
    assert np.isfinite(read(str(tmp_path / "dask.tif"))).mean() > 0.5


#: an HTTP server of the files of folder argv[1] with range requests (what GDAL's /vsicurl/ sends; python's
#: http.server has none), in a process of its own (GDAL holds this process's GIL while it opens a URL); it
#: prints its port, and the bytes it served when its input closes
RANGE_SERVER = """
import http.server, os, sys, threading

class Handler(http.server.BaseHTTPRequestHandler):
    served = 0

    def do_HEAD(self):
        self.send(False)

    def do_GET(self):
        self.send(True)

    def send(self, body):
        path = os.path.join(sys.argv[1], os.path.basename(self.path.split("?")[0]))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        if self.headers.get("Range"):
            first, last = self.headers["Range"].split("=", 1)[1].split(",")[0].split("-")
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))
            Handler.served += end - start + 1

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_port, flush=True)
sys.stdin.read()
print(Handler.served, flush=True)
"""


def test_a_vsicurl_input_is_read_by_the_workers_over_http(demo_scene, model, address, tmp_path):
    """The cube served over HTTP (range requests) and given as /vsicurl/: the class map equals the local one."""
    server = subprocess.Popen([sys.executable, "-c", RANGE_SERVER, os.path.dirname(demo_scene["cube"])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = f"/vsicurl/http://127.0.0.1:{int(server.stdout.readline())}/{os.path.basename(demo_scene['cube'])}"
        remote = predict_raster(model, url, str(tmp_path / "dask.tif"), max_bytes=16 * 2**20, scheduler=address)
    finally:
        served, _ = server.communicate(timeout=30)
    local = predict_raster(model, demo_scene["cube"], str(tmp_path / "local.tif"), max_bytes=16 * 2**20,
                           scheduler="")
    assert_same_rasters([local[k] for k in ("map", "probabilities", "uncertainty")],
                        [remote[k] for k in ("map", "probabilities", "uncertainty")])
    assert int(served) >= os.path.getsize(demo_scene["cube"]) * 0.9  # the workers read the pixels over HTTP


def test_hybrid_kriging_equals_the_local_run(demo_scene, address, tmp_path):
    """The fitted ensemble travels to the workers, which predict the blocks; training stays in this process."""
    pytest.importorskip("torch")
    from remine.core.geostat.hybrid_map import hybrid_kriging_raster

    kw = dict(template=demo_scene["cube"], n_ensemble=2, max_epochs=3, max_bytes=32 * 2**20)
    paths = {}
    for name, scheduler in (("local", ""), ("dask", address)):
        with cluster.recording() as runs:
            res = hybrid_kriging_raster(demo_scene["samples"], "Zn_ppm", str(tmp_path / f"{name}.tif"),
                                        str(tmp_path / f"{name}_std.tif"), scheduler=scheduler, **kw)
        paths[name] = [res["prediction"], res["std"]]
        paths[name + " runs"] = runs
    assert paths["local runs"] == [{"where": "local"}] and len(paths["dask runs"]) == 1
    assert cluster.where(paths["dask runs"]) == {"where": "dask", "scheduler": address, "workers": 2, "threads": 2}
    assert_same_rasters(paths["local"], paths["dask"])
    assert np.isfinite(read(paths["dask"][1])).all() and np.nanstd(read(paths["dask"][0])) > 0


# the queued blocks are cancelled before the client closes (an 'IOLoop is closed' error at garbage collection before)
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_cancel_stops_the_cluster_work_and_leaves_no_output(demo_scene, model, address, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CancelledError):
        predict_raster(model, demo_scene["cube"], str(out / "map.tif"), max_bytes=2 * 2**20, scheduler=address,
                       progress=CancelAfter(2))
    assert os.listdir(out) == []
    deadline = time.monotonic() + 5
    while remine_tasks(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remine_tasks(address) == []


@pytest.mark.parametrize("unreachable", ["tcp://127.0.0.1:9", "tcp://10.255.255.1:8786"])
def test_unreachable_scheduler_is_a_clear_error_within_10_s(demo_scene, tmp_path, unreachable):
    start = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at '{unreachable}' within 5 s"):
        krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], field="Zn_ppm",
                     out_prefix=str(tmp_path / "zn"), scheduler=unreachable)
    assert time.monotonic() - start < 10
    assert os.listdir(tmp_path) == []


def io_loops():
    return sum(thread.name == "IO loop" for thread in threading.enumerate())


def test_a_failed_connection_leaves_no_client_for_the_garbage_collector():
    """The half-built Client of a connection that timed out is closed before the error: left to the garbage
    collector, its __del__ ran in the next Client's starting IO-loop thread and both waited for distributed's
    class-wide lock (a hung or 10 s-failed Client() in the test after the unreachable-scheduler one, 1 in 3
    runs of test_volume_cluster)."""
    before = io_loops()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at 'tcp://10.255.255.1:8786' within 1 s"):
        with cluster.connect("tcp://10.255.255.1:8786", timeout=1):
            pass
    assert io_loops() == before


def test_a_service_that_is_not_a_dask_scheduler_is_named():
    """A web server on the port (a wrong port number): its reply is not read as a 3 EiB frame (MemoryError)."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        with contextlib.suppress(OSError):
            while True:
                connection, _ = server.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    with server, pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at '{address}' within 2 s "
                                                   r"\(a service answered there that is not a Dask scheduler\)"):
        with cluster.connect(address, timeout=2):
            pass


def test_hybrid_kriging_with_an_unreachable_scheduler_fails_before_training(demo_scene, tmp_path):
    """The ensemble is trained here before the cluster predicts: the scheduler is reached first (a silent
    address: the connection times out) and the training, which reports every epoch, never starts."""
    pytest.importorskip("torch")
    from remine.core.geostat.hybrid_map import hybrid_kriging_raster

    progress, start = Recorder(), time.monotonic()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at 'tcp://10.255.255.1:8786' within 5 s"):
        hybrid_kriging_raster(demo_scene["samples"], "Zn_ppm", str(tmp_path / "zn.tif"), str(tmp_path / "std.tif"),
                              template=demo_scene["cube"], n_ensemble=2, max_epochs=3, progress=progress,
                              scheduler="tcp://10.255.255.1:8786")
    assert time.monotonic() - start < 10
    assert progress.said == [] and os.listdir(tmp_path) == []


def test_an_input_the_workers_cannot_see_is_named_with_the_workers(demo_scene, model, address, tmp_path):
    # a GDAL in-memory file: this process reads it, the worker processes cannot
    mem = "/vsimem/remine_test_cube.tif"
    rasterio.shutil.copy(demo_scene["cube"], mem)
    try:
        with pytest.raises(ClusterError, match=r"worker tcp://\S+ cannot open /vsimem/remine_test_cube.tif .*"
                                               r"worker tcp://\S+ cannot open /vsimem/remine_test_cube.tif"):
            predict_raster(model, mem, str(tmp_path / "map.tif"), scheduler=address)
    finally:
        rasterio.shutil.delete(mem)
    assert os.listdir(tmp_path) == []


def test_blocks_larger_than_the_workers_memory_are_refused_before_running(address, tmp_path):
    grid = GridSpec(20000, 20000, Affine(1.0, 0, 500000, 0, -1.0, 5560000), "EPSG:32630")
    with pytest.raises(ClusterError, match=r"do not fit Dask worker .* memory limit is 3072 MB for 1 thread\(s\), "
                                           r"and a block of this run \(\d+ x 20000 px\) takes about \d+ MB.*"
                                           r"at most 3686 MB"):
        map_blocks(with_work_bytes(np.zeros_like, 23 * 4), [], [BlockOutput(str(tmp_path / "big.tif"), 1)], grid=grid,
                   max_bytes=16 * 2**30, scheduler=address)
    assert os.listdir(tmp_path) == []


@contextlib.contextmanager
def lone_worker(env=None, nthreads=1, args=()):
    """A scheduler (LocalCluster without workers) and one worker process without a nanny (nothing restarts it
    once killed), started with ``env`` added to this environment and the further command-line ``args``; yields
    (scheduler address, worker Popen)."""
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as lc:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address,
                                   "--nthreads", str(nthreads), "--no-nanny", "--no-dashboard", *args],
                                  env={**os.environ, **(env or {})})
        try:
            with distributed.Client(lc.scheduler_address, set_as_default=False) as client:
                client.wait_for_workers(1, timeout=120)
            yield lc.scheduler_address, worker
        finally:
            worker.terminate()
            worker.wait(30)


def test_workers_running_another_remine_version_are_named(tmp_path):
    """A worker started from another environment: a remine of another version first on its Python path."""
    import remine

    root, other = os.path.dirname(remine.__file__), tmp_path / "other" / "remine"
    (other / "core").mkdir(parents=True)
    shutil.copy(os.path.join(root, "__init__.py"), other / "__init__.py")
    for name in os.listdir(os.path.join(root, "core")):
        if name != "__init__.py":
            (other / "core" / name).symlink_to(os.path.join(root, "core", name))
    with open(os.path.join(root, "core", "__init__.py")) as f:
        (other / "core" / "__init__.py").write_text(f.read().replace('__version__ = "', '__version__ = "9.9.9+'))
    with lone_worker({"PYTHONPATH": str(tmp_path / "other")}) as (address, _):
        with pytest.raises(ClusterError, match=r"the Dask workers run other versions than this client: worker "
                                               rf"tcp://\S+: remine 9.9.9\+{remine.core.__version__} \(client "
                                               rf"{remine.core.__version__}\)\. Install the client's versions"):
            map_blocks(np.zeros_like, [], [BlockOutput(str(tmp_path / "out.tif"), 1)],
                       grid=GridSpec(10, 10, Affine(1.0, 0, 0, 0, -1.0, 0), None), scheduler=address)
    assert not os.path.exists(tmp_path / "out.tif")


def test_workers_running_other_numpy_gdal_and_torch_versions_are_named(tmp_path):
    """The versions compared are those of the installed distributions (importlib.metadata: numpy, torch, ...) and
    the GDAL that rasterio reports (rasterio.__gdal_version__): a worker whose Python path starts with numpy and
    torch metadata of other versions and with a sitecustomize that changes rasterio's GDAL version."""
    fake = tmp_path / "fake"
    for name, version in (("numpy", "0.9.9"), ("torch", "0.0.1")):
        (fake / f"{name}-{version}.dist-info").mkdir(parents=True)
        (fake / f"{name}-{version}.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (fake / "sitecustomize.py").write_text("import rasterio\n\nrasterio.__gdal_version__ = '0.9.9'\n")
    ours = cluster.software_versions()
    differ = ", ".join(f"{k} {v} \\(client {re.escape(ours[k])}\\)" for k, v in
                       (("GDAL", "0.9.9"), ("numpy", "0.9.9"), ("torch", "0.0.1")) if k in ours)
    path = os.pathsep.join(p for p in (str(fake), os.environ.get("PYTHONPATH")) if p)
    with lone_worker({"PYTHONPATH": path}) as (address, _):
        with pytest.raises(ClusterError, match=rf"other versions than this client: worker tcp://\S+: {differ}\. "):
            map_blocks(np.zeros_like, [], [BlockOutput(str(tmp_path / "out.tif"), 1)],
                       grid=GridSpec(10, 10, Affine(1.0, 0, 0, 0, -1.0, 0), None), scheduler=address)
    assert not os.path.exists(tmp_path / "out.tif")


def test_a_worker_without_torch_serves_the_runs_that_do_not_need_it(demo_scene, tmp_path):
    """PyTorch is compared only where a worker has it or the run needs it (the hybrid model): a worker whose
    installed-distribution metadata lacks torch (a sitecustomize hides it) kriges, and refuses the hybrid before
    its training."""
    pytest.importorskip("torch")
    from remine.core.geostat.hybrid_map import hybrid_kriging_raster

    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(
        "from importlib import metadata\n\nversion = metadata.version\n\n\n"
        "def without_torch(name):\n"
        "    if name == 'torch':\n"
        "        raise metadata.PackageNotFoundError(name)\n"
        "    return version(name)\n\n\nmetadata.version = without_torch\n")
    path = os.pathsep.join(p for p in (str(fake), os.environ.get("PYTHONPATH")) if p)
    out = tmp_path / "out"
    out.mkdir()
    with lone_worker({"PYTHONPATH": path}) as (address, _):
        with cluster.recording() as runs:
            kriged = krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(out / "zn"),
                                  scheduler=address, **KRIGING)
        assert runs[0]["where"] == "dask" and os.path.exists(kriged["prediction"])
        progress = Recorder()
        torch_version = re.escape(cluster.software_versions()["torch"])
        with pytest.raises(ClusterError, match=rf"worker tcp://\S+: torch missing \(client {torch_version}\)"):
            hybrid_kriging_raster(demo_scene["samples"], "Zn_ppm", str(tmp_path / "h.tif"), str(tmp_path / "s.tif"),
                                  template=demo_scene["cube"], n_ensemble=2, max_epochs=3, progress=progress,
                                  scheduler=address)
    assert progress.said == [] and not os.path.exists(tmp_path / "h.tif")


@pytest.mark.parametrize("threads", [2, 1])
def test_workers_with_several_threads_under_numbas_workqueue_layer_are_refused(demo_scene, tmp_path, threads):
    """numba's workqueue layer aborts the process when two threads launch parallel kernels at once (continuum
    removal on a worker with 2 threads); with one thread per worker it is safe and the run equals the local one."""
    kw = dict(min_nm=2000, max_nm=2400, max_bytes=4 * 2**20)
    with lone_worker({"NUMBA_THREADING_LAYER": "workqueue"}, nthreads=threads) as (address, _):
        with distributed.Client(address, set_as_default=False) as client:
            assert set(client.run(cluster.numba_threading_layer).values()) == {"workqueue"}
        if threads > 1:
            with pytest.raises(ClusterError, match=r"Dask worker\(s\) tcp://\S+ \(2 threads\) run numba's 'workqueue' "
                                                   r"threading layer with several threads.*--nthreads 1.*install TBB"):
                continuum_removal_raster(demo_scene["cube"], str(tmp_path / "cr_dask.tif"), scheduler=address, **kw)
            assert os.listdir(tmp_path) == []
            return
        continuum_removal_raster(demo_scene["cube"], str(tmp_path / "cr_dask.tif"), scheduler=address, **kw)
    continuum_removal_raster(demo_scene["cube"], str(tmp_path / "cr_local.tif"), scheduler="", **kw)
    assert_same_rasters([str(tmp_path / "cr_local.tif")], [str(tmp_path / "cr_dask.tif")])


def _pids(address):
    with distributed.Client(address, set_as_default=False) as client:
        return client.run(os.getpid)


class KillWorkerOnce(Progress):
    """Kills one worker process (SIGKILL, as the OOM killer or a lost node would) after the first block."""

    def __init__(self, pid):
        self.pid, self.killed = pid, None

    def _report(self, fraction, message):
        if not self.killed and message.startswith("block "):
            os.kill(self.pid, signal.SIGKILL)
            self.killed = time.monotonic()


def test_a_worker_killed_mid_run_is_replaced_and_the_grid_completes(demo_scene, address, local_kriging, tmp_path):
    pids = _pids(address)
    victim = sorted(pids.values())[0]
    progress = KillWorkerOnce(victim)
    remote = krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(tmp_path / "dask"),
                          scheduler=address, progress=progress, **KRIGING)
    assert progress.killed and victim not in _pids(address).values()
    assert_same_rasters([local_kriging["prediction"], local_kriging["variance"]],
                        [remote["prediction"], remote["variance"]])


def test_losing_every_worker_is_a_clear_error_within_a_bound(demo_scene, tmp_path):
    """The only worker (no nanny) killed after the first block: Dask would wait for a worker forever."""
    out = tmp_path / "out"
    out.mkdir()
    with lone_worker() as (address, worker):
        progress = KillWorkerOnce(worker.pid)
        with pytest.raises(ClusterError, match=r"all workers of the Dask cluster at tcp://\S+ were lost: it had none "
                                               r"for 5 s while waiting for the block of rows \d+-\d+, columns \d+-\d+; "
                                               r"no output was written"):
            krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(out / "zn"),
                         scheduler=address, progress=progress, **KRIGING)
        waited = time.monotonic() - progress.killed
    assert waited < cluster.NO_WORKER_S + 25  # 5 s without a worker, seen at most 1 s late, on a loaded host
    assert os.listdir(out) == []


def test_losing_every_worker_during_the_3d_kriging_is_the_same_clear_error(demo_scene, tmp_path, monkeypatch):
    """The volume's tasks (TaskRunner) wait for their results as the raster blocks do."""
    from remine.core.volume import VoxelGrid, estimate
    from remine.core.volume.variogram3d import fit_anisotropic_3d

    holes = gpd.read_file(demo_scene["holes"])
    xyz, zn = np.column_stack([holes.x, holes.y, holes.z_m]), holes.Zn_ppm.to_numpy()
    model, aniso, _ = fit_anisotropic_3d(xyz, zn)
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], 2.5, 2.5, 0.5)
    monkeypatch.setattr(estimate, "BLOCK_CELLS", 2000)  # about 25 blocks
    with lone_worker() as (address, worker):
        progress = KillWorkerOnce(worker.pid)
        with pytest.raises(ClusterError, match=r"all workers of the Dask cluster at tcp://\S+ were lost: it had none "
                                               r"for 5 s while waiting for the block of active voxels \d+-\d+; no "
                                               r"output was written"):
            estimate.krige_grid(grid, xyz, zn, model, aniso, scheduler=address, progress=progress)
        waited = time.monotonic() - progress.killed
    assert waited < cluster.NO_WORKER_S + 25


class CancelAfterKill(KillWorkerOnce):
    """Kills the worker after the first block, then cancels ``after`` seconds later (the client is waiting)."""

    def __init__(self, pid, after):
        super().__init__(pid)
        self.after = after

    def is_cancelled(self):
        return bool(self.killed) and time.monotonic() >= self.killed + self.after


def test_cancel_while_the_cluster_has_no_worker_stops_the_run(demo_scene, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "NO_WORKER_S", 3600.0)  # only Cancel can end the wait
    out = tmp_path / "out"
    out.mkdir()
    with lone_worker() as (address, worker):
        progress = CancelAfterKill(worker.pid, after=2.0)
        with pytest.raises(CancelledError):
            krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(out / "zn"),
                         scheduler=address, progress=progress, **KRIGING)
        late = time.monotonic() - (progress.killed + progress.after)
    assert late < 15  # checked every POLL_S s, plus cancelling the queued blocks, on a loaded host
    assert os.listdir(out) == []


def test_volume_blocks_larger_than_the_workers_memory_say_larger_voxels_or_the_limit_that_fits(demo_scene):
    """The 3D kriging's task size follows the voxels (a block of voxels, and the grid each worker holds), not a
    byte budget: the advice names larger voxels and the memory limit that fits. A worker announcing a 16 MiB limit
    (no nanny, no pausing: the limit is only announced) refuses 2.5 x 2.5 x 0.5 m voxels and takes 5 x 5 x 1 m."""
    from remine.core.volume import VoxelGrid
    from remine.core.volume.estimate import krige_grid
    from remine.core.volume.variogram3d import fit_anisotropic_3d

    holes = gpd.read_file(demo_scene["holes"])
    xyz, zn = np.column_stack([holes.x, holes.y, holes.z_m]), holes.Zn_ppm.to_numpy()
    model, aniso, _ = fit_anisotropic_3d(xyz, zn)
    fine, coarse = (VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], *v)
                    for v in ((2.5, 2.5, 0.5), (5.0, 5.0, 1.0)))
    calm = {f"DASK_DISTRIBUTED__WORKER__MEMORY__{k}": "False" for k in ("TARGET", "SPILL", "PAUSE")}
    with lone_worker(calm, args=("--memory-limit", "16MiB")) as (address, _):
        with pytest.raises(ClusterError) as err:
            krige_grid(fine, xyz, zn, model, aniso, scheduler=address)
        found = re.fullmatch(r"the tasks of this run do not fit Dask worker tcp://\S+: its memory limit is 16 MB for 1 "
                             r"thread\(s\), and a block of this run \(50,715 voxels, with the grid of 97,200 cells\) "
                             r"takes about (\d+) MB to compute\. Make a task take at most 10 MB with larger voxels "
                             r"\(voxel size and height; fewer cells in the grid\), or start the workers with a "
                             r"memory limit of at least (\d+) MB \(dask worker --memory-limit\) or fewer threads "
                             r"\(--nthreads\)",
                             str(err.value))
        assert found, str(err.value)
        takes, limit = int(found[1]), int(found[2])
        assert takes > 0.95 * 16 and limit * cluster.TERMINATE_FRACTION >= takes + 1  # that limit passes the check
        est, _ = krige_grid(coarse, xyz, zn, model, aniso, scheduler=address)  # larger voxels: it runs
    np.testing.assert_array_equal(est, krige_grid(coarse, xyz, zn, model, aniso, scheduler="")[0])


def hog_memory(arrays, info):
    """A block function that takes 1.2 GB however small its block is."""
    hog = np.ones(150 * 2**20)  # float64, touched: resident
    time.sleep(3)
    return [np.full((1,) + arrays[0].shape[1:], hog[0], np.float32)]


def test_a_worker_out_of_memory_says_its_limit_the_block_size_and_the_fix(demo_scene, tmp_path):
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                     memory_limit=600 * 2**20) as lc:
        with pytest.raises(ClusterError, match=r"killed 1 Dask worker\(s\); the last, tcp://\S+, ran out of memory "
                                               r"\(resident \d+ MB when its nanny restarted it\): its memory limit is "
                                               r"600 MB for 1 thread\(s\), and a block of this run \(\d+ x \d+ px\) "
                                               r"takes about \d+ MB to compute. Lower the memory budget"):
            map_blocks(hog_memory, [demo_scene["truth_grades"]], [BlockOutput(str(tmp_path / "hog.tif"), 1)],
                       scheduler=lc.scheduler_address)
    assert os.listdir(tmp_path) == []
