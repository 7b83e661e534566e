"""Conditional sequential Gaussian simulation (SGS) on a voxel grid, many realisations at once.

Method (Deutsch & Journel 1998, GSLIB ``sgsim``):

1. normal-score transform of the data (:class:`NormalScore`), with tails for the back-transform;
2. each datum is assigned to the cell that holds it (the one nearest the cell centre when several share it);
   those cells keep the datum's score in every realisation, so the realisations honour the data;
3. one random path over the other cells, shared by all realisations (as gstat does), visited coarse grid
   first (multigrid: cells whose indices are multiples of 2^L before the finer ones);
4. at each cell, simple kriging (mean 0) of the normal scores from the ``n_neighbors`` nearest cells known
   before it (data cells and cells earlier on the path), found by scanning a template of cell offsets sorted by
   anisotropic distance (spiral search) within the variogram's range; the value is the kriging estimate plus
   the kriging standard deviation times a standard normal draw;
5. back-transform.

Because the path is shared, the neighbourhood of a cell depends only on the path, not on the values: the
kriging weights of a run of cells (``_RUN`` cells of the path) are computed once, then applied to the
realisations in path order (one vector operation over the realisations per neighbour). Every realisation draws
its noise from its own random stream (child ``j`` of the seed's ``SeedSequence``), so realisation ``j`` is the
same whatever the number of realisations and however they are grouped.

The runs' weights are independent tasks and the realisations chains of tasks
(:meth:`remine.core.cluster.TaskRunner.chains`): here, one chain of all realisations, each run's weights
computed with every core; on a Dask cluster, one group of realisations per worker thread, simulated on that
worker (its normal scores never leave it; each run's weights, computed once on some worker, travel to the
others), back-transformed there and, for :func:`simulate_summary`, reduced there to what the grade–tonnage report
needs (per-realisation tonnage curves, per-cell counts above the cut-offs, per-cell grade sums). Memory: ``8 × r
× m`` bytes of scores and grades where the realisations are (here: the caller; on a cluster: ``8 × m × r / N``
per worker thread, and ``(8 + 4 × cut-offs) × m`` bytes of reductions on the caller); ``24 × cells`` bytes of
path, ranks and slots plus one run's weights (``8 × _RUN × n_neighbors`` bytes) where the weights are computed.
"""
import math

import numpy as np
from numba import njit, prange

from .. import cluster
from ..errors import InputError
from ..geostat.anisotropy import as_anisotropy
from ..progress import as_progress
from .tonnage import above_counts, cell_tonnes, realisation_curves

_RUN = 1 << 15  # path cells whose kriging weights are computed together
_MAX_TEMPLATE = 60000  # offsets in the search template
_MAX_TABLE = 1 << 23  # entries of the covariance table of offset differences (64 MB)
_CODES = {"Nugget": 0, "Spherical": 1, "Exponential": 2, "Gaussian": 3}


