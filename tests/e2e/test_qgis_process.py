"""Headless runs through the real qgis_process (scripts/qgis-process), as analysts run them on servers."""
import json
import os
import subprocess

from conftest import SCRIPTS, qgis_process_env

QP = os.path.join(SCRIPTS, "qgis-process")


def qgis_process(*args, timeout=300):
    return subprocess.run([QP, *args], capture_output=True, text=True, env=qgis_process_env(), timeout=timeout)


def test_demo_then_subset_json(tmp_path):
    scene = tmp_path / "scene"
    run = qgis_process("--json", "run", "remine:createdemodata", "--", f"OUTPUT={scene}", "SEED=0")
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout)["results"]
    assert os.path.isfile(results["CUBE"]) and os.path.isfile(results["ROIS"])
    out = tmp_path / "subset.tif"
    run = qgis_process("--json", "run", "remine:spectralsubset", "--", f"INPUT={results['CUBE']}",
                       "MIN_WAVELENGTH=1000", "MAX_WAVELENGTH=2400", "DROP_WATER_BANDS=true", f"OUTPUT={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["results"]["OUTPUT"] == str(out)
    passport = json.load(open(f"{out}.passport.json"))
    assert passport["parameters"]["MIN_WAVELENGTH"] in ("1000", 1000, 1000.0)


def test_bad_input_fails_with_message_and_no_output(tmp_path):
    out = tmp_path / "subset.tif"
    run = qgis_process("run", "remine:spectralsubset", "--", f"INPUT={tmp_path / 'missing.tif'}", f"OUTPUT={out}")
    assert run.returncode != 0
    assert "INPUT" in run.stdout + run.stderr
    assert not out.exists()


def test_list_shows_provider():
    run = qgis_process("list")
    assert run.returncode == 0
    assert "remine:createdemodata" in run.stdout and "remine:spectralsubset" in run.stdout
