"""Shared fixtures: the demo scene, the remine Processing provider, and passport validation.

pytest-qgis starts a QgsApplication for the whole run (qgis_gui_enabled = false); with
``-p no:pytest_qgis`` the QGIS fixtures are unavailable and only tests/core runs.
"""
import json
import os
import sys

import pytest
from hypothesis import settings

os.environ.setdefault("PROJ_DATA", "/usr/share/proj")
# Property tests draw the same examples on every run (CI must not fail by chance); exploration with fresh
# examples: HYPOTHESIS_PROFILE=explore make test
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
_validated = set()


@pytest.fixture(scope="session")
def demo_scene(tmp_path_factory):
    """Paths of the demo tailings scene (seed 0), built once per test run."""
    from remine.core.demo import make_demo

    return make_demo(str(tmp_path_factory.mktemp("demo_scene")), seed=0)


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