class NormalScore:
    """Normal-score transform of data ``z`` (n,) and its back-transform with GSLIB tails.

    Scores are ``Φ⁻¹((rank − 0.5) / n)`` (ties share their mean rank). The back-transform interpolates linearly
    between the data quantiles; below the lowest datum it is linear in probability down to ``zmin`` (default 0
    for data ≥ 0), above the highest linear in probability up to ``zmax`` (default: highest datum + ¼ of the
    data range) or, with ``omega``, GSLIB's hyperbolic tail ``z = z_n · ((1 − p_n) / (1 − p))^(1/ω)`` (heavy:
    ω = 1.5 sends a 4.5σ score of 544 data 40 × beyond the highest datum).
    """

    def __init__(self, values, zmin=None, zmax=None, omega=None):
        from scipy.stats import norm, rankdata

        z = np.asarray(values, float)
        z = z[np.isfinite(z)]
        if len(z) < 2 or np.ptp(z) == 0:
            raise InputError(f"normal-score transform of {len(z)} values with range {np.ptp(z) if len(z) else 0:g}; "
                             "expected at least 2 different values")
        self.values = z
        p = (rankdata(z) - 0.5) / len(z)
        zs, idx = np.unique(z, return_index=True)
        self.z_table = zs
        self.p_table = p[idx]
        self.y_table = norm.ppf(self.p_table)
        spread = float(np.ptp(z))
        self.zmin = (0.0 if z.min() >= 0 else z.min() - spread) if zmin is None else float(zmin)
        self.zmax = z.max() + spread / 4.0 if zmax is None else float(zmax)
        self.omega = omega

    def transform(self, values):
        """Normal scores of ``values`` (interpolated between the table's values)."""
        return np.interp(np.asarray(values, float), self.z_table, self.y_table)

    def back(self, scores):
        """Values for normal ``scores`` (any shape); float32 in, float32 out."""
        from scipy.special import ndtr

        y = np.asarray(scores)
        out = np.interp(y, self.y_table, self.z_table).astype(y.dtype if y.dtype == np.float32 else float)
        lo, hi = y < self.y_table[0], y > self.y_table[-1]
        if lo.any():
            p = ndtr(y[lo].astype(float))
            out[lo] = self.zmin + (self.z_table[0] - self.zmin) * p / self.p_table[0]
        if hi.any():
            p = ndtr(y[hi].astype(float))
            zn, pn = self.z_table[-1], self.p_table[-1]
            if self.omega is not None and zn > 0:
                out[hi] = zn * ((1.0 - pn) / np.maximum(1.0 - p, 1e-300)) ** (1.0 / self.omega)
            else:
                out[hi] = zn + (self.zmax - zn) * (p - pn) / (1.0 - pn)
        return out


def _structures(model):
    """(codes, psills, ranges) arrays and the nugget of a model for the compiled covariance."""
    codes, psills, ranges = [], [], []
    for p in model.parts():
        name = type(p).__name__
        if name not in _CODES or not p.bounded:
            raise InputError(f"sequential Gaussian simulation needs a bounded model made of nugget, spherical, "
                             f"exponential or gaussian structures; got {p!r}")
        if name != "Nugget":
            codes.append(_CODES[name]), psills.append(p.psill), ranges.append(p.range_)
    return np.array(codes, np.int64), np.array(psills, float), np.array(ranges, float), float(model.nugget)


@njit(cache=True, inline="always", fastmath=True)
def _cov(h, codes, psills, ranges):
    """Covariance without the nugget at distance h > 0."""
    c = 0.0
    for i in range(codes.shape[0]):
        r = h / ranges[i]
        if codes[i] == 1:
            if r < 1.0:
                c += psills[i] * (1.0 - 1.5 * r + 0.5 * r * r * r)
        elif codes[i] == 2:
            c += psills[i] * math.exp(-r)
        elif codes[i] == 3:
            c += psills[i] * math.exp(-r * r)
    return c


def _template(grid, aniso_matrix, radius, max_offsets):
    """Cell offsets ``(t, 3)`` (layer, row, column) within ``radius`` (anisotropic distance), nearest first,
    and their vectors ``(t, 3)`` in the isotropic space."""
    lim = []
    inv = np.linalg.inv(aniso_matrix)
    # extent of the search ellipsoid along each axis: radius × norm of the rows of M⁻¹
    for axis, size in ((2, grid.dz), (1, grid.dy), (0, grid.dx)):
        lim.append(int(min(np.ceil(radius * np.linalg.norm(inv[axis]) / size), 200)))
    kk, rr, cc = np.meshgrid(*[np.arange(-n, n + 1) for n in lim], indexing="ij")
    off = np.column_stack([kk.ravel(), rr.ravel(), cc.ravel()])
    off = off[np.any(off != 0, axis=1)]
    metres = np.column_stack([off[:, 2] * grid.dx, -off[:, 1] * grid.dy, off[:, 0] * grid.dz])
    iso = metres @ aniso_matrix.T
    dist = np.sqrt((iso ** 2).sum(axis=1))
    order = np.lexsort((off[:, 2], off[:, 1], off[:, 0], dist))
    order = order[dist[order] <= radius][:max_offsets]
    return np.ascontiguousarray(off[order]), np.ascontiguousarray(iso[order])


