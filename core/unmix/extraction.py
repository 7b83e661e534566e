"""Endmember extraction from pixels, number-of-endmember estimates, and matching to a library.

Pixels are ``(n, b)`` tables; every extractor returns ``(endmembers (m, b), indices (m,))`` where
``indices`` are the rows of ``pixels`` chosen as endmembers (pure-pixel methods).

- :func:`atgp`: Automatic Target Generation Process (Ren & Chang 2003, IEEE TAES 39(4)).
- :func:`vca`: Vertex Component Analysis (Nascimento & Bioucas-Dias 2005, IEEE TGRS 43(4)).
- :func:`nfindr`: N-FINDR simplex-volume maximisation (Winter 1999, Proc. SPIE 3753), with the
  volume of every candidate replacement computed at once from the cofactors.
- :func:`estimate_n_endmembers`: eigenvalue gap of the noise-whitened covariance (default), HySime
  (Bioucas-Dias & Nascimento 2008, IEEE TGRS 46(8)) or HFC / noise-whitened HFC virtual dimensionality
  (Chang & Du 2004, IEEE TGRS 42(3)).
- :func:`match_endmembers`: spectral angle to library spectra, optionally one-to-one (Hungarian).
"""
import numpy as np
from sklearn.base import BaseEstimator

from ..errors import InputError
from .options import EXTRACTION_METHODS, N_ESTIMATORS


def _pixel_table(pixels, n_endmembers):
    X = np.asarray(pixels, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"pixels must be a 2-D table (n pixels, b bands); got shape {X.shape}")
    rows = np.flatnonzero(np.isfinite(X).all(axis=1))
    X = X[rows]
    n, b = X.shape
    if n_endmembers is not None:
        if n_endmembers < 2:
            raise InputError(f"n_endmembers must be >= 2; got {n_endmembers}")
        if n_endmembers > b:
            raise InputError(f"{n_endmembers} endmembers requested but the pixels have only {b} bands")
        if n < n_endmembers:
            raise InputError(f"{n_endmembers} endmembers requested but only {n} valid (finite) pixels were given")
    return X, rows


