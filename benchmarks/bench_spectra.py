"""Continuum removal and Gaussian resampling of 200k pixels x 224 bands: remine vs peers, same data, same run.

Peers (requirements-bench.txt): hylite's hull correction (``hylite.correct.get_hull_corrected``, numba per
pixel via gfit), a per-pixel ``scipy.spatial.ConvexHull`` loop (on a subset: it is slow; throughput
extrapolated), and Spectral Python's ``BandResampler`` (Gaussian SRF) for resampling. Goal (issue 4): remine
>= 10x the faster continuum peer with values equal to 1e-6; the raster version (GeoTIFF in/out, block-wise)
>= 0.8x the in-memory throughput, measured both against the same file task done in memory (read whole
cube, compute, write: the like-for-like reading) and against the array-only compute (GeoTIFF DEFLATE I/O
included on one side only). Each side runs in its own process (honest peak RSS); the JIT of numba
sides is warmed up on 100 pixels before timing; each side keeps the best of ``--repeats`` runs (the machine
is shared) and reports wall and CPU time.

Usage: python benchmarks/bench_spectra.py [--out result.json] [--pixels 200000] [--scipy-pixels 10000]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

TARGET_NM = np.arange(400.0, 2500.0, 10.0)
TARGET_FWHM = 12.0


def pixels(n, seed=0):
    """n synthetic pixels: USGS library spectra, random brightness 0.6-1.4, 0.5 % noise (float32)."""
    from remine.core.data import usgs_library

    _, wl, fwhm, refl = usgs_library()
    rng = np.random.default_rng(seed)
    x = refl[rng.integers(0, len(refl), n)] * rng.uniform(0.6, 1.4, (n, 1)).astype(np.float32)
    x += rng.normal(0, 0.005, x.shape).astype(np.float32)
    return np.clip(x, 1e-4, None).astype(np.float32), wl, fwhm


def qhull_removed(y, x):
    from scipy.spatial import ConvexHull

    low = y.min() - 1.0
    hull = ConvexHull(np.vstack([np.column_stack([x, y]), [[x[0], low], [x[-1], low]]]))
    v = np.sort([i for i in hull.vertices if i < len(x)])
    return y / np.interp(x, x[v], y[v])


def side(name, n, scratch, repeats):
    """Run one side on the first ``n`` benchmark pixels (saved once by the parent), ``repeats`` times.

    Returns (best wall seconds, extra dict with the best CPU seconds). The machine is shared: the best of
    several runs is the least disturbed one.
    """
    from remine.core.data import usgs_library

    _, wl, fwhm, _ = usgs_library()
    x = np.load(os.path.join(scratch, "pixels.npy"), mmap_mode="r")[:n].copy()
    work, n_done = _work(name, x, wl, fwhm, scratch), n
    if name.endswith(("raster", "whole_file")):
        n_done = n // 500 * 500
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        y = None  # free the previous result before the next run (honest peak RSS)
        t, cpu = time.perf_counter(), time.process_time()
        y = work()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - t), min(best_cpu, time.process_time() - cpu)
    extra = {"n_pixels": n_done, "cpu_seconds": best_cpu, "repeats": repeats}
    if y is not None:
        extra["values"] = os.path.join(scratch, f"{name}.npy")
        np.save(extra["values"], y)  # as computed (no copy)
    return best_wall, extra


def _work(name, x, wl, fwhm, scratch):
    """The timed call of side ``name`` (numba sides warmed up on 100 pixels first)."""
    if name in ("remine_cr", "remine_cr_1thread", "remine_cr_index"):
        from remine.core.spectra import continuum_removed

        if name == "remine_cr_1thread":  # like for like with hylite's single-threaded loop
            import numba

            numba.set_num_threads(1)
        grid = np.arange(x.shape[1], dtype=float) if name == "remine_cr_index" else wl  # index: hylite's x axis
        continuum_removed(x[:100], grid)
        return lambda: continuum_removed(x, grid)
    if name == "hylite_cr":
        from hylite.correct import get_hull_corrected

        get_hull_corrected(x[:100].astype(np.float64), vb=False)
        return lambda: get_hull_corrected(x, vb=False)  # float64 out (gfit works in double)
    if name == "scipy_cr":
        x64 = x.astype(np.float64)
        return lambda: np.stack([qhull_removed(p, wl) for p in x64])
    if name == "remine_resample":
        from remine.core.spectra import resample

        resample(x[:100], wl, TARGET_NM, TARGET_FWHM, fwhm)
        return lambda: resample(x, wl, TARGET_NM, TARGET_FWHM, fwhm)
    if name == "spectral_resample":
        from spectral import BandResampler

        return lambda: BandResampler(wl, TARGET_NM, fwhm, np.full(len(TARGET_NM), TARGET_FWHM))(x.T).T
    if name in ("remine_cr_raster", "remine_cr_whole_file"):
        from affine import Affine

        from remine.core.raster import read_cube, write_raster
        from remine.core.spectra import continuum_removed
        from remine.core.spectra.cube import continuum_removal_raster

        rows = len(x) // 500
        cube, out = os.path.join(scratch, f"{name}_in.tif"), os.path.join(scratch, f"{name}_out.tif")
        write_raster(cube, x[:rows * 500].T.reshape(x.shape[1], rows, 500),
                     {"width": 500, "height": rows, "transform": Affine(1, 0, 500000, 0, -1, 0), "crs": "EPSG:32630"},
                     wavelengths_nm=wl)
        continuum_removed(np.ones((2, 3), np.float32), np.arange(3.0))

        def block_wise():  # map_blocks, 256 MB budget
            continuum_removal_raster(cube, out)

        def whole_file():  # whole cube in memory: read, compute, write (same GeoTIFF profile)
            c = read_cube(cube)
            table = continuum_removed(np.ascontiguousarray(c.data.reshape(c.data.shape[0], -1).T), c.wavelengths_nm)
            write_raster(out, np.ascontiguousarray(table.T).reshape(c.data.shape), c)

        return block_wise if name == "remine_cr_raster" else whole_file
    raise SystemExit(f"unknown side {name}")


def compare(a, b, rows=None):
    a, b = np.load(a).astype(np.float64), np.load(b).astype(np.float64)
    if rows is not None:
        a, b = a[:rows], b[:rows]
    return float(np.nanmax(np.abs(a - b)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--pixels", type=int, default=200_000)
    parser.add_argument("--scipy-pixels", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per side; the best (least disturbed) is kept")
    parser.add_argument("--side")
    parser.add_argument("--n", type=int)
    parser.add_argument("--scratch")
    args = parser.parse_args()
    if args.side:
        seconds, extra = side(args.side, args.n, args.scratch, args.repeats)
        _common.child_report(seconds, **extra)
        return
    scratch = tempfile.mkdtemp(prefix="bench_spectra_")
    np.save(os.path.join(scratch, "pixels.npy"), pixels(args.pixels)[0])
    runs = {}
    for name, n in [("remine_cr", args.pixels), ("remine_cr_1thread", args.pixels), ("remine_cr_index", args.pixels),
                    ("hylite_cr", args.pixels),
                    ("scipy_cr", args.scipy_pixels), ("remine_resample", args.pixels),
                    ("spectral_resample", args.pixels), ("remine_cr_raster", args.pixels),
                    ("remine_cr_whole_file", args.pixels)]:
        repeats = 1 if name == "scipy_cr" else args.repeats
        r = _common.run_side("__main__", name, "--n", n, "--scratch", scratch, "--repeats", repeats)
        r["px_per_s"] = round(r["n_pixels"] / r["seconds"])
        r["px_per_cpu_s"] = round(r["n_pixels"] / max(r["cpu_seconds"], 1e-9))
        runs[name] = r
    cr, hy, sp = runs["remine_cr"], runs["hylite_cr"], runs["scipy_cr"]
    faster_peer = max(hy["px_per_s"], sp["px_per_s"])
    result = {
        "machine": _common.machine(), "pixels": args.pixels, "bands": 224,
        "continuum_removal": {
            "remine_px_per_s": cr["px_per_s"], "remine_seconds": round(cr["seconds"], 3),
            "remine_peak_rss_mb": cr["peak_rss_mb"],
            "hylite_px_per_s": hy["px_per_s"], "hylite_seconds": round(hy["seconds"], 3),
            "hylite_peak_rss_mb": hy["peak_rss_mb"],
            "scipy_convexhull_px_per_s": sp["px_per_s"], "scipy_pixels_measured": sp["n_pixels"],
            "scipy_peak_rss_mb": sp["peak_rss_mb"],
            "ratio_vs_faster_peer": round(cr["px_per_s"] / faster_peer, 2), "goal_ratio": 10,
            "remine_1thread_px_per_s": runs["remine_cr_1thread"]["px_per_s"],
            "ratio_1thread_vs_hylite": round(runs["remine_cr_1thread"]["px_per_s"] / hy["px_per_s"], 2),
            "remine_px_per_cpu_s": cr["px_per_cpu_s"], "hylite_px_per_cpu_s": hy["px_per_cpu_s"],
            "cpu_ratio_vs_hylite": round(cr["px_per_cpu_s"] / hy["px_per_cpu_s"], 2),
            "max_abs_diff_vs_scipy": compare(cr["values"], sp["values"], sp["n_pixels"]),
            "max_abs_diff_vs_hylite_band_index_hull": compare(runs["remine_cr_index"]["values"], hy["values"]),
            "raster_px_per_s": runs["remine_cr_raster"]["px_per_s"],
            "raster_peak_rss_mb": runs["remine_cr_raster"]["peak_rss_mb"],
            "whole_file_in_memory_px_per_s": runs["remine_cr_whole_file"]["px_per_s"],
            "whole_file_in_memory_peak_rss_mb": runs["remine_cr_whole_file"]["peak_rss_mb"],
            "raster_vs_whole_file_in_memory": round(runs["remine_cr_raster"]["px_per_s"]
                                                    / runs["remine_cr_whole_file"]["px_per_s"], 2),
            "raster_vs_array_only": round(runs["remine_cr_raster"]["px_per_s"] / cr["px_per_s"], 2),
        },
        "gaussian_resampling": {
            "target": f"{len(TARGET_NM)} bands 400-2490 nm, FWHM {TARGET_FWHM} nm",
            "remine_px_per_s": runs["remine_resample"]["px_per_s"],
            "remine_peak_rss_mb": runs["remine_resample"]["peak_rss_mb"],
            "spectral_bandresampler_px_per_s": runs["spectral_resample"]["px_per_s"],
            "spectral_peak_rss_mb": runs["spectral_resample"]["peak_rss_mb"],
            "ratio": round(runs["remine_resample"]["px_per_s"] / runs["spectral_resample"]["px_per_s"], 2),
            "max_abs_diff_vs_spectral": compare(runs["remine_resample"]["values"], runs["spectral_resample"]["values"]),
            "note": "SPy integrates a box source band against the Gaussian target; remine deconvolves the source "
                    "FWHM and integrates the sampled spectrum: the two differ by design (diff is informative)",
        },
    }
    _common.write_json(args.out, result)
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
