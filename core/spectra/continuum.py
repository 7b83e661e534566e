"""Upper convex-hull continuum and continuum removal.

Over wavelengths sorted ascending the upper hull is found in one linear pass per spectrum
(Andrew's monotone chain, 1979: keep a stack of vertices, pop while the last vertex lies on or below
the chord from the one before it to the new point). The continuum at every band is the linear
interpolation between consecutive hull vertices. Compiled with numba, in parallel over spectra.
Reference: Clark & Roush (1984), "Reflectance spectroscopy: quantitative analysis techniques for
remote sensing applications", JGR 89(B7) — continuum removal by division.
"""
import numpy as np

from ..errors import InputError
from .library import check_wavelengths

METHODS = ("divide", "subtract")


def _kernel():
    """Compile (once) and return the numba hull kernel."""
    global _HULL
    if _HULL is None:
        import numba

        @numba.njit(parallel=True, cache=True)
        def hull(values, wl, out):
            n, b = values.shape
            for p in numba.prange(n):
                stack = np.empty(b, np.int64)
                k = 0
                for i in range(b):
                    y = np.float64(values[p, i])
                    if not np.isfinite(y):
                        continue
                    while k >= 2:
                        i0, i1 = stack[k - 2], stack[k - 1]
                        y0, y1 = np.float64(values[p, i0]), np.float64(values[p, i1])
                        if (wl[i1] - wl[i0]) * (y - y0) - (y1 - y0) * (wl[i] - wl[i0]) >= 0.0:
                            k -= 1
                        else:
                            break
                    stack[k] = i
                    k += 1
                j = 0
                for i in range(b):
                    if k == 0 or i < stack[0] or i > stack[k - 1] or not np.isfinite(values[p, i]):
                        out[p, i] = np.nan
                        continue
                    while j < k - 1 and stack[j + 1] < i:
                        j += 1
                    a = stack[j]
                    if a == i or j == k - 1:
                        out[p, i] = values[p, i]
                        continue
                    c = stack[j + 1]
                    ya, yc = np.float64(values[p, a]), np.float64(values[p, c])
                    out[p, i] = ya + (yc - ya) * (wl[i] - wl[a]) / (wl[c] - wl[a])

        _HULL = hull
    return _HULL


_HULL = None


def _as_table(values, wavelengths_nm):
    values = np.asarray(values)
    table = values.reshape(-1, values.shape[-1]) if values.ndim != 1 else values[None]
    wl = check_wavelengths(wavelengths_nm, table.shape[1], "spectra")
    if not np.issubdtype(table.dtype, np.floating):
        table = table.astype(np.float64)
    return values, np.ascontiguousarray(table), wl


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
    values, table, wl = _as_table(values, wavelengths_nm)
    out = np.empty(table.shape, dtype=table.dtype)
    _kernel()(table, wl, out)
    return out.reshape(values.shape)


def continuum_removed(values, wavelengths_nm, method="divide"):
    """Continuum-removed spectra: ``values / hull`` (``"divide"``, Clark & Roush 1984; ≤ 1, 1 on the
    hull) or ``values - hull`` (``"subtract"``; ≤ 0, 0 on the hull).

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,), reflectance.
    wavelengths_nm : ndarray (bands,), strictly ascending nm.
    method : "divide" or "subtract".

    Returns
    -------
    ndarray like ``values``; NaN where the input is NaN (and, for "divide", where the hull is ≤ 0).
    """
    if method not in METHODS:
        raise InputError(f"continuum removal method must be one of {METHODS}; got {method!r}")
    hull = continuum(values, wavelengths_nm)
    values = np.asarray(values, dtype=hull.dtype)
    if method == "subtract":
        return values - hull
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hull > 0, values / hull, np.nan).astype(hull.dtype, copy=False)
