"""Train-and-validate workflow behind ``remine:trainclassifier`` / ``remine:trainregressor``.

``train(training_set, method, ...)`` builds the estimator (optionally after a spectral preprocessing
step from :mod:`remine.core.spectra`), cross-validates it with :func:`spatial_cv` (scores on held-out
ROIs/blocks only; nothing is tuned on the test folds), fits it on all samples and returns the
:class:`TrainedModel` with the CV summary in ``metrics``. ``write_report`` renders an HTML report
(scores, per-class table and confusion matrix, or observed-vs-predicted scatter plots).
"""
import numpy as np

from ..errors import InputError
from ..progress import as_progress
from ..report.html import HtmlReport
from .artefacts import fit_model
from .dataset import TrainingSet, build_training_set
from .predict import model_band_matrix
from .registry import make_estimator
from .validation import CVResult, classification_metrics, clean_training_set, regression_metrics, spatial_cv

PREPROCESSING = ("none", "snv", "continuum", "savgol_d1", "brightness")


def preprocessing_step(name, wavelengths_nm):
    """The spectral transformer for ``name`` (one of :data:`PREPROCESSING`), or None for "none"."""
    # scikit-learn transformers: imported here so that the toolbox loads without scikit-learn
    from ..spectra.transformers import SNV, BrightnessNormaliser, ContinuumRemover, SavGol

    wl = np.asarray(wavelengths_nm, dtype=float)
    steps = {"none": lambda: None, "snv": SNV, "brightness": BrightnessNormaliser,
             "continuum": lambda: ContinuumRemover(wavelengths_nm=wl),
             "savgol_d1": lambda: SavGol(window_length=11, polyorder=2, deriv=1)}
    if name not in steps:
        raise InputError(f"preprocessing {name!r} unknown; expected one of {list(PREPROCESSING)}")
    return steps[name]()


def parse_params(params):
    """Estimator parameters from a dict, a JSON object text (``'{"C": 10}'``), or None/"" (no parameters)."""
    if params is None or (isinstance(params, str) and not params.strip()):
        return {}
    if isinstance(params, dict):
        return params
    import json

    try:
        parsed = json.loads(params)
    except ValueError as exc:
        raise InputError(f"method parameters {params!r} are not valid JSON ({exc}); expected e.g. "
                         '{"C": 10, "gamma": "scale"}') from exc
    if not isinstance(parsed, dict):
        raise InputError(f"method parameters must be a JSON object like {{\"C\": 10}}; got {params!r}")
    return parsed


def build_estimator(method, task, params=None, preprocessing="none", wavelengths_nm=None, patch_size=1):
    """Registry estimator, preceded by the preprocessing transformer in a Pipeline when asked.

    ``params``: dict or JSON text of estimator parameters (see :func:`parse_params`)."""
    from sklearn.pipeline import Pipeline

    est = make_estimator(method, task=task, **parse_params(params))
    if patch_size > 1 and method != "cnn2d":
        raise InputError(f"the training set holds {patch_size}x{patch_size} patches; only cnn2d takes patches "
                         "(build the training set with patch size 1 for other methods)")
    if method == "cnn2d" and patch_size == 1:
        raise InputError("cnn2d needs k x k patches; build the training set with a patch size of 3 or more")
    step = preprocessing_step(preprocessing, wavelengths_nm)
    if step is None:
        return est
    if patch_size > 1:
        raise InputError("spectral preprocessing works on (n, bands) spectra, not on cnn2d patches; use 'none'")
    return Pipeline([("preprocess", step), ("model", est)])


def train(training_set, method="svm", params=None, preprocessing="none", scheme="group", n_splits=5,
          buffer_m=0.0, block_size_m=None, seed=0, progress=None, class_aware=False):
    """Cross-validate then fit ``method`` on ``training_set``.

    Parameters are those of :func:`spatial_cv` plus ``method`` (registry name), ``params`` (dict of
    estimator parameters) and ``preprocessing`` (one of :data:`PREPROCESSING`).

    Returns
    -------
    (TrainedModel, CVResult); ``model.metrics`` holds ``cv.to_dict()`` and the method/preprocessing.
    """
    progress = as_progress(progress)
    task = "classification" if training_set.is_classification else "regression"
    est = build_estimator(method, task, params, preprocessing, training_set.wavelengths_nm,
                          int(training_set.patch_size))
    cv = spatial_cv(est, training_set, scheme=scheme, n_splits=n_splits, buffer_m=buffer_m,
                    block_size_m=block_size_m, seed=seed, progress=progress.sub(0.0, 0.8), class_aware=class_aware)
    progress.info(f"cross-validation ({scheme}, {cv.n_splits} folds): {headline(cv)}")
    model = fit_model(est, training_set, progress=progress.sub(0.8, 1.0))
    model.metrics = dict(cv.to_dict(), method=method, params=parse_params(params), preprocessing=preprocessing)
    if task == "regression":
        model.metrics.update(regression_limits_from_cv(cv))
    return model, cv


