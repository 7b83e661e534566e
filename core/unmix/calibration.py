"""Calibrating abundance intervals on held-out reference abundances (split-conformal scaling).

The residual and bootstrap intervals of :mod:`remine.core.unmix.intervals` assume a correct linear model:
white noise, the right endmembers, no variability beyond the bundles. On real scenes the abundance error
is dominated by what they do not see (endmembers that are not the scene's materials, spectral variability,
nonlinear mixing): on the Samson scene nominal 90 % residual intervals cover 0.27–0.41 of the ground truth.
Where reference abundances exist for some pixels (lab XRD of field samples, a mapped subset), the
intervals can be rescaled so that they cover the level on those pixels and, if the references are
representative (exchangeable with the pixels mapped), on the others:

``score = (t - a) / (u - a)`` when the truth ``t`` lies above the estimate ``a``, ``(a - t) / (a - l)`` below
(distance to the truth in units of the interval's half-width on that side); the scale ``s`` is the
``ceil((n + 1) level) / n`` quantile of the scores (Vovk et al. 2005; Romano et al. 2019), and the
calibrated bounds are ``a - s (a - l)`` and ``a + s (u - a)``, kept in [0, 1]. Bounds of zero width
(an absent endmember's lower bound) get a floor width of ``min_halfwidth``.
"""
import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, map_blocks
from ..errors import InputError
from ..points import read_points
from ..raster import check_output_path, raster_info
from .intervals import coverage


def _sides(estimate, lower, upper, min_halfwidth):
    a = np.asarray(estimate, dtype=float)
    below = np.maximum(a - np.asarray(lower, dtype=float), min_halfwidth)
    above = np.maximum(np.asarray(upper, dtype=float) - a, min_halfwidth)
    return a, below, above


def interval_scale(estimate, lower, upper, truth, level=0.9, min_halfwidth=0.005):
    """Scale factor (float) that makes ``[lower, upper]`` cover ``level`` of ``truth`` on these samples.

    All arrays (n, m) of fractions (0-1) on the same pixels; non-finite entries are ignored.
    """
    a, below, above = _sides(estimate, lower, upper, min_halfwidth)
    t = np.asarray(truth, dtype=float)
    ok = np.isfinite(a) & np.isfinite(t) & np.isfinite(below) & np.isfinite(above)
    n = int(ok.sum())
    if n < 10:
        raise InputError(f"calibrating intervals needs at least 10 reference values; got {n}")
    if not 0 < level < 1:
        raise InputError(f"interval level must be between 0 and 1; got {level}")
    d = t[ok] - a[ok]
    score = np.where(d >= 0, d / above[ok], -d / below[ok])
    return float(np.quantile(score, min(1.0, np.ceil((n + 1) * level) / n), method="higher"))


def scale_intervals(estimate, lower, upper, scale, min_halfwidth=0.005):
    """Bounds ``(lower, upper)`` widened (or narrowed) by ``scale`` around ``estimate``, kept in [0, 1]."""
    a, below, above = _sides(estimate, lower, upper, min_halfwidth)
    return np.clip(a - scale * below, 0.0, 1.0), np.clip(a + scale * above, 0.0, 1.0)


def _bounds_layout(band_names):
    """``{name: (estimate band, lower band, upper band)}`` (0-based) of an abundance raster whose bands are
    ``<name>``, ``lower_<name>``, ``upper_<name>`` (remine:unmix, remine:closecomposition)."""
    index = {b: i for i, b in enumerate(band_names)}
    layout = {n: (index[n], index[f"lower_{n}"], index[f"upper_{n}"]) for n in band_names
              if f"lower_{n}" in index and f"upper_{n}" in index}
    if not layout:
        raise InputError(f"the abundance raster has no interval bands (lower_<name>, upper_<name>); its bands are "
                         f"{', '.join(band_names)}")
    return layout


def _scaled_block(arrays, info, layout, scale, min_halfwidth):
    block = arrays[0].astype(np.float64)
    out = block.copy()
    for a, lo, up in layout.values():
        lower, upper = scale_intervals(block[a] / 100.0, block[lo] / 100.0, block[up] / 100.0, scale, min_halfwidth)
        out[lo], out[up] = 100.0 * lower, 100.0 * upper
        out[[lo, up]] = np.where(np.isfinite(block[a]), out[[lo, up]], np.nan)
    return [out.astype(np.float32)]


def calibrate_interval_raster(abundance_path, references, out_path, level=0.9, fields=None, min_halfwidth=0.005,
                              max_bytes=DEFAULT_MAX_BYTES, progress=None):
    """Rescale the intervals of an abundance raster (%) so that they cover ``level`` of reference abundances.

    Parameters
    ----------
    abundance_path : str, GeoTIFF with bands ``<name>``, ``lower_<name>``, ``upper_<name>`` in percent
    references : str, point layer (GeoPackage, Shapefile, CSV with x/y) with the reference abundances in
        percent, one field per band name (or as mapped by ``fields``); points outside the raster or on
        nodata are left out
    out_path : str, output GeoTIFF (same bands; lower/upper rescaled)
    fields : dict band name -> reference field, optional (default: fields named like the bands)

    Returns
    -------
    dict: ``scale``, ``n_references`` (points used), ``coverage_before`` / ``coverage_after`` on the
    references (the latter is >= ``level`` by construction: it is the calibration set, not a test),
    ``names`` (bands calibrated).
    """
    import functools

    info = raster_info(abundance_path)
    check_output_path(out_path, [abundance_path])
    layout = _bounds_layout(list(info.band_names))
    pts = read_points(references)
    fields = dict(fields or {})
    names = [n for n in layout if fields.get(n, n) in pts.table.columns]
    if not names:
        raise InputError(f"the reference layer has no field named like the abundance bands ({', '.join(layout)}); "
                         f"its fields are {', '.join(map(str, pts.table.columns))}")
    import rasterio

    with rasterio.open(abundance_path) as src:
        values = np.ma.filled(np.ma.stack(list(src.sample(pts.coords[:, :2], masked=True))).astype(float), np.nan)
    est = values[:, [layout[n][0] for n in names]] / 100.0
    lo = values[:, [layout[n][1] for n in names]] / 100.0
    up = values[:, [layout[n][2] for n in names]] / 100.0
    import pandas as pd

    truth = pts.table[[fields.get(n, n) for n in names]].apply(pd.to_numeric, errors="coerce").to_numpy() / 100.0
    used = np.isfinite(est).all(axis=1) & np.isfinite(truth).all(axis=1)
    scale = interval_scale(est[used], lo[used], up[used], truth[used], level, min_halfwidth)
    new_lo, new_up = scale_intervals(est[used], lo[used], up[used], scale, min_halfwidth)
    out = BlockOutput(out_path, info.count, "float32", band_names=list(info.band_names), statistics=True)
    map_blocks(functools.partial(_scaled_block, layout=layout, scale=scale, min_halfwidth=min_halfwidth),
               [info], [out], max_bytes=max_bytes, progress=progress)
    return {"scale": scale, "n_references": int(used.sum()), "names": names, "level": level,
            "coverage_before": coverage(truth[used], lo[used], up[used])[1],
            "coverage_after": coverage(truth[used], new_lo, new_up)[1]}
