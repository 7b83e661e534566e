"""Geometric anisotropy: a linear map of coordinates after which the variogram is isotropic.

Conventions are gstat's (``vgm(..., anis=c(angle, ratio))`` in 2D, ``anis=c(p, q, r, s, t)`` in 3D,
which are GSLIB's): angles in degrees, the first one the azimuth of the major axis clockwise from
North (+y); ratios = minor range / major range (≤ 1). Distances in the mapped space are measured
in units of the major-axis range, so the model's ``range_`` is the range along the major axis.
"""
import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..errors import InputError


@dataclass
class Anisotropy:
    """Geometric anisotropy.

    Parameters
    ----------
    angles : tuple of float, degrees
        2D: ``(azimuth,)`` of the major axis, clockwise from North. 3D: ``(azimuth, dip, plunge)``
        (gstat ``p, q, r``).
    ratios : tuple of float
        2D: ``(minor/major,)``; 3D: ``(semi-minor/major, vertical/major)`` (gstat ``s, t``), each in (0, 1].
    """

    angles: Tuple[float, ...] = (0.0,)
    ratios: Tuple[float, ...] = (1.0,)

    def matrix(self, ndim):
        """Matrix ``M`` (ndim, ndim) such that mapped coordinates are ``coords @ M.T``."""
        angles, ratios = tuple(np.atleast_1d(self.angles)), tuple(np.atleast_1d(self.ratios))
        if any(not (0 < r <= 1) for r in ratios):
            raise InputError(f"anisotropy ratios {ratios} must lie in (0, 1] (minor range / major range)")
        if ndim == 2:
            if len(angles) != 1 or len(ratios) != 1:
                raise InputError(f"2D anisotropy needs one angle and one ratio, got angles={angles} ratios={ratios}")
            a = math.radians(90.0 - angles[0])
            return np.array([[math.cos(a), math.sin(a)],
                             [-math.sin(a) / ratios[0], math.cos(a) / ratios[0]]])
        if len(angles) != 3 or len(ratios) != 2:
            raise InputError(f"3D anisotropy needs three angles and two ratios, got angles={angles} ratios={ratios}")
        # GSLIB setrot
        alpha = math.radians(90.0 - angles[0])
        beta, theta = math.radians(-angles[1]), math.radians(angles[2])
        sa, ca, sb, cb, st, ct = (math.sin(alpha), math.cos(alpha), math.sin(beta), math.cos(beta),
                                  math.sin(theta), math.cos(theta))
        return np.array([
            [cb * ca, cb * sa, -sb],
            [(-ct * sa + st * sb * ca) / ratios[0], (ct * ca + st * sb * sa) / ratios[0], st * cb / ratios[0]],
            [(st * sa + ct * sb * ca) / ratios[1], (-st * ca + ct * sb * sa) / ratios[1], ct * cb / ratios[1]],
        ])

    def transform(self, coords):
        """Map ``coords`` (n, ndim) to the isotropic space."""
        coords = np.asarray(coords, float)
        return coords @ self.matrix(coords.shape[1]).T


def as_anisotropy(anisotropy):
    """None, an :class:`Anisotropy`, or gstat-style ``(angle, ratio)`` / ``(p, q, r, s, t)`` tuples."""
    if anisotropy is None or isinstance(anisotropy, Anisotropy):
        return anisotropy
    a = tuple(float(v) for v in anisotropy)
    if len(a) == 2:
        return Anisotropy((a[0],), (a[1],))
    if len(a) == 5:
        return Anisotropy(a[:3], a[3:])
    raise InputError(f"anisotropy {anisotropy!r} not understood; expected (angle, ratio) in 2D or "
                     "(azimuth, dip, plunge, ratio1, ratio2) in 3D, or an Anisotropy")
