"""Spectral resampling with Gaussian spectral response functions (SRF).

Each target band j has a Gaussian SRF of centre ``c_j`` and full width at half maximum ``FWHM_j``
(σ = FWHM / (2 √(2 ln 2))). The resampled value is the SRF-weighted mean of the source spectrum,
integrated with the trapezoid rule over the source bands. When the source bands have a known FWHM
the target SRF is narrowed to σ_eff = √(σ_t² − σ_s²) (the source already convolved once); a target
band no wider than the source band (σ_eff below a tenth of the local band spacing, or an SRF that
falls between two source bands) is linearly interpolated. Without target FWHM the spectrum is linearly
interpolated. The weights form a sparse matrix, so a pixel table is resampled with one sparse product.
"""
import functools

import numpy as np

from ..errors import InputError, as_float_array

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
TRUNCATE_SIGMA = 4.0  # SRF tails beyond ±4 σ carry < 7e-5 of the weight and are dropped


def check_wavelengths(wavelengths_nm, n_bands=None, source="library"):
    """Validate a wavelength grid: finite, strictly ascending, no duplicates, ``n_bands`` long.

    Returns the grid as float64 (bands,). Raises :class:`InputError` naming the offending values.
    """
    wl = as_float_array(wavelengths_nm, f"wavelengths of the {source}", "numbers (nm)", np.float64).ravel()
    if wl.size == 0:
        raise InputError(f"{source} has no wavelengths")
    if n_bands is not None and wl.size != n_bands:
        raise InputError(f"{source}: {wl.size} wavelengths for {n_bands} bands")
    if not np.all(np.isfinite(wl)):
        raise InputError(f"{source} has non-numeric or missing wavelengths")
    step = np.diff(wl)
    if np.any(step == 0):
        dup = np.unique(wl[1:][step == 0])
        raise InputError(f"{source} has duplicate wavelengths {', '.join(f'{v:g}' for v in dup[:5])} nm; "
                         "each band needs its own wavelength")
    if np.any(step < 0):
        i = int(np.argmax(step < 0))
        raise InputError(f"{source} wavelengths are not monotonic: {wl[i]:g} nm is followed by {wl[i + 1]:g} nm; "
                         "expected strictly ascending (or strictly descending wavenumbers)")
    return wl


def resampling_matrix(wavelengths_nm, target_wavelengths_nm, target_fwhm_nm=None, source_fwhm_nm=None):
    """Sparse weights W (source bands × target bands) with ``values @ W`` = resampled values.

    Rows of W.T sum to 1 (a flat spectrum stays flat). Target bands whose centre lies outside the
    source range get no weights (NaN output, see :func:`resample`).
    """
    from scipy import sparse

    src = check_wavelengths(wavelengths_nm, source="source spectra")
    tgt = np.atleast_1d(np.asarray(target_wavelengths_nm, dtype=float))
    tgt = check_wavelengths(tgt, source="target wavelengths")
    fwhm = _per_band(target_fwhm_nm, len(tgt), "target FWHM")
    src_fwhm = _per_band(source_fwhm_nm, len(src), "source FWHM")
    if tgt[-1] < src[0] or tgt[0] > src[-1]:
        raise InputError(f"target wavelengths {tgt[0]:g}–{tgt[-1]:g} nm do not overlap the source range "
                         f"{src[0]:g}–{src[-1]:g} nm")
    trapezoid = np.gradient(src) if len(src) > 1 else np.ones(1)  # = trapezoid-rule band widths
    trapezoid[[0, -1]] /= 2 if len(src) > 1 else 1
    sigma = np.zeros(len(tgt))
    if fwhm is not None:
        sigma2 = (fwhm * FWHM_TO_SIGMA) ** 2
        if src_fwhm is not None:
            sigma2 = sigma2 - np.interp(tgt, src, src_fwhm * FWHM_TO_SIGMA) ** 2
        sigma = np.sqrt(np.clip(sigma2, 0.0, None))
    inside = (tgt >= src[0]) & (tgt <= src[-1])
    narrow = sigma <= 0.1 * np.interp(tgt, src, np.gradient(src) if len(src) > 1 else np.ones(1))
    weights = np.zeros((len(src), len(tgt)))
    gauss = np.flatnonzero(inside & ~narrow)
    if gauss.size:  # Gaussian SRF × trapezoid widths, truncated at ±4 σ, normalised to sum 1
        z = (src[:, None] - tgt[None, gauss]) / sigma[None, gauss]
        w = np.where(np.abs(z) <= TRUNCATE_SIGMA + 1, np.exp(-0.5 * z ** 2), 0.0) * trapezoid[:, None]
        total = w.sum(axis=0)
        covered = total > 0  # an SRF narrower than the gap between two source bands covers none of them
        weights[:, gauss[covered]] = w[:, covered] / total[covered]
        narrow[gauss[~covered]] = True
    lin = np.flatnonzero(inside & narrow)  # linear interpolation between the two nearest source bands
    if lin.size:
        hi = np.clip(np.searchsorted(src, tgt[lin]), 1, len(src) - 1)
        frac = (tgt[lin] - src[hi - 1]) / (src[hi] - src[hi - 1])
        weights[hi - 1, lin] = 1.0 - frac
        weights[hi, lin] += frac
    return sparse.csr_matrix(weights)


