"""Products of a run scored against a known truth (the demo scene's truth rasters, or any raster on the
same grid with the same band or class names): map accuracy, abundance RMSE and interval coverage,
grade RMSE. Rasters are read whole: these are for demo- and test-sized scenes.
"""
import numpy as np

from ..errors import InputError
from ..raster import open_raster, read_class_names


def _read(path):
    with open_raster(path) as ds:
        data = ds.read(masked=True).astype("float64").filled(np.nan)
        names = [d or f"band {i + 1}" for i, d in enumerate(ds.descriptions)]
    return data, names


def _same_grid(a, b):
    with open_raster(a) as da, open_raster(b) as db:
        if (da.width, da.height) != (db.width, db.height) or not da.transform.almost_equals(db.transform):
            raise InputError(f"{a} and {b} are not on the same grid; expected the truth on the product's grid")


def class_map_accuracy(map_path, truth_path):
    """Overall accuracy (0–1) of a class map against a truth class map, matching classes by name.

    Both rasters carry class names (``class_names`` band item, code = index); cells that are nodata in
    either, or whose truth class the map does not know, are left out. Returns ``{"overall_accuracy",
    "n_cells"}``.
    """
    _same_grid(map_path, truth_path)
    names, truth_names = read_class_names(map_path), read_class_names(truth_path)
    if not names or not truth_names:
        raise InputError(f"{map_path} or {truth_path} has no class names; expected class maps from remine")
    pred, _ = _read(map_path)
    truth, _ = _read(truth_path)
    lookup = {n: i for i, n in enumerate(names)}
    as_pred_code = np.array([lookup.get(n, -1) for n in truth_names] + [-1], dtype=float)
    t = truth[0]
    ok = np.isfinite(t) & np.isfinite(pred[0])
    t_codes = as_pred_code[np.where(ok, t, len(truth_names)).astype(int).clip(0, len(truth_names))]
    ok &= t_codes >= 0
    n = int(ok.sum())
    return {"overall_accuracy": float(np.mean(pred[0][ok] == t_codes[ok])) if n else float("nan"), "n_cells": n}


def abundance_accuracy(abundance_path, truth_path):
    """Per-mineral RMSE (percentage points) of an abundance raster (%, bands named by mineral, optional
    ``lower_<m>``/``upper_<m>``) against a truth raster (fractions 0–1, bands named by mineral), and the
    share of cells whose truth lies inside the interval.

    Returns ``{"rmse_percent": {m: …}, "mean_rmse_percent", "coverage": {m: …} (when bounds exist),
    "mean_coverage"}`` over the minerals present in both.
    """
    _same_grid(abundance_path, truth_path)
    ab, names = _read(abundance_path)
    truth, truth_names = _read(truth_path)
    common = [m for m in names if m in truth_names]
    if not common:
        raise InputError(f"no band of {abundance_path} ({', '.join(names)}) is named like a band of {truth_path} "
                         f"({', '.join(truth_names)})")
    rmse, coverage = {}, {}
    for m in common:
        est, ref = ab[names.index(m)], 100.0 * truth[truth_names.index(m)]
        ok = np.isfinite(est) & np.isfinite(ref)
        rmse[m] = float(np.sqrt(np.mean((est[ok] - ref[ok]) ** 2)))
        if f"lower_{m}" in names and f"upper_{m}" in names:
            lo, hi = ab[names.index(f"lower_{m}")][ok], ab[names.index(f"upper_{m}")][ok]
            coverage[m] = float(np.mean((ref[ok] >= lo) & (ref[ok] <= hi)))
    out = {"rmse_percent": rmse, "mean_rmse_percent": float(np.mean(list(rmse.values())))}
    if coverage:
        out.update(coverage=coverage, mean_coverage=float(np.mean(list(coverage.values()))))
    return out


def grade_accuracy(prediction_path, truth_path, field):
    """RMSE and bias (prediction − truth, field units) of a kriged grade raster against the truth band
    named ``field``; ``{"rmse", "bias", "n_cells"}``."""
    _same_grid(prediction_path, truth_path)
    pred, _ = _read(prediction_path)
    truth, truth_names = _read(truth_path)
    if field not in truth_names:
        raise InputError(f"{truth_path} has no band {field!r}; its bands are {', '.join(truth_names)}")
    ref = truth[truth_names.index(field)]
    ok = np.isfinite(pred[0]) & np.isfinite(ref)
    diff = pred[0][ok] - ref[ok]
    return {"rmse": float(np.sqrt(np.mean(diff ** 2))), "bias": float(diff.mean()), "n_cells": int(ok.sum())}
