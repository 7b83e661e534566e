"""Honest validation: ROI-grouped and spatial-block cross-validation, and the metrics they report.

Pixels of one ROI are near-copies of each other; pixel-wise random folds put them on both sides of
a split and overstate accuracy (Roberts et al. 2017; Ploton et al. 2020). ``spatial_cv`` therefore
splits by ROI (``scheme="group"``) or by square map blocks (``scheme="block"``) with an optional
buffer: training samples closer than ``buffer_m`` to any test sample are left out of that fold's
training. ``scheme="random"`` exists for comparison and warns (:class:`RemineWarning`).

When a class has all its samples in the test part of a fold, that fold's model cannot predict it and
every method scores alike on it: :func:`make_folds` names such classes and folds (settings
``missing_classes``; a RemineWarning from :func:`spatial_cv`, and the per-fold table of the report).
``class_aware=True`` (block scheme) assigns blocks to folds so that no class sits in one fold only
where it spans two or more blocks, and, with the automatic block size, shrinks the blocks (down to a
quarter of the default side) until every class spans two blocks; the buffer is applied afterwards as
usual, so a class may still go missing where the buffer removes it (reported the same way).

Metrics are computed on the pooled out-of-fold predictions. Classification: overall accuracy, Cohen's
kappa, balanced accuracy, macro F1, per-class precision/recall/F1/support, confusion matrix (rows:
true, columns: predicted, in ``classes`` order). Regression (per target): R², RMSE, MAE, bias
(mean of predicted - true).

References: Roberts et al. (2017) Cross-validation strategies for data with temporal, spatial,
hierarchical, or phylogenetic structure, Ecography 40, 913-929; Ploton et al. (2020) Spatial
validation reveals poor predictive performance of large-scale ecological mapping models, Nature
Communications 11, 4540.
"""
import inspect
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, RemineWarning
from ..progress import as_progress
from .probabilities import class_probabilities
from .registry import make_estimator

SCHEMES = ("group", "block", "random")


@dataclass
class CVResult:
    """Out-of-fold predictions and metrics of :func:`spatial_cv`.

    ``fold`` (n,) fold index of every sample; ``y_pred`` (n,) / (n, t) out-of-fold predictions;
    ``proba`` (n, n_classes) out-of-fold probabilities (classifiers with predict_proba) or None;
    ``metrics`` pooled metrics (see module docstring); ``folds`` per-fold sizes and scores.
    """

    scheme: str
    n_splits: int
    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    fold: np.ndarray
    metrics: dict
    folds: list
    classes: list = None
    target_names: list = None
    proba: np.ndarray = None
    settings: dict = field(default_factory=dict)

    def to_dict(self):
        """JSON-ready summary (no per-sample arrays)."""
        return {"scheme": self.scheme, "n_splits": self.n_splits, "task": self.task,
                "settings": self.settings, "metrics": self.metrics, "folds": self.folds}


def clean_training_set(training_set, progress=None):
    """``(X, y, groups, coords)`` with non-finite spectra dropped (counted, with a RemineWarning).

    Raises InputError when nothing is left or, for classification, when there is only one class.
    """
    progress = as_progress(progress)
    X = np.asarray(training_set.X)
    y = np.asarray(training_set.y)
    finite = np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if y.dtype.kind in "fc":
        finite &= np.isfinite(y.reshape(len(y), -1)).all(axis=1)
    n_bad = int((~finite).sum())
    if n_bad:
        msg = f"dropped {n_bad} of {len(X)} training samples with NaN/inf values"
        warnings.warn(msg, RemineWarning, stacklevel=3)
        progress.warn(msg)
    if not finite.any():
        flat = np.isfinite(X.reshape(len(X), X.shape[1], -1)).all(axis=2) if X.ndim > 1 else np.isfinite(X)[:, None]
        dead = np.flatnonzero(~flat.any(axis=0))
        wl = np.asarray(training_set.wavelengths_nm, dtype=float) if training_set.wavelengths_nm is not None else None
        where = ""
        if len(dead):
            names = [f"{wl[b]:g}" for b in dead[:8]] if wl is not None and len(wl) == flat.shape[1] else \
                [str(b) for b in dead[:8]]
            where = (f"; bands NaN in every sample: {', '.join(names)}{' nm' if wl is not None else ''}"
                     f"{', …' if len(dead) > 8 else ''} (drop them with a spectral subset)")
        raise InputError(f"all {len(X)} training samples contain NaN{where}; check the cube's nodata and the ROIs")
    out = (X[finite], y[finite], np.asarray(training_set.groups)[finite],
           np.asarray(training_set.coords, dtype=float)[finite])
    if training_set.is_classification:
        classes = np.unique(out[1])
        if len(classes) < 2:
            raise InputError(f"the training set has one class only ({classes[0] if len(classes) else 'none'}); "
                             "classification needs at least 2 classes")
    return out