@njit(cache=True, inline="always", fastmath=True)
def _chol_solve(C, b, k, w, L):
    """Solve C w = b (k × k, symmetric positive definite) by Cholesky into w; False if not positive definite."""
    for i in range(k):
        for j in range(i + 1):
            s = C[i, j]
            for m in range(j):
                s -= L[i, m] * L[j, m]
            if i == j:
                if not s > 0.0:
                    return False
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= L[i, m] * w[m]
        w[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):
        s = w[i]
        for m in range(i + 1, k):
            s -= L[m, i] * w[m]
        w[i] = s / L[i, i]
    return True


def _cov_table(grid, offs, aniso_matrix, model):
    """Covariance of every difference of two template offsets, ``(2Lk+1, 2Lr+1, 2Lc+1)`` with L twice the
    template's reach per axis (the sill at the centre); an empty (1, 1, 1) table when it would exceed
    ``_MAX_TABLE`` entries (the kernel then evaluates the model)."""
    lim = 2 * np.abs(offs).max(axis=0)
    if np.prod(2 * lim + 1) > _MAX_TABLE:
        return np.zeros((1, 1, 1)), lim
    kk, rr, cc = np.meshgrid(*[np.arange(-n, n + 1) for n in lim], indexing="ij")
    metres = np.stack([cc * grid.dx, -rr * grid.dy, kk * grid.dz], axis=-1)
    h = np.sqrt(((metres @ aniso_matrix.T) ** 2).sum(axis=-1))
    return np.where(h > 0, model.sill - model.gamma(h), model.sill), lim


