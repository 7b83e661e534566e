"""core.blocks: windows under a budget, executors (serial, joblib, Dask LocalCluster), cancel leaves nothing."""
import functools
import os

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from remine.core.blocks import BlockOutput, GridSpec, map_blocks, plan_windows, tile_size
from remine.core.errors import CancelledError, InputError
from remine.core.progress import Progress
from remine.core.raster import read_cube, write_raster

GRID = GridSpec(300, 520, from_origin(500000, 5560000, 0.5, 0.5), CRS.from_epsg(32630))


@pytest.fixture(scope="module")
def cube_path(tmp_path_factory):
    data = np.random.default_rng(0).random((6, GRID.height, GRID.width)).astype(np.float32)
    data[:, 10:20, 30:40] = np.nan
    folder = tmp_path_factory.mktemp("blocks")
    return write_raster(str(folder / "cube.tif"), data, like=GRID, wavelengths_nm=[450, 550, 650, 850, 1650, 2200])


def scale_and_sum(arrays, info, factor=2.0):
    """A pure block function: scaled cube and the band sum (NaN propagates)."""
    cube = arrays[0]
    return [cube * factor, cube.sum(axis=0, keepdims=True)]


def outputs(folder, tag):
    return [BlockOutput(str(folder / f"scaled_{tag}.tif"), 6, wavelengths_nm=[450, 550, 650, 850, 1650, 2200]),
            BlockOutput(str(folder / f"sum_{tag}.tif"), 1, band_names=["sum"])]


def test_plan_windows_respects_budget_and_covers_grid():
    for max_bytes in (400, 10_000, 1_000_000, 5e7):
        tile = tile_size(40, max_bytes)
        wins = plan_windows(900, 700, 40, max_bytes, tile)
        assert all(w.width * w.height * 40 <= max_bytes for w in wins)
        assert sum(w.width * w.height for w in wins) == 900 * 700
        if max_bytes >= tile * tile * 40:   # whole tiles: every window starts on a tile corner
            assert all(w.col_off % tile == 0 and w.row_off % tile == 0 for w in wins)
    assert tile_size(224 * 4 * 3, 128 * 2**20) == 128 and tile_size(4, 128 * 2**20) == 256
    strips = plan_windows(3000, 2000, 4, 3000 * 4 * 600)
    assert {w.height for w in strips[:-1]} == {512}            # tile-aligned strips


class Recorder(Progress):
    def __init__(self, cancel_after=None):
        self.fractions, self.cancel_after = [], cancel_after

    def _report(self, fraction, message):
        self.fractions.append(fraction)

    def is_cancelled(self):
        return self.cancel_after is not None and len(self.fractions) >= self.cancel_after


def test_map_blocks_matches_whole_array_under_small_budget(cube_path, tmp_path):
    prog = Recorder()
    paths = map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "serial"), max_bytes=2_000_000, progress=prog)
    assert len(prog.fractions) > 5 and prog.fractions[-1] == 1.0 and prog.fractions == sorted(prog.fractions)
    src = read_cube(cube_path).data
    np.testing.assert_array_equal(read_cube(paths[0]).data, src * 2)
    np.testing.assert_allclose(read_cube(paths[1], require_wavelengths=False).data[0], src.sum(axis=0), rtol=1e-6)
    assert read_cube(paths[0]).wavelengths_nm.tolist() == [450, 550, 650, 850, 1650, 2200]


def test_block_info_coordinates(tmp_path):
    def coords(arrays, info):
        x, y = info.xy()
        return [np.stack([x, y])]

    out = map_blocks(coords, [], [BlockOutput(str(tmp_path / "xy.tif"), 2, dtype="float64")], grid=GRID,
                     max_bytes=200_000)
    import rasterio

    with rasterio.open(out[0]) as ds:
        xy = ds.read()
    assert xy[0, 0, 0] == 500000.25 and xy[1, 0, 0] == 5559999.75
    assert xy[0, -1, -1] == 500000 + 0.5 * 299.5 and xy[1, -1, -1] == 5560000 - 0.5 * 519.5


