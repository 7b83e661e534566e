"""Compiled kriging kernel (numba): many small kriging systems solved one after another.

For every target ``t`` the ``k`` nearest samples ``S_t`` are picked from its tile's candidate list and the system
``C λ + F μ = c``, ``Fᵀ λ = f₀`` (covariance form; ``C`` the covariance among neighbours, ``c`` between
neighbours and target, ``F`` drift functions at the neighbours, ``f₀`` at the target) is solved through the
inverse ``W = C⁻¹``, kept with ``b = Wz`` and ``B = WF`` (updated with it):

    M = FᵀB,  r = Bᵀc − f₀,  μ = M⁻¹r
    estimate = cᵀb − μᵀ(Fᵀb),  variance = C(0) − cᵀWc + rᵀμ

so that a target costs one matrix-vector product (no triangular solve, whose row-by-row dependence is slow at
these sizes). ``F`` = 1 gives ordinary kriging, no drift (p = 0) simple kriging (on values minus the mean),
columns of coordinates universal kriging, external rasters kriging with external drift.

Neighbours: the distances to the tile's candidates (coordinates stored axis by axis, contiguous) are computed
at once; only candidates not farther than the farthest current neighbour can be among the k nearest, and
those few are selected (ties: the smaller sample index).
Targets are visited in spatial order and ``W`` follows the neighbour set: a sample that leaves is removed
(``W₁₁ − w wᵀ/ω``, O(k²)) and the last neighbour moved into its slot; a sample that enters is added by
bordering (``W + v vᵀ/s``, ``s`` the Schur complement, O(k²)). ``W`` is recomputed from the Cholesky factor of
``C`` after 64 updates, when most neighbours change, or when ``s`` is tiny. A global neighbourhood is thus
inverted once. The targets are cut into runs of ``SEGMENT_TARGETS`` (the last one shorter), each started from a
fresh neighbour set, solved in parallel or one after another: the values do not depend on the number of threads
(a Dask worker thread gets the same bits as the main thread with both cores). Block kriging averages ``c``
over the block's discretisation points. A system that is not positive definite (collinear or clustered points,
zero nugget) is regularised by adding a small multiple of ``C(0)`` to the diagonal until the factorisation
succeeds; the number of such systems is returned.
"""
import math

import numpy as np
from numba import njit, prange

from .structures import EXPONENTIAL, GAUSSIAN, POWER, SPHERICAL, TABULATED

_FM = {"nsz", "arcp", "contract", "reassoc"}  # fast maths without assuming finite values
_REFRESH = 64  # updates of W before it is recomputed from scratch
SEGMENT_TARGETS = 8192  # targets per run of the kernel (one fresh neighbour set each)


@njit(cache=True, inline="always", fastmath=_FM)
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


@njit(cache=True, inline="always", fastmath=_FM)
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
        d = 1.0 / math.sqrt(dii)
        for m in range(np.uint64(i), np.uint64(k)):
            U[i, m] *= d
        for r in range(i + 1, k):
            f = U[i, r]
            for m in range(np.uint64(r), np.uint64(k)):
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
def _dist_members(MX, kc, P, p, off, q, h):
    """h[a] = |MX[:, a] - (P[p] + off[q])| for the ``kc`` neighbours (coordinates ``MX`` (d, k), by axis)."""
    for a in range(kc):
        h[a] = 0.0
    for d in range(MX.shape[0]):
        pd = P[p, d] + off[q, d]
        for a in range(kc):
            v = MX[d, a] - pd
            h[a] += v * v
    for a in range(kc):
        h[a] = math.sqrt(h[a])


@njit(cache=True, inline="always", fastmath=_FM)
def _matvec(W, b, w, kc):
    """w = W[:kc, :kc] b for a symmetric W (sums of contiguous rows)."""
    for a in range(kc):
        w[a] = 0.0
    for m in range(kc):
        bm = b[m]
        for a in range(kc):
            w[a] += W[m, a] * bm


