"""Identity copy of a >= 2 GB float32 cube: remine map_blocks (256 MB budget) vs rasterio whole-array.

Goal (issue 3): throughput ratio remine / whole-array >= 0.8 and remine peak RSS <= 600 MB (the whole-array
path needs > 2 GB). Both sides write the same tiled, DEFLATE-compressed GeoTIFF profile and run in their own
process so that each peak RSS is measured alone.

Usage: python benchmarks/bench_io.py [--out result.json] [--gb 2.05] [--keep]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from remine.core.blocks import DEFAULT_MAX_BYTES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

BANDS = 224


def make_cube(path, gb):
    """Uncompressed tiled float32 cube of ``gb`` GB (a smooth spectrum x spatial pattern + noise)."""
    import rasterio
    from rasterio.transform import from_origin

    side = 1536
    rows = int(np.ceil(gb * 2**30 / 4 / BANDS / side / 256) * 256)
    profile = dict(driver="GTiff", width=side, height=rows, count=BANDS, dtype="float32", tiled=True,
                   blockxsize=256, blockysize=256, interleave="band", bigtiff="yes",
                   transform=from_origin(500000, 5560000, 0.5, 0.5), crs="EPSG:32630", nodata=float("nan"))
    rng = np.random.default_rng(0)
    spectrum = (0.3 + 0.2 * np.sin(np.linspace(0, 6, BANDS))).astype(np.float32)
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, rows, 256):
            h = min(256, rows - r)
            block = spectrum[:, None, None] * (1 + 0.1 * rng.standard_normal((1, h, side), dtype=np.float32))
            dst.write(block.astype(np.float32), window=rasterio.windows.Window(0, r, side, h))
        dst.update_tags(ns="ENVI", wavelength="{" + ",".join(str(400 + 9 * i) for i in range(BANDS)) + "}",
                        wavelength_units="Nanometers")
    return rows, side


def side_remine(src, dst):
    from remine.core.bands import spectral_subset

    t = time.perf_counter()
    spectral_subset(src, dst, max_bytes=DEFAULT_MAX_BYTES)
    _common.child_report(time.perf_counter() - t)


def side_whole(src, dst):
    import rasterio

    from remine.core.raster import gtiff_profile, raster_info

    t = time.perf_counter()
    info = raster_info(src)
    with rasterio.open(src) as ds:
        data = ds.read()
    with rasterio.open(dst, "w", **gtiff_profile(info, data.shape[0], "float32")) as out:
        out.write(data)
    _common.child_report(time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--gb", type=float, default=2.05, help="cube size in GiB")
    ap.add_argument("--side")
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if a.side:
        return {"remine": side_remine, "whole": side_whole}[a.side](*a.paths)
    folder = tempfile.mkdtemp(prefix="remine-bench-io-", dir=os.environ.get("BENCH_TMP"))
    try:
        src = os.path.join(folder, "cube.tif")
        rows, side = make_cube(src, a.gb)
        nbytes = BANDS * rows * side * 4
        res_whole = _common.run_side(__name__, "whole", src, os.path.join(folder, "whole.tif"))
        res_remine = _common.run_side(__name__, "remine", src, os.path.join(folder, "remine.tif"))
        mb = nbytes / 2**20
        result = {"benchmark": "io_identity_copy", "cube": f"{BANDS} x {rows} x {side} float32",
                  "cube_mb": round(mb), "max_bytes_mb": 256,
                  "remine": {**res_remine, "mb_per_s": round(mb / res_remine["seconds"], 1)},
                  "rasterio_whole_array": {**res_whole, "mb_per_s": round(mb / res_whole["seconds"], 1)},
                  "throughput_ratio": round(res_whole["seconds"] / res_remine["seconds"], 3),
                  "goals": {"throughput_ratio": ">= 0.8", "remine_peak_rss_mb": "<= 600"},
                  "machine": _common.machine()}
        result["goals_met"] = bool(result["throughput_ratio"] >= 0.8 and res_remine["peak_rss_mb"] <= 600)
        _common.write_json(a.out, result)
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