def test_cancel_leaves_no_output(cube_path, tmp_path):
    with pytest.raises(CancelledError):
        map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "cancel"), max_bytes=1_000_000,
                   progress=Recorder(cancel_after=2))
    assert os.listdir(tmp_path) == []


def test_failing_block_function_leaves_no_output(cube_path, tmp_path):
    def broken(arrays, info):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        map_blocks(broken, [cube_path], outputs(tmp_path, "fail"))
    assert os.listdir(tmp_path) == []


def test_wrong_block_shape_is_reported(cube_path, tmp_path):
    with pytest.raises(ValueError, match=r"returned shape \(1, .*expected \(6, "):
        map_blocks(lambda a, i: [a[0][:1], a[0][:1]], [cube_path], outputs(tmp_path, "shape"))
    assert os.listdir(tmp_path) == []


def test_grid_mismatch_is_an_input_error(cube_path, tmp_path):
    other = write_raster(str(tmp_path / "other.tif"), np.zeros((1, 10, 10), np.float32),
                         like=GridSpec(10, 10, GRID.transform, GRID.crs))
    with pytest.raises(InputError, match="is not on the grid of the first input"):
        map_blocks(scale_and_sum, [cube_path, other], outputs(tmp_path, "grid"))
    assert sorted(os.listdir(tmp_path)) == ["other.tif"]


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_joblib_executors_give_the_same_bytes(cube_path, tmp_path, executor):
    serial = map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "s"), max_bytes=3_000_000)
    par = map_blocks(functools.partial(scale_and_sum, factor=2.0), [cube_path], outputs(tmp_path, executor),
                     max_bytes=3_000_000, executor=executor)
    for a, b in zip(serial, par):
        np.testing.assert_array_equal(read_cube(a, require_wavelengths=False).data,
                                      read_cube(b, require_wavelengths=False).data)


def test_dask_local_cluster_gives_the_same_bytes(cube_path, tmp_path):
    from distributed import Client, LocalCluster

    serial = map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "s"), max_bytes=3_000_000)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dist = map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "dask"), max_bytes=3_000_000, executor=client)
    for a, b in zip(serial, dist):   # pixel bytes (tile order in the file depends on GDAL's compression threads)
        assert read_cube(a, require_wavelengths=False).data.tobytes() == \
            read_cube(b, require_wavelengths=False).data.tobytes()


def test_unknown_executor(cube_path, tmp_path):
    with pytest.raises(InputError, match="executor 'gpu' unknown"):
        map_blocks(scale_and_sum, [cube_path], outputs(tmp_path, "x"), executor="gpu")


def test_pixel_table_transposes_and_masks_like_numpy():
    """pixel_table (and pixel_mask) equal the numpy reference (transpose + finite mask; pixel_mask optionally
    non-zero) on a block with NaN, inf and all-zero pixels, for a size that is not a multiple of 64-pixel runs."""
    from remine.core.blocks import pixel_mask, pixel_table

    rng = np.random.default_rng(0)
    block = rng.random((7, 13, 11), dtype=np.float32)
    block[3, 2, 5] = np.nan
    block[:, 4, 4] = 0.0
    block[6, 12, 10] = np.inf
    X, valid = pixel_table(block)
    ref = block.reshape(7, -1).T
    assert X.flags.c_contiguous and X.dtype == np.float32 and np.array_equal(X, ref, equal_nan=True)
    assert np.array_equal(valid, np.isfinite(ref).all(axis=1))
    valid_nz = pixel_mask(block, require_nonzero=True)
    assert np.array_equal(valid_nz, np.isfinite(ref).all(axis=1) & (ref != 0).any(axis=1))
    assert np.array_equal(pixel_mask(block), valid)
    assert valid.sum() == 143 - 2 and valid_nz.sum() == 143 - 3


def centre_x(arrays, info):
    """Block function using the window's georeference: the cube as it is and each cell's x coordinate."""
    x, _ = info.xy()
    return [arrays[0], x[None].astype(np.float32)]


