"""Compiled kriging kernel (numba): many small kriging systems solved one after another.

For every target ``t`` the ``k`` nearest samples ``S_t`` are picked from its tile's candidate list and the system
``C λ + F μ = c``, ``Fᵀ λ = f₀`` (covariance form; ``C`` the covariance among neighbours, ``c`` between
neighbours and target, ``F`` drift functions at the neighbours, ``f₀`` at the target) is solved through the
Cholesky factor ``L`` of ``C``:

    u = L⁻¹c,  y = L⁻¹z,  G = L⁻¹F,  M = GᵀG,  r = Gᵀu − f₀,  μ = M⁻¹r
    estimate = uᵀy − μᵀ(Gᵀy),  variance = C(0) − uᵀu + rᵀμ

``F`` = 1 gives ordinary kriging, no drift (p = 0) simple kriging (on values minus the mean), columns of
coordinates universal kriging, external rasters kriging with external drift. Targets are visited in spatial
order and the factor follows the neighbour set: samples that leave are deleted (rank-one update, O(k²)),
samples that enter are appended (one triangular solve, O(k²)); the factor is recomputed from scratch after
64 updates or a large change. A global neighbourhood is thus factorised once.
Block kriging averages ``c`` over the block's discretisation points. A system that is not positive definite
(collinear or clustered points, zero nugget) is regularised by adding a small multiple of ``C(0)`` to the
diagonal until the factorisation succeeds; the number of such systems is returned.
"""
import math

import numpy as np
from numba import njit, prange

from .structures import EXPONENTIAL, GAUSSIAN, POWER, SPHERICAL, TABULATED

_FM = {"nsz", "arcp", "contract", "reassoc"}  # fast maths without assuming finite values


@njit(cache=True, fastmath=_FM)
def _cov_fill(h, g, start, stop, codes, psills, inv_ranges, params, nugget, table, inv_step, A):
    """h[start:stop] (distances) -> covariances ``A - gamma(h)`` in place, ``gamma(0) = 0``; g: scratch.

    Loops run structure by structure over the whole vector (branch-free inner loops the compiler vectorises).
    """
    for a in range(start, stop):
        g[a] = nugget if h[a] > 0.0 else 0.0
    for s in range(codes.shape[0]):
        code, ps, ir = codes[s], psills[s], inv_ranges[s]
        if code == SPHERICAL:
            for a in range(start, stop):
                r = min(h[a] * ir, 1.0)
                g[a] += ps * r * (1.5 - 0.5 * r * r)
        elif code == EXPONENTIAL:
            for a in range(start, stop):
                g[a] += ps * (1.0 - math.exp(-h[a] * ir))
        elif code == GAUSSIAN:
            for a in range(start, stop):
                r = h[a] * ir
                g[a] += ps * (1.0 - math.exp(-r * r))
        elif code == POWER:
            for a in range(start, stop):
                g[a] += ps * h[a] ** params[s]
        elif code == TABULATED:
            last = table.shape[0] - 1
            for a in range(start, stop):
                x = h[a] * inv_step
                i = int(x)
                if i >= last:
                    g[a] += table[last]
                else:
                    f = x - i
                    g[a] += table[i] * (1.0 - f) + table[i + 1] * f
    for a in range(start, stop):
        h[a] = A - g[a]


@njit(cache=True, fastmath=_FM)
def _dist_to(X, members, start, stop, P, p, off, q, h):
    """h[a] = |X[members[a]] - (P[p] + off[q])| for a in [start, stop)."""
    for a in range(start, stop):
        ia = members[a]
        s = 0.0
        for d in range(X.shape[1]):
            v = X[ia, d] - P[p, d] - off[q, d]
            s += v * v
        h[a] = s
    for a in range(start, stop):
        h[a] = math.sqrt(h[a])


@njit(cache=True, fastmath=_FM)
def _cholesky(A, U, k, jitter):
    """Upper Cholesky factor U (A = UᵀU; row i of U is column i of the lower factor) of the upper triangle
    of A[:k, :k] + jitter·I. Returns False if not positive definite."""
    for i in range(k):
        for m in range(i, k):
            U[i, m] = A[i, m]
        U[i, i] += jitter
    for i in range(k):
        dii = U[i, i]
        if not dii > 0.0 or not np.isfinite(dii):
            return False
        d = math.sqrt(dii)
        for m in range(i, k):
            U[i, m] /= d
        for r in range(i + 1, k):
            f = U[i, r]
            for m in range(r, k):
                U[r, m] -= f * U[i, m]
    return True


