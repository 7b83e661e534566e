"""Spectral preprocessing on pixel tables ``(n, bands)`` (or a single spectrum ``(bands,)``).

Savitzky–Golay smoothing and derivatives (Savitzky & Golay 1964), standard normal variate (Barnes,
Dhanoa & Lister 1989), brightness normalisation (Feilhauer et al. 2010), bad-band masks (water vapour,
detector edges, ENVI ``bbl``) and ASD detector-splice correction (as prospectr::spliceCorrection,
Stevens & Ramirez-Lopez).
"""
import numpy as np

from ..bands import WATER_VAPOUR_NM, in_windows
from ..errors import InputError, as_float_array
from .resample import check_wavelengths

#: ASD FieldSpec 3/4 detector boundaries (nm): VNIR | SWIR1 at 1000, SWIR1 | SWIR2 at 1800.
ASD_SPLICES_NM = (1000.0, 1800.0)


def _table(values):
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.number):
        values = as_float_array(values, "spectra", "numbers (reflectance)")
    if values.ndim not in (1, 2):
        raise InputError(f"spectra must be (n, bands) or (bands,); got shape {values.shape}")
    return values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)


def savgol(values, window_length=11, polyorder=2, deriv=0, delta=1.0):
    """Savitzky–Golay filter along the band axis (uniformly spaced bands assumed).

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,)
    window_length : odd int > polyorder, in bands.
    polyorder : int
    deriv : int, derivative order (0 = smoothing); with ``delta`` the band spacing in nm it is per nm^deriv.

    Returns
    -------
    ndarray like ``values``.
    """
    from scipy.signal import savgol_filter

    values = _table(values)
    window_length, polyorder = int(window_length), int(polyorder)
    if window_length % 2 == 0 or window_length <= polyorder or window_length > values.shape[-1]:
        raise InputError(f"Savitzky–Golay window_length must be odd, > polyorder ({polyorder}) and ≤ the number "
                         f"of bands ({values.shape[-1]}); got {window_length}")
    out = savgol_filter(values, window_length, polyorder, deriv=int(deriv), delta=float(delta), axis=-1,
                        mode="interp")
    return out.astype(values.dtype, copy=False)


def derivative(values, wavelengths_nm, order=1, window_length=None, polyorder=2):
    """First or second derivative with respect to wavelength (per nm, per nm²).

    Smooths with :func:`savgol` first when ``window_length`` is given, then applies central finite
    differences on the (possibly non-uniform) wavelength grid (``numpy.gradient``) ``order`` times.

    Returns
    -------
    ndarray like ``values``.
    """
    values = _table(values)
    wl = check_wavelengths(wavelengths_nm, values.shape[-1], "spectra")
    if order not in (1, 2):
        raise InputError(f"derivative order must be 1 or 2; got {order}")
    out = savgol(values, window_length, polyorder) if window_length else values
    for _ in range(order):
        out = np.gradient(out, wl, axis=-1)
    return out.astype(values.dtype, copy=False)


