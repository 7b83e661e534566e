"""Experimental (sample) variograms with gstat's defaults, directional variograms and variogram maps.

gstat's defaults (``variogram(z ~ 1, data)``) are reproduced exactly: ``cutoff`` = one third of the
diagonal of the data's bounding box, ``width`` = cutoff / 15, bin k holding the pairs whose distance
lies in (k·width, (k+1)·width], ``dist`` = mean pair distance of the bin, ``gamma`` = mean of
½(zᵢ − zⱼ)² (Matheron) or Cressie–Hawkins' robust estimate. Pairs are visited in row blocks, so memory
stays O(n · block) rather than O(n²).
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InputError
from ._inputs import prepare_points

_BLOCK_ELEMENTS = 2 ** 22  # pair distances held at once
#: semivariance estimators: classical (Matheron) and robust (Cressie–Hawkins)
ESTIMATORS = ("matheron", "cressie")


@dataclass
class ExperimentalVariogram:
    """Sample variogram; unpacks as ``lags, gamma, npairs = ev``.

    Attributes
    ----------
    lags : ndarray (k,) – mean pair distance per non-empty bin (coordinate units, metres).
    gamma : ndarray (k,) – semivariance (value units squared).
    npairs : ndarray (k,) int – pairs per bin.
    cutoff, width : float – maximum distance and bin width used.
    direction : float or None – azimuth (degrees clockwise from North) of a directional variogram.
    tolerance : float – angular half-tolerance (degrees).
    estimator : str – ``"matheron"`` or ``"cressie"``.
    """

    lags: np.ndarray
    gamma: np.ndarray
    npairs: np.ndarray
    cutoff: float
    width: float
    direction: Optional[float] = None
    tolerance: float = 22.5
    estimator: str = "matheron"

    def __iter__(self):
        return iter((self.lags, self.gamma, self.npairs))

    def to_frame(self):
        """pandas DataFrame with gstat's column names ``np, dist, gamma``."""
        import pandas as pd

        return pd.DataFrame({"np": self.npairs, "dist": self.lags, "gamma": self.gamma})


def default_cutoff(coords):
    """gstat's default cutoff: one third of the bounding-box diagonal of ``coords``."""
    return float(np.sqrt(np.sum(np.ptp(coords, axis=0) ** 2)) / 3.0)


def _pairs(coords, values, cutoff):
    """Yield ``(dvec (p, d), dist (p,), dz (p,))`` for all pairs i < j closer than ``cutoff``, in blocks."""
    n = len(coords)
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    for s in range(0, n - 1, rows):
        e = min(n - 1, s + rows)
        ii = np.repeat(np.arange(s, e), n)
        jj = np.tile(np.arange(n), e - s)
        keep = jj > ii
        ii, jj = ii[keep], jj[keep]
        dvec = coords[jj] - coords[ii]
        dist = np.sqrt(np.sum(dvec * dvec, axis=1))
        close = dist <= cutoff
        yield dvec[close], dist[close], values[jj[close]] - values[ii[close]]


def _direction_mask(dvec, direction, tolerance):
    """Pairs whose horizontal azimuth lies within ``tolerance`` degrees of ``direction`` (either sense)."""
    az = np.degrees(np.arctan2(dvec[:, 0], dvec[:, 1]))
    diff = np.abs((az - direction + 90.0) % 180.0 - 90.0)
    return diff <= tolerance + 1e-9


