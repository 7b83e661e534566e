"""Is the hybrid better than kriging on these data? OK, the hybrid and KED on identical folds.

``compare_with_kriging(coords, values, scheme="spatial", k=5, seed=0, covariates=None, ...)`` returns a pandas
DataFrame with one row per fold and model (``ok``, ``hybrid`` and, with covariates, ``ked`` — kriging with
external drift on the same covariates, the honest baseline for a model that sees covariates) and columns
``fold, model, rmse, mae, r2, bias, coverage90, n``. Everything that is fitted — the variogram models of OK and
KED (KED: of the least-squares residuals), the covariate encoding and the networks with their early stopping
and interval calibration — is fitted on the training folds only; the held-out fold is only predicted.

``table.attrs["summary"]`` holds: ``means`` (mean metrics per model), ``pooled`` (metrics over all held-out
points), ``wilcoxon`` (paired signed-rank test of the fold RMSEs, hybrid against each baseline, one-sided
"hybrid lower"), ``verdict`` (plain words), ``predictions`` (per held-out point: fold, observed and each model's
estimate and standard deviation), ``decision`` (false-negative rate of high-risk points above ``threshold``;
fraction above each cut-off, predicted and observed), ``truth`` (the same against exhaustive truth values
when ``truth`` is given: every model fitted on all samples) and ``histories`` (loss curves of the hybrid fitted
in each fold).

Verdict: the hybrid "beats kriging" when its mean fold RMSE is below every baseline's and the one-sided Wilcoxon
p-value against each is below 0.1 (with 5 folds: it wins in every fold, or in four with the smallest loss being
the one it lost); otherwise it "does not beat kriging on these data".
"""
import warnings

import numpy as np

from ..errors import InputError, RemineWarning
from ..progress import as_progress
from ._inputs import as_coords
from .covariates import CovariateEncoder, check_complete
from .cv import fold_labels
from .fit import resolve_model
from .hybrid import HybridKrigingRegressor, _rows
from .kriging import ExternalDriftKriging, OrdinaryKriging

COLUMNS = ["fold", "model", "rmse", "mae", "r2", "bias", "coverage90", "n"]
_Z90 = 1.6448536269514722


def metrics(observed, predicted, std=None):
    """``rmse, mae, r2, bias`` (mean of predicted − observed) and ``coverage90`` (fraction of observations
    within ± 1.645 std; NaN without std) over the finite predictions."""
    ok = np.isfinite(predicted)
    o, p = observed[ok], predicted[ok]
    res = p - o
    ss = float(np.sum((o - o.mean()) ** 2)) if len(o) else 0.0
    cover = float("nan")
    if std is not None and ok.any():
        cover = float(np.mean(np.abs(res) <= _Z90 * std[ok]))
    return {"rmse": float(np.sqrt(np.mean(res ** 2))) if len(o) else float("nan"),
            "mae": float(np.mean(np.abs(res))) if len(o) else float("nan"),
            "r2": float(1.0 - np.sum(res ** 2) / ss) if ss > 0 else float("nan"),
            "bias": float(np.mean(res)) if len(o) else float("nan"), "coverage90": cover}


