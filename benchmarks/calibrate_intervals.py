"""Calibration of per-pixel abundance intervals (and MESMA accuracy) on the demo scene, truth known.

Scenes (300 x 300, 89 700 valid pixels, every ``--step``-th pixel is used):

- ``demo``: ``make_demo(seed=0)``: the nine minerals' USGS spectra, smooth per-pixel illumination
  ``1 + 0.06 N(0, 1)``, noise 0.004 (the model FCLS assumes does not hold: brightness is not 1);
- ``steady``: the demo's true abundances mixed with the same spectra, brightness exactly 1, noise 0.004
  (seed 1): the FCLS model holds, so the model-form term should leave the intervals nearly unchanged.

Endmember sets: the true spectra; all USGS spectra of the nine minerals as bundles (59 spectra); and for
MESMA, pairs (the scene's spectrum and the next library spectrum of that mineral: 2^9 = 512 models).
Each row: abundance RMSE against the truth (fractions), coverage of nominal 90 % intervals (overall and
the per-mineral range), mean interval width (%), seconds; for the pair rows also the share of mineral
abundances above 5 % for which the scene's own spectrum is reported.

Usage: python benchmarks/calibrate_intervals.py [--out result.json] [--step 1] [--variability bundle|mesma]
(about 10 minutes on 2 cores at step 1, most of it MESMA's 512 models, twice with intervals.)
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

LEVEL = 0.9


def scenes(folder, step):
    """{"demo": (pixels (n, b), truth (n, m)), "steady": ...} and the cube's wavelengths / FWHM."""
    from remine.core.demo import make_demo, mineral_spectra
    from remine.core.raster import read_cube

    paths = make_demo(folder, seed=0)
    cube = read_cube(paths["cube"])
    truth = read_cube(paths["truth_abundance"], require_wavelengths=False)
    X = cube.data.reshape(cube.data.shape[0], -1).T
    T = truth.data.reshape(truth.data.shape[0], -1).T.astype(np.float64)
    valid = np.flatnonzero(np.isfinite(X).all(axis=1))[::step]
    X, T = X[valid], T[valid]
    spectra = mineral_spectra()[3]
    rng = np.random.default_rng(1)
    steady = (T @ spectra + 0.004 * rng.standard_normal((len(T), spectra.shape[1]))).astype(np.float32)
    return {"demo": (X, T), "steady": (steady, T)}, cube.wavelengths_nm, cube.fwhm_nm


def endmember_sets(wl, fwhm):
    from remine.core.demo import MINERALS, mineral_spectra
    from remine.core.spectra.library import SpectralLibrary
    from remine.core.unmix import EndmemberSet, library_endmembers

    names, lib_wl, lib_fwhm, spectra = mineral_spectra()
    true = library_endmembers(SpectralLibrary(names, lib_wl, spectra, fwhm_nm=lib_fwhm), wl, fwhm)
    usgs = library_endmembers(SpectralLibrary.usgs(), wl, fwhm, minerals=list(MINERALS), group_field="mineral")
    pairs = []  # the scene's spectrum first, then the next library spectrum of that mineral
    for k, sample in enumerate(MINERALS.values()):
        i = [j for j, n in enumerate(usgs.spectrum_names[k]) if n.startswith(sample)][0]
        pairs.append([i, (i + 1) % len(usgs.spectrum_names[k])])
    pair_set = EndmemberSet(usgs.minerals, [b[p] for b, p in zip(usgs.bundles, pairs)],
                            [[n[j] for j in p] for n, p in zip(usgs.spectrum_names, pairs)], usgs.band_index,
                            usgs.wavelengths_nm)
    return {"true spectra": true, "USGS bundles (59 spectra)": usgs, "USGS pairs (18 spectra)": pair_set}


ROWS = [  # scene, endmember set, method, normalise, intervals, variability, model_form
    ("demo", "true spectra", "nnls", True, "residual", "bundle", True),
    ("demo", "USGS bundles (59 spectra)", "nnls", True, "residual", "bundle", True),
    ("demo", "USGS bundles (59 spectra)", "nnls", True, "bootstrap", "bundle", True),
    ("demo", "true spectra", "fcls", False, "residual", "bundle", False),
    ("demo", "true spectra", "fcls", False, "residual", "bundle", True),
    ("demo", "USGS bundles (59 spectra)", "fcls", False, "residual", "bundle", False),
    ("demo", "USGS bundles (59 spectra)", "fcls", False, "residual", "bundle", True),
    ("steady", "true spectra", "fcls", False, "residual", "bundle", False),
    ("steady", "true spectra", "fcls", False, "residual", "bundle", True),
    ("steady", "USGS bundles (59 spectra)", "fcls", False, "residual", "bundle", False),
    ("steady", "USGS bundles (59 spectra)", "fcls", False, "residual", "bundle", True),
    ("demo", "USGS pairs (18 spectra)", "fcls", False, "residual", "bundle", True),
    ("demo", "USGS pairs (18 spectra)", "fcls", False, "residual", "mesma", True),
    ("demo", "USGS pairs (18 spectra)", "nnls", True, "residual", "bundle", True),
    ("demo", "USGS pairs (18 spectra)", "nnls", True, "residual", "mesma", True),
]


def measure(pixels, truth, es, method, normalise, intervals, variability, model_form):
    from remine.core.unmix import coverage, unmix_pixels

    t0 = time.perf_counter()
    res = unmix_pixels(pixels, es, method, intervals, LEVEL, normalise, n_draws=30, variability=variability,
                       model_form=model_form)
    seconds = time.perf_counter() - t0
    per, overall = coverage(truth, res["lower"], res["upper"])
    row = {"abundance_rmse": round(float(np.sqrt(np.mean((res["abundances"] - truth) ** 2))), 4),
           "coverage": round(overall, 3), "coverage_min_mineral": round(float(per.min()), 3),
           "coverage_max_mineral": round(float(per.max()), 3),
           "mean_width_percent": round(float(100 * np.mean(res["upper"] - res["lower"])), 2),
           "seconds": round(seconds, 1)}
    return row, res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--step", type=int, default=1, help="use every step-th valid pixel")
    parser.add_argument("--variability", choices=["bundle", "mesma"], help="only the rows of this variability")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, wl, fwhm = scenes(folder, args.step)
    sets = endmember_sets(wl, fwhm)
    rows = []
    for scene, set_name, method, normalise, intervals, variability, model_form in ROWS:
        if args.variability not in (None, variability):
            continue
        X, T = data[scene]
        row = {"scene": scene, "endmembers": set_name, "method": method + (" + normalisation" if normalise else ""),
               "intervals": intervals + (" + model form" if model_form and method == "fcls" else ""),
               "variability": variability}
        numbers, res = measure(X, T, sets[set_name], method, normalise, intervals, variability, model_form)
        row.update(numbers)
        if set_name.startswith("USGS pairs"):  # spectrum 1 is the one the scene was made with
            row["scene_spectrum_share"] = round(float(np.mean(res["spectrum"][T > 0.05] == 1)), 3)
        print(row, file=sys.stderr)
        rows.append(row)
    _common.write_json(args.out, {"level": LEVEL, "pixels": len(data["demo"][0]), "rows": rows,
                                  "machine": _common.machine()})


if __name__ == "__main__":
    main()
