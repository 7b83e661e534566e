"""Endmember sets for a cube: library spectra grouped by mineral, resampled to the cube's bands.

An :class:`EndmemberSet` holds, for each of ``m`` minerals, a *bundle* of one or more spectra on the
cube's band grid (``band_index`` tells which cube bands they cover). One spectrum per mineral is the
plain case; several per mineral express endmember variability and are used either all at once
(bundle unmixing: the abundances of a mineral's spectra are summed, Somers et al. 2012, Remote Sens.
Environ. 120) or by drawing one spectrum per mineral (bootstrap intervals).
"""
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..errors import InputError, RemineWarning
from .solvers import check_endmembers


@dataclass
class EndmemberSet:
    """Spectra per mineral on the cube's bands.

    Attributes
    ----------
    minerals : list of m str
    bundles : list of m arrays (k_i, b) reflectance on the cube bands ``band_index``
    spectrum_names : list of m lists of k_i str
    band_index : ndarray (b,) 0-based cube bands used (ascending-wavelength order)
    wavelengths_nm : ndarray (b,) their wavelengths, or None
    """

    minerals: List[str]
    bundles: List[np.ndarray]
    spectrum_names: List[List[str]]
    band_index: np.ndarray
    wavelengths_nm: Optional[np.ndarray] = None

    @property
    def has_variability(self):
        return any(len(b) > 1 for b in self.bundles)

    def matrix(self):
        """(m, b): the first spectrum of each mineral's bundle (the plain endmember matrix)."""
        return np.stack([b[0] for b in self.bundles])

    def flat(self):
        """All spectra stacked (sum k_i, b) and the mineral index (sum k_i,) of each row."""
        return np.concatenate(self.bundles), np.repeat(np.arange(len(self.bundles)), [len(b) for b in self.bundles])


def mineral_of(name):
    """Mineral group of a library spectrum name: its first word, lower case ("Kaolinite CM9" -> "kaolinite")."""
    return str(name).strip().split()[0].lower() if str(name).strip() else ""


def _groups(library, group_field):
    """``{label: [spectrum rows]}``: bundles from the metadata column ``group_field`` (labels lower case),
    or, without one, one group per spectrum named as in the library. Spectra sharing a name are kept
    apart as ``name_1``, ``name_2``, ... with a warning (never merged)."""
    meta = library.metadata
    if group_field:
        if meta is None or group_field not in meta.columns:
            have = ", ".join(meta.columns) if meta is not None and len(meta.columns) else "none"
            raise InputError(f"the endmember library has no field {group_field!r} to group spectra into bundles; "
                             f"its fields are: {have}")
        groups = {}
        for i, v in enumerate(meta[group_field]):
            groups.setdefault(str(v).strip().lower(), []).append(i)
        return groups
    names = [str(n).strip() for n in library.names]
    counts = {n: names.count(n) for n in names}
    repeated = sorted(n for n, c in counts.items() if c > 1)
    if repeated:
        warnings.warn(f"spectra named {', '.join(repeated)} appear more than once; they are unmixed as separate "
                      "endmembers (suffixes _1, _2, ...). Choose a grouping field to unmix them as one bundle",
                      RemineWarning, stacklevel=4)
    seen, groups = {}, {}
    for i, n in enumerate(names):
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            n = f"{n}_{seen[n]}"
        groups[n] = [i]
    return groups


def _bands_in_range(library, cube_wavelengths_nm):
    """Cube bands whose centre lies inside the library's wavelength range (InputError if none)."""
    wl = np.asarray(cube_wavelengths_nm, dtype=float)
    lo, hi = library.wavelengths_nm[0], library.wavelengths_nm[-1]
    inside = np.flatnonzero((wl >= lo - 1e-6) & (wl <= hi + 1e-6))
    if inside.size == 0:
        raise InputError(f"the endmember library covers {lo:g}–{hi:g} nm but the cube {wl[0]:g}–{wl[-1]:g} nm: "
                         "the ranges do not overlap")
    if inside.size < wl.size:
        warnings.warn(f"only {inside.size} of the cube's {wl.size} bands lie within the library range "
                      f"{lo:g}–{hi:g} nm; unmixing uses those", RemineWarning, stacklevel=3)
    return inside