@njit(cache=True, parallel=True, fastmath=True)
def _weights(path, rank, slot, offs, iso, k, codes, psills, ranges, nugget, table, lim, nbr, wts, sd):
    """Neighbours (slots), simple-kriging weights and standard deviations of the cells ``path`` (run).

    ``table``/``lim``: covariances of offset differences (:func:`_cov_table`); a (1, 1, 1) table means none.
    """
    nz, ny, nx = rank.shape
    sill = nugget + psills.sum()
    tabled = table.shape[0] > 1
    for q in prange(path.shape[0]):
        cell = path[q]
        c0 = cell % nx
        r0 = (cell // nx) % ny
        k0 = cell // (nx * ny)
        me = rank[k0, r0, c0]
        found = np.empty(k, np.int64)
        C = np.empty((k, k))
        L = np.empty((k, k))
        b = np.empty(k)
        w = np.empty(k)
        n = 0
        for t in range(offs.shape[0]):
            kk = k0 + offs[t, 0]
            rr = r0 + offs[t, 1]
            cc = c0 + offs[t, 2]
            if kk < 0 or kk >= nz or rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                continue
            if rank[kk, rr, cc] < me:
                found[n] = t
                n += 1
                if n == k:
                    break
        for i in range(n):
            ti = found[i]
            C[i, i] = sill
            if tabled:
                b[i] = table[offs[ti, 0] + lim[0], offs[ti, 1] + lim[1], offs[ti, 2] + lim[2]]
                for j in range(i):
                    tj = found[j]
                    C[i, j] = table[offs[ti, 0] - offs[tj, 0] + lim[0], offs[ti, 1] - offs[tj, 1] + lim[1],
                                    offs[ti, 2] - offs[tj, 2] + lim[2]]
                continue
            hi = math.sqrt(iso[ti, 0] ** 2 + iso[ti, 1] ** 2 + iso[ti, 2] ** 2)
            b[i] = _cov(hi, codes, psills, ranges)
            for j in range(i):
                tj = found[j]
                h = math.sqrt((iso[ti, 0] - iso[tj, 0]) ** 2 + (iso[ti, 1] - iso[tj, 1]) ** 2
                              + (iso[ti, 2] - iso[tj, 2]) ** 2)
                C[i, j] = _cov(h, codes, psills, ranges) if h > 0 else sill
        jitter = 0.0
        while n > 0 and not _chol_solve(C, b, n, w, L):
            jitter = 1e-10 * sill if jitter == 0.0 else jitter * 10.0
            for i in range(n):
                C[i, i] = sill + jitter
        v = sill
        for i in range(n):
            ti = found[i]
            v -= w[i] * b[i]
            nbr[q, i] = slot[k0 + offs[ti, 0], r0 + offs[ti, 1], c0 + offs[ti, 2]]
            wts[q, i] = w[i]
        for i in range(n, k):
            nbr[q, i] = -1
            wts[q, i] = 0.0
        sd[q] = math.sqrt(max(v, 0.0))


@njit(cache=True)
def _apply(targets, nbr, wts, sd, noise, y):
    """Scores of the run's cells in path order, every realisation at once:
    ``y[t, j] = Σ w · y[nbr, j] + sd · noise[j, q]`` (noise ``(r, run)``). Without fastmath: each realisation's
    arithmetic is the same whatever the number of realisations (no contraction into fused multiply-adds)."""
    r = y.shape[1]
    acc = np.empty(r, np.float32)
    for q in range(targets.shape[0]):
        for j in range(r):
            acc[j] = sd[q] * noise[j, q]
        for i in range(nbr.shape[1]):
            s = nbr[q, i]
            if s < 0:
                break
            wi = np.float32(wts[q, i])
            for j in range(r):
                acc[j] += wi * y[s, j]
        t = targets[q]
        for j in range(r):
            y[t, j] = acc[j]


@njit(cache=True, parallel=True)
def _back(y, y_table, z_table, start, out):
    """``out[j, i]`` = back-transform of ``y[i, j]`` by linear interpolation in (y_table, z_table); scores
    outside the table get NaN here (their tails are filled afterwards). ``start`` (bins,): for equal bins of
    [y_table[0], y_table[-1]], the last table index at or below the bin's lower edge."""
    m, r = y.shape
    n = y_table.shape[0]
    y0 = y_table[0]
    scale = start.shape[0] / (y_table[n - 1] - y0)
    for i in prange(m):
        for j in range(r):
            v = y[i, j]
            if not (v >= y0 and v <= y_table[n - 1]):
                out[j, i] = np.nan
                continue
            a = start[min(int((v - y0) * scale), start.shape[0] - 1)]
            while a < n - 2 and y_table[a + 1] <= v:
                a += 1
            b = a + 1
            w = (v - y_table[a]) / (y_table[b] - y_table[a]) if y_table[b] > y_table[a] else 0.0
            out[j, i] = z_table[a] + w * (z_table[b] - z_table[a])


def _multigrid_path(grid, free, rng, levels):
    """Flat indices of the ``free`` cells (nz, ny, nx): coarse levels first, random order within a level."""
    kk, rr, cc = np.nonzero(free)
    level = np.zeros(len(kk), np.int64)
    for lv in range(1, levels + 1):
        s = 1 << lv
        level[(kk % s == 0) & (rr % s == 0) & (cc % s == 0)] = lv
    flat = np.ravel_multi_index((kk, rr, cc), grid.shape)
    key = rng.permutation(len(flat))
    return flat[np.lexsort((key, -level))]


def assign_data(grid, coords, scores):
    """Data to cells: per active cell holding data, the score of the datum nearest the cell centre.

    Returns (flat cell indices (d,), scores (d,), index of the datum used (d,), number of data not used).
    """
    k, r, c = grid.cell_of(coords)
    inside = k >= 0
    inside[inside] = grid.active[k[inside], r[inside], c[inside]]
    idx = np.flatnonzero(inside)
    flat = np.ravel_multi_index((k[idx], r[idx], c[idx]), grid.shape)
    centre = np.column_stack([grid.x0 + (c[idx] + 0.5) * grid.dx, grid.y0 - (r[idx] + 0.5) * grid.dy,
                              grid.z0 + (k[idx] + 0.5) * grid.dz])
    d2 = ((np.asarray(coords, float)[idx] - centre) ** 2).sum(axis=1)
    order = np.lexsort((d2, flat))
    first = np.r_[True, flat[order][1:] != flat[order][:-1]]
    use = order[first]
    return flat[use], np.asarray(scores, float)[idx[use]], idx[use], len(coords) - len(use)


def _run_weights(shared, start, end, progress=None):
    """Target slots ``(q,)`` int32, neighbour slots ``(q, k)`` int32 (−1: none), simple-kriging weights
    ``(q, k)`` float32 (as applied) and standard deviations ``(q,)`` of the path cells ``start:end``;
    ``shared[0]`` = (path, rank, slot, template offsets and vectors, k, model arrays, covariance table and its
    reach)."""
    path, rank, slot, offs, iso, k, codes, psills, ranges, nugget, table, lim = shared[0]
    run = path[start:end]
    nbr, wts, sd = np.empty((len(run), k), np.int64), np.empty((len(run), k)), np.empty(len(run))
    _weights(run, rank, slot, offs, iso, k, codes, psills, ranges, nugget, table, lim, nbr, wts, sd)
    return slot.ravel()[run].astype(np.int32), nbr.astype(np.int32), wts.astype(np.float32), sd


def _start(m, data_slots, data_scores, entropy, first, stop):
    """State of the realisations ``first:stop``: their normal scores ``(m, r)`` float32, the data's set, and
    their random streams (realisation ``j`` draws from child ``j`` of the seed's ``SeedSequence``)."""
    y = np.empty((m, stop - first), np.float32)
    y[data_slots] = data_scores[:, None].astype(np.float32)
    return y, [np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(j,))) for j in range(first, stop)]


