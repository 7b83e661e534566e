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
from ..errors import InputError

TASKS = ("classification", "regression")


def _svm(task):
    if task == "classification":
        from .svm import FastSVC

        return FastSVC
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    # targets (ppm, %) are standardised so that SVR's epsilon and C mean the same for every unit
    return lambda **p: TransformedTargetRegressor(regressor=SVR(**p), transformer=StandardScaler())


def _plsda(task):
    from .plsda import PLSDA

    return PLSDA


def _xgboost(task):
    from . import boosting

    return boosting.XGBoostClassifier if task == "classification" else boosting.XGBoostRegressor


def _forest(kind):
    def factory(task):
        from sklearn import ensemble

        name = {"extratrees": "ExtraTrees", "randomforest": "RandomForest"}[kind]
        cls = getattr(ensemble, name + ("Classifier" if task == "classification" else "Regressor"))
        return lambda **p: cls(**{"n_estimators": 200, "random_state": 0, "n_jobs": -1, **p})

    return factory


def _ridge(task):
    from sklearn.linear_model import Ridge, RidgeClassifier

    return RidgeClassifier if task == "classification" else Ridge


def _plsr(task):
    from sklearn.cross_decomposition import PLSRegression

    return lambda **p: PLSRegression(**{"n_components": 8, **p})


def _lda(task):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return lambda **p: LinearDiscriminantAnalysis(**{"solver": "eigen", "shrinkage": "auto", **p})


def _cnn(kind):
    def factory(task):
        from . import cnn

        name = {"cnn1d": "CNN1D", "cnn2d": "CNN2D"}[kind]
        return getattr(cnn, name if task == "classification" else name + "Regressor")

    return factory


def _stack(task):
    from .stack import StackClassifier, StackRegressor

    return StackClassifier if task == "classification" else StackRegressor


# name -> (factory(task) -> class or callable(**params), tasks supported; first = default)
REGISTRY = {
    "svm": (_svm, TASKS),
    "plsda": (_plsda, ("classification",)),
    "xgboost": (_xgboost, TASKS),
    "extratrees": (_forest("extratrees"), TASKS),
    "randomforest": (_forest("randomforest"), TASKS),
    "ridge": (_ridge, ("regression", "classification")),
    "plsr": (_plsr, ("regression",)),
    "lda": (_lda, ("classification",)),
    "cnn1d": (_cnn("cnn1d"), TASKS),
    "cnn2d": (_cnn("cnn2d"), TASKS),
    "stack": (_stack, TASKS),
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
