"""Direct reads of uncompressed rasters (core/raster/rawio.py) against GDAL, on files GDAL writes."""
import os

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from remine.core.raster import READ_OPTIONS, raster_info, read_window
from remine.core.raster.rawio import raw_layout, read_raw, read_table

H, W, B = 150, 173, 7  # not multiples of the 64 px tiles used below: partial edge tiles


def _write(path, data, **options):
    profile = dict(driver="GTiff", width=W, height=H, count=data.shape[0], dtype=data.dtype.name,
                   crs="EPSG:32630", transform=from_origin(500000, 7000000, 1, 1))
    profile.update(options)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return str(path)


def _gdal(path, window, indexes):
    with rasterio.Env(**READ_OPTIONS), rasterio.open(path) as ds:
        return ds.read(indexes, window=window, out_dtype="float32")


def _windows(rng, n=25):
    out = [Window(0, 0, W, H), Window(64, 64, 64, 64), Window(W - 5, H - 3, 5, 3), Window(0, 63, W, 2)]
    for _ in range(n):
        r, c = int(rng.integers(0, H - 1)), int(rng.integers(0, W - 1))
        out.append(Window(c, r, int(rng.integers(1, W - c + 1)), int(rng.integers(1, H - r + 1))))
    return out


def _cube(dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(0.3, 0.1, (B, H, W)).astype(dtype)
    return rng.integers(-3000 if np.dtype(dtype).kind == "i" else 0, 3000, (B, H, W)).astype(dtype)


LAYOUTS = {
    "tiled float32": (np.float32, dict(tiled=True, blockxsize=64, blockysize=64, interleave="band")),
    "strips float32": (np.float32, dict(interleave="band")),
    "strips of 16 rows int16": (np.int16, dict(interleave="band", blockysize=16)),
    "tiled uint16 big-endian": (np.uint16, dict(tiled=True, blockxsize=32, blockysize=48, interleave="band",
                                                endianness="BIG")),
    "tiled float64 BigTIFF": (np.float64, dict(tiled=True, blockxsize=64, blockysize=64, interleave="band",
                                               bigtiff="YES")),
    "tiled pixel-interleaved float32": (np.float32, dict(tiled=True, blockxsize=64, blockysize=64,
                                                         interleave="pixel")),
    "strips pixel-interleaved int16": (np.int16, dict(interleave="pixel", blockysize=5)),
    "tiled pixel-interleaved uint16 big-endian": (np.uint16, dict(tiled=True, blockxsize=32, blockysize=16,
                                                                  interleave="pixel", endianness="BIG")),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_raw_windows_equal_gdal(tmp_path, name):
    dtype, options = LAYOUTS[name]
    path = _write(tmp_path / "cube.tif", _cube(dtype), **options)
    layout = raw_layout(path)
    assert layout is not None and layout.dtype.itemsize == np.dtype(dtype).itemsize
    rng = np.random.default_rng(1)
    for window in _windows(rng):
        bands = sorted(rng.choice(B, size=int(rng.integers(1, B + 1)), replace=False).tolist())
        got = read_raw(layout, window, bands)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        expected = _gdal(path, window, [b + 1 for b in bands])
        np.testing.assert_array_equal(got, expected, err_msg=str(window))
        if layout.pixel_interleaved:  # the same pixels as a table, read without transposition
            table = read_table(layout, window, bands)
            assert table.shape == (window.height * window.width, len(bands)) and table.flags.c_contiguous
            np.testing.assert_array_equal(table, expected.reshape(len(bands), -1).T, err_msg=str(window))
    assert layout.pixel_interleaved == ("pixel-interleaved" in name)
    whole_blocks = Window(layout.block_cols, 0, layout.block_cols, H) if layout.block_cols < W else Window(0, 3, W, 9)
    expected = _gdal(path, whole_blocks, list(range(1, B + 1)))  # all bands, whole block rows: read into place
    np.testing.assert_array_equal(read_raw(layout, whole_blocks, range(B)), expected)
    if layout.pixel_interleaved:
        np.testing.assert_array_equal(read_table(layout, whole_blocks, range(B)), expected.reshape(B, -1).T)


@pytest.mark.parametrize("interleave", ["bsq", "bip"])
def test_envi_little_and_big_endian(tmp_path, interleave):
    data = _cube(np.int16)
    stored = data if interleave == "bsq" else data.transpose(1, 2, 0)
    for order in (0, 1):  # written by hand: GDAL's ENVI driver writes the machine's byte order only
        path = str(tmp_path / f"cube_{order}.{interleave}")
        np.ascontiguousarray(stored, dtype=">i2" if order else "<i2").tofile(path)
        with open(path[:-4] + ".hdr", "w") as f:  # a list spanning lines, with '=' inside, is skipped
            f.write(f"ENVI\ndescription = {{\n  lines = 3 of notes}}\nsamples = {W}\nlines = {H}\nbands = {B}\n"
                    f"header offset = 0\nfile type = ENVI Standard\ndata type = 2\ninterleave = {interleave}\n"
                    f"byte order = {order}\n")
        layout = raw_layout(path)
        assert layout is not None and layout.dtype == np.dtype(">i2" if order else "<i2")
        assert layout.pixel_interleaved == (interleave == "bip")
        for window in _windows(np.random.default_rng(2), 8):
            np.testing.assert_array_equal(read_raw(layout, window, [0, 3, 6]), _gdal(path, window, [1, 4, 7]))
    header = path[:-4] + ".hdr"
    text = open(header).read()
    for extra in ("file compression = 1\n", "major frame offsets = {0, 8}\n"):  # left to GDAL
        with open(header, "w") as f:
            f.write(text + extra)
        assert raw_layout(path) is None


def test_files_gdal_must_read_have_no_layout(tmp_path):
    data = _cube(np.float32)
    compressed = _write(tmp_path / "zstd.tif", data, tiled=True, blockxsize=64, blockysize=64, compress="zstd")
    sparse = str(tmp_path / "sparse.tif")
    with rasterio.open(sparse, "w", driver="GTiff", width=W, height=H, count=B, dtype="float32", tiled=True,
                       blockxsize=64, blockysize=64, interleave="band", SPARSE_OK="TRUE") as dst:
        dst.write(data[:, :64, :64], window=Window(0, 0, 64, 64))  # the other tiles are never written
    bil = str(tmp_path / "cube.bil")
    with rasterio.open(bil, "w", driver="ENVI", width=W, height=H, count=B, dtype="float32", INTERLEAVE="BIL") as d:
        d.write(data)
    twelve_bits = _write(tmp_path / "nbits.tif", _cube(np.uint16) % 4096, interleave="band", nbits=12)
    signed_bytes = _write(tmp_path / "int8.tif", _cube(np.int8), interleave="band")  # GDAL 3.6: unsigned
    for path in (compressed, sparse, bil, twelve_bits, signed_bytes):
        assert raw_layout(path) is None, path
        info = raster_info(path)  # read_window falls back to GDAL for them
        np.testing.assert_array_equal(read_window(info, Window(10, 20, 100, 90)),
                                      _gdal(path, Window(10, 20, 100, 90), list(range(1, B + 1))))


def test_pixel_table_of_a_band_sequential_file_is_refused(tmp_path):
    path = _write(tmp_path / "bands.tif", _cube(np.float32), interleave="band")
    with pytest.raises(ValueError, match="stores its bands apart; read it with read_raw"):
        read_table(raw_layout(path), Window(0, 0, 10, 10), [0])


def test_truncated_file_is_left_to_gdal_and_rewrites_are_seen(tmp_path):
    path = _write(tmp_path / "cube.tif", _cube(np.float32), tiled=True, blockxsize=64, blockysize=64,
                  interleave="band")
    assert raw_layout(path) is not None
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 1000)
    assert raw_layout(path) is None  # a tile runs past the end: GDAL reports it
    _write(tmp_path / "cube.tif", _cube(np.float32), tiled=True, blockxsize=64, blockysize=64, compress="zstd")
    assert raw_layout(path) is None  # the same path rewritten compressed: not the cached layout


def test_read_window_uses_raw_reads_with_nodata_and_descending_wavelengths(tmp_path):
    data = _cube(np.float32)
    data[2, 5:9, 7:11] = -9999.0
    path = _write(tmp_path / "cube.tif", data, tiled=True, blockxsize=64, blockysize=64, interleave="band",
                  nodata=-9999.0)
    with rasterio.open(path, "r+") as ds:  # wavenumbers, descending in nm order: bands are read reversed
        for b in range(B):
            ds.update_tags(b + 1, wavelength=str(4000.0 + 100 * b), wavelength_units="cm-1")
    info = raster_info(path)
    assert list(info.order) == list(range(B))[::-1]
    window = Window(3, 2, 120, 100)
    got = read_window(info, window)
    expected = _gdal(path, window, [int(i) + 1 for i in info.order])
    expected[expected == -9999.0] = np.nan
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[B - 1 - 2, 3:7, 4:8]).all()
