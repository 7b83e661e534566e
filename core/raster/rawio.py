"""Direct window reads of uncompressed rasters (GeoTIFF, ENVI BSQ and BIP).

Drone and airborne cubes are often delivered uncompressed: ENVI files, or GeoTIFFs with one plane per
band (``INTERLEAVE=BAND``) or all bands of a pixel together (``INTERLEAVE=PIXEL``, GDAL's default),
tiled or in strips. In such files the bytes of a window's rows within one block (tile, strip run,
whole BSQ band or BIP image) lie one after another, so a window is read with one read per
block (and band, when bands are stored apart) into a small buffer that stays in cache, then copied
into place, or read straight into place when the window spans whole block rows.

* Band-sequential files are read as ``(bands, rows, cols)`` (:func:`read_raw`); GDAL would read the
  tiles a window cuts row by row.
* Pixel-interleaved files hold pixel tables already: :func:`read_table` reads a window as
  ``(pixels, bands)`` with no transposition, for models; :func:`read_raw` transposes a few block rows
  at a time. Timings against GDAL: benchmarks/NOTES.md.

:func:`raw_layout` says whether a file qualifies (None otherwise: compressed, band-interleaved by line,
sparse, ...). :func:`remine.core.raster.read_window` uses them and falls back to GDAL for everything else.
"""
import contextlib
import enum
import functools
import os
import struct
from dataclasses import dataclass, field

import numpy as np


class TiffTag(enum.IntEnum):
    """The TIFF tags :func:`raw_layout` reads (TIFF 6.0; Big TIFF uses the same numbers)."""

    IMAGE_WIDTH = 256
    IMAGE_LENGTH = 257
    BITS_PER_SAMPLE = 258
    COMPRESSION = 259
    STRIP_OFFSETS = 273
    SAMPLES_PER_PIXEL = 277
    ROWS_PER_STRIP = 278
    STRIP_BYTE_COUNTS = 279
    PLANAR_CONFIGURATION = 284
    TILE_WIDTH = 322
    TILE_LENGTH = 323
    TILE_OFFSETS = 324
    TILE_BYTE_COUNTS = 325
    SAMPLE_FORMAT = 339


#: the TIFF version word of a classic TIFF and of a Big TIFF
_TIFF_MAGIC, _BIGTIFF_MAGIC = 42, 43
#: TIFF Compression value of uncompressed data; PlanarConfiguration value of pixel-interleaved data
_UNCOMPRESSED, _CHUNKY = 1, 1
#: TIFF field types: struct code of one value
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}
#: TIFF SampleFormat -> numpy kind
_SAMPLE_KIND = {1: "u", 2: "i", 3: "f"}
#: ENVI "data type" -> numpy dtype (little-endian form)
_ENVI_TYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


#: most bytes of a pixel-interleaved read buffer: block rows are read a few at a time
_SCRATCH_BYTES = 4 * 2**20


