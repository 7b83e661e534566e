"""Weighted least-squares fit of a variogram model to a sample variogram (gstat ``fit.variogram``).

Minimises ``Σ_j w_j (γ̂_j − γ(h_j; θ))²`` over the nugget, partial sills and ranges (power exponents),
starting from the parameters of the given model (or, for a model name, from gstat's initial values), with
gstat's weights:

* ``"npairs_over_h2"`` – ``w_j = N_j / h_j²`` (gstat ``fit.method = 7``, its default);
* ``"npairs"`` – ``w_j = N_j`` (``fit.method = 1``);
* ``"cressie"`` – ``w_j = N_j / γ(h_j)²`` (``fit.method = 2``);
* ``"equal"`` – ``w_j = 1`` (``fit.method = 6``).

Sills are kept ≥ 0 and ranges > 0. A fit that stops on the iteration limit is reported with a
:class:`RemineWarning` that names the initial values used; ``model.fit_info_`` holds the details.
"""
import warnings

import numpy as np

from ..errors import InputError, RemineWarning
from .anisotropy import Anisotropy
from .models import MODELS, NestedModel, VariogramModel, with_params
from .variogram import experimental_variogram

WEIGHTS = {"npairs_over_h2": 7, "npairs": 1, "cressie": 2, "equal": 6}


def _layout(model):
    """Parameter vector layout: nugget first, then the FIT_PARAMS of every structure."""
    parts = model.parts()
    names = [(k, name) for k, p in enumerate(parts) for name in p.FIT_PARAMS]
    x0 = [sum(p.nugget for p in parts)] + [float(getattr(parts[k], name)) for k, name in names]
    return parts, names, np.array(x0, float)


def _build(parts, names, x):
    new = [with_params(p, nugget=0.0) for p in parts]
    new[0] = with_params(new[0], nugget=float(x[0]))
    for (k, name), v in zip(names, x[1:]):
        new[k] = with_params(new[k], **{name: float(v)})
    return new[0] if len(new) == 1 else NestedModel(new)


def _bounds(names, lags):
    lo, hi = [0.0], [np.inf]
    for _, name in names:
        if name == "exponent":
            lo.append(1e-6)
            hi.append(1.999999)
        elif name == "range_":
            lo.append(1e-9 * max(float(np.max(lags)), 1e-12))
            hi.append(np.inf)
        else:
            lo.append(0.0)
            hi.append(np.inf)
    return np.array(lo), np.array(hi)


