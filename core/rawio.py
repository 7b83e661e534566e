"""Direct window reads of uncompressed, band-sequential rasters (GeoTIFF, ENVI BSQ).

Drone and airborne cubes are often delivered uncompressed: ENVI BSQ files, or GeoTIFFs with one plane
per band (``INTERLEAVE=BAND``), tiled or in strips. For those the bytes of a window's rows within one
block (tile, strip run, or a whole BSQ band) lie one after another in the file, so a window is read
with one system call per band and block, into a small buffer that stays in cache, then copied into
place (or read straight into place when the window spans whole block rows). Measured on a 200-band,
316 x 316 px float32 GeoTIFF with 256 px tiles (80 MB, in the page cache): the whole cube in 29 ms
against 40 ms with GDAL's direct I/O, and as five 64-row windows in 36 ms against 87 ms (GDAL reads
the tiles a window cuts row by row).

:func:`raw_layout` says whether a file qualifies (None otherwise: compressed, pixel-interleaved,
sparse, ...); :func:`read_raw` reads a window of it. :func:`remine.core.raster.read_window` uses them
and falls back to GDAL for everything else.
"""
import functools
import os
import struct
from dataclasses import dataclass, field

import numpy as np

#: TIFF field types: struct code of one value
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}
#: TIFF SampleFormat -> numpy kind
_SAMPLE_KIND = {1: "u", 2: "i", 3: "f"}
#: ENVI "data type" -> numpy dtype (little-endian form)
_ENVI_TYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


