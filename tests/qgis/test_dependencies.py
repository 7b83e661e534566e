"""Dependency table, the error naming a missing package, and the pip command with run-time constraints."""
import os
import sysconfig

import numpy
from osgeo import gdal

from remine.core.dependencies import PACKAGES, dependency_error, status, version_tuple
from remine.plugin.installer import canonical, pip_command, shipped_constraints, write_constraints

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_error_names_package_and_command():
    err = dependency_error("sklearn.base", python="/usr/bin/python3")
    assert "'scikit-learn'" in str(err) and '/usr/bin/python3 -m pip install --user "scikit-learn>=' in str(err)
    assert "Check dependencies" in str(err) and isinstance(err, ImportError)
    assert dependency_error("no_such_module") is None


def test_ci_pins_meet_the_minimums():
    pins = {}
    for line in open(os.path.join(ROOT, "requirements-dev.txt")):
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[canonical(name)] = version
    for package in PACKAGES:
        assert version_tuple(pins[canonical(package.pip)]) >= version_tuple(package.minimum), package
    assert all(ok for _, _, ok in status()), status()  # the test venv has everything


def test_constraints_pin_what_the_interpreter_ships(tmp_path):
    pins = shipped_constraints(user_site=str(tmp_path))
    assert pins["numpy"] == f"numpy=={numpy.__version__}"
    assert pins["gdal"] == f"GDAL=={gdal.__version__}"
    assert "pandas" in pins and "scipy" in pins
    # distributions under the user site are the user's to upgrade: not pinned
    venv_site = sysconfig.get_paths()["purelib"]
    assert "scikit-learn" not in shipped_constraints(user_site=venv_site)
    path = write_constraints(str(tmp_path / "c.txt"), pins)
    assert f"numpy=={numpy.__version__}" in open(path).read().split("\n")


def test_pip_command(tmp_path):
    wanted = [p for p in PACKAGES if p.pip in ("scikit-learn", "torch")]
    cmd = pip_command("/usr/bin/python3", wanted, str(tmp_path / "c.txt"), platform="linux")
    assert cmd[:5] == ["/usr/bin/python3", "-m", "pip", "install", "--user"]
    assert cmd[cmd.index("-c") + 1] == str(tmp_path / "c.txt")
    assert cmd[-2:] == ["scikit-learn>=1.6", "torch>=2.0"]
    assert "--extra-index-url" in cmd   # torch's CPU wheels on Linux only
    assert "--extra-index-url" not in pip_command("python.exe", wanted, "c.txt", platform="win32")
    managed = os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
    assert ("--break-system-packages" in cmd) == managed


def test_dialog_idempotent_when_everything_is_installed(qgis_app):
    """With every required package present the dialog shows them as ok and Install does nothing."""
    from remine.plugin.dependencies_dialog import DependenciesDialog

    dialog = DependenciesDialog()
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 5).text() for r in range(dialog.table.rowCount())}
    assert rows["scikit-learn"] == "ok" and set(rows) == {p.pip for p in PACKAGES}
    assert dialog.summary.text() == "All required packages are installed."
    assert not dialog.install_button.isEnabled() and dialog.install() == [] and dialog.process is None
