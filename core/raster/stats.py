"""Per-band statistics accumulated block by block and stored as GDAL band statistics."""
import functools

import numpy as np

from ..errors import InputError
from .info import open_raster


class BandStatistics:
    """Per-band count, sum, sum of squares, minimum and maximum of the valid cells, accumulated block by
    block (:func:`remine.core.blocks.map_blocks` with ``BlockOutput(statistics=True)``) and stored as GDAL
    band statistics (``STATISTICS_MINIMUM/MAXIMUM/MEAN/STDDEV/VALID_PERCENT``): GDAL returns them without
    computing (``GetStatistics`` with force off), so readers need not scan the pixels, and
    :func:`band_statistics` reads them back.
    """

    def __init__(self, count, nodata=None):
        self.nodata = nodata
        self.n = np.zeros(count)
        self.total = np.zeros(count)
        self.squares = np.zeros(count)
        self.minimum = np.full(count, np.inf)
        self.maximum = np.full(count, -np.inf)

    def add(self, block):
        """Add a block (count, rows, cols); NaN and the nodata value are not counted (one compiled pass,
        about 10x faster than the numpy expression)."""
        a = np.ascontiguousarray(block).reshape(len(self.n), -1)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
        skip = float(self.nodata) if self.nodata is not None and np.isfinite(self.nodata) else np.nan
        _statistics_kernel()(a, skip, self.n, self.total, self.squares, self.minimum, self.maximum)

    def write(self, dst):
        """Store the statistics on the open dataset ``dst`` (a band without valid cells: valid percent 0 only)."""
        cells = dst.width * dst.height
        for b in range(len(self.n)):
            tags = {"STATISTICS_VALID_PERCENT": repr(float(100.0 * self.n[b] / cells))}
            if self.n[b]:
                mean = self.total[b] / self.n[b]
                std = np.sqrt(max(self.squares[b] / self.n[b] - mean * mean, 0.0))
                tags.update(STATISTICS_MINIMUM=repr(float(self.minimum[b])),
                            STATISTICS_MAXIMUM=repr(float(self.maximum[b])), STATISTICS_MEAN=repr(float(mean)),
                            STATISTICS_STDDEV=repr(float(std)))
            dst.update_tags(b + 1, **tags)


@functools.lru_cache(maxsize=None)
def _statistics_kernel():
    """Compile (once) the accumulating kernel of :meth:`BandStatistics.add`."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def accumulate(a, skip, n, total, squares, minimum, maximum):
        for b in range(a.shape[0]):
            row = a[b]
            c, s, ss, lo, hi = 0.0, 0.0, 0.0, minimum[b], maximum[b]
            for v32 in row:
                v = np.float64(v32)
                if np.isfinite(v) and v != skip:
                    c += 1.0
                    s += v
                    ss += v * v
                    lo = min(lo, v)
                    hi = max(hi, v)
            n[b] += c
            total[b] += s
            squares[b] += ss
            minimum[b] = lo
            maximum[b] = hi

    return accumulate


def band_statistics(path):
    """Statistics stored by :class:`BandStatistics`: ``{band name: {"count", "sum", "mean", "stddev",
    "minimum", "maximum"}}`` (count 0 and NaN values for a band without valid cells)."""
    with open_raster(path) as ds:
        cells = ds.width * ds.height
        names = [d or f"band {i + 1}" for i, d in enumerate(ds.descriptions)]
        tags = [ds.tags(b + 1) for b in range(ds.count)]
    out = {}
    for name, t in zip(names, tags):
        if "STATISTICS_VALID_PERCENT" not in t:
            raise InputError(f"{path} band {name!r} has no stored statistics "
                             "(BlockOutput(statistics=True) writes them)")
        count = int(round(float(t["STATISTICS_VALID_PERCENT"]) * cells / 100.0))
        values = {k: float(t.get(f"STATISTICS_{k.upper()}", "nan")) for k in ("mean", "stddev", "minimum", "maximum")}
        out[name] = dict(count=count, sum=values["mean"] * count if count else 0.0, **values)
    return out
