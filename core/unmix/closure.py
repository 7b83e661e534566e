"""Compositional closure: make any per-pixel prediction a valid composition (>= 0, sums to 1).

Two routes, for ``(n, m)`` arrays of fractions (one row per pixel/sample, one column per mineral):

- ``"simplex"``: the Euclidean projection onto the probability simplex, exact and vectorised
  (sort-based algorithm of Held, Wolfe & Crowder 1974; Duchi et al. 2008, ICML, fig. 1):
  ``w = max(v - theta, 0)`` with ``theta`` from the sorted cumulative sums.
- ``"ilr"``: the compositional (Aitchison) route: parts are made strictly positive (values below
  ``eps`` replaced by ``eps``) and divided by their sum; :func:`ilr` / :func:`ilr_inverse` map
  compositions to and from unconstrained coordinates (Egozcue et al. 2003, Math. Geol. 35(3)), where
  ensemble members are averaged and quantiles taken.
"""
import warnings

import numpy as np

from ..errors import InputError, RemineWarning, as_float_array

CLOSE_METHODS = ("simplex", "ilr")
#: smallest part used by the ilr route (fractions): zeros cannot be log-transformed
ILR_EPS = 1e-6


def project_simplex(values):
    """Euclidean projection of each row onto ``{a : a >= 0, sum(a) = 1}``; (n, m) -> (n, m).

    NaN rows stay NaN. The result is the unique nearest point: ``a = max(v - theta, 0)`` with
    ``theta`` the largest of ``(cumsum(sorted_desc(v))[k] - 1) / (k + 1)`` whose part stays positive.
    """
    V = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n, m = V.shape
    bad = ~np.isfinite(V).all(axis=1)
    Vf = np.where(bad[:, None], 0.0, V)
    U = -np.sort(-Vf, axis=1)
    css = np.cumsum(U, axis=1) - 1.0
    k = np.arange(1, m + 1)
    cond = U - css / k > 0
    rho = m - 1 - np.argmax(cond[:, ::-1], axis=1)  # last index where cond holds (always >= 0)
    theta = css[np.arange(n), rho] / (rho + 1)
    out = np.maximum(Vf - theta[:, None], 0.0)
    out[bad] = np.nan
    return out


def _helmert_basis(m):
    """Orthonormal basis (m, m-1) of the clr hyperplane (Helmert contrasts, Egozcue et al. 2003)."""
    V = np.zeros((m, m - 1))
    for j in range(1, m):
        V[:j, j - 1] = 1.0 / j
        V[j, j - 1] = -1.0
        V[:, j - 1] *= np.sqrt(j / (j + 1.0))
    return V


def ilr(compositions):
    """Isometric log-ratio coordinates of strictly positive compositions: (n, m) -> (n, m-1)."""
    P = np.atleast_2d(np.asarray(compositions, dtype=np.float64))
    if np.any(P <= 0):
        raise InputError("ilr needs strictly positive parts; close the values with close(..., method='ilr') first")
    logs = np.log(P)
    clr = logs - logs.mean(axis=1, keepdims=True)
    return clr @ _helmert_basis(P.shape[1])


def ilr_inverse(coordinates):
    """Compositions from ilr coordinates: (n, m-1) -> (n, m), rows sum to 1."""
    Z = np.atleast_2d(np.asarray(coordinates, dtype=np.float64))
    clr = Z @ _helmert_basis(Z.shape[1] + 1).T
    W = np.exp(clr - clr.max(axis=1, keepdims=True))
    return W / W.sum(axis=1, keepdims=True)


def close(abundances, method="simplex", eps=ILR_EPS, warn=True, return_count=False):
    """Close predicted abundances into compositions (rows >= 0 that sum to 1).

    Parameters
    ----------
    abundances : array (n, m)
        Fractions (not percent), e.g. the outputs of one regression model per mineral.
    method : {"simplex", "ilr"}
        ``"simplex"``: the nearest point on the simplex to the raw values (Euclidean projection; values
        outside [0, 1] are projected as they are, not clipped first). ``"ilr"``: values clipped to [0, 1],
        parts below ``eps`` set to ``eps``, then divided by the row sum (the closure of compositional
        data analysis, which needs positive parts).
    eps : float
        Smallest part for the ilr route (fraction).
    warn : bool
        Emit a :class:`RemineWarning` with the number of values outside [0, 1].
    return_count : bool
        Also return that number.

    Values below 0 or above 1 (a regression model may overshoot) are counted; the ilr route clips them
    to [0, 1]. Rows with a NaN stay NaN; an all-zero row becomes the uniform composition on both routes.

    Returns
    -------
    closed : ndarray (n, m) float64, or ``(closed, n_outside)`` with ``return_count=True`` (the number
    of values outside [0, 1])
    """
    if method not in CLOSE_METHODS:
        raise InputError(f"unknown closure method {method!r}; expected one of {CLOSE_METHODS}")
    A = np.atleast_2d(as_float_array(abundances, "abundances", "numbers (fractions)", np.float64))
    if A.ndim != 2 or A.shape[1] < 2:
        raise InputError(f"abundances must be (n pixels, m >= 2 minerals); got shape {np.shape(abundances)}")
    finite = np.isfinite(A)
    n_clipped = int(np.count_nonzero(finite & ((A < 0) | (A > 1))))
    if n_clipped and warn:
        treatment = "projected onto the simplex as they are" if method == "simplex" else "clipped before closure"
        warnings.warn(f"{n_clipped} abundance value(s) outside [0, 1] were {treatment}", RemineWarning,
                      stacklevel=2)
    if method == "simplex":
        closed = project_simplex(A)
    else:
        A = np.maximum(np.clip(A, 0.0, 1.0), eps)
        closed = A / A.sum(axis=1, keepdims=True)
    return (closed, n_clipped) if return_count else closed


def ensemble_intervals(members, level=0.9, method="simplex"):
    """Closed composition and quantile interval from an ensemble of model predictions.

    Parameters
    ----------
    members : array (k, n, m)
        ``k`` ensemble members' predicted fractions for ``n`` pixels and ``m`` minerals.
    level : float
        Nominal coverage of the interval (0.9 -> 5 % and 95 % quantiles).
    method : {"simplex", "ilr"}
        Closure applied to every member before the quantiles. With ``"ilr"`` the central estimate is
        the mean in ilr coordinates (the compositional centre); with ``"simplex"`` the member mean,
        which stays on the simplex (it is convex).

    Returns
    -------
    centre, lower, upper : ndarrays (n, m)
    """
    M = np.asarray(members, dtype=np.float64)
    if M.ndim != 3:
        raise InputError(f"members must be (k members, n pixels, m minerals); got shape {M.shape}")
    k, n, m = M.shape
    closed = close(M.reshape(k * n, m), method=method, warn=False).reshape(k, n, m)
    if method == "ilr":
        centre = ilr_inverse(ilr(closed.reshape(k * n, m)).reshape(k, n, m - 1).mean(axis=0))
    else:
        centre = closed.mean(axis=0)
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(closed, [alpha, 1.0 - alpha], axis=0)
    return centre, lower, upper