def _per_band(values, n, what):
    if values is None:
        return None
    arr = np.asarray(values, dtype=float)
    arr = np.full(n, float(arr)) if arr.ndim == 0 else arr
    if arr.shape != (n,) or np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(f"{what} must be one non-negative value or {n} values; got {np.asarray(values).tolist()}")
    return arr


def resample(values, wavelengths_nm, target_wavelengths_nm, target_fwhm_nm=None, source_fwhm_nm=None):
    """Resample spectra to target band centres (and widths).

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,), spectra on ``wavelengths_nm``.
    wavelengths_nm : ndarray (bands,), strictly ascending nm.
    target_wavelengths_nm : ndarray (t,), strictly ascending nm (another sensor, cube or library).
    target_fwhm_nm : float or ndarray (t,), optional, Gaussian SRF widths (nm); None: linear interpolation.
    source_fwhm_nm : float or ndarray (bands,), optional, widths of the source bands (nm).

    Returns
    -------
    ndarray (n, t) or (t,), float32 for float32 input else float64; NaN for target bands outside
    the source range and wherever a NaN source band carries weight.
    """
    values = np.asarray(values)
    table = values[None] if values.ndim == 1 else values.reshape(-1, values.shape[-1])
    if table.shape[1] != len(np.atleast_1d(wavelengths_nm)):
        raise InputError(f"spectra have {table.shape[1]} bands but {len(np.atleast_1d(wavelengths_nm))} wavelengths")
    weights = resampling_matrix(wavelengths_nm, target_wavelengths_nm, target_fwhm_nm, source_fwhm_nm).T.tocsr()
    dtype = np.float32 if table.dtype == np.float32 else np.float64
    out = np.empty((table.shape[0], weights.shape[0]), dtype=dtype)
    _kernel()(np.ascontiguousarray(table, dtype=dtype), weights.indptr, weights.indices, weights.data, out)
    return out[0] if values.ndim == 1 else out.reshape(values.shape[:-1] + (out.shape[1],))


@functools.lru_cache(maxsize=None)
def _kernel():
    """Numba sparse product ``out[p, j] = Σ_k data[k] · values[p, indices[k]]`` (NaN if no weight)."""
    import numba

    @numba.njit(parallel=True, cache=True, boundscheck=False, nogil=True)
    def product(values, indptr, indices, data, out):
        for p in numba.prange(values.shape[0]):
            for j in range(out.shape[1]):
                acc = 0.0
                for k in range(indptr[j], indptr[j + 1]):
                    acc += data[k] * values[p, indices[k]]
                out[p, j] = acc if indptr[j + 1] > indptr[j] else np.nan

    return product
