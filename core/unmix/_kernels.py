"""Compiled per-pixel active-set solvers working on the Gram matrix (numba).

Both solvers minimise ``0.5 a'Ga - c'a`` (``G = E E'`` of shape (m, m), ``c = E x`` of shape (m,)),
which is ``0.5 ||x - E'a||^2`` up to a constant, so a pixel costs O(m^3) however many bands it has;
the O(b m) part ``c = E x`` is one BLAS product for all pixels, done by the caller.

- ``sum_to_one=False`` (NNLS): ``a >= 0`` (Lawson & Hanson 1974, ch. 23, on the normal equations).
- ``sum_to_one=True`` (FCLS): ``a >= 0`` and ``sum(a) == 1``, a primal active-set method (Nocedal &
  Wright 2006, alg. 16.3). The equality-constrained subproblem on the passive set P is solved in
  closed form: ``u = G_PP^-1 c_P``, ``v = G_PP^-1 1``, ``nu = (1'u - 1) / 1'v``, ``z = u - nu v``;
  the multipliers of the zero abundances are ``lambda_k = (G a - c)_k + nu`` and the solution is
  optimal when all of them are ``>= -tol`` (KKT).

Start (``warm``, few endmembers): solve with all endmembers free and drop the non-positive ones until
the rest are positive (feasible, optimal on its set). Otherwise (many endmembers, e.g. bundles), or if
a factorisation fails: zero (NNLS) or the best single endmember, a vertex of the simplex (FCLS).

Exact up to floating point (no penalty weight). A passive set whose Gram block is numerically singular
(pivot below ``1e-12`` of the diagonal) rejects the entering endmember for that pixel.
"""
import numpy as np
from numba import njit, prange

_PIVOT_REL = 1e-12


@njit(cache=True, nogil=True)
def _solve_passive(G, c, idx, p, L, u, v, sum_to_one):
    """Solve the subproblem on ``idx[:p]``; result in ``u[:p]``. Returns ``(ok, nu)``.

    Cholesky of ``G[idx, idx]`` into ``L``; ``u`` := ``G_PP^-1 c_P`` (minus ``nu G_PP^-1 1``).
    """
    for i in range(p):
        ii = idx[i]
        for j in range(i + 1):
            jj = idx[j]
            s = G[ii, jj]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= _PIVOT_REL * G[ii, ii]:
                    return False, 0.0
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    # forward then backward substitution for both right-hand sides
    for i in range(p):
        su = c[idx[i]]
        sv = 1.0
        for k in range(i):
            su -= L[i, k] * u[k]
            sv -= L[i, k] * v[k]
        u[i] = su / L[i, i]
        v[i] = sv / L[i, i]
    for i in range(p - 1, -1, -1):
        su = u[i]
        sv = v[i]
        for k in range(i + 1, p):
            su -= L[k, i] * u[k]
            sv -= L[k, i] * v[k]
        u[i] = su / L[i, i]
        v[i] = sv / L[i, i]
    nu = 0.0
    if sum_to_one:
        su = 0.0
        sv = 0.0
        for i in range(p):
            su += u[i]
            sv += v[i]
        nu = (su - 1.0) / sv
        for i in range(p):
            u[i] -= nu * v[i]
    return True, nu


@njit(cache=True, nogil=True)
def _gather(passive, idx):
    """Indices of the passive set into ``idx``; returns their number."""
    p = 0
    for i in range(passive.shape[0]):
        if passive[i]:
            idx[p] = i
            p += 1
    return p


@njit(cache=True, nogil=True)
def _warm_start(G, c, a, sum_to_one, passive, idx, L, u, v):
    """Feasible start: solve with every endmember free, drop those that come out non-positive,
    repeat until the rest are positive (a feasible point that is optimal on its passive set).
    Returns False if a Cholesky factorisation failed (then ``a``/``passive`` are not set)."""
    m = G.shape[0]
    for j in range(m):
        passive[j] = True
    while True:
        p = _gather(passive, idx)
        if p == 0:  # non-negative only: start at zero
            for i in range(m):
                a[i] = 0.0
            return True
        ok, _ = _solve_passive(G, c, idx, p, L, u, v, sum_to_one)
        if not ok:
            return False
        dropped = False
        for k in range(p):
            if u[k] <= 0.0:
                passive[idx[k]] = False
                dropped = True
        if not dropped:
            for i in range(m):
                a[i] = 0.0
            for k in range(p):
                a[idx[k]] = u[k]
            return True


