"""remine's Processing setting (Options ▸ Processing ▸ Providers ▸ remine) sends block work to a Dask cluster:
kriging through real QGIS (processing.run) on a LocalCluster of 2 worker processes equals the local run, the
passports say where each ran, and an unreachable scheduler stops the algorithm with a clear message, before the
algorithm's own work."""
import json
import os
import time

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException

from remine.processing_provider.base import SCHEDULER_SETTING

distributed = pytest.importorskip("distributed")


@pytest.fixture
def scheduler_setting(remine_processing):
    """Sets remine's Processing setting for one test, then empties it."""
    from processing.core.ProcessingConfig import ProcessingConfig

    yield lambda value: ProcessingConfig.setSettingValue(SCHEDULER_SETTING, value)
    ProcessingConfig.setSettingValue(SCHEDULER_SETTING, "")


def krige(demo_scene, out):
    import processing

    return processing.run("remine:ordinarykriging", {
        "INPUT": demo_scene["samples"], "FIELD": "Zn_ppm", "TEMPLATE": demo_scene["cube"], "N_NEIGHBORS": 16,
        "OUTPUT": str(out / "zn.tif"), "OUTPUT_VARIANCE": str(out / "var.tif")})


def test_kriging_runs_where_the_setting_says(demo_scene, scheduler_setting, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "dask"
    local.mkdir()
    remote.mkdir()
    krige(demo_scene, local)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        scheduler_setting(lc.scheduler_address)
        krige(demo_scene, remote)
    for name in ("zn.tif", "var.tif"):
        with rasterio.open(local / name) as a, rasterio.open(remote / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())
        with open(local / f"{name}.passport.json") as f:
            assert json.load(f)["execution"]["where"] == "local"
        with open(remote / f"{name}.passport.json") as f:
            assert json.load(f)["execution"] == {"where": "dask", "scheduler": lc.scheduler_address, "workers": 2,
                                                 "threads": 2}


def test_an_unreachable_scheduler_in_the_setting_stops_with_its_address(demo_scene, scheduler_setting, tmp_path):
    scheduler_setting("tcp://127.0.0.1:9")
    with pytest.raises(QgsProcessingException, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        krige(demo_scene, tmp_path)
    assert os.listdir(tmp_path) == []


def test_an_algorithm_that_trains_before_its_block_work_connects_first(demo_scene, scheduler_setting, tmp_path):
    """crmclassmap trains (cross-validation, report, model file) before it maps the cube on the cluster: with a
    silent scheduler address it stops within 10 s, having written neither the model nor the report."""
    import processing

    scheduler_setting("tcp://10.255.255.1:8786")
    start = time.monotonic()
    with pytest.raises(QgsProcessingException, match="cannot reach the Dask scheduler at 'tcp://10.255.255.1:8786'"):
        processing.run("remine:crmclassmap", {
            "CUBE": demo_scene["cube"], "ROIS": demo_scene["rois"], "TARGET_FIELD": "Zn_ppm", "THRESHOLD": 600.0,
            "N_SPLITS": 4, "OUTPUT_CLASS": str(tmp_path / "crm.tif"), "OUTPUT_PROBABILITY": str(tmp_path / "ph.tif"),
            "OUTPUT_MODEL": str(tmp_path / "crm.rmodel"), "OUTPUT_REPORT": str(tmp_path / "crm.html")})
    assert time.monotonic() - start < 10
    assert os.listdir(tmp_path) == []
