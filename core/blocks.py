"""Block engine: apply a pure function window by window under a memory budget.

``map_blocks(func, inputs, outputs)`` reads the same window of every input raster, calls
``func(arrays, info)`` and writes the returned arrays into the outputs. Windows consist of whole
output tiles (256 px, smaller when one tile of all bands would not fit the budget), sized so that
``(input + output + working bytes per pixel) × pixels × concurrent blocks ≤ max_bytes``; a block function
declares its working bytes with :func:`with_work_bytes`. Outputs are written to
temporary files and renamed at the end: a cancelled or failed run leaves no output file.

The same block function runs serially, on local processes/threads (joblib), on any executor with
``submit()``, or on a Dask cluster (a ``dask.distributed.Client``, or a scheduler address: ``scheduler=``
or ``REMINE_DASK_SCHEDULER``; see :mod:`remine.core.cluster`): workers read their own windows from the
input paths, so data never has to fit on one machine's memory.
"""
import contextlib
import functools
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from . import cluster
from .errors import InputError, RemineWarning
from .progress import as_progress
from .raster import (
    GDAL_CACHE_BYTES,
    BandStatistics,
    RasterInfo,
    atomic_path,
    check_output_path,
    direct_layout,
    fill_nodata,
    finish_output,
    gtiff_profile,
    open_raster,
    raster_info,
    read_window,
    read_window_table,
)
from .resources import check_grid, human_bytes

#: memory budget of the blocks in flight (all workers together) when a caller gives none, bytes
DEFAULT_MAX_BYTES = 256 * 2**20


def with_work_bytes(func, per_pixel):
    """``func`` as a block function declaring ``per_pixel`` bytes of temporaries per pixel beyond its input
    and output blocks (a picklable ``functools.partial``); :func:`map_blocks` sizes the blocks with it."""
    declared = functools.partial(func)
    declared.work_bytes = float(per_pixel)
    return declared


def io_bytes_per_pixel(in_bands, outputs):
    """Bytes per pixel of a block's inputs (float32, ``in_bands`` in all) and ``outputs`` (BlockOutput list)."""
    return 4 * int(in_bands) + sum(o.count * np.dtype(o.dtype).itemsize for o in outputs)


def block_bytes_per_pixel(func, in_bands, outputs):
    """Bytes per pixel of a block in flight: inputs, outputs and the temporaries ``func`` declares
    (:func:`with_work_bytes`; undeclared: twice the input and output bytes)."""
    io = io_bytes_per_pixel(in_bands, outputs)
    work = getattr(func, "work_bytes", None)
    return io + (2.0 * io if work is None else work)


@dataclass
class GridSpec:
    """A raster grid: ``width`` × ``height`` cells, affine ``transform``, ``crs``."""

    width: int
    height: int
    transform: object
    crs: object = None


@dataclass
class BlockOutput:
    """One output raster of :func:`map_blocks` (``count`` bands of ``dtype``; NaN nodata for floats).

    ``colormap``/``category_names`` make a class map (colour table, names, paletted QGIS style);
    ``value_range`` gives continuous outputs a pseudocolour QGIS style (e.g. (0, 100) for %).
    ``statistics`` accumulates per-band statistics while the blocks are written (in the thread that
    otherwise waits for the next block) and stores them as GDAL statistics (read with
    :func:`remine.core.raster.band_statistics`): meant for outputs of a few bands, e.g. abundances.
    """

    path: str
    count: int
    dtype: str = "float32"
    nodata: Optional[float] = None
    band_names: Optional[List[str]] = None
    wavelengths_nm: Optional[np.ndarray] = None
    fwhm_nm: Optional[np.ndarray] = None
    colormap: Optional[dict] = None
    category_names: Optional[List[str]] = None
    value_range: Optional[tuple] = None
    statistics: bool = False  #: store per-band statistics (:class:`remine.core.raster.BandStatistics`)


