"""The Python packages remine imports beyond what every QGIS ships, their status, and the errors that name them.

Every QGIS brings its Python bindings, GDAL's (``osgeo``), numpy and matplotlib (:data:`QGIS_SHIPS`); what
else a QGIS's Python has depends on the build (Debian's ``qgis`` pulls in nothing more; OSGeo4W, the
standalone Windows installer and QGIS.app differ by version in rasterio, geopandas, h5py, …). Every other
package remine imports is in :data:`PACKAGES` (tests/qgis/test_dependencies.py checks the imports against
both lists). Nothing here imports them: the status comes from ``importlib.util.find_spec`` and the installed
distributions' metadata, so checking costs milliseconds and QGIS never waits on it.
"""
import importlib.metadata
import importlib.util
import os
import re
import site
import sys
from dataclasses import dataclass
from typing import Optional

from .errors import DependencyError
from .installer import constraints_file, pip_command, shell_line, system_command, uses_system_packages


@dataclass(frozen=True)
class Package:
    """One pip package: ``module`` is what remine imports, ``pip`` the distribution, ``minimum`` its version."""

    module: str
    pip: str
    minimum: str
    required: bool
    purpose: str
    index_url: Optional[str] = None  # extra package index (torch's CPU wheels on Linux)
    system: Optional[str] = None  # the Linux distributions' package, used instead of pip with the system's Python

    @property
    def requirement(self):
        return f"{self.pip}>={self.minimum}"


PACKAGES = (
    Package("sklearn", "scikit-learn", "1.6", True, "classifiers, regressors, validation, unmixing estimators"),
    Package("xgboost", "xgboost-cpu", "2.1", True, "XGBoost classifier and regressor"),
    Package("joblib", "joblib", "1.3", True, "parallel block processing"),
    Package("numba", "numba", "0.57", True, "compiled kernels (unmixing, kriging, continuum removal, SVM)"),
    Package("skops", "skops", "0.9", True, "safe model files (.skops)"),
    # the minimums of these are Debian bookworm's versions (constraints-debian.txt), the oldest tested
    Package("scipy", "scipy", "1.10", True, "statistics, optimisation, spatial search", system="python3-scipy"),
    Package("pandas", "pandas", "1.5", True, "tables (samples, metrics, variograms)", system="python3-pandas"),
    Package("rasterio", "rasterio", "1.3", True, "raster reading and writing in blocks", system="python3-rasterio"),
    Package("geopandas", "geopandas", "0.12", True, "vector layers (ROIs, samples)", system="python3-geopandas"),
    Package("fiona", "fiona", "1.9", True, "vector files (passports, layers)", system="python3-fiona"),
    Package("shapely", "shapely", "1.8", True, "geometries (demo scenes, 3D volumes)", system="python3-shapely"),
    Package("h5py", "h5py", "3.7", True, "HDF5 training data sets", system="python3-h5py"),
    Package("torch", "torch", "2.0", False, "CNN classifiers, hybrid kriging network", "https://download.pytorch.org/whl/cpu"),
    Package("pyvista", "pyvista", "0.43", False, "3D tailings views"),
    Package("dask", "dask", "2024.1", False, "cluster processing (with distributed)"),
    Package("distributed", "distributed", "2024.1", False, "cluster processing (with dask)"),
    Package("pystac", "pystac", "1.15", False, "STAC catalogue export"),
)
#: import name -> Package, also for the modules a package brings under another name
BY_MODULE = {p.module: p for p in PACKAGES}
BY_MODULE.update(affine=BY_MODULE["rasterio"],  # a dependency of rasterio (its transforms)
                 pyproj=BY_MODULE["geopandas"],  # a dependency of geopandas (points reprojected to a grid's CRS)
                 threadpoolctl=BY_MODULE["sklearn"])  # a dependency of scikit-learn (BLAS thread limits)

#: top-level modules remine imports that every QGIS installation ships, never installed by remine
QGIS_SHIPS = (
    "qgis",  # QGIS's own Python bindings (qgis.core, qgis.PyQt)
    "processing",  # QGIS's Processing plugin, a core plugin of every QGIS
    "osgeo",  # GDAL's bindings: QGIS is built on GDAL (Debian: python3-gdal, a dependency of python3-qgis)
    "numpy",  # needed by GDAL's and QGIS's Python bindings (Debian: python3-qgis depends on python3-numpy)
    "matplotlib",  # Debian: python3-qgis-common depends on it; OSGeo4W, the Windows installer, QGIS.app ship it
)


def installed_version(package):
    """Installed version of ``package`` (a :class:`Package`) as a string, or None when it cannot be imported."""
    if importlib.util.find_spec(package.module) is None:
        return None
    for name in (package.pip, package.module):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def version_tuple(text):
    """``"1.9.1rc1"`` -> (1, 9, 1): the leading dotted numbers of a version."""
    match = re.match(r"\d+(\.\d+)*", str(text))
    return tuple(int(n) for n in match.group(0).split(".")) if match else ()


def status(packages=PACKAGES):
    """``[(package, installed version or None, ok)]``; ``ok`` when installed at ``minimum`` or later."""
    rows = []
    for p in packages:
        version = installed_version(p)
        ok = version is not None and (version == "unknown" or version_tuple(version) >= version_tuple(p.minimum))
        rows.append((p, version, ok))
    return rows


