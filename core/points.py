"""Sample point tables (GeoPackage, Shapefile, CSV) -> coordinates, values, CRS.

``read_points(path, field)`` is the one door through which point samples (auger holes, grab samples
with Zn/Cu/S/Ca ppm) enter remine. It returns a :class:`PointTable` with coordinates in the layer's
units, the numeric ``field`` as float64 (rows with a missing value dropped and counted), the CRS,
sample ids and the attribute table. :func:`merge_duplicates` averages samples that share a location
and :func:`check_projected` refuses geographic (degree) coordinates where distances are needed;
:func:`to_crs` brings points into the CRS of a grid or of surfaces.
"""
import dataclasses
import os
import warnings
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Optional

import numpy as np

from .errors import InputError, RemineWarning

_X_NAMES = ("x", "easting", "east", "e", "xcoord", "x_coord", "lon", "longitude", "long")
_Y_NAMES = ("y", "northing", "north", "n", "ycoord", "y_coord", "lat", "latitude")
_Z_NAMES = ("z", "elevation_m", "z_m")
_ID_NAMES = ("sample_id", "id", "fid", "name", "sample")


@dataclass
class PointTable:
    """Point samples.

    Attributes
    ----------
    coords : ndarray (n, 2) or (n, 3) float64
        x, y (and z) in the units of ``crs`` (metres for a projected CRS).
    values : ndarray (n,) float64 or None
        The requested numeric field; ``None`` when no field was asked for.
    crs : rasterio.crs.CRS or None
        Coordinate reference system (``None`` when the file does not say, e.g. a plain CSV).
    ids : ndarray (n,)
        Sample identifiers (an id column when there is one, else the 0-based row number).
    table : pandas.DataFrame
        The attribute table of the kept rows (no geometry column).
    n_dropped : int
        Rows dropped because the field was missing/NaN or the geometry was empty.
    """

    coords: np.ndarray
    values: Optional[np.ndarray]
    crs: object
    ids: np.ndarray
    table: object
    n_dropped: int = dc_field(default=0)


def read_points(path, field=None, layer=None, crs=None):
    """Read sample points from a GeoPackage, Shapefile (any OGR vector) or CSV file.

    Parameters
    ----------
    path : str
        ``.gpkg``, ``.shp``, ``.geojson`` ... (point geometries, 2D or 3D; a QGIS source such as
        ``a.gpkg|layername=samples`` is understood) or ``.csv`` with x/y columns
        (names ``x``/``y``, ``easting``/``northing``, ``lon``/``lat``..., case-insensitive; an optional ``z``).
    field : str, optional
        Numeric column to return as ``values``. Rows where it is missing/NaN are dropped (counted in
        ``n_dropped``, with a :class:`RemineWarning`).
    layer : str, optional
        Layer name in a multi-layer GeoPackage.
    crs : str or CRS, optional
        CRS of a CSV file (a CSV carries none); ignored for vector files, which carry their own.

    Returns
    -------
    PointTable

    Raises
    ------
    InputError
        missing file, unreadable format, non-point geometries, unknown or non-numeric field,
        CSV without recognisable x/y columns, fewer than one valid point.
    """
    path, layer = split_source(path, layer)
    if not os.path.exists(path):
        raise InputError(f"point file {path} does not exist; expected a GeoPackage, Shapefile or CSV file")
    if path.lower().endswith((".csv", ".txt")):
        table, coords, file_crs = _read_csv(path, crs)
    else:
        table, coords, file_crs = _read_vector(path, layer)
    ids = _ids(table)
    keep = np.all(np.isfinite(coords), axis=1)
    values = None
    if field is not None:
        values = _numeric_field(table, field, path)
        keep &= np.isfinite(values)
    n_dropped = int((~keep).sum())
    if n_dropped:
        what = f"missing/NaN '{field}'" if field is not None else "empty geometry"
        warnings.warn(f"{path}: dropped {n_dropped} of {len(keep)} points with {what}", RemineWarning, stacklevel=2)
    if not keep.any():
        raise InputError(f"{path}: no valid point left (of {len(keep)}) after dropping missing values of "
                         f"'{field}'; expected at least one point with a finite value")
    table = table.loc[keep].reset_index(drop=True)
    return PointTable(coords[keep], None if values is None else values[keep], file_crs, ids[keep], table,
                      n_dropped)


def split_source(source, layer=None):
    """``"a.gpkg|layername=samples"`` -> ``("a.gpkg", "samples")``; a plain path is returned with ``layer``."""
    parts = str(source).split("|")
    for opt in parts[1:]:
        key, _, value = opt.partition("=")
        if key.strip().lower() == "layername" and layer is None:
            layer = value.strip()
    return parts[0], layer


def _read_vector(path, layer):
    import geopandas as gpd
    from rasterio.crs import CRS

    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # fiona raises many driver-specific types
        raise InputError(f"cannot read {path} (layer {layer!r}) as a vector layer: {exc}") from exc
    geom = gdf.geometry
    nonempty = ~(geom.isna() | geom.is_empty)
    kinds = set(geom[nonempty].geom_type)
    if kinds - {"Point"}:
        raise InputError(f"{path}: geometries are {sorted(kinds)}; expected Point geometries "
                         "(convert polygons to centroids or multipoints to single points first)")
    n = len(gdf)
    has_z = bool(nonempty.any() and geom[nonempty].has_z.all())
    coords = np.full((n, 3 if has_z else 2), np.nan)
    pts = geom[nonempty]
    coords[nonempty.to_numpy(), 0] = pts.x.to_numpy()
    coords[nonempty.to_numpy(), 1] = pts.y.to_numpy()
    if has_z:
        coords[nonempty.to_numpy(), 2] = np.array([p.z for p in pts])
    file_crs = CRS.from_user_input(gdf.crs.to_wkt()) if gdf.crs is not None else None
    return gdf.drop(columns=gdf.geometry.name), coords, file_crs