def _step(state, weights):
    """Simulate one run of the path (:func:`_run_weights`) in every realisation of ``state``, in place."""
    y, streams = state
    targets, nbr, wts, sd = weights
    noise = np.empty((len(streams), len(targets)), np.float32)
    for j, stream in enumerate(streams):
        stream.standard_normal(out=noise[j], dtype=np.float32)
    _apply(targets, nbr, wts, sd, noise, y)
    return state


def _grades(shared, state):
    """Back-transformed grades ``(r, m)`` float32 of the realisations of ``state`` (``shared[1][0]``: the
    NormalScore)."""
    ns, y = shared[1][0], state[0]
    reals = np.empty((y.shape[1], y.shape[0]), np.float32)
    edges = np.linspace(ns.y_table[0], ns.y_table[-1], 4 * len(ns.y_table) + 1)[:-1]
    start = np.maximum(np.searchsorted(ns.y_table, edges, side="right") - 1, 0)
    _back(y, ns.y_table, ns.z_table.astype(np.float64), start, reals)
    tails = np.isnan(reals)
    reals[tails] = ns.back(y.T[tails])
    return reals


def _reduce(shared, state):
    """A group's grades ``(r, m)`` float32, their :func:`realisation_curves` ``(r, 2, cutoffs)`` and
    :func:`above_counts` ``(cutoffs, m)`` (``shared[1]`` = (NormalScore, cell tonnes (m,), cut-offs))."""
    _, tonnes, cut = shared[1]
    grades = _grades(shared, state)
    return grades, realisation_curves(tonnes, grades, cut), above_counts(grades, cut)


