"""Multiple endmember spectral mixture analysis (MESMA): the best model per pixel.

Each of ``m`` minerals has a *bundle* of ``k_i`` library spectra. A *model* takes one spectrum per
mineral; MESMA (Roberts et al. 1998, Remote Sens. Environ. 65, 267-279) solves every model for every
pixel and keeps, per pixel, the model with the lowest reconstruction RMSE. The output says which
spectrum of each bundle was used (1-based, 0 where the mineral is absent), as bundle unmixing does.

Only models with every mineral are tried: with non-negative (or free) abundances a model with fewer
minerals is nested in each full model holding its spectra (the missing abundances can be zero), so its
RMSE is never lower. Picking a simpler model needs a complexity rule (an RMSE threshold, as in Roberts
et al. 1998), which this module does not apply.

Cost: the Gram quantities of all ``sum k_i`` spectra come from one product (``X E'``); each model then
costs O(m^3) per pixel whatever the band count. NNLS and FCLS run compiled, pixel-parallel, every model
for one pixel in turn (:mod:`remine.core.unmix._mesma_kernels`, the active-set solver of the plain
unmixing; 0.8 (FCLS) to 1.4 (NNLS) million pixel-models per second on 2 shared cores with 9
minerals); SCLS and UCLS loop over models with all pixels at once. At most :data:`MAX_MODELS` models (``prod k_i``).

Intervals (:func:`mesma_intervals`): the residual (noise) intervals of the chosen model, widened to
the abundances of every model that the data cannot tell apart from it (likelihood-ratio limit), and
for FCLS towards MESMA with a free brightness (model form, as in :mod:`~remine.core.unmix.intervals`).

Demo scene (``make_demo(seed=0)``, 89 790 pixels, 6 % illumination variation; bundles of two USGS
spectra per mineral: the scene's own spectrum and the next library spectrum of that mineral, 2^9 = 512
models; ``benchmarks/calibrate_intervals.py``; abundance RMSE against the truth, coverage of nominal
90 % intervals (range over minerals), mean width, share of mineral abundances > 5 % reported with the
scene's own spectrum, seconds with intervals on 2 shared cores):

====================  ===============  ======  ===================  ======  ========  =======
method                variability      RMSE    coverage             width   spectrum  seconds
====================  ===============  ======  ===================  ======  ========  =======
NNLS + normalisation  bundle unmixing  0.0071  0.924 (0.911-0.939)  2.16 %  0.991     2.4
NNLS + normalisation  MESMA            0.0063  0.915 (0.900-0.931)  1.82 %  0.992     103
FCLS                  bundle unmixing  0.0272  0.921 (0.878-0.948)  3.06 %  0.874     3.2
FCLS                  MESMA            0.0324  0.945 (0.937-0.963)  3.59 %  0.822     141
====================  ===============  ======  ===================  ======  ========  =======

With a free brightness (NNLS + normalisation) MESMA is the most accurate, with calibrated, narrower
intervals (12 % lower abundance RMSE than bundle unmixing). With FCLS the illumination variation makes
MESMA pick, per pixel, the spectra whose brightness compensates it, and bundle unmixing is more
accurate; the intervals stay honest through the model-form term (which costs two more passes over the
models). Without intervals MESMA costs one pass: 34 s (NNLS) and 60 s (FCLS) here. All 59 USGS
spectra of the nine minerals would be 6.5 million models, beyond :data:`MAX_MODELS`: use bundle
unmixing there.
"""
import itertools

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import InputError
from .intervals import FREE_BRIGHTNESS, noise_intervals, widen_to_free_brightness
from .solvers import KKT_TOL, NON_NEGATIVE, SUM_TO_ONE, WARM_START_MAX, check_method, equality_solution, gram

#: largest number of models (one spectrum per mineral) MESMA tries
MAX_MODELS = 5000


def check_bundles(bundles, max_models=MAX_MODELS, names=None):
    """Validate bundles: a list of m arrays (k_i, b) with finite values on the same b bands.

    Returns the list as float64 arrays. Raises :class:`InputError` when a bundle is empty or not 2-D,
    band counts differ, values are not finite, there are more minerals than bands, or the number of
    models ``prod k_i`` exceeds ``max_models``.
    """
    names = list(names) if names is not None else [f"mineral {i}" for i in range(len(bundles))]
    out = [np.atleast_2d(np.asarray(b, dtype=np.float64)) for b in bundles]
    if not out:
        raise InputError("MESMA needs at least one bundle of spectra; got none")
    for name, b in zip(names, out):
        if b.ndim != 2 or b.shape[0] == 0:
            raise InputError(f"the bundle of {name} must be a (k, bands) array with k >= 1; got shape {b.shape}")
        if not np.all(np.isfinite(b)):
            raise InputError(f"the bundle of {name} has NaN or infinite values")
    n_bands = {b.shape[1] for b in out}
    if len(n_bands) != 1:
        raise InputError(f"bundles have different band counts {sorted(n_bands)}; resample them to one grid")
    if len(out) > out[0].shape[1]:
        raise InputError(f"{len(out)} minerals but only {out[0].shape[1]} bands")
    sizes = [len(b) for b in out]
    n_models = int(np.prod(sizes, dtype=np.float64))
    if n_models > max_models:
        listed = ", ".join(f"{n} {k}" for n, k in zip(names, sizes))
        raise InputError(f"MESMA would try {n_models} models (one spectrum per mineral; bundle sizes: {listed}), "
                         f"more than the limit of {max_models}; use bundle unmixing or fewer spectra per mineral")
    return out


