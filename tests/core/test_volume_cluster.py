"""The 3D kriging and the simulations of the volume on a real Dask cluster (LocalCluster, 2 worker processes):
the same values as the local run (blocks of voxels; the simulation's kriging weights by runs of the path, its
realisations in one group per worker thread, simulated where they stay), a realisation independent of how many
are drawn, the reductions the pipeline needs made on the workers (the client's memory does not grow with the
realisations), Cancel leaves no output and nothing queued, a killed worker does not change the result."""
import collections
import os
import signal
import time
import tracemalloc

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from conftest import Recorder

from remine.core import cluster
from remine.core.errors import CancelledError
from remine.core.geostat import Spherical
from remine.core.progress import Progress
from remine.core.volume import VoxelGrid, estimate, sgs
from remine.core.volume.estimate import krige_grid, plan_blocks
from remine.core.volume.pipeline import tailings_volume
from remine.core.volume.sgs import NormalScore, simulate, simulate_summary
from remine.core.volume.tonnage import cell_tonnes, realisation_curves
from remine.core.volume.variogram3d import fit_anisotropic_3d

distributed = pytest.importorskip("distributed")
VOXELS = (10.0, 10.0, 1.0)


@pytest.fixture(scope="module")
def address():
    """Scheduler address of a LocalCluster of 2 single-thread worker processes."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit=2 * 2**30) as lc:
        with distributed.Client(lc.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)  # both registered: the runs record 2 workers
            client.get_task_stream()                 # starts the scheduler's record of where tasks ran
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def scene(demo_scene):
    """The 3D demo (auger holes, surfaces) on 10 × 10 × 1 m voxels, its grades and normal-score model."""
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], *VOXELS)
    holes = gpd.read_file(demo_scene["holes"])
    xyz = np.column_stack([holes.x, holes.y, holes.z_m])
    zn = holes.Zn_ppm.to_numpy()
    model, aniso, _ = fit_anisotropic_3d(xyz, zn)
    ns = NormalScore(zn)
    ns_model, ns_aniso, _ = fit_anisotropic_3d(xyz, ns.transform(zn))
    return grid, xyz, zn, (model, aniso), (ns_model, ns_aniso, ns)


def pids(address):
    with distributed.Client(address, set_as_default=False) as client:
        return client.run(os.getpid)


def remine_tasks(address):
    with distributed.Client(address, set_as_default=False) as client:
        return client.run_on_scheduler(lambda dask_scheduler: [k for k in dask_scheduler.tasks
                                                               if str(k).startswith("remine-")])


def workers_by_kind(address, since):
    """{kind of remine task ("block", "chain0", "chain1", "fold0", ...): [worker of each task]} since ``since``."""
    with distributed.Client(address, set_as_default=False) as client:
        stream = client.get_task_stream(start=since)
    kinds = {}
    for record in stream:
        if str(record["key"]).startswith("remine-"):
            kinds.setdefault(str(record["key"]).split("-")[1], []).append(record["worker"])
    return kinds


def test_3d_kriging_by_blocks_on_the_cluster_equals_the_local_run(demo_scene, scene, address, monkeypatch):
    _, xyz, zn, (model, aniso), _ = scene
    # 2.5 x 2.5 x 0.5 m voxels (55k cells) in blocks of >= 8192 cells: locally large enough for the kernel's
    # parallel path, which the blocks must not take (a worker thread takes the serial one)
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], 2.5, 2.5, 0.5)
    monkeypatch.setattr(estimate, "BLOCK_CELLS", 12000)
    blocks = plan_blocks(grid)
    assert len(blocks) >= 4 and blocks[-1][3] == grid.active.sum()
    assert all(b[2] == a[3] for a, b in zip(blocks, blocks[1:]))          # contiguous, every cell once
    with cluster.recording() as runs:
        local = krige_grid(grid, xyz, zn, model, aniso, scheduler="")
        remote = krige_grid(grid, xyz, zn, model, aniso, scheduler=address)
    assert runs[0] == {"where": "local"} and cluster.where(runs[1:])["workers"] == 2
    for a, b in zip(local, remote):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(local[0][grid.active]).all() and np.nanstd(local[0]) > 50    # a real model


def test_simulations_on_the_cluster_equal_the_local_ones(scene, address, monkeypatch):
    grid, xyz, zn, _, (model, aniso, ns) = scene
    kw = dict(n_realisations=50, seed=5, transform=ns)
    monkeypatch.setattr(sgs, "_RUN", 128)  # runs of the path: several tasks
    local = simulate(grid, xyz, zn, model, aniso, scheduler="", **kw)["realisations"]
    since = time.time()
    with cluster.recording() as runs:
        remote = simulate(grid, xyz, zn, model, aniso, scheduler=address, **kw)["realisations"]
    assert cluster.where(runs)["where"] == "dask"
    # realisations 0-24 simulated in a chain of tasks on one worker, 25-49 on the other: the local run's bits
    np.testing.assert_array_equal(local, remote)
    kinds = workers_by_kind(address, since)
    chains = [set(kinds[f"chain{g}"]) for g in range(2)]
    assert "chain2" not in kinds and len(kinds["chain0"]) == len(grid_runs(grid, xyz)) + 2
    assert chains[0] != chains[1] and all(len(c) == 1 for c in chains)   # each bound to its worker
    # (where the weights run is Dask's choice: on this small grid often all next to the shared arguments)
    # each realisation has its own random stream: the same whatever the number of realisations
    first = simulate(grid, xyz, zn, model, aniso, scheduler="", n_realisations=3, seed=5, transform=ns)
    np.testing.assert_array_equal(first["realisations"], local[:3])
    assert np.ptp(local[:, 0]) > 0                                                   # they do differ


def grid_runs(grid, xyz):
    """Runs of the simulation path (cells without data, in runs of ``sgs._RUN``)."""
    free = int(grid.active.sum()) - len(sgs.assign_data(grid, xyz, np.zeros(len(xyz)))[0])
    return range(0, free, sgs._RUN)


def test_the_reductions_on_the_cluster_equal_the_local_ones(scene, address, monkeypatch):
    grid, xyz, zn, _, (model, aniso, ns) = scene
    monkeypatch.setattr(sgs, "_RUN", 256)
    kw = dict(cutoffs=[700, 400, 1000], density=1.8, n_realisations=21, seed=5, transform=ns)
    local = simulate_summary(grid, xyz, zn, model, aniso, scheduler="", **kw)
    remote = simulate_summary(grid, xyz, zn, model, aniso, scheduler=address, **kw)
    for key in ("curves", "above", "mean", "cutoffs"):
        np.testing.assert_array_equal(local[key], remote[key])
    # and they are those of the realisations
    reals = simulate(grid, xyz, zn, model, aniso, scheduler="", n_realisations=21, seed=5, transform=ns)
    reals = reals["realisations"]
    cut = np.array([400.0, 700.0, 1000.0])
    np.testing.assert_array_equal(local["curves"], realisation_curves(cell_tonnes(grid, 1.8), reals, cut))
    np.testing.assert_array_equal(local["above"], [(reals >= c).sum(axis=0) for c in cut])
    np.testing.assert_array_equal(local["mean"], reals.astype(float).mean(axis=0).astype(np.float32))
    assert 0 < local["above"][1].mean() < 21 and local["curves"].shape == (21, 2, 3)


class KillWorkerOnce(Progress):
    """Kills one worker process (SIGKILL, as the OOM killer or a lost node would) once the first run of the path
    is applied, while the next runs are queued or computing."""

    def __init__(self, pid):
        self.pid, self.killed, self.infos = pid, False, []

    def _report(self, fraction, message):
        if not self.killed and (message or "").startswith("block 1/"):
            os.kill(self.pid, signal.SIGKILL)
            self.killed = True

    def info(self, message):
        self.infos.append(message)


def test_a_worker_killed_while_simulating_is_replaced_and_the_result_unchanged(scene, address, monkeypatch):
    grid, xyz, zn, _, (model, aniso, ns) = scene
    monkeypatch.setattr(sgs, "_RUN", 64)  # about 20 runs of the path
    kw = dict(n_realisations=50, seed=5, transform=ns)
    local = simulate(grid, xyz, zn, model, aniso, scheduler="", **kw)["realisations"]
    victim = sorted(pids(address).values())[0]
    progress = KillWorkerOnce(victim)
    remote = simulate(grid, xyz, zn, model, aniso, scheduler=address, progress=progress, **kw)["realisations"]
    assert progress.killed and victim not in pids(address).values()
    # the victim held a chain of realisations (bound to it): the run started again on the workers left
    assert any("starting it again on" in line for line in progress.infos), progress.infos
    np.testing.assert_array_equal(local, remote)


def test_an_unreachable_scheduler_fails_before_the_grid_and_the_variogram(demo_scene, tmp_path, monkeypatch):
    """The volume connects first (one connection for the kriging and the simulations): a silent address times
    out within 10 s, before the voxel grid and the variogram (which report) are built."""
    monkeypatch.setenv(cluster.ENV, "tcp://10.255.255.1:8786")
    progress, start = Recorder(), time.monotonic()
    with pytest.raises(cluster.ClusterError, match="cannot reach the Dask scheduler at 'tcp://10.255.255.1:8786'"):
        tailings_volume(demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm",
                        str(tmp_path / "volume"), depth_field="depth_m", render=False, progress=progress)
    assert time.monotonic() - start < 10
    assert progress.said == [] and os.listdir(tmp_path) == []


def clients_connected(address):
    """The clients that have connected to the scheduler so far (this one included), and how often."""
    with distributed.Client(address, set_as_default=False) as client:
        return collections.Counter(e["client"] for _, e in client.get_events("all") if e.get("action") == "add-client")


def test_the_volume_connects_once_for_its_kriging_and_simulations(demo_scene, address, tmp_path):
    before = clients_connected(address)
    with cluster.recording() as runs:
        tailings_volume(demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm",
                        str(tmp_path / "volume"), depth_field="depth_m", voxel_size=VOXELS[0],
                        voxel_height=VOXELS[2], n_realisations=2, render=False, scheduler=address)
    assert [r["where"] for r in runs] == ["dask", "dask"]      # the 3D kriging and the simulations
    after = clients_connected(address)
    assert len(after) == len(before) + 2     # the volume's client and this count's
    assert max(after.values()) == 1          # none reconnected (a connection the scheduler dropped)


class CancelAt(Progress):
    """Cancels once a report starts with ``message`` ("block 1/": the volume's 3D kriging has computed a block)."""

    def __init__(self, message="block 1/"):
        self.message, self.cancel = message, False

    def _report(self, fraction, message):
        self.cancel = self.cancel or (message or "").startswith(self.message)

    def is_cancelled(self):
        return self.cancel


def no_remine_tasks_left(address):
    deadline = time.monotonic() + 5
    while remine_tasks(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    return remine_tasks(address) == []


def test_cancel_on_the_cluster_leaves_no_output_and_nothing_queued(demo_scene, address, tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "BLOCK_CELLS", 300)
    monkeypatch.setenv(cluster.ENV, address)
    out = tmp_path / "volume"
    with pytest.raises(CancelledError):
        tailings_volume(demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm",
                        str(out), depth_field="depth_m", voxel_size=VOXELS[0], voxel_height=VOXELS[2],
                        n_realisations=50, render=False, progress=CancelAt())
    assert not out.exists() or os.listdir(out) == []
    assert no_remine_tasks_left(address)


def test_cancel_while_simulating_leaves_nothing_queued(scene, address, monkeypatch):
    grid, xyz, zn, _, (model, aniso, ns) = scene
    monkeypatch.setattr(sgs, "_RUN", 64)
    progress = CancelAt("block 2/")
    with pytest.raises(CancelledError):
        simulate_summary(grid, xyz, zn, model, aniso, cutoffs=[700], n_realisations=50, transform=ns,
                         scheduler=address, progress=progress)
    assert progress.cancel and no_remine_tasks_left(address)


def test_the_volume_on_the_cluster_equals_the_local_run(demo_scene, address, tmp_path):
    """tailings_volume's grade–tonnage table (P10/P50/P90 from the workers' curves) and probability maps (from
    the workers' counts) equal the local run's bit for bit."""
    args = (demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm")
    kw = dict(depth_field="depth_m", voxel_size=VOXELS[0], voxel_height=VOXELS[2], n_realisations=20,
              cutoffs=[400, 700, 1000], render=False)
    local = tailings_volume(*args, str(tmp_path / "local"), scheduler="", **kw)
    remote = tailings_volume(*args, str(tmp_path / "dask"), scheduler=address, **kw)
    pd.testing.assert_frame_equal(local["table"], remote["table"], check_exact=True)
    assert (local["table"].tonnes_p10 < local["table"].tonnes_p90).all()
    assert len(local["probability"]) == 3
    for a, b in zip(local["probability"], remote["probability"]):
        with rasterio.open(a) as x, rasterio.open(b) as y:
            np.testing.assert_array_equal(x.read(), y.read())
            assert 0 < np.nanmean(x.read()) < 1


def traced_peak(func, *args, **kw):
    """Peak of the Python-allocated memory (numpy arrays included) of this process while ``func`` runs, in bytes
    above what was allocated before."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        func(*args, **kw)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_the_client_does_not_hold_the_realisations(address):
    """simulate_summary on the cluster: the client's peak memory is the same for 10 and 40 realisations of
    102 400 cells (40 realisations are 16 MB of grades), while simulate, which returns them, holds them."""
    grid = VoxelGrid.from_surfaces((np.full((80, 80), 16.0), Affine(1, 0, 0, 0, -1, 80)), 0.0, 1.0, 1.0, 1.0)
    rng = np.random.default_rng(0)
    xyz = rng.uniform([0, 0, 0], [80, 80, 16], (40, 3))
    v = rng.lognormal(6, 0.5, 40)
    kw = dict(n_neighbors=16, seed=1, scheduler=address)
    m = int(grid.active.sum())
    peaks = {r: traced_peak(simulate_summary, grid, xyz, v, Spherical(1.0, 12.0, 0.0), cutoffs=[400, 600],
                            n_realisations=r, **kw) for r in (10, 40)}
    gathered = traced_peak(simulate, grid, xyz, v, Spherical(1.0, 12.0, 0.0), n_realisations=40, **kw)
    print(f"client peaks: summary r=10 {peaks[10] / 2**20:.1f} MB, r=40 {peaks[40] / 2**20:.1f} MB; "
          f"simulate r=40 {gathered / 2**20:.1f} MB; 4 x r x m = {4 * 40 * m / 2**20:.1f} MB")
    assert peaks[40] - peaks[10] < 0.1 * 4 * 30 * m         # 30 more realisations: < 10 % of their grades
    assert gathered - peaks[10] > 4 * 30 * m                 # the measure does see realisations coming back
