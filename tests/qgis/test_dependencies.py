"""Dependency table, the errors naming a missing or broken package, the pip command with run-time
constraints, and every package the code imports either managed here or shipped by every QGIS."""
import ast
import glob
import os
import shlex
import subprocess
import sys
import sysconfig

import numpy
from osgeo import gdal

from remine.core.dependencies import (
    BY_MODULE,
    PACKAGES,
    QGIS_SHIPS,
    dependency_error,
    import_error,
    status,
    version_tuple,
)
from remine.core.installer import (
    cache_folder,
    canonical,
    externally_managed,
    has_pip,
    pip_command,
    shipped_constraints,
    write_constraints,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_error_names_package_and_command():
    """The shell command in the message is the dialog's pip command without its batch flags: --user,
    --break-system-packages on an externally managed Python, a constraints file pinning what the interpreter
    ships, torch's CPU index on Linux; a package of the system's geospatial stack goes to apt instead."""
    err = dependency_error("sklearn.base", python="/opt/qgis/bin/python3", platform="linux")
    text = str(err)
    assert "'scikit-learn'" in text and "Plugins ▸ remine ▸ Check dependencies… ▸ Install missing" in text
    assert isinstance(err, ImportError)
    cmd = shlex.split(text.split("in a shell: ", 1)[1])
    assert cmd[:5] == ["/opt/qgis/bin/python3", "-m", "pip", "install", "--user"] and cmd[-1] == "scikit-learn>=1.6"
    assert ("--break-system-packages" in cmd) == externally_managed() and "--no-input" not in cmd
    constraints = cmd[cmd.index("-c") + 1]
    assert constraints == os.path.join(cache_folder(), "pip-constraints.txt")
    assert f"numpy=={numpy.__version__}" in open(constraints).read().split("\n")
    torch = shlex.split(str(dependency_error("torch", python="/opt/qgis/bin/python3", platform="linux")).split(
        "in a shell: ", 1)[1])
    assert torch[torch.index("--extra-index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    windows = str(dependency_error("sklearn", python=r"C:\OSGeo4W\apps\Python312\python.exe", platform="win32"))
    assert r"C:\OSGeo4W\apps\Python312\python.exe -m pip install --user" in windows
    assert "--extra-index-url" not in windows
    debian = str(dependency_error("rasterio", python="/usr/bin/python3", platform="linux"))
    assert "sudo apt install python3-rasterio" in debian and "pip" in debian and "in a shell" not in debian
    assert dependency_error("no_such_module") is None


def test_the_command_in_the_message_runs(tmp_path):
    """Debian 12's pip accepts the message's command and gets to resolving skops (no externally-managed-environment
    refusal, which the command without --break-system-packages gets), run with a fresh HOME and no package
    index (nothing is installed)."""
    python = "/usr/bin/python3"
    if not has_pip(python):
        return
    text = str(dependency_error("skops", python=python, platform="linux"))
    cmd = shlex.split(text.split("in a shell: ", 1)[1])
    env = dict(os.environ, HOME=str(tmp_path), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path))
    env.pop("PYTHONPATH", None)
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert "externally-managed-environment" not in run.stderr and "install skops>=0.9" in run.stderr, run.stderr
    if "--break-system-packages" in cmd:
        cmd.remove("--break-system-packages")
        run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert "externally-managed-environment" in run.stderr, run.stderr


def test_broken_package_says_reinstall():
    """An ImportError that is not ModuleNotFoundError (Windows' DLL load failure) names the package whose file
    failed to load and says how to reinstall it: with the installer QGIS came from when QGIS ships it, with
    pip --force-reinstall --no-deps when it lives in the user site."""
    dll = ImportError("DLL load failed while importing _ufuncs: The specified module could not be found.",
                      name="_ufuncs", path=r"C:\OSGeo4W\apps\Python312\Lib\site-packages\scipy\special\_ufuncs.pyd")
    text = str(import_error(dll, python=r"C:\OSGeo4W\apps\Python312\python.exe", platform="win32"))
    assert "'scipy'" in text and "installed but fails to load" in text and "DLL load failed" in text
    assert "OSGeo4W setup" in text
    import site

    user = os.path.join(site.getusersitepackages(), "sklearn", "utils", "_cython_blas.pyd")
    err = import_error(ImportError("DLL load failed while importing _cython_blas", name="_cython_blas", path=user),
                       python="/opt/qgis/bin/python3", platform="linux")
    cmd = shlex.split(str(err).split("in a shell: ", 1)[1])
    assert "'scikit-learn'" in str(err) and "reinstall" in str(err) and isinstance(err, ImportError)
    assert "--force-reinstall" in cmd and "--no-deps" in cmd and cmd[-1] == "scikit-learn>=1.6"
    try:  # a real failing import inside a package folder: found from the traceback
        exec(compile("from numba import no_such_name", os.path.join(ROOT, "x", "site-packages", "numba", "x.py"),
                     "exec"))
    except ImportError as exc:
        assert "'numba'" in str(import_error(exc, python="/opt/qgis/bin/python3"))
    assert import_error(ImportError("cannot import name 'x' from 'mylib'", name="mylib")) is None
    assert "not installed" in str(import_error(ModuleNotFoundError("No module named 'skops'", name="skops")))


def _imports(path):
    """Top-level names of the absolute imports anywhere in ``path`` (module level and inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_import_is_managed_or_shipped_by_qgis():
    """Every third-party package that core/, processing_provider/ and plugin/ import is in PACKAGES (listed
    and installed by the dialog, named by the errors) or on QGIS_SHIPS, which names nothing unused."""
    found = {}
    for folder in ("core", "processing_provider", "plugin"):
        for path in glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True):
            for name in _imports(path) - set(sys.stdlib_module_names) - {"remine"}:
                found.setdefault(name, os.path.relpath(path, ROOT))
    unmanaged = {n: p for n, p in found.items() if n not in BY_MODULE and n not in QGIS_SHIPS}
    assert not unmanaged, f"imported but neither in PACKAGES nor in QGIS_SHIPS: {unmanaged}"
    assert {"rasterio", "geopandas", "fiona", "shapely", "h5py", "pandas", "scipy", "sklearn"} <= set(found)
    assert set(QGIS_SHIPS) <= set(found)


def test_ci_pins_meet_the_minimums():
    """The versions CI runs (requirements-dev.txt, and Debian's in constraints-debian.txt) meet every minimum."""
    pins = {}
    for name in ("requirements-dev.txt", "constraints-debian.txt"):
        for line in open(os.path.join(ROOT, name)):
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                pins[canonical(name.split("[")[0])] = version
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
    assert cmd[:5] == ["/usr/bin/python3", "-m", "pip", "install", "--user"] and "--no-input" in cmd
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


def test_dialog_without_pip(qgis_app, tmp_path):
    """An interpreter without pip (a venv made --without-pip): the dialog says how to get pip, Install stays off
    and does nothing."""
    from remine.plugin.dependencies_dialog import DependenciesDialog

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    python = str(tmp_path / "venv" / "bin" / "python")
    assert not has_pip(python) and has_pip(sys.executable)
    assert not has_pip("/usr/bin/qgis")  # never started: not an interpreter
    dialog = DependenciesDialog(python=python)
    assert not dialog.pip_ok and dialog.warning.text().startswith(f"pip is not available to {python}")
    assert "ensurepip" in dialog.warning.text()  # not the system's Python: Python's own way
    assert not dialog.install_button.isEnabled() and dialog.install() == []
    assert DependenciesDialog().warning.text() == ""  # the test interpreter has pip


def test_algorithm_with_a_broken_package_says_reinstall(remine_processing, tmp_path, monkeypatch):
    """A package that is installed but fails to load (here a pystac whose import raises Windows' DLL error, first
    on the path): the algorithm fails with the DependencyError naming it, not a traceback."""
    import processing
    from qgis.core import QgsProcessingException

    broken = tmp_path / "site-packages" / "pystac"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("DLL load failed while importing _speedups: The specified '
                                        'module could not be found.", name="pystac._speedups")\n')
    monkeypatch.syspath_prepend(str(broken.parent))
    monkeypatch.delitem(sys.modules, "pystac", raising=False)
    (tmp_path / "run").mkdir()
    message = "no exception"
    try:
        processing.run("remine:exportcatalog", {"INPUT": str(tmp_path / "run"), "OUTPUT": str(tmp_path / "cat")})
    except QgsProcessingException as exc:
        message = str(exc)
    assert "'pystac'" in message and "installed but fails to load (DLL load failed" in message, message
    assert str(broken / "__init__.py") in message and "repair it with" in message


def test_constraints_file_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    """The error path never fails on an unwritable cache folder: the constraints go to a temporary folder."""
    from remine.core.installer import constraints_file

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = constraints_file()
    assert not path.startswith(str(blocker)) and f"numpy=={numpy.__version__}" in open(path).read().split("\n")
    assert "pip install" in str(dependency_error("skops", python="/opt/qgis/bin/python3", platform="linux"))