def mesma(pixels, bundles, method="fcls", max_models=MAX_MODELS):
    """Best model per pixel over every choice of one spectrum per mineral.

    Parameters
    ----------
    pixels : array (n, b) or (b,), same units and bands as the bundles (reflectance)
    bundles : list of m arrays (k_i, b), the spectra of each mineral
    method : "fcls" | "nnls" | "scls" | "ucls", solver for each model
    max_models : int, InputError beyond this many models (``prod k_i``)

    Returns
    -------
    dict: ``abundances`` (n, m) float64 fractions of the best model, ``rmse`` (n,) its reconstruction
    RMSE, ``spectrum`` (n, m) int32, 1-based index of the chosen spectrum in each bundle (0 where the
    mineral's abundance is zero), ``model`` (n, m) int32 0-based index of each chosen spectrum (also
    for absent minerals; the first best model on ties). Pixels with a NaN band give NaN abundances and
    RMSE and spectrum 0.
    """
    check_method(method)
    bundles = check_bundles(bundles, max_models)
    problem = _Problem(pixels, bundles)
    if NON_NEGATIVE[method]:  # compiled: one pixel at a time through every model
        from ._mesma_kernels import best_models

        best_A, best_ss, best = best_models(problem.grams, problem.models, problem.C, problem.xx, problem.tol,
                                            SUM_TO_ONE[method], problem.warm)
        chosen = (problem.models[best] - problem.offsets).astype(np.int32)
    else:  # closed forms, vectorised over pixels, one model at a time
        n, m = problem.C.shape[0], len(bundles)
        best_ss, best_A = np.full(n, np.inf), np.full((n, m), np.nan)
        chosen = np.zeros((n, m), dtype=np.int32)
        for model, A, ss in _model_solutions(problem, method):
            better = ss < best_ss  # False for NaN pixels
            best_ss[better] = ss[better]
            best_A[better] = A[better]
            chosen[better] = model
    bad = problem.bad
    rmse = np.sqrt(np.maximum(best_ss, 0.0) / bundles[0].shape[1])
    rmse[bad] = np.nan
    best_A[bad] = np.nan
    spectrum = np.where(best_A > 0, chosen + 1, 0).astype(np.int32)
    return {"abundances": best_A, "rmse": rmse, "spectrum": spectrum, "model": chosen}


class _Problem:
    """Gram quantities of all stacked spectra (``G`` (K, K), ``C = X E'`` (n, K), ``xx`` (n,), NaN-pixel
    mask ``bad``) and the models: ``models`` (q, m) rows of the stack, ``offsets`` (m,) first row of each
    bundle, ``grams`` (q, m, m), KKT tolerance ``tol`` and the solver's ``warm`` start flag."""

    def __init__(self, pixels, bundles):
        sizes = [len(b) for b in bundles]
        self.offsets = np.cumsum([0] + sizes[:-1]).astype(np.int64)
        choices = np.array(list(itertools.product(*(range(k) for k in sizes))), dtype=np.int64)
        self.models = np.ascontiguousarray(choices.reshape(-1, len(bundles)) + self.offsets)
        self.G, self.C, self.bad, self.xx = gram(pixels, np.concatenate(bundles), check=False, squares=True)
        self.grams = np.ascontiguousarray(self.G[self.models[:, :, None], self.models[:, None, :]])
        self.tol = KKT_TOL * float(np.max(np.diag(self.G)))
        self.warm = len(bundles) <= WARM_START_MAX


def _model_solutions(problem, method):
    """Closed-form methods (SCLS, UCLS): yield ``(model (m,) 0-based spectrum per bundle, abundances
    (n, m), residual sum of squares (n,))`` for every model, each solved for all pixels at once."""
    for rows, Gm in zip(problem.models, problem.grams):
        Cm = problem.C[:, rows]
        A = equality_solution(Gm, Cm, SUM_TO_ONE[method])
        ss = problem.xx - 2.0 * np.einsum("ij,ij->i", A, Cm) + np.einsum("ij,ij->i", A @ Gm, A)
        yield rows - problem.offsets, A, ss