@njit(cache=True, inline="always", fastmath=_FM)
def _forward(U, b, x, k):
    """Solve Uᵀx = b (the lower-triangular solve) column by column (contiguous rows of U)."""
    for i in range(k):
        x[i] = b[i]
    for i in range(k):
        xi = x[i] / U[i, i]
        x[i] = xi
        for m in range(i + 1, k):
            x[m] -= U[i, m] * xi


@njit(cache=True, inline="always", fastmath=_FM)
def _delete(U, members, pos, j, k, x, y, G):
    """Remove member ``j`` from the factor of ``k`` members, O((k-j)²).

    The trailing block gets the rank-one update ``L₃₃L₃₃ᵀ + l l ᵀ`` (l = column j of L below the diagonal),
    done as Givens rotations of [L₃₃ | l]; the same rotations carry ``y = L⁻¹z`` and the rows of
    ``G = (L⁻¹F)ᵀ`` over to the new factor, so they need no new triangular solve.
    """
    p = G.shape[0]
    for m in range(j + 1, k):
        x[m] = U[j, m]
    xi_y = y[j]
    for i in range(j + 1, k):
        uii = U[i, i]
        r = math.sqrt(uii * uii + x[i] * x[i])
        cos = uii / r
        sin = x[i] / r
        c = r / uii
        s = x[i] / uii
        U[i, i] = r
        for m in range(i + 1, k):
            um = (U[i, m] + s * x[m]) / c
            U[i, m] = um
            x[m] = c * x[m] - s * um
        yi = y[i]
        y[i] = cos * yi + sin * xi_y
        xi_y = cos * xi_y - sin * yi
        for a in range(p):
            gi = G[a, i]
            G[a, i] = cos * gi + sin * G[a, j]
            G[a, j] = cos * G[a, j] - sin * gi
    pos[members[j]] = -1
    for r in range(j):
        for m in range(j, k - 1):
            U[r, m] = U[r, m + 1]
    for r in range(j, k - 1):
        for m in range(r, k - 1):
            U[r, m] = U[r + 1, m + 1]
        members[r] = members[r + 1]
        pos[members[r]] = r
        y[r] = y[r + 1]
        for a in range(p):
            G[a, r] = G[a, r + 1]


@njit(cache=True, inline="always")
def _select(dbuf, ibuf, nc, k):
    """Move the k smallest of dbuf[:nc] (with their ibuf) to the front (quickselect, O(nc)).

    Ties in distance are broken by the smaller sample index, so the neighbourhood of a target does not depend
    on how targets are grouped into blocks or chunks.
    """
    lo, hi = 0, nc - 1
    while lo < hi:
        mid = (lo + hi) // 2
        pd, pi = dbuf[mid], ibuf[mid]
        i, j = lo, hi
        while i <= j:
            while dbuf[i] < pd or (dbuf[i] == pd and ibuf[i] < pi):
                i += 1
            while dbuf[j] > pd or (dbuf[j] == pd and ibuf[j] > pi):
                j -= 1
            if i <= j:
                dbuf[i], dbuf[j] = dbuf[j], dbuf[i]
                ibuf[i], ibuf[j] = ibuf[j], ibuf[i]
                i += 1
                j -= 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            break


