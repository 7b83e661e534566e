"""3D anisotropic variogram: horizontal and vertical experimental variograms and a fit with range_h ≫ range_v.

Tailings are layered: grades vary far more quickly downwards than sideways. The horizontal variogram uses pairs
whose separation dips less than ``tolerance`` degrees; the vertical one pairs within ``tolerance`` degrees of
the vertical (down-hole pairs of auger holes). A single-structure model (nugget + spherical/exponential/
gaussian) is fitted to the horizontal variogram (gstat weights N/h²), then its range alone is refitted to the
vertical variogram; the anisotropy is gstat's ``anis = c(0, 0, 0, 1, range_v / range_h)`` (horizontally
isotropic).
"""
import numpy as np

from ..errors import InputError
from ..geostat import Anisotropy, ExperimentalVariogram, fit_variogram, initial_model
from ..geostat.fit import fit_range_only


def directional_variogram_3d(coords, values, direction="horizontal", cutoff=None, n_lags=12, tolerance=20.0):
    """Experimental variogram of 3D samples along the horizontal or the vertical.

    Parameters
    ----------
    coords : ndarray (n, 3), metres. values : ndarray (n,).
    direction : "horizontal" | "vertical".
    cutoff : float, metres – default one third of the horizontal (vertical) extent of the samples.
    n_lags : int – bins of equal width ``cutoff / n_lags``, bin k holding distances in (k·w, (k+1)·w] (gstat).
    tolerance : float – angular half-tolerance (degrees) around the horizontal plane or the vertical axis.

    Returns
    -------
    ExperimentalVariogram (lags = mean 3D pair distance per non-empty bin).
    """
    from scipy.spatial import cKDTree

    coords = np.asarray(coords, float)
    values = np.asarray(values, float)
    if coords.ndim != 2 or coords.shape[1] != 3 or len(coords) != len(values):
        raise InputError(f"coords {coords.shape} / values {values.shape}; expected (n, 3) and (n,)")
    if direction not in ("horizontal", "vertical"):
        raise InputError(f"direction '{direction}' unknown; expected 'horizontal' or 'vertical'")
    ok = np.isfinite(values) & np.all(np.isfinite(coords), axis=1)
    coords, values = coords[ok], values[ok]
    ext = np.ptp(coords, axis=0)
    if cutoff is None:
        cutoff = (np.hypot(ext[0], ext[1]) if direction == "horizontal" else ext[2]) / 3.0
    if not cutoff > 0:
        raise InputError(f"cutoff {cutoff} must be > 0 (metres): the samples have no {direction} extent")
    pairs = cKDTree(coords).query_pairs(float(cutoff), output_type="ndarray")
    d = coords[pairs[:, 1]] - coords[pairs[:, 0]]
    horiz, vert = np.hypot(d[:, 0], d[:, 1]), np.abs(d[:, 2])
    dip = np.degrees(np.arctan2(vert, horiz))
    keep = dip <= tolerance if direction == "horizontal" else dip >= 90.0 - tolerance
    dist = np.sqrt(horiz[keep] ** 2 + vert[keep] ** 2)
    dz = values[pairs[keep, 1]] - values[pairs[keep, 0]]
    width = cutoff / n_lags
    k = np.clip(np.ceil(dist / width).astype(np.int64) - 1, 0, n_lags - 1)
    n = np.bincount(k, minlength=n_lags)
    sd = np.bincount(k, weights=dist, minlength=n_lags)
    sg = np.bincount(k, weights=dz * dz, minlength=n_lags)
    m = n > 0
    if m.sum() < 2:
        raise InputError(f"only {int(m.sum())} {direction} lag bins have sample pairs within {cutoff:g} m; "
                         "expected samples at several " + ("locations" if direction == "horizontal" else "depths"))
    return ExperimentalVariogram(sd[m] / n[m], sg[m] / (2.0 * n[m]), n[m].astype(np.int64), float(cutoff),
                                 float(width), None, float(tolerance))


def fit_anisotropic_3d(coords, values, model="spherical", cutoff_h=None, cutoff_v=None, n_lags=12, tolerance=20.0):
    """Fit a 3D model with horizontal range ≫ vertical range.

    Parameters
    ----------
    coords : ndarray (n, 3), metres. values : ndarray (n,).
    model : name of a one-structure model ("spherical", "exponential", "gaussian") or a VariogramModel with
        initial values.
    cutoff_h, cutoff_v, n_lags, tolerance : passed to :func:`directional_variogram_3d`.

    Returns
    -------
    (model with ``range_`` = horizontal range, Anisotropy((0, 0, 0), (1, range_v / range_h)),
    ``{"horizontal": ExperimentalVariogram, "vertical": ExperimentalVariogram, "range_v": float}``).
    """
    values = np.asarray(values, float)
    ev_h = directional_variogram_3d(coords, values, "horizontal", cutoff_h, n_lags, tolerance)
    ev_v = directional_variogram_3d(coords, values, "vertical", cutoff_v, n_lags, tolerance)
    init = initial_model(model, ev_h) if isinstance(model, str) else model
    if len(init.parts()) != 1 or "range_" not in init.FIT_PARAMS:
        raise InputError(f"3D anisotropy fitting needs one structure with a range; got {init!r}")
    horizontal = fit_variogram(ev_h, init)
    range_v = fit_range_only(ev_v, horizontal)
    ratio = float(np.clip(range_v / horizontal.range_, 1e-3, 1.0))
    return horizontal, Anisotropy((0.0, 0.0, 0.0), (1.0, ratio)), {"horizontal": ev_h, "vertical": ev_v,
                                                                   "range_v": float(range_v)}
