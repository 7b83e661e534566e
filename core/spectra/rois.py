"""Pixels of a raster under ROI polygons, read ROI by ROI (memory bounded by the largest ROI window).

Shared by :func:`remine.core.learn.build_training_set` (pixel tables / k×k patches) and
:func:`remine.core.spectra.library_from_rois` (mean / median / all pixels as a spectral library).
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..progress import as_progress
from ..raster import READ_OPTIONS, raster_info

TILE = 256  # GeoTIFF tile size of remine outputs; ROIs are visited tile by tile
READ_BYTES = 128 * 2**20  # at most this much raster is read at once for a group of neighbouring ROIs


@dataclass
class RoiLayer:
    """ROI polygons in the raster CRS.

    frame : geopandas.GeoDataFrame, one row per polygon feature (reprojected if needed).
    ids : ndarray (n,) int, ROI id of each row (``id_field`` or 1..n when the layer has no such field).
    id_labels : list[str], the original id values as text (ids may be strings in the layer).
    """

    frame: object
    ids: np.ndarray
    id_labels: list


def read_rois(rois, raster_crs, id_field="roi_id", progress=None):
    """Read a polygon layer (path or GeoDataFrame) and bring it to ``raster_crs``.

    A layer in another CRS is reprojected, with a warning through ``progress``. Empty or missing
    geometries raise :class:`InputError` naming the ROI ids. Ids that are not integers are numbered
    1..n in order of appearance (the mapping is kept in ``id_labels``).
    """
    import geopandas as gpd
    from rasterio.crs import CRS

    progress = as_progress(progress)
    frame = rois if isinstance(rois, gpd.GeoDataFrame) else _read_layer(rois)
    if len(frame) == 0:
        raise InputError(f"ROI layer {rois!r} has no features; expected polygons with field '{id_field}'")
    if id_field in frame.columns:
        raw = frame[id_field].to_numpy()
    else:
        progress.warn(f"ROI layer has no field '{id_field}'; numbering ROIs 1..{len(frame)} by feature order")
        raw = np.arange(1, len(frame) + 1)
    ids, id_labels = _integer_ids(raw)
    empty = [id_labels[i] for i, g in enumerate(frame.geometry) if g is None or g.is_empty]
    if empty:
        raise InputError(f"ROIs with empty geometry: {', '.join(map(str, empty))}; draw polygons or delete them")
    if not set(frame.geom_type) <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"ROI layer must hold polygons; got geometry types {sorted(set(frame.geom_type))}")
    target = CRS.from_user_input(raster_crs) if raster_crs is not None else None
    if frame.crs is None:
        progress.warn("ROI layer has no CRS; assuming it is the raster CRS")
    elif target is not None and CRS.from_user_input(frame.crs) != target:
        progress.warn(f"ROI layer CRS {_crs_name(frame.crs)} differs from raster CRS {_crs_name(target)}; "
                      "ROIs reprojected to the raster CRS")
        frame = frame.to_crs(target.to_wkt())
    return RoiLayer(frame.reset_index(drop=True), ids, id_labels)


def _read_layer(path):
    """Read a vector file; ``path|layername=name`` (a QGIS layer source) selects a GeoPackage layer."""
    import geopandas as gpd

    path, _, options = str(path).partition("|")
    layer = dict(o.split("=", 1) for o in options.split("|") if "=" in o).get("layername")
    try:
        return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # fiona/GDAL raise many types; report them as bad input
        raise InputError(f"cannot read ROI layer {path!r}: {exc}") from exc


def _crs_name(crs):
    from rasterio.crs import CRS

    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()[:60]


def id_text(value):
    """An id as text; integral floats lose their ``.0`` (lab tables often store ids as floats)."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value).strip()


