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
def gather_passive(passive, idx):
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
        p = gather_passive(passive, idx)
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
def solve_pixel(G, c, a, tol, sum_to_one, warm, passive, blocked, idx, L, u, v, g):
    """Active-set solve of one pixel into ``a`` (m,). Returns the number of iterations.

    ``warm``: start from :func:`_warm_start` (few endmembers); otherwise, or if that fails, from zero
    (non-negative only) or the closest vertex of the simplex (sum to one), adding endmembers one by one
    (cheaper when the solution uses few of many endmembers, e.g. bundles). One compiled function: it runs
    per pixel inside the parallel loops, where a call per step would cost more than the step.
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
            p = gather_passive(passive, idx)
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
        solve_pixel(G, c, a, tol, sum_to_one, warm, passive, blocked, idx, L, u, v, g)
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


@njit(cache=True, nogil=True)
def inverse_passive(G, idx, p, L, H, col):
    """``H[:p, :p] = inv(G[idx, idx])`` by Cholesky; False if numerically singular."""
    for i in range(p):
        ii = idx[i]
        for j in range(i + 1):
            s = G[ii, idx[j]]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= _PIVOT_REL * G[ii, ii]:
                    return False
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    for e in range(p):
        for i in range(p):
            s = 1.0 if i == e else 0.0
            for k in range(i):
                s -= L[i, k] * col[k]
            col[i] = s / L[i, i]
        for i in range(p - 1, -1, -1):
            s = col[i]
            for k in range(i + 1, p):
                s -= L[k, i] * col[k]
            col[i] = s / L[i, i]
        for i in range(p):
            H[i, e] = col[i]
    return True


@njit(cache=True, parallel=True)
def group_variances(G, active, owner, n_groups, sum_to_one):
    """Variance factors (n, n_groups) of the summed abundances of each group, per pixel.

    For the active set P of a pixel, ``K = H - H1 1'H / 1'H1`` (sum to one) or ``K = H`` with
    ``H = inv(G_PP)``; a group's factor is the sum of K over its active members. A group with no active
    member gets the last diagonal entry of K for P plus the group's first endmember j (bordered inverse:
    ``w = H g_Pj``, ``s = G_jj - g_Pj'w``). NaN where G_PP is singular.
    """
    n, m = active.shape
    out = np.empty((n, n_groups))
    first = np.full(n_groups, -1, dtype=np.int64)
    for j in range(m - 1, -1, -1):
        first[owner[j]] = j
    for r in prange(n):
        idx = np.empty(m, dtype=np.int64)
        L = np.empty((m, m))
        H = np.empty((m, m))
        col = np.empty(m)
        h1 = np.zeros(m)
        w = np.empty(m)
        p = gather_passive(active[r], idx)
        if p > 0 and not inverse_passive(G, idx, p, L, H, col):
            for k in range(n_groups):
                out[r, k] = np.nan
            continue
        total = 0.0
        for i in range(p):
            h1[i] = 0.0
            for j in range(p):
                h1[i] += H[i, j]
            total += h1[i]
        scale = 1.0 / total if (sum_to_one and total > 0.0) else 0.0
        for k in range(n_groups):
            acc = 0.0
            found = False
            for i in range(p):
                if owner[idx[i]] != k:
                    continue
                found = True
                for j in range(p):
                    if owner[idx[j]] == k:
                        acc += H[i, j] - scale * h1[i] * h1[j]
            if not found:  # bordered inverse with the group's first endmember
                jj = first[k]
                wsum = 0.0
                gw = 0.0
                for i in range(p):
                    w[i] = 0.0
                    for j in range(p):
                        w[i] += H[i, j] * G[idx[j], jj]
                    wsum += w[i]
                    gw += G[idx[i], jj] * w[i]
                s = max(G[jj, jj] - gw, _PIVOT_REL * G[jj, jj])
                acc = 1.0 / s
                if sum_to_one:
                    last = (1.0 - wsum) / s
                    acc -= last * last / (total + (wsum - 1.0) ** 2 / s)
            out[r, k] = max(acc, 0.0)
    return out


@njit(cache=True, parallel=True)
def band_major_products(X, E, C, xx):
    """``C[p, j] = sum_k E[j, k] X[k, p]`` and ``xx[p] = sum_k X[k, p]^2`` in float64, for a band-major
    table ``X`` (b, n) (a C-ordered cube block reshaped, float32 or float64) and ``E`` (m, b) float64.

    One pass over the pixels, in parallel over chunks of 256: per band, the chunk's row (contiguous)
    updates m + 1 accumulator rows that stay in L1 cache (vectorised along pixels). This replaces a float64
    copy of the block, a BLAS product and a separate sum of squares (100k px x 200 bands, 8 endmembers:
    1.4x faster on one core, 3x on two, where the copy and the sum of squares ran on one).
    NaN bands propagate to ``C`` and ``xx``.
    """
    b, n = X.shape
    m = E.shape[0]
    chunk = 256
    for c in prange((n + chunk - 1) // chunk):
        p0 = c * chunk
        w = min(n, p0 + chunk) - p0
        acc = np.zeros((m + 1, w))
        for k in range(b):
            row = X[k, p0:p0 + w]
            sq = acc[m]
            for q in range(w):
                sq[q] += np.float64(row[q]) * np.float64(row[q])
            for j in range(m):
                e = E[j, k]
                dst = acc[j]
                for q in range(w):
                    dst[q] += e * np.float64(row[q])
        for q in range(w):
            for j in range(m):
                C[p0 + q, j] = acc[j, q]
            xx[p0 + q] = acc[m, q]
