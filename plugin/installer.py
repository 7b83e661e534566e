"""Installing remine's missing packages into QGIS's own Python with pip, never replacing what QGIS ships.

- The interpreter is the one of the running installation (:func:`remine.core.interpreter.find_python`).
- Packages go to the user site (``pip install --user``), which QGIS's Python reads; on a Python marked
  externally managed (PEP 668, Debian and Ubuntu) pip needs ``--break-system-packages`` for that: the
  system's packages themselves are left alone, which the constraints guarantee.
- Constraints are computed at run time: every distribution the running interpreter sees outside the user
  site is pinned to its installed version (numpy, GDAL, pandas, scipy, …), so pip either finds versions
  that work with them or stops with a message; it never upgrades or shadows them.
- Only missing packages are named, so a second run installs nothing.
No Qt here: the dialog runs :func:`pip_command` in a ``QProcess``.
"""
import importlib
import importlib.metadata
import os
import re
import site
import sys
import sysconfig

from ..core.dependencies import missing

#: modules whose distribution metadata may be missing or oddly named in system packages (Debian's h5py)
SHIPPED_MODULES = ("numpy", "scipy", "pandas", "h5py", "matplotlib", "shapely", "pyproj", "rasterio", "fiona")
VERSION = re.compile(r"^\d+(\.\d+)*([abc]|rc)?\d*(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


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
        mod = importlib.import_module(module)
        version = getattr(mod, "__version__", None)
        if version and VERSION.match(version) and not _under(os.path.dirname(mod.__file__), user_site):
            pins[canonical(module)] = f"{module}=={version}"
    return pins


def externally_managed():
    """True when this Python is marked externally managed (PEP 668): pip then refuses ``--user`` installs."""
    return os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))


def write_constraints(path, pins):
    """Write ``pins`` (from :func:`shipped_constraints`) as a pip constraints file; return ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# versions of the packages QGIS's Python already has: pip must not change them\n")
        f.write("\n".join(sorted(pins.values(), key=str.lower)) + "\n")
    return path


def pip_command(python, packages, constraints_path, platform=sys.platform):
    """The pip command line (a list) installing ``packages`` (:class:`remine.core.dependencies.Package`)."""
    cmd = [python, "-m", "pip", "install", "--user", "--disable-pip-version-check", "--no-input",
           "--no-warn-script-location", "--progress-bar", "off", "-c", constraints_path]
    if externally_managed():
        cmd.append("--break-system-packages")
    if platform.startswith("linux"):
        for url in dict.fromkeys(p.index_url for p in packages if p.index_url):
            cmd += ["--extra-index-url", url]
    return cmd + [p.requirement for p in packages]


def to_install(optional=()):
    """Missing required packages plus the missing ones among ``optional`` (pip names)."""
    return [p for p in missing(required_only=False) if p.required or p.pip in optional]


def activate_user_site():
    """Put the user site on ``sys.path`` after an install (Python adds it at start only if it existed)."""
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:
        site.addsitedir(user_site)
    importlib.invalidate_caches()
    return user_site