def test_tiled_input_is_read_once_per_tile_and_computed_in_windows(tmp_path):
    """With a tiled, compressed input whose tiles are cut by the compute windows, each input tile is
    read once (one group) and the windows inside it are computed from memory: same pixels and
    georeference as reading every window."""
    from remine.core.blocks import plan_groups
    from remine.core.raster import raster_info

    grid = GridSpec(600, 520, from_origin(500000, 5560000, 0.5, 0.5), CRS.from_epsg(32630))
    data = np.random.default_rng(1).random((40, grid.height, grid.width)).astype(np.float32)
    src = write_raster(str(tmp_path / "tiled.tif"), data, like=grid)
    info = raster_info(src)
    assert info.block_shape == (256, 256) and info.compression in ("ZSTD", "DEFLATE")
    bpp, budget = 4 * 41 * 3, 24 * 2**20
    tile = tile_size(bpp, budget)
    groups = plan_groups(grid.width, grid.height, bpp, 4 * 40, budget, tile, info.block_shape)
    windows = [w for _, ws in groups for w in ws]
    assert len(groups) == 9 and len(windows) > len(groups)  # 3 x 3 input tiles, several windows each
    covered = np.zeros((grid.height, grid.width), int)
    for read, ws in groups:
        for w in ws:
            assert read.row_off <= w.row_off and w.row_off + w.height <= read.row_off + read.height
            assert read.col_off <= w.col_off and w.col_off + w.width <= read.col_off + read.width
            covered[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] += 1
    assert (covered == 1).all()
    outs = [BlockOutput(str(tmp_path / "copy.tif"), 40), BlockOutput(str(tmp_path / "x.tif"), 1)]
    map_blocks(centre_x, [src], outs, max_bytes=2 * budget)
    assert np.array_equal(read_cube(outs[0].path, require_wavelengths=False).data, data)
    x = read_cube(outs[1].path, require_wavelengths=False).data[0]
    assert np.allclose(x, 500000 + 0.5 * (np.arange(grid.width) + 0.5)[None, :].repeat(grid.height, 0))


def _with_empty_band(arrays, info):
    """Scaled cube plus a band with no valid cells (NaN everywhere)."""
    cube = arrays[0]
    return [np.concatenate([cube * 2.0, np.full((1,) + cube.shape[1:], np.nan, np.float32)])]


def test_statistics_accumulated_per_block_equal_numpy_and_gdal_reads_them(cube_path, tmp_path):
    # BlockOutput(statistics=True): per-band statistics over the blocks (small budget: many blocks), stored as
    # GDAL statistics that GDAL returns without computing (force=False), and read back by band_statistics
    from osgeo import gdal

    from remine.core.raster import band_statistics

    names = [f"b{i}" for i in range(7)]
    out = BlockOutput(str(tmp_path / "stats.tif"), 7, band_names=names, statistics=True)
    map_blocks(_with_empty_band, [cube_path], [out], max_bytes=2_000_000)
    expected = read_cube(cube_path).data.astype(np.float64) * 2.0
    stats = band_statistics(out.path)
    for b in range(6):
        v = expected[b][np.isfinite(expected[b])]
        s = stats[names[b]]
        assert s["count"] == v.size == GRID.width * GRID.height - 100
        assert np.isclose(s["sum"], v.sum(), rtol=1e-12) and np.isclose(s["stddev"], v.std(), rtol=1e-9)
        assert (s["minimum"], s["maximum"]) == (v.min(), v.max())
    assert stats["b6"]["count"] == 0 and np.isnan(stats["b6"]["mean"])
    ds = gdal.Open(out.path)
    assert ds.GetRasterBand(1).GetStatistics(False, False) == pytest.approx(
        [expected[0][np.isfinite(expected[0])].min(), np.nanmax(expected[0]), np.nanmean(expected[0]),
         np.nanstd(expected[0])], rel=1e-9)
    ds = None
    plain = BlockOutput(str(tmp_path / "plain.tif"), 7, band_names=names)
    map_blocks(_with_empty_band, [cube_path], [plain], max_bytes=2_000_000)
    with pytest.raises(InputError, match="no stored statistics"):
        band_statistics(plain.path)


