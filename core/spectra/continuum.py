"""Upper convex-hull continuum and continuum removal.

Over wavelengths sorted ascending the upper hull is what remains after repeatedly dropping points
that lie strictly below the chord of their neighbours (until none does, the remaining polyline is
concave and above every dropped point; see ``_kernel``). The continuum at every band is the linear
interpolation between consecutive hull vertices. Compiled with numba, in parallel over spectra.
Reference: Clark & Roush (1984), "Reflectance spectroscopy: quantitative analysis techniques for
remote sensing applications", JGR 89(B7) — continuum removal by division.
"""
import functools
import warnings

import numpy as np

from ..errors import InputError, RemineWarning
from .resample import check_wavelengths

METHODS = ("divide", "subtract")
#: reflectance that values <= 0 are raised to before continuum removal by division (0-1 units)
REFLECTANCE_FLOOR = 1e-4


@functools.lru_cache(maxsize=None)
def _kernel():
    """Compile (once) and return the numba kernel ``hull(values, wl, mode, out)``.

    ``mode`` 0 writes the continuum, 1 ``values / continuum``, 2 ``values - continuum``. With mode 1 values
    <= 0 are replaced by ``floor`` first and counted per spectrum in ``low`` (n,). Per spectrum:
    (1) a branch-free, vectorised pre-filter drops bands strictly below the chord of their two neighbours
    (they cannot be hull vertices: a hull vertex lies on or above the chord of any two points on either
    side); (2) the same test between neighbours in the list of remaining candidates, one scalar pass
    that tests and compacts in place, repeated until no candidate is dropped (224 → ~115 → ~62 → … →
    ~14 on noisy spectra, ~8 passes). A list in which every point lies on or above the chord of its
    neighbours is concave, and every dropped point lies below it, so it *is* the upper hull (collinear
    points may stay as vertices, which changes nothing) — no monotone chain is needed. (3) The continuum
    is filled segment by segment in whole blocks of 8 bands (a block running past the segment's end is
    overwritten by the next segment; buffers are padded), and (4) applied in one vectorised loop.

    Precision: the pre-filter, the fill's output and the apply step work in the input's precision
    (float32 input: twice the SIMD width of float64); the chord tests between candidates, the vertex
    coordinates and the interpolation are float64 (a float32 wavelength of ~2500 nm is only good to
    1e-4 nm, which moved the continuum by up to 4e-6). A float32 pre-filter test is exact to ~1e-7, so
    a point it drops wrongly lies within ~1e-7 of a chord: the continuum moves by rounding only.

    Candidates are stored interleaved ``(wavelength, value, band)`` in one array, band indices are
    unsigned, and the kernel is compiled with re-association allowed and numpy's error model: each
    choice was measured (benchmarks/NOTES.md). Spectra are processed in parallel chunks (one set of
    buffers per chunk). NaN or infinite bands are skipped (output NaN there): such spectra skip the
    pre-filter. The kernel stays one compiled function: its parallel loop over chunks owns the buffers
    that all four steps share.
    """
    import numba

    block = 8

    @numba.njit(parallel=True, cache=True, boundscheck=False, nogil=True, fastmath={"reassoc"},
                error_model="numpy")
    def hull(values, wl, mode, floor, out, low):
        n, b = values.shape
        span = np.zeros(b, values.dtype)
        left = np.zeros(b, values.dtype)
        for i in range(1, b - 1):
            span[i] = wl[i + 1] - wl[i - 1]
            left[i] = wl[i] - wl[i - 1]
        zero = span[0]  # 0 and NaN in the input's precision
        nan = zero / zero
        wlp = np.empty(b + block)
        wlp[:b] = wl
        wlp[b:] = wl[b - 1]
        chunk = 256
        for c in numba.prange((n + chunk - 1) // chunk):
            y = np.empty(b, values.dtype)
            keep = np.empty(b, np.uint8)
            cand = np.empty(b, np.uint64)
            v = np.empty(3 * b)  # candidates: wavelength, value, band index
            vx = np.empty(b, np.uint64)
            slope = np.empty(b)
            cont = np.empty(b + block, values.dtype)
            for p in range(c * chunk, min(n, (c + 1) * chunk)):
                nan_check = zero  # stays 0 unless a band is NaN or infinite (vectorisable)
                n_low = 0
                if mode == 1:  # division: reflectance <= 0 raised to the floor (the hull stays > 0)
                    for i in range(b):
                        yi = values[p, i]
                        below = yi <= zero
                        n_low += below
                        y[i] = floor if below else yi
                        nan_check += yi * zero
                else:
                    for i in range(b):
                        y[i] = values[p, i]
                        nan_check += y[i] * zero
                low[p] = n_low
                finite = nan_check == zero
                k = 0
                if finite and b > 2:
                    keep[0] = 1
                    keep[b - 1] = 1
                    for i in range(1, b - 1):
                        keep[i] = (y[i] - y[i - 1]) * span[i] >= (y[i + 1] - y[i - 1]) * left[i]
                    for i in range(b):
                        cand[k] = i
                        k += keep[i]
                else:
                    for i in range(b):
                        cand[k] = i
                        k += np.isfinite(y[i])
                for j in range(k):
                    i = cand[j]
                    v[3 * j] = wl[i]
                    v[3 * j + 1] = y[i]
                    v[3 * j + 2] = i
                prev = b + 1
                while 2 < k < prev:  # chord test between list neighbours, compacting in place
                    prev = k
                    xp, yp, xc, yc, ic = v[0], v[1], v[3], v[4], v[5]
                    kept = 1
                    for j in range(2, k):
                        xn, yn, i_n = v[3 * j], v[3 * j + 1], v[3 * j + 2]
                        v[3 * kept] = xc
                        v[3 * kept + 1] = yc
                        v[3 * kept + 2] = ic
                        kept += (yc - yp) * (xn - xp) >= (yn - yp) * (xc - xp)
                        xp, yp, xc, yc, ic = xc, yc, xn, yn, i_n
                    v[3 * kept] = xc
                    v[3 * kept + 1] = yc
                    v[3 * kept + 2] = ic
                    k = kept + 1
                for j in range(k):
                    vx[j] = np.uint64(v[3 * j + 2])
                for j in range(k - 1):
                    slope[j] = (v[3 * j + 4] - v[3 * j + 1]) / (v[3 * j + 3] - v[3 * j])
                if not finite:
                    for i in range(b):
                        cont[i] = nan
                for j in range(k - 1):
                    xa, ya, s = v[3 * j], v[3 * j + 1], slope[j]
                    for i0 in range(vx[j], vx[j + 1], block):
                        for t in range(np.uint64(block)):
                            cont[i0 + t] = ya + s * (wlp[i0 + t] - xa)
                if k > 0:
                    cont[vx[k - 1]] = v[3 * k - 2]
                    if not finite:
                        for i in range(vx[k - 1] + 1, b):
                            cont[i] = nan
                res = out[p]
                if mode == 0:
                    for i in range(b):
                        res[i] = cont[i] + zero * y[i]  # NaN where the spectrum is NaN
                elif mode == 1:
                    for i in range(b):
                        res[i] = y[i] / cont[i] if cont[i] > zero else nan
                else:
                    for i in range(b):
                        res[i] = y[i] - cont[i]

    return hull


def _as_table(values, wavelengths_nm):
    """(n, bands) float table of ``values``; a band-major view (``cube.reshape(bands, -1).T``) is kept
    as it is (no copy: the kernel reads it strided)."""
    values = np.asarray(values)
    table = values.reshape(-1, values.shape[-1]) if values.ndim != 1 else values[None]
    wl = check_wavelengths(wavelengths_nm, table.shape[1], "spectra")
    if table.dtype not in (np.float32, np.float64):
        table = table.astype(np.float64)
    if not (table.flags.c_contiguous or table.flags.f_contiguous):
        table = np.ascontiguousarray(table)
    return values, table, wl


def continuum(values, wavelengths_nm):
    """Upper convex-hull continuum of each spectrum.

    Parameters
    ----------
    values : ndarray (..., bands), reflectance; NaN bands are skipped (continuum NaN there).
    wavelengths_nm : ndarray (bands,), strictly ascending.

    Returns
    -------
    ndarray like ``values`` (float32 for float32 input, else float64): the hull, equal to the spectrum
    at hull vertices and above it everywhere else.
    """
    return _run(values, wavelengths_nm, 0)[0]


def _run(values, wavelengths_nm, mode, floor=0.0):
    """Run the kernel; returns the output shaped like ``values`` and the number of values raised to ``floor``."""
    values, table, wl = _as_table(values, wavelengths_nm)
    out = np.empty(table.shape, dtype=table.dtype, order="F" if not table.flags.c_contiguous else "C")
    low = np.empty(table.shape[0], dtype=np.int32)
    _kernel()(table, wl, mode, table.dtype.type(floor), out, low)
    return out.reshape(values.shape, order="A"), int(low.sum(dtype=np.int64))


def continuum_removed(values, wavelengths_nm, method="divide", floor=REFLECTANCE_FLOOR, warn=True,
                      return_count=False):
    """Continuum-removed spectra: ``values / hull`` (``"divide"``, Clark & Roush 1984; ≤ 1, 1 on the
    hull) or ``values - hull`` (``"subtract"``; ≤ 0, 0 on the hull).

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,), reflectance.
    wavelengths_nm : ndarray (bands,), strictly ascending nm.
    method : "divide" or "subtract".
    floor : float > 0
        ``"divide"`` only: reflectance ≤ 0 (noise in atmospherically corrected data) is replaced by
        ``floor`` before the hull is computed, so that the hull stays positive and the ratio defined
        (≈ 0 at such bands: no signal there). Default 1e-4, below any real reflectance in 0–1 units.
    warn : bool
        Emit a :class:`RemineWarning` with the number of values raised to the floor.
    return_count : bool
        Also return that number.

    Returns
    -------
    ndarray like ``values``; NaN where the input is NaN. With ``return_count``: ``(out, n_floored)``.
    """
    if method not in METHODS:
        raise InputError(f"continuum removal method must be one of {METHODS}; got {method!r}")
    if not floor > 0:
        raise InputError(f"continuum removal floor must be > 0 (reflectance units); got {floor!r}")
    out, n_low = _run(values, wavelengths_nm, 1 if method == "divide" else 2, floor)
    if n_low and warn:
        warnings.warn(floor_message(n_low, floor), RemineWarning, stacklevel=2)
    return (out, n_low) if return_count else out


def floor_message(n_low, floor):
    """The warning for ``n_low`` reflectance values ≤ 0 raised to ``floor`` by continuum removal."""
    return (f"{n_low} reflectance value(s) <= 0 (noise) were raised to {floor:g} before continuum removal by "
            "division (the continuum-removed value there is about 0)")