#: nominal coverage of the regression intervals written by predict_raster
INTERVAL_LEVEL = 0.9


def regression_limits_from_cv(cv, level=INTERVAL_LEVEL):
    """Training metrics that make regression maps honest: ``intervals`` (split-conformal half-widths:
    the ``level`` quantile of the absolute out-of-fold residuals per target, finite-sample corrected
    ``ceil((n + 1) level) / n``; Vovk et al. 2005, Lei et al. 2018) and ``nonnegative`` (targets whose
    training values are all >= 0; their predictions are clipped at 0 and counted)."""
    names = cv.target_names or ["prediction"]
    yt = np.asarray(cv.y_true, dtype=float).reshape(len(cv.y_true), -1)
    yp = np.asarray(cv.y_pred, dtype=float).reshape(len(cv.y_pred), -1)
    n = len(yt)
    q = min(1.0, np.ceil((n + 1) * level) / n)
    half = np.quantile(np.abs(yp - yt), q, axis=0, method="higher")
    return {"intervals": {"method": f"split-conformal on out-of-fold residuals ({cv.scheme} folds)", "level": level,
                          "halfwidth": {t: float(h) for t, h in zip(names, half)}},
            "nonnegative": {t: bool(np.min(yt[:, j]) >= 0) for j, t in enumerate(names)}}


def load_or_build_training_set(training_path=None, cube_path=None, rois_path=None, progress=None, **build):
    """A TrainingSet from an ``.h5`` file, or built from ``cube_path`` + ``rois_path`` with ``build``
    keyword arguments of :func:`build_training_set` (label_field / target_fields, patch_size, ...)."""
    if training_path:
        return TrainingSet.load(training_path)
    if not (cube_path and rois_path):
        raise InputError("give a training set file (.h5), or a cube and an ROI layer to build one; got neither")
    return build_training_set(cube_path, rois_path, progress=progress, **build)


def evaluate_model(model, training_set, progress=None):
    """Scores of a trained model on an independent test set, as a one-fold :class:`CVResult`.

    Raises InputError when the test set's task, classes or band count do not fit the model.
    """
    progress = as_progress(progress)
    if bool(training_set.is_classification) != model.is_classification:
        raise InputError(f"the model does {model.task} but the test set is for "
                         f"{'classification' if training_set.is_classification else 'regression'}")
    X, y, _, _ = clean_training_set(training_set, progress)
    w = model_band_matrix(model.wavelengths_nm, training_set.wavelengths_nm, "the test set")
    if w is not None:
        X = X @ w if X.ndim == 2 else np.einsum("nbij,bm->nmij", X, w)
    progress.report(0.2, f"predicting {len(X)} test samples")
    pred = model.estimator.predict(X.astype(np.float32))
    if model.is_classification:
        unknown = sorted(set(np.unique(y)) - set(model.classes))
        if unknown:
            progress.warn(f"test classes unknown to the model (always wrong): {', '.join(unknown)}")
        classes = sorted(set(model.classes) | set(np.unique(y).tolist()))
        metrics = classification_metrics(y, pred, classes)
        score = {"overall_accuracy": metrics["overall_accuracy"]}
    else:
        per_target = regression_metrics(y, pred)
        names = training_set.target_names or model.target_names or [f"target_{j}" for j in range(len(per_target))]
        metrics = dict(zip(names, per_target)) if len(per_target) > 1 else per_target[0]
        score = {"r2": per_target[0]["r2"]}
        classes = None
    progress.report(1.0, "evaluated")
    return CVResult(scheme="independent test set", n_splits=1, task=model.task, y_true=y, y_pred=pred,
                    fold=np.zeros(len(y), dtype=int), metrics=metrics,
                    folds=[dict({"fold": 0, "n_train": model.training.get("n_samples"), "n_test": int(len(y))},
                                **score)], classes=classes,
                    target_names=None if classes else names)


