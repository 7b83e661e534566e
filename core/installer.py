"""Installing remine's missing packages into QGIS's own Python with pip, never replacing what QGIS ships.

- The interpreter is the one of the running installation (:func:`remine.core.interpreter.find_python`).
- Packages go to the user site (``pip install --user``), which QGIS's Python reads; on a Python marked
  externally managed (PEP 668, Debian and Ubuntu) pip needs ``--break-system-packages`` for that: the
  system's packages themselves are left alone, which the constraints guarantee.
- Constraints are computed at run time: every distribution the running interpreter sees outside the user
  site is pinned to its installed version (numpy, GDAL, pandas, scipy, …), so pip either finds versions
  that work with them or stops with a message; it never upgrades or shadows them.
- On Linux, when QGIS runs the system's Python, the geospatial/numeric packages that have a distribution
  package (:attr:`remine.core.dependencies.Package.system`) are left to the package manager: pip's wheels
  of rasterio, fiona, h5py bundle their own GDAL/HDF5 and crash inside QGIS.
- The same command is run by the dependency dialog and printed in the errors naming a missing package.
No Qt here: the dialog runs :func:`pip_command` in a ``QProcess``.
"""
import importlib
import importlib.metadata
import os
import re
import shlex
import site
import subprocess
import sys
import sysconfig
import tempfile

from .interpreter import looks_like_python

#: modules whose distribution metadata may be missing or oddly named in system packages (Debian's h5py)
SHIPPED_MODULES = ("numpy", "scipy", "pandas", "h5py", "matplotlib", "shapely", "pyproj", "rasterio", "fiona")
VERSION = re.compile(r"^\d+(\.\d+)*([abc]|rc)?\d*(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
#: flags for pip run without a terminal (the dialog's QProcess); a shell user does without them
BATCH_FLAGS = ("--disable-pip-version-check", "--no-input", "--no-warn-script-location", "--progress-bar", "off")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _under(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def shipped_constraints(user_site=None):
    """``{canonical name: "Name==version"}`` for every distribution visible outside the user site."""
    user_site = user_site or site.getusersitepackages()
    pins = {}
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        location = str(dist.locate_file(""))
        if not name or not version or _under(location, user_site):
            continue
        if NAME.match(name) and VERSION.match(version):
            pins.setdefault(canonical(name), f"{name}=={version}")
    for module in SHIPPED_MODULES:
        if canonical(module) in pins or importlib.util.find_spec(module) is None:
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError:  # installed but broken (a DLL load failure): nothing to pin
            continue
        version = getattr(mod, "__version__", None)
        if version and VERSION.match(version) and not _under(os.path.dirname(mod.__file__), user_site):
            pins[canonical(module)] = f"{module}=={version}"
    return pins


def externally_managed():
    """True when this Python is marked externally managed (PEP 668): pip then refuses ``--user`` installs."""
    return os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))


def write_constraints(path, pins):
    """Write ``pins`` (from :func:`shipped_constraints`) as a pip constraints file; return ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# versions of the packages QGIS's Python already has: pip must not change them\n")
        f.write("\n".join(sorted(pins.values(), key=str.lower)) + "\n")
    return path


def cache_folder(platform=sys.platform):
    """remine's per-user cache folder (``%LOCALAPPDATA%\\remine``, ``~/Library/Caches/remine``, ``~/.cache/remine``)."""
    if platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
    elif platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "remine")


def constraints_file():
    """Write the running interpreter's :func:`shipped_constraints` to ``<cache>/pip-constraints.txt`` (kept, so
    a command printed in a message still works in a shell afterwards; a new temporary folder when the cache
    cannot be written); return its path."""
    pins = shipped_constraints()
    try:
        return write_constraints(os.path.join(cache_folder(), "pip-constraints.txt"), pins)
    except OSError:
        return write_constraints(os.path.join(tempfile.mkdtemp(prefix="remine-pip-"), "constraints.txt"), pins)


def uses_system_packages(python, platform=sys.platform):
    """True when ``python`` is a Linux distribution's own interpreter (``/usr/bin/python3``): packages with a
    distribution package then come from the package manager, not from pip."""
    return platform.startswith("linux") and os.path.dirname(python) in ("/usr/bin", "/bin")


def pip_command(python, packages, constraints_path, platform=sys.platform, batch=True, reinstall=False):
    """The pip command line (a list) installing ``packages`` (:class:`remine.core.dependencies.Package`) for
    ``python`` into the user site under ``constraints_path``. ``batch``: with :data:`BATCH_FLAGS` (no
    terminal); ``reinstall``: ``--force-reinstall --no-deps`` (a package that is installed but fails to load)."""
    cmd = [python, "-m", "pip", "install", "--user"]
    if batch:
        cmd += BATCH_FLAGS
    if reinstall:
        cmd += ["--force-reinstall", "--no-deps"]
    cmd += ["-c", constraints_path]
    if externally_managed():
        cmd.append("--break-system-packages")
    if platform.startswith("linux"):
        for url in dict.fromkeys(p.index_url for p in packages if p.index_url):
            cmd += ["--extra-index-url", url]
    return cmd + [p.requirement for p in packages]


def system_command(packages):
    """The package-manager command (Debian/Ubuntu ``apt``) installing the distribution packages of ``packages``."""
    return "sudo apt install " + " ".join(p.system for p in packages)


def shell_line(cmd, platform=sys.platform):
    """``cmd`` (a list) as one line to paste into the platform's shell."""
    return subprocess.list2cmdline(cmd) if platform.startswith("win") else shlex.join(cmd)


def has_pip(python):
    """True when ``python`` (an interpreter's path) can import pip. Never starts something that is not a
    Python interpreter (inside QGIS ``sys.executable`` may be the QGIS binary)."""
    if not looks_like_python(python) or not os.path.isfile(python):
        return False
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('pip') is None)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0)).returncode == 0  # Windows
    except (OSError, subprocess.SubprocessError):
        return False


def get_pip_hint(python, platform=sys.platform):
    """How to give ``python`` a pip, per platform."""
    if platform.startswith("win"):
        return ("run the OSGeo4W installer (Advanced Install), select the package python3-pip and install it; "
                "the standalone QGIS installer brings pip: reinstall QGIS if it is missing")
    if platform.startswith("linux") and uses_system_packages(python, platform):
        return "install it with: sudo apt install python3-pip (Fedora: sudo dnf install python3-pip)"
    return f"install it with: {shell_line([python, '-m', 'ensurepip', '--user'], platform)}"


def activate_user_site():
    """Put the user site on ``sys.path`` after an install (Python adds it at start only if it existed)."""
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:
        site.addsitedir(user_site)
    importlib.invalidate_caches()
    return user_site
