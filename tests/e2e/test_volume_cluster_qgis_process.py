"""qgis_process with REMINE_DASK_SCHEDULER: remine:tailingsvolume krieges and simulates the 3D demo on a
LocalCluster (2 worker processes); its slices, probabilities and grade–tonnage table equal those of the local
qgis_process run, and the passports say where each ran. (Against the API run in pytest's process the variogram
fit differs in the 9th digit, and the simulations with it.)"""
import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import SCRIPTS, qgis_process_env

distributed = pytest.importorskip("distributed")
QP = os.path.join(SCRIPTS, "qgis-process")


def tailings_volume(scene, out, scheduler=None):
    """remine:tailingsvolume through qgis_process on the 3D demo (10 × 10 × 1 m voxels, 50 realisations)."""
    env = {**qgis_process_env(), **({"REMINE_DASK_SCHEDULER": scheduler} if scheduler else {})}
    run = subprocess.run([QP, "--json", "run", "remine:tailingsvolume", "--", f"TOP={scene['surface_top']}",
                          f"BASE={scene['surface_base']}", f"SAMPLES={scene['holes']}", "GRADE_FIELD=Zn_ppm",
                          "DEPTH_FIELD=depth_m", "VOXEL_SIZE=10", "VOXEL_HEIGHT=1", "N_REALISATIONS=50",
                          "CUTOFFS=400,700,1000", f"OUTPUT_FOLDER={out}"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout)["results"]


def test_tailings_volume_on_the_cluster_equals_the_local_run(demo_scene, tmp_path):
    local = tailings_volume(demo_scene, tmp_path / "local")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        remote = tailings_volume(demo_scene, tmp_path / "dask", lc.scheduler_address)
    table = pd.read_csv(local["TONNAGE_CSV"])
    pd.testing.assert_frame_equal(table, pd.read_csv(remote["TONNAGE_CSV"]), check_exact=True)
    assert {"tonnes_p10", "tonnes_p90"} <= set(table.columns) and (table.tonnes_p10 < table.tonnes_p90).all()
    names = ["grade_slices.tif", "variance_slices.tif", "p_above_400.tif", "p_above_700.tif", "p_above_1000.tif"]
    for name in names:
        with rasterio.open(tmp_path / "local" / name) as a, rasterio.open(tmp_path / "dask" / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())
    for results, where in ((local, {"where": "local"}), (remote, {"where": "dask", "scheduler": lc.scheduler_address,
                                                                  "workers": 2, "threads": 2})):
        with open(f"{results['GRADE_SLICES']}.passport.json") as f:
            execution = json.load(f)["execution"]
        assert {k: execution[k] for k in where} == where
