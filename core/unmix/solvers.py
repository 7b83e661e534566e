"""Linear unmixing: unconstrained, sum-to-one, non-negative and fully constrained least squares.

Model: a pixel ``x`` (b,) is ``E' a + noise`` with endmember spectra ``E`` (m, b) and abundances
``a`` (m,). All four solvers are exact (no penalty weights):

==========  ==========================  ===========================================================
``ucls``    unconstrained               ``a = G^-1 E x`` with ``G = E E'``
``scls``    ``sum(a) = 1``              closed form with one Lagrange multiplier
``nnls``    ``a >= 0``                  Lawson-Hanson active set on the Gram matrix (compiled)
``fcls``    ``a >= 0``, ``sum(a) = 1``  primal active set on the Gram matrix (compiled)
==========  ==========================  ===========================================================

Pixels are ``(n, b)`` arrays in the endmembers' units (reflectance); abundances are ``(n, m)``
float64 fractions; a pixel with a NaN in any band gives NaN abundances.
Reference: Heinz & Chang (2001), IEEE TGRS 39(3), 529-545 (FCLS); Lawson & Hanson (1974),
*Solving Least Squares Problems*, ch. 23 (NNLS).
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import InputError, as_float_array
from .options import METHODS

#: relative tolerance on the KKT multipliers (scaled by the largest diagonal entry of the Gram matrix)
KKT_TOL = 1e-11
#: up to this many endmembers the active set starts from the all-free solution, beyond from one endmember
WARM_START_MAX = 12
#: pixels per chunk of the float64 products
CHUNK = 4096
#: endmember pairs closer than this spectral angle (radians) are reported as duplicates
DUPLICATE_ANGLE = 1e-3
#: endmember sets whose smallest/largest singular value is below this are reported as collinear
COLLINEAR_RCOND = 1e-6

def check_endmembers(endmembers, names=None, n_bands=None):
    """Validate an endmember matrix; return it as float64 ``(m, b)``.

    Raises :class:`InputError` for NaN/inf, more endmembers than bands, duplicate endmembers (spectral
    angle below :data:`DUPLICATE_ANGLE`) and collinear sets (one endmember is a linear combination of
    the others), naming the endmembers involved.
    """
    E = as_float_array(endmembers, "endmembers", "numbers (reflectance)", np.float64)
    if E.ndim != 2:
        raise InputError(f"endmembers must be a 2-D array (m endmembers, b bands); got shape {E.shape}")
    m, b = E.shape
    names = list(names) if names is not None else [f"endmember {i}" for i in range(m)]
    if len(names) != m:
        raise InputError(f"{m} endmember spectra but {len(names)} names ({', '.join(map(str, names))})")
    if n_bands is not None and b != n_bands:
        raise InputError(f"endmembers have {b} bands but the pixels have {n_bands}; resample them first")
    if not np.all(np.isfinite(E)):
        bad = [names[i] for i in np.flatnonzero(~np.isfinite(E).all(axis=1))]
        raise InputError(f"endmembers contain NaN or infinite values: {', '.join(bad)}")
    if m > b:
        raise InputError(f"{m} endmembers but only {b} bands: at most as many endmembers as bands can be unmixed")
    norms = np.linalg.norm(E, axis=1)
    if np.any(norms == 0):
        zero = ", ".join(names[i] for i in np.flatnonzero(norms == 0))
        raise InputError(f"endmember(s) with an all-zero spectrum: {zero}")
    cosines = np.clip((E @ E.T) / np.outer(norms, norms), -1.0, 1.0)
    angles = np.arccos(cosines)
    i, j = np.nonzero(np.triu(angles < DUPLICATE_ANGLE, k=1))
    if i.size:
        pairs = "; ".join(f"{names[a]} = {names[b_]}" for a, b_ in zip(i, j))
        raise InputError(f"duplicate endmembers (spectral angle < {DUPLICATE_ANGLE} rad): {pairs}; keep one of each")
    u, s, _ = np.linalg.svd(E / norms[:, None], full_matrices=False)
    if s[-1] < COLLINEAR_RCOND * s[0]:
        null = np.abs(u[:, -1])  # weights of the (near) linear dependence among the endmembers
        involved = np.flatnonzero(null > 1e-3 * null.max())
        raise InputError(
            "collinear endmembers (one is a linear combination of the others, condition number "
            f"{s[0] / s[-1]:.3g}): {', '.join(names[k] for k in involved)}; drop one of them")
    return E


def _pixels(pixels, n_bands):
    X = np.asarray(pixels)
    if not np.issubdtype(X.dtype, np.number):
        X = as_float_array(pixels, "pixels", "numbers (reflectance)", np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_bands:
        raise InputError(f"pixels must be (n, {n_bands}) to match the endmembers' {n_bands} bands; got shape {X.shape}")
    return X


def gram(pixels, endmembers, check=True, squares=False):
    """``G = E E'`` (m, m) and ``C = X E'`` (n, m) in float64, the mask (n,) of pixels with a
    non-finite band (their rows of C are NaN: NaN propagates through the product), and with
    ``squares=True`` the squared norms ``x'x`` (n,) (else None).

    A band-major table (the transpose of a C-ordered (b, n) cube block, as the raster drivers pass) is
    read band-major by a compiled pass (:func:`._kernels.band_major_products`); other tables by float64
    BLAS products over chunks of :data:`CHUNK` pixels (no full float64 copy of the pixels).
    ``check=False`` skips the duplicate/collinearity checks (bundles of similar spectra of one mineral).
    """
    E = check_endmembers(endmembers) if check else np.asarray(endmembers, dtype=np.float64)
    X = _pixels(pixels, E.shape[1])
    n = X.shape[0]
    C = np.empty((n, E.shape[0]))
    xx = np.empty(n)
    if X.T.flags.c_contiguous and not X.flags.c_contiguous and X.dtype in (np.float32, np.float64):
        from ._kernels import band_major_products

        with _dynamic_chunks(8):  # 8 of its chunks of 256 px at a time
            band_major_products(X.T, np.ascontiguousarray(E), C, xx)
    else:
        for i in range(0, n, CHUNK):
            j = min(n, i + CHUNK)
            chunk = np.asarray(X[i:j], dtype=np.float64)
            C[i:j] = chunk @ E.T
            if squares:
                xx[i:j] = np.einsum("ij,ij->i", chunk, chunk)
    bad = ~np.isfinite(C).all(axis=1)
    C[bad] = np.nan
    return E @ E.T, C, bad, xx if squares else None


def _dynamic_chunks(iterations):
    """Context in which the compiled parallel loops hand out ``iterations`` at a time to the threads as they
    free up, instead of equal shares up front: in the block engine the reading and writing threads share
    the cores, and with equal shares the thread they slow down holds up the others (benchmarks/NOTES.md)."""
    from numba import parallel_chunksize

    return parallel_chunksize(iterations)


def _n_chunks(n):
    from numba import get_num_threads

    return int(max(1, min(n // 256 + 1, 8 * get_num_threads())))


def equality_solution(G, C, sum_to_one):
    """Solution with every endmember free: ``G^-1 c`` (minus the sum-to-one correction).

    One (n, m) x (m, m) product with the inverse of the small Gram matrix (well conditioned: the callers
    check collinearity or the condition number): 12x faster than an LU solve with n right-hand sides
    (0.8 vs 10 ms for 100k pixels, 8 endmembers), same values to 1e-12 relative at condition 4e3."""
    H = np.linalg.inv(G)
    U = C @ H
    if sum_to_one:
        v = H.sum(axis=1)
        U -= ((U.sum(axis=1) - 1.0) / v.sum())[:, None] * v[None, :]
    return U


def _active_set_gram(G, C, bad, sum_to_one):
    """Exact constrained solution from the Gram quantities. Pixels whose all-free solution is already
    non-negative are done (it satisfies the KKT conditions); the others go through the compiled solver."""
    from ._kernels import active_set

    if np.linalg.cond(G) < 1e10:
        out = equality_solution(G, C, sum_to_one)
        todo = np.flatnonzero(~bad & ~(out >= 0).all(axis=1))
    else:  # nearly dependent spectra (bundles): the all-free solution is not trustworthy
        out = np.zeros_like(C)
        todo = np.flatnonzero(~bad)
    if todo.size:
        tol = KKT_TOL * float(np.max(np.diag(G)))
        warm = G.shape[0] <= WARM_START_MAX
        with _dynamic_chunks(1):
            out[todo] = active_set(G, np.ascontiguousarray(C[todo]), tol, sum_to_one, warm, _n_chunks(todo.size))
    out[bad] = np.nan
    return out


def _active_set(pixels, endmembers, sum_to_one):
    G, C, bad, _ = gram(pixels, endmembers)
    return _active_set_gram(G, C, bad, sum_to_one)


def fcls(pixels, endmembers):
    """Fully constrained least squares: ``a >= 0`` and ``sum(a) = 1``.

    Parameters
    ----------
    pixels : array (n, b) or (b,)
        Spectra, same units and bands as ``endmembers``.
    endmembers : array (m, b)

    Returns
    -------
    ndarray (n, m) float64 abundance fractions (NaN for pixels with a NaN band).
    """
    return _active_set(pixels, endmembers, True)

def nnls(pixels, endmembers):
    """Non-negative least squares ``a >= 0`` (no sum constraint); (n, b), (m, b) -> (n, m)."""
    return _active_set(pixels, endmembers, False)

def ucls(pixels, endmembers):
    """Unconstrained least squares ``a = (E E')^-1 E x``; (n, b), (m, b) -> (n, m)."""
    G, C, _, _ = gram(pixels, endmembers)
    return equality_solution(G, C, False)


def scls(pixels, endmembers):
    """Sum-to-one constrained least squares (abundances may be negative); (n, b), (m, b) -> (n, m)."""
    G, C, _, _ = gram(pixels, endmembers)
    return equality_solution(G, C, True)


def reconstruction_rmse(pixels, endmembers, abundances):
    """Root mean square over bands of ``x - E' a``, per pixel: (n, b), (m, b), (n, m) -> (n,)."""
    X = np.asarray(pixels, dtype=np.float64)
    R = X - np.asarray(abundances, dtype=np.float64) @ np.asarray(endmembers, dtype=np.float64)
    return np.sqrt(np.mean(R * R, axis=1))

SOLVERS = dict(zip(METHODS, (fcls, nnls, scls, ucls)))
SUM_TO_ONE = {"fcls": True, "scls": True, "nnls": False, "ucls": False}
NON_NEGATIVE = {"fcls": True, "nnls": True, "scls": False, "ucls": False}


def check_method(method):
    if method not in SOLVERS:
        raise InputError(f"unknown unmixing method {method!r}; expected one of {sorted(SOLVERS)}")
    return method


def solve(pixels, endmembers, method="fcls"):
    """Dispatch to one of :data:`SOLVERS` by name: (n, b), (m, b) -> (n, m)."""
    return SOLVERS[check_method(method)](pixels, endmembers)


def solve_with_rmse(pixels, endmembers, method="fcls", check=True):
    """Abundances (n, m) and reconstruction RMSE (n,) in one pass.

    The RMSE comes from the Gram quantities, ``||x||^2 - 2 a'Ex + a'Ga``, so the (n, b) residual is
    never formed (the cancellation error is ~1e-16 ||x||^2, far below any real residual).
    ``check=False`` skips the duplicate/collinearity checks (for bundles of one mineral's spectra).
    """
    check_method(method)
    G, C, bad, xx = gram(pixels, endmembers, check, squares=True)
    if NON_NEGATIVE[method]:
        A = _active_set_gram(G, C, bad, SUM_TO_ONE[method])
    else:
        A = equality_solution(G, C, SUM_TO_ONE[method])
        A[bad] = np.nan
    ss = xx - 2.0 * np.einsum("ij,ij->i", A, C) + np.einsum("ij,ij->i", A @ G, A)
    return A, np.sqrt(np.maximum(ss, 0.0) / np.shape(endmembers)[1])


class _LinearUnmixer(TransformerMixin, BaseEstimator):
    """``fit(endmembers)`` stores the endmembers; ``transform(pixels)`` returns abundances (n, m)."""

    _method = None

    def __init__(self, names=None):
        self.names = names

    def fit(self, endmembers, y=None):
        self.endmembers_ = check_endmembers(endmembers, self.names)
        self.n_features_in_ = self.endmembers_.shape[1]
        return self

    def transform(self, pixels):
        return solve(pixels, self.endmembers_, self._method)

    def rmse(self, pixels, abundances):
        """Reconstruction RMSE per pixel for abundances from :meth:`transform`."""
        return reconstruction_rmse(pixels, self.endmembers_, abundances)


class FCLS(_LinearUnmixer):
    """Estimator twin of :func:`fcls`: ``FCLS().fit(endmembers).transform(pixels)``."""

    _method = "fcls"


class NNLS(_LinearUnmixer):
    """Estimator twin of :func:`nnls`."""

    _method = "nnls"


class SCLS(_LinearUnmixer):
    """Estimator twin of :func:`scls`."""

    _method = "scls"


class UCLS(_LinearUnmixer):
    """Estimator twin of :func:`ucls`."""

    _method = "ucls"
