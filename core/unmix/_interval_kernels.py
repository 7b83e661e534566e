"""Compiled covariances of each group's summed abundance with the total abundance (numba).

Companion of :func:`remine.core.unmix._kernels.group_variances` (same active-set inverse): used for the
delta-method intervals of normalised abundances ``a_k / g`` and for the variance of ``g``.
"""
import numpy as np
from numba import njit, prange

from ._kernels import gather_passive, inverse_passive


@njit(cache=True, parallel=True)
def total_covariances(G, active, owner, n_groups, sum_to_one):
    """Covariance factors (n, n_groups + 1), per pixel: column k is ``cov(sum of group k, g)`` over the
    active set P (the sum over k's active members of the row sums of K, 0 for a group with no active
    member) and the last column is ``var(g) = 1'K1``. ``K = H`` or, with the sum-to-one constraint,
    ``H - H1 1'H / 1'H1`` (whose row sums vanish), ``H = inv(G_PP)``. NaN where G_PP is singular."""
    n, m = active.shape
    out = np.zeros((n, n_groups + 1))
    for r in prange(n):
        idx = np.empty(m, dtype=np.int64)
        L = np.empty((m, m))
        H = np.empty((m, m))
        col = np.empty(m)
        p = gather_passive(active[r], idx)
        if p == 0 or sum_to_one:
            continue
        if not inverse_passive(G, idx, p, L, H, col):
            for k in range(n_groups + 1):
                out[r, k] = np.nan
            continue
        for i in range(p):
            row = 0.0
            for j in range(p):
                row += H[i, j]
            out[r, owner[idx[i]]] += row
            out[r, n_groups] += row
    return out
