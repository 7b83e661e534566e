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
    """Compile (once) and return the numba kernel ``hull(values, wl, mode, out)``.

    ``mode`` 0 writes the continuum, 1 ``values / continuum``, 2 ``values - continuum``. Spectra are
    processed in chunks (one vertex stack per chunk) in parallel; arithmetic is float64.
    """
    global _HULL
    if _HULL is None:
        import numba

        @numba.njit(parallel=True, cache=True, boundscheck=False)
        def hull(values, wl, mode, out):
            n, b = values.shape
            chunk = 256
            for c in numba.prange((n + chunk - 1) // chunk):
                vx = np.empty(b, np.int64)
                vy = np.empty(b, np.float64)
                for p in range(c * chunk, min(n, (c + 1) * chunk)):
                    row = values[p]
                    k = 0
                    for i in range(b):
                        y = np.float64(row[i])
                        if not np.isfinite(y):
                            continue
                        x = wl[i]
                        while k >= 2:
                            x0, y0 = wl[vx[k - 2]], vy[k - 2]
                            if (wl[vx[k - 1]] - x0) * (y - y0) - (vy[k - 1] - y0) * (x - x0) >= 0.0:
                                k -= 1
                            else:
                                break
                        vx[k] = i
                        vy[k] = y
                        k += 1
                    res = out[p]
                    for i in range(b):
                        res[i] = np.nan
                    for j in range(k):
                        a = vx[j]
                        ya = vy[j]
                        res[a] = ya if mode == 0 else (1.0 if mode == 1 and ya > 0 else (0.0 if mode == 2 else np.nan))
                        if j == k - 1:
                            break
                        e = vx[j + 1]
                        slope = (vy[j + 1] - ya) / (wl[e] - wl[a])
                        for i in range(a + 1, e):
                            y = np.float64(row[i])
                            h = ya + slope * (wl[i] - wl[a])
                            if not np.isfinite(y):
                                res[i] = np.nan
                            elif mode == 0:
                                res[i] = h
                            elif mode == 1:
                                res[i] = y / h if h > 0 else np.nan
                            else:
                                res[i] = y - h

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
    return _run(values, wavelengths_nm, 0)


def _run(values, wavelengths_nm, mode):
    values, table, wl = _as_table(values, wavelengths_nm)
    out = np.empty(table.shape, dtype=table.dtype)
    _kernel()(table, wl, mode, out)
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
    return _run(values, wavelengths_nm, 1 if method == "divide" else 2)