@dataclass
class BlockInfo:
    """Where a block lies: rasterio ``window``, the block's affine ``transform`` and the ``crs``; ``valid``:
    the usable-pixel mask (rows * cols,) of the first input (see :func:`pixel_mask`) when ``map_blocks``
    was asked for it (``mask=``), and ``table``: its row-major pixel table (rows * cols, bands) float32
    (``table=True``; None for windows cut from a larger read), both computed by the reading stage while
    the block is in cache, else None."""

    window: object
    transform: object
    crs: object = None
    valid: object = None
    table: object = None

    def xy(self):
        """Map coordinates of the cell centres: ``(x, y)``, each ``(rows, cols)`` float64."""
        rows, cols = int(self.window.height), int(self.window.width)
        c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
        t = self.transform
        return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f


def tile_size(bytes_per_pixel, max_bytes):
    """Output tile side (256, 128, 64, 32 or 16 px): the largest whose square fits one block's budget."""
    for tile in (256, 128, 64, 32):
        if tile * tile * bytes_per_pixel <= max_bytes:
            return tile
    return 16


def plan_windows(width, height, bytes_per_pixel, max_bytes, tile=256):
    """Windows covering ``height`` × ``width`` with at most ``max_bytes / bytes_per_pixel`` cells each.

    Windows consist of whole ``tile`` × ``tile`` output tiles, so that every tile is compressed and
    written once: full-width strips of a multiple of ``tile`` rows when they fit, else runs of tiles
    along a tile row (choose ``tile`` with :func:`tile_size` so that one tile fits the budget).
    """
    from rasterio.windows import Window

    cells = max(1, int(max_bytes // max(bytes_per_pixel, 1)))
    if cells >= width * min(tile, height):
        rows = cells // width
        rows = min(rows // tile * tile if rows >= tile else rows, height)
        return [Window(0, r, width, min(rows, height - r)) for r in range(0, height, rows)]
    rows = min(tile, height, cells)
    cols = max(1, min(width, cells // (tile * rows) * tile, cells // rows))
    return [Window(c, r, min(cols, width - c), min(rows, height - r))
            for r in range(0, height, rows) for c in range(0, width, cols)]


def plan_groups(width, height, bytes_per_pixel, in_bytes_per_pixel, max_bytes, tile=256, input_block=None):
    """Windows to compute, grouped by the window to read: a list of ``(read_window, [windows])``.

    The compute windows come from :func:`plan_windows`. When the input has compressed tiles
    (``input_block`` = their rows, cols) and those windows cut them, a tile would be decoded once per window
    touching it: then each group reads one whole input tile (all bands) once and computes the windows
    inside it from memory, in budget ``max_bytes`` minus the tile's bytes. Otherwise (strips, untiled,
    windows made of whole input tiles, or an input tile larger than half the budget) each group is one
    window, read and computed.
    """
    from rasterio.windows import Window

    windows = plan_windows(width, height, bytes_per_pixel, max_bytes, tile)
    singles = [(w, [w]) for w in windows]
    if not input_block:
        return singles
    bh, bw = (int(v) for v in input_block)
    if bw >= width or bh % tile or bw % tile or bh * bw * in_bytes_per_pixel > max_bytes / 2:
        return singles

    def cuts(off, size, step, total):
        return off % step != 0 or ((off + size) % step != 0 and off + size != total)

    if not any(cuts(w.row_off, w.height, bh, height) or cuts(w.col_off, w.width, bw, width) for w in windows):
        return singles
    groups = []
    for r0 in range(0, height, bh):
        for c0 in range(0, width, bw):
            h, w_ = min(bh, height - r0), min(bw, width - c0)
            subs = plan_windows(w_, h, bytes_per_pixel, max_bytes - bh * bw * in_bytes_per_pixel, tile)
            groups.append((Window(c0, r0, w_, h), [Window(c0 + v.col_off, r0 + v.row_off, v.width, v.height)
                                                   for v in subs]))
    return groups


def run_block(func, infos, bands, read, windows, transform, crs, datasets=None, mask=None, table=False):
    """Read window ``read`` of every input once, apply ``func`` to each of ``windows`` inside it; the
    unit of work sent to executors. ``datasets``: the inputs already open, else each is opened for this
    read. ``mask``, ``table``: see :func:`read_inputs`. Returns one result per window."""
    return compute_windows(func, read_inputs(infos, bands, read, datasets, mask, table), read, windows, transform,
                           crs)


def read_inputs(infos, bands, read, datasets=None, mask=None, table=False):
    """Window ``read`` of every input — float32 (bands, rows, cols) arrays — then, for the first: with
    ``mask`` "finite" or "nonzero" its usable-pixel mask (:func:`pixel_mask`; "nonzero": all-zero pixels
    are unusable too), with ``table`` its row-major pixel table and finite mask (:func:`pixel_table`).
    A pixel-interleaved first input is read as its table directly (no transposition) and its array is
    a band-major view of the table. Returns (arrays, mask or None, table or None)."""
    datasets = datasets or [None] * len(infos)
    rows = read_window_table(infos[0], read, bands[0]) if infos and table else None
    arrays = [read_window(info, read, b, ds) if k or rows is None else
              rows.T.reshape(rows.shape[1], int(read.height), int(read.width))
              for k, (info, b, ds) in enumerate(zip(infos, bands, datasets))]
    valid = None
    if rows is not None:
        valid = table_mask(rows, mask == "nonzero")
    elif arrays and table:
        rows, valid = pixel_table(arrays[0])
        if mask == "nonzero":
            valid = pixel_mask(arrays[0], True)
    elif arrays and mask:
        valid = pixel_mask(arrays[0], mask == "nonzero")
    return arrays, valid, rows


def compute_windows(func, inputs, read, windows, transform, crs):
    """``func`` applied to each of ``windows`` cut from ``inputs`` (:func:`read_inputs` over window ``read``)."""
    from rasterio.windows import transform as window_transform

    arrays, valid, rows = inputs
    results = []
    for w in windows:
        part_valid, part_rows = valid, rows
        if w == read:
            part = arrays
        else:
            r, c = int(w.row_off - read.row_off), int(w.col_off - read.col_off)
            h, wd = int(w.height), int(w.width)
            part = [np.ascontiguousarray(a[:, r:r + h, c:c + wd]) for a in arrays]
            part_rows = None
            if valid is not None:
                part_valid = valid.reshape(int(read.height), int(read.width))[r:r + h, c:c + wd].ravel()
        results.append(func(part, BlockInfo(w, window_transform(w, transform), crs, part_valid, part_rows)))
    return results


def _concurrency(executor):
    """Blocks in memory at once, for the budget per block. Serial: 2 — the block being written (its outputs),
    the one being computed (inputs, outputs, temporaries) and the one being read (inputs, and its pixel
    table with ``table=True``) together stay within two blocks' budgets when the block function's declared
    working bytes count its temporaries (and, with a table, the table twice)."""
    if executor in (None, "serial") or cluster.is_client(executor) or isinstance(executor, cluster.DaskExecutor):
        return 2  # a cluster: the same windows as the local pipeline, two blocks per worker thread
    if isinstance(executor, str):
        if executor not in ("threads", "processes"):
            raise InputError(f"executor '{executor}' unknown; expected None, 'serial', 'threads', 'processes' "
                             "or a dask.distributed.Client")
        return os.cpu_count() or 1
    if hasattr(executor, "submit"):
        return getattr(executor, "_max_workers", os.cpu_count() or 1)
    raise InputError(f"executor {executor!r} has no submit(); expected None, 'serial', 'threads', "
                     "'processes' or a dask.distributed.Client")


def _results(func, infos, bands, groups, grid, executor, n_concurrent, mask=None, table=False):
    """Yield ``(window, result)`` in window order, at most ``2 × n_concurrent`` groups in flight."""
    for group, results in _group_results(func, infos, bands, groups, grid, executor, n_concurrent, mask, table):
        yield from zip(group[1], results)


def _group_results(func, infos, bands, groups, grid, executor, n_concurrent, mask=None, table=False):
    args = (func, infos, bands)
    if isinstance(executor, cluster.DaskExecutor):
        yield from executor.group_results((run_block, *args, grid.transform, grid.crs, mask, table), groups)
        return
    if executor in (None, "serial"):
        # a pipeline of three stages, one group each: the caller writes group k while a thread computes
        # group k + 1 and another reads group k + 2 (GDAL and compiled kernels release the GIL), so that
        # reading and writing overlap computing (unmixing 100k px x 200 bands: 0.215 -> 0.189 s). Inputs read
        # through GDAL stay open for the whole run; only the reading thread reads them.
        from concurrent.futures import ThreadPoolExecutor

        with contextlib.ExitStack() as stack:
            datasets = [stack.enter_context(open_raster(info.path))  # for GDAL; direct reads need none
                        if any(direct_layout(info, g[0]) is None for g in groups) else None for info in infos]
            reader = stack.enter_context(ThreadPoolExecutor(1))
            computer = stack.enter_context(ThreadPoolExecutor(1))
            reads = [reader.submit(read_inputs, infos, bands, g[0], datasets, mask, table) for g in groups[:2]]

            def compute(k):
                read, windows = groups[k]
                return compute_windows(func, reads[k].result(), read, windows, grid.transform, grid.crs)

            future = computer.submit(compute, 0)
            for k, g in enumerate(groups):
                result = future.result()
                reads[k] = None  # computed: its input arrays can go
                if k + 1 < len(groups):
                    future = computer.submit(compute, k + 1)
                if k + 2 < len(groups):
                    reads.append(reader.submit(read_inputs, infos, bands, groups[k + 2][0], datasets, mask, table))
                yield g, result
        return
    if isinstance(executor, str):
        from joblib import Parallel, delayed

        backend = "threading" if executor == "threads" else "loky"
        with Parallel(n_jobs=n_concurrent, backend=backend) as parallel:
            for start in range(0, len(groups), n_concurrent):
                batch = groups[start:start + n_concurrent]
                out = parallel(delayed(run_block)(*args, *g, grid.transform, grid.crs, None, mask, table)
                               for g in batch)
                yield from zip(batch, out)
        return
    pending = []
    for g in groups:
        pending.append((g, executor.submit(run_block, *args, *g, grid.transform, grid.crs, None, mask, table)))
        if len(pending) >= 2 * n_concurrent:
            g0, fut = pending.pop(0)
            yield g0, fut.result()
    for g0, fut in pending:
        yield g0, fut.result()


def _largest_block(groups, bytes_per_pixel, in_bytes_per_pixel):
    """The largest compute window of ``groups`` (rasterio Window) and the bytes of its group: the window's
    working memory, plus the input tile its group holds when it computes several windows of one read."""
    def size(w):
        return int(w.width) * int(w.height)

    read, windows = max(groups, key=lambda g: max(size(w) for w in g[1]) * bytes_per_pixel
                        + (size(g[0]) * in_bytes_per_pixel if len(g[1]) > 1 else 0))
    window = max(windows, key=size)
    return window, size(window) * bytes_per_pixel + (size(read) * in_bytes_per_pixel if len(windows) > 1 else 0)


def _check_grid(infos, grid):
    for info in infos:
        same = (info.width, info.height) == (grid.width, grid.height) and \
            np.allclose(tuple(info.transform)[:6], tuple(grid.transform)[:6], rtol=0, atol=1e-6 * abs(grid.transform.a))
        if not same:
            raise InputError(f"{info.path} ({info.height} x {info.width} px, transform {tuple(info.transform)[:6]}) "
                             f"is not on the grid of the first input ({grid.height} x {grid.width} px, "
                             f"{tuple(grid.transform)[:6]}); resample it to the same grid first")
        if info.crs != grid.crs and info.crs is not None and grid.crs is not None:
            raise InputError(f"{info.path} CRS {info.crs} differs from {grid.crs}; reproject it first")


def map_blocks(func, inputs, outputs, max_bytes=DEFAULT_MAX_BYTES, progress=None, executor=None, grid=None,
               bands=None, mask=None, table=False, tally=None, scheduler=None):
    """Apply ``func`` block by block to rasters on one grid and write its results.

    Parameters
    ----------
    func : callable ``func(arrays, info) -> list of arrays``
        ``arrays[i]`` is float32 ``(bands_i, rows, cols)`` of input ``i`` (NaN at nodata, bands in
        ascending-wavelength order); ``info`` is a :class:`BlockInfo`. Returns one array
        ``(count_j, rows, cols)`` per output. Must be pure (and picklable for processes/dask). Its
        temporaries per pixel, declared with :func:`with_work_bytes`, size the blocks (undeclared: twice the
        input and output bytes).
    inputs : list of str | RasterInfo
        Input rasters, all on one grid (RasterInfo lets the caller fix wavelength units).
    outputs : list of BlockOutput
        Output GeoTIFFs on the same grid.
    max_bytes : int
        Memory budget for the blocks in flight (all local workers together; on a Dask cluster, per worker
        thread), bytes.
    progress : Progress, optional
        Reports per block; cancel is checked between blocks (raises CancelledError, no output left).
    executor : None | "serial" | "threads" | "processes" | dask.distributed.Client | concurrent Executor
        None: the Dask cluster of ``scheduler`` if there is one, else the local pipeline.
    grid : GridSpec | RasterInfo, optional
        Output grid when there are no inputs (e.g. kriging); default: the first input's grid.
    bands : list of (list of int | None), optional
        0-based band selection per input.
    mask : None | "finite" | "nonzero"
        Compute the usable-pixel mask of the first input while reading (``BlockInfo.valid``; "nonzero":
        all-zero pixels are unusable too), off the computing thread and while the block is in cache.
    table : bool
        Also build the first input's row-major pixel table while reading (``BlockInfo.table``, with its
        finite mask in ``BlockInfo.valid``): for block functions on (n, bands) tables; count it in
        the declared working bytes.
    tally : dict, optional
        Given, ``func`` returns ``(arrays, counts)`` with ``counts`` a ``{name: number}`` dict per window
        (e.g. values it had to treat); they are summed into ``tally`` (works with every executor).
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``) that computes the blocks when no ``executor`` is given;
        default: :func:`remine.core.cluster.scheduler_address` (``REMINE_DASK_SCHEDULER``); "": local.

    Returns
    -------
    list of str : output paths.
    """
    progress = as_progress(progress)
    run = _plan_run(func, inputs, outputs, max_bytes, executor, grid, bands, mask)
    n_windows = sum(len(g[1]) for g in run.groups)
    progress.report(0.0, f"{run.grid.width} x {run.grid.height} px in {n_windows} block(s), "
                         f"{human_bytes(run.size)} of output uncompressed")
    profiles = [gtiff_profile(run.grid, o.count, o.dtype, o.nodata, run.tile) for o in outputs]

    import rasterio

    with contextlib.ExitStack() as stack:
        stack.callback(_release_freed_memory)  # last: after the outputs are closed, also on error or cancel
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES))
        executor = stack.enter_context(cluster.executor_for(executor, scheduler))
        if isinstance(executor, cluster.DaskExecutor):
            executor.prepare([i.path for i in run.infos], *_largest_block(run.groups, run.bytes_per_pixel,
                                                                          run.in_bytes_per_pixel), progress)
        tmps = [stack.enter_context(atomic_path(p)) for p in run.paths]
        dsts = [stack.enter_context(rasterio.open(t, "w", **prof)) for t, prof in zip(tmps, profiles)]
        stats = [BandStatistics(o.count, prof["nodata"]) if o.statistics else None
                 for o, prof in zip(outputs, profiles)]
        has_data = False
        # closed on error or Cancel before the executor: what is queued on a cluster is cancelled while its
        # client is open (left to the garbage collector, that came after the client had closed)
        blocks = stack.enter_context(contextlib.closing(
            _results(func, run.infos, run.bands, run.groups, run.grid, executor, run.n_concurrent, mask, table)))
        for k, (w, result) in enumerate(blocks):
            if tally is not None:
                result, counts = result
                for name, value in counts.items():
                    tally[name] = tally.get(name, 0) + value
            _write_block(dsts, profiles, outputs, w, result)
            has_data = has_data or _has_data(result[0], profiles[0]["nodata"])
            for st, arr in zip(stats, result):
                if st is not None:
                    st.add(arr)
            del result
            progress.report((k + 1) / n_windows, f"block {k + 1}/{n_windows}")
            progress.check()
        for dst, tmp, o, st in zip(dsts, tmps, outputs, stats):
            finish_output(dst, tmp, band_names=o.band_names, wavelengths_nm=o.wavelengths_nm, fwhm_nm=o.fwhm_nm,
                          colormap=o.colormap, category_names=o.category_names, value_range=o.value_range,
                          statistics=st)
    if not has_data:
        names = ", ".join(os.path.basename(i.path) for i in run.infos) or "the inputs"
        warnings.warn(f"every pixel of {os.path.basename(run.paths[0])} is nodata: {names} gave no usable pixel on "
                      "this grid (all NaN or nodata?); check the inputs", RemineWarning, stacklevel=2)
    return run.paths


@dataclass
class _Run:
    """What :func:`map_blocks` checked and planned: input metadata, grid, band selections, output paths,
    window groups, output tile side, blocks in memory at once, the outputs' uncompressed bytes and the bytes
    per pixel of a block in flight and of its inputs."""

    infos: list
    grid: object
    bands: list
    paths: list
    groups: list
    tile: int
    n_concurrent: int
    size: int
    bytes_per_pixel: float
    in_bytes_per_pixel: int


def _plan_run(func, inputs, outputs, max_bytes, executor, grid, bands, mask):
    """Check :func:`map_blocks`' inputs, outputs and options (InputError) and plan its windows."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float, np.number)) or not max_bytes > 0:
        raise InputError(f"memory budget (max_bytes) must be a number of bytes > 0, e.g. {DEFAULT_MAX_BYTES} "
                         f"(256 MiB); got {max_bytes!r}")
    if mask not in (None, "finite", "nonzero"):
        raise InputError(f"mask must be None, 'finite' or 'nonzero'; got {mask!r}")
    infos = [i if isinstance(i, RasterInfo) else raster_info(i) for i in inputs]
    if grid is None:
        if not infos:
            raise InputError("map_blocks needs at least one input raster or a grid")
        grid = GridSpec(infos[0].width, infos[0].height, infos[0].transform, infos[0].crs)
    _check_grid(infos, grid)
    bands = list(bands) if bands is not None else [None] * len(infos)
    in_bands = [info.count if b is None else len(b) for info, b in zip(infos, bands)]
    paths = [check_output_path(o.path, [i.path for i in infos]) for o in outputs]
    if len(set(paths)) != len(paths):
        raise InputError(f"output paths must differ, got {paths}")
    out_bytes = sum(o.count * np.dtype(o.dtype).itemsize for o in outputs)
    size = check_grid(grid.width, grid.height, out_bytes, os.path.dirname(paths[0]) if paths else None)
    bytes_per_pixel = block_bytes_per_pixel(func, sum(in_bands), outputs)
    n_concurrent = _concurrency(executor)
    per_block = max_bytes / n_concurrent
    tile = tile_size(bytes_per_pixel, per_block)
    compressed_tiles = infos[0].block_shape if infos and infos[0].compression else None  # else read directly
    groups = plan_groups(grid.width, grid.height, bytes_per_pixel, 4 * sum(in_bands), per_block, tile,
                         compressed_tiles)
    return _Run(infos, grid, bands, paths, groups, tile, n_concurrent, size, bytes_per_pixel, 4 * sum(in_bands))


def _has_data(result, nodata):
    """Whether the first band of a block result holds a pixel that is not nodata (one band only: cheap)."""
    band = np.asarray(result)
    band = band[0] if band.ndim == 3 else band
    if nodata is None:
        return band.size > 0
    return bool(np.any(np.isfinite(band) if np.isnan(nodata) else band != nodata))


@functools.lru_cache(maxsize=None)
def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _release_freed_memory():
    """Give the memory freed by a run back to the operating system (called when map_blocks ends). glibc keeps
    freed heap memory of each thread's arena for reuse: during a run that is what the next blocks need
    (so there is no trim per block), after it an idle QGIS would hold it (benchmarks/NOTES.md)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _write_block(dsts, profiles, outputs, window, result):
    if not isinstance(result, (list, tuple)) or len(result) != len(outputs):
        raise ValueError(f"block function returned {type(result).__name__} of length "
                         f"{len(result) if hasattr(result, '__len__') else '?'}; expected a list of "
                         f"{len(outputs)} arrays (one per output)")
    shape = (int(window.height), int(window.width))
    for dst, prof, o, arr in zip(dsts, profiles, outputs, result):
        arr = np.asarray(arr)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (o.count,) + shape:
            raise ValueError(f"block function returned shape {arr.shape} for {o.path}; "
                             f"expected {(o.count,) + shape}")
        dst.write(fill_nodata(arr, prof["dtype"], prof["nodata"]), window=window)


def pixel_table(block):
    """Pixel table of a cube block, and the mask of usable pixels, in one cache-friendly pass.

    Parameters
    ----------
    block : float32 array (bands, rows, cols), NaN at nodata (as ``map_blocks`` gives it)

    Returns
    -------
    X : float32 C-contiguous array (rows * cols, bands), the pixels in row-major order
    valid : bool array (rows * cols,), True where every band is finite
    """
    flat = np.ascontiguousarray(block, dtype=np.float32).reshape(block.shape[0], -1)
    X = np.empty(flat.shape[::-1], dtype=np.float32)
    valid = np.empty(flat.shape[1], dtype=np.bool_)
    _table_kernel()(flat, X, valid)
    return X, valid


def pixel_mask(block, require_nonzero=False):
    """Mask (rows * cols,) of usable pixels of a cube block, in one compiled pass and without copying.

    ``block`` float32 (bands, rows, cols); True where every band is finite (and, if asked, one is non-zero).
    """
    flat = np.ascontiguousarray(block).reshape(block.shape[0], -1)
    valid = np.empty(flat.shape[1], dtype=np.bool_)
    _mask_kernel()(flat, valid, require_nonzero)
    return valid


def table_mask(X, require_nonzero=False):
    """Mask (n,) of usable rows of a pixel table ``X`` (n, bands) float32: every band finite (and, if asked,
    one non-zero); one compiled pass."""
    valid = np.empty(X.shape[0], dtype=np.bool_)
    _table_mask_kernel()(np.ascontiguousarray(X), valid, require_nonzero)
    return valid


@functools.lru_cache(maxsize=None)
def _table_mask_kernel():
    """Compile (once) the kernel of :func:`table_mask` (serial: it runs on map_blocks' reading thread)."""
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False, fastmath={"reassoc"})
    def mask(X, valid, require_nonzero):
        for p in range(X.shape[0]):
            row = X[p]
            finite = np.float32(0.0)  # stays 0 unless a band is NaN or infinite (vectorisable)
            nonzero = False
            for k in range(X.shape[1]):
                finite += row[k] * np.float32(0.0)
                nonzero |= row[k] != 0
            valid[p] = finite == 0 and (nonzero or not require_nonzero)

    return mask


@functools.lru_cache(maxsize=None)
def _mask_kernel():
    """Compile (once) the kernel of :func:`pixel_mask`: band rows streamed in order (vectorised); serial,
    as it runs on map_blocks' reading thread beside the computing one."""
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def mask(flat, valid, require_nonzero):
        n_bands, n = flat.shape
        finite = np.zeros(n, np.float32)  # stays 0 unless a band is NaN or infinite
        nonzero = np.zeros(n, np.bool_)
        for k in range(n_bands):
            row = flat[k]
            for p in range(n):
                finite[p] += row[p] * np.float32(0.0)
                nonzero[p] |= row[p] != 0
        for p in range(n):
            valid[p] = finite[p] == 0 and (nonzero[p] or not require_nonzero)

    return mask


@functools.lru_cache(maxsize=None)
def _table_kernel():
    """Compile (once) the transposing kernel of :func:`pixel_table`: pixels in runs of 64, all bands
    per run, so that reads (band rows) and writes (pixel rows) both stay in cache."""
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def table(flat, out, valid):
        n_bands, n = flat.shape
        for p0 in range(0, n, 64):
            p1 = min(n, p0 + 64)
            for p in range(p0, p1):
                valid[p] = True
            for k in range(n_bands):
                row = flat[k]
                for p in range(p0, p1):
                    v = row[p]
                    out[p, k] = v
                    if not np.isfinite(v):
                        valid[p] = False

    return table
