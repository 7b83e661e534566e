"""A run as a STAC catalogue (SpatioTemporal Asset Catalog 1.1, written and validated with pystac).

One Item per output: its asset (the file, with its SHA-256 and size) and its passport as a second asset,
the footprint (the output's WGS 84 bounding box; for files without one — models, tables, reports — the
union of the footprints in its lineage), the time it was produced (``start_datetime`` … ``end_datetime``
of the algorithm run), and the passport itself (without the lineage, which is kept as the list of
ancestor outputs) under ``remine:passport``. Links and asset hrefs are relative, so the catalogue
folder and the run folder can be moved together; stac-browser, pystac-client or any STAC tool can
search the runs by place, time, algorithm or metric.
"""
import datetime
import os
import re

from ..dependencies import dependency_error
from .run import load_run

MEDIA_TYPES = {".tif": "image/tiff; application=geotiff", ".tiff": "image/tiff; application=geotiff",
               ".gpkg": "application/geopackage+sqlite3", ".json": "application/json", ".csv": "text/csv",
               ".html": "text/html", ".png": "image/png", ".h5": "application/x-hdf5"}


def _pystac():
    try:
        import pystac
    except ModuleNotFoundError:
        raise dependency_error("pystac") from None
    return pystac


def _footprint(passport):
    """WGS 84 bbox of the output, else the union of its ancestors' boxes, else None."""
    own = (passport.get("extent") or {}).get("bbox_wgs84")
    if own:
        return own
    boxes = [(a.get("extent") or {}).get("bbox_wgs84") for a in passport.get("lineage", [])]
    boxes = [b for b in boxes if b]
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _item_id(run, entry, taken):
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", run.relative(entry.file)).strip("_") or "output"
    item_id, k = base, 2
    while item_id in taken:
        item_id, k = f"{base}-{k}", k + 1
    taken.add(item_id)
    return item_id


def _item(pystac, run, entry, item_id):
    passport = entry.passport
    bbox = _footprint(passport)
    geometry = None
    if bbox:
        w, s, e, n = bbox
        geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    start = datetime.datetime.fromisoformat(passport["started"])
    end = datetime.datetime.fromisoformat(passport["finished"])
    properties = {
        "title": run.relative(entry.file), "start_datetime": start.isoformat(), "end_datetime": end.isoformat(),
        "remine:algorithm": passport["algorithm"],
        "remine:passport": {k: v for k, v in passport.items() if k != "lineage"},
        "remine:lineage": [{"algorithm": a["algorithm"], "path": a["output"]["path"], "sha256": a["output"]["sha256"]}
                           for a in passport.get("lineage", [])],
    }
    item = pystac.Item(item_id, geometry, bbox, end, properties)
    ext = os.path.splitext(entry.file)[1].lower()
    if os.path.isfile(entry.file):
        item.add_asset("data", pystac.Asset(os.path.abspath(entry.file), title=entry.name,
                                            media_type=MEDIA_TYPES.get(ext), roles=["data"],
                                            extra_fields={"remine:sha256": passport["output"]["sha256"],
                                                          "remine:bytes": os.path.getsize(entry.file)}))
    item.add_asset("passport", pystac.Asset(entry.passport_file, title="remine passport",
                                            media_type="application/json", roles=["metadata"]))
    return item


def export_catalog(source, out_dir, title=None):
    """Write the STAC catalogue of the run at ``source`` (folder or list of outputs) into ``out_dir``.

    Returns ``{"catalog": path of catalog.json, "items": number of Items, "problems": files not as
    recorded (see :func:`remine.core.report.run.check_run`)}``. The catalogue is validated against the
    STAC 1.1 JSON Schemas shipped with pystac before it is returned (``pystac.STACValidationError`` if not).
    """
    pystac = _pystac()
    run = load_run(source)
    name = os.path.basename(os.path.abspath(run.root or out_dir))
    algorithms = sorted({e.algorithm for e in run.entries})
    catalog = pystac.Catalog(id=f"remine-run-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}",
                             title=title or f"remine run {name}",
                             description=f"Outputs of a remine run ({len(run.entries)} files from "
                                         f"{', '.join(algorithms)}), each with its Digital Ore Passport.")
    taken = set()
    for entry in run.entries:
        catalog.add_item(_item(pystac, run, entry, _item_id(run, entry, taken)))
    os.makedirs(out_dir, exist_ok=True)
    catalog.normalize_hrefs(os.path.abspath(out_dir))
    catalog.make_all_asset_hrefs_relative()
    catalog.validate_all()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return {"catalog": os.path.join(os.path.abspath(out_dir), "catalog.json"), "items": len(run.entries),
            "problems": [vars(p) for p in run.problems]}
