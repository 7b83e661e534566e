"""Per-pixel abundance intervals for linear unmixing.

Sources of uncertainty and their intervals:

- :func:`residual_intervals` — noise: on the active set P of a pixel the constrained least-squares
  estimate is linear in the pixel, so with white noise of variance ``s^2`` per band its covariance is
  ``s^2 K_P`` with ``K_P = H - H 1 1' H / (1' H 1)``, ``H = (E_P E_P')^-1`` (sum-to-one) or ``K_P = H``
  (non-negative only). ``s^2 = ||x - E'a||^2 / (b - dof)`` comes from the pixel's own residual, and
  the conditioning of the active endmembers enters through ``K_P``. An endmember outside P gets
  ``lower = 0`` and ``upper = z sqrt(s^2 K_{P+j, jj})``. For bundles (several spectra per mineral) the
  variance of a mineral's summed abundance includes the covariances of its spectra. Compiled (numba).
- model form (``residual_intervals(..., model_form=True)``, the default of ``unmix_pixels`` and
  ``unmix_raster``): FCLS and SCLS assume a brightness of exactly 1 (the abundances sum to one), so a
  per-pixel illumination factor ``gamma`` becomes a bias that no noise interval sees. The alternative
  model form lets the brightness free: NNLS (UCLS) and division by the abundance sum ``g``. On a common
  active set the sum-to-one estimate differs from the normalised one by ``(g - 1) v`` (v a fixed
  vector), so its bias is ``(gamma - 1) v``; ``E[(g - 1)^2] = (gamma - 1)^2 + var(g)`` gives the
  positive-part estimate ``|gamma - 1| ~ |g - 1| w`` with ``w = sqrt(max(0, 1 - var(g) / (g - 1)^2))``
  (``var(g)`` from the alternative's residual and active set). Each bound of the sum-to-one interval
  moves outwards, towards the alternative's bound, by the fraction ``w``. With brightness 1, ``w`` is 0
  for most pixels (coverage and width nearly unchanged: rows "steady" below); with a real departure
  ``w -> 1`` and the interval spans both model forms.
- normalised abundances (``normalise=True``, NNLS + normalisation): the interval of ``a_k / g`` from its
  linearised (delta-method) variance, with the covariance of ``a_k`` and ``g``; dividing the bounds of
  ``a_k`` by ``g`` instead is right on average on the demo scene but not per mineral (0.70-0.95 for
  four minerals with 6 % illumination variation, against 0.89-0.90 with the delta method).
- :func:`bootstrap_intervals` — endmember variability: unmix again with one spectrum per mineral drawn
  at random from each mineral's bundle, and take quantiles of the abundances across draws.

All return ``(lower, upper)`` arrays (n, m) of fractions. They assume the linear model holds (white noise,
the right endmembers, variability within the bundles); on real scenes the model error dominates and they
under-cover (Samson with extracted endmembers: 0.26-0.34 at nominal 0.9): rescale them on reference
abundances with :mod:`remine.core.unmix.calibration`.

Calibration (``benchmarks/calibrate_intervals.py``): coverage of nominal 90 % intervals over the 9
minerals x 89 790 valid pixels, overall and the range over minerals, mean width, abundance RMSE.
Scenes: ``demo`` = ``make_demo(seed=0)`` (true spectra, 6 % per-pixel illumination variation, noise
0.004); ``steady`` = the same abundances and spectra with brightness exactly 1 (noise 0.004).
USGS bundles: all 59 USGS spectra of the nine minerals.

======  ============  ====================  ======================  ======  ====================  =======
scene   endmembers    method                intervals               RMSE    coverage (minerals)   width
======  ============  ====================  ======================  ======  ====================  =======
demo    true spectra  NNLS + normalisation  residual (delta)        0.0050  0.916 (0.906-0.927)   1.53 %
demo    USGS bundles  NNLS + normalisation  residual (delta)        0.0104  0.921 (0.879-0.939)   3.12 %
demo    USGS bundles  NNLS + normalisation  bootstrap (30 draws)    0.0104  0.829 (0.698-0.935)   14.63 %
demo    true spectra  FCLS                  residual, noise only    0.0468  0.374 (0.152-0.652)   1.75 %
demo    true spectra  FCLS                  residual + model form   0.0468  0.951 (0.939-0.963)   4.35 %
demo    USGS bundles  FCLS                  residual, noise only    0.0237  0.697 (0.347-0.811)   2.33 %
demo    USGS bundles  FCLS                  residual + model form   0.0237  0.909 (0.814-0.946)   3.42 %
steady  true spectra  FCLS                  residual, noise only    0.0044  0.912 (0.907-0.923)   1.34 %
steady  true spectra  FCLS                  residual + model form   0.0044  0.921 (0.914-0.926)   1.41 %
steady  USGS bundles  FCLS                  residual, noise only    0.0082  0.925 (0.899-0.938)   2.49 %
steady  USGS bundles  FCLS                  residual + model form   0.0082  0.929 (0.902-0.941)   2.58 %
======  ============  ====================  ======================  ======  ====================  =======

MESMA intervals (:func:`~remine.core.unmix.mesma.mesma_intervals`) are these residual intervals on each
pixel's chosen model, widened to the models that fit as well (calibration in :mod:`~remine.core.unmix.mesma`).
With varying illumination NNLS + normalisation remains the more accurate estimate (RMSE 0.0050 vs
0.0468 with the true spectra); the model-form term makes the FCLS intervals honest, not FCLS accurate.
"""
import numpy as np
from scipy.stats import norm