def _fold(acc, group):
    """Adds a group's :func:`_reduce` to ``acc`` = (grade sums (m,) float64, curves (r, 2, cutoffs), counts
    (cutoffs, m)) or None, realisation after realisation: the sums are the same for any grouping."""
    grades, curves, counts = group
    if acc is None:
        acc = (np.zeros(grades.shape[1]), curves[:0], np.zeros_like(counts))
    total, all_curves, all_counts = acc
    for g in grades:
        total += g
    all_counts += counts
    return total, np.concatenate([all_curves, curves]), all_counts


class _Setup:
    """What a simulation needs before its first run: normal scores, data cells, path, template, shared
    arguments of the weights tasks (see :func:`simulate` for the parameters)."""

    def __init__(self, grid, coords, values, model, anisotropy, n_realisations, n_neighbors, seed, levels, transform):
        if n_realisations < 1 or n_neighbors < 1:
            raise InputError(f"n_realisations={n_realisations}, n_neighbors={n_neighbors}; expected >= 1")
        self.ns = ns = transform or NormalScore(values)
        codes, psills, ranges, nugget = _structures(model)
        aniso = as_anisotropy(anisotropy)
        M = aniso.matrix(3) if aniso is not None else np.eye(3)
        offs, iso = _template(grid, M, model.practical_range(), _MAX_TEMPLATE)
        table, lim = _cov_table(grid, offs, M, model)
        root = np.random.SeedSequence(seed)
        act = grid.active
        slot = np.full(grid.shape, -1, np.int64)
        self.m = int(act.sum())
        slot[act] = np.arange(self.m)
        self.d_flat, d_score, self.d_index, self.unused = assign_data(grid, coords, ns.transform(values))
        free = act.copy()
        free.ravel()[self.d_flat] = False
        self.path = path = _multigrid_path(grid, free, np.random.default_rng(root), levels)
        rank = np.full(grid.shape, np.iinfo(np.int64).max, np.int64)
        rank.ravel()[self.d_flat] = -1
        rank.ravel()[path] = np.arange(len(path))
        self.runs = [(s, min(s + _RUN, len(path))) for s in range(0, len(path), _RUN)]
        self.kernel = (path, rank, slot, offs, iso, n_neighbors, codes, psills, ranges, nugget, table, lim)
        self.n = n_realisations
        self.start = (self.m, slot.ravel()[self.d_flat], d_score, root.entropy)
        self.weights_bytes = 24 * grid.fraction.size + table.nbytes + 24 * _RUN * n_neighbors

    def groups(self, threads):
        """``(init, args)`` of the chains: the realisations cut into ``min(r, threads)`` contiguous groups."""
        g = min(self.n, threads)
        cuts = [self.n * i // g for i in range(g + 1)]
        return [(_start, self.start + (a, b)) for a, b in zip(cuts[:-1], cuts[1:])]

    def run(self, runner, finish, fold, extra, progress, per_realisation, per_group=0):
        """The chains of ``runner`` (:meth:`remine.core.cluster.TaskRunner.chains`) over the path's runs;
        ``extra``: ``shared[1]`` of ``finish``; ``per_realisation``, ``per_group``: bytes of a chain's state and
        results on a worker per realisation and per chain."""
        inits = self.groups(runner.threads)
        largest = max(b - a for a, b in (args[-2:] for _, args in inits))
        done = runner.chains(
            _run_weights, (self.kernel, extra), self.runs, inits, _step, finish, progress, fold=fold,
            after=lambda k: progress.report(0.9 * self.runs[k][1] / max(len(self.path), 1),
                                            f"block {k + 1}/{len(self.runs)} of the path (simulating)"),
            task=f"a group of {largest} realisations of this simulation with a run of its path ({_RUN:,} cells)",
            task_bytes=self.weights_bytes + largest * (per_realisation + 4 * _RUN) + per_group,
            budget="the voxel count (voxel size and height) or the realisations per worker thread",
            describe=lambda r: f"the kriging weights of path cells {r[0]}-{r[1] - 1}")
        progress.report(1.0)
        return done

    def result(self, **values):
        return {**values, "data_cells": self.d_flat, "data_index": self.d_index, "unused_data": self.unused,
                "transform": self.ns}


def simulate(grid, coords, values, model, anisotropy=None, n_realisations=50, n_neighbors=32, seed=0,
             levels=3, transform=None, progress=None, scheduler=None):
    """Conditional SGS realisations of a grade on the active cells of ``grid``, here or on the Dask cluster of
    ``scheduler`` (see :func:`remine.core.cluster.scheduler_address`), with the same values.

    Parameters
    ----------
    grid : VoxelGrid. coords : ndarray (n, 3) metres. values : ndarray (n,) grades.
    model : VariogramModel of the normal scores (sill ≈ 1; nugget + spherical/exponential/gaussian), range_ the
        horizontal range when ``anisotropy`` is given. anisotropy : Anisotropy or gstat (p, q, r, s, t).
    n_realisations : int. n_neighbors : int – known cells (data + simulated) per kriging system.
    seed : int – same seed, same realisations (realisation j is the same for any ``n_realisations`` > j).
    levels : int – multigrid levels (0: plain random path).
    transform : NormalScore, optional (default: of ``values``).
    progress : Progress, optional (Cancel). scheduler : str, optional – Dask scheduler address ("": here).

    Returns
    -------
    dict: ``realisations`` (r, m) float32 grades of the active cells (``grid.full`` spreads them),
    ``data_cells`` (flat indices of the cells holding data), ``data_index`` (the datum each holds),
    ``unused_data`` (data sharing a cell with a nearer one), ``transform`` (NormalScore).
    On a cluster the realisations come back to the caller: :func:`simulate_summary` keeps them on the workers.
    """
    progress = as_progress(progress)
    setup = _Setup(grid, coords, values, model, anisotropy, n_realisations, n_neighbors, seed, levels, transform)
    with cluster.tasks(scheduler) as runner:
        groups = setup.run(runner, _grades, None, (setup.ns,), progress, 8 * setup.m)
    return setup.result(realisations=groups[0] if len(groups) == 1 else np.concatenate(groups))


def simulate_summary(grid, coords, values, model, anisotropy=None, cutoffs=(), density=1.0, n_realisations=50,
                     n_neighbors=32, seed=0, levels=3, transform=None, progress=None, scheduler=None):
    """What the grade–tonnage report needs of the :func:`simulate` realisations, reduced where they are
    simulated (on a cluster: on the workers, group by group), so that the caller never holds them.

    Parameters: as :func:`simulate`, plus ``cutoffs`` (grades) and ``density`` (t/m³, a number or (nz, ny, nx)).

    Returns
    -------
    dict: ``curves`` (r, 2, cutoffs) float64 – tonnes and tonne-weighted grade sums above each sorted unique
    cut-off, per realisation (``grade_tonnage(..., curves=)``); ``above`` (cutoffs, m) int32 – realisations
    with grade ≥ each cut-off per active cell (:func:`~remine.core.volume.tonnage.probability_from_counts`);
    ``mean`` (m,) float32 – the mean grade of the realisations per cell (float64 sums, realisation after
    realisation); ``cutoffs``; and ``data_cells``, ``data_index``, ``unused_data``, ``transform`` as
    :func:`simulate`. The same values here and on any cluster.
    """
    progress = as_progress(progress)
    cut = np.unique(np.asarray(cutoffs, float).ravel())
    setup = _Setup(grid, coords, values, model, anisotropy, n_realisations, n_neighbors, seed, levels, transform)
    extra = (setup.ns, cell_tonnes(grid, density), cut)
    with cluster.tasks(scheduler) as runner:
        total, curves, above = setup.run(runner, _reduce, (_fold, None), extra, progress, 8 * setup.m,
                                         (8 + 8 * len(cut)) * setup.m)
    return setup.result(curves=curves, above=above, mean=(total / n_realisations).astype(np.float32), cutoffs=cut)
