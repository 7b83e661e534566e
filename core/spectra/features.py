"""Absorption features (minimum-wavelength mapping) and named mineral indices.

:func:`absorption_feature` removes the upper-hull continuum inside a wavelength window and
describes its deepest absorption: position (sub-band, by the vertex of a parabola through the
minimum band and its neighbours), depth (1 − continuum-removed minimum), width (full width at half
depth) and asymmetry. This is the minimum-wavelength mapping of van Ruitenbeek et al. (2014,
Computers & Geosciences 64) and the feature parameters of van der Meer (2004, JAG 5).

:data:`INDICES` are relative band depths (Crowley et al. 1989) at diagnostic absorptions of the
mission minerals; shoulders were chosen at the local maxima around each absorption in the USGS
splib spectra (Clark et al. 2007) shipped with remine.
"""
import functools

import numpy as np

from ..errors import InputError
from .continuum import continuum_removed
from .resample import check_wavelengths

#: Common windows (nm) of minimum-wavelength mapping.
WINDOWS_NM = {
    "AlOH": (2150.0, 2250.0),       # kaolinite, muscovite/illite, montmorillonite, alunite (2165)
    "FeOH": (2230.0, 2290.0),       # jarosite, chlorite, nontronite
    "MgOH_CO3": (2290.0, 2370.0),   # chlorite, calcite, dolomite
    "Fe3": (750.0, 1100.0),         # goethite, hematite, jarosite (Fe³⁺ crystal field)
    "alunite_1760": (1730.0, 1800.0),
}


def window_indices(wl, window_nm):
    try:
        lo, hi = (float(v) for v in window_nm)
    except (TypeError, ValueError):
        raise InputError(f"feature window must be (low_nm, high_nm); got {window_nm!r}") from None
    if not lo < hi:
        raise InputError(f"feature window low {lo:g} nm must be below high {hi:g} nm")
    if lo < wl[0] or hi > wl[-1]:
        raise InputError(f"feature window {lo:g}–{hi:g} nm is outside the sensor range {wl[0]:g}–{wl[-1]:g} nm")
    sel = np.flatnonzero((wl >= lo) & (wl <= hi))
    if sel.size < 3:
        raise InputError(f"feature window {lo:g}–{hi:g} nm holds {sel.size} band(s); at least 3 are needed")
    return sel


def absorption_feature(values, wavelengths_nm, window_nm=(2150.0, 2250.0)):
    """Deepest absorption feature of each spectrum inside ``window_nm``.

    Parameters
    ----------
    values : ndarray (n, bands) or (bands,), reflectance.
    wavelengths_nm : ndarray (bands,), strictly ascending nm.
    window_nm : (low, high) nm, inside the sensor range and holding ≥ 3 bands.

    Returns
    -------
    dict of ndarrays of length n (scalars for a single spectrum):
    ``position_nm`` (wavelength of the minimum), ``depth`` (1 − continuum-removed minimum, 0–1),
    ``width_nm`` (full width at half depth) and ``asymmetry`` ((right − left half-width) / width,
    −1…1; > 0 when the long-wavelength side is wider). Spectra without a feature (depth 0) or only
    NaN get NaN position/width/asymmetry (depth 0, resp. NaN).
    """
    values = np.asarray(values)
    table = values[None] if values.ndim == 1 else values
    wl = check_wavelengths(wavelengths_nm, table.shape[-1], "spectra")
    sel = window_indices(wl, window_nm)
    cr = np.ascontiguousarray(continuum_removed(table[:, sel].astype(np.float64), wl[sel]))
    out = np.empty((4, len(cr)), dtype=np.float64)
    _kernel()(cr, wl[sel], out)
    keys = ("position_nm", "depth", "width_nm", "asymmetry")
    return {k: (out[i, 0] if values.ndim == 1 else out[i]) for i, k in enumerate(keys)}