@njit(cache=True, inline="always", fastmath=_FM)
def _rhs_solve(X, T, t, members, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step, A, C0,
               U, y, G, Gy, MU, F0, c, u, pw, est, var, mu, work):
    """Right-hand side of target t, forward solve with the current factor, estimate/variance/multipliers.

    ``pw`` (3, p) and ``work`` (2, k) are scratch."""
    p = G.shape[0]
    r, w, s_ = pw[0], pw[1], pw[2]
    hbuf, gbuf = work[0], work[1]
    # --- right-hand side for this target (block average over the discretisation points) and the solution
    for a in range(kc):
        c[a] = 0.0
    for q in range(offs.shape[0]):
        _dist_to(X, members, 0, kc, T, t, offs, q, hbuf)
        _cov_fill(hbuf, gbuf, 0, kc, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
        for a in range(kc):
            c[a] += wts[q] * hbuf[a]
    _forward(U, c, u, kc)
    e = 0.0
    uu = 0.0
    for a in range(kc):
        e += u[a] * y[a]
        uu += u[a] * u[a]
    v = C0 - uu
    if p > 0:
        for i in range(p):
            sm = -F0[t, i]
            for a in range(kc):
                sm += G[i, a] * u[a]
            r[i] = sm
        # mu = M⁻¹ r = MU⁻¹ MU⁻ᵀ r
        _forward(MU, r, w, p)
        for i in range(p - 1, -1, -1):
            sm = w[i]
            for m in range(i + 1, p):
                sm -= MU[i, m] * s_[m]
            s_[i] = sm / MU[i, i]
        for i in range(p):
            e -= s_[i] * Gy[i]
            v += r[i] * s_[i]
            mu[t, i] = s_[i]
    est[t] = e
    var[t] = v


@njit(cache=True, fastmath=_FM)
def _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist2, offs, wts, codes,
                   psills, inv_ranges, params, nugget, table, inv_step, A, C0, start, stop, est, var, mu, max_cand):
    """Krige targets ``order[start:stop]``: per target, its k nearest candidates, the kriging system (updated
    from the previous target's factorisation where the neighbours overlap), estimate, variance and Lagrange
    multipliers into ``est``, ``var``, ``mu``; returns the number of regularised systems. One compiled
    function on purpose: the scratch matrices live for
    the whole loop over targets, and numba passes arrays between functions without inlining them."""
    n = X.shape[0]
    p = F.shape[1]
    C = np.empty((k, k))
    U = np.empty((k, k))
    y = np.empty(k)
    G = np.empty((p, k))
    M = np.empty((p, p))
    MU = np.empty((p, p))
    Gy = np.empty(p)
    c = np.empty(k)
    u = np.empty(k)
    col = np.empty(k)
    pw = np.empty((3, p))
    members = np.empty(k, np.int64)
    nb = np.empty(k, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    dbuf = np.empty(max_cand)
    ibuf = np.empty(max_cand, np.int64)
    work = np.empty((2, k))
    hbuf, gbuf = work[0], work[1]
    zoff = np.zeros((1, X.shape[1]))
    kc = 0
    valid = False
    jitter = 0.0
    updates = 0
    n_reg = 0
    for si in range(start, stop):
        t = order[si]
        g = tile_of[t]
        # --- the k nearest candidates (within max_dist), leaving out exclude[t]
        nc = 0
        n_in = 0
        max_in = 0.0
        min_out = np.inf
        for jj in range(cand_ptr[g], cand_ptr[g + 1]):
            i = cand_idx[jj]
            if i == exclude[t]:
                continue
            d2 = 0.0
            for d in range(X.shape[1]):
                v = X[i, d] - T[t, d]
                d2 += v * v
            if d2 <= max_dist2:
                dbuf[nc] = d2
                ibuf[nc] = i
                nc += 1
                if pos[i] >= 0:
                    n_in += 1
                    max_in = max(max_in, d2)
                else:
                    min_out = min(min_out, d2)
        # unchanged neighbourhood: the current members are exactly the k nearest (strictly closer than the rest)
        if valid and n_in == kc and (kc == k or nc == kc) and max_in < min_out:
            _rhs_solve(X, T, t, members, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step,
                       A, C0, U, y, G, Gy, MU, F0, c, u, pw, est, var, mu, work)
            continue
        if nc > k:
            _select(dbuf, ibuf, nc, k)
            kk = k
        else:
            kk = nc
        for a in range(kk):
            nb[a] = ibuf[a]
        if kk < max(p, 1):
            est[t] = np.nan
            var[t] = np.nan
            for a in range(p):
                mu[t, a] = np.nan
            continue
        # --- compare with the current factor
        for a in range(kk):
            stamp[nb[a]] = si + 1
        n_rem = 0
        for a in range(kc):
            if stamp[members[a]] != si + 1:
                n_rem += 1
        n_add = kk - (kc - n_rem)
        changed = n_rem + n_add > 0 or not valid
        refactor = changed and (not valid or jitter > 0.0 or updates >= 64 or n_rem + n_add > max(4, kk // 4))
        if changed and not refactor:
            for j in range(kc - 1, -1, -1):
                if stamp[members[j]] != si + 1:
                    _delete(U, members, pos, j, kc, col, y, G)
                    kc -= 1
            for a in range(kk):
                q = nb[a]
                if pos[q] >= 0:
                    continue
                _dist_to(X, members, 0, kc, X, q, zoff, 0, hbuf)
                _cov_fill(hbuf, gbuf, 0, kc, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
                _forward(U, hbuf, u, kc)
                dd = A
                for b in range(kc):
                    dd -= u[b] * u[b]
                if not dd > 1e-10 * A:
                    refactor = True
                    break
                dk = math.sqrt(dd)
                sm = z[q]
                for b in range(kc):
                    U[b, kc] = u[b]
                    sm -= u[b] * y[b]
                U[kc, kc] = dk
                y[kc] = sm / dk
                for j2 in range(p):
                    sm = F[q, j2]
                    for b in range(kc):
                        sm -= u[b] * G[j2, b]
                    G[j2, kc] = sm / dk
                members[kc] = q
                pos[q] = kc
                kc += 1
            updates += 1
        if refactor:
            for a in range(kc):
                pos[members[a]] = -1
            kc = kk
            # nearest first: the farthest members, the likeliest to leave next, sit at the end where
            # deleting them costs least
            near = np.argsort(dbuf[:kk])
            for a in range(kk):
                members[a] = ibuf[near[a]]
                pos[members[a]] = a
            for a in range(kk):
                C[a, a] = A
                _dist_to(X, members, a + 1, kk, X, members[a], zoff, 0, hbuf)
                _cov_fill(hbuf, gbuf, a + 1, kk, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
                for b in range(a + 1, kk):
                    C[a, b] = hbuf[b]
            jitter = 0.0
            ok = _cholesky(C, U, kk, jitter)
            if not ok:
                n_reg += 1
                jitter = 1e-10 * A
                while True:
                    ok = _cholesky(C, U, kk, jitter)
                    if ok or jitter > A:
                        break
                    jitter *= 10.0
            valid = True
            updates = 0
        if refactor:
            for a in range(kc):
                col[a] = z[members[a]]
            _forward(U, col, y, kc)
            for j in range(p):
                for a in range(kc):
                    col[a] = F[members[a], j]
                _forward(U, col, u, kc)
                for a in range(kc):
                    G[j, a] = u[a]
        if changed:
            for i in range(p):
                sm = 0.0
                for a in range(kc):
                    sm += G[i, a] * y[a]
                Gy[i] = sm
                for j in range(i, p):
                    sm = 0.0
                    for a in range(kc):
                        sm += G[i, a] * G[j, a]
                    M[i, j] = sm
            if p > 0:
                okm = _cholesky(M, MU, p, 0.0)
                jm = 1e-12 * (M[0, 0] + 1e-300)
                while not okm and jm < 1e300:
                    okm = _cholesky(M, MU, p, jm)
                    jm *= 10.0
        _rhs_solve(X, T, t, members, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step, A,
                   C0, U, y, G, Gy, MU, F0, c, u, pw, est, var, mu, work)
    return n_reg


@njit(cache=True)
def _max_candidates(cand_ptr):
    out = 1
    for g in range(cand_ptr.shape[0] - 1):
        out = max(out, cand_ptr[g + 1] - cand_ptr[g])
    return out


@njit(cache=True, parallel=True)
def solve_targets(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist, offs, wts, codes,
                  psills, ranges, params, nugget, table, table_step, A, C0, n_segments):
    """Solve the kriging system of every target, ``n_segments`` runs of targets in parallel (module docstring).

    Parameters
    ----------
    X (n, d), z (n,), F (n, p): data coordinates (isotropic space), values, drift columns.
    T (m, d), F0 (m, p): targets and their drift values (block-averaged for blocks).
    order (m,): processing order (nearby targets consecutive); tile_of (m,): tile of each target;
    cand_ptr (tiles + 1,), cand_idx: candidate samples of each tile (CSR), a superset of every target's
    ``k`` nearest; exclude (m,): a sample to leave out per target (-1: none; leave-one-out).
    k: neighbours per target; max_dist: search radius (inf: none).
    offs (q, d), wts (q,): block discretisation offsets and weights ((1, d) zeros and [1.0] for points).
    codes, psills, ranges, params, nugget, table, table_step: the variogram model.
    A: pseudo-sill (C(h) = A - gamma(h)); C0: covariance of the target with itself (block average for blocks).

    Returns
    -------
    est (m,), var (m,), mu (m, p), number of regularised systems.
    """
    m = T.shape[0]
    est = np.empty(m)
    var = np.empty(m)
    mu = np.empty((m, F.shape[1]))
    max_cand = _max_candidates(cand_ptr)
    regs = np.zeros(n_segments, np.int64)
    step = (m + n_segments - 1) // n_segments
    for g in prange(n_segments):
        start = g * step
        stop = min(m, start + step)
        if start < stop:
            regs[g] = _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k,
                                     max_dist * max_dist, offs, wts, codes, psills, 1.0 / ranges, params, nugget,
                                     table, 1.0 / table_step, A, C0, start, stop, est, var, mu, max_cand)
    return est, var, mu, regs.sum()


@njit(cache=True)
def solve_targets_serial(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist, offs, wts, codes,
                         psills, ranges, params, nugget, table, table_step, A, C0, n_segments):
    """:func:`solve_targets` in the calling thread only (no parallel region): for calls from worker threads
    (numba's workqueue threading layer refuses concurrent parallel launches) and small jobs."""
    m = T.shape[0]
    est = np.empty(m)
    var = np.empty(m)
    mu = np.empty((m, F.shape[1]))
    n_reg = _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist * max_dist,
                           offs, wts, codes, psills, 1.0 / ranges, params, nugget, table, 1.0 / table_step, A, C0, 0,
                           m, est, var, mu, _max_candidates(cand_ptr))
    return est, var, mu, n_reg
