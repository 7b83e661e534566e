"""Linear unmixing, endmember extraction, compositional closure and per-pixel intervals.

Public API: ``fcls, nnls, scls, ucls`` (with estimator twins ``FCLS, NNLS, SCLS, UCLS``),
``nfindr, vca, atgp`` (twins ``NFINDR, VCA, ATGP``), ``estimate_n_endmembers``, ``match_endmembers``,
``mesma`` (twin ``MESMA``: best model of one spectrum per mineral, per pixel), ``close`` (simplex
projection or ilr closure), ``unmix_raster``, ``close_raster`` and
``extract_endmembers`` (raster drivers, block-wise).
"""
from .closure import close, ensemble_intervals, ilr, ilr_inverse, project_simplex
from .endmembers import EndmemberSet, array_endmembers, library_endmembers
from .extraction import (
    ATGP,
    N_ESTIMATORS,
    NFINDR,
    VCA,
    atgp,
    estimate_n_endmembers,
    match_endmembers,
    nfindr,
    spectral_angle,
    vca,
)
from .intervals import bootstrap_intervals, coverage, residual_intervals
from .mesma import MESMA, mesma, mesma_intervals
from .raster import close_raster, endmember_library, extract_endmembers, unmix_pixels, unmix_raster
from .solvers import FCLS, NNLS, SCLS, UCLS, check_endmembers, fcls, nnls, reconstruction_rmse, scls, ucls

__all__ = ["fcls", "nnls", "scls", "ucls", "FCLS", "NNLS", "SCLS", "UCLS", "check_endmembers", "reconstruction_rmse",
           "nfindr", "vca", "atgp", "NFINDR", "VCA", "ATGP", "estimate_n_endmembers", "N_ESTIMATORS",
           "match_endmembers", "spectral_angle", "close", "project_simplex", "ilr", "ilr_inverse", "ensemble_intervals",
           "residual_intervals", "bootstrap_intervals", "coverage", "EndmemberSet", "library_endmembers",
           "array_endmembers", "unmix_pixels", "unmix_raster", "close_raster", "extract_endmembers",
           "endmember_library", "mesma", "MESMA", "mesma_intervals"]
