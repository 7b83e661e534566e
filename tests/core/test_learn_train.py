"""Train-and-validate workflow, HTML report, CRM high/low classes with ROC."""
import os

import numpy as np
import pytest

from remine.core.errors import InputError
from remine.core.learn import build_training_set
from remine.core.learn.crm import crm_labels, roc_analysis, roc_section, train_crm
from remine.core.learn.train import build_estimator, train, write_report

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "learn")
CUBE = os.path.join(DATA, "cube.tif")
ROIS = os.path.join(DATA, "rois.gpkg")


@pytest.fixture(scope="module")
def reg_set():
    return build_training_set(CUBE, ROIS, target_fields=["kaolinite_pct", "Zn_ppm"])


def test_train_classifier_with_preprocessing_and_report(tmp_path):
    ts = build_training_set(CUBE, ROIS, label_field="mineral")
    model, cv = train(ts, "plsda", preprocessing="continuum", n_splits=4)
    assert type(model.estimator).__name__ == "Pipeline"
    assert model.metrics["scheme"] == "group" and model.metrics["preprocessing"] == "continuum"
    assert model.metrics["metrics"]["overall_accuracy"] == cv.metrics["overall_accuracy"] > 0.9
    html = open(write_report(str(tmp_path / "r.html"), model, cv, "PLS-DA"), encoding="utf-8").read()
    assert "Confusion matrix" in html and "data:image/png;base64" in html and "kappa" in html


def test_train_regressor_report_has_scatter(tmp_path, reg_set):
    model, cv = train(reg_set, "svm", n_splits=4)
    assert model.task == "regression" and cv.metrics["kaolinite_pct"]["r2"] > 0.8
    html = open(write_report(str(tmp_path / "r.html"), model, cv), encoding="utf-8").read()
    assert "Observed vs out-of-fold predicted" in html and "Zn_ppm" in html


def test_patch_and_method_mismatch_errors():
    with pytest.raises(InputError, match="only cnn2d takes patches"):
        build_estimator("svm", "classification", patch_size=3)
    with pytest.raises(InputError, match="cnn2d needs k x k patches"):
        build_estimator("cnn2d", "classification", patch_size=1)
    with pytest.raises(InputError, match="preprocessing 'msc' unknown"):
        build_estimator("svm", "classification", preprocessing="msc", wavelengths_nm=[1, 2])


def test_crm_labels_and_roc_auc_equal_mann_whitney():
    assert crm_labels([10, 500, 499.9, 800], 500).tolist() == ["low", "high", "low", "high"]
    assert crm_labels([10, 300, 899, 900], (300, 900)).tolist() == ["low", "medium", "medium", "high"]
    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3
    score = np.where(truth, rng.normal(0.7, 0.2, 200), rng.normal(0.4, 0.2, 200))
    roc = roc_analysis(truth, score)
    # AUC = Mann-Whitney U / (n1 n0) (Hanley & McNeil 1982)
    pos, neg = score[truth], score[~truth]
    u = np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])
    assert np.isclose(roc["auc"], u / (len(pos) * len(neg)))
    j = np.array(roc["tpr"]) - np.array(roc["fpr"])
    assert np.isclose(roc["youden_j"], j.max())


def test_train_crm_reports_threshold_and_auc(tmp_path, reg_set):
    model, cv, roc = train_crm(reg_set, "Zn_ppm", 600.0, method="lda", n_splits=4)
    crm = model.metrics["crm"]
    assert crm["threshold"] == 600.0 and crm["target"] == "Zn_ppm" and crm["n_high"] + crm["n_low"] == 256
    assert model.classes == ["high", "low"] and roc["auc"] > 0.9
    out = write_report(str(tmp_path / "crm.html"), model, cv, extra=roc_section(roc, "Zn_ppm", 600.0))
    assert "Zn_ppm &gt;= 600 is high" in open(out, encoding="utf-8").read()


def test_ordinal_crm_classes(reg_set):
    model, cv, roc = train_crm(reg_set, "Zn_ppm", (150.0, 1000.0), method="lda", n_splits=4)
    assert model.classes == ["high", "low", "medium"] and model.metrics["crm"]["threshold"] == [150.0, 1000.0]
    crm = model.metrics["crm"]
    assert crm["n_high"] + crm["n_medium"] + crm["n_low"] == 256 and min(crm["n_high"], crm["n_medium"]) > 0
    assert 0.5 < roc["auc"] <= 1.0  # high against the rest


def test_crm_bad_input(reg_set):
    with pytest.raises(InputError, match="the rule 'Zn_ppm >= 1e\\+06 is high' gives the classes \\['low'\\] only"):
        train_crm(reg_set, "Zn_ppm", 1e6)
    with pytest.raises(InputError, match="one number or two increasing numbers"):
        train_crm(reg_set, "Zn_ppm", (900, 300))
    with pytest.raises(InputError, match="target 'Cu_ppm' not in the training set; available: kaolinite_pct, Zn_ppm"):
        train_crm(reg_set, "Cu_ppm", 10)
    with pytest.raises(InputError, match="gives no probabilities"):
        train_crm(reg_set, "Zn_ppm", 600.0, method="ridge", n_splits=4)


def test_evaluate_model_on_an_independent_set(reg_set):
    from dataclasses import replace

    from remine.core.learn import fit_model
    from remine.core.learn.train import evaluate_model

    ts = build_training_set(CUBE, ROIS, label_field="mineral")
    train_rois = ts.groups % 2 == 0

    def part(keep):
        return replace(ts, X=ts.X[keep], y=ts.y[keep], groups=ts.groups[keep], coords=ts.coords[keep])

    model = fit_model("lda", part(train_rois))
    result = evaluate_model(model, part(~train_rois))
    assert result.scheme == "independent test set" and result.metrics["n_samples"] == int((~train_rois).sum())
    assert result.metrics["overall_accuracy"] > 0.9
    with pytest.raises(InputError, match="the model does classification but the test set is for regression"):
        evaluate_model(model, reg_set)


def test_method_parameters_from_json():
    from remine.core.learn.train import parse_params

    assert parse_params('{"C": 10, "gamma": "scale"}') == {"C": 10, "gamma": "scale"}
    assert parse_params("") == {} and parse_params(None) == {}
    assert build_estimator("svm", "classification", '{"C": 3}').C == 3
    with pytest.raises(InputError, match="are not valid JSON"):
        parse_params("C=10")
    with pytest.raises(InputError, match="must be a JSON object"):
        parse_params("[1, 2]")