def library_on_cube_bands(library, cube_wavelengths_nm, cube_fwhm_nm=None):
    """``(library resampled to the cube bands inside its range, band_index (b,))``; resampling (different
    wavelength grids) is announced with a :class:`RemineWarning`."""
    wl = np.asarray(cube_wavelengths_nm, dtype=float)
    band_index = _bands_in_range(library, wl)
    target = wl[band_index]
    same_grid = library.n_bands == target.size and np.allclose(library.wavelengths_nm, target, atol=1e-3)
    if not same_grid:
        warnings.warn(f"endmember spectra resampled from {library.n_bands} bands "
                      f"({library.wavelengths_nm[0]:g}–{library.wavelengths_nm[-1]:g} nm) to the cube's "
                      f"{target.size} bands", RemineWarning, stacklevel=3)
        fwhm = None if cube_fwhm_nm is None else np.asarray(cube_fwhm_nm, dtype=float)[band_index]
        library = library.resampled(target, fwhm)
    return library, band_index


def library_endmembers(library, cube_wavelengths_nm, cube_fwhm_nm=None, minerals=None, group_field=None):
    """Endmembers of a :class:`~remine.core.spectra.library.SpectralLibrary` on the cube's bands: one per
    spectrum, or bundles of the spectra sharing a value of ``group_field``.

    Parameters
    ----------
    library : SpectralLibrary
    cube_wavelengths_nm : array (bands,) nm, ascending
    cube_fwhm_nm : array (bands,) nm, optional (Gaussian resampling; linear interpolation without)
    minerals : list of str, optional
        Endmembers (spectrum names, or group values) to keep, in this order (case-insensitive). Default:
        every one, in library order.
    group_field : str, optional
        Metadata column whose values group spectra into bundles (e.g. ``"mineral"``); InputError if the
        library has no such column. Without it every spectrum is its own endmember, named as in the
        library: spectra are never merged by their names.

    Returns
    -------
    EndmemberSet. Resampling (different wavelength grids) is announced with a :class:`RemineWarning`.
    """
    library, band_index = library_on_cube_bands(library, cube_wavelengths_nm, cube_fwhm_nm)
    target = library.wavelengths_nm
    groups = _groups(library, group_field)
    if minerals is None:
        minerals = list(groups)
    else:
        by_lower = {g.lower(): g for g in groups}
        missing = [str(m).strip() for m in minerals if str(m).strip().lower() not in by_lower]
        minerals = [by_lower.get(str(m).strip().lower()) for m in minerals]
        if missing:
            raise InputError(f"no library spectrum for endmember(s) {', '.join(missing)}; "
                             f"the library has {', '.join(sorted(groups))}")
    values = np.asarray(library.values, dtype=np.float64)
    bundles = [values[groups[m]] for m in minerals]
    names = [[library.names[i] for i in groups[m]] for m in minerals]
    for m, b, n in zip(minerals, bundles, names):
        if not np.all(np.isfinite(b)):
            raise InputError(f"library spectra of {m} ({', '.join(n)}) have missing values on the cube's bands")
    check_endmembers(np.stack([b.mean(axis=0) for b in bundles]), minerals)
    return EndmemberSet(minerals, bundles, names, band_index, target)


def array_endmembers(values, minerals, n_cube_bands):
    """EndmemberSet from a plain (m, b) array already on the cube's b bands."""
    if len(minerals) != len(values):
        raise InputError(f"{len(values)} endmember spectra but {len(minerals)} mineral names")
    E = check_endmembers(values, minerals, n_bands=n_cube_bands)
    return EndmemberSet(list(minerals), [row[None] for row in E], [[m] for m in minerals], np.arange(n_cube_bands))
