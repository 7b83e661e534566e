"""Uncertainty summaries for passports: what a product says about its own error, in a few numbers.

Each function returns a dict with ``"kind"`` (how the uncertainty was estimated) and summary figures;
:mod:`remine.core.report.passport` stores it under ``"uncertainty"``. Raster summaries are computed on
a decimated read (at most ``max_cells`` cells per band, nearest neighbour), so they cost milliseconds
even for large rasters; ``"sampled"`` says when the read was decimated.
"""
import numpy as np

from ..raster import open_raster

QUANTILES = (0.1, 0.5, 0.9)


def read_decimated(path, bands=None, max_cells=512 * 512):
    """``(data (bands, rows, cols) float64 with NaN at nodata, band names, bounds)`` of a raster read with at
    most ``max_cells`` cells per band (nearest-neighbour decimation above that); ``bands``: 1-based indices
    (default all)."""
    with open_raster(path) as ds:
        scale = max(1.0, np.sqrt(ds.width * ds.height / max_cells))
        shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
        idx = list(bands or range(1, ds.count + 1))
        data = ds.read(idx, out_shape=(len(idx),) + shape, masked=True).astype("float64").filled(np.nan)
        names = [ds.descriptions[i - 1] or f"band {i}" for i in idx]
        return data, names, ds.bounds


def raster_summary(path, bands=None, max_cells=512 * 512):
    """``{band name: {"mean", "p10", "p50", "p90", "max", "valid_fraction"}}`` plus ``"sampled"`` (bool).

    Parameters
    ----------
    path : str, a raster file.
    bands : list of band names or 1-based indices, optional (default all bands).
    max_cells : int, cells read per band at most (the band is read decimated above that).
    """
    with open_raster(path) as ds:
        names, cells = [d or f"band {i + 1}" for i, d in enumerate(ds.descriptions)], ds.width * ds.height
    picked = [b if isinstance(b, int) else names.index(b) + 1 for b in (bands or range(1, len(names) + 1))]
    data, picked_names, _ = read_decimated(path, picked, max_cells)
    out = {"sampled": bool(cells > max_cells)}
    for band, name in zip(data, picked_names):
        ok = np.isfinite(band)
        values = band[ok]
        stats = {"valid_fraction": round(float(ok.mean()), 6)}
        if values.size:
            q = np.quantile(values, QUANTILES)
            stats.update(mean=float(values.mean()), p10=float(q[0]), p50=float(q[1]), p90=float(q[2]),
                         max=float(values.max()))
        out[name] = stats
    return out


def kriging_uncertainty(variance_path, cv_metrics=None):
    """Kriging variance summary (units²) of ``variance_path``, with the cross-validation RMSE and MSDR
    (mean squared deviation ratio, ≈ 1 when the variance is right) when ``cv_metrics`` are given."""
    summary = {"kind": "kriging variance", "variance": raster_summary(variance_path, bands=[1])}
    if cv_metrics:
        summary["cross_validation"] = {k: cv_metrics[k] for k in ("rmse", "msdr", "mean_standardised_error")
                                       if k in cv_metrics}
    return summary


def cross_validation_uncertainty(scheme, metrics, keys):
    """Out-of-fold scores of a model or interpolator: ``{"kind": "cross-validation", "scheme", keys...}``."""
    return {"kind": "cross-validation", "scheme": scheme, **{k: metrics[k] for k in keys if k in metrics}}


def band_uncertainty(uncertainty_path):
    """Summary of a per-pixel uncertainty raster (bands ``entropy`` 0–1 and ``margin`` of class
    probabilities, ensemble or MC-dropout ``std`` of regressions, ...), band by band."""
    return {"kind": "per-pixel uncertainty bands", "bands": raster_summary(uncertainty_path)}


def interval_uncertainty(method, level, widths=None):
    """Per-pixel interval bounds: ``method``, nominal ``level`` and, when known, mean widths ``{name: width}``."""
    summary = {"kind": "prediction intervals", "method": method, "level": level}
    if widths is not None:
        summary["mean_width"] = widths
    return summary
