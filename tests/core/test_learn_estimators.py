"""Registry estimators: scikit-learn conformance, FastSVC = libsvm, PLS-DA = PLSRegression on one-hot."""
import os

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.svm import SVC
from sklearn.utils import estimator_checks as ec

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.learn import make_estimator, method_names
from remine.core.learn.plsda import PLSDA
from remine.core.learn.svm import FastSVC

os.environ.setdefault("OMP_NUM_THREADS", "1")


def library_mixtures(n_per_class=60, minerals=("Alunite GDS84 Na03", "Calcite WS272", "Goethite WS222",
                                               "Kaolinite CM9"), noise=0.01, seed=0):
    """Real USGS spectra (every 4th band) mixed with random partners + noise; labels = dominant mineral."""
    names, wl, _, refl = usgs_library()
    spectra = np.array([refl[names.index(m)] for m in minerals])[:, ::4]
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k, m in enumerate(minerals):
        w = rng.dirichlet(np.ones(len(minerals)) * 0.5, n_per_class)
        w[:, k] += 1.0
        w /= w.sum(axis=1, keepdims=True)
        X.append(w @ spectra + noise * rng.standard_normal((n_per_class, spectra.shape[1])))
        y += [m.split()[0].lower()] * n_per_class
    return np.vstack(X), np.array(y)


# A fast, relevant subset of sklearn.utils.estimator_checks (the full check_estimator takes minutes).
CHECKS = [ec.check_no_attributes_set_in_init, ec.check_get_params_invariance, ec.check_set_params,
          ec.check_estimators_unfitted, ec.check_fit2d_predict1d, ec.check_fit_score_takes_y,
          ec.check_dont_overwrite_parameters, ec.check_estimators_fit_returns_self, ec.check_n_features_in,
          ec.check_estimators_nan_inf, ec.check_fit_check_is_fitted]
CLASSIFIER_CHECKS = [ec.check_classifiers_classes, ec.check_classifiers_train]
REGRESSOR_CHECKS = [ec.check_regressors_train, ec.check_regressors_no_decision_function]

MEMBERS = [(n, t) for t in ("classification", "regression") for n in method_names(t) if n != "cnn2d"]


def _small(name, task):
    params = {"cnn1d": dict(epochs=3, channels=4, n_threads=1), "xgboost": dict(n_estimators=10, n_jobs=1),
              "extratrees": dict(n_estimators=10, n_jobs=1), "randomforest": dict(n_estimators=10, n_jobs=1),
              "plsr": dict(n_components=2)}  # the checks use 3-feature data
    est = make_estimator(name, task=task, **params.get(name, {}))
    if name == "stack":
        members = ("lda", "extratrees") if task == "classification" else ("ridge", "plsr")
        est.set_params(estimators=[(m, make_estimator(m, task=task, **params.get(m, {}))) for m in members],
                       n_splits=3)
    return est


@pytest.mark.parametrize("name,task", MEMBERS)
def test_registry_member_passes_sklearn_checks(name, task):
    est = _small(name, task)
    checks = CHECKS + (CLASSIFIER_CHECKS if task == "classification" else REGRESSOR_CHECKS)
    if name in ("cnn1d", "stack"):  # stochastic/slow members: API checks only (training quality is tested below)
        checks = CHECKS[:9]
    if est.__sklearn_tags__().input_tags.allow_nan:  # trees/XGBoost take NaN as missing values
        checks = [c for c in checks if c is not ec.check_estimators_nan_inf]
    for check in checks:
        check(type(est).__name__, est)


def test_make_estimator_errors():
    with pytest.raises(InputError, match="unknown learning method 'svn'.*expected one of"):
        make_estimator("svn")
    with pytest.raises(InputError, match="'plsda' does not do regression"):
        make_estimator("plsda", task="regression")
    with pytest.raises(InputError, match="bad parameters \\['Cee'\\] for method 'svm'"):
        make_estimator("svm", Cee=3)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_fast_svc_reproduces_libsvm(n_classes):
    """Labels, decision values and probabilities equal scikit-learn's libsvm SVC (the reference)."""
    X, y = library_mixtures()
    keep = np.isin(y, np.unique(y)[:n_classes])
    X, y = X[keep], y[keep]
    Xt, _ = library_mixtures(n_per_class=400, seed=1)
    fast = FastSVC(C=10, gamma=50.0).fit(X, y)
    ref = SVC(C=10, gamma=50.0, probability=True, random_state=0)
    with pytest.warns(FutureWarning):  # scikit-learn 1.9 deprecates probability=True; FastSVC hides it
        ref.fit(X, y)
    assert np.array_equal(fast.predict(Xt), ref.predict(Xt))
    assert np.allclose(fast.decision_function(Xt), ref.decision_function(Xt), atol=1e-10)
    assert np.allclose(fast.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-10)
    fast.set_params(decision_function_shape="ovo")
    ref.set_params(decision_function_shape="ovo")
    assert np.allclose(fast.decision_function(Xt), ref.decision_function(Xt), atol=1e-10)


