"""The 3D kriging and the simulations of the volume on a real Dask cluster (LocalCluster, 2 worker processes):
the same values as the local run (blocks of voxels; the simulation's kriging weights by runs of the path), a
realisation independent of how many are drawn, Cancel leaves no output and nothing queued, a killed worker does
not change the result."""
import os
import signal
import time

import geopandas as gpd
import numpy as np
import pytest

from remine.core import cluster
from remine.core.errors import CancelledError
from remine.core.progress import Progress
from remine.core.volume import VoxelGrid, estimate, sgs
from remine.core.volume.estimate import krige_grid, plan_blocks
from remine.core.volume.pipeline import tailings_volume
from remine.core.volume.sgs import NormalScore, simulate
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
    monkeypatch.setattr(sgs, "_RUN", 256)  # runs of the path: several tasks
    local = simulate(grid, xyz, zn, model, aniso, scheduler="", **kw)["realisations"]
    with cluster.recording() as runs:
        remote = simulate(grid, xyz, zn, model, aniso, scheduler=address, **kw)["realisations"]
    assert cluster.where(runs)["where"] == "dask"
    np.testing.assert_array_equal(local, remote)
    # each realisation has its own random stream: the same whatever the number of realisations
    first = simulate(grid, xyz, zn, model, aniso, scheduler="", n_realisations=3, seed=5, transform=ns)
    np.testing.assert_array_equal(first["realisations"], local[:3])
    assert np.ptp(local[:, 0]) > 0                                                   # they do differ


class KillWorkerOnce(Progress):
    """Kills one worker process (SIGKILL, as the OOM killer or a lost node would) once the first run of the path
    is applied, while the next runs are queued or computing."""

    def __init__(self, pid):
        self.pid, self.killed = pid, False

    def _report(self, fraction, message):
        if not self.killed and (message or "").startswith("block 1/"):
            os.kill(self.pid, signal.SIGKILL)
            self.killed = True


def test_a_worker_killed_while_simulating_is_replaced_and_the_result_unchanged(scene, address, monkeypatch):
    grid, xyz, zn, _, (model, aniso, ns) = scene
    monkeypatch.setattr(sgs, "_RUN", 64)  # about 20 runs of the path
    kw = dict(n_realisations=50, seed=5, transform=ns)
    local = simulate(grid, xyz, zn, model, aniso, scheduler="", **kw)["realisations"]
    victim = sorted(pids(address).values())[0]
    progress = KillWorkerOnce(victim)
    remote = simulate(grid, xyz, zn, model, aniso, scheduler=address, progress=progress, **kw)["realisations"]
    assert progress.killed and victim not in pids(address).values()
    np.testing.assert_array_equal(local, remote)


class CancelAtKriging(Progress):
    """Cancels once the volume's 3D kriging has computed a block."""

    def __init__(self):
        self.cancel = False

    def _report(self, fraction, message):
        self.cancel = self.cancel or (message or "").startswith("block 1/")

    def is_cancelled(self):
        return self.cancel


def test_cancel_on_the_cluster_leaves_no_output_and_nothing_queued(demo_scene, address, tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "BLOCK_CELLS", 300)
    monkeypatch.setenv(cluster.ENV, address)
    out = tmp_path / "volume"
    with pytest.raises(CancelledError):
        tailings_volume(demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm",
                        str(out), depth_field="depth_m", voxel_size=VOXELS[0], voxel_height=VOXELS[2],
                        n_realisations=50, render=False, progress=CancelAtKriging())
    assert not out.exists() or os.listdir(out) == []
    deadline = time.monotonic() + 5
    while remine_tasks(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remine_tasks(address) == []