def fit_variogram(experimental, model, weights="npairs_over_h2", fit_nugget=True, max_iter=200):
    """Fit ``model`` to an experimental variogram.

    Parameters
    ----------
    experimental : ExperimentalVariogram or tuple ``(lags, gamma, npairs)``
    model : VariogramModel (elementary or nested), e.g. ``Spherical(psill=1, range_=900, nugget=1)``, whose
        parameters are the initial values; or a model name (``"spherical"``, ``"Sph"``, ...), whose initial
        values are derived from the variogram as gstat's ``fit.variogram(v, vgm("Sph"))`` does
        (:func:`initial_model`).
    weights : "npairs_over_h2" | "npairs" | "cressie" | "equal"
    fit_nugget : bool
        False keeps the nugget at its initial value.
    max_iter : int
        Iteration limit (function evaluations), gstat's default 200.

    Returns
    -------
    A new model of the same structure with fitted parameters, and ``fit_info_`` =
    ``{"converged", "sse", "nfev", "initial", "weights", "message"}``.
    """
    from scipy.optimize import least_squares

    lags, gamma, npairs = (np.asarray(a, float) for a in experimental)
    if weights not in WEIGHTS:
        raise InputError(f"weights '{weights}' unknown; expected one of {sorted(WEIGHTS)}")
    keep = (npairs > 0) & (lags > 0) & np.isfinite(gamma)
    lags, gamma, npairs = lags[keep], gamma[keep], npairs[keep]
    if len(lags) < 2:
        raise InputError(f"the experimental variogram has {len(lags)} usable bins; expected at least 2")
    if np.ptp(gamma) == 0 and gamma[0] == 0:
        raise InputError("the experimental variogram is flat at zero (constant values): nothing to fit")
    if isinstance(model, str):
        model = initial_model(model, (lags, gamma, npairs))
    parts, names, x0 = _layout(model)
    lo, hi = _bounds(names, lags)
    x0 = np.clip(x0, lo, hi)
    free = np.ones(len(x0), bool)
    free[0] = bool(fit_nugget)
    scale = np.where(np.abs(x0) > 0, np.abs(x0), 1.0)

    def full(xf):
        x = x0.copy()
        x[free] = xf * scale[free]
        return x

    def residuals(xf):
        m = _build(parts, names, full(xf))
        pred = m.gamma(lags)
        if weights == "npairs_over_h2":
            w = npairs / lags ** 2
        elif weights == "npairs":
            w = npairs
        elif weights == "cressie":
            w = npairs / np.maximum(pred, 1e-300) ** 2
        else:
            w = np.ones_like(lags)
        return np.sqrt(w) * (gamma - pred)

    initial = _build(parts, names, x0)
    res = least_squares(residuals, x0[free] / scale[free], bounds=(lo[free] / scale[free], hi[free] / scale[free]),
                        method="trf", max_nfev=max_iter, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    fitted = _build(parts, names, full(res.x))
    converged = bool(res.status > 0)
    fitted.fit_info_ = {"converged": converged, "sse": float(np.sum(res.fun ** 2)), "nfev": int(res.nfev),
                        "initial": initial.to_dict(), "weights": weights, "message": res.message}
    if not converged:
        warnings.warn(f"variogram fit did not converge within {max_iter} iterations ({res.message}); initial "
                      f"values were {initial.to_dict()}; result {fitted.to_dict()} may be meaningless: give "
                      "initial values closer to the sample variogram (sill ≈ variance of the values)",
                      RemineWarning, stacklevel=2)
    return fitted


def initial_model(name, experimental):
    """Initial values for the model called ``name`` (a key of MODELS), as gstat fills a ``vgm("Sph")``.

    gstat's ``vgm_fill_na``: range = max(lags) / 3, nugget = mean of the first three semivariances, partial
    sill = mean of the last five. A power model (whose "range" is its exponent in gstat) starts at exponent 1
    with the scale that meets the mean of the last five semivariances at their mean lag.

    ``experimental``: ExperimentalVariogram or ``(lags, gamma, npairs)`` (empty bins are ignored).
    """
    if name not in MODELS:
        raise InputError(f"variogram model '{name}' unknown; expected one of spherical, exponential, gaussian, "
                         "matern, power")
    lags, gamma, npairs = (np.asarray(a, float) for a in experimental)
    keep = (npairs > 0) & np.isfinite(gamma)
    lags, gamma = lags[keep], gamma[keep]
    if len(lags) == 0:
        raise InputError("the experimental variogram has no usable bins; expected at least 2")
    nugget, sill = float(np.mean(gamma[:3])), float(np.mean(gamma[-5:]))
    cls = MODELS[name]
    if cls.__name__ == "Nugget":
        return cls(nugget=nugget)
    if cls.__name__ == "Power":
        return cls(psill=sill / max(float(np.mean(lags[-5:])), 1e-300), exponent=1.0, nugget=nugget)
    return cls(psill=sill, range_=float(np.max(lags)) / 3.0, nugget=nugget)


def auto_model(coords, values, model="spherical", drift=None, **variogram_kwargs):
    """Fit a ``model`` (name) to the sample variogram with gstat's defaults and :func:`initial_model` values.

    With ``drift`` (n, p) the variogram is that of the residuals of a least-squares fit of the values on
    ``[1, drift]`` (the model external drift kriging needs).
    """
    values = np.asarray(values, float)
    if drift is not None:
        d = np.asarray(drift, float).reshape(len(values), -1)
        ok = np.all(np.isfinite(d), axis=1) & np.isfinite(values)
        design = np.column_stack([np.ones(ok.sum()), d[ok]])
        coef = np.linalg.lstsq(design, values[ok], rcond=None)[0]
        coords, values = np.asarray(coords, float)[ok], values[ok] - design @ coef
    ev = experimental_variogram(coords, values, **variogram_kwargs)
    return fit_variogram(ev, model)


def resolve_model(model, coords, values, drift=None, lognormal=False):
    """The variogram model of a kriging run, resolved once: a :class:`VariogramModel` as given, or the model
    named ``model`` (None: "spherical") fitted by :func:`auto_model` to the values (their logs when
    ``lognormal``, the residuals of the drift (n, p) when given)."""
    if isinstance(model, VariogramModel):
        return model
    values = np.asarray(values, float)
    if lognormal:
        if np.nanmin(values) <= 0:
            raise InputError(f"lognormal kriging needs values > 0; got min {np.nanmin(values):g}")
        values = np.log(values)
    return auto_model(coords, values, model=model or "spherical", drift=drift)


def fit_anisotropy(coords, values, model, directions=(0.0, 45.0, 90.0, 135.0), tolerance=22.5, **variogram_kwargs):
    """Geometric anisotropy (2D) from directional variograms.

    The model is fitted to the omnidirectional variogram, then its range is refitted (sills and nugget fixed)
    to the variogram of each direction (azimuth, degrees clockwise from North). The directional ranges
    ``r(θ)`` are matched by an ellipse, ``1/r(θ)² = uᵀ Q u`` with ``u = (sin θ, cos θ)``, by least squares; its
    axes give the major range, the minor/major ratio and the azimuth of the major axis.

    Returns
    -------
    (model with ``range_`` = major range, Anisotropy(angle, ratio), ranges per direction (dict)).
    """
    if len(directions) < 3:
        raise InputError(f"{len(directions)} directions given; at least 3 are needed to fit an ellipse")
    omni = fit_variogram(experimental_variogram(coords, values, **variogram_kwargs), model)
    if len(omni.parts()) != 1 or "range_" not in omni.FIT_PARAMS:
        raise InputError(f"anisotropy fitting needs one structure with a range; got {omni!r}")
    ranges, rows = {}, []
    for theta in directions:
        ev = experimental_variogram(coords, values, direction=theta, tolerance=tolerance, **variogram_kwargs)
        fitted = fit_range_only(ev, omni)
        ranges[float(theta)] = fitted
        u = np.array([np.sin(np.radians(theta)), np.cos(np.radians(theta))])
        rows.append([u[0] ** 2, u[1] ** 2, 2 * u[0] * u[1]])
    target = np.array([1.0 / r ** 2 for r in ranges.values()])
    qxx, qyy, qxy = np.linalg.lstsq(np.array(rows), target, rcond=None)[0]
    evals, evecs = np.linalg.eigh(np.array([[qxx, qxy], [qxy, qyy]]))
    if evals[0] <= 0:
        raise InputError(f"directional ranges {ranges} do not fit an ellipse; the variogram looks isotropic or "
                         "zonal: use an isotropic model or other directions")
    major, minor = 1.0 / np.sqrt(evals[0]), 1.0 / np.sqrt(evals[1])
    vx, vy = evecs[:, 0]  # direction of the major axis (smallest curvature)
    angle = float(np.degrees(np.arctan2(vx, vy)) % 180.0)
    return with_params(omni, range_=float(major)), Anisotropy((angle,), (float(minor / major),)), ranges


def fit_range_only(experimental, model):
    """Range of ``model`` refitted to ``experimental`` with sills and nugget fixed (npairs/h² weights)."""
    from scipy.optimize import minimize_scalar

    lags, gamma, npairs = (np.asarray(a, float) for a in experimental)
    keep = (npairs > 0) & (lags > 0)
    lags, gamma, w = lags[keep], gamma[keep], npairs[keep] / lags[keep] ** 2

    def sse(log_range):
        return float(np.sum(w * (gamma - with_params(model, range_=float(np.exp(log_range))).gamma(lags)) ** 2))

    lo, hi = np.log(lags.min() / 10.0), np.log(lags.max() * 10.0)
    return float(np.exp(minimize_scalar(sse, bounds=(lo, hi), method="bounded").x))
