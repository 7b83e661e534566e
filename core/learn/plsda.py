"""PLS-DA: partial least squares discriminant analysis as a scikit-learn classifier.

The class matrix Y (n, n_classes) is one-hot coded and regressed on X with
:class:`sklearn.cross_decomposition.PLSRegression` (NIPALS, optional scaling); a pixel is given the
class with the largest predicted Y (Barker & Rayens 2003). ``predict_proba`` is a softmax of the
predicted Y with a temperature fitted on the training set by minimum log loss (monotone: its arg-max
is the predicted class). ``vip_`` holds the variable-importance-in-projection scores

    VIP_j = sqrt( p * sum_a SS_a (w_ja / |w_a|)^2 / sum_a SS_a ),   SS_a = |q_a|^2 t_a' t_a

(Wold et al. 2001; Chong & Jun 2005), whose squares average to 1 over the p bands.

References: Barker & Rayens (2003) J. Chemometrics 17, 166-173; Chong & Jun (2005) Chemometr.
Intell. Lab. Syst. 78, 103-112.
"""
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cross_decomposition import PLSRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class PLSDA(ClassifierMixin, BaseEstimator):
    """PLS-DA classifier.

    Parameters
    ----------
    n_components : int, number of latent variables (capped at min(n_samples - 1, n_features)); the
        default 10 suits up to about 10 classes (at least n_classes - 1 components are needed).
    scale : bool, scale X and Y to unit variance before the PLS fit (as PLSRegression).
    max_iter, tol : NIPALS settings passed to PLSRegression.

    Attributes
    ----------
    classes_ : (n_classes,) labels; pls_ : fitted PLSRegression; vip_ : (n_features,) VIP scores;
    temperature_ : float softmax temperature of predict_proba.
    """

    def __init__(self, n_components=10, scale=True, max_iter=500, tol=1e-6):
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"PLS-DA needs at least 2 classes; y has only {list(self.classes_)}")
        onehot = np.eye(len(self.classes_))[codes]
        n_comp = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        self.pls_ = PLSRegression(n_components=n_comp, scale=self.scale, max_iter=self.max_iter,
                                  tol=self.tol).fit(X, onehot)
        self.vip_ = _vip(self.pls_)
        scores = self.pls_.predict(X)

        def log_loss(log_t):
            return -np.mean(log_softmax(scores / np.exp(log_t), axis=1)[np.arange(len(codes)), codes])

        self.temperature_ = float(np.exp(minimize_scalar(log_loss, bounds=(-7, 3), method="bounded").x))
        return self

    def _class_scores(self, X):
        """Predicted one-hot class scores (n, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.pls_.predict(X)

    def decision_function(self, X):
        """Class scores (n, n_classes); for 2 classes (n,) = score of classes_[1] minus classes_[0]."""
        scores = self._class_scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X):
        scores = self._class_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        return softmax(self._class_scores(X) / self.temperature_, axis=1)

    def transform(self, X):
        """Latent scores (n, n_components)."""
        check_is_fitted(self)
        return self.pls_.transform(validate_data(self, X, dtype=np.float64, reset=False))


def _vip(pls):
    """VIP scores (n_features,) of a fitted PLSRegression (formula in the module docstring)."""
    t, w, q = pls.x_scores_, pls.x_weights_, pls.y_loadings_
    ss = np.sum(q ** 2, axis=0) * np.sum(t ** 2, axis=0)  # (A,)
    wn = (w / np.linalg.norm(w, axis=0)) ** 2  # (p, A)
    return np.sqrt(w.shape[0] * (wn @ ss) / ss.sum())