from ..errors import InputError
from .solvers import NON_NEGATIVE, SOLVERS, SUM_TO_ONE, check_endmembers, reconstruction_rmse, solve_with_rmse

#: sum-to-one methods and the same method with a free per-pixel brightness (then normalised)
FREE_BRIGHTNESS = {"fcls": "nnls", "scls": "ucls"}


def residual_intervals(pixels, endmembers, abundances, method="fcls", level=0.9, rmse=None, groups=None,
                       model_form=False, normalise=False):
    """Intervals from the residual error and the conditioning of the active endmember set.

    Parameters
    ----------
    pixels : array (n, b)
    endmembers : array (m, b)
    abundances : array (n, m), the solution of ``method`` for these pixels (fractions)
    method : {"fcls", "nnls", "scls", "ucls"}
    level : float, nominal two-sided coverage (0.9 -> +-1.645 sigma)
    rmse : array (n,), optional, reconstruction RMSE if already computed
    groups : array (m,) of int, optional
        Group (mineral) of each endmember, 0..g-1: intervals are then for the summed abundances of each
        group (bundles), with the covariances between its spectra. Default: one group per endmember.
    model_form : bool
        Sum-to-one methods (FCLS, SCLS) only: widen the noise interval towards the free-brightness model
        by the estimated share of the brightness departure that is not noise (see the module docstring).
    normalise : bool
        Intervals of the abundances divided by their sum ``g`` (a free brightness): the linearised
        variance of ``a_k / g`` (delta method), ``(V_kk - 2 r_k C_k + r_k^2 V_gg) / g^2`` with
        ``r_k = a_k / g`` and ``C_k`` the covariance of ``a_k`` with ``g``.

    Returns
    -------
    lower, upper : ndarrays (n, g), fractions (NaN where the abundances are NaN); clipped to the
    method's feasible range (>= 0 for NNLS, [0, 1] for FCLS and normalised NNLS, unclipped for SCLS/UCLS)
    """
    E = check_endmembers(endmembers) if groups is None else np.asarray(endmembers, dtype=np.float64)
    A = np.asarray(abundances, dtype=np.float64)
    owner = np.arange(A.shape[1]) if groups is None else np.asarray(groups, dtype=int)
    if rmse is None:
        rmse = reconstruction_rmse(pixels, E, A)
    lower, upper, _ = noise_intervals(E, A, method, level, rmse, owner, normalise=normalise)
    if model_form and method in FREE_BRIGHTNESS:
        lower, upper = _widen_to_free_brightness(pixels, E, lower, upper, FREE_BRIGHTNESS[method], level, owner)
    return lower, upper


def noise_intervals(E, A, method, level, rmse, owner, total=False, normalise=False):
    """Noise intervals (n, g) of the group sums (divided by the abundance sum with ``normalise``) and,
    with ``total``, the noise variance (n,) of the abundance sum. ``E`` (m, b), ``A`` (n, m), ``rmse``
    (n,), ``owner`` (m,) group of each endmember; see :func:`residual_intervals`."""
    from ._interval_kernels import total_covariances
    from ._kernels import group_variances

    n, m = A.shape
    b = E.shape[1]
    n_groups = int(owner.max()) + 1
    indicator = np.zeros((m, n_groups))
    indicator[np.arange(m), owner] = 1.0
    bad = ~np.isfinite(A).all(axis=1)
    active = (A > 0) if NON_NEGATIVE[method] else np.ones_like(A, dtype=bool)
    active &= ~bad[:, None]
    sum_to_one = SUM_TO_ONE[method]
    dof = np.maximum(b - active.sum(axis=1) + (1 if sum_to_one else 0), 1)
    s2 = rmse**2 * b / dof
    G = E @ E.T
    # the factors depend on the pixel only through its active set: computed once per distinct set
    patterns, pixel_pattern = distinct_rows(active)
    variances = s2[:, None] * group_variances(G, patterns, owner, n_groups, sum_to_one)[pixel_pattern]
    total_variance = None
    if total or normalise:
        covariances = s2[:, None] * total_covariances(G, patterns, owner, n_groups, sum_to_one)[pixel_pattern]
        total_variance = covariances[:, -1]
    Ag = A @ indicator
    if normalise:
        Ag, variances = _normalised(Ag, variances, covariances[:, :-1], total_variance)
    half = norm.ppf(0.5 + level / 2.0) * np.sqrt(variances)
    lower = np.where(active @ indicator > 0, Ag - half, 0.0)
    upper = Ag + half
    if NON_NEGATIVE[method]:  # bounds stay in the method's feasible range
        lower = np.maximum(lower, 0.0)
        if sum_to_one or normalise:
            upper = np.minimum(upper, 1.0)
    lower[bad] = np.nan
    upper[bad] = np.nan
    return lower, upper, total_variance


