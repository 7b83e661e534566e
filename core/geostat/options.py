"""Option lists of the geostatistics functions, importable without scikit-learn or numba (the QGIS toolbox
reads them when it registers the algorithms; the computations import those packages when they run)."""
#: cross-validation schemes: leave-one-out, k-fold, spatial blocks
SCHEMES = ("loo", "kfold", "spatial")
