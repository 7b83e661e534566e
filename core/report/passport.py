"""Provenance passport: a ``<output>.passport.json`` sidecar for every output file (docs/architecture.md,
Provenance).

A passport is one entry of a Digital Ore Passport: it records what produced a file (the algorithm id
and version, the parameters), every input with its SHA-256 and the path of its own passport, the
lineage (the passports of every ancestor, deduplicated, so that one passport tells the whole chain
back to the raw data), software versions, CRS and extent (native and WGS 84 bounding boxes), start/end
timestamps, a ``metrics`` object that algorithms fill (accuracy, RMSE, interval coverage…) and an
``uncertainty`` summary (``{"kind": "none"}`` for products without an uncertainty estimate). It
follows ``passport.schema.json``.
"""
import datetime
import hashlib
import json
import math
import os
import platform
import sys

from ..raster import atomic_path, open_raster

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "passport.schema.json")
PASSPORT_VERSION = "1.1"
RASTER_EXTENSIONS = (".tif", ".tiff", ".img", ".vrt", ".bsq", ".bil", ".bip", ".dat")
VECTOR_EXTENSIONS = (".gpkg", ".shp", ".geojson", ".fgb")
NO_UNCERTAINTY = {"kind": "none"}
VERSIONED = ("numpy", "scipy", "rasterio", "sklearn", "xgboost", "torch", "pykrige")


def sha256(path, chunk=2**22):
    """Hex SHA-256 of a file, read in 4 MiB chunks (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for part in iter(lambda: f.read(chunk), b""):
            h.update(part)
    return h.hexdigest()


def file_path(value):
    """The file behind a parameter value (``a.gpkg|layername=x`` → ``a.gpkg``), or None."""
    if not isinstance(value, str):
        return None
    path = value.split("|")[0]
    return path if os.path.isfile(path) else None


def software_versions():
    """Versions of Python, GDAL and the numeric libraries already imported (none imported here)."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, "__version__"):
            versions[name] = str(mod.__version__)
    try:
        from osgeo import gdal

        versions["gdal"] = gdal.__version__
    except ImportError:
        pass
    return versions


