"""Class probabilities of any fitted classifier, aligned to a given class list."""
import numpy as np


def class_probabilities(estimator, X, classes):
    """(n, len(classes)) probabilities of a fitted classifier, columns aligned to ``classes``.

    Classes the estimator never saw get probability 0; estimators without ``predict_proba`` give
    one-hot rows of their predicted labels.
    """
    col = {c: i for i, c in enumerate(classes)}
    if not hasattr(estimator, "predict_proba"):
        pred = estimator.predict(X)
        out = np.zeros((X.shape[0], len(classes)))
        out[np.arange(len(pred)), [col[c] for c in pred]] = 1.0
        return out
    p = np.asarray(estimator.predict_proba(X), dtype=float)
    if [str(c) for c in estimator.classes_] == [str(c) for c in classes]:
        return p  # columns already in order
    out = np.zeros((X.shape[0], len(classes)))
    for j, c in enumerate(estimator.classes_):
        out[:, col[c]] = p[:, j]
    return out
