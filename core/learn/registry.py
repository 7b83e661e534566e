"""Registry of learning methods: ``make_estimator(name, task=None, **params)``.

Every member is a scikit-learn estimator taking X (n, bands) (CNN2D: (n, bands, k, k) patches) and
can sit at the end of a :class:`sklearn.pipeline.Pipeline` after the spectral preprocessing
transformers of :mod:`remine.core.spectra`.

=============  ===============================  ==================================
name           classification                   regression
=============  ===============================  ==================================
svm            FastSVC (RBF, libsvm + BLAS)     SVR (RBF) on standardised targets
plsda          PLSDA                            -
xgboost        XGBoostClassifier                XGBoostRegressor
extratrees     ExtraTreesClassifier             ExtraTreesRegressor
randomforest   RandomForestClassifier           RandomForestRegressor
ridge          RidgeClassifier                  Ridge
plsr           -                                PLSRegression
lda            LinearDiscriminantAnalysis       -
cnn1d          CNN1D                            CNN1DRegressor
cnn2d          CNN2D                            CNN2DRegressor
stack          StackClassifier                  StackRegressor
=============  ===============================  ==================================
"""
import importlib

from ..errors import InputError

TASKS = ("classification", "regression")


def _member(module, classifier, regressor=None):
    """Factory of a class of a sibling module, imported on first use: torch (cnn) and xgboost (boosting) are
    optional, scikit-learn takes seconds to import, and the stack builds its members with this registry."""
    def factory(task):
        found = importlib.import_module(f".{module}", __package__)
        return getattr(found, classifier if task == "classification" else regressor)

    return factory


def _sklearn(module, classifier, regressor, **defaults):
    """Factory of a scikit-learn estimator (imported on first use) with remine's default parameters."""
    def factory(task):
        cls = getattr(importlib.import_module(module), classifier if task == "classification" else regressor)
        return (lambda **p: cls(**{**defaults, **p})) if defaults else cls

    return factory


def _svm(task):
    if task == "classification":
        return _member("svm", "FastSVC")(task)
    compose, preprocessing, svm = (importlib.import_module(f"sklearn.{m}") for m in ("compose", "preprocessing", "svm"))
    # targets (ppm, %) are standardised so that SVR's epsilon and C mean the same for every unit
    return lambda **p: compose.TransformedTargetRegressor(regressor=svm.SVR(**p),
                                                          transformer=preprocessing.StandardScaler())


_FOREST = {"n_estimators": 200, "random_state": 0, "n_jobs": -1}


# name -> (factory(task) -> class or callable(**params), tasks supported; first = default)
REGISTRY = {
    "svm": (_svm, TASKS),
    "plsda": (_member("plsda", "PLSDA"), ("classification",)),
    "xgboost": (_member("boosting", "XGBoostClassifier", "XGBoostRegressor"), TASKS),
    "extratrees": (_sklearn("sklearn.ensemble", "ExtraTreesClassifier", "ExtraTreesRegressor", **_FOREST), TASKS),
    "randomforest": (_sklearn("sklearn.ensemble", "RandomForestClassifier", "RandomForestRegressor", **_FOREST),
                     TASKS),
    "ridge": (_sklearn("sklearn.linear_model", "RidgeClassifier", "Ridge"), ("regression", "classification")),
    "plsr": (_sklearn("sklearn.cross_decomposition", None, "PLSRegression", n_components=8), ("regression",)),
    "lda": (_sklearn("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis", None, solver="eigen",
                     shrinkage="auto"), ("classification",)),
    "cnn1d": (_member("cnn", "CNN1D", "CNN1DRegressor"), TASKS),
    "cnn2d": (_member("cnn", "CNN2D", "CNN2DRegressor"), TASKS),
    "stack": (_member("stack", "StackClassifier", "StackRegressor"), TASKS),
}


def method_names(task=None):
    """Registry names, all or those supporting ``task``."""
    return [n for n, (_, tasks) in REGISTRY.items() if task is None or task in tasks]


def make_estimator(name, task=None, **params):
    """A new, unfitted estimator from the registry.

    Parameters
    ----------
    name : str, one of :data:`REGISTRY` (e.g. ``"svm"``, ``"plsda"``, ``"cnn1d"``).
    task : "classification" | "regression" | None (None: the method's first task, see the table).
    **params : constructor parameters of the estimator (e.g. ``C=10`` for svm).

    Raises
    ------
    InputError for an unknown name, an unsupported task or unknown parameters;
    DependencyError (ImportError) for cnn1d/cnn2d without torch, raised at fit time.
    """
    key = str(name).lower()
    if key not in REGISTRY:
        raise InputError(f"unknown learning method {name!r}; expected one of {sorted(REGISTRY)}")
    factory, tasks = REGISTRY[key]
    task = task or tasks[0]
    if task not in tasks:
        raise InputError(f"method {key!r} does not do {task}; it supports {list(tasks)}")
    try:
        return factory(task)(**params)
    except TypeError as exc:
        raise InputError(f"bad parameters {sorted(params)} for method {key!r}: {exc}") from exc