def _jsonable(value, notes=None, where="metrics"):
    """A JSON-safe copy of ``value``: NaN and ±inf become None (strict JSON has neither), each listed in
    ``notes`` (a list) as ``"<where.path> is NaN: written as null"``."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        if notes is not None:
            notes.append(f"{where} is {'NaN' if math.isnan(value) else 'infinite'} (undefined for these "
                         "data, e.g. constant values or one class): written as null")
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v, notes, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, notes, f"{where}[{i}]") for i, v in enumerate(value)]
    return str(value)


def sanitise_metrics(metrics, notes=()):
    """JSON-safe ``metrics`` with NaN/inf values as null and a ``notes`` list naming each of them (after the
    given ``notes`` about other parts of the passport)."""
    notes = list(notes)
    clean = _jsonable(dict(metrics or {}), notes)
    if notes:
        clean["notes"] = list(clean.get("notes") or []) + notes
    return clean


def make_passport(algorithm, version, parameters, inputs, output, started, finished=None, crs=None,
                  metrics=None, software=None, uncertainty=None, extent=None, execution=None):
    """Build a passport dict.

    Parameters
    ----------
    algorithm : str
        e.g. ``"remine:spectralsubset"``.
    version : str
        remine version.
    parameters : dict
        Parameter values (made JSON-safe).
    inputs : dict {parameter name: path}
        Input files; each gets its SHA-256 and size.
    output : str
        The output file this passport describes.
    started, finished : datetime
    crs : str, optional
        CRS of the output (WKT/EPSG).
    metrics : dict, optional
    software : dict, optional
        Extra versions, e.g. ``{"qgis": "3.22.16"}``.
    uncertainty : dict, optional
        Uncertainty summary with at least ``"kind"`` (e.g. ``"kriging variance"``); default ``{"kind": "none"}``.
    extent : dict, optional
        :func:`spatial_extent` of the output; computed from the file when not given (None for files
        without a footprint: models, reports, tables). Its CRS fills ``crs`` when that is not given.
    execution : dict, optional
        Where the work ran (:func:`remine.core.cluster.where`): ``{"where": "local", "host"}`` or
        ``{"where": "dask", "scheduler", "workers", "threads"}``.
    """
    finished = finished or datetime.datetime.now(datetime.timezone.utc)
    extent = spatial_extent(output) if extent is None else extent
    if crs is None and extent:
        crs = extent["crs"]
    entries, lineage = [], {}
    for name, path in inputs.items():
        entries.append({"parameter": name, "path": os.path.abspath(path), "sha256": sha256(path),
                        "bytes": os.path.getsize(path), "passport": None})
        parent = read_passport(path)
        if parent is None:
            continue
        entries[-1]["passport"] = os.path.abspath(passport_path(path))
        for ancestor in [parent] + parent.get("lineage", []):
            ancestor = {k: v for k, v in ancestor.items() if k != "lineage"}
            lineage.setdefault((ancestor["output"]["path"], ancestor["output"]["sha256"]), ancestor)
    notes = []  # NaN/inf values (undefined statistics of degenerate data) become null, each with a note
    uncertainty = _jsonable(uncertainty or NO_UNCERTAINTY, notes, "uncertainty")
    passport = {
        "passport_version": PASSPORT_VERSION,
        "algorithm": algorithm,
        "algorithm_version": version,
        "output": {"path": os.path.abspath(output), "sha256": sha256(output) if os.path.isfile(output) else None},
        "parameters": _jsonable(parameters, [], "parameters"),
        "inputs": entries,
        "software": {**software_versions(), **(software or {})},
        "crs": crs,
        "extent": extent,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "metrics": sanitise_metrics(metrics, notes),
        "uncertainty": uncertainty,
        "lineage": list(lineage.values()),
    }
    if execution is not None:
        passport["execution"] = _jsonable(execution)
    return passport


def _crs_text(crs):
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def spatial_extent(path):
    """Footprint of a raster or vector file, or None (not a spatial file, unreadable, or no CRS/bounds).

    Returns ``{"crs": "EPSG:…" or WKT or None, "bbox": [xmin, ymin, xmax, ymax] in the file's CRS,
    "bbox_wgs84": [west, south, east, north] in degrees or None without a CRS}``, plus ``"width"``,
    ``"height"`` and ``"bands"`` for rasters and ``"features"`` for vectors. Read from the header only.
    """
    ext = os.path.splitext(str(path))[1].lower()
    if not os.path.isfile(str(path)) or ext not in RASTER_EXTENSIONS + VECTOR_EXTENSIONS:
        return None
    try:
        if ext in RASTER_EXTENSIONS:
            with open_raster(path) as ds:
                crs, bounds = ds.crs, tuple(ds.bounds)
                extra = {"width": ds.width, "height": ds.height, "bands": ds.count}
        else:
            import fiona
            from rasterio.crs import CRS

            with fiona.open(path) as src:
                crs = CRS.from_wkt(src.crs_wkt) if src.crs_wkt else None
                bounds, extra = tuple(src.bounds), {"features": len(src)}
    except (OSError, ValueError):  # InputError and fiona's DriverError are ValueErrors: no footprint
        return None
    if not all(map(_finite, bounds)):
        return None
    wgs84 = None
    if crs:
        from rasterio.warp import transform_bounds

        wgs84 = [round(v, 8) for v in transform_bounds(crs, "EPSG:4326", *bounds)]
    return {"crs": _crs_text(crs) if crs else None, "bbox": [float(v) for v in bounds], "bbox_wgs84": wgs84,
            **extra}


def _finite(value):
    return value is not None and value == value and abs(value) != float("inf")


def read_passport(path):
    """The passport dict of the file ``path`` (from ``<path>.passport.json``), or None if it has none or it
    is not valid JSON."""
    try:
        with open(passport_path(path), encoding="utf-8") as f:
            passport = json.load(f)
    except (OSError, ValueError):
        return None
    return passport if isinstance(passport, dict) and "output" in passport else None


def passport_path(output):
    """``<output>.passport.json``."""
    return f"{output}.passport.json"


def write_passport(output, passport):
    """Write the passport next to ``output`` (atomic); returns its path."""
    path = passport_path(output)
    text = json.dumps(passport, indent=2, allow_nan=False, default=str)  # fails before anything is written
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)