def _fit_predict(name, c_tr, v_tr, d_tr, c_te, d_te, variogram_model, hybrid, progress):
    """Fit model ``name`` on the training rows, predict the test rows: (estimate, std, fitted hybrid or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemineWarning)
        if name == "ok":
            model = resolve_model(variogram_model, c_tr, v_tr)
            est, var = OrdinaryKriging(model).fit(c_tr, v_tr).predict(c_te)
            return est, np.sqrt(np.maximum(var, 0)), None
        if name == "ked":
            enc = CovariateEncoder(hybrid.get("categorical"), drop_first=True)
            x_tr = enc.fit_transform(d_tr, len(v_tr))
            x_te = enc.transform(d_te, len(c_te))
            keep = np.nanstd(x_tr, axis=0) > 0
            x_tr, x_te = x_tr[:, keep], x_te[:, keep]
            name_ = variogram_model if isinstance(variogram_model, str) else "spherical"
            model = resolve_model(name_, c_tr, v_tr, drift=x_tr)
            est, var = ExternalDriftKriging(model).fit(c_tr, v_tr, drift=x_tr).predict(c_te, drift=x_te)
            return est, np.sqrt(np.maximum(var, 0)), None
    reg = HybridKrigingRegressor(variogram_model, **hybrid).fit(c_tr, v_tr, d_tr, progress=progress)
    est, std = reg.predict(c_te, d_te, return_std=True)
    return est, std, reg


def compare_with_kriging(coords, values, scheme="spatial", k=5, seed=0, covariates=None, threshold=None,
                         cutoffs=None, truth=None, variogram_model="spherical", hybrid_params=None, progress=None):
    """Compare OK, the hybrid and (with covariates) KED on identical cross-validation folds.

    Parameters
    ----------
    coords : ndarray (n, 2|3), metres. values : ndarray (n,); NaN values are dropped (RemineWarning, counted).
    scheme : "spatial" (k-means clusters of the coordinates) | "kfold" (random). k : int folds. seed : int.
    covariates : ndarray (n, p) | DataFrame, optional – as for :class:`HybridKrigingRegressor`.
    threshold : float, optional – high-risk level: the false-negative rate is the fraction of points above it
        predicted at or below it. cutoffs : list of float, optional – grade cut-offs of the tonnage figures.
    truth : (coords (m, d), values (m,)[, covariates (m, p)]), optional – exhaustive truth (e.g. a simulated
        grade map); every model is also fitted on all samples and judged there.
    variogram_model : VariogramModel | str – a name is fitted in each training fold.
    hybrid_params : dict, optional – keyword arguments of :class:`HybridKrigingRegressor`.
    progress : Progress, optional – reported per fold and epoch; Cancel raises CancelledError.

    Returns
    -------
    pandas.DataFrame (see the module docstring), ``attrs["summary"]`` with the summary.
    """
    import pandas as pd

    progress = as_progress(progress)
    hybrid = dict(hybrid_params or {})
    c = as_coords(coords)
    v = np.asarray(values, float).ravel()
    if len(v) != len(c):
        raise InputError(f"{len(c)} coordinates but {len(v)} values; expected one value per point")
    keep = np.isfinite(v) & np.all(np.isfinite(c), axis=1)
    if not keep.all():
        warnings.warn(f"dropped {int((~keep).sum())} of {len(v)} points with NaN values or coordinates",
                      RemineWarning, stacklevel=2)
    c, v = c[keep], v[keep]
    cov = None if covariates is None else _rows(covariates, keep)
    if cov is not None:
        check_complete(CovariateEncoder(hybrid.get("categorical")).fit_transform(cov, len(v)), "points")
    if truth is not None and cov is not None and len(truth) < 3:
        raise InputError("truth needs covariates at its locations (coords, values, covariates) when covariates "
                         "are given")
    k = int(k)
    if scheme not in ("spatial", "kfold"):
        raise InputError(f"scheme '{scheme}' unknown; expected 'spatial' or 'kfold'")
    if len(v) < 2 * k:
        raise InputError(f"{len(v)} valid points for k={k} folds; expected at least {2 * k}")
    fold = fold_labels(c, scheme, k, seed)
    models = ["ok", "hybrid"] + (["ked"] if cov is not None else [])
    pred = {m: np.full(len(v), np.nan) for m in models}
    sd = {m: np.full(len(v), np.nan) for m in models}
    rows, histories = [], []
    folds = np.unique(fold)
    for i, f in enumerate(folds):
        te, tr = fold == f, fold != f
        sub = progress.sub(i / (len(folds) + (truth is not None)), (i + 1) / (len(folds) + (truth is not None)))
        sub.report(0.0, f"fold {i + 1}/{len(folds)}")
        for m in models:
            d_tr = None if cov is None else _rows(cov, tr)
            d_te = None if cov is None else _rows(cov, te)
            est, std, reg = _fit_predict(m, c[tr], v[tr], d_tr, c[te], d_te, variogram_model, hybrid, sub)
            pred[m][te], sd[m][te] = est, std
            if reg is not None:
                histories.append(reg.histories_)
            rows.append(dict(fold=int(f), model=m, **metrics(v[te], est, std), n=int(te.sum())))
    table = pd.DataFrame(rows, columns=COLUMNS)
    summary = _summary(table, v, fold, pred, sd, models, threshold, cutoffs)
    summary["histories"] = histories
    if truth is not None:
        summary["truth"] = _truth(c, v, cov, truth, models, variogram_model, hybrid, threshold, cutoffs,
                                  progress.sub(len(folds) / (len(folds) + 1), 1.0))
    table.attrs["summary"] = summary
    return table


def _summary(table, observed, fold, pred, sd, models, threshold, cutoffs):
    import pandas as pd
    from scipy.stats import wilcoxon

    means = table.groupby("model", sort=False)[["rmse", "mae", "r2", "bias", "coverage90"]].mean()
    pooled = pd.DataFrame({m: metrics(observed, pred[m], sd[m]) for m in models}).T
    rmse = {m: table.loc[table.model == m, "rmse"].to_numpy() for m in models}
    tests = {}
    for base in (m for m in models if m != "hybrid"):
        diff = rmse["hybrid"] - rmse[base]
        if np.all(diff == 0):
            p = 1.0
        else:
            p = float(wilcoxon(rmse["hybrid"], rmse[base], alternative="less").pvalue)
        tests[base] = {"p_value": p, "folds_won": int(np.sum(diff < 0)), "n_folds": len(diff),
                       "mean_rmse_difference": float(diff.mean())}
    beats = all(t["mean_rmse_difference"] < 0 and t["p_value"] < 0.1 for t in tests.values())
    baselines = " and ".join(b.upper() for b in tests)
    won = ", ".join(f"{t['folds_won']}/{t['n_folds']} folds against {b.upper()} (one-sided Wilcoxon p = "
                    f"{t['p_value']:.3g})" for b, t in tests.items())
    verdict = (f"The hybrid {'beats kriging' if beats else 'does not beat kriging'} on these data: mean fold RMSE "
               f"{means.loc['hybrid', 'rmse']:.4g} against {baselines} "
               + ", ".join(f"{means.loc[b, 'rmse']:.4g}" for b in tests) + f"; lower in {won}.")
    preds = pd.DataFrame({"fold": fold, "observed": observed})
    for m in models:
        preds[m], preds[f"{m}_std"] = pred[m], sd[m]
    return {"means": means, "pooled": pooled, "wilcoxon": tests, "beats_kriging": beats, "verdict": verdict,
            "predictions": preds, "decision": decision_figures(observed, pred, threshold, cutoffs)}


def decision_figures(truth, pred, threshold=None, cutoffs=None):
    """Per model: false-negative rate of high-risk locations (truth > threshold, predicted ≤ threshold) and, per
    cut-off, the fraction of locations above it predicted, with its ratio to the true fraction (tonnage
    above cut-off relative to the truth, for equal cell tonnages). DataFrame indexed by model (empty without
    threshold and cut-offs)."""
    import pandas as pd

    out = {}
    for m, p in pred.items():
        row = {}
        ok = np.isfinite(p)
        if threshold is not None:
            high = (truth > threshold) & ok
            row["high_risk_n"] = int(high.sum())
            row["false_negative_rate"] = float(np.mean(p[high] <= threshold)) if high.any() else float("nan")
        for cut in cutoffs or []:
            true_frac = float(np.mean(truth[ok] >= cut))
            frac = float(np.mean(p[ok] >= cut))
            row[f"above_{cut:g}"] = frac
            row[f"above_{cut:g}_ratio"] = frac / true_frac if true_frac > 0 else float("nan")
        out[m] = row
    frame = pd.DataFrame(out).T
    if cutoffs:
        frame.loc["truth"] = {f"above_{cut:g}": float(np.mean(truth >= cut)) for cut in cutoffs}
    return frame


def _truth(c, v, cov, truth, models, variogram_model, hybrid, threshold, cutoffs, progress):
    """Every model fitted on all samples and judged on the exhaustive truth: metrics, decision figures and the
    predictions (``metrics``, ``decision``, ``predictions`` dict of arrays)."""
    import pandas as pd

    t_coords = as_coords(truth[0], "truth coordinates")
    t_values = np.asarray(truth[1], float).ravel()
    t_cov = truth[2] if len(truth) > 2 else None
    pred, sd = {}, {}
    for m in models:
        est, std, _ = _fit_predict(m, c, v, cov, t_coords, t_cov, variogram_model, hybrid, progress)
        pred[m], sd[m] = est, std
    good = np.isfinite(t_values)
    table = pd.DataFrame({m: metrics(t_values[good], pred[m][good], sd[m][good]) for m in models}).T
    return {"metrics": table, "predictions": pred, "std": sd,
            "decision": decision_figures(t_values[good], {m: p[good] for m, p in pred.items()}, threshold,
                                         cutoffs)}
