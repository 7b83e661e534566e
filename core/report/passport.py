"""Provenance passport: a ``<output>.passport.json`` sidecar for every output file (docs/architecture.md,
Provenance).

A passport records what produced a file: the algorithm id and version, the parameters, every input
with its SHA-256, software versions, CRS, start/end timestamps and a ``metrics`` object that
algorithms fill (accuracy, RMSE, interval coverage…). It follows ``passport.schema.json``.
"""
import datetime
import hashlib
import json
import os
import platform
import sys

from ..raster import open_raster

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "passport.schema.json")
PASSPORT_VERSION = "1.0"
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


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def make_passport(algorithm, version, parameters, inputs, output, started, finished=None, crs=None,
                  metrics=None, software=None):
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
    """
    finished = finished or datetime.datetime.now(datetime.timezone.utc)
    return {
        "passport_version": PASSPORT_VERSION,
        "algorithm": algorithm,
        "algorithm_version": version,
        "output": {"path": os.path.abspath(output), "sha256": sha256(output) if os.path.isfile(output) else None},
        "parameters": _jsonable(parameters),
        "inputs": [{"parameter": k, "path": os.path.abspath(p), "sha256": sha256(p), "bytes": os.path.getsize(p)}
                   for k, p in inputs.items()],
        "software": {**software_versions(), **(software or {})},
        "crs": crs,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "metrics": _jsonable(metrics or {}),
    }


def raster_crs(path):
    """CRS of a raster file as ``"EPSG:code"`` (or WKT when it has no EPSG code); None if it has none.

    Read from the file header with rasterio: no statistics or histograms are computed (loading the file
    as a QGIS layer would compute them for its default renderer).
    """
    with open_raster(path) as ds:
        crs = ds.crs
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def passport_path(output):
    """``<output>.passport.json``."""
    return f"{output}.passport.json"


def write_passport(output, passport):
    """Write the passport next to ``output`` (atomic); returns its path."""
    path = passport_path(output)
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(passport, f, indent=2, allow_nan=False, default=str)
    os.replace(tmp, path)
    return path


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)
