"""Stacked generalisation (Wolpert 1992; Breiman 1996) with leakage-free out-of-fold features.

Each member is fitted on k-1 folds and predicts the held-out fold; the meta-learner is trained on
these out-of-fold predictions only, then the members are refitted on all data. Folds follow
``groups`` when given (ROI ids or spatial block ids: :func:`remine.core.learn.spatial_cv` passes
the groups of its own scheme), so no ROI or block contributes both to a member's fit and to the
meta-features it produces. For classification the grouped folds are stratified
(``StratifiedGroupKFold``): with a few ROIs per class, plain group folds leave a class out of a
member's training fold, its held-out samples then get probability 0 for their own class, and the
meta-learner learns to distrust the members for that class (on the demo scene this cost the stack
gypsum and calcite). Samples whose class is still absent from their inner training fold are left out
of the meta-learner's training (``n_meta_dropped_``): the refitted members see every class, so those
meta-features describe no situation the stack meets when it predicts.

Classification meta-features: members' class probabilities (one-hot labels for members without
``predict_proba``); meta-learner: multinomial logistic regression. Regression meta-features:
members' predictions; meta-learner: non-negative least squares (Breiman 1996) with intercept.
``predict_std`` of the regressor is the spread (standard deviation) of the members' predictions.

References: Wolpert (1992) Neural Networks 5, 241-259; Breiman (1996) Machine Learning 24, 49-64.
"""
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .probabilities import class_probabilities
from .registry import make_estimator


class _StackBase(BaseEstimator):
    def __init__(self, estimators=None, final_estimator=None, n_splits=5, random_state=0):
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.n_splits = n_splits
        self.random_state = random_state

    def _members(self):
        names = self.estimators if self.estimators is not None else self._default_members
        members = []
        for m in names:
            if isinstance(m, str):
                members.append((m, make_estimator(m, task=self._task)))
            else:
                members.append((m[0], clone(m[1])))
        return members

    def _folds(self, X, y, groups):
        if groups is not None and len(np.unique(groups)) >= 2:
            k = min(self.n_splits, len(np.unique(groups)))
            if self._task == "classification":
                self.fold_scheme_ = f"StratifiedGroupKFold({k})"
                with warnings.catch_warnings():  # "least populated class has only N members"
                    warnings.simplefilter("ignore", UserWarning)
                    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=self.random_state)
                    return list(cv.split(X, y, groups))
            self.fold_scheme_ = f"GroupKFold({k})"
            return list(GroupKFold(n_splits=k).split(X, y, groups))
        if self._task == "classification":
            k = min(self.n_splits, int(np.min(np.unique(y, return_counts=True)[1])))
            if k >= 2:
                self.fold_scheme_ = f"StratifiedKFold({k})"
                cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
                return list(cv.split(X, y))
        k = min(self.n_splits, X.shape[0])
        self.fold_scheme_ = f"KFold({k})"
        return list(KFold(n_splits=k, shuffle=True, random_state=self.random_state).split(X, y))

    def _fit_stack(self, X, y, groups):
        members = self._members()
        folds = self._folds(X, y, groups)
        oof = None
        usable = np.ones(X.shape[0], dtype=bool)
        for train, test in folds:
            feats = [self._member_output(clone(est).fit(X[train], y[train]), X[test])
                     for _, est in members]
            block = np.hstack(feats)
            if oof is None:
                oof = np.zeros((X.shape[0], block.shape[1]))
            oof[test] = block
            if self._task == "classification":
                usable[test] = np.isin(y[test], y[train])
        if len(np.unique(y[usable])) < len(np.unique(y)):
            usable[:] = True  # a class would vanish from the meta-learner: keep every sample
        self.n_meta_dropped_ = int((~usable).sum())
        self.estimators_ = [(name, clone(est).fit(X, y)) for name, est in members]
        self.final_estimator_ = clone(self.final_estimator or self._default_final()).fit(oof[usable], y[usable])
        return self

    def _meta_features(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, allow_nd=True)
        return np.hstack([self._member_output(est, X) for _, est in self.estimators_])


class StackClassifier(ClassifierMixin, _StackBase):
    """Stacking classifier; ``estimators``: registry names or (name, estimator) pairs."""

    _task = "classification"
    _default_members = ("svm", "extratrees", "plsda")

    def _default_final(self):
        return LogisticRegression(max_iter=1000)

    def _member_output(self, est, X):
        return class_probabilities(est, X, self.classes_)

    def fit(self, X, y, groups=None):
        X, y = validate_data(self, X, y, allow_nd=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"stacking needs at least 2 classes; y has only {list(self.classes_)}")
        return self._fit_stack(X, y, groups)

    def predict_proba(self, X):
        meta = self._meta_features(X)
        return class_probabilities(self.final_estimator_, meta, self.classes_)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class StackRegressor(RegressorMixin, _StackBase):
    """Stacking regressor with non-negative linear meta-learner; ``predict_std``: member spread."""

    _task = "regression"
    _default_members = ("ridge", "extratrees", "plsr")

    def _default_final(self):
        return LinearRegression(positive=True)

    def _member_output(self, est, X):
        return np.asarray(est.predict(X), dtype=float).reshape(X.shape[0], -1)

    def fit(self, X, y, groups=None):
        X, y = validate_data(self, X, y, allow_nd=True, y_numeric=True)
        return self._fit_stack(X, y, groups)

    def predict(self, X):
        meta = self._meta_features(X)
        return self.final_estimator_.predict(meta)

    def predict_std(self, X):
        """(n,) standard deviation of the members' predictions (first target)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, allow_nd=True)
        preds = np.stack([self._member_output(est, X)[:, 0] for _, est in self.estimators_])
        return preds.std(axis=0)
