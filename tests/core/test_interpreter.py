"""QGIS's own interpreter is found on Windows (OSGeo4W, standalone), macOS and Linux layouts, built in folders;
workers started with it run remine code (spawn, as on Windows)."""
import os
import subprocess
import sys
import sysconfig

import pytest

from remine.core.interpreter import find_python, find_python_or_fallback, looks_like_python


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()
    return str(path)


def test_windows_osgeo4w(tmp_path):
    root = tmp_path / "OSGeo4W"
    python = touch(root / "apps" / "Python312" / "python.exe")
    qgis = touch(root / "bin" / "qgis-bin.exe")
    got = find_python("win32", qgis, str(root / "apps" / "Python312"), str(root / "apps" / "Python312"), (3, 12))
    assert got == python


def test_windows_standalone_installer(tmp_path):
    root = tmp_path / "Program Files" / "QGIS 3.22.16"
    python = touch(root / "apps" / "Python39" / "python.exe")
    qgis = touch(root / "bin" / "qgis-ltr-bin.exe")
    assert find_python("win32", qgis, str(root / "apps" / "Python39"), str(root / "apps" / "Python39"),
                       (3, 9)) == python


def test_macos_app_bundle(tmp_path):
    contents = tmp_path / "QGIS.app" / "Contents"
    qgis = touch(contents / "MacOS" / "QGIS")
    python = touch(contents / "MacOS" / "bin" / "python3")
    framework = contents / "Frameworks" / "Python.framework" / "Versions" / "3.10"
    touch(framework / "bin" / "python3.10")
    assert find_python("darwin", qgis, str(framework), str(framework), (3, 10)) == python


def test_macos_framework_only(tmp_path):
    framework = tmp_path / "Python.framework" / "Versions" / "3.11"
    python = touch(framework / "bin" / "python3.11")
    qgis = touch(tmp_path / "QGIS.app" / "Contents" / "MacOS" / "QGIS")
    assert find_python("darwin", qgis, str(framework), str(framework), (3, 11)) == python


def test_linux_other_python_first_on_path(tmp_path):
    """Debian: sys.executable is whatever python3 comes first on PATH (here a pyenv shim): not ours."""
    usr = tmp_path / "usr"
    python = touch(usr / "bin" / "python3.11")
    shim = touch(tmp_path / "home" / ".pyenv" / "shims" / "python3")
    assert find_python("linux", shim, str(usr), str(usr), (3, 11)) == python


def test_plain_and_virtual_environment_python_kept(tmp_path):
    venv = tmp_path / "venv"
    python = touch(venv / "bin" / "python")
    touch(tmp_path / "usr" / "bin" / "python3.11")
    assert find_python("linux", python, str(venv), str(tmp_path / "usr"), (3, 11)) == python


def test_nothing_found_names_the_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="python.exe"):
        find_python("win32", str(tmp_path / "qgis-bin.exe"), str(tmp_path), str(tmp_path), (3, 12))


def test_fallback_to_sys_executable_says_so(tmp_path):
    """No interpreter found: sys.executable (here the QGIS binary) with a note naming what was tried."""
    qgis = str(tmp_path / "qgis-bin.exe")
    python, note = find_python_or_fallback(platform="win32", executable=qgis, prefix=str(tmp_path),
                                           base_exec_prefix=str(tmp_path), version=(3, 12))
    assert python == qgis and "python.exe" in note and note.endswith(f"using {qgis} instead")
    assert find_python_or_fallback() == (find_python(), None)


def test_names():
    assert looks_like_python("/usr/bin/python3.11") and looks_like_python("C:\\x\\python.exe")
    assert not looks_like_python("/usr/bin/qgis") and not looks_like_python("qgis-bin.exe")


SPAWN = """
import multiprocessing, sys
sys.executable = '/usr/bin/qgis'   # what an embedded interpreter may report
from remine.core.interpreter import use_own_python
python = use_own_python()
from remine.core.spectra import snv
import numpy as np
if __name__ == '__main__':
    ctx = multiprocessing.get_context('spawn')
    with ctx.Pool(1) as pool:
        out = pool.apply(snv, (np.arange(6.0).reshape(2, 3),))
    from joblib import Parallel, delayed
    workers = Parallel(n_jobs=2, backend='loky')(delayed(lambda: __import__('sys').executable)() for _ in range(2))
    print(python, round(float(out[0, 0]), 6), sorted(set(workers)))
"""


def test_workers_start_with_own_python_under_spawn(tmp_path):
    script = tmp_path / "spawn_workers.py"   # spawn needs an importable __main__ (as on Windows)
    script.write_text(SPAWN)
    # QGIS's Python sees the packages through its paths (here the venv's, as scripts/qgis-process gives them)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + [sysconfig.get_paths()["purelib"]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    python, first, workers = run.stdout.split(" ", 2)
    assert python.startswith(sys.base_exec_prefix) and "qgis" not in python
    assert float(first) == pytest.approx(-1.224745, abs=1e-6)
    assert python in workers