def test_fast_svc_float32_labels_are_certified_on_near_ties():
    """The float32 path's error bound holds, and labels equal libsvm's even for pixels placed on the
    decision boundary (30 bisection steps between two differently-labelled pixels: |f| ~ 1e-9, far below
    the float32 error and far above the float64 one), which the
    certification must send to the float64 path."""
    X, y = library_mixtures(minerals=("Alunite GDS84 Na03", "Calcite WS272", "Kaolinite CM9"))
    fast = FastSVC(C=10, gamma=50.0, probability=False).fit(X, y)
    ref = SVC(C=10, gamma=50.0).fit(X, y)
    Xt, _ = library_mixtures(n_per_class=300, minerals=("Alunite GDS84 Na03", "Calcite WS272", "Kaolinite CM9"),
                             seed=3)
    labels = ref.predict(Xt)
    ties = []
    for a, c in zip(np.flatnonzero(labels == labels[0])[:30], np.flatnonzero(labels != labels[0])[:30]):
        lo, hi = Xt[a], Xt[c]
        for _ in range(30):
            mid = (lo + hi) / 2
            if ref.predict(mid[None])[0] == labels[0]:
                lo = mid
            else:
                hi = mid
        ties += [lo, hi]
    Xall = np.vstack([Xt, ties])
    dec32, bound, winner, sure = fast._ovo_values_f32(Xall, keep_values=True)
    assert np.all(np.abs(dec32 - fast._ovo_values(Xall)) <= bound)
    assert np.array_equal(winner, fast._votes_argmax(dec32))
    assert not sure[len(Xt):].any() and sure[:len(Xt)].mean() > 0.9
    assert np.array_equal(fast.predict(Xall), ref.predict(Xall))
    assert np.array_equal(fast.predict(Xall.astype(np.float32)), ref.predict(Xall.astype(np.float32)))


def test_fast_svc_float32_path_equals_libsvm_on_nine_minerals():
    """Nine USGS minerals (36 one-vs-one pairs, all 224 bands, float32 and float64 input): labels equal
    libsvm's on 4000 test mixtures, and most pixels are certified in float32."""
    minerals = ("Kaolinite CM9", "Muscovite GDS107", "Chlorite HS179.3B", "Montmorillonite CM20",
                "Alunite GDS84 Na03", "Jarosite GDS99 K,Sy 200C", "Goethite WS222", "Gypsum HS333.3B",
                "Calcite WS272")
    names, wl, _, refl = usgs_library()
    spectra = np.array([refl[names.index(m)] for m in minerals])
    rng = np.random.default_rng(5)

    def mixtures(n):
        w = rng.dirichlet(np.full(len(minerals), 0.3), n)
        X = (w @ spectra) * rng.uniform(0.85, 1.15, (n, 1)) + 0.01 * rng.standard_normal((n, spectra.shape[1]))
        return X, np.argmax(w, axis=1)

    X, y = mixtures(900)
    fast = FastSVC(C=10.0, gamma="scale", probability=False).fit(X, y)
    ref = SVC(C=10.0, gamma="scale").fit(X, y)
    Xt, _ = mixtures(4000)
    _, _, _, sure = fast._ovo_values_f32(Xt)
    assert sure.mean() > 0.9
    assert np.array_equal(fast.predict(Xt), ref.predict(Xt))
    assert np.array_equal(fast.predict(Xt.astype(np.float32)), ref.predict(Xt.astype(np.float32)))