def block_ids(coords, block_size_m):
    """Integer id of the square map block (side ``block_size_m`` metres) holding each (x, y)."""
    ij = np.floor((coords - coords.min(axis=0)) / float(block_size_m)).astype(np.int64)
    return ij[:, 0] * (int(ij[:, 1].max()) + 1) + ij[:, 1]


def default_block_size(coords, n_splits):
    """Block side (m) giving about 4 blocks per fold over the bounding box of ``coords``."""
    extent = np.ptp(coords, axis=0)
    area = max(float(extent[0]) * float(extent[1]), float(extent.max()) ** 2 / 10, 1e-9)
    return float(np.sqrt(area / (4 * n_splits)))


def _class_aware_size(y, coords, size):
    """Largest block side (default side, shrunk by 0.8 down to a quarter of it) at which every class
    spans at least two blocks; the default side when none does."""
    floor = size / 4.0
    candidate = size
    while candidate >= floor:
        blocks = block_ids(coords, candidate)
        if all(len(np.unique(blocks[y == c])) >= 2 for c in np.unique(y)):
            return candidate
        candidate *= 0.8
    return size


def class_aware_folds(y, fold_groups, n_splits, seed=0):
    """Assign whole blocks (``fold_groups``) to ``n_splits`` folds so that every class spanning two or
    more blocks has blocks in at least two folds (it is then trained wherever it is tested).

    Classes are taken from the fewest blocks up; each of a class's unassigned blocks goes to the fold
    holding the fewest samples among those without that class yet. Returns a list of (train, test).
    """
    rng = np.random.default_rng(seed)
    blocks = np.unique(fold_groups)
    rng.shuffle(blocks)
    classes_of = {b: set(y[fold_groups == b]) for b in blocks}
    size_of = {b: int(np.count_nonzero(fold_groups == b)) for b in blocks}
    fold_of, load, has = {}, np.zeros(n_splits), [set() for _ in range(n_splits)]
    classes = sorted(np.unique(y), key=lambda c: sum(c in classes_of[b] for b in blocks))

    def put(b, candidates):
        k = min(candidates, key=lambda f: load[f])
        fold_of[b] = k
        load[k] += size_of[b]
        has[k] |= classes_of[b]

    for c in classes:
        for b in sorted((b for b in blocks if c in classes_of[b] and b not in fold_of), key=lambda b: -size_of[b]):
            free = [f for f in range(n_splits) if c not in has[f]]
            put(b, free or range(n_splits))
    for b in blocks:
        if b not in fold_of:
            put(b, range(n_splits))
    fold = np.array([fold_of[b] for b in fold_groups])
    idx = np.arange(len(y))
    return [(idx[fold != k], idx[fold == k]) for k in range(n_splits) if np.any(fold == k)]


def missing_classes(y, folds):
    """``{fold index: [classes in its test part but absent from its training part]}`` (folds with none omitted)."""
    out = {}
    for k, (train, test) in enumerate(folds):
        gone = sorted(set(y[test].tolist()) - set(y[train].tolist()), key=str)
        if gone:
            out[k] = [str(c) for c in gone]
    return out


