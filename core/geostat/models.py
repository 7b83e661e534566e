"""Variogram models: small classes with one method, ``gamma(h)``, and the formula in the docstring.

Parameters follow gstat's ``vgm(psill, model, range, nugget)``:

* ``psill`` – partial sill of the structure (units of the variable squared);
* ``range_`` – range parameter ``a`` in the units of the coordinates (metres). As in gstat it is the
  scale parameter of the formula: the spherical model reaches its sill at ``a``; the exponential and
  gaussian models reach 95 % of it at about ``3a`` and ``1.73a`` (their "practical range");
* ``nugget`` – discontinuity at the origin: ``gamma(0) = 0`` and ``gamma(0+) = nugget``.

Models add up into nested structures: ``Nugget(0.05) + Spherical(0.6, 900)`` or
``Spherical(1, 100) + Exponential(2, 800)``. ``covariance(h) = sill - gamma(h)`` for bounded models.
:data:`MODELS` maps names (``"spherical"``, gstat's ``"Sph"``) to classes.
"""
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from ..errors import InputError
from .structures import EXPONENTIAL, GAUSSIAN, NOT_COMPILED, NUGGET, POWER, SPHERICAL


def _jump(h, nugget):
    """``nugget`` where h > 0, 0 at h == 0 (the nugget discontinuity)."""
    return np.where(h > 0, nugget, 0.0)


class VariogramModel:
    """Base class. Subclasses are dataclasses with ``psill``, ``range_`` (or ``exponent``) and ``nugget``."""

    CODE = NOT_COMPILED  # structure code for the compiled kriging kernel (geostat/structures.py)
    FIT_PARAMS = ("psill", "range_")
    bounded = True

    @property
    def sill(self):
        """Total sill ``nugget + psill`` (``inf`` for unbounded models)."""
        return sum(p.nugget + (p.psill if p.bounded else math.inf) for p in self.parts())

    def covariance(self, h):
        """``C(h) = sill - gamma(h)`` (bounded models only)."""
        return self.sill - self.gamma(h)

    def parts(self):
        """The elementary structures (a list with this model alone, or a nested model's components)."""
        return [self]

    def __add__(self, other):
        return NestedModel(self.parts() + other.parts())

    def get_params(self, deep=True):
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def to_dict(self):
        """JSON-friendly description: ``{"model": "spherical", "psill": .., "range_": .., "nugget": ..}``."""
        return {"model": _NAMES[type(self)], **{k: float(v) for k, v in self.get_params().items()}}

    def practical_range(self):
        """Distance (coordinate units) where gamma reaches 95 % of the structure's partial sill."""
        return self.range_ * {EXPONENTIAL: 3.0, GAUSSIAN: math.sqrt(3.0)}.get(self.CODE, 1.0)


@dataclass
class Nugget(VariogramModel):
    """Pure nugget: ``gamma(h) = nugget`` for h > 0, 0 at h = 0."""

    nugget: float = 1.0
    CODE = NUGGET
    FIT_PARAMS = ()

    @property
    def psill(self):
        return 0.0

    def gamma(self, h):
        return _jump(np.asarray(h, float), self.nugget)


@dataclass
class Spherical(VariogramModel):
    """``gamma(h) = nugget + psill * (1.5 h/a - 0.5 (h/a)^3)`` for 0 < h < a, ``nugget + psill`` beyond (a = range_)."""

    psill: float = 1.0
    range_: float = 1.0
    nugget: float = 0.0
    CODE = SPHERICAL

    def gamma(self, h):
        h = np.asarray(h, float)
        r = np.minimum(h / self.range_, 1.0)
        return _jump(h, self.nugget) + self.psill * (1.5 * r - 0.5 * r ** 3)


@dataclass
class Exponential(VariogramModel):
    """``gamma(h) = nugget + psill * (1 - exp(-h/a))`` for h > 0 (gstat ``Exp``; practical range 3a)."""

    psill: float = 1.0
    range_: float = 1.0
    nugget: float = 0.0
    CODE = EXPONENTIAL

    def gamma(self, h):
        h = np.asarray(h, float)
        return _jump(h, self.nugget) + self.psill * (1.0 - np.exp(-h / self.range_))


@dataclass
class Gaussian(VariogramModel):
    """``gamma(h) = nugget + psill * (1 - exp(-(h/a)^2))`` for h > 0 (gstat ``Gau``; practical range √3·a)."""

    psill: float = 1.0
    range_: float = 1.0
    nugget: float = 0.0
    CODE = GAUSSIAN

    def gamma(self, h):
        h = np.asarray(h, float)
        return _jump(h, self.nugget) + self.psill * (1.0 - np.exp(-(h / self.range_) ** 2))


