"""Variogram and cross-validation analyses with their files: CSV tables, model JSON, HTML reports with plots.

These are the one-call functions behind the Processing algorithms ``remine:variogram`` and
``remine:krigingcrossvalidation``. Every file is checked before any work and written atomically.
"""
import numpy as np

from ..errors import InputError, RemineWarning
from ..points import PointTable, check_projected, read_points
from ..raster import atomic_path, check_output_path
from ..report.html import HtmlReport
from .cv import cross_validate
from .fit import fit_variogram
from .models import write_model_json
from .raster import sample_rasters
from .variogram import experimental_variogram, variogram_map


def _check_outputs(paths_and_exts, inputs):
    for path, ext in paths_and_exts:
        if path:
            check_output_path(path, inputs, extensions=ext)


def _write_csv(frame, path):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _variogram_figure(ev, model, vmap):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.scatter(ev.lags, ev.gamma, s=12 + 60 * ev.npairs / ev.npairs.max(), color="#a0522d", label="sample")
    for x, y, n in zip(ev.lags, ev.gamma, ev.npairs):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7, color="#555")
    h = np.linspace(0, ev.cutoff, 300)
    ax.plot(h[1:], model.gamma(h[1:]), color="#1f4e79", label="fitted model")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("semivariance")
    ax.set_xlim(0, ev.cutoff * 1.02)
    ax.set_ylim(0, max(ev.gamma.max(), float(model.gamma(np.array([ev.cutoff]))[0])) * 1.1)
    ax.legend(loc="lower right")
    ax = axes[1]
    ext = [vmap["dx"][0] * 1.0, vmap["dx"][-1], vmap["dy"][0], vmap["dy"][-1]]
    im = ax.imshow(vmap["gamma"], origin="lower", extent=ext, cmap="viridis")
    ax.set_xlabel("dx (m)")
    ax.set_ylabel("dy (m)")
    ax.set_title("variogram map")
    fig.colorbar(im, ax=ax, shrink=0.85)
    return fig