def snv(values):
    """Standard normal variate: each spectrum minus its mean, divided by its standard deviation.

    NaN bands are ignored in the statistics; a flat spectrum (σ = 0) becomes all zeros.
    """
    values = _table(values)
    mean = np.nanmean(values, axis=-1, keepdims=True)
    std = np.nanstd(values, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(std > 0, (values - mean) / np.where(std > 0, std, 1), 0.0)
    return out.astype(values.dtype, copy=False)


BRIGHTNESS_METHODS = ("l2", "mean", "max")


def brightness_normalise(values, method="l2"):
    """Divide each spectrum by its brightness: Euclidean norm (``"l2"``, Feilhauer et al. 2010),
    mean or maximum. Removes illumination/grain-size scaling; NaN bands are ignored."""
    values = _table(values)
    if method not in BRIGHTNESS_METHODS:
        raise InputError(f"brightness method must be one of {BRIGHTNESS_METHODS}; got {method!r}")
    if method == "l2":
        scale = np.sqrt(np.nansum(values ** 2, axis=-1, keepdims=True))
    elif method == "mean":
        scale = np.nanmean(values, axis=-1, keepdims=True)
    else:
        scale = np.nanmax(values, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale != 0, values / scale, np.nan).astype(values.dtype, copy=False)


def bad_band_mask(wavelengths_nm, windows_nm=WATER_VAPOUR_NM, bbl=None, min_nm=None, max_nm=None, values=None):
    """Boolean ``(bands,)``: True for a BAD band (to drop or mask).

    A band is bad if it lies in one of ``windows_nm`` (default: water-vapour windows 1340–1460,
    1790–1960 and ≥ 2450 nm, see :data:`remine.core.bands.WATER_VAPOUR_NM`), below ``min_nm`` or above
    ``max_nm`` (detector edges), is flagged 0 in an ENVI good-band list ``bbl``, or — given ``values``
    (n, bands) — is non-finite in every spectrum.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    bad = in_windows(wl, windows_nm or ())
    if min_nm is not None:
        bad |= wl < min_nm
    if max_nm is not None:
        bad |= wl > max_nm
    if bbl is not None:
        bbl = np.asarray(bbl)
        if bbl.shape != wl.shape:
            raise InputError(f"bbl has {bbl.size} entries for {wl.size} bands")
        bad |= bbl.astype(float) == 0
    if values is not None:
        table = np.atleast_2d(np.asarray(values, dtype=float))
        if table.shape[-1] != wl.size:
            raise InputError(f"values have {table.shape[-1]} bands for {wl.size} wavelengths")
        bad |= ~np.isfinite(table).any(axis=0)
    return bad


def splice_correction(values, wavelengths_nm, splices_nm=ASD_SPLICES_NM, n_fit=10):
    """Remove the detector jumps of ASD spectra at the VNIR/SWIR1 and SWIR1/SWIR2 splices.

    The middle detector (SWIR1) is the reference: a straight line fitted to its ``n_fit`` bands next
    to each splice is extrapolated to the first band across the splice, and the outer detector's
    segment is multiplied by (extrapolated / observed) there, as prospectr::spliceCorrection does.

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,), ASD reflectance.
    wavelengths_nm : ndarray (bands,), must span both splices with ≥ ``n_fit`` bands per detector.
    splices_nm : (float, float), last wavelength of VNIR and of SWIR1 (1000, 1800 nm for FieldSpec 3/4).

    Returns
    -------
    ndarray like ``values``.
    """
    values = _table(values)
    wl = check_wavelengths(wavelengths_nm, values.shape[-1], "spectra")
    s1, s2 = splices_nm
    vnir, swir2 = wl <= s1, wl > s2
    middle = np.flatnonzero(~vnir & ~swir2)
    if middle.size < n_fit or vnir.sum() < 1 or swir2.sum() < 1:
        raise InputError(f"splice correction needs bands on both sides of {s1:g} and {s2:g} nm and ≥ {n_fit} "
                         f"bands between them; the spectra cover {wl[0]:g}–{wl[-1]:g} nm")
    out = values.copy()
    table = out[None] if out.ndim == 1 else out
    for segment, edge, fit in ((vnir, np.flatnonzero(vnir)[-1], middle[:n_fit]),
                               (swir2, np.flatnonzero(swir2)[0], middle[-n_fit:])):
        x = wl[fit] - wl[fit].mean()
        slope = (table[:, fit] - table[:, fit].mean(axis=1, keepdims=True)) @ x / (x @ x)
        predicted = table[:, fit].mean(axis=1) + slope * (wl[edge] - wl[fit].mean())
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(table[:, edge] != 0, predicted / table[:, edge], 1.0)
        table[:, segment] *= factor[:, None].astype(table.dtype)
    return out
