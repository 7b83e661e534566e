"""spatial_cv: ROI and block folds without leakage, buffers, warnings, metrics, bad input."""
import os
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from remine.core.errors import InputError, RemineWarning
from remine.core.learn import build_training_set, make_estimator, spatial_cv
from remine.core.learn.validation import classification_metrics, make_folds, regression_metrics

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "learn")


@pytest.fixture(scope="module")
def class_set():
    return build_training_set(os.path.join(DATA, "cube.tif"), os.path.join(DATA, "rois.gpkg"), label_field="mineral")


@pytest.fixture(scope="module")
def reg_set():
    return build_training_set(os.path.join(DATA, "cube.tif"), os.path.join(DATA, "rois.gpkg"),
                              target_fields=["kaolinite_pct", "Zn_ppm"])


def test_group_folds_never_split_a_roi(class_set):
    folds, fold_groups, _ = make_folds(class_set.y, class_set.groups, class_set.coords, "group", 4)
    assert np.array_equal(fold_groups, class_set.groups)
    tested = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(class_set.y)))  # every sample tested once
    for train, test in folds:
        assert not set(class_set.groups[train]) & set(class_set.groups[test])


def test_block_folds_respect_the_buffer(class_set):
    folds, blocks, settings = make_folds(class_set.y, class_set.groups, class_set.coords, "block", 3,
                                         buffer_m=4.0, block_size_m=2.5)
    assert settings["block_size_m"] == 2.5 and sum(settings["removed_by_buffer"]) > 0
    for train, test in folds:
        assert not set(blocks[train]) & set(blocks[test])
        assert cdist(class_set.coords[train], class_set.coords[test]).min() >= 4.0


def test_spatial_cv_classification_metrics(class_set):
    cv = spatial_cv(make_estimator("lda"), class_set, scheme="group", n_splits=4)
    m = cv.metrics
    cm = np.array(m["confusion_matrix"])
    assert cm.sum() == len(class_set.y) and m["classes"] == sorted(set(class_set.y))
    assert np.isclose(m["overall_accuracy"], np.trace(cm) / cm.sum())
    # Cohen's kappa from the confusion matrix (Cohen 1960): (po - pe) / (1 - pe)
    po, pe = np.trace(cm) / cm.sum(), np.sum(cm.sum(0) * cm.sum(1)) / cm.sum() ** 2
    assert np.isclose(m["kappa"], (po - pe) / (1 - pe))
    recall = np.diag(cm) / cm.sum(axis=1)
    assert np.isclose(m["balanced_accuracy"], recall.mean())
    assert m["overall_accuracy"] > 0.9
    assert cv.proba.shape == (len(class_set.y), 4) and np.allclose(cv.proba.sum(1), 1)
    assert len(cv.folds) == 4 and all(f["n_test"] > 0 for f in cv.folds)


def test_spatial_cv_regression_metrics(reg_set):
    cv = spatial_cv("plsr", reg_set, scheme="block", n_splits=3, buffer_m=1.0)
    assert set(cv.metrics) == {"kaolinite_pct", "Zn_ppm"}
    err = cv.y_pred[:, 1] - cv.y_true[:, 1]
    m = cv.metrics["Zn_ppm"]
    assert np.isclose(m["rmse"], np.sqrt(np.mean(err ** 2))) and np.isclose(m["bias"], err.mean())
    assert np.isclose(m["r2"], 1 - np.sum(err ** 2) / np.sum((cv.y_true[:, 1] - cv.y_true[:, 1].mean()) ** 2))
    assert cv.to_dict()["settings"]["scheme"] == "block"


def test_random_cv_warns_that_it_overstates(class_set):
    with pytest.warns(RemineWarning, match="overstates accuracy"):
        spatial_cv("lda", class_set, scheme="random", n_splits=3)


def test_stack_in_cv_gets_the_roi_groups(class_set):
    est = make_estimator("stack", estimators=["lda", "plsda"], n_splits=3)
    folds, _, _ = make_folds(class_set.y, class_set.groups, class_set.coords, "group", 4)
    cv = spatial_cv(est, class_set, scheme="group", n_splits=4)
    assert cv.metrics["overall_accuracy"] > 0.9
    from remine.core.learn.validation import fit_estimator

    fitted = fit_estimator(est, class_set.X, class_set.y, class_set.groups)
    assert fitted.fold_scheme_ == "StratifiedGroupKFold(3)"


def test_nan_spectra_are_dropped_and_counted(class_set):
    X = class_set.X.copy()
    X[:5, 3] = np.nan
    with pytest.warns(RemineWarning, match="dropped 5 of 256 training samples"):
        cv = spatial_cv("lda", replace(class_set, X=X), n_splits=4)
    assert cv.metrics["n_samples"] == 251