@njit(cache=True, inline="always", fastmath=_FM)
def _remove(W, kc, j, col, members, pos, MX, zm, Fm, bz, BF):
    """Remove neighbour ``j`` from the inverse ``W`` of ``kc`` neighbours, O(kc²); the last one takes its slot.

    Inverse of C without row and column j: ``W₋ⱼ₋ⱼ − wⱼ wⱼᵀ / W[j, j]`` (``wⱼ`` column j of W); likewise
    ``b = Wz`` becomes ``b₋ⱼ − wⱼ bⱼ / W[j, j]`` and so do the rows of ``B = WF``.
    """
    f = 1.0 / W[j, j]
    for a in range(kc):
        col[a] = W[j, a]
    for r in range(kc):
        fr = col[r] * f
        for m in range(kc):
            W[r, m] -= fr * col[m]
    tb = bz[j] * f
    for a in range(kc):
        bz[a] -= col[a] * tb
    for i in range(BF.shape[0]):
        tb = BF[i, j] * f
        for a in range(kc):
            BF[i, a] -= col[a] * tb
    pos[members[j]] = -1
    last = kc - 1
    if j != last:
        for a in range(kc):
            W[j, a] = W[last, a]
        for a in range(kc):
            W[a, j] = W[a, last]
        members[j] = members[last]
        pos[members[j]] = j
        for d in range(MX.shape[0]):
            MX[d, j] = MX[d, last]
        zm[j] = zm[last]
        bz[j] = bz[last]
        for i in range(Fm.shape[0]):
            Fm[i, j] = Fm[i, last]
            BF[i, j] = BF[i, last]


@njit(cache=True, inline="always", fastmath=_FM)
def _invert(C, U, W, kk, A):
    """W = C[:kk, :kk]⁻¹ through the Cholesky factor (C = UᵀU, U⁻ᵀ built in C's storage, W = U⁻¹U⁻ᵀ), with the
    smallest diagonal addition ``jitter`` (0, then 1e-10·A, ×10 …) that makes C positive definite.

    Returns the jitter used."""
    jitter = 0.0
    ok = _cholesky(C, U, kk, jitter)
    if not ok:
        jitter = 1e-10 * A
        while True:
            ok = _cholesky(C, U, kk, jitter)
            if ok or jitter > A:
                break
            jitter *= 10.0
    # row b of C <- column b of U⁻ᵀ (Uᵀx = e_b by forward substitution along rows of U); then
    # W = (U⁻ᵀ)ᵀU⁻ᵀ, dot products of rows of C. Unsigned indices: contiguous loads, no wrap-around tests.
    for b in range(kk):
        for m in range(kk):
            C[b, m] = 0.0
        C[b, b] = 1.0
        for i in range(b, kk):
            xi = C[b, i] / U[i, i]
            C[b, i] = xi
            for m in range(np.uint64(i + 1), np.uint64(kk)):
                C[b, m] -= U[i, m] * xi
    for a in range(kk):
        for b in range(a, kk):
            sm = 0.0
            for m in range(np.uint64(b), np.uint64(kk)):
                sm += C[a, m] * C[b, m]
            W[a, b] = sm
            W[b, a] = sm
    return jitter


