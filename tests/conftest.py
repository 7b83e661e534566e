"""Shared fixtures: the demo scene, the remine Processing provider, and passport validation.

pytest-qgis starts a QgsApplication for the whole run (qgis_gui_enabled = false); with
``-p no:pytest_qgis`` the QGIS fixtures are unavailable and only tests/core runs.
"""
import datetime
import json
import os
import shutil
import sys

import pytest
from hypothesis import settings

from remine.core.progress import Progress

os.environ.setdefault("PROJ_DATA", "/usr/share/proj")
# Property tests draw the same examples on every run (CI must not fail by chance); exploration with fresh
# examples: HYPOTHESIS_PROFILE=explore make test
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
_validated = set()


class Recorder(Progress):
    """Keeps every report, info and warning."""

    def __init__(self):
        self.said = []

    def _report(self, fraction, message):
        self.said.append(message)

    def info(self, message):
        self.said.append(message)

    def warn(self, message):
        self.said.append(message)


@pytest.fixture(scope="session")
def demo_scene(tmp_path_factory):
    """Paths of the demo tailings scene (seed 0), built once per test run."""
    from remine.core.demo import make_demo

    return make_demo(str(tmp_path_factory.mktemp("demo_scene")), seed=0)


PASSPORT_TIME = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def passport_for(output, algorithm, inputs, metrics=None, uncertainty=None):
    """Write ``<output>.passport.json`` as an algorithm would (finished at PASSPORT_TIME)."""
    from remine.core.report.passport import make_passport, write_passport

    return write_passport(output, make_passport(algorithm, "0.1.0", {"OUTPUT": output}, inputs, output,
                                                PASSPORT_TIME, PASSPORT_TIME, metrics=metrics,
                                                uncertainty=uncertainty))


@pytest.fixture()
def passport_run(demo_scene, tmp_path):
    """A run folder: the demo cube and truth (createdemodata passports) and an abundance raster made from the
    truth with known errors and ±6 % bounds, whose passport names the cube as input."""
    import numpy as np
    import rasterio

    from remine.core.raster import write_raster

    run = tmp_path / "run"
    scene = run / "scene"
    scene.mkdir(parents=True)
    for key in ("cube", "truth_abundance"):
        shutil.copy(demo_scene[key], scene / f"{key}.tif")
        passport_for(str(scene / f"{key}.tif"), "remine:createdemodata", {})
    with rasterio.open(demo_scene["truth_abundance"]) as ds:
        truth = ds.read().astype("float64") * 100
        names = list(ds.descriptions)
    rng = np.random.default_rng(1)
    est = truth + rng.normal(0, 4.0, truth.shape)
    data = np.concatenate([est, est - 6.0, est + 6.0]).astype("float32")
    out = str(run / "abundances.tif")
    with rasterio.open(demo_scene["truth_abundance"]) as like:
        profile_like = {"width": like.width, "height": like.height, "transform": like.transform, "crs": like.crs}
    write_raster(out, data, like=profile_like,
                 band_names=names + [f"lower_{m}" for m in names] + [f"upper_{m}" for m in names])
    passport_for(out, "remine:unmix", {"INPUT": str(scene / "cube.tif")},
                 metrics={"mean_abundance_percent": {m: float(np.nanmean(est[i])) for i, m in enumerate(names)}},
                 uncertainty={"kind": "prediction intervals", "level": 0.9, "mean_width": {m: 12.0 for m in names}})
    ok = np.isfinite(truth)
    expected = {"rmse": float(np.sqrt(np.mean((est[ok] - truth[ok]) ** 2))),
                "coverage": float(np.mean(np.abs(est[ok] - truth[ok]) <= 6.0))}
    return run, out, expected


@pytest.fixture(scope="session")
def remine_processing(qgis_processing):
    """QGIS Processing with the remine provider registered; use ``processing.run("remine:...")``."""
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    if registry.providerById("remine") is None:
        from remine.processing_provider.provider import RemineProvider

        registry.addProvider(RemineProvider())
    return registry.providerById("remine")


def qgis_process_env():
    """Environment for scripts/qgis-process in e2e tests."""
    import sysconfig

    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", PROJ_DATA="/usr/share/proj",
               PATH="/usr/bin:" + env.get("PATH", ""),
               VIRTUAL_ENV=os.path.dirname(os.path.dirname(sys.executable)))
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    return env


@pytest.fixture(autouse=True)
def validate_passports(tmp_path_factory):
    """After every test, validate each new ``*.passport.json`` under the run's temp folder against the schema."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    new = []
    for folder, _, files in os.walk(base):
        new += [os.path.join(folder, f) for f in files
                if f.endswith(".passport.json") and os.path.join(folder, f) not in _validated]
    if not new:
        return
    import jsonschema

    from remine.core.report.passport import load_schema

    schema = load_schema()
    for path in new:
        _validated.add(path)
        with open(path, encoding="utf-8") as f:
            jsonschema.validate(json.load(f), schema)


_SESSION = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    _SESSION.append(session)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process with pytest's exit status once pytest has reported and unconfigured (every fixture
    closed), without QGIS's exitQgis() (``qgis_disable_exit`` in pyproject.toml) and the interpreter's own
    shutdown. After exitQgis(), QGIS objects still held by Python (collected later, at a time the garbage
    collector picks) can crash the process: at times a segmentation fault after the summary, every test passed,
    and 'make test' failed. Every result is reported before this point; qgis_process and desktop QGIS exit in
    their own processes in the e2e tests."""
    if _SESSION:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(_SESSION[-1].exitstatus))