def _read_csv(path, crs):
    import pandas as pd
    from rasterio.crs import CRS

    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise InputError(f"cannot read {path} as CSV: {exc}") from exc
    lower = {c.lower().strip(): c for c in table.columns}
    xcol = next((lower[n] for n in _X_NAMES if n in lower), None)
    ycol = next((lower[n] for n in _Y_NAMES if n in lower), None)
    if xcol is None or ycol is None:
        raise InputError(f"{path}: no x/y columns among {list(table.columns)}; expected columns named "
                         "x and y (or easting/northing, lon/lat)")
    cols = [xcol, ycol] + [lower[n] for n in _Z_NAMES if n in lower][:1]
    coords = np.column_stack([pd.to_numeric(table[c], errors="coerce").to_numpy(float) for c in cols])
    if crs is None and xcol.lower() in ("lon", "longitude", "long"):
        crs = "EPSG:4326"  # the column names say degrees
    return table, coords, (CRS.from_user_input(crs) if crs is not None else None)


def _ids(table):
    lower = {str(c).lower(): c for c in table.columns}
    col = next((lower[n] for n in _ID_NAMES if n in lower), None)
    return table[col].to_numpy() if col is not None else np.arange(len(table))


def _numeric_field(table, field, path):
    import pandas as pd

    if field not in table.columns:
        raise InputError(f"{path}: field '{field}' not found; available fields: {list(table.columns)}")
    col = table[field]
    values = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = col.notna().to_numpy() & ~np.isfinite(values)
    if bad.all() and len(values):
        raise InputError(f"{path}: field '{field}' is not numeric (e.g. {col.iloc[0]!r}); expected numbers")
    return values


def check_projected(crs, what="points"):
    """Raise :class:`InputError` if ``crs`` is geographic (degrees): distances need metres.

    ``crs`` None (unknown) is accepted.
    """
    if crs is not None and getattr(crs, "is_geographic", False):
        raise InputError(f"{what} CRS {crs} is geographic (degrees); distances and variogram ranges need a "
                         "projected CRS in metres: reproject the layer (e.g. to the local UTM zone) first")


def to_crs(points, crs, what="points", target="grid"):
    """``points`` (a :class:`PointTable`) with x, y in ``crs`` (z kept): reprojected, with a
    :class:`RemineWarning` naming both CRS, when both CRS are known and differ; else ``points`` itself.
    :class:`InputError` when a point has no position in ``crs`` (outside the area GDAL/PROJ can transform)."""
    if points.crs is None or crs is None or points.crs == crs:
        return points
    from pyproj import CRS, Transformer

    transformer = Transformer.from_crs(CRS.from_user_input(str(points.crs)), CRS.from_user_input(str(crs)),
                                       always_xy=True)
    xs, ys = transformer.transform(points.coords[:, 0], points.coords[:, 1], errcheck=False)  # inf: no position
    coords = points.coords.copy()
    coords[:, 0], coords[:, 1] = xs, ys
    lost = ~np.isfinite(coords[:, :2]).all(axis=1)
    if lost.any():
        raise InputError(f"{what}: {int(lost.sum())} of {len(coords)} points cannot be reprojected from "
                         f"{points.crs} to the {target} CRS {crs} (first: {list(points.ids[lost][:5])}); "
                         f"check the {what}' CRS")
    warnings.warn(f"{what} reprojected from {points.crs} to the {target} CRS {crs}", RemineWarning, stacklevel=3)
    return dataclasses.replace(points, coords=coords, crs=crs)


def drop_nan(coords, values):
    """Drop points whose value(s) or coordinates are not finite.

    ``values`` (n,) or (n, q). Returns ``(coords, values, n_dropped)``; warns with a :class:`RemineWarning`
    when any was dropped.
    """
    keep = np.all(np.isfinite(values.reshape(len(values), -1)), axis=1) & np.all(np.isfinite(coords), axis=1)
    n = int((~keep).sum())
    if n:
        warnings.warn(f"dropped {n} of {len(values)} points with NaN values or coordinates", RemineWarning,
                      stacklevel=3)
    return coords[keep], values[keep], n


def merge_duplicates(coords, values):
    """Average the values of points with identical coordinates.

    Parameters
    ----------
    coords : ndarray (n, d)
    values : ndarray (n,) or (n, q) (every column averaged)

    Returns
    -------
    coords (m, d), values (m,) or (m, q), n_merged : points removed by merging (n - m). Warns when
    n_merged > 0. Locations keep the order of their first occurrence.
    """
    uniq, first, inverse, counts = np.unique(coords, axis=0, return_index=True, return_inverse=True,
                                             return_counts=True)
    n_merged = len(coords) - len(uniq)
    if not n_merged:
        return coords, values, 0
    inverse = inverse.ravel()
    cols = values.reshape(len(values), -1)
    means = np.column_stack([np.bincount(inverse, weights=col, minlength=len(uniq)) / counts for col in cols.T])
    order = np.argsort(first)
    warnings.warn(f"{n_merged} duplicate points ({int((counts > 1).sum())} locations sampled more than once) "
                  f"were averaged; {len(uniq)} distinct locations remain", RemineWarning, stacklevel=3)
    means = means[order]
    return uniq[order], means.reshape((len(uniq),) + values.shape[1:]), n_merged
