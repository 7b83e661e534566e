"""Block work on a real Dask cluster (LocalCluster, 2 worker processes): the same outputs as the local run
for a class map, unmixing, kriging and continuum removal; Cancel, a killed worker, an unreachable scheduler,
inputs the workers cannot see, blocks too large for the workers' memory, a worker running out of memory."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

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
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as lc:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address,
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                                  env={**os.environ, "PYTHONPATH": str(tmp_path / "other")})
        try:
            with distributed.Client(lc.scheduler_address, set_as_default=False) as client:
                client.wait_for_workers(1, timeout=120)
            with pytest.raises(ClusterError, match=r"the Dask workers run other versions than this client: worker "
                                                   rf"tcp://\S+: remine 9.9.9\+{remine.core.__version__} \(client "
                                                   rf"{remine.core.__version__}\)\. Install the client's versions"):
                map_blocks(np.zeros_like, [], [BlockOutput(str(tmp_path / "out.tif"), 1)],
                           grid=GridSpec(10, 10, Affine(1.0, 0, 0, 0, -1.0, 0), None), scheduler=lc.scheduler_address)
        finally:
            worker.terminate()
            worker.wait(30)
    assert not os.path.exists(tmp_path / "out.tif")


def _pids(address):
    with distributed.Client(address, set_as_default=False) as client:
        return client.run(os.getpid)


class KillWorkerOnce(Progress):
    """Kills one worker process (SIGKILL, as the OOM killer or a lost node would) after the first block."""

    def __init__(self, pid):
        self.pid, self.killed = pid, False

    def _report(self, fraction, message):
        if not self.killed and message.startswith("block "):
            os.kill(self.pid, signal.SIGKILL)
            self.killed = True


def test_a_worker_killed_mid_run_is_replaced_and_the_grid_completes(demo_scene, address, local_kriging, tmp_path):
    pids = _pids(address)
    victim = sorted(pids.values())[0]
    progress = KillWorkerOnce(victim)
    remote = krige_raster(demo_scene["samples"], grid_like=demo_scene["cube"], out_prefix=str(tmp_path / "dask"),
                          scheduler=address, progress=progress, **KRIGING)
    assert progress.killed and victim not in _pids(address).values()
    assert_same_rasters([local_kriging["prediction"], local_kriging["variance"]],
                        [remote["prediction"], remote["variance"]])


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