class MESMA(TransformerMixin, BaseEstimator):
    """Estimator twin of :func:`mesma`: ``MESMA().fit(bundles).transform(pixels)`` -> abundances (n, m).

    ``unmix(pixels)`` returns the whole result of :func:`mesma` (RMSE and chosen spectra too).
    """

    def __init__(self, method="fcls", max_models=MAX_MODELS):
        self.method = method
        self.max_models = max_models

    def fit(self, bundles, y=None):
        check_method(self.method)
        self.bundles_ = check_bundles(bundles, self.max_models)
        self.n_models_ = int(np.prod([len(b) for b in self.bundles_]))
        self.n_features_in_ = self.bundles_[0].shape[1]
        return self

    def unmix(self, pixels):
        return mesma(pixels, self.bundles_, self.method, self.max_models)

    def transform(self, pixels):
        return self.unmix(pixels)["abundances"]


def mesma_intervals(pixels, bundles, result, method="fcls", level=0.9, model_form=True, model_choice=True,
                    normalise=False):
    """Intervals (n, m) of a :func:`mesma` result: noise on the chosen model, model choice, model form.

    Noise: the residual intervals (:func:`~remine.core.unmix.residual_intervals`) of each pixel's chosen
    model. Model choice (a second pass over the models): a model whose residual sum of squares exceeds
    the best one by less than ``chi2_m(level) s^2`` (``s^2`` the best model's residual variance) cannot
    be told apart from it at that level (likelihood-ratio confidence set of models), so the interval
    also spans its abundances. Model form (sum-to-one methods): MESMA with a free brightness (NNLS or
    UCLS, then division by the abundance sum) and its intervals, weighted as in
    :func:`~remine.core.unmix.intervals.widen_to_free_brightness` (two more passes over the models).
    ``normalise``: intervals of the abundances divided by their sum, as
    :func:`~remine.core.unmix.unmix_pixels` reports them with ``normalise=True``.

    Returns ``lower, upper`` (n, m) fractions, NaN where the abundances are NaN.
    """
    X = np.asarray(pixels)
    X = X[None, :] if X.ndim == 1 else X
    lower, upper, _ = _model_intervals(X, bundles, result, method, level, model_choice, normalise)
    if model_form and method in FREE_BRIGHTNESS:
        free = FREE_BRIGHTNESS[method]
        alt = mesma(X, bundles, free, max_models=np.inf)
        lo, up, var_g = _model_intervals(X, bundles, alt, free, level, model_choice, True, total=True)
        lower, upper = widen_to_free_brightness(lower, upper, lo, up, alt["abundances"].sum(axis=1), var_g)
    return lower, upper


def _model_intervals(X, bundles, result, method, level, model_choice, normalise, total=False):
    """Noise intervals (n, m) on each pixel's chosen model (pixels grouped by model), widened to the
    competing models with ``model_choice``, and with ``total`` the noise variance (n,) of the abundance
    sum of the chosen model."""
    A, rmse, model = result["abundances"], result["rmse"], result["model"]
    n, m = A.shape
    lower, upper, var_sum = np.full((n, m), np.nan), np.full((n, m), np.nan), np.full(n, np.nan)
    rows = np.flatnonzero(np.isfinite(A).all(axis=1))
    if rows.size == 0:
        return lower, upper, var_sum
    keys, inverse = np.unique(model[rows], axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    bounds = np.cumsum(np.bincount(inverse.ravel(), minlength=len(keys)))
    for key, group in zip(keys, np.split(rows[order], bounds[:-1])):
        E = np.stack([b[j] for b, j in zip(bundles, key)])
        lower[group], upper[group], v = noise_intervals(E, A[group], method, level, rmse[group], np.arange(m),
                                                        total, normalise)
        if total:
            var_sum[group] = v
    if model_choice and any(len(b) > 1 for b in bundles):
        low, high = _competing_models_range(X, bundles, A, rmse, method, level, normalise)
        lower, upper = np.fmin(lower, low), np.fmax(upper, high)
    return lower, upper, var_sum


def _competing_models_range(pixels, bundles, A, rmse, method, level, normalise):
    """Smallest and largest abundances (n, m) over the models within the likelihood-ratio limit of the
    best one (which is among them); each model's abundances divided by their sum with ``normalise``."""
    from scipy.stats import chi2

    m, b = len(bundles), bundles[0].shape[1]
    best_ss = rmse**2 * b
    limit = best_ss * (1.0 + chi2.ppf(level, m) / max(b - m, 1))
    if normalise:
        A = A / A.sum(axis=1, keepdims=True)
    low, high = A.copy(), A.copy()
    problem = _Problem(pixels, bundles)
    if NON_NEGATIVE[method]:
        from ._mesma_kernels import near_model_range

        near_model_range(problem.grams, problem.models, problem.C, problem.xx, limit, low, high, problem.tol,
                         SUM_TO_ONE[method], problem.warm, normalise)
        return low, high
    for _, Ak, ss in _model_solutions(problem, method):
        near = ss <= limit  # False for NaN pixels
        if normalise:
            sums = Ak.sum(axis=1)
            near &= sums > 0
            Ak = Ak / np.where(sums > 0, sums, 1.0)[:, None]
        low[near] = np.minimum(low[near], Ak[near])
        high[near] = np.maximum(high[near], Ak[near])
    return low, high
