"""Geostatistics: variograms (gstat parity), kriging (OK/SK/UK/KED, block, 3D, log-normal), cross-validation.

Public API::

    from remine.core.geostat import (experimental_variogram, fit_variogram, Spherical, Exponential, Gaussian,
                                     Matern, Nugget, OrdinaryKriging, ordinary_kriging, cross_validate,
                                     krige_raster, HybridKrigingRegressor, compare_with_kriging)

Models take gstat-style parameters ``psill`` (partial sill), ``range_`` (range parameter, metres) and
``nugget``; see :mod:`.models`.
"""
from .anisotropy import Anisotropy
from .compare import compare_with_kriging
from .cv import CrossValidation, cross_validate
from .fit import auto_model, fit_anisotropy, fit_variogram, initial_model
from .hybrid import HybridKrigingRegressor
from .kriging import (
    ExternalDriftKriging,
    OrdinaryKriging,
    SimpleKriging,
    UniversalKriging,
    block_discretisation,
    ordinary_kriging,
)
from .models import (
    MODELS,
    Exponential,
    Gaussian,
    Matern,
    NestedModel,
    Nugget,
    Power,
    Spherical,
    VariogramModel,
    model_from_dict,
    read_model_json,
    write_model_json,
)
from .raster import krige_raster
from .variogram import ExperimentalVariogram, experimental_variogram, variogram_map

__all__ = ["experimental_variogram", "fit_variogram", "Spherical", "Exponential", "Gaussian", "Matern", "Nugget",
           "OrdinaryKriging", "ordinary_kriging", "cross_validate", "krige_raster", "Power", "NestedModel",
           "VariogramModel", "MODELS", "model_from_dict", "Anisotropy", "SimpleKriging", "UniversalKriging",
           "ExternalDriftKriging", "block_discretisation", "ExperimentalVariogram", "variogram_map",
           "CrossValidation", "auto_model", "fit_anisotropy", "initial_model", "read_model_json", "write_model_json",
           "HybridKrigingRegressor", "compare_with_kriging"]
