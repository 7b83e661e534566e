"""Reference data shipped with remine (small, public domain; provenance in README.md here)."""
import os

import numpy as np

DATA_DIR = os.path.dirname(os.path.abspath(__file__))


def usgs_library():
    """The shipped USGS 1995 spectral-library subset (224 AVIRIS-convolved bands).

    Returns
    -------
    names : list[str]
        Sample names as in the USGS library (e.g. ``"Kaolinite CM9"``), length n.
    wavelengths_nm : ndarray (224,)
        Band centres in nanometres, strictly increasing (383.15 … 2508.20 nm).
    fwhm_nm : ndarray (224,)
        Band widths (FWHM) in nanometres.
    reflectance : ndarray (n, 224) float32
        Reflectance, unitless (0 … ~1).
    """
    with np.load(os.path.join(DATA_DIR, "usgs1995_subset.npz")) as f:
        return ([str(n) for n in f["names"]], f["wavelengths_nm"].astype(float),
                f["fwhm_nm"].astype(float), f["reflectance"].astype(np.float32))


def usgs_spectrum(prefix):
    """First library spectrum whose name starts with ``prefix`` -> (name, reflectance (224,))."""
    names, _, _, refl = usgs_library()
    for i, name in enumerate(names):
        if name.lower().startswith(prefix.lower()):
            return name, refl[i]
    raise KeyError(f"no spectrum named '{prefix}…' in the shipped USGS subset; names: {', '.join(names)}")
