"""scikit-learn transformers wrapping the spectral preprocessing functions (chain them in a Pipeline;
they are saved with models). Each works on pixel tables ``(n, bands)``; those that need the band
wavelengths take ``wavelengths_nm`` as a parameter, and every fitted transformer exposes
``wavelengths_out_`` (the wavelengths of its output columns).
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..bands import WATER_VAPOUR_NM
from ..errors import InputError
from .continuum import continuum_removed
from .preprocess import ASD_SPLICES_NM, bad_band_mask, brightness_normalise, derivative, savgol, snv, splice_correction
from .resample import resample


class _Spectral(TransformerMixin, BaseEstimator):
    """Base: ``fit`` checks the band count against ``wavelengths_nm`` (if any) and records it."""

    def fit(self, X, y=None):
        X = np.asarray(X)
        wl = getattr(self, "wavelengths_nm", None)
        if wl is not None and X.shape[1] != len(wl):
            raise InputError(f"{type(self).__name__}: X has {X.shape[1]} bands, wavelengths_nm has {len(wl)}")
        self.n_features_in_ = X.shape[1]
        self.wavelengths_out_ = None if wl is None else np.asarray(wl, dtype=float)
        return self

    def _finite(self, X, out, step):
        """``out`` (n, bands_out), or an InputError naming the samples (rows) whose finite spectra in ``X``
        became NaN/inf through ``step`` (the preprocessing's name) and the output bands (nm) where they did."""
        out = np.asarray(out)
        made = ~np.isfinite(out).all(axis=1) & np.isfinite(np.asarray(X, dtype=float)).all(axis=1)
        if not made.any():
            return out
        rows = np.flatnonzero(made)
        cols = np.flatnonzero(~np.isfinite(out[rows]).all(axis=0))
        wl = getattr(self, "wavelengths_out_", None)
        bands = (", ".join(f"{wl[c]:g}" for c in cols[:8]) + " nm") if wl is not None and len(wl) == out.shape[1] \
            else "columns " + ", ".join(str(c) for c in cols[:8])
        raise InputError(f"preprocessing '{step}' turned {len(rows)} finite spectra into NaN/inf features (samples "
                         f"{', '.join(str(r) for r in rows[:8])}{', …' if len(rows) > 8 else ''}; bands {bands}"
                         f"{', …' if len(cols) > 8 else ''}); remove or mask these spectra (flat, all-zero or "
                         "non-positive) or choose another preprocessing")


class Resampler(_Spectral):
    """Gaussian-SRF resampling to ``target_wavelengths_nm`` (see :func:`remine.core.spectra.resample`)."""

    def __init__(self, wavelengths_nm=None, target_wavelengths_nm=None, target_fwhm_nm=None, source_fwhm_nm=None):
        self.wavelengths_nm = wavelengths_nm
        self.target_wavelengths_nm = target_wavelengths_nm
        self.target_fwhm_nm = target_fwhm_nm
        self.source_fwhm_nm = source_fwhm_nm

    def fit(self, X, y=None):
        super().fit(X, y)
        self.wavelengths_out_ = np.asarray(self.target_wavelengths_nm, dtype=float)
        return self

    def transform(self, X):
        return resample(X, self.wavelengths_nm, self.target_wavelengths_nm, self.target_fwhm_nm, self.source_fwhm_nm)


class ContinuumRemover(_Spectral):
    """Upper-hull continuum removal (``method`` "divide" or "subtract")."""

    def __init__(self, wavelengths_nm=None, method="divide"):
        self.wavelengths_nm = wavelengths_nm
        self.method = method

    def transform(self, X):
        return self._finite(X, continuum_removed(X, self.wavelengths_nm, self.method), "continuum")


class SavGol(_Spectral):
    """Savitzky–Golay smoothing (``deriv`` 0) or derivative along bands."""

    def __init__(self, window_length=11, polyorder=2, deriv=0):
        self.window_length = window_length
        self.polyorder = polyorder
        self.deriv = deriv

    def transform(self, X):
        return savgol(X, self.window_length, self.polyorder, self.deriv)


class Derivative(_Spectral):
    """1st/2nd derivative per nm (optionally Savitzky–Golay smoothed first)."""

    def __init__(self, wavelengths_nm=None, order=1, window_length=None, polyorder=2):
        self.wavelengths_nm = wavelengths_nm
        self.order = order
        self.window_length = window_length
        self.polyorder = polyorder

    def transform(self, X):
        return self._finite(X, derivative(X, self.wavelengths_nm, self.order, self.window_length, self.polyorder),
                            "derivative")


class SNV(_Spectral):
    """Standard normal variate per spectrum."""

    def transform(self, X):
        return self._finite(X, snv(X), "snv")


class BrightnessNormaliser(_Spectral):
    """Divide each spectrum by its L2 norm, mean or max (``method``)."""

    def __init__(self, method="l2"):
        self.method = method

    def transform(self, X):
        return self._finite(X, brightness_normalise(X, self.method), "brightness")


class BadBandRemover(_Spectral):
    """Drop bad bands: water-vapour windows, out-of-range, ``bbl`` zeros and bands NaN in all training spectra.

    Fitted: ``mask_`` (bands,) True = dropped, ``wavelengths_out_`` the kept wavelengths.
    """

    def __init__(self, wavelengths_nm=None, windows_nm=WATER_VAPOUR_NM, bbl=None, min_nm=None, max_nm=None):
        self.wavelengths_nm = wavelengths_nm
        self.windows_nm = windows_nm
        self.bbl = bbl
        self.min_nm = min_nm
        self.max_nm = max_nm

    def fit(self, X, y=None):
        super().fit(X, y)
        self.mask_ = bad_band_mask(self.wavelengths_nm, self.windows_nm, self.bbl, self.min_nm, self.max_nm,
                                   values=X)
        self.wavelengths_out_ = np.asarray(self.wavelengths_nm, dtype=float)[~self.mask_]
        return self

    def transform(self, X):
        return np.asarray(X)[:, ~self.mask_]


class SpliceCorrector(_Spectral):
    """ASD detector-splice correction at ``splices_nm`` (1000, 1800 nm)."""

    def __init__(self, wavelengths_nm=None, splices_nm=ASD_SPLICES_NM, n_fit=10):
        self.wavelengths_nm = wavelengths_nm
        self.splices_nm = splices_nm
        self.n_fit = n_fit

    def transform(self, X):
        return splice_correction(X, self.wavelengths_nm, self.splices_nm, self.n_fit)