def experimental_variogram(coords, values, n_lags=None, cutoff=None, width=None, direction=None, tolerance=22.5,
                           estimator="matheron"):
    """Sample variogram of ``values`` at ``coords``.

    Parameters
    ----------
    coords : ndarray (n, 2) or (n, 3), metres (projected CRS).
    values : ndarray (n,). NaN values are dropped, duplicate locations averaged (both counted in a warning).
    n_lags : int, optional
        Number of bins; with neither ``width`` nor ``n_lags`` gstat's 15.
    cutoff : float, optional
        Largest pair distance; default one third of the bounding-box diagonal (gstat).
    width : float, optional
        Bin width; default ``cutoff / n_lags``.
    direction : float, optional
        Azimuth in degrees clockwise from North (+y) for a directional variogram (horizontal plane).
    tolerance : float
        Angular half-tolerance in degrees (gstat ``tol.hor``), default 22.5.
    estimator : "matheron" | "cressie"
        Classical estimator or Cressie–Hawkins' robust one (gstat ``cressie=TRUE``).

    Returns
    -------
    ExperimentalVariogram (unpacks as ``lags, gamma, npairs``); empty bins are left out.
    """
    if estimator not in ESTIMATORS:
        raise InputError(f"estimator '{estimator}' unknown; expected 'matheron' or 'cressie'")
    coords, values, _ = prepare_points(coords, values, allow_constant=False)
    cutoff = default_cutoff(coords) if cutoff is None else float(cutoff)
    if not cutoff > 0:
        raise InputError(f"cutoff {cutoff} must be > 0 (metres)")
    if width is None:
        n_lags = 15 if n_lags is None else int(n_lags)
        if n_lags < 1:
            raise InputError(f"n_lags {n_lags} must be >= 1")
        width = cutoff / n_lags
    width = float(width)
    if not width > 0:
        raise InputError(f"width {width} must be > 0 (metres)")
    n_bins = int(np.ceil(cutoff / width - 1e-9))
    count = np.zeros(n_bins)
    sum_d = np.zeros(n_bins)
    sum_g = np.zeros(n_bins)
    for dvec, dist, dz in _pairs(coords, values, cutoff):
        if direction is not None:
            m = _direction_mask(dvec, direction, tolerance)
            dist, dz = dist[m], dz[m]
        k = np.clip(np.ceil(dist / width).astype(np.int64) - 1, 0, n_bins - 1)
        count += np.bincount(k, minlength=n_bins)
        sum_d += np.bincount(k, weights=dist, minlength=n_bins)
        stat = np.sqrt(np.abs(dz)) if estimator == "cressie" else dz * dz
        sum_g += np.bincount(k, weights=stat, minlength=n_bins)
    ok = count > 0
    if not ok.any():
        raise InputError(f"no pair of points closer than the cutoff {cutoff:g}; expected a larger cutoff")
    n = count[ok]
    if estimator == "cressie":
        gamma = 0.5 * (sum_g[ok] / n) ** 4 / (0.457 + 0.494 / n)
    else:
        gamma = sum_g[ok] / (2.0 * n)
    return ExperimentalVariogram(sum_d[ok] / n, gamma, n.astype(np.int64), cutoff, width, direction, tolerance,
                                 estimator)


def variogram_map(coords, values, width, cutoff=None):
    """Variogram map (gstat ``variogram(..., map=TRUE)``): semivariance on a grid of separation vectors.

    Parameters
    ----------
    coords : ndarray (n, 2), metres. values : ndarray (n,).
    width : float – cell size of the map (metres). cutoff : float – half-extent (default gstat's cutoff).

    Returns
    -------
    dict with ``dx`` (nx,), ``dy`` (ny,) cell-centre separations, ``gamma`` (ny, nx) (NaN where no pair)
    and ``npairs`` (ny, nx); row 0 is the most negative dy. Each pair counts at +h and −h.
    """
    coords, values, _ = prepare_points(coords, values, allow_constant=False)
    coords = coords[:, :2]
    cutoff = default_cutoff(coords) if cutoff is None else float(cutoff)
    half = int(np.ceil(cutoff / width - 1e-9))
    size = 2 * half
    count = np.zeros(size * size)
    sum_g = np.zeros(size * size)
    for dvec, _, dz in _pairs(coords, values, cutoff * np.sqrt(2.0)):
        for sign in (1.0, -1.0):
            ix = np.floor(sign * dvec[:, 0] / width).astype(np.int64) + half
            iy = np.floor(sign * dvec[:, 1] / width).astype(np.int64) + half
            m = (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
            flat = iy[m] * size + ix[m]
            count += np.bincount(flat, minlength=size * size)
            sum_g += np.bincount(flat, weights=0.5 * dz[m] ** 2, minlength=size * size)
    centres = (np.arange(size) - half + 0.5) * width
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = np.where(count > 0, sum_g / count, np.nan)
    return {"dx": centres, "dy": centres, "gamma": gamma.reshape(size, size),
            "npairs": count.reshape(size, size).astype(np.int64)}
