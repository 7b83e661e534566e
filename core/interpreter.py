"""The Python interpreter that child processes must run: QGIS's own, on Windows, macOS and Linux.

Inside QGIS ``sys.executable`` is not a usable interpreter: the QGIS binary itself on Windows
(``qgis-bin.exe``) and macOS (``QGIS.app/Contents/MacOS/QGIS``), and on Linux whatever ``python3`` comes
first on PATH (possibly another Python with other packages). Worker processes (joblib/loky,
multiprocessing) and ``pip`` must run the interpreter that belongs to the running Python's installation,
found from ``sys.base_exec_prefix``:

- Windows, OSGeo4W (``C:\\OSGeo4W\\apps\\Python312``) and the standalone installer
  (``C:\\Program Files\\QGIS 3.34\\apps\\Python39``): ``python.exe`` in that folder;
- macOS (official ``QGIS.app``): ``Contents/MacOS/bin/python3`` next to the QGIS binary, or the
  framework's ``bin/python3.X``;
- Linux (distribution packages, conda, ...): ``bin/python3.X`` or ``bin/python3``.

No ``/proc``: only paths and file existence, so each layout is testable by building it in a folder.
"""
import multiprocessing
import os
import re
import sys

PYTHON_NAMES = ("python", "python3", "pythonw", "python.exe", "pythonw.exe", "python3.exe")


def looks_like_python(path):
    """True when the file name of ``path`` is a Python interpreter's (``python3``, ``python3.11``, ``python.exe``)."""
    name = re.split(r"[\\/]", path or "")[-1].lower()  # Windows paths too
    if name.endswith(".exe"):
        name = name[:-4]
    return name in ("python", "pythonw", "python3") or (name.startswith("python3.") and name[8:].isdigit())


def _inside(path, folder):
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)
    except ValueError:  # different drives on Windows
        return False


def candidates(platform, base_exec_prefix, executable, version):
    """Interpreter paths to try, best first, for ``platform`` (``sys.platform``), ``version`` (major, minor)."""
    major, minor = version[:2]
    if platform.startswith("win"):
        return [os.path.join(base_exec_prefix, "python.exe"), os.path.join(base_exec_prefix, f"python{major}.exe"),
                os.path.join(os.path.dirname(executable or ""), "python.exe")]
    found = [os.path.join(base_exec_prefix, "bin", f"python{major}.{minor}"),
             os.path.join(base_exec_prefix, "bin", f"python{major}")]
    if platform == "darwin":  # QGIS.app/Contents/MacOS/QGIS -> QGIS.app/Contents/MacOS/bin/python3
        found.insert(0, os.path.join(os.path.dirname(executable or ""), "bin", f"python{major}"))
    return found


def find_python(platform=sys.platform, executable=sys.executable, prefix=sys.prefix,
                base_exec_prefix=sys.base_exec_prefix, version=sys.version_info):
    """Path of the interpreter that runs this Python's installation (for workers and pip).

    ``executable`` is kept when it is an interpreter inside ``prefix`` (a plain or virtual-environment
    Python); otherwise the first existing file of :func:`candidates`. Raises ``FileNotFoundError`` naming
    the paths tried when none exists.
    """
    if executable and looks_like_python(executable) and os.path.isfile(executable) and (
            _inside(executable, prefix) or _inside(executable, base_exec_prefix)):
        return executable
    tried = candidates(platform, base_exec_prefix, executable, version)
    for path in tried:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no Python interpreter of this installation found (sys.executable is {executable!r}); "
                            f"tried: {', '.join(tried)}")


def find_python_or_fallback(**layout):
    """``(path, note)``: :func:`find_python` (``layout``: its arguments) and None, or, when that finds nothing,
    ``sys.executable`` and a note saying so (inside QGIS that may be the QGIS binary, not a Python)."""
    try:
        return find_python(**layout), None
    except FileNotFoundError as exc:
        executable = layout.get("executable", sys.executable)
        return executable, f"{exc}; using {executable} instead"


def use_own_python():
    """Make joblib/loky and multiprocessing start workers with this installation's interpreter.

    Sets ``sys.executable`` and ``multiprocessing.set_executable``; workers are started with *spawn* on
    Windows (the only start method there), so everything they run must be importable and free of side
    effects at import. Returns the interpreter path.
    """
    python = find_python()
    if python != sys.executable:
        sys.executable = python
        sys._base_executable = python  # multiprocessing's spawn on Windows compares the two
        multiprocessing.set_executable(python)
        loky = sys.modules.get("joblib.externals.loky.backend.spawn")
        if loky is not None:  # loky keeps the interpreter it saw when first imported (Windows)
            loky._python_exe = python
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if package_parent not in paths:  # children started as `python -m remine.…` find the plugin
        os.environ["PYTHONPATH"] = os.pathsep.join([package_parent] + paths)
    return python