def missing(required_only=True):
    """Packages not installed or older than their minimum (only the required ones by default)."""
    return [p for p, _, ok in status() if not ok and (p.required or not required_only)]


def install_plan(python, optional=(), platform=sys.platform):
    """``(by pip, by the system)``: the missing required packages plus the missing ones among ``optional``
    (pip names), split into those pip installs for ``python`` and those the Linux distribution's package
    manager must install (:func:`remine.core.installer.uses_system_packages`)."""
    wanted = [p for p in missing(required_only=False) if p.required or p.pip in optional]
    system = [p for p in wanted if p.system and uses_system_packages(python, platform)]
    return [p for p in wanted if p not in system], system


MENU = "Plugins ▸ remine ▸ Check dependencies…"


def install_hint(packages, python, platform=sys.platform, reinstall=False):
    """What to do to install (or ``reinstall``) ``packages``: the dependency dialog, or the command it runs
    (:func:`remine.core.installer.pip_command`, for a shell), or the distribution's package manager."""
    if not reinstall and uses_system_packages(python, platform) and all(p.system for p in packages):
        return (f"install it with your Linux distribution's package manager: {system_command(packages)} (pip's "
                "builds of these clash with the GDAL and numpy of the system's QGIS)")
    cmd = pip_command(python, packages, constraints_file(), platform, batch=False, reinstall=reinstall)
    return f"{'reinstall' if reinstall else 'install'} it from QGIS with {MENU} ▸ Install missing, or in a shell: " \
           f"{shell_line(cmd, platform)}"


def _package_of(exc):
    """``(Package, file)`` of the package whose import raised ``exc``: from the module it names, the file it
    failed to load, or the innermost frame inside a ``site-packages``/``dist-packages`` folder; (None, None)."""
    files = [exc.path] if getattr(exc, "path", None) else []
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    files += frames[::-1]
    for path in files:
        parts = re.split(r"[\\/]", path)
        for i in range(len(parts) - 2, -1, -1):
            if parts[i].lower() in ("site-packages", "dist-packages"):
                package = BY_MODULE.get(parts[i + 1].split(".")[0])
                if package is not None:
                    return package, path
                break
    package = BY_MODULE.get((getattr(exc, "name", None) or "").split(".")[0])
    return package, None


def dependency_error(module_name, python=sys.executable, platform=sys.platform):
    """The :class:`DependencyError` for a failed ``import module_name`` (e.g. ``"sklearn.base"``), or None
    when the module is not one of remine's :data:`PACKAGES`. ``python`` is the interpreter named in the
    command (inside QGIS its own, see :func:`remine.core.interpreter.find_python`)."""
    package = BY_MODULE.get((module_name or "").split(".")[0])
    if package is None:
        return None
    return DependencyError(f"the Python package '{package.pip}' ({package.purpose}) is not installed for the Python "
                           f"{python}; {install_hint([package], python, platform)}")


def import_error(exc, python=sys.executable, platform=sys.platform):
    """The :class:`DependencyError` for ``exc``, an ``ImportError`` raised by importing one of
    :data:`PACKAGES`, or None when it is not about them. A ``ModuleNotFoundError`` means not installed
    (:func:`dependency_error`); any other ``ImportError`` (Windows: "DLL load failed while importing …",
    "cannot import name …") means installed but failing to load: reinstalled with pip when it lives in the
    user site, else with the installer it came with (QGIS's, OSGeo4W's, the distribution's)."""
    if isinstance(exc, ModuleNotFoundError):
        return dependency_error(exc.name, python, platform)
    package, path = _package_of(exc)
    if package is None:
        return None
    start = f"the Python package '{package.pip}' ({package.purpose}) is installed but fails to load ({exc})"
    user_site = site.getusersitepackages()
    if path is None or os.path.realpath(path).startswith(os.path.realpath(user_site) + os.sep):
        return DependencyError(f"{start}; {install_hint([package], python, platform, reinstall=True)}")
    if platform.startswith("linux") and package.system:
        repair = f"your Linux distribution's package manager (Debian/Ubuntu: sudo apt install --reinstall " \
                 f"{package.system}) or the installer QGIS came from"
    else:
        repair = "the installer QGIS came from (" + ("OSGeo4W setup or the QGIS installer" if
                                                    platform.startswith("win") else "QGIS.app, conda, …") + ")"
    return DependencyError(f"{start}; it belongs to QGIS's Python installation ({path}): repair it with {repair}")


def require(module, package=None, extra=None):
    """Import an optional dependency lazily.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"torch"``.
    package : str, optional
        pip package name if it differs from the module name.
    extra : str, optional
        remine extra that brings it (``deep``, ``dask``, ``viz``).

    Raises
    ------
    DependencyError
        naming the package and the command that installs it: for one of remine's packages the message of
        :func:`remine.core.dependencies.import_error` (the dependency dialog, the pip command for this
        interpreter), followed by the library's extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module
        hint = f"pip install 'remine[{extra}]'" if extra else f"pip install {pkg}"
        error = import_error(exc)
        if error is not None:
            raise DependencyError(f"{error}; as a Python library: {hint}") from exc
        raise DependencyError(
            f"optional dependency '{pkg}' is not installed (needed here); install it with: {hint}"
        ) from exc