@njit(cache=True, inline="always")
def _select(dbuf, ibuf, nc, k):
    """Move the k smallest of dbuf[:nc] (with their ibuf) to the front (quickselect, O(nc)).

    Ties in distance are broken by the smaller sample index, so the neighbourhood of a target does not depend
    on how targets are grouped into blocks or chunks.
    """
    if nc - k <= 4:  # a few too many (the usual case): drop the farthest, one at a time
        for r in range(nc - k):
            n = nc - r
            j = 0
            for a in range(1, n):
                if dbuf[a] > dbuf[j] or (dbuf[a] == dbuf[j] and ibuf[a] > ibuf[j]):
                    j = a
            dbuf[j], ibuf[j] = dbuf[n - 1], ibuf[n - 1]
        return
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
def _rhs_solve(MX, T, t, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step, A, C0,
               W, bz, BF, Fb, MU, F0, c, w, r_, x_, s_, est, var, mu, gbuf):
    """Right-hand side of target t and, with the current inverse, estimate, variance and multipliers.

    ``r_``, ``x_``, ``s_`` (p,) and ``gbuf`` (k,) are scratch."""
    p = BF.shape[0]
    # --- right-hand side for this target (block average over the discretisation points)
    if offs.shape[0] == 1:
        _dist_members(MX, kc, T, t, offs, 0, c)
        _cov_fill(c, gbuf, 0, kc, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
    else:
        for a in range(kc):
            c[a] = 0.0
        for q in range(offs.shape[0]):
            _dist_members(MX, kc, T, t, offs, q, w)
            _cov_fill(w, gbuf, 0, kc, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
            for a in range(kc):
                c[a] += wts[q] * w[a]
    _matvec(W, c, w, kc)
    e = 0.0
    cwc = 0.0
    for a in range(kc):
        e += c[a] * bz[a]
        cwc += c[a] * w[a]
    v = C0 - cwc
    if p > 0:
        for i in range(p):
            sm = -F0[t, i]
            for a in range(kc):
                sm += BF[i, a] * c[a]
            r_[i] = sm
        # mu = M⁻¹ r = MU⁻¹ MU⁻ᵀ r
        _forward(MU, r_, x_, p)
        for i in range(p - 1, -1, -1):
            sm = x_[i]
            for m in range(i + 1, p):
                sm -= MU[i, m] * s_[m]
            s_[i] = sm / MU[i, i]
        for i in range(p):
            e -= s_[i] * Fb[i]
            v += r_[i] * s_[i]
            mu[t, i] = s_[i]
    est[t] = e
    var[t] = v


@njit(cache=True, fastmath=_FM)
def _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, CX, exclude, k, max_dist2, offs, wts, codes,
                   psills, inv_ranges, params, nugget, table, inv_step, A, C0, start, stop, est, var, mu, max_cand):
    """Krige targets ``order[start:stop]``: per target, its k nearest candidates, the kriging system (updated
    from the previous target's where the neighbours overlap), estimate, variance and Lagrange multipliers into
    ``est``, ``var``, ``mu``; returns the number of regularised systems. One compiled function on purpose:
    the scratch matrices live for the whole loop over targets, and numba passes arrays between functions
    without inlining them."""
    n = X.shape[0]
    nd = X.shape[1]
    p = F.shape[1]
    C = np.empty((k, k))
    U = np.empty((k, k))
    W = np.empty((k, k))
    MX = np.empty((nd, k))
    zm = np.empty(k)
    Fm = np.empty((p, k))
    bz = np.empty(k)
    BF = np.empty((p, k))
    M = np.empty((p, p))
    MU = np.empty((p, p))
    Fb = np.empty(p)
    c = np.empty(k)
    w = np.empty(k)
    col = np.empty(k)
    gbuf = np.empty(k)
    r_ = np.empty(p)
    x_ = np.empty(p)
    s_ = np.empty(p)
    members = np.empty(k, np.int64)
    nb = np.empty(k, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    dbuf = np.empty(max_cand)
    ibuf = np.empty(max_cand, np.int64)
    dtmp = np.empty(max_cand)
    zero = np.zeros((1, nd))
    pt = np.empty((1, nd))
    return _segment_loop(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, CX, exclude, k, max_dist2, offs, wts,
                         codes, psills, inv_ranges, params, nugget, table, inv_step, A, C0, start, stop, est, var,
                         mu, C, U, W, MX, zm, Fm, bz, BF, M, MU, Fb, c, w, col, gbuf, r_, x_, s_, members, nb, pos,
                         stamp, dbuf, ibuf, dtmp, zero, pt)


@njit(cache=True, fastmath=_FM, _nrt=False)
def _segment_loop(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, CX, exclude, k, max_dist2, offs, wts, codes,
                  psills, inv_ranges, params, nugget, table, inv_step, A, C0, start, stop, est, var, mu, C, U, W,
                  MX, zm, Fm, bz, BF, M, MU, Fb, c, w, col, gbuf, r_, x_, s_, members, nb, pos, stamp, dbuf, ibuf,
                  dtmp, zero, pt):
    """The loop of :func:`_solve_segment` over its targets, on its scratch arrays; compiled without
    reference counting (the helpers inlined in the loop would otherwise count every array they are
    given, an atomic operation each time)."""
    nd = X.shape[1]
    p = F.shape[1]
    kc = 0
    valid = False
    jitter = 0.0
    updates = 0
    n_reg = 0
    for si in range(start, stop):
        t = order[si]
        g = tile_of[t]
        # --- the k nearest candidates (within max_dist), leaving out exclude[t]. With k current neighbours (none
        # of them left out) the k nearest are no farther than the farthest of them: only candidates within that
        # distance (plus a rounding margin) are kept for the selection.
        ex = exclude[t]
        thr = max_dist2
        if valid and kc == k and (ex < 0 or pos[ex] < 0):
            for a in range(kc):
                w[a] = 0.0
            for d in range(nd):
                td = T[t, d]
                for a in range(kc):
                    v = MX[d, a] - td
                    w[a] += v * v
            far = 0.0
            for a in range(kc):
                far = max(far, w[a])
            thr = min(thr, far * (1.0 + 1e-9))
        c0, c1 = cand_ptr[g], cand_ptr[g + 1]
        for a in range(c1 - c0):
            dtmp[a] = 0.0
        for d in range(nd):
            td = T[t, d]
            for a in range(c1 - c0):
                v = CX[d, np.uint64(c0 + a)] - td  # unsigned: no wrap-around test, contiguous loads
                dtmp[a] += v * v
        nc = 0
        for a in range(c1 - c0):  # branch-free compaction
            i = cand_idx[c0 + a]
            dbuf[nc] = dtmp[a]
            ibuf[nc] = i
            nc += np.int64(dtmp[a] <= thr) & np.int64(i != ex)
        if nc > k:
            _select(dbuf, ibuf, nc, k)
            kk = k
        else:
            kk = nc
        # unchanged neighbourhood: the k nearest are the current neighbours. A left-out sample (leave-one-out)
        # takes the full path below, where b = Wz is rebuilt from the current neighbours' values: the running
        # updates of b would carry the rounding of the left-out value if it was once a neighbour.
        same = valid and kk == kc and ex < 0
        for a in range(kk):
            same = same and pos[ibuf[a]] >= 0
        if same:
            _rhs_solve(MX, T, t, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step, A, C0,
                       W, bz, BF, Fb, MU, F0, c, w, r_, x_, s_, est, var, mu, gbuf)
            continue
        for a in range(kk):
            nb[a] = ibuf[a]
        if kk < max(p, 1):
            est[t] = np.nan
            var[t] = np.nan
            for a in range(p):
                mu[t, a] = np.nan
            continue
        # --- compare with the current neighbours
        for a in range(kk):
            stamp[nb[a]] = si + 1
        n_rem = 0
        for a in range(kc):
            if stamp[members[a]] != si + 1:
                n_rem += 1
        n_add = kk - (kc - n_rem)
        refactor = not valid or jitter > 0.0 or updates >= _REFRESH or n_rem + n_add > kk
        if not refactor:
            for j in range(kc - 1, -1, -1):
                if stamp[members[j]] != si + 1:
                    _remove(W, kc, j, col, members, pos, MX, zm, Fm, bz, BF)
                    kc -= 1
            for a in range(kk):
                q = nb[a]
                if pos[q] >= 0:
                    continue
                # bordering: W' = [[W + v vᵀ/s, -v/s], [-vᵀ/s, 1/s]], v = W c_q, s = C(0) - c_qᵀ v
                _dist_members(MX, kc, X, q, zero, 0, c)
                _cov_fill(c, gbuf, 0, kc, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
                _matvec(W, c, w, kc)
                sch = A
                for b in range(kc):
                    sch -= c[b] * w[b]
                if not sch > 1e-10 * A:
                    refactor = True
                    break
                f = 1.0 / sch
                for r in range(kc):
                    fr = w[r] * f
                    for m in range(kc):
                        W[r, m] += fr * w[m]
                # b' = [b - v t, t], t = (z_q - vᵀz) / s; the same for the rows of B
                sm = z[q]
                for b in range(kc):
                    sm -= w[b] * zm[b]
                tb = sm * f
                for b in range(kc):
                    bz[b] -= w[b] * tb
                bz[kc] = tb
                for i in range(p):
                    sm = F[q, i]
                    for b in range(kc):
                        sm -= w[b] * Fm[i, b]
                    tb = sm * f
                    for b in range(kc):
                        BF[i, b] -= w[b] * tb
                    BF[i, kc] = tb
                for b in range(kc):
                    W[kc, b] = -w[b] * f
                    W[b, kc] = -w[b] * f
                W[kc, kc] = f
                members[kc] = q
                pos[q] = kc
                for d in range(nd):
                    MX[d, kc] = X[q, d]
                zm[kc] = z[q]
                for i in range(p):
                    Fm[i, kc] = F[q, i]
                kc += 1
            updates += 1
        if refactor:
            for a in range(kc):
                pos[members[a]] = -1
            kc = kk
            for a in range(kk):
                q = nb[a]
                members[a] = q
                pos[q] = a
                for d in range(nd):
                    MX[d, a] = X[q, d]
                zm[a] = z[q]
                for i in range(p):
                    Fm[i, a] = F[q, i]
            for a in range(kk):
                for d in range(nd):
                    pt[0, d] = MX[d, a]
                _dist_members(MX, kk, pt, 0, zero, 0, c)
                _cov_fill(c, gbuf, 0, kk, codes, psills, inv_ranges, params, nugget, table, inv_step, A)
                for b in range(kk):
                    C[a, b] = c[b]
                C[a, a] = A
            jitter = _invert(C, U, W, kk, A)
            if jitter > 0.0:
                n_reg += 1
            valid = True
            updates = 0
        # --- b = W z (after a new inverse, and for a left-out sample), B = W F (after a new inverse), M = Fᵀ B
        # (factored), Fᵀ b
        if refactor or ex >= 0:
            _matvec(W, zm, bz, kc)
        if refactor:
            for i in range(p):
                for a in range(kc):
                    col[a] = Fm[i, a]
                _matvec(W, col, w, kc)
                for a in range(kc):
                    BF[i, a] = w[a]
        for i in range(p):
            sm = 0.0
            for a in range(kc):
                sm += Fm[i, a] * bz[a]
            Fb[i] = sm
            for j in range(i, p):
                sm = 0.0
                for a in range(kc):
                    sm += Fm[i, a] * BF[j, a]
                M[i, j] = sm
        if p > 0:
            okm = _cholesky(M, MU, p, 0.0)
            jm = 1e-12 * (M[0, 0] + 1e-300)
            while not okm and jm < 1e300:
                okm = _cholesky(M, MU, p, jm)
                jm *= 10.0
        _rhs_solve(MX, T, t, kc, offs, wts, codes, psills, inv_ranges, params, nugget, table, inv_step, A, C0,
                   W, bz, BF, Fb, MU, F0, c, w, r_, x_, s_, est, var, mu, gbuf)
    return n_reg


@njit(cache=True)
def _max_candidates(cand_ptr):
    out = 1
    for g in range(cand_ptr.shape[0] - 1):
        out = max(out, cand_ptr[g + 1] - cand_ptr[g])
    return out


@njit(cache=True)
def _candidate_coords(X, cand_idx):
    """Coordinates (d, len(cand_idx)) of the candidates, axis by axis: each tile's distances in contiguous loops."""
    CX = np.empty((X.shape[1], cand_idx.shape[0]))
    for a in range(cand_idx.shape[0]):
        for d in range(X.shape[1]):
            CX[d, a] = X[cand_idx[a], d]
    return CX


@njit(cache=True, parallel=True)
def solve_targets(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist, offs, wts, codes,
                  psills, ranges, params, nugget, table, table_step, A, C0):
    """Solve the kriging system of every target, runs of ``SEGMENT_TARGETS`` targets in parallel (module docstring).

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
    CX = _candidate_coords(X, cand_idx)
    n_segments = (m + SEGMENT_TARGETS - 1) // SEGMENT_TARGETS
    regs = np.zeros(n_segments, np.int64)
    for g in prange(n_segments):
        start = g * SEGMENT_TARGETS
        regs[g] = _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, CX, exclude, k,
                                 max_dist * max_dist, offs, wts, codes, psills, 1.0 / ranges, params, nugget,
                                 table, 1.0 / table_step, A, C0, start, min(m, start + SEGMENT_TARGETS), est, var,
                                 mu, max_cand)
    return est, var, mu, regs.sum()


@njit(cache=True)
def solve_targets_serial(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, exclude, k, max_dist, offs, wts, codes,
                         psills, ranges, params, nugget, table, table_step, A, C0):
    """:func:`solve_targets` in the calling thread only (no parallel region), the same runs one after another,
    the same values: for calls from worker threads (numba's workqueue threading layer refuses concurrent
    parallel launches) and small jobs."""
    m = T.shape[0]
    est = np.empty(m)
    var = np.empty(m)
    mu = np.empty((m, F.shape[1]))
    CX = _candidate_coords(X, cand_idx)
    max_cand = _max_candidates(cand_ptr)
    n_reg = 0
    for start in range(0, m, SEGMENT_TARGETS):
        n_reg += _solve_segment(X, z, F, T, F0, order, tile_of, cand_ptr, cand_idx, CX, exclude, k,
                                max_dist * max_dist, offs, wts, codes, psills, 1.0 / ranges, params, nugget, table,
                                1.0 / table_step, A, C0, start, min(m, start + SEGMENT_TARGETS), est, var, mu,
                                max_cand)
    return est, var, mu, n_reg