def test_plsda_is_plsregression_on_one_hot_classes():
    X, y = library_mixtures()
    model = PLSDA(n_components=4).fit(X, y)
    classes = np.unique(y)
    ref = PLSRegression(n_components=4).fit(X, (y[:, None] == classes[None, :]).astype(float))
    assert np.allclose(model.decision_function(X), ref.predict(X), atol=1e-10)
    assert np.array_equal(model.predict(X), classes[np.argmax(ref.predict(X), axis=1)])
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1) and np.array_equal(classes[proba.argmax(1)], model.predict(X))
    # VIP: the mean of the squared scores is 1 (Chong & Jun 2005); the 1-component case is p*w_j^2/|w|^2
    assert np.isclose(np.mean(model.vip_ ** 2), 1.0)
    one = PLSDA(n_components=1).fit(X, y)
    w = one.pls_.x_weights_[:, 0]
    assert np.allclose(one.vip_, np.sqrt(len(w) * w ** 2 / np.sum(w ** 2)))
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("name", ["svm", "plsda", "xgboost", "extratrees", "randomforest", "lda", "ridge"])
def test_classifiers_learn_library_mixtures(name):
    X, y = library_mixtures()
    Xt, yt = library_mixtures(n_per_class=50, seed=2)
    est = make_estimator(name, task="classification").fit(X, y)
    assert est.score(Xt, yt) > 0.85


def test_stack_oof_uses_groups_and_beats_chance():
    X, y = library_mixtures()
    groups = np.arange(len(y)) // 10
    est = make_estimator("stack", estimators=["lda", "plsda"], n_splits=4).fit(X, y, groups=groups)
    assert est.fold_scheme_ == "StratifiedGroupKFold(4)" and est.n_meta_dropped_ == 0
    Xt, yt = library_mixtures(n_per_class=50, seed=3)
    assert est.score(Xt, yt) > 0.85
    reg = make_estimator("stack", task="regression", estimators=["ridge", "plsr"], n_splits=3)
    target = X[:, 10] * 100
    reg.fit(X, target, groups=groups)
    assert reg.score(X, target) > 0.9
    assert np.all(reg.final_estimator_.coef_ >= 0)  # non-negative stacking weights (Breiman 1996)
    assert reg.predict_std(X).shape == (len(X),)


def test_stack_is_not_worse_than_its_best_member_under_grouped_cv(demo_scene):
    """Demo scene, ROI-grouped 5-fold CV. The members' inner folds used to be plain group folds: with three
    ROIs per mineral an inner training fold lacked gypsum or calcite, those samples got probability 0 for
    their own class and the meta-learner learned to distrust the members (remine before: stack 0.914, its
    members SVM and PLS-DA 1.000; after, with stratified inner group folds: 1.000)."""
    import warnings

    from remine.core.learn import build_training_set, spatial_cv
    from remine.core.learn.stack import StackClassifier

    ts = build_training_set(demo_scene["cube"], demo_scene["rois"], label_field="mineral")
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, est in (("svm", "svm"), ("plsda", "plsda"), ("stack", StackClassifier(["svm", "plsda"]))):
            cv = spatial_cv(est, ts, scheme="group", n_splits=5)
            scores[name] = cv.metrics["overall_accuracy"]
    noise = 1.0 / len(ts.y) * 3  # three samples
    assert scores["stack"] >= max(scores["svm"], scores["plsda"]) - noise, scores
    assert min(v["recall"] for v in cv.metrics["per_class"].values()) > 0.9


@pytest.mark.parametrize("kind, n_out", [("classifier", 2), ("classifier", 3), ("regressor", 1), ("regressor", 2)])
def test_xgboost_pooled_prediction_equals_one_booster_call(kind, n_out):
    # more than 1024 rows go through the worker pool in chunks, into an output shaped in advance
    from remine.core.learn.boosting import XGBoostClassifier, XGBoostRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    if kind == "classifier":
        y = np.array(["a", "b", "c"])[np.argmax(X[:, :n_out], axis=1)]
        est = XGBoostClassifier(n_estimators=5, n_jobs=2).fit(X, y)
    else:
        y = X[:, :n_out] @ rng.normal(size=(n_out,) * 2) if n_out > 1 else X[:, 0] * 2.0
        est = XGBoostRegressor(n_estimators=5, n_jobs=2).fit(X, y)
    Xp = rng.normal(size=(5000, 6)).astype(np.float32)
    pooled = est._raw_predict(Xp)
    est.booster_.set_param({"nthread": 1})
    np.testing.assert_array_equal(pooled, est.booster_.inplace_predict(Xp))
    if kind == "classifier":
        assert est.predict_proba(Xp).shape == (5000, n_out)
    else:
        assert est.predict(Xp).shape == ((5000,) if n_out == 1 else (5000, n_out))
