"""Critical-raw-material (CRM) high/low classes from a lab threshold, with ROC analysis.

As in Li, Desta & Buxton (EGU 2026; SVM and PLS-DA on VNIR–SWIR + FTIR): each ROI / sample is
labelled ``high`` when its lab grade (XRF ppm, XRD %) is at or above ``threshold`` and ``low``
otherwise; a classifier is cross-validated with ROI/block folds and P(high) is mapped. With two
thresholds (t1, t2) the classes are ordinal: ``low`` (< t1), ``medium`` (t1 <= value < t2) and
``high`` (>= t2); the ROC is then that of ``high`` against the rest.

Reported: the element threshold used for the labels, the ROC curve and AUC of the out-of-fold
P(high), and the probability cut maximising Youden's J = TPR - FPR on those out-of-fold
probabilities. That cut is a suggestion for drawing the map; the cross-validated accuracy, kappa
and per-class scores are those of the classifier's own decision (P(high) >= 0.5 or SVM voting),
so no threshold is tuned on the test folds.

Reference: Fawcett (2006) An introduction to ROC analysis, Pattern Recognition Letters 27, 861-874;
Youden (1950) Index for rating diagnostic tests, Cancer 3, 32-35.
"""
from dataclasses import replace

import numpy as np

from ..errors import InputError
from .train import train

HIGH, MEDIUM, LOW = "high", "medium", "low"


def thresholds_of(threshold):
    """``threshold`` as a tuple: (t,) for high/low, (t1, t2) with t1 < t2 for low/medium/high."""
    t = tuple(float(v) for v in np.atleast_1d(threshold))
    if len(t) not in (1, 2) or (len(t) == 2 and not t[0] < t[1]) or not np.all(np.isfinite(t)):
        raise InputError(f"CRM threshold must be one number or two increasing numbers; got {threshold!r}")
    return t


def describe(target, threshold):
    """Text of the class rule, e.g. "Zn_ppm >= 500 is high"."""
    t = thresholds_of(threshold)
    if len(t) == 1:
        return f"{target} >= {t[0]:g} is high"
    return f"{target} < {t[0]:g} is low, {t[0]:g}-{t[1]:g} medium, >= {t[1]:g} high"


def crm_labels(values, threshold):
    """(n,) class labels: "high" where ``values >= threshold``, else "low"; with two thresholds
    (t1, t2): "low" < t1 <= "medium" < t2 <= "high". NaN values raise InputError."""
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise InputError(f"{int((~np.isfinite(values)).sum())} lab values are NaN; drop those samples first")
    t = thresholds_of(threshold)
    labels = np.full(values.shape, LOW, dtype=f"<U{len(MEDIUM)}")
    labels[values >= t[-1]] = HIGH
    if len(t) == 2:
        labels[(values >= t[0]) & (values < t[1])] = MEDIUM
    return labels


def crm_training_set(training_set, target, threshold):
    """Classification TrainingSet (high/low) from a regression set's ``target`` column.

    Raises InputError when the target is unknown or the threshold leaves one class only.
    """
    if training_set.is_classification:
        raise InputError("CRM classes need a training set with lab values (regression targets), "
                         "not class labels")
    names = list(training_set.target_names or ["target"])
    if target not in names:
        raise InputError(f"target {target!r} not in the training set; available: {', '.join(names)}")
    y = np.asarray(training_set.y, dtype=float).reshape(len(training_set.y), -1)[:, names.index(target)]
    labels = crm_labels(y, threshold)
    kinds = np.unique(labels)
    if len(kinds) < 2 or HIGH not in kinds:
        raise InputError(f"the rule '{describe(target, threshold)}' gives the classes {list(kinds)} only ({target} "
                         f"ranges {y.min():g}-{y.max():g}); choose thresholds inside that range")
    meta = dict(training_set.metadata or {}, crm={"target": target, "threshold": _jsonable(threshold)})
    return replace(training_set, y=labels, classes=[str(k) for k in kinds], target_names=None, metadata=meta)


def _jsonable(threshold):
    t = thresholds_of(threshold)
    return t[0] if len(t) == 1 else list(t)


def roc_analysis(is_high, p_high):
    """ROC of ``p_high`` against boolean truth: dict with auc, youden_cut, fpr, tpr (lists).

    ``youden_cut``: probability maximising TPR - FPR (a suggestion for the map, see module docstring).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    is_high = np.asarray(is_high, dtype=bool)
    fpr, tpr, cuts = roc_curve(is_high, p_high)
    best = int(np.argmax(tpr - fpr))
    return {"auc": float(roc_auc_score(is_high, p_high)), "youden_cut": float(min(cuts[best], 1.0)),
            "youden_j": float(tpr[best] - fpr[best]), "fpr": fpr.tolist(), "tpr": tpr.tolist()}


def train_crm(training_set, target, threshold, method="svm", params=None, preprocessing="none", scheme="group",
              n_splits=5, buffer_m=0.0, block_size_m=None, seed=0, progress=None, class_aware=False):
    """High/low classifier for ``target`` at ``threshold``: (TrainedModel, CVResult, roc dict).

    The ROC uses the out-of-fold P(high); the model's ``metrics["crm"]`` records target, threshold,
    AUC and the Youden cut.
    """
    crm_set = crm_training_set(training_set, target, threshold)
    model, cv = train(crm_set, method, params, preprocessing, scheme, n_splits, buffer_m, block_size_m, seed,
                      progress, class_aware)
    if cv.proba is None:
        raise InputError(f"method {method!r} gives no probabilities; CRM maps need P(high) (use svm, plsda, "
                         "xgboost, extratrees, randomforest, lda, cnn1d or stack)")
    roc = roc_analysis(cv.y_true == HIGH, cv.proba[:, cv.classes.index(HIGH)])
    model.metrics["crm"] = {"target": target, "threshold": _jsonable(threshold), "rule": describe(target, threshold),
                            "auc": roc["auc"], "youden_cut": roc["youden_cut"],
                            **{f"n_{c}": int(np.sum(cv.y_true == c)) for c in cv.classes}}
    return model, cv, roc


def roc_section(roc, target, threshold):
    """A callable adding the ROC section to an HtmlReport (for ``train.write_report(extra=...)``)."""
    def add(report):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4, 4))
        ax = fig.add_subplot()
        ax.plot(roc["fpr"], roc["tpr"], lw=2)
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"AUC {roc['auc']:.3f}")
        report.add_heading(f"CRM classes: {describe(target, threshold)}")
        report.add_table({"element threshold(s)": str(_jsonable(threshold)), "AUC (out of fold)": roc["auc"],
                          "Youden cut on P(high)": roc["youden_cut"], "Youden J": roc["youden_j"]}, "ROC")
        report.add_text("The Youden cut is computed on the out-of-fold probabilities and only suggested for "
                        "drawing maps; the scores above use the classifier's own decision.")
        report.add_figure(fig, "ROC curve of the out-of-fold P(high)")
    return add