def test_one_class_only_is_an_error(class_set):
    keep = class_set.y == "calcite"
    one = replace(class_set, X=class_set.X[keep], y=class_set.y[keep], groups=class_set.groups[keep],
                  coords=class_set.coords[keep])
    with pytest.raises(InputError, match="one class only \\(calcite\\)"):
        spatial_cv("svm", one)


def test_class_with_fewer_samples_than_folds_is_an_error(class_set):
    keep = (class_set.y != "goethite") | (np.cumsum(class_set.y == "goethite") <= 2)
    small = replace(class_set, X=class_set.X[keep], y=class_set.y[keep], groups=class_set.groups[keep],
                    coords=class_set.coords[keep])
    with pytest.raises(InputError, match="fewer samples than the 4 folds: goethite \\(2\\)"):
        spatial_cv("lda", small, n_splits=4)


def test_too_few_rois_for_the_folds(class_set):
    with pytest.raises(InputError, match="16 ROIs cannot make 20 folds"):
        spatial_cv("lda", class_set, n_splits=20)


def test_unknown_scheme_and_task_mismatch(class_set, reg_set):
    with pytest.raises(InputError, match="scheme 'kfold' unknown"):
        spatial_cv("lda", class_set, scheme="kfold")
    with pytest.raises(InputError, match="Ridge is a regressor but the training set is for classification"):
        spatial_cv(make_estimator("ridge"), class_set)


def test_metric_helpers_match_hand_counts():
    y = np.array(["a", "a", "b", "b", "b"])
    p = np.array(["a", "b", "b", "b", "a"])
    m = classification_metrics(y, p)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert np.isclose(m["per_class"]["b"]["precision"], 2 / 3) and np.isclose(m["per_class"]["a"]["recall"], 0.5)
    r = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5]))[0]
    assert np.isclose(r["mae"], 1 / 3) and np.isclose(r["bias"], 0.0) and np.isclose(r["r2"], 0.75)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classification_metrics(y, p, classes=["a", "b", "c"])  # an absent class: no warning, zeros


@pytest.fixture(scope="module")
def demo_class_set(demo_scene):
    return build_training_set(demo_scene["cube"], demo_scene["rois"], label_field="mineral")


def test_block_cv_names_classes_missing_from_training_and_class_aware_folds_fix_it(demo_class_set):
    """Demo scene, automatic blocks (28 m): the three ROIs of six minerals share one block, so a fold
    tests them with no training sample (remine: OA 0.237 for SVM, PLS-DA and ExtraTrees alike).
    Class-aware folds shrink the blocks to 7.3 m and spread each class over two folds (OA 1.000)."""
    ts = demo_class_set
    with pytest.warns(RemineWarning, match=r"training folds lack classes present in their test folds.*"
                                           r"fold 0: kaolinite"):
        plain = spatial_cv("plsda", ts, scheme="block", n_splits=5)
    missing = plain.settings["missing_classes"]
    assert sum(len(v) for v in missing.values()) >= 5
    folds, blocks, _ = make_folds(ts.y, ts.groups, ts.coords, "block", 5)
    for k, classes in missing.items():  # what is reported is true
        train, test = folds[k]
        assert set(classes) <= set(ts.y[test]) - set(ts.y[train])
    assert [f["missing_classes"] for f in plain.folds if f["missing_classes"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RemineWarning)
        aware = spatial_cv("plsda", ts, scheme="block", n_splits=5, class_aware=True)
    assert aware.settings["missing_classes"] == {} and aware.settings["class_aware"]
    assert aware.settings["block_size_m"] < plain.settings["block_size_m"]
    assert aware.metrics["overall_accuracy"] > plain.metrics["overall_accuracy"] + 0.5
    folds, blocks, settings = make_folds(ts.y, ts.groups, ts.coords, "block", 5, buffer_m=2.0, class_aware=True)
    for train, test in folds:  # whole blocks, and the buffer still holds
        assert not set(blocks[train]) & set(blocks[test])
        assert cdist(ts.coords[train], ts.coords[test]).min() >= 2.0
    assert sum(settings["removed_by_buffer"]) > 0


def test_report_names_missing_classes(demo_class_set, tmp_path):
    from remine.core.learn.train import train, write_report

    with pytest.warns(RemineWarning, match="training folds lack classes"):
        model, cv = train(demo_class_set, "plsda", scheme="block", n_splits=5)
    html = open(write_report(str(tmp_path / "r.html"), model, cv), encoding="utf-8").read()
    assert "Classes missing from training folds" in html and "missing_classes" in html
