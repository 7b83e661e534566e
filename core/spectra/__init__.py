"""Spectra: libraries and readers, preprocessing, absorption features, fusion.

Arrays are pixel tables ``(n, bands)`` (or one spectrum ``(bands,)``) with ``wavelengths_nm``
``(bands,)`` strictly ascending in nanometres. Raster versions (block-wise, GeoTIFF out) are in
:mod:`remine.core.spectra.cube`.
"""
from .continuum import continuum, continuum_removed
from .features import INDICES, WINDOWS_NM, absorption_feature, band_depth, mineral_indices
from .fusion import FusedFeatures, fuse
from .io import read_library, write_library
from .library import SpectralLibrary, library_from_rois
from .preprocess import bad_band_mask, brightness_normalise, derivative, savgol, snv, splice_correction
from .resample import check_wavelengths, resample
from .sensors import SENSORS, sensor_bands

TRANSFORMERS = ("Resampler", "ContinuumRemover", "SavGol", "Derivative", "SNV", "BrightnessNormaliser",
                "BadBandRemover", "SpliceCorrector")


def __getattr__(name):
    """The scikit-learn transformers load on first use (importing scikit-learn costs ~1 s)."""
    if name in TRANSFORMERS:
        from . import transformers

        return getattr(transformers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SpectralLibrary", "read_library", "write_library", "resample", "continuum_removed", "savgol", "derivative",
    "snv", "bad_band_mask", "absorption_feature", "fuse",
    "continuum", "brightness_normalise", "splice_correction", "band_depth", "mineral_indices", "INDICES",
    "WINDOWS_NM", "library_from_rois", "check_wavelengths", "FusedFeatures", "SENSORS", "sensor_bands",
    *TRANSFORMERS,
]
