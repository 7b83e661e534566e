"""Kriging estimators (scikit-learn style): ordinary, simple, universal, external drift; point or block; 2D/3D.

``OrdinaryKriging(model, n_neighbors=32).fit(coords, values).predict(targets)`` returns the estimate and
the kriging variance. Neighbourhoods: the ``n_neighbors`` nearest samples found with a KD-tree (in the
anisotropy-corrected space), optionally limited to ``max_dist``; ``n_neighbors=None`` uses every sample
(global neighbourhood, factorised once). All systems are solved by the compiled kernel in
:mod:`._kernel`, target chunk by target chunk, so memory stays O(chunk × n_neighbors).

Conventions are gstat's: the variance is the kriging (estimation-error) variance, a target that
coincides with a sample returns the sample value and variance 0, block kriging discretises a block with
4 × 4 (× 4) Gauss–Legendre points.
"""
import itertools
import threading
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import InputError, RemineWarning
from ..points import check_projected
from ..resources import available_memory, human_bytes
from ._inputs import as_coords, prepare_points
from ._kernel import SEGMENT_TARGETS, solve_targets, solve_targets_serial
from .anisotropy import as_anisotropy
from .models import VariogramModel, pseudo_sill, with_params
from .structures import NOT_COMPILED, POWER, RANGED, TABULATED

_CHUNK_ELEMENTS = 2 ** 21  # neighbour indices held at once (chunk of targets × n_neighbors)
_TABLE_SIZE = 2 ** 20

# Gauss–Legendre nodes and weights on [-1, 1] (gstat's default block discretisation uses 4 per axis)
_GL4 = (np.array([-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526]),
        np.array([0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538]))


def _model_arrays(model, hmax):
    """The model as flat arrays for the kernel; structures without a closed form are tabulated on [0, hmax]."""
    if not isinstance(model, VariogramModel):
        raise InputError(f"model {model!r} is not a variogram model; expected e.g. Spherical(psill, range_, nugget)")
    codes, psills, ranges, params, tabulated = [], [], [], [], []
    for p in model.parts():
        if p.CODE in RANGED:
            if not p.range_ > 0:
                raise InputError(f"{p!r}: range_ must be > 0 (coordinate units)")
            codes.append(p.CODE), psills.append(p.psill), ranges.append(p.range_), params.append(0.0)
        elif p.CODE == POWER:
            codes.append(POWER), psills.append(p.psill), ranges.append(1.0), params.append(p.exponent)
        elif p.CODE == NOT_COMPILED:
            tabulated.append(with_params(p, nugget=0.0))
        if p.nugget < 0 or getattr(p, "psill", 0.0) < 0:
            raise InputError(f"{p!r}: sills and nugget must be >= 0")
    step = hmax / (_TABLE_SIZE - 1)
    table = np.zeros(1)
    if tabulated:
        h = np.arange(_TABLE_SIZE) * step
        table = sum(p.gamma(h) for p in tabulated)
        codes.append(TABULATED), psills.append(1.0), ranges.append(1.0), params.append(0.0)
    return (np.array(codes, np.int64), np.array(psills, float), np.array(ranges, float), np.array(params, float),
            float(model.nugget), table, step)


def block_discretisation(block_size, ndim, n=4):
    """Offsets ``(q, ndim)`` from the block centre and weights ``(q,)`` of an n^ndim Gauss–Legendre rule."""
    size = np.broadcast_to(np.asarray(block_size, float), (ndim,))
    if np.any(size <= 0):
        raise InputError(f"block_size {block_size} must be > 0 (coordinate units)")
    if n == 4:
        nodes, weights = _GL4
    else:
        nodes, weights = np.polynomial.legendre.leggauss(n)
    grids = np.meshgrid(*[nodes * s / 2.0 for s in size], indexing="ij")
    wgrids = np.meshgrid(*[weights / 2.0 for _ in size], indexing="ij")
    return np.column_stack([g.ravel() for g in grids]), np.prod([w.ravel() for w in wgrids], axis=0)


