"""Geostatistics: variograms (gstat parity), kriging (OK/SK/UK/KED, block, 3D, log-normal), cross-validation.

Public API::

    from remine.core.geostat import (experimental_variogram, fit_variogram, Spherical, Exponential, Gaussian,
                                     Matern, Nugget, OrdinaryKriging, ordinary_kriging, cross_validate,
                                     krige_raster, HybridKrigingRegressor, compare_with_kriging)

Models take gstat-style parameters ``psill`` (partial sill), ``range_`` (range parameter, metres) and
``nugget``; see :mod:`.models`.

Names load on first use (PEP 562), so that importing a light submodule (the QGIS toolbox reading an
option list) does not import scikit-learn or numba, which QGIS's Python may lack.
"""
import importlib

_WHERE = {"Anisotropy": "anisotropy", "compare_with_kriging": "compare", "CrossValidation": "cv",
          "cross_validate": "cv", "auto_model": "fit", "fit_anisotropy": "fit", "fit_variogram": "fit",
          "initial_model": "fit", "HybridKrigingRegressor": "hybrid", "ExternalDriftKriging": "kriging",
          "OrdinaryKriging": "kriging", "SimpleKriging": "kriging", "UniversalKriging": "kriging",
          "block_discretisation": "kriging", "ordinary_kriging": "kriging", "Exponential": "models",
          "Gaussian": "models", "MODELS": "models", "Matern": "models", "NestedModel": "models", "Nugget": "models",
          "Power": "models", "Spherical": "models", "VariogramModel": "models", "model_from_dict": "models",
          "read_model_json": "models", "write_model_json": "models", "krige_raster": "raster",
          "ExperimentalVariogram": "variogram", "experimental_variogram": "variogram", "variogram_map": "variogram"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["experimental_variogram", "fit_variogram", "Spherical", "Exponential", "Gaussian", "Matern", "Nugget",
           "OrdinaryKriging", "ordinary_kriging", "cross_validate", "krige_raster", "Power", "NestedModel",
           "VariogramModel", "MODELS", "model_from_dict", "Anisotropy", "SimpleKriging", "UniversalKriging",
           "ExternalDriftKriging", "block_discretisation", "ExperimentalVariogram", "variogram_map",
           "CrossValidation", "auto_model", "fit_anisotropy", "initial_model", "read_model_json", "write_model_json",
           "HybridKrigingRegressor", "compare_with_kriging"]
