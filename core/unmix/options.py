"""Option lists of the unmixing functions, importable without scikit-learn or numba.

The QGIS toolbox builds its dialogs from these when it registers the algorithms, which must work in a
QGIS whose Python lacks the packages the computations need (they are imported when an algorithm runs).
"""
#: abundance solvers: fully constrained, non-negative, sum-to-one, unconstrained least squares
METHODS = ("fcls", "nnls", "scls", "ucls")
#: endmember extraction: N-FINDR, vertex component analysis, automatic target generation
EXTRACTION_METHODS = ("nfindr", "vca", "atgp")
#: estimators of the number of endmembers
N_ESTIMATORS = ("hysime", "hfc", "eigengap", "nwhfc")  # dialog order: scripts address options by index
#: interval methods of unmix_raster
INTERVAL_METHODS = ("residual", "bootstrap")
#: endmember variability: all spectra of a mineral at once (summed), or MESMA's best model per pixel
VARIABILITY = ("bundle", "mesma")
#: where unmix_raster's endmembers come from
ENDMEMBER_SOURCES = ("library", "rois", "extract", "usgs")