def make_folds(y, groups, coords, scheme="group", n_splits=5, buffer_m=0.0, block_size_m=None, seed=0,
               classification=True, class_aware=False):
    """Train/test index pairs and the fold grouping used.

    ``class_aware`` (block scheme, classification): blocks assigned by :func:`class_aware_folds`, and
    the automatic block size shrunk until every class spans two blocks (see the module docstring).

    Returns
    -------
    folds : list of (train_idx, test_idx); training samples closer than ``buffer_m`` to a test sample are removed.
    fold_groups : (n,) ints the folds were built on (ROI ids, block ids; None for "random").
    settings : dict describing the scheme (block size, buffer, samples removed by the buffer, and for
        classification ``missing_classes``: {fold: classes tested but not trained}).
    """
    from scipy.spatial import cKDTree
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    if scheme not in SCHEMES:
        raise InputError(f"validation scheme {scheme!r} unknown; expected one of {list(SCHEMES)}")
    n_splits = int(n_splits)
    if n_splits < 2:
        raise InputError(f"n_splits must be >= 2, got {n_splits}")
    if classification:
        classes, counts = np.unique(y, return_counts=True)
        small = [f"{c} ({k})" for c, k in zip(classes, counts) if k < n_splits]
        if small:
            raise InputError(f"classes with fewer samples than the {n_splits} folds: {', '.join(small)}; "
                             "add samples or reduce the number of folds")
    settings = {"scheme": scheme, "n_splits": n_splits, "buffer_m": float(buffer_m or 0.0)}
    idx = np.arange(len(y))
    if scheme == "random":
        warnings.warn("random pixel-wise cross-validation overstates accuracy: pixels of one ROI fall in both "
                      "training and test folds; use scheme='group' or 'block'", RemineWarning, stacklevel=3)
        cv = (StratifiedKFold if classification else KFold)(n_splits, shuffle=True, random_state=seed)
        return list(cv.split(idx, y)), None, settings
    if scheme == "group":
        fold_groups = np.asarray(groups)
        what = "ROIs"
    else:
        size = float(block_size_m) if block_size_m else default_block_size(coords, n_splits)
        if size <= 0:
            raise InputError(f"block_size_m must be > 0, got {block_size_m}")
        class_aware = bool(class_aware and classification)
        if class_aware and not block_size_m:
            size = _class_aware_size(y, coords, size)
        fold_groups = block_ids(coords, size)
        settings.update(block_size_m=size, class_aware=class_aware)
        what = f"spatial blocks of {size:.4g} m"
    n_groups = len(np.unique(fold_groups))
    if n_groups < n_splits:
        raise InputError(f"{n_groups} {what} cannot make {n_splits} folds; reduce n_splits to <= {n_groups}"
                         + (" or the block size" if scheme == "block" else ""))
    if scheme == "block" and class_aware:
        folds = class_aware_folds(y, fold_groups, n_splits, seed)
    elif classification:
        with warnings.catch_warnings():  # "least populated class has only N members": handled above
            warnings.simplefilter("ignore", UserWarning)
            folds = list(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, y, fold_groups))
    else:
        folds = list(GroupKFold(n_splits).split(idx, y, fold_groups))
    if buffer_m and buffer_m > 0:
        buffered, removed = [], []
        for train, test in folds:
            dist, _ = cKDTree(coords[test]).query(coords[train], k=1, distance_upper_bound=float(buffer_m))
            keep = ~(dist <= buffer_m)
            removed.append(int((~keep).sum()))
            buffered.append((train[keep], test))
        folds = buffered
        settings["removed_by_buffer"] = removed
    if classification:
        settings["missing_classes"] = missing_classes(y, folds)
    return folds, fold_groups, settings


def fit_estimator(estimator, X, y, groups=None):
    """Fit and return ``estimator`` on (X, y).

    ``groups`` goes to estimators (or a Pipeline's last step) whose ``fit`` takes it; regressors
    without native multi-output support are wrapped in MultiOutputRegressor for (n, t) targets.
    """
    if np.ndim(y) == 2 and np.shape(y)[1] > 1 and not estimator.__sklearn_tags__().target_tags.multi_output:
        from sklearn.multioutput import MultiOutputRegressor

        return MultiOutputRegressor(estimator).fit(X, y)
    final, prefix = estimator, ""
    if hasattr(estimator, "steps"):
        name, final = estimator.steps[-1]
        prefix = name + "__"
    if groups is not None and "groups" in inspect.signature(final.fit).parameters:
        return estimator.fit(X, y, **{prefix + "groups": groups})
    return estimator.fit(X, y)