def mask_check(arrays, info, nonzero=True):
    """Block function: 1 where BlockInfo.valid (computed while reading) equals pixel_mask of the block."""
    from remine.core.blocks import pixel_mask

    cube = arrays[0]
    same = info.valid is not None and np.array_equal(info.valid, pixel_mask(cube, require_nonzero=nonzero))
    return [np.full((1,) + cube.shape[1:], 1.0 if same else 0.0, np.float32)]


@pytest.mark.parametrize("executor", [None, "threads"])
def test_mask_computed_while_reading_equals_the_block_mask(tmp_path, executor):
    # map_blocks(mask=...) hands each block its usable-pixel mask (here with NaN and all-zero pixels, and windows
    # cut from input tiles read once, so the mask is sliced per window)
    grid = GridSpec(600, 520, from_origin(500000, 5560000, 0.5, 0.5), CRS.from_epsg(32630))
    data = np.random.default_rng(2).random((40, grid.height, grid.width)).astype(np.float32)
    data[3, 100:140, 300:350] = np.nan
    data[:, 400:410, 10:500] = 0.0
    src = write_raster(str(tmp_path / "masked.tif"), data, like=grid)
    out = BlockOutput(str(tmp_path / "same.tif"), 1)
    map_blocks(mask_check, [src], [out], max_bytes=48 * 2**20, mask="nonzero", executor=executor)  # as above: 9 groups
    assert (read_cube(out.path, require_wavelengths=False).data == 1).all()
    with pytest.raises(InputError, match="mask must be"):
        map_blocks(mask_check, [src], [BlockOutput(str(tmp_path / "bad.tif"), 1)], mask="zero")
    assert not os.path.exists(tmp_path / "bad.tif")


def table_check(arrays, info, nonzero=False):
    """Block function: 1 where the reading stage's table, mask and cube agree with pixel_table/pixel_mask."""
    from remine.core.blocks import pixel_mask, pixel_table

    cube = np.ascontiguousarray(arrays[0])
    rows, finite = pixel_table(cube)
    valid = pixel_mask(cube, require_nonzero=True) if nonzero else finite
    same = info.table is not None and np.array_equal(info.table, rows, equal_nan=True) and \
        np.array_equal(info.valid, valid)
    return [np.full((1,) + cube.shape[1:], 1.0 if same else 0.0, np.float32), arrays[0][:2] * 1.0]


@pytest.mark.parametrize("interleave, nonzero", [("pixel", False), ("pixel", True), ("band", True)])
def test_tables_read_while_reading_equal_the_block_tables(tmp_path, interleave, nonzero):
    # map_blocks(table=True): an uncompressed pixel-interleaved input is read as its table directly (the cube the
    # function gets is a band-major view of it), a band-interleaved one is transposed; both with nodata and
    # all-zero pixels, in several windows
    import rasterio

    grid = GridSpec(300, 200, from_origin(500000, 5560000, 0.5, 0.5), CRS.from_epsg(32630))
    data = np.random.default_rng(3).random((12, grid.height, grid.width)).astype(np.float32)
    data[4, 20:30, 40:70] = -9999.0
    data[:, 150:160, :] = 0.0
    src = str(tmp_path / f"{interleave}.tif")
    with rasterio.open(src, "w", driver="GTiff", width=grid.width, height=grid.height, count=12, dtype="float32",
                       crs=grid.crs, transform=grid.transform, nodata=-9999.0, tiled=True, blockxsize=64,
                       blockysize=64, interleave=interleave) as dst:
        dst.write(data)
    outs = [BlockOutput(str(tmp_path / "same.tif"), 1), BlockOutput(str(tmp_path / "first.tif"), 2)]
    map_blocks(functools.partial(table_check, nonzero=nonzero), [src], outs, max_bytes=3 * 2**20, table=True,
               mask="nonzero" if nonzero else None)
    assert (read_cube(outs[0].path, require_wavelengths=False).data == 1).all()
    expected = np.where(data[:2] == -9999.0, np.nan, data[:2])
    np.testing.assert_array_equal(read_cube(outs[1].path, require_wavelengths=False).data, expected)