@dataclass(frozen=True)
class RawLayout:
    """Where the pixels of an uncompressed, band-sequential raster lie in its file.

    ``offsets`` (bands, block_rows_n, block_cols_n) int64: file offset of each block of each band; a
    block holds ``block_rows`` x ``block_cols`` samples of ``dtype`` (byte order included), row after
    row (a whole BSQ band is one block).
    """

    path: str
    width: int
    height: int
    dtype: np.dtype
    block_rows: int
    block_cols: int
    offsets: np.ndarray = field(repr=False)

    def use(self, window):
        """Fraction of the bytes read for ``window`` (rasterio Window) that it holds: whole block rows
        are read, so a window narrower than the blocks it touches uses only part of them."""
        _, c0, _, w = _bounds(window)
        spanned = -(-(c0 + w) // self.block_cols) - c0 // self.block_cols
        return w / (spanned * self.block_cols)


def _bounds(window):
    return int(window.row_off), int(window.col_off), int(window.height), int(window.width)


def raw_layout(path):
    """The :class:`RawLayout` of ``path``, or None when it must be read through GDAL."""
    try:
        st = os.stat(path)
    except (OSError, TypeError):
        return None
    return _cached_layout(str(path), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


@functools.lru_cache(maxsize=64)
def _cached_layout(path, size, *version):
    """Layout of ``path`` (``version``: inode and times, so that a rewritten file is parsed again)."""
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
    big = magic == 43
    if magic not in (42, 43):
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
    width, height = int(tags[256][0]), int(tags[257][0])
    samples = int(tags.get(277, [1])[0])
    planar = int(tags.get(284, [1])[0])
    bits = set(tags.get(258, [1]).tolist())
    kind = _SAMPLE_KIND.get(int(tags.get(339, [1])[0]))
    if int(tags.get(259, [1])[0]) != 1 or (samples > 1 and planar != 2) or kind is None \
            or len(bits) != 1 or not bits <= {8, 16, 32, 64}:
        return None
    dtype = np.dtype(f"{kind}{bits.pop() // 8}").newbyteorder(end)
    if 322 in tags:  # tiles
        rows, cols = int(tags[323][0]), int(tags[322][0])
        offsets, counts = tags[324], tags[325]
    else:
        rows, cols = min(int(tags.get(278, [height])[0]), height), width
        offsets, counts = tags[273], tags[279]
    grid = (samples, -(-height // rows), -(-width // cols))
    if offsets.size != np.prod(grid) or counts.size != offsets.size:
        return None
    offsets, counts = offsets.reshape(grid), counts.reshape(grid)
    full = rows * cols * dtype.itemsize
    last_rows = height - (grid[1] - 1) * rows  # strips: the last one may be shorter
    need = np.full(grid, full, dtype=np.int64)
    if 322 not in tags:
        need[:, -1, :] = last_rows * cols * dtype.itemsize
    if np.any(offsets <= 0) or np.any(counts < need) or np.any(offsets + need > size):
        return None  # sparse or truncated: GDAL knows what to return
    if 322 not in tags and np.all(offsets[:, 1:, 0] == offsets[:, :-1, 0] + full):
        rows, offsets = height, offsets[:, :1]  # strips one after another: one block per band
    return RawLayout(path, width, height, dtype, rows, cols, np.ascontiguousarray(offsets))


def _envi_layout(path, size):
    """Layout of an ENVI BSQ file (header ``<path>.hdr`` or ``<stem>.hdr``), or None."""
    stem = os.path.splitext(path)[0]
    header = next((h for h in (path + ".hdr", stem + ".hdr", stem + ".HDR") if os.path.exists(h)), None)
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
    if fields.get("interleave", "bsq").lower() != "bsq" or fields.get("file type", "envi standard").lower() \
            not in ("envi standard", "envi"):
        return None
    width, height, bands = int(fields["samples"]), int(fields["lines"]), int(fields["bands"])
    dtype = np.dtype(_ENVI_TYPES[int(fields["data type"])]).newbyteorder(">" if fields.get("byte order") == "1"
                                                                         else "<")
    start = int(fields.get("header offset", 0))
    band_bytes = width * height * dtype.itemsize
    if start + bands * band_bytes > size:
        return None
    offsets = (start + band_bytes * np.arange(bands, dtype=np.int64)).reshape(bands, 1, 1)
    return RawLayout(path, width, height, dtype, height, width, offsets)


def read_raw(layout, window, bands, out=None):
    """Window of ``layout``'s raster as float32 ``(len(bands), rows, cols)``.

    ``window``: rasterio Window inside the raster; ``bands``: 0-based file band indices; ``out``: a
    float32 C-contiguous array of that shape to fill (allocated when None). Raises OSError when the
    file ends early.
    """
    r0, c0, h, w = _bounds(window)
    br, bc, item = layout.block_rows, layout.block_cols, layout.dtype.itemsize
    if out is None:
        out = np.empty((len(bands), h, w), dtype=np.float32)
    same_type = layout.dtype == np.dtype(np.float32)
    blocks = [(by, bx, max(r0, by * br) - by * br, min(r0 + h, (by + 1) * br) - by * br,
               max(c0, bx * bc) - bx * bc, min(c0 + w, (bx + 1) * bc) - bx * bc)
              for by in range(r0 // br, (r0 + h - 1) // br + 1) for bx in range(c0 // bc, (c0 + w - 1) // bc + 1)]
    scratch = np.empty(max((b[3] - b[2]) for b in blocks) * bc, dtype=layout.dtype)
    fd = os.open(layout.path, os.O_RDONLY)
    try:
        for i, band in enumerate(bands):
            offsets = layout.offsets[band]
            for by, bx, ra, rb, ca, cb in blocks:
                orow, ocol = by * br + ra - r0, bx * bc + ca - c0
                nbytes = (rb - ra) * bc * item
                direct = same_type and ca == 0 and cb == bc == w  # whole block rows: straight into place
                target = out[i, orow:orow + rb - ra] if direct else scratch[:(rb - ra) * bc]
                got = os.preadv(fd, [memoryview(target).cast("B")], int(offsets[by, bx]) + ra * bc * item)
                if got != nbytes:
                    raise OSError(f"{layout.path} ends before block ({by}, {bx}) of band {band + 1}")
                if not direct:
                    out[i, orow:orow + rb - ra, ocol:ocol + cb - ca] = target.reshape(rb - ra, bc)[:, ca:cb]
    finally:
        os.close(fd)
    return out