def variogram_analysis(points, field, layer=None, model="spherical", n_lags=None, cutoff=None, direction=None,
                       tolerance=22.5, estimator="matheron", weights="npairs_over_h2", table_path=None,
                       model_path=None, report_path=None, plot_path=None):
    """Sample variogram + fitted model of ``field`` in a point file, written to CSV / JSON / HTML.

    Parameters
    ----------
    points : str – GeoPackage/Shapefile/CSV path. field : str – numeric attribute. layer : str, optional.
    model : "spherical" | "exponential" | "gaussian" | "matern" | "power" – fitted from gstat-like initial values.
    n_lags, cutoff (m), direction (degrees from North), tolerance, estimator: see :func:`experimental_variogram`.
    weights : see :func:`fit_variogram`.
    table_path (.csv), model_path (.json), report_path (.html), plot_path (.png): outputs, each optional.

    Returns
    -------
    dict: ``experimental`` (ExperimentalVariogram), ``model`` (fitted VariogramModel), ``n_points``, the paths.
    """
    _check_outputs([(table_path, (".csv",)), (model_path, (".json",)), (report_path, (".html", ".htm")),
                    (plot_path, (".png",))], [points])
    pts = read_points(points, field, layer)
    check_projected(pts.crs)
    coords = pts.coords
    ev = experimental_variogram(coords, pts.values, n_lags=n_lags, cutoff=cutoff, direction=direction,
                                tolerance=tolerance, estimator=estimator)
    fitted = fit_variogram(ev, model, weights=weights)
    if table_path:
        frame = ev.to_frame()
        frame["model"] = fitted.gamma(ev.lags)
        _write_csv(frame, table_path)
    if model_path:
        with atomic_path(model_path) as tmp:
            write_model_json(fitted, tmp)
    vmap = variogram_map(coords[:, :2], pts.values, width=ev.width, cutoff=ev.cutoff) if (report_path or
                                                                                          plot_path) else None
    if plot_path:
        import matplotlib.pyplot as plt

        fig = _variogram_figure(ev, fitted, vmap)
        with atomic_path(plot_path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    if report_path:
        rep = HtmlReport(f"Variogram of {field}")
        rep.add_text(f"{len(pts.values)} points from {points}; cutoff {ev.cutoff:.6g} m, bin width {ev.width:.6g} m "
                     f"({'omnidirectional' if direction is None else f'direction {direction}° ± {tolerance}°'}), "
                     f"{estimator} estimator; model fitted by weighted least squares ({weights}).")
        rep.add_figure(_variogram_figure(ev, fitted, vmap), "Sample variogram (labels: pair counts) with the "
                       "fitted model, and the variogram map")
        rep.add_table(fitted.to_dict() if len(fitted.parts()) == 1 else {"model": repr(fitted)}, "Fitted model")
        rep.add_table(ev.to_frame(), "Sample variogram")
        rep.write(report_path)
    return {"experimental": ev, "model": fitted, "n_points": int(len(pts.values)), "table": table_path,
            "model_path": model_path, "report": report_path, "plot": plot_path}


def _cv_figure(table):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    ax = axes[0]
    ax.scatter(table["observed"], table["predicted"], s=10, color="#a0522d")
    both = table[["observed", "predicted"]].to_numpy()
    lo, hi = np.nanmin(both), np.nanmax(both)
    ax.plot([lo, hi], [lo, hi], color="#555", lw=1)
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted (cross-validation)")
    ax = axes[1]
    r = table["residual"].to_numpy()
    lim = np.nanmax(np.abs(r)) or 1.0
    sc = ax.scatter(table["x"], table["y"], c=r, cmap="RdBu_r", vmin=-lim, vmax=lim, s=14)
    ax.set_aspect("equal")
    ax.set_title("residuals (observed − predicted)")
    fig.colorbar(sc, ax=ax, shrink=0.85)
    return fig


def drift_at_points(drift, coords, values):
    """``(coords, values, drift (n, p))`` of the points where every drift raster has a value; the others
    are dropped with a RemineWarning naming how many."""
    import warnings

    d = sample_rasters(list(drift), coords[:, :2])
    ok = np.isfinite(d).all(axis=1)
    if not ok.all():
        warnings.warn(f"{int((~ok).sum())} of {len(ok)} points lie outside the drift rasters or on their nodata; "
                      "they are left out", RemineWarning, stacklevel=3)
    if ok.sum() < 3:
        raise InputError(f"only {int(ok.sum())} points have drift values; at least 3 are needed")
    return coords[ok], values[ok], d[ok]


def cross_validation_analysis(points, field, kriger, layer=None, scheme="loo", k=5, seed=0, table_path=None,
                              report_path=None, drift=None):
    """:func:`cross_validate` of ``kriger`` (its model fixed) on sample points; per-point CSV and HTML report.

    ``points``: a point file (read with ``field`` and ``layer``) or a :class:`~remine.core.points.PointTable`
    already read (e.g. ``krige_raster(...)["points"]``). ``drift``: list of single-band rasters sampled at
    the points as external drift (``kriger`` an ExternalDriftKriging); points without drift values are left
    out (warned). Returns the :class:`CrossValidation` (``table``, ``metrics``).
    """
    from_file = not isinstance(points, PointTable)
    _check_outputs([(table_path, (".csv",)), (report_path, (".html", ".htm"))], [points] if from_file else [])
    pts = read_points(points, field, layer) if from_file else points
    check_projected(pts.crs)
    coords, values, d = pts.coords, pts.values, None
    if drift:
        coords, values, d = drift_at_points(drift, coords, values)
    cv = cross_validate(kriger, coords, values, scheme=scheme, k=k, seed=seed, drift=d)
    if table_path:
        _write_csv(cv.table, table_path)
    if report_path:
        write_cv_report(cv, report_path, f"Cross-validation of {field} ({scheme})", kriger.model)
    return cv


def write_cv_report(cv, path, title, model):
    """HTML report of a :class:`CrossValidation`: metrics, observed vs predicted, residual map."""
    rep = HtmlReport(title)
    rep.add_metrics(cv.metrics, "Metrics (residual = observed − predicted; msdr = mean squared z-score, ≈ 1 "
                                "when the kriging variance is right)")
    rep.add_figure(_cv_figure(cv.table), "Observed vs predicted, and residuals in space")
    rep.add_table(model.to_dict() if len(model.parts()) == 1 else {"model": repr(model)}, "Variogram model")
    return rep.write(path)