def _spatial_order(T, size):
    """Visit order of targets: tiles of side ``size`` in boustrophedon order, and within a tile stripes one
    target spacing high (a grid row) in boustrophedon order (and, for 3D grids, the columns of targets at one
    (x, y) alternately upwards and downwards), so that consecutive targets are close.
    Returns ``(order, tile key)``."""
    lo = T.min(axis=0)
    cell = np.floor((T - lo) / size).astype(np.int64)
    ncx = int(cell[:, 0].max()) + 1
    row = cell[:, 1] if T.shape[1] == 2 else cell[:, 1] + (int(cell[:, 1].max()) + 1) * cell[:, 2]
    keys = row * ncx + np.where(row % 2 == 0, cell[:, 0], ncx - 1 - cell[:, 0])
    extent = np.ptp(T[:, :2], axis=0)
    spacing = float(np.sqrt(max(extent[0], 1e-12) * max(extent[1], 1e-12) / len(T))) or 1.0
    stripe = np.floor((T[:, 1] - lo[1]) / spacing + 0.5).astype(np.int64)
    along = np.floor((T[:, 0] - lo[0]) / spacing + 0.5).astype(np.int64)
    n_along = int(along.max()) + 1
    along = np.where(stripe % 2 == 0, along, n_along - 1 - along)
    composite = (keys * (int(stripe.max()) + 1) + stripe) * n_along + along
    levels, zi = (np.unique(T[:, 2], return_inverse=True) if T.shape[1] == 3 else (np.zeros(1), 0))
    if len(levels) > 4096:  # scattered 3D targets: no columns to snake through
        levels, zi = np.zeros(1), 0
    # 3D grids: targets sharing (x, y) are visited upwards in one column and downwards in the next
    zi = np.where(composite % 2 == 0, zi, len(levels) - 1 - zi)
    if (int(composite.max()) + 1) * len(levels) < 2 ** 62 // max(n_along, 1):
        return np.argsort(composite * len(levels) + zi, kind="stable"), keys
    return np.lexsort((zi, along, stripe, keys)), keys