def spatial_cv(estimator, training_set, scheme="group", n_splits=5, buffer_m=0.0, block_size_m=None,
               seed=0, progress=None, class_aware=False):
    """Cross-validate ``estimator`` on a training set with ROI-grouped or spatial-block folds.

    Parameters
    ----------
    estimator : unfitted scikit-learn estimator (cloned per fold) or registry name (str).
    training_set : TrainingSet (X (n, bands) or (n, bands, k, k), y, groups, coords (n, 2) map units).
    scheme : "group" (ROI folds), "block" (square map blocks of ``block_size_m``; default about 4
        blocks per fold) or "random" (pixel-wise; warns that it overstates accuracy).
    n_splits : int >= 2.
    buffer_m : float, training samples closer than this (map units, m) to a test sample are dropped.
    seed : int, shuffling of group/block assignment.
    progress : Progress or None (cancel checked between folds).
    class_aware : bool, class-aware assignment of blocks to folds (block scheme; see :func:`make_folds`).

    Returns
    -------
    CVResult with pooled out-of-fold metrics; classes tested in a fold whose training part lacks them
    are named in a RemineWarning, the progress log, ``settings["missing_classes"]`` and the per-fold
    ``missing_classes``. Every fold's estimator sees only its training part, and
    estimators whose ``fit`` takes ``groups`` (stacking) get the same ROI/block grouping for their
    inner folds.
    """
    from sklearn.base import clone, is_classifier

    progress = as_progress(progress)
    classification = bool(training_set.is_classification)
    if isinstance(estimator, str):
        estimator = make_estimator(estimator, task="classification" if classification else "regression")
    if classification != is_classifier(estimator):
        raise InputError(f"{type(estimator).__name__} is a {'classifier' if is_classifier(estimator) else 'regressor'} "
                         f"but the training set is for {'classification' if classification else 'regression'}")
    X, y, groups, coords = clean_training_set(training_set, progress)
    folds, fold_groups, settings = make_folds(y, groups, coords, scheme, n_splits, buffer_m, block_size_m, seed,
                                              classification, class_aware)
    missing = settings.get("missing_classes")
    if missing:
        msg = ("training folds lack classes present in their test folds (those samples cannot be predicted "
               "right; every method scores alike on them): "
               + "; ".join(f"fold {k}: {', '.join(v)}" for k, v in missing.items())
               + (". Use class-aware folds or smaller blocks" if scheme == "block" else ". Use more ROIs per class"))
        warnings.warn(msg, RemineWarning, stacklevel=2)
        progress.warn(msg)
    classes = list(np.unique(y)) if classification else None
    y_pred = np.empty(y.shape, dtype=y.dtype if classification else float)
    proba = np.zeros((len(y), len(classes))) if classification else None
    has_proba = classification
    fold = np.full(len(y), -1)
    per_fold = []
    for k, (train, test) in enumerate(folds):
        progress.check()
        progress.report(k / len(folds), f"fold {k + 1}/{len(folds)}")
        est = fit_estimator(clone(estimator), X[train], y[train],
                            None if fold_groups is None else fold_groups[train])
        y_pred[test] = est.predict(X[test])
        fold[test] = k
        if has_proba and hasattr(est, "predict_proba"):
            proba[test] = class_probabilities(est, X[test], classes)
        else:
            has_proba = False
        score = (float(np.mean(y_pred[test] == y[test])) if classification
                 else regression_metrics(y[test], y_pred[test])[0]["r2"])
        row = {"fold": k, "n_train": int(len(train)), "n_test": int(len(test)),
               ("overall_accuracy" if classification else "r2"): score}
        if classification:
            row["missing_classes"] = ", ".join((missing or {}).get(k, []))
        per_fold.append(row)
    progress.report(1.0, "cross-validation done")
    names = training_set.target_names
    if classification:
        metrics = classification_metrics(y, y_pred, classes)
    else:
        per_target = regression_metrics(y, y_pred)
        names = names or [f"target_{j}" for j in range(len(per_target))]
        metrics = dict(zip(names, per_target)) if len(per_target) > 1 else per_target[0]
    return CVResult(scheme=scheme, n_splits=len(folds), task="classification" if classification else "regression",
                    y_true=y, y_pred=y_pred, fold=fold, metrics=metrics, folds=per_fold, classes=classes,
                    target_names=names, proba=proba if has_proba else None, settings=settings)


def classification_metrics(y_true, y_pred, classes=None):
    """OA, kappa, balanced accuracy, macro F1, per-class precision/recall/F1/support, confusion matrix."""
    from sklearn import metrics as skm

    classes = list(classes) if classes is not None else list(np.unique(np.concatenate([y_true, y_pred])))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "overall_accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "kappa": float(skm.cohen_kappa_score(y_true, y_pred, labels=classes)),
        "balanced_accuracy": float(np.mean(r[s > 0])) if (s > 0).any() else 0.0,
        "macro_f1": float(np.mean(f[s > 0])) if (s > 0).any() else 0.0,
        "per_class": {str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                               "support": int(s[i])} for i, c in enumerate(classes)},
        "classes": [str(c) for c in classes],
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "n_samples": int(len(y_true)),
    }


def regression_metrics(y_true, y_pred):
    """List (one per target) of dicts: r2, rmse, mae, bias (mean predicted - true), n_samples."""
    yt = np.asarray(y_true, dtype=float).reshape(len(y_true), -1)
    yp = np.asarray(y_pred, dtype=float).reshape(len(y_pred), -1)
    out = []
    for j in range(yt.shape[1]):
        err = yp[:, j] - yt[:, j]
        ss_tot = float(np.sum((yt[:, j] - yt[:, j].mean()) ** 2))
        out.append({"r2": float(1 - np.sum(err ** 2) / ss_tot) if ss_tot > 0 else float("nan"),
                    "rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
                    "bias": float(np.mean(err)), "n_samples": int(len(err))})
    return out