@dataclass
class Matern(VariogramModel):
    """gstat ``Mat``: ``gamma(h) = nugget + psill * (1 - (h/a)^κ K_κ(h/a) / (2^(κ-1) Γ(κ)))``, κ = ``kappa``.

    ``kappa`` = 0.5 is the exponential model; κ → ∞ tends to the gaussian. ``kappa`` is not fitted.
    """

    psill: float = 1.0
    range_: float = 1.0
    nugget: float = 0.0
    kappa: float = 0.5

    def gamma(self, h):
        from scipy.special import gamma as gamma_fn
        from scipy.special import kv

        h = np.asarray(h, float)
        r = np.maximum(h / self.range_, 1e-300)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            corr = r ** self.kappa * kv(self.kappa, r) / (2.0 ** (self.kappa - 1.0) * gamma_fn(self.kappa))
        corr = np.where(np.isfinite(corr), np.minimum(corr, 1.0), 0.0)
        corr = np.where(h > 0, corr, 1.0)
        return _jump(h, self.nugget) + self.psill * (1.0 - corr)


@dataclass
class Power(VariogramModel):
    """gstat ``Pow``: ``gamma(h) = nugget + psill * h^exponent`` for h > 0, 0 < exponent < 2 (unbounded: no sill).

    Usable with ordinary/universal kriging, not with simple kriging (no covariance).
    """

    psill: float = 1.0
    exponent: float = 1.0
    nugget: float = 0.0
    CODE = POWER
    FIT_PARAMS = ("psill", "exponent")
    bounded = False

    def gamma(self, h):
        h = np.asarray(h, float)
        return _jump(h, self.nugget) + self.psill * h ** self.exponent

    def practical_range(self):
        return math.inf


class NestedModel(VariogramModel):
    """Sum of structures: ``gamma(h) = Σ_k gamma_k(h)`` (nuggets add up). Build it with ``+``."""

    def __init__(self, components):
        self.components = list(components)

    @property
    def bounded(self):
        return all(p.bounded for p in self.components)

    @property
    def nugget(self):
        return sum(p.nugget for p in self.components)

    @property
    def psill(self):
        return sum(p.psill for p in self.components)

    def parts(self):
        return list(self.components)

    def gamma(self, h):
        return sum(p.gamma(h) for p in self.components)

    def get_params(self, deep=True):
        return {"components": self.components}

    def to_dict(self):
        return {"model": "nested", "components": [p.to_dict() for p in self.components]}

    def practical_range(self):
        return max(p.practical_range() for p in self.components)

    def __repr__(self):
        return " + ".join(repr(p) for p in self.components)

    def __eq__(self, other):
        return isinstance(other, NestedModel) and self.components == other.components


MODELS = {"nugget": Nugget, "spherical": Spherical, "exponential": Exponential, "gaussian": Gaussian,
          "matern": Matern, "power": Power,
          "Nug": Nugget, "Sph": Spherical, "Exp": Exponential, "Gau": Gaussian, "Mat": Matern, "Pow": Power}
#: the models fitted by name (remine:variogram, the kriging algorithms), first = default
FITTED_MODELS = ("spherical", "exponential", "gaussian", "matern", "power")
_NAMES = {Nugget: "nugget", Spherical: "spherical", Exponential: "exponential", Gaussian: "gaussian",
          Matern: "matern", Power: "power"}


def model_from_dict(d):
    """Inverse of ``to_dict()``: ``{"model": "spherical", "psill": 1, "range_": 900, "nugget": 0.1}``."""
    d = dict(d)
    name = d.pop("model")
    if name == "nested":
        return NestedModel([model_from_dict(c) for c in d["components"]])
    if name not in MODELS:
        raise InputError(f"variogram model '{name}' unknown; expected one of {sorted(_NAMES.values())}")
    return MODELS[name](**d)


def with_params(model, **params):
    """A copy of an elementary model with some parameters replaced."""
    return replace(model, **params)


def pseudo_sill(model, extent):
    """A constant ``A`` for ``C(h) = A - gamma(h)``: the sill for bounded models, else twice gamma at ``extent``.

    Ordinary and universal kriging give the same weights for any ``A``; a large enough ``A`` keeps the
    pseudo-covariance matrix positive definite for unbounded (power) models.
    """
    if model.bounded:
        return model.sill
    return 2.0 * float(model.gamma(np.array([max(extent, 1e-12)]))[0]) + model.nugget


def write_model_json(model, path):
    """Write ``model.to_dict()`` (plus fit information when present) as JSON; returns the path."""
    import json

    d = model.to_dict()
    info = getattr(model, "fit_info_", None)
    if info is not None:
        d["fit"] = {k: v for k, v in info.items() if k != "message"}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, indent=2)
    return path


def read_model_json(path):
    """Read a model written by :func:`write_model_json` (or any ``{"model": name, ...}`` JSON)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read a variogram model from {path}: {exc}; expected JSON such as "
                         '{"model": "spherical", "psill": 0.59, "range_": 897, "nugget": 0.05}') from exc
    d.pop("fit", None)
    try:
        return model_from_dict(d)
    except (KeyError, TypeError) as exc:
        raise InputError(f"{path} does not describe a variogram model ({exc}); expected keys model, psill, "
                         "range_, nugget") from exc