def headline(cv):
    """One line of the main scores of a CVResult."""
    m = cv.metrics
    if cv.task == "classification":
        return (f"overall accuracy {m['overall_accuracy']:.3f}, kappa {m['kappa']:.3f}, "
                f"balanced accuracy {m['balanced_accuracy']:.3f}")
    per_target = m if "r2" not in m else {(cv.target_names or ["target"])[0]: m}
    return "; ".join(f"{name}: R² {v['r2']:.3f}, RMSE {v['rmse']:.4g}, bias {v['bias']:.3g}"
                     for name, v in per_target.items())


def _confusion_figure(cv):
    from matplotlib.figure import Figure

    cm = np.asarray(cv.metrics["confusion_matrix"])
    k = len(cv.classes)
    fig = Figure(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Oranges")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(k), cv.classes, rotation=60, ha="right")
    ax.set_yticks(range(k), cv.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def _scatter_figure(cv):
    from matplotlib.figure import Figure

    yt = np.asarray(cv.y_true, dtype=float).reshape(len(cv.y_true), -1)
    yp = np.asarray(cv.y_pred, dtype=float).reshape(len(cv.y_pred), -1)
    names = cv.target_names or [f"target_{j}" for j in range(yt.shape[1])]
    fig = Figure(figsize=(4 * yt.shape[1], 4))
    for j in range(yt.shape[1]):
        ax = fig.add_subplot(1, yt.shape[1], j + 1)
        ax.scatter(yt[:, j], yp[:, j], s=6, alpha=0.5, c=cv.fold, cmap="tab10")
        lo, hi = np.nanmin([yt[:, j], yp[:, j]]), np.nanmax([yt[:, j], yp[:, j]])
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"observed {names[j]}")
        ax.set_ylabel(f"predicted {names[j]} (out of fold)")
    fig.tight_layout()
    return fig


def write_report(path, model, cv, title="remine model", extra=None):
    """HTML report: settings, pooled out-of-fold scores, per-fold table, confusion matrix or scatter.

    ``extra``: optional callable(report) adding sections (e.g. the CRM ROC curve). Returns ``path``.
    """
    import pandas as pd

    m = model.metrics
    rep = HtmlReport(title)
    rep.add_heading("Model")
    rep.add_table({"method": m.get("method", type(model.estimator).__name__),
                   "preprocessing": m.get("preprocessing", "none"), "task": model.task,
                   "samples": model.training.get("n_samples"), "ROIs": model.training.get("n_groups"),
                   "NaN samples dropped": model.training.get("n_dropped_nan"),
                   "bands": len(model.wavelengths_nm), "patch size": model.patch_size}, "Settings")
    if cv.scheme == "independent test set":
        rep.add_heading("Independent test set")
        rep.add_text("Scores of the trained model on samples it was not trained on.")
    else:
        rep.add_heading(f"Cross-validation ({cv.scheme}, {cv.n_splits} folds)")
        rep.add_text("Scores from out-of-fold predictions: every sample was predicted by a model that never saw "
                     + ("its ROI." if cv.scheme == "group" else "its spatial block." if cv.scheme == "block"
                        else "it (random pixel folds overstate accuracy)."))
    rep.add_text(headline(cv))
    missing = cv.settings.get("missing_classes")
    if missing:
        rep.add_text("Classes missing from training folds (present in the fold's test part, so no model could "
                     "predict them there): " + "; ".join(f"fold {k}: {', '.join(v)}" for k, v in missing.items())
                     + ".")
    rep.add_table(pd.DataFrame(cv.folds), "Per fold")
    if cv.task == "classification":
        per_class = pd.DataFrame(cv.metrics["per_class"]).T
        rep.add_table(per_class, "Per class (out of fold)")
        rep.add_figure(_confusion_figure(cv), "Confusion matrix (rows: true, columns: predicted)")
    else:
        rows = cv.metrics if "r2" not in cv.metrics else {(cv.target_names or ["target"])[0]: cv.metrics}
        rep.add_table(pd.DataFrame(rows).T, "Scores per target")
        rep.add_figure(_scatter_figure(cv), "Observed vs out-of-fold predicted (colour: fold)")
    if extra is not None:
        extra(rep)
    rep.write(path)
    return path
