"""The Python packages remine needs beyond what QGIS ships, their status, and the error that names them.

QGIS brings numpy, scipy, pandas, GDAL, rasterio, matplotlib, h5py (platform permitting); remine needs
more (:data:`PACKAGES`). Nothing here imports them: the status comes from ``importlib.util.find_spec`` and
the installed distributions' metadata, so checking costs milliseconds and QGIS never waits on it.
"""
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from typing import Optional

from .errors import DependencyError


@dataclass(frozen=True)
class Package:
    """One pip package: ``module`` is what remine imports, ``pip`` the distribution, ``minimum`` its version."""

    module: str
    pip: str
    minimum: str
    required: bool
    purpose: str
    index_url: Optional[str] = None  # extra package index (torch's CPU wheels on Linux)

    @property
    def requirement(self):
        return f"{self.pip}>={self.minimum}"


PACKAGES = (
    Package("sklearn", "scikit-learn", "1.6", True, "classifiers, regressors, validation, unmixing estimators"),
    Package("xgboost", "xgboost-cpu", "2.1", True, "XGBoost classifier and regressor"),
    Package("joblib", "joblib", "1.3", True, "parallel block processing"),
    Package("numba", "numba", "0.57", True, "compiled kernels (unmixing, kriging, continuum removal, SVM)"),
    Package("skops", "skops", "0.9", True, "safe model files (.skops)"),
    Package("torch", "torch", "2.0", False, "1D/2D CNN classifiers", "https://download.pytorch.org/whl/cpu"),
    Package("pyvista", "pyvista", "0.43", False, "3D tailings views"),
    Package("dask", "dask", "2024.1", False, "cluster processing (with distributed)"),
    Package("distributed", "distributed", "2024.1", False, "cluster processing (with dask)"),
)
#: import name -> Package, also for the modules a package brings under another name
BY_MODULE = {p.module: p for p in PACKAGES}


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


INSTALL_HINT = ("install it from QGIS with Plugins > remine > Check dependencies… > Install missing, "
                "or in a shell: {python} -m pip install --user \"{requirement}\"")


def dependency_error(module_name, python="python3"):
    """The :class:`DependencyError` for a failed ``import module_name`` (e.g. ``"sklearn.base"``), or None
    when the module is not one of remine's :data:`PACKAGES`. ``python`` is the interpreter named in the
    command (QGIS's own, see :func:`remine.core.interpreter.find_python`)."""
    package = BY_MODULE.get((module_name or "").split(".")[0])
    if package is None:
        return None
    hint = INSTALL_HINT.format(python=python, requirement=package.requirement)
    return DependencyError(f"the Python package '{package.pip}' ({package.purpose}) is not installed in QGIS's "
                           f"Python; {hint}")