def _integer_ids(raw):
    labels = [id_text(v) for v in raw]
    try:
        as_float = np.asarray(raw, dtype=float)
        if np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)):
            return as_float.astype(np.int64), labels
    except (TypeError, ValueError):
        pass
    order = {}
    ids = np.array([order.setdefault(v, len(order) + 1) for v in labels], dtype=np.int64)
    return ids, labels


@dataclass
class RoiPixels:
    """Pixels of one ROI: ``values`` (n, bands) or (n, bands, k, k) float32, ``coords`` (n, 2) map x/y."""

    values: np.ndarray
    coords: np.ndarray


def read_roi_pixels(cube_path, layer, patch_size=1, max_pixels_per_roi=None, seed=0, progress=None,
                    max_bytes=READ_BYTES):
    """List of :class:`RoiPixels`, one per ROI feature of ``layer`` (a :class:`RoiLayer`), in layer order.

    A pixel belongs to a ROI when its centre lies inside the polygon and all its bands are finite.
    With ``patch_size`` k > 1 each pixel comes with its k×k neighbourhood (bands, k, k); neighbours
    outside the raster or at nodata take the centre pixel's spectrum. ``max_pixels_per_roi`` draws a
    random subset (seeded, reproducible). ROIs outside the raster (checked before reading) or without
    any valid pixel raise :class:`InputError` naming their ids. Neighbouring ROIs are read together, at
    most ``max_bytes`` of raster at a time (more only for a single ROI larger than that).
    """
    import rasterio

    progress = as_progress(progress)
    if int(patch_size) < 1 or int(patch_size) % 2 == 0:
        raise InputError(f"patch_size must be an odd integer >= 1; got {patch_size}")
    info = raster_info(cube_path)
    windows = _roi_windows(layer, info, patch_size // 2)
    rng = np.random.default_rng(seed)
    indexes = [int(b) + 1 for b in info.order]
    found, done = [None] * len(windows), 0
    with rasterio.Env(**READ_OPTIONS), rasterio.open(info.path) as ds:
        for group, union in _read_groups(windows, 4 * info.count, max_bytes):
            progress.check()
            block = ds.read(indexes, window=union, out_dtype="float32")
            if info.nodata is not None and not np.isnan(info.nodata):
                block[block == np.float32(info.nodata)] = np.nan
            for i in group:
                w = windows[i]["read"]
                r0, c0 = int(w.row_off - union.row_off), int(w.col_off - union.col_off)
                data = pad_nan(block[:, r0:r0 + int(w.height), c0:c0 + int(w.width)], windows[i]["pad"])
                found[i] = _extract(data, layer.frame.geometry.iloc[i], windows[i]["transform"], patch_size,
                                    max_pixels_per_roi, rng)
                done += 1
                n = 0 if found[i] is None else len(found[i].values)
                progress.report(done / len(windows), f"ROI {layer.id_labels[i]}: {n} pixels")
    empty = [layer.id_labels[i] for i, pixels in enumerate(found) if pixels is None]
    if empty:
        raise InputError(f"ROIs without any valid pixel (smaller than a pixel or all nodata): "
                         f"{', '.join(map(str, empty))}; enlarge or delete them")
    return found


def _read_groups(windows, bytes_per_pixel, max_bytes=READ_BYTES):
    """Group ROI windows (in tile order) whose union window stays under ``max_bytes``: each group is read
    from the file once (tiles of compressed GeoTIFFs decode once instead of once per ROI).

    Yields ``(row indices, union Window)``.
    """
    from rasterio.windows import Window

    order = sorted(range(len(windows)), key=lambda k: (int(windows[k]["read"].row_off) // TILE,
                                                      int(windows[k]["read"].col_off) // TILE, k))
    group, box = [], None
    for k in order:
        w = windows[k]["read"]
        edges = (w.row_off, w.col_off, w.row_off + w.height, w.col_off + w.width)
        grown = edges if box is None else (min(box[0], edges[0]), min(box[1], edges[1]), max(box[2], edges[2]),
                                           max(box[3], edges[3]))
        if group and (grown[2] - grown[0]) * (grown[3] - grown[1]) * bytes_per_pixel > max_bytes:
            yield group, Window(box[1], box[0], box[3] - box[1], box[2] - box[0])
            group, grown = [], edges
        group.append(k)
        box = grown
    if group:
        yield group, Window(box[1], box[0], box[3] - box[1], box[2] - box[0])


def _extract(data, geom, transform, patch_size, max_pixels, rng):
    """Pixels (or patches) of padded ``data`` (bands, rows + 2h, cols + 2h) whose centres fall in ``geom``."""
    from rasterio.features import geometry_mask

    h = patch_size // 2
    inner = data[:, h:data.shape[1] - h, h:data.shape[2] - h] if h else data
    inside = geometry_mask([geom], out_shape=inner.shape[1:], transform=transform, invert=True)
    rows, cols = np.nonzero(inside & np.isfinite(inner).all(axis=0))
    if max_pixels is not None and len(rows) > int(max_pixels):
        keep = np.sort(rng.choice(len(rows), int(max_pixels), replace=False))
        rows, cols = rows[keep], cols[keep]
    if not len(rows):
        return None
    xs, ys = transform * (cols + 0.5, rows + 0.5)
    values = inner[:, rows, cols].T if patch_size == 1 else pixel_patches(data, rows, cols, patch_size)
    return RoiPixels(np.ascontiguousarray(values, dtype=np.float32), np.column_stack([xs, ys]).astype(np.float64))


def _roi_windows(layer, info, halo):
    """Read window (inside the raster), padding and transform of each ROI's bounding box."""
    from rasterio.windows import Window, from_bounds

    outside, windows = [], []
    for i, geom in enumerate(layer.frame.geometry):
        win = from_bounds(*geom.bounds, transform=info.transform)
        c0, r0 = int(np.floor(win.col_off)), int(np.floor(win.row_off))
        c1, r1 = int(np.ceil(win.col_off + win.width)), int(np.ceil(win.row_off + win.height))
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, info.width), min(r1, info.height)
        if c1 <= c0 or r1 <= r0:
            outside.append(layer.id_labels[i])
            continue
        rc0, rr0 = max(c0 - halo, 0), max(r0 - halo, 0)
        rc1, rr1 = min(c1 + halo, info.width), min(r1 + halo, info.height)
        pad = (rr0 - (r0 - halo), (r1 + halo) - rr1, rc0 - (c0 - halo), (c1 + halo) - rc1)
        windows.append({"read": Window(rc0, rr0, rc1 - rc0, rr1 - rr0), "pad": pad,
                        "transform": info.transform * info.transform.translation(c0, r0)})
    if outside:
        raise InputError(f"ROIs outside the raster extent {tuple(round(b, 3) for b in _bounds(info))}: "
                         f"{', '.join(map(str, outside))}; check the layer and its CRS")
    return windows


def _bounds(info):
    t = info.transform
    x0, y0 = t * (0, 0)
    x1, y1 = t * (info.width, info.height)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def pad_nan(data, pad):
    """``data`` (bands, rows, cols) padded with NaN by ``pad`` = (top, bottom, left, right) pixels."""
    top, bottom, left, right = pad
    if not any(pad):
        return data
    return np.pad(data, ((0, 0), (top, bottom), (left, right)), constant_values=np.nan)


def pixel_patches(data, rows, cols, k):
    """k×k patches (n, bands, k, k) centred on inner pixels (rows, cols) of the padded ``data``."""
    offsets = np.arange(k)
    r = rows[:, None, None] + offsets[None, :, None]
    c = cols[:, None, None] + offsets[None, None, :]
    patches = data[:, r, c].transpose(1, 0, 2, 3)  # (n, bands, k, k)
    centre = patches[:, :, k // 2, k // 2][:, :, None, None]
    bad = ~np.isfinite(patches).all(axis=1, keepdims=True)
    return np.where(bad, centre, patches)