@njit(cache=True, nogil=True)
def _pixel(G, c, a, tol, sum_to_one, warm, passive, blocked, idx, L, u, v, g):
    """Active-set solve of one pixel into ``a`` (m,). Returns the number of iterations.

    ``warm``: start from :func:`_warm_start` (few endmembers); otherwise, or if that fails, from zero
    (non-negative only) or the closest vertex of the simplex (sum to one), adding endmembers one by one
    (cheaper when the solution uses few of many endmembers, e.g. bundles).
    """
    m = G.shape[0]
    for j in range(m):
        blocked[j] = False
    if not (warm and _warm_start(G, c, a, sum_to_one, passive, idx, L, u, v)):
        for j in range(m):
            a[j] = 0.0
            passive[j] = False
    if sum_to_one and not passive.any():
        best = 0
        best_val = np.inf
        for j in range(m):
            val = G[j, j] - 2.0 * c[j]
            if val < best_val:
                best_val = val
                best = j
        a[best] = 1.0
        passive[best] = True
    it = 0
    max_iter = 3 * m + 10
    while it < max_iter:
        it += 1
        # gradient g = G a - c (over the non-zero abundances) and the equality multiplier nu
        p = 0
        for j in range(m):
            if a[j] != 0.0:
                idx[p] = j
                p += 1
        for i in range(m):
            s = -c[i]
            for k in range(p):
                s += G[i, idx[k]] * a[idx[k]]
            g[i] = s
        nu = 0.0
        if sum_to_one:
            cnt = 0
            for i in range(m):
                if passive[i]:
                    nu -= g[i]
                    cnt += 1
            nu /= cnt
        enter = -1
        most = -tol
        for i in range(m):
            if not passive[i] and not blocked[i]:
                lam = g[i] + nu
                if lam < most:
                    most = lam
                    enter = i
        if enter < 0:
            break
        passive[enter] = True
        # inner loop: keep the passive solution feasible
        while True:
            p = _gather(passive, idx)
            ok, _ = _solve_passive(G, c, idx, p, L, u, v, sum_to_one)
            if not ok:  # degenerate set: reject the entering endmember for this pixel
                passive[enter] = False
                blocked[enter] = True
                break
            alpha = 2.0
            leave = -1
            for k in range(p):
                i = idx[k]
                if u[k] <= 0.0:
                    denom = a[i] - u[k]
                    r = a[i] / denom if denom > 0.0 else 0.0
                    if r < alpha:
                        alpha = r
                        leave = i
            if leave < 0:  # all positive: accept; earlier rejections may enter again
                for i in range(m):
                    a[i] = 0.0
                    blocked[i] = False
                for k in range(p):
                    a[idx[k]] = u[k]
                break
            if leave == enter and alpha == 0.0:
                # the entering endmember would go negative at once (rounding): reject it here
                passive[enter] = False
                blocked[enter] = True
                break
            for k in range(p):
                i = idx[k]
                a[i] += alpha * (u[k] - a[i])
            a[leave] = 0.0
            passive[leave] = False
            for k in range(p):
                i = idx[k]
                if a[i] <= 0.0:
                    a[i] = 0.0
                    passive[i] = False
    return it


@njit(cache=True, nogil=True)
def _solve_range(G, C, out, tol, sum_to_one, warm, start, stop):
    m = G.shape[0]
    passive = np.zeros(m, dtype=np.bool_)
    blocked = np.zeros(m, dtype=np.bool_)
    idx = np.zeros(m, dtype=np.int64)
    L = np.zeros((m, m))
    u = np.zeros(m)
    v = np.zeros(m)
    g = np.zeros(m)
    a = np.zeros(m)
    for n in range(start, stop):
        c = C[n]
        if np.isnan(c[0]):
            for j in range(m):
                out[n, j] = np.nan
            continue
        _pixel(G, c, a, tol, sum_to_one, warm, passive, blocked, idx, L, u, v, g)
        for j in range(m):
            out[n, j] = a[j]


@njit(cache=True, parallel=True)
def active_set(G, C, tol, sum_to_one, warm, n_chunks):
    """Solve every row of ``C`` (n, m) against ``G`` (m, m); NaN rows give NaN. Returns (n, m)."""
    n = C.shape[0]
    out = np.empty((n, G.shape[0]))
    step = (n + n_chunks - 1) // n_chunks
    for k in prange(n_chunks):
        start = k * step
        stop = min(n, start + step)
        if start < stop:
            _solve_range(G, C, out, tol, sum_to_one, warm, start, stop)
    return out