def spectral_angle(spectra, references):
    """Spectral angle in radians between every row of ``spectra`` (n, b) and ``references`` (m, b) -> (n, m)."""
    S = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
    R = np.atleast_2d(np.asarray(references, dtype=np.float64))
    cos = (S @ R.T) / np.outer(np.linalg.norm(S, axis=1), np.linalg.norm(R, axis=1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def atgp(pixels, n_endmembers):
    """ATGP: repeatedly take the pixel with the largest residual norm after projecting out the
    endmembers found so far. Deterministic. (n, b) -> ((m, b), (m,))."""
    X, rows = _pixel_table(pixels, n_endmembers)
    R = X.copy()
    indices = []
    for _ in range(n_endmembers):
        k = int(np.argmax(np.einsum("ij,ij->i", R, R)))
        indices.append(k)
        q = R[k] / np.linalg.norm(R[k])
        R -= np.outer(R @ q, q)
    idx = np.array(indices)
    return X[idx], rows[idx]


def _snr_db(X, mean, projected):
    n, b = X.shape
    p = projected.shape[1]
    power_y = np.sum(X * X) / n
    power_x = np.sum(projected * projected) / n + np.sum(mean * mean)
    return 10.0 * np.log10(max(power_x - p / b * power_y, 1e-30) / max(power_y - power_x, 1e-30))


def vca(pixels, n_endmembers, random_state=0):
    """VCA: project onto the signal subspace, then repeatedly take the pixel with the largest
    projection on a random direction orthogonal to the endmembers found so far.
    (n, b) -> ((m, b) original pixel spectra, (m,) row indices)."""
    X, rows = _pixel_table(pixels, n_endmembers)
    rng = np.random.default_rng(random_state)
    n, b = X.shape
    m = n_endmembers
    mean = X.mean(axis=0)
    Xo = X - mean
    Ud = np.linalg.svd(Xo.T @ Xo / n, hermitian=True)[0][:, :m]
    snr = _snr_db(X, mean, Xo @ Ud)
    if snr < 15.0 + 10.0 * np.log10(m):  # low SNR: projective projection onto m-1 dims
        x = Xo @ Ud[:, : m - 1]
        c = np.sqrt(np.max(np.sum(x * x, axis=1)))
        Y = np.hstack([x, np.full((n, 1), c)])
    else:
        Ud = np.linalg.svd(X.T @ X / n, hermitian=True)[0][:, :m]
        x = X @ Ud
        u = x.mean(axis=0)
        Y = x / (x @ u)[:, None]
    A = np.zeros((m, m))
    A[-1, 0] = 1.0
    idx = np.zeros(m, dtype=int)
    for i in range(m):
        w = rng.random(m)
        f = w - A @ np.linalg.pinv(A) @ w
        f /= np.linalg.norm(f)
        idx[i] = int(np.argmax(np.abs(Y @ f)))
        A[:, i] = Y[idx[i]]
    return X[idx], rows[idx]


def nfindr(pixels, n_endmembers, max_iter=None, random_state=0):
    """N-FINDR: start from ATGP, then replace endmembers by pixels while the simplex volume grows.

    Pixels are reduced to ``m - 1`` principal components; the volume with endmember ``i`` replaced by
    pixel ``y`` is ``|det M| * |inv(M)[i] @ [1, y]|`` (cofactor expansion), so one sweep over the
    pixels costs O(n m) per endmember. (n, b) -> ((m, b), (m,)). ``random_state`` is unused (the
    start is deterministic) and kept for a uniform signature.
    """
    X, rows = _pixel_table(pixels, n_endmembers)
    m = n_endmembers
    Xc = X - X.mean(axis=0)
    Vt = np.linalg.svd(Xc, full_matrices=False)[2][: m - 1]
    Y = np.hstack([np.ones((X.shape[0], 1)), Xc @ Vt.T])  # (n, m): [1, reduced pixel]
    idx = atgp(X, m)[1]
    max_iter = max_iter or 3 * m
    for _ in range(max_iter):
        changed = False
        for i in range(m):
            M = Y[idx].T
            det = abs(np.linalg.det(M))
            if det == 0.0:
                volumes = np.abs(Y @ np.linalg.pinv(M)[i])
            else:
                volumes = np.abs(Y @ np.linalg.inv(M)[i]) * det
            k = int(np.argmax(volumes))
            if volumes[k] > det * (1.0 + 1e-9) and k not in idx:
                idx[i] = k
                changed = True
        if not changed:
            break
    return X[idx], rows[idx]


EXTRACTORS = dict(zip(EXTRACTION_METHODS, (nfindr, vca, atgp)))


def _noise_regression(X):
    """Per-band noise by regressing each band on all others (HySime's multiple regression): (n, b)."""
    RR = X.T @ X
    P = np.linalg.inv(RR + 1e-6 * np.trace(RR) / RR.shape[0] * np.eye(RR.shape[0]))
    return (X @ P) / np.diag(P)


#: estimators of the number of endmembers (:func:`estimate_n_endmembers`)


def _noise_whitened(X):
    """Pixels divided by the per-band noise standard deviation (HySime's multiple regression): (n, b)."""
    noise = np.sqrt(np.mean(_noise_regression(X) ** 2, axis=0))
    return X / np.maximum(noise, 1e-12 * max(float(noise.max()), 1e-300))


def _hfc(X, false_alarm):
    from scipy.stats import norm

    n = X.shape[0]
    l_corr = np.sort(np.linalg.eigvalsh(X.T @ X / n))[::-1]
    l_cov = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1]
    sigma = np.sqrt(2.0 / n * (l_corr**2 + l_cov**2))
    return int(np.count_nonzero(l_corr - l_cov > sigma * norm.ppf(1.0 - false_alarm)))


def _eigengap(X, max_endmembers):
    """1 + the position of the largest ratio between consecutive eigenvalues of the noise-whitened
    covariance, among the first ``max_endmembers`` - 1 eigenvalues that exceed the noise level."""
    lam = np.sort(np.linalg.eigvalsh(np.cov(_noise_whitened(X), rowvar=False)))[::-1]
    lam = np.maximum(lam, 1e-12 * lam[0])
    k = int(min(max_endmembers - 1, lam.size - 1, max(1, np.count_nonzero(lam > 2.0))))
    ratios = np.log(lam[:k]) - np.log(lam[1:k + 1])
    return int(np.argmax(ratios)) + 2


def estimate_n_endmembers(pixels, method="eigengap", false_alarm=1e-3, max_pixels=20000, random_state=0,
                          max_endmembers=30):
    """Estimate the number of endmembers.

    Parameters
    ----------
    pixels : array (n, b)
    method : {"eigengap", "hysime", "hfc", "nwhfc"}
        ``"eigengap"`` (default): the covariance of the noise-whitened pixels (noise by HySime's
        regression) has ``p - 1`` eigenvalues from ``p`` linearly mixed endmembers (sum to one) and the
        rest near 1 (noise); the estimate is 1 + the position of the largest ratio between consecutive
        eigenvalues. It counts the dominant materials and ignores weak extra directions (endmember
        variability, nonlinear mixing, calibration residue) that are far above the noise on real
        scenes; it assumes the endmembers are distinct enough to stand out from those.
        ``"hysime"``: minimum of the projection-error + noise-power cost (Bioucas-Dias & Nascimento
        2008): every direction with more signal than noise power counts, so on real scenes it counts
        those weak directions too (Samson, 3 materials: 76). ``"hfc"`` / ``"nwhfc"``: Harsanyi-Farrand-
        Chang virtual dimensionality (eigenvalues of the correlation minus the covariance matrix tested
        against their Neyman-Pearson threshold at ``false_alarm``; Chang & Du 2004), on the pixels or on
        the noise-whitened pixels.
    max_pixels : int
        Random subsample size (the estimate needs the second moments only).
    max_endmembers : int, largest count ``"eigengap"`` considers

    Returns
    -------
    int
    """
    X = _pixel_table(pixels, None)[0]
    n, b = X.shape
    if n < b + 1:
        raise InputError(f"estimating the number of endmembers needs more pixels ({n}) than bands ({b})")
    if n > max_pixels:
        X = X[np.random.default_rng(random_state).choice(n, max_pixels, replace=False)]
        n = max_pixels
    if method == "eigengap":
        return _eigengap(X, max_endmembers)
    if method == "hysime":
        W = _noise_regression(X)
        S = X - W
        Rn = np.diag(np.diag(W.T @ W / n))
        Rx = S.T @ S / n
        E = np.linalg.svd(Rx, hermitian=True)[0]
        Rn = Rn + np.trace(Rx) / b / 1e10 * np.eye(b)
        Py = np.einsum("ij,ij->j", E, (X.T @ X / n) @ E)
        Pn = np.einsum("ij,ij->j", E, Rn @ E)
        return int(np.count_nonzero(-Py + 2.0 * Pn < 0))
    if method == "hfc":
        return _hfc(X, false_alarm)
    if method == "nwhfc":
        return _hfc(_noise_whitened(X), false_alarm)
    raise InputError(f"unknown method {method!r}; expected one of {', '.join(N_ESTIMATORS)}")


def match_endmembers(endmembers, library, names=None, unique=True):
    """Match each endmember to the library spectrum with the smallest spectral angle.

    Parameters
    ----------
    endmembers : array (m, b)
    library : array (L, b), same bands
    names : list of L str, optional
    unique : bool
        One-to-one assignment minimising the total angle (Hungarian algorithm); needs ``L >= m``.

    Returns
    -------
    indices : ndarray (m,) library rows
    matched_names : list of m str (library names, or ``"library i"``)
    angles : ndarray (m,) spectral angles in radians
    """
    angles = spectral_angle(endmembers, library)
    m, L = angles.shape
    if unique and L >= m:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(angles)
        indices = cols[np.argsort(rows)]
    else:
        indices = np.argmin(angles, axis=1)
    names = list(names) if names is not None else [f"library {i}" for i in range(L)]
    return indices, [names[i] for i in indices], angles[np.arange(m), indices]


class _Extractor(BaseEstimator):
    """``fit(pixels)`` sets ``endmembers_`` (m, b) and ``indices_`` (m,)."""

    _method = None

    def __init__(self, n_endmembers=3, random_state=0):
        self.n_endmembers = n_endmembers
        self.random_state = random_state

    def fit(self, pixels, y=None):
        func = EXTRACTORS[self._method]
        kwargs = {} if self._method == "atgp" else {"random_state": self.random_state}
        self.endmembers_, self.indices_ = func(pixels, self.n_endmembers, **kwargs)
        self.n_features_in_ = self.endmembers_.shape[1]
        return self


class NFINDR(_Extractor):
    """Estimator twin of :func:`nfindr`."""

    _method = "nfindr"


class VCA(_Extractor):
    """Estimator twin of :func:`vca`."""

    _method = "vca"


class ATGP(_Extractor):
    """Estimator twin of :func:`atgp`."""

    _method = "atgp"