@dataclass(frozen=True)
class RawLayout:
    """Where the pixels of an uncompressed raster lie in its file.

    A block holds ``block_rows`` x ``block_cols`` pixels of ``samples`` values of ``dtype`` (byte order
    included), row after row: ``samples`` is 1 when each band is stored apart (band-sequential; a whole
    BSQ band is one block), the band count when the bands of a pixel are stored together
    (pixel-interleaved). ``offsets`` (bands or 1, block_rows_n, block_cols_n) int64: file offset of each
    block (of each band when band-sequential).
    """

    path: str
    width: int
    height: int
    dtype: np.dtype
    block_rows: int
    block_cols: int
    samples: int
    offsets: np.ndarray = field(repr=False)

    @property
    def pixel_interleaved(self):
        return self.samples > 1

    @property
    def bands(self):
        return len(self.offsets) * self.samples

    def use(self, window):
        """Fraction of the bytes read for ``window`` (rasterio Window) that it holds: whole block rows
        are read, so a window narrower than the blocks it touches uses only part of them."""
        _, c0, _, w = _bounds(window)
        spanned = -(-(c0 + w) // self.block_cols) - c0 // self.block_cols
        return w / (spanned * self.block_cols)

    def pieces(self, window):
        """The parts of ``window`` in each block: ``(by, bx, ra, rb, ca, cb, orow, ocol)`` — block indices,
        rows ``ra:rb`` and columns ``ca:cb`` within the block, and their place in the window."""
        r0, c0, h, w = _bounds(window)
        br, bc = self.block_rows, self.block_cols
        for by in range(r0 // br, (r0 + h - 1) // br + 1):
            ra, rb = max(r0, by * br) - by * br, min(r0 + h, (by + 1) * br) - by * br
            for bx in range(c0 // bc, (c0 + w - 1) // bc + 1):
                ca, cb = max(c0, bx * bc) - bx * bc, min(c0 + w, (bx + 1) * bc) - bx * bc
                yield by, bx, ra, rb, ca, cb, by * br + ra - r0, bx * bc + ca - c0


def _bounds(window):
    return int(window.row_off), int(window.col_off), int(window.height), int(window.width)


def raw_layout(path):
    """The :class:`RawLayout` of ``path``, or None when it must be read through GDAL."""
    try:
        st = os.stat(path)
    except (OSError, TypeError):
        return None
    header = _envi_header(str(path))
    hst = os.stat(header) if header else None
    return _cached_layout(str(path), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns,
                          hst and (hst.st_size, hst.st_ino, hst.st_mtime_ns, hst.st_ctime_ns))


@functools.lru_cache(maxsize=64)
def _cached_layout(path, size, *version):
    """Layout of ``path`` (``version``: inode and times of the file and of its ENVI header, so that a
    rewritten file or an edited header is parsed again)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if head[:2] in (b"II", b"MM"):
                return _tiff_layout(f, path, size, head)
        return _envi_layout(path, size)
    except (OSError, ValueError, struct.error, KeyError):
        return None


def _tiff_layout(f, path, size, head):
    """Layout of the first image of a classic or Big TIFF (None unless uncompressed and band-planar)."""
    end = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(end + "H", head[2:4])[0]
    big = magic == _BIGTIFF_MAGIC
    if magic not in (_TIFF_MAGIC, _BIGTIFF_MAGIC):
        return None
    ifd = struct.unpack(end + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
    f.seek(ifd)
    n = struct.unpack(end + ("Q" if big else "H"), f.read(8 if big else 2))[0]
    entry = 20 if big else 12
    raw = f.read(n * entry)
    tags = {}
    for k in range(n):
        e = raw[k * entry:(k + 1) * entry]
        tag, typ = struct.unpack(end + "HH", e[:4])
        count = struct.unpack(end + ("Q" if big else "I"), e[4:12] if big else e[4:8])[0]
        if typ not in _TIFF_TYPES:
            continue
        code = _TIFF_TYPES[typ]
        nbytes = count * struct.calcsize(code)
        inline = e[12:20] if big else e[8:12]
        if nbytes <= len(inline):
            data = inline[:nbytes]
        else:
            f.seek(struct.unpack(end + ("Q" if big else "I"), inline)[0])
            data = f.read(nbytes)
        tags[tag] = np.frombuffer(data, dtype=np.dtype(code).newbyteorder(end)).astype(np.int64)
    width, height = int(tags[TiffTag.IMAGE_WIDTH][0]), int(tags[TiffTag.IMAGE_LENGTH][0])
    samples = int(tags.get(TiffTag.SAMPLES_PER_PIXEL, [1])[0])
    planar = int(tags.get(TiffTag.PLANAR_CONFIGURATION, [_CHUNKY])[0])
    bits = set(tags.get(TiffTag.BITS_PER_SAMPLE, [1]).tolist())
    formats = set(tags.get(TiffTag.SAMPLE_FORMAT, [1]).tolist())
    kind = _SAMPLE_KIND.get(formats.pop()) if len(formats) == 1 else None
    compressed = int(tags.get(TiffTag.COMPRESSION, [_UNCOMPRESSED])[0]) != _UNCOMPRESSED
    if compressed or kind is None or len(bits) != 1 or not bits <= {8, 16, 32, 64} \
            or (kind, bits) == ("i", {8}):  # signed bytes: GDAL 3.6 reads them as unsigned (PIXELTYPE=SIGNEDBYTE)
        return None
    dtype = np.dtype(f"{kind}{bits.pop() // 8}").newbyteorder(end)
    per_block = samples if planar == _CHUNKY else 1  # values per pixel in a block
    tiled = TiffTag.TILE_WIDTH in tags
    if tiled:
        rows, cols = int(tags[TiffTag.TILE_LENGTH][0]), int(tags[TiffTag.TILE_WIDTH][0])
        offsets, counts = tags[TiffTag.TILE_OFFSETS], tags[TiffTag.TILE_BYTE_COUNTS]
    else:
        rows, cols = min(int(tags.get(TiffTag.ROWS_PER_STRIP, [height])[0]), height), width
        offsets, counts = tags[TiffTag.STRIP_OFFSETS], tags[TiffTag.STRIP_BYTE_COUNTS]
    grid = (samples // per_block, -(-height // rows), -(-width // cols))
    if offsets.size != np.prod(grid) or counts.size != offsets.size:
        return None
    offsets, counts = offsets.reshape(grid), counts.reshape(grid)
    row_bytes = cols * per_block * dtype.itemsize
    need = np.full(grid, rows * row_bytes, dtype=np.int64)
    if not tiled:  # strips: the last one may be shorter
        need[:, -1, :] = (height - (grid[1] - 1) * rows) * row_bytes
    if np.any(offsets <= 0) or np.any(counts < need) or np.any(offsets + need > size):
        return None  # sparse or truncated: GDAL knows what to return
    if not tiled and np.all(offsets[:, 1:, 0] == offsets[:, :-1, 0] + rows * row_bytes):
        rows, offsets = height, offsets[:, :1]  # strips one after another: one block (per band)
    return RawLayout(path, width, height, dtype, rows, cols, per_block, np.ascontiguousarray(offsets))


def _envi_layout(path, size):
    """Layout of an ENVI BSQ or BIP file (header ``<path>.hdr`` or ``<stem>.hdr``), or None."""
    header = _envi_header(path)
    if header is None:
        return None
    with open(header, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if not text.lstrip().upper().startswith("ENVI"):
        return None
    fields, depth = {}, 0
    for line in text.splitlines():
        if depth == 0 and "=" in line and "{" not in line:
            key, value = line.split("=", 1)
            fields[key.strip().lower()] = value.strip()
        depth += line.count("{") - line.count("}")  # lists in braces may span lines
    interleave = fields.get("interleave", "bsq").lower()
    if interleave not in ("bsq", "bip") or fields.get("file type", "envi standard").lower() \
            not in ("envi standard", "envi") or fields.get("file compression", "0") != "0" \
            or "frame offsets" in text.lower():  # gzip data, or bytes between lines: GDAL reads those
        return None
    width, height, bands = int(fields["samples"]), int(fields["lines"]), int(fields["bands"])
    dtype = np.dtype(_ENVI_TYPES[int(fields["data type"])]).newbyteorder(">" if fields.get("byte order") == "1"
                                                                         else "<")
    start = int(fields.get("header offset", 0))
    band_bytes = width * height * dtype.itemsize
    if start + bands * band_bytes > size:
        return None
    if interleave == "bip":
        return RawLayout(path, width, height, dtype, height, width, bands, np.full((1, 1, 1), start, np.int64))
    offsets = (start + band_bytes * np.arange(bands, dtype=np.int64)).reshape(bands, 1, 1)
    return RawLayout(path, width, height, dtype, height, width, 1, offsets)


def _envi_header(path):
    """The ENVI header next to ``path`` (``<path>.hdr`` or ``<stem>.hdr``), or None."""
    stem = os.path.splitext(path)[0]
    return next((h for h in (path + ".hdr", stem + ".hdr", stem + ".HDR") if os.path.exists(h)), None)


def read_raw(layout, window, bands, out=None):
    """Window of ``layout``'s raster as float32 ``(len(bands), rows, cols)``.

    ``window``: rasterio Window inside the raster; ``bands``: 0-based file band indices; ``out``: a
    float32 C-contiguous array of that shape to fill (allocated when None). Raises OSError when the
    file ends early.
    """
    _, _, h, w = _bounds(window)
    if out is None:
        out = np.empty((len(bands), h, w), dtype=np.float32)
    if layout.pixel_interleaved:
        bands = list(bands)
        every_band = bands == list(range(layout.samples))
        with _opened(layout) as f:
            for part, o, ocol in _interleaved_parts(layout, window, f):
                part = part if every_band else part[..., bands]
                out[:, o:o + part.shape[0], ocol:ocol + part.shape[1]] = part.transpose(2, 0, 1)
        return out
    bc, item = layout.block_cols, layout.dtype.itemsize
    same_type = layout.dtype == np.dtype(np.float32)
    pieces = list(layout.pieces(window))
    scratch = np.empty(max(p[3] - p[2] for p in pieces) * bc, dtype=layout.dtype)
    with _opened(layout) as f:
        for i, band in enumerate(bands):
            for by, bx, ra, rb, ca, cb, orow, ocol in pieces:
                direct = same_type and ca == 0 and cb == bc == w  # whole block rows: straight into place
                target = out[i, orow:orow + rb - ra] if direct else scratch[:(rb - ra) * bc]
                _read(f, layout, target, layout.offsets[band, by, bx] + ra * bc * item)
                if not direct:
                    out[i, orow:orow + rb - ra, ocol:ocol + cb - ca] = target.reshape(rb - ra, bc)[:, ca:cb]
    return out


def read_table(layout, window, bands, out=None):
    """Window of a pixel-interleaved raster as a float32 pixel table ``(rows * cols, len(bands))``, pixels
    in row-major order, straight from the file's pixel order (no transposition).

    ``bands``: 0-based file band indices; ``out``: a float32 C-contiguous array of that shape to fill.
    """
    if not layout.pixel_interleaved:
        raise ValueError(f"{layout.path} stores its bands apart; read it with read_raw")
    _, _, h, w = _bounds(window)
    bands = list(bands)
    if out is None:
        out = np.empty((h * w, len(bands)), dtype=np.float32)
    every_band = bands == list(range(layout.samples))
    cube = out.reshape(h, w, len(bands))
    with _opened(layout) as f:
        for part, o, ocol in _interleaved_parts(layout, window, f, cube if every_band else None):
            cube[o:o + part.shape[0], ocol:ocol + part.shape[1]] = part if every_band else part[..., bands]
    return out


def _interleaved_parts(layout, window, f, into=None):
    """Read ``window`` of a pixel-interleaved layout a few block rows at a time (at most
    :data:`_SCRATCH_BYTES`): yields ``(part, row, col)``, ``part`` (rows, cols, samples) of the window
    starting at ``(row, col)``; rows that ``into`` (a float32 (rows, cols, samples) array of the window)
    can take as they are stored, whole block rows, are read straight into it instead."""
    _, _, _, w = _bounds(window)
    bc, n, item = layout.block_cols, layout.samples, layout.dtype.itemsize
    in_place = into is not None and layout.dtype == np.dtype(np.float32)
    rows_per_read = max(1, _SCRATCH_BYTES // (bc * n * item))
    scratch = np.empty(rows_per_read * bc * n, dtype=layout.dtype)
    for by, bx, ra, rb, ca, cb, orow, ocol in layout.pieces(window):
        for r in range(ra, rb, rows_per_read):
            k = min(rows_per_read, rb - r)
            o = orow + r - ra
            offset = layout.offsets[0, by, bx] + r * bc * n * item
            if in_place and ca == 0 and cb == bc == w:
                _read(f, layout, into[o:o + k], offset)
            else:
                _read(f, layout, scratch[:k * bc * n], offset)
                yield scratch[:k * bc * n].reshape(k, bc, n)[:, ca:cb], o, ocol


@contextlib.contextmanager
def _opened(layout):
    """The layout's file opened for unbuffered binary reads (portable: no ``os.preadv`` on Windows)."""
    with open(layout.path, "rb", buffering=0) as f:
        yield f


def _read(f, layout, target, offset):
    """Fill ``target`` (a C-contiguous array) from the file at byte ``offset``; OSError if the file ends."""
    view = memoryview(target).cast("B")
    f.seek(int(offset))
    done = 0
    while done < len(view):
        got = f.readinto(view[done:])
        if not got:
            raise OSError(f"{layout.path} ends at byte {int(offset) + done}; expected {len(view)} bytes there")
        done += got