class _Kriging(BaseEstimator):
    """Shared machinery; the variants differ by their drift (``_drift``), mean and these flags."""

    _lognormal_ok = True  # the variant may krige log values
    _needs_bounded_model = False  # the variant needs a covariance (simple kriging)
    lognormal = False  # a parameter of the variants that offer it

    def _drift(self, coords, drift):
        """Drift columns (n, p) at ``coords``; p = 0 for simple kriging."""
        raise NotImplementedError

    def fit(self, coords, values, drift=None, crs=None):
        """Store the samples and build the neighbour search.

        Parameters
        ----------
        coords : ndarray (n, 2|3), projected coordinates (metres). NaN values dropped, duplicates averaged.
        values : ndarray (n,)
        drift : ndarray (n, p), optional – external drift values at the samples (external drift kriging only).
        crs : CRS, optional – refused if geographic (degrees).
        """
        from scipy.spatial import cKDTree

        if not isinstance(self.model, VariogramModel):
            raise InputError(f"model {self.model!r} is not a variogram model; expected e.g. "
                             "Spherical(psill, range_, nugget) (see remine.core.geostat.fit_variogram)")
        self._check_search()
        check_projected(crs)
        if drift is None:
            c, v, self.input_info_ = prepare_points(coords, values)
        else:
            c, v, self.input_info_, drift = prepare_points(coords, values, extra=drift)
        if self.lognormal:
            if not self._lognormal_ok:
                raise InputError(f"lognormal is not available for {type(self).__name__}")
            if np.any(v <= 0):
                raise InputError(f"lognormal kriging needs values > 0; got min {v.min():g}")
            v = np.log(v)
        if not self.model.bounded and self._needs_bounded_model:
            raise InputError(f"simple kriging needs a bounded model (a covariance); got {self.model!r}")
        self.coords_ = c
        self.values_ = v
        self.anisotropy_ = as_anisotropy(self.anisotropy)
        self.X_ = self.anisotropy_.transform(c) if self.anisotropy_ is not None else c.copy()
        self.tree_ = cKDTree(self.X_)
        diag = float(np.sqrt(np.sum(np.ptp(self.X_, axis=0) ** 2))) or 1.0
        self.A_ = pseudo_sill(self.model, diag)
        self.model_arrays_ = _model_arrays(self.model, 4.0 * diag)
        self._center = c.mean(axis=0)
        self._fit_drift(drift)
        self.F_ = self._drift(c, drift)
        self.mean_ = self._mean(v)
        k = self.n_neighbors
        if k is not None and k >= len(v):
            warnings.warn(f"{len(v)} samples but n_neighbors={k}: using all samples (global neighbourhood)",
                          RemineWarning, stacklevel=2)
        self.global_ = k is None or k >= len(v)
        if self.global_:
            self._check_global_memory(len(v) + self.F_.shape[1])
        return self

    def _check_search(self):
        """Neighbours per estimate: None (all samples) or an integer >= 1; search radius: None or > 0 m."""
        k, d = self.n_neighbors, self.max_dist
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise InputError(f"neighbours per estimate (n_neighbors) must be a whole number >= 1, or None for all "
                             f"samples; got {k!r}")
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float, np.number)) or not d > 0
                              or not np.isfinite(d)):
            raise InputError(f"search radius (max_dist) must be a distance > 0 m, or None for no limit; got {d!r}")

    def _check_global_memory(self, size):
        """Refuse a global neighbourhood whose kriging systems (``size`` x ``size`` float64, one per thread,
        three times: matrix, factor and inverse) would not fit in the available memory."""
        from numba import get_num_threads

        need = 24.0 * size * size * get_num_threads()
        free = available_memory()
        if free is not None and need > free:
            raise InputError(f"kriging with all {size - 1:,} samples in every system (no neighbour limit) needs "
                             f"about {human_bytes(need)} of memory, more than the {human_bytes(free)} available; "
                             "set neighbours per estimate (n_neighbors, e.g. 32)")

    def _fit_drift(self, drift):
        """Learn what the drift needs from the samples' drift values (external drift only)."""

    def _mean(self, values):
        return 0.0

    def _targets(self, targets):
        t = as_coords(targets, "targets")
        if t.shape[1] != self.coords_.shape[1]:
            raise InputError(f"targets have {t.shape[1]} coordinates but the samples have {self.coords_.shape[1]}")
        return self.anisotropy_.transform(t) if self.anisotropy_ is not None else t

    def _block(self, ndim):
        if self.block_size is None:
            return np.zeros((1, ndim)), np.ones(1), self.A_
        offs, wts = block_discretisation(self.block_size, ndim)
        if self.anisotropy_ is not None:
            offs = self.anisotropy_.transform(offs)
        h = np.sqrt(((offs[:, None, :] - offs[None, :, :]) ** 2).sum(-1))
        # average point-to-point covariance within the block; as in gstat the nugget averages out
        c0 = float(wts @ (self.A_ - self.model.gamma(h)) @ wts) - self.model.nugget * float(wts @ wts)
        return offs, wts, c0

    def _k(self, exclude_self=False):
        n = len(self.values_) - (1 if exclude_self else 0)
        return n if self.global_ else min(int(self.n_neighbors), n)

    def _candidates(self, T, k, exclude_self):
        """Tiles of nearby targets and, per tile, the samples that can be among a target's k nearest.

        Returns ``order`` (targets sorted by tile), ``tile_of`` (m,), CSR ``cand_ptr``, ``cand_idx`` and the
        distance of every target's tile centre to its nearest sample (for the extrapolation check).
        With a tile centre ``c``, tile half-diagonal ``h`` and ``R`` the distance from ``c`` to its k-th
        nearest sample, every target's k nearest lie within ``R + 2h`` of ``c`` (triangle inequality).
        """
        n = len(self.values_)
        kq = k + (1 if exclude_self else 0)
        ub = np.inf if self.max_dist is None else float(self.max_dist)
        if self.global_ and self.max_dist is None:
            order = np.arange(len(T))
            return (order, np.zeros(len(T), np.int64), np.array([0, n], np.int64), np.arange(n, dtype=np.int64),
                    self.tree_.query(T, k=1)[0])
        probe = T[np.linspace(0, len(T) - 1, min(len(T), 64)).astype(int)]
        r_typ = float(np.median(self.tree_.query(probe, k=kq)[0].reshape(len(probe), -1)[:, -1]))
        r_typ = min(r_typ, ub) if np.isfinite(min(r_typ, ub)) else 1.0
        size = max(r_typ / 2.0, 1e-9)
        order, keys = _spatial_order(T, size)
        tiles = keys[order]
        starts = np.flatnonzero(np.r_[True, tiles[1:] != tiles[:-1]])
        t_sorted = T[order]
        lo = np.minimum.reduceat(t_sorted, starts, axis=0)
        hi = np.maximum.reduceat(t_sorted, starts, axis=0)
        centre = (lo + hi) / 2.0
        half = np.sqrt(np.sum((hi - lo) ** 2, axis=1)) / 2.0
        dist, _ = self.tree_.query(centre, k=kq)
        dist = dist.reshape(len(centre), kq)
        radius = np.minimum(dist[:, -1] + 2.0 * half, ub + half) * (1.0 + 1e-9) + 1e-9
        lists = self.tree_.query_ball_point(centre, radius)
        cand_ptr = np.zeros(len(lists) + 1, np.int64)
        cand_ptr[1:] = np.cumsum([len(x) for x in lists])
        cand_idx = np.fromiter(itertools.chain.from_iterable(lists), np.int64, int(cand_ptr[-1]))
        tile_of = np.empty(len(T), np.int64)
        tile_of[order] = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(T)]))
        return order, tile_of, cand_ptr, cand_idx, np.maximum(dist[:, 0] - half, 0.0)[tile_of]

    def solve(self, T, F0, offs, wts, c0, exclude=None):
        """Estimates, variances, Lagrange multipliers (m, p), regularised count and nearest-sample distances."""
        from numba import get_num_threads

        k = self._k(exclude is not None)
        order, tile_of, cand_ptr, cand_idx, nearest = self._candidates(T, k, exclude is not None)
        exclude = np.full(len(T), -1, np.int64) if exclude is None else np.asarray(exclude, np.int64)
        codes, psills, ranges, params, nugget, table, step = self.model_arrays_
        max_dist = np.inf if self.max_dist is None else float(self.max_dist)
        parallel = (get_num_threads() > 1 and len(T) > SEGMENT_TARGETS
                    and threading.current_thread() is threading.main_thread())
        solver = solve_targets if parallel else solve_targets_serial
        est, var, mu, n_reg = solver(self.X_, self.values_ - self.mean_, self.F_, np.ascontiguousarray(T),
                                     np.ascontiguousarray(F0, dtype=float), order, tile_of, cand_ptr, cand_idx,
                                     exclude, k, max_dist, offs, wts, codes, psills, ranges, params, nugget, table,
                                     step, self.A_, c0)
        return est + self.mean_, var, mu, int(n_reg), nearest

    def predict(self, targets, return_variance=True, drift=None):
        """Kriging estimate (and variance) at ``targets``.

        Parameters
        ----------
        targets : ndarray (m, 2|3) – point locations, or block centres when ``block_size`` is set.
        return_variance : bool
        drift : ndarray (m, p) – external drift at the targets (external drift kriging only).

        Returns
        -------
        estimate (m,) [, variance (m,)] in the units of the values (squared for the variance). NaN where a
        target has no sample within ``max_dist``. Warns (RemineWarning) about regularised singular systems
        and about targets farther than the model's practical range from every sample (extrapolation).
        """
        if not hasattr(self, "X_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(coords, values) first")
        T = self._targets(targets)
        F0 = self._drift(np.asarray(targets, float), drift)
        offs, wts, c0 = self._block(T.shape[1])
        m = len(T)
        est, var = np.empty(m), np.empty(m)
        n_reg, n_far, n_nan = 0, 0, 0
        reach = self.model.practical_range()
        chunk = max(4096, _CHUNK_ELEMENTS // max(self._k(), 1))
        for s in range(0, m, chunk):
            e = min(m, s + chunk)
            est[s:e], var[s:e], mu, r, nearest = self.solve(T[s:e], F0[s:e], offs, wts, c0)
            if self.lognormal:
                est[s:e], var[s:e] = self.back_transform(est[s:e], var[s:e], mu)
            n_reg += r
            n_far += int(np.sum(nearest > reach))
            n_nan += int(np.isnan(est[s:e]).sum())
        self._warn(m, n_reg, n_far, n_nan, reach)
        return (est, var) if return_variance else est

    def back_transform(self, est, var, mu):
        """Unbiased log-normal back-transform (Journel 1980): exp(Y* + σ²/2 + μ) for OK, exp(Y* + σ²/2) for SK.

        The variance returned is that of a log-normal variable, ``estimate² (exp(σ²) − 1)``.
        """
        shift = mu[:, 0] if mu.shape[1] else 0.0
        z = np.exp(est + var / 2.0 + shift)
        return z, z * z * np.expm1(var)

    @staticmethod
    def _warn(m, n_reg, n_far, n_nan, reach):
        if n_reg:
            warnings.warn(f"{n_reg} kriging systems were singular or nearly so (collinear/clustered samples, "
                          "zero nugget); they were regularised by adding a small nugget to the diagonal",
                          RemineWarning, stacklevel=3)
        if n_far:
            warnings.warn(f"{n_far} of {m} targets lie farther than the model's practical range ({reach:.6g}) "
                          "from every sample: extrapolation, the estimate there reverts to the mean",
                          RemineWarning, stacklevel=3)
        if n_nan:
            warnings.warn(f"{n_nan} of {m} targets have no sample within max_dist: NaN there", RemineWarning,
                          stacklevel=3)


class OrdinaryKriging(_Kriging):
    """Ordinary kriging (unknown constant mean; weights sum to 1).

    Parameters
    ----------
    model : VariogramModel – e.g. ``Spherical(psill=0.59, range_=897, nugget=0.05)``.
    n_neighbors : int or None – nearest samples per target (default 32, gstat ``nmax``); None: all (global).
    max_dist : float, optional – search radius (coordinate units, anisotropy-corrected; gstat ``maxdist``).
    anisotropy : Anisotropy | (angle, ratio) | (azimuth, dip, plunge, ratio1, ratio2), optional.
    block_size : float or tuple, optional – block kriging of blocks of this size centred on the targets.
    lognormal : bool – krige log(values) and back-transform without bias.

    Attributes (after fit): ``coords_``, ``values_`` (log values if lognormal), ``tree_``, ``input_info_``.
    """

    def __init__(self, model, n_neighbors=32, max_dist=None, anisotropy=None, block_size=None, lognormal=False):
        self.model = model
        self.n_neighbors = n_neighbors
        self.max_dist = max_dist
        self.anisotropy = anisotropy
        self.block_size = block_size
        self.lognormal = lognormal

    def _drift(self, coords, drift):
        return np.ones((len(coords), 1))


class SimpleKriging(_Kriging):
    """Simple kriging with a known mean (``mean=None``: the sample mean). Needs a bounded model."""

    _needs_bounded_model = True

    def __init__(self, model, mean=None, n_neighbors=32, max_dist=None, anisotropy=None, block_size=None,
                 lognormal=False):
        self.model = model
        self.mean = mean
        self.n_neighbors = n_neighbors
        self.max_dist = max_dist
        self.anisotropy = anisotropy
        self.block_size = block_size
        self.lognormal = lognormal

    def _mean(self, values):
        return float(np.mean(values)) if self.mean is None else float(self.mean)

    def _drift(self, coords, drift):
        return np.zeros((len(coords), 0))


class UniversalKriging(_Kriging):
    """Universal kriging: the mean is a polynomial of the coordinates (``drift="linear"`` or ``"quadratic"``).

    The model should be the variogram of the residuals from the trend.
    """

    _lognormal_ok = False

    def __init__(self, model, drift="linear", n_neighbors=32, max_dist=None, anisotropy=None, block_size=None):
        self.model = model
        self.drift = drift
        self.n_neighbors = n_neighbors
        self.max_dist = max_dist
        self.anisotropy = anisotropy
        self.block_size = block_size

    def _drift(self, coords, drift):
        if self.drift not in ("linear", "quadratic"):
            raise InputError(f"drift '{self.drift}' unknown; expected 'linear' or 'quadratic'")
        scale = np.ptp(self.coords_, axis=0)
        x = (np.asarray(coords, float) - self._center) / np.where(scale > 0, scale, 1.0)
        cols = [np.ones(len(x))] + [x[:, j] for j in range(x.shape[1])]
        if self.drift == "quadratic":
            cols += [x[:, a] * x[:, b] for a in range(x.shape[1]) for b in range(a, x.shape[1])]
        return np.column_stack(cols)


class ExternalDriftKriging(_Kriging):
    """Kriging with external drift: the mean is ``a₀ + Σ aⱼ drift_j`` (e.g. mineral abundance rasters).

    ``fit(coords, values, drift=(n, p))`` and ``predict(targets, drift=(m, p))`` take the drift variables
    at the samples and at the targets. The model should be the variogram of the residuals.
    """

    _lognormal_ok = False

    def __init__(self, model, n_neighbors=32, max_dist=None, anisotropy=None, block_size=None):
        self.model = model
        self.n_neighbors = n_neighbors
        self.max_dist = max_dist
        self.anisotropy = anisotropy
        self.block_size = block_size

    def _fit_drift(self, drift):
        if drift is None:
            raise InputError("external drift kriging needs drift values (n, p) at the samples")
        self.drift_mean_, self.drift_scale_ = drift.mean(axis=0), drift.std(axis=0)
        if np.any(self.drift_scale_ == 0):
            raise InputError("an external drift variable is constant over the samples; it cannot explain "
                             "anything (expected drift values that vary between samples)")

    def _drift(self, coords, drift):
        d = (np.asarray(drift, float).reshape(len(coords), -1) - self.drift_mean_) / self.drift_scale_
        return np.column_stack([np.ones(len(d)), d])

    def predict(self, targets, return_variance=True, drift=None):
        if drift is None:
            raise InputError("external drift kriging needs the drift values (m, p) at the targets")
        d = np.asarray(drift, float).reshape(len(targets), -1)
        bad = ~np.all(np.isfinite(d), axis=1)
        if bad.any():
            warnings.warn(f"{int(bad.sum())} targets have NaN drift: NaN there", RemineWarning, stacklevel=2)
            d = np.where(np.isfinite(d), d, 0.0)
        out = super().predict(targets, return_variance, d)
        if bad.any():
            for a in (out if return_variance else (out,)):
                a[bad] = np.nan
        return out


def ordinary_kriging(coords, values, targets, model, n_neighbors=32, **kwargs):
    """Ordinary kriging in one call: ``OrdinaryKriging(model, n_neighbors, **kwargs).fit(coords, values)``.

    Parameters
    ----------
    coords (n, 2|3), values (n,), targets (t, 2|3): metres / value units. model: VariogramModel.
    n_neighbors: int or None (global). kwargs: ``max_dist``, ``anisotropy``, ``block_size``, ``lognormal``.

    Returns
    -------
    (estimate (t,), variance (t,))
    """
    return OrdinaryKriging(model, n_neighbors=n_neighbors, **kwargs).fit(coords, values).predict(targets)