def distinct_rows(active):
    """Distinct rows of a boolean array (n, m) and the index (n,) of each row among them. With m endmembers
    there are at most 2^m active sets and in practice a few dozen (100k pixels, 8 endmembers: 0.26 s of
    per-pixel inverses became 0.01 s)."""
    packed = np.packbits(active, axis=1)
    if packed.shape[1] <= 8:  # up to 64 endmembers: one integer key per row (sorts 3x faster than bytes)
        packed = np.pad(packed, ((0, 0), (0, 8 - packed.shape[1])))
        keys = np.ascontiguousarray(packed).view(np.uint64).ravel()
    else:
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.ascontiguousarray(active[first]), inverse.ravel()


def _normalised(Ag, variances, covariances, total_variance):
    """Group sums (n, g) divided by the abundance sum ``g`` and their delta-method variances
    ``(V_kk - 2 r_k C_k + r_k^2 V_gg) / g^2`` (``r_k = a_k / g``, ``C_k = cov(a_k, g)``)."""
    g = Ag.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = Ag / g[:, None]
        out = (variances - 2.0 * ratio * covariances + ratio**2 * total_variance[:, None]) / (g**2)[:, None]
    return ratio, np.maximum(out, 0.0)


def _widen_to_free_brightness(pixels, E, lower, upper, free_method, level, owner):
    """Model-form term of :func:`residual_intervals`: solve the free-brightness model and widen towards it."""
    A, rmse = solve_with_rmse(pixels, E, free_method, check=False)
    lo, up, var_g = noise_intervals(E, A, free_method, level, rmse, owner, total=True, normalise=True)
    return widen_to_free_brightness(lower, upper, lo, up, A.sum(axis=1), var_g)


def widen_to_free_brightness(lower, upper, free_lower, free_upper, g, var_g):
    """Move each bound (n, m) outwards, towards the free-brightness model's bound, by the weight
    ``w = max(0, 1 - var(g) / (g - 1)^2)``.

    ``free_lower``/``free_upper`` (n, m): the free model's bounds of its normalised abundances (divided by
    its abundance sum ``g`` (n,), whose noise variance is ``var_g`` (n,)).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.sqrt(np.clip(1.0 - var_g / (g - 1.0) ** 2, 0.0, 1.0))
    w = np.where((g > 0) & np.isfinite(w), w, 0.0)[:, None]
    widened_lo = np.where(w > 0, lower + w * (free_lower - lower), lower)
    widened_up = np.where(w > 0, upper + w * (free_upper - upper), upper)
    return np.fmin(lower, widened_lo), np.fmax(upper, widened_up)


def bootstrap_intervals(pixels, bundles, method="fcls", level=0.9, n_draws=30, random_state=0):
    """Quantile intervals over random draws of one spectrum per mineral.

    Parameters
    ----------
    pixels : array (n, b)
    bundles : list of m arrays (k_i, b)
        Spectra of each mineral (at least one mineral with two or more spectra).
    method : solver name
    level : float, nominal coverage (0.9 -> 5 % and 95 % quantiles)
    n_draws : int

    Returns
    -------
    lower, upper : ndarrays (n, m) fractions
    """
    sizes = [len(b) for b in bundles]
    if max(sizes) < 2:
        raise InputError("bootstrap intervals need several spectra for at least one mineral "
                         f"(bundle sizes {sizes}); use residual intervals instead")
    rng = np.random.default_rng(random_state)
    solver = SOLVERS[method]
    draws = []
    for _ in range(n_draws):
        E = np.stack([bundle[rng.integers(len(bundle))] for bundle in bundles])
        draws.append(solver(pixels, E))
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(np.stack(draws), [alpha, 1.0 - alpha], axis=0)
    return lower, upper


def coverage(truth, lower, upper):
    """Fraction of finite truth values inside [lower, upper], per column (m,) and overall."""
    T = np.asarray(truth, dtype=np.float64)
    ok = np.isfinite(T) & np.isfinite(lower) & np.isfinite(upper)
    inside = (T >= lower) & (T <= upper) & ok
    per = inside.sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    return per, float(inside.sum() / max(ok.sum(), 1))
