"""Regenerate core/data/usgs1995_subset.npz from the developer data pack (one-off, provenance).

Usage: .venv/bin/python scripts/make_usgs_subset.py ../shared/data/usgs1995_library.npz
Keeps every spectrum whose name starts with one of MINERALS (the mission's minerals and their
common companions in tailings), unchanged (float32 reflectance, 224 AVIRIS bands sorted by wavelength).
"""
import sys

import numpy as np

MINERALS = ("Kaolinite", "Muscovite", "Chlorite", "Montmorillonite", "Alunite", "Jarosite", "Goethite",
            "Limonite", "Gypsum", "Calcite", "Hematite", "Dolomite", "Illite", "Nontronite", "Pyrophyllite",
            "Malachite", "Chrysocolla", "Azurite", "Sphalerite", "Pyrite", "Chalcopyrite", "Quartz")


def main(src, dst="core/data/usgs1995_subset.npz"):
    lib = np.load(src)
    names = [str(n) for n in lib["names"]]
    keep = [i for i, n in enumerate(names) if n.split(" ")[0].split("_")[0] in MINERALS]
    np.savez_compressed(dst, names=np.array([names[i] for i in keep]),
                        reflectance=lib["reflectance"][keep].astype(np.float32),
                        wavelengths_nm=lib["wavelengths_nm"], fwhm_nm=lib["fwhm_nm"],
                        source_index=np.array(keep, dtype=np.int16))
    print(f"{len(keep)} spectra -> {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:])
