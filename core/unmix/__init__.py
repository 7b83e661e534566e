"""Linear unmixing, endmember extraction, compositional closure and per-pixel intervals.

Public API: ``fcls, nnls, scls, ucls`` (with estimator twins ``FCLS, NNLS, SCLS, UCLS``),
``nfindr, vca, atgp`` (twins ``NFINDR, VCA, ATGP``), ``estimate_n_endmembers``, ``match_endmembers``,
``mesma`` (twin ``MESMA``: best model of one spectrum per mineral, per pixel), ``close`` (simplex
projection or ilr closure), ``unmix_raster``, ``close_raster`` and
``extract_endmembers`` (raster drivers, block-wise).

Names load on first use (PEP 562), so that importing a light submodule (the QGIS toolbox reading an
option list) does not import scikit-learn or numba, which QGIS's Python may lack.
"""
import importlib
import sys
import types

_WHERE = {"close": "closure", "ensemble_intervals": "closure", "ilr": "closure", "ilr_inverse": "closure",
          "project_simplex": "closure", "EndmemberSet": "endmembers", "array_endmembers": "endmembers",
          "library_endmembers": "endmembers", "ATGP": "extraction", "NFINDR": "extraction",
          "N_ESTIMATORS": "extraction", "VCA": "extraction", "atgp": "extraction",
          "estimate_n_endmembers": "extraction", "match_endmembers": "extraction", "nfindr": "extraction",
          "spectral_angle": "extraction", "vca": "extraction", "bootstrap_intervals": "intervals",
          "coverage": "intervals", "residual_intervals": "intervals", "MESMA": "mesma", "mesma": "mesma",
          "mesma_intervals": "mesma", "close_raster": "raster", "endmember_library": "raster",
          "extract_endmembers": "raster", "unmix_pixels": "raster", "unmix_raster": "raster", "FCLS": "solvers",
          "NNLS": "solvers", "SCLS": "solvers", "UCLS": "solvers", "check_endmembers": "solvers", "fcls": "solvers",
          "nnls": "solvers", "reconstruction_rmse": "solvers", "scls": "solvers", "ucls": "solvers"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """Keeps ``remine.core.unmix.mesma`` the function: importing the submodule of the same name binds the
    module over the package attribute (an eager ``from .mesma import mesma`` used to bind the function last)."""

    def __setattr__(self, name, value):
        if name == "mesma" and isinstance(value, types.ModuleType):
            value = value.mesma
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["fcls", "nnls", "scls", "ucls", "FCLS", "NNLS", "SCLS", "UCLS", "check_endmembers", "reconstruction_rmse",
           "nfindr", "vca", "atgp", "NFINDR", "VCA", "ATGP", "estimate_n_endmembers", "N_ESTIMATORS",
           "match_endmembers", "spectral_angle", "close", "project_simplex", "ilr", "ilr_inverse", "ensemble_intervals",
           "residual_intervals", "bootstrap_intervals", "coverage", "EndmemberSet", "library_endmembers",
           "array_endmembers", "unmix_pixels", "unmix_raster", "close_raster", "extract_endmembers",
           "endmember_library", "mesma", "MESMA", "mesma_intervals"]