@functools.lru_cache(maxsize=None)
def _kernel():
    """Compile (once) the numba feature kernel ``feature(cr (n, w), wl (w,), out (4, n))``."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def feature(cr, wl, out):
        n, w = cr.shape
        for p in numba.prange(n):
            row = cr[p]
            m = -1
            for i in range(w):
                if np.isfinite(row[i]) and (m < 0 or row[i] < row[m]):
                    m = i
            if m < 0:
                out[0, p] = np.nan
                out[1, p] = np.nan
                out[2, p] = np.nan
                out[3, p] = np.nan
                continue
            pos, ymin = wl[m], row[m]
            if 0 < m < w - 1 and np.isfinite(row[m - 1]) and np.isfinite(row[m + 1]):
                x0, x1, x2 = wl[m - 1], wl[m], wl[m + 1]
                y0, y1, y2 = row[m - 1], row[m], row[m + 1]
                den = (x0 - x1) * (x0 - x2) * (x1 - x2)
                a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
                b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
                if a > 0:
                    c = y0 - a * x0 * x0 - b * x0
                    pos = min(max(-b / (2 * a), x0), x2)
                    ymin = min(a * pos * pos + b * pos + c, y1)
            depth = 1.0 - ymin
            if not depth > 0:
                out[0, p] = np.nan
                out[1, p] = 0.0
                out[2, p] = np.nan
                out[3, p] = np.nan
                continue
            level = 1.0 - depth / 2
            left = wl[0]
            for i in range(m - 1, -1, -1):
                if row[i] >= level:
                    left = wl[i] + (wl[i + 1] - wl[i]) * (row[i] - level) / (row[i] - row[i + 1])
                    break
            right = wl[w - 1]
            for i in range(m + 1, w):
                if row[i] >= level:
                    right = wl[i] - (wl[i] - wl[i - 1]) * (row[i] - level) / (row[i] - row[i - 1])
                    break
            width = right - left
            out[0, p] = pos
            out[1, p] = depth
            out[2, p] = width
            out[3, p] = ((right - pos) - (pos - left)) / width if width > 0 else 0.0

    return feature


def band_depth(values, wavelengths_nm, centre_nm, left_nm, right_nm):
    """Relative band depth 1 − R(centre) / continuum, the continuum being the straight line between
    the reflectance at ``left_nm`` and ``right_nm`` (linear interpolation of the spectra at all three
    wavelengths): the band-ratio variant of continuum removal (Crowley et al. 1989).

    Returns ndarray (n,) (scalar for one spectrum).
    """
    values = np.asarray(values, dtype=float)
    table = values[None] if values.ndim == 1 else values
    wl = check_wavelengths(wavelengths_nm, table.shape[-1], "spectra")
    r = _at(table, wl, [left_nm, centre_nm, right_nm])
    t = (centre_nm - left_nm) / (right_nm - left_nm)
    cont = r[:, 0] * (1 - t) + r[:, 2] * t
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = np.where(cont > 0, 1.0 - r[:, 1] / cont, np.nan)
    return depth[0] if values.ndim == 1 else depth


def _at(table, wl, targets):
    """Spectra linearly interpolated at ``targets`` nm -> (n, len(targets)); InputError outside range."""
    targets = np.asarray(targets, dtype=float)
    if targets.min() < wl[0] or targets.max() > wl[-1]:
        raise InputError(f"wavelengths {targets.min():g}–{targets.max():g} nm are outside the sensor range "
                         f"{wl[0]:g}–{wl[-1]:g} nm")
    hi = np.clip(np.searchsorted(wl, targets), 1, len(wl) - 1)
    w = (targets - wl[hi - 1]) / (wl[hi] - wl[hi - 1])
    return table[:, hi - 1] * (1 - w) + table[:, hi] * w


#: Named indices: each a list of band-depth terms (centre, left shoulder, right shoulder) in nm; the
#: index is the smallest term (every diagnostic absorption must be present), clipped at 0.
INDICES = {
    "kaolinite": [(2165.0, 2120.0, 2185.0), (2206.0, 2185.0, 2240.0)],   # Al-OH doublet 2165/2206
    "alunite": [(1762.0, 1720.0, 1800.0), (2165.0, 2120.0, 2220.0)],     # 1762 + 2165
    "jarosite": [(2265.0, 2230.0, 2300.0), (930.0, 750.0, 1250.0)],      # Fe-OH 2265 + Fe³⁺
    "chlorite": [(2250.0, 2225.0, 2280.0), (2330.0, 2280.0, 2380.0)],    # Fe-OH 2250 + Mg-OH 2330
    "smectite": [(2206.0, 2120.0, 2250.0), (1910.0, 1850.0, 2100.0)],    # Al-OH 2206 + deep H2O 1910
    "muscovite": [(2200.0, 2120.0, 2250.0), (2350.0, 2300.0, 2390.0)],   # Al-OH 2200 + 2350
    "goethite": [(920.0, 750.0, 1250.0)],                                 # Fe³⁺ 900–940 (limonite)
    "carbonate": [(2340.0, 2280.0, 2400.0)],                             # CO3 2340 (calcite)
}


def mineral_indices(values, wavelengths_nm, names=None):
    """Named mineral indices (see :data:`INDICES`) -> dict name -> ndarray (n,) (≥ 0)."""
    names = list(INDICES) if names is None else list(names)
    unknown = [n for n in names if n not in INDICES]
    if unknown:
        raise InputError(f"unknown index {', '.join(unknown)}; available: {', '.join(INDICES)}")
    out = {}
    for name in names:
        terms = [band_depth(values, wavelengths_nm, *term) for term in INDICES[name]]
        out[name] = np.clip(np.minimum.reduce([np.asarray(t, dtype=float) for t in terms]), 0, None)
    return out
