"""RBF support-vector classifier with fast, BLAS-based prediction.

``FastSVC`` is scikit-learn's :class:`~sklearn.svm.SVC` (libsvm training, same parameters) whose
prediction is re-implemented as dense matrix products over the support vectors:

    K(x, s) = exp(-gamma * (|x|^2 + |s|^2 - 2 x.s))          (RBF kernel, one GEMM per row chunk)
    f_ij(x) = sum_{s in SV_i} a^j_s K(x, s) + sum_{s in SV_j} a^i_s K(x, s) + b_ij   (one-vs-one)

All pairwise decision values come out of a single product ``K @ W`` where ``W`` (n_SV, n_pairs)
holds libsvm's dual coefficients (``dual_coef_``) scattered per class pair, plus ``intercept_``.
``predict`` evaluates this in float32 (GEMM and a SIMD exponential, chunks of pixels in a pool of
single-threaded workers) together with a rigorous bound on the rounding error of every decision value;
a pixel's label is kept when no values within the bounds could change the vote winner, and the few
others (a few % of pixels, near class boundaries) are recomputed in float64. ``decision_function``
and ``predict_proba`` use float64 throughout (same chunked pool: 1.3-1.5x faster than one process-wide
BLAS/numba thread team on 2 cores).
Labels are chosen by one-vs-one voting exactly as libsvm does (``f_ij > 0`` votes for class i,
ties go to the first class in ``classes_`` order). Probabilities use libsvm's Platt sigmoids
(``probA_``, ``probB_``) and the pairwise coupling of Wu, Lin & Weng (2004), method 2, vectorised
over pixels.

Reference: Chang & Lin (2011) LIBSVM: a library for support vector machines, ACM TIST 2(3), 27;
Wu, Lin & Weng (2004) Probability estimates for multi-class classification by pairwise coupling,
JMLR 5, 975-1005.
"""
import warnings

import numpy as np
from numba import njit
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

from .pool import in_pool

_ROWS_PER_CHUNK = 1024  # K chunk (1024 x n_SV) stays in cache for the K @ W product
_U32 = float(np.finfo(np.float32).eps) / 2  # float32 unit roundoff, 2**-24
_EXP32_REL_ERR = 1e-6  # bound on the relative error of _rbf_f32's exponential (measured 3e-7)
_SV_BLOCK = 128  # K @ W is summed over blocks of support vectors in float64 (float32 error ~ block size)


@njit(nogil=True, cache=True)
def _rbf_from_dots(dots, out, x_sq, sv_sq, gamma):
    """out[i, j] = exp(-gamma * (x_sq[i] + sv_sq[j] - 2 dots[i, j])) in float64 (``out`` may be ``dots``).

    Serial and GIL-free: chunks run in a pool of workers (:func:`.pool.in_pool`)."""
    for i in range(dots.shape[0]):
        for j in range(dots.shape[1]):
            out[i, j] = np.exp(gamma * (2.0 * dots[i, j] - x_sq[i] - sv_sq[j]))


@njit(fastmath=True, nogil=True, cache=True)
def _rbf_f32(dots, x_sq, sv_sq, gamma):
    """In place, float32: dots[i, j] <- exp(-gamma * (x_sq[i] + sv_sq[j] - 2 dots[i, j])).

    The exponential is evaluated as 2**n * p(r), r = a - n ln 2 in [-ln2/2, ln2/2] and p the degree-6
    Taylor polynomial, with 2**n built from its exponent bits, so that the loop vectorises (SIMD);
    relative error <= _EXP32_REL_ERR. Arguments are clamped to [-87, 0] (K <= 1; below e**-87 the
    float32 result would be denormal). Serial and GIL-free: chunks run in a thread pool.
    """
    log2e = np.float32(1.4426950408889634)
    ln2 = np.float32(0.6931471805599453)
    n_rows, n_cols = dots.shape
    bits = np.empty(n_cols, np.int32)
    for i in range(n_rows):
        row = dots[i]
        xi = x_sq[i]
        for j in range(n_cols):
            a = gamma * (np.float32(2.0) * row[j] - xi - sv_sq[j])
            a = max(min(a, np.float32(0.0)), np.float32(-87.0))
            n = np.floor(a * log2e + np.float32(0.5))
            r = a - n * ln2
            row[j] = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(0.5) + r * (
                np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (np.float32(1 / 120) + r * np.float32(1 / 720))))))
            bits[j] = (np.int32(n) + np.int32(127)) << 23
        scale = bits.view(np.float32)
        for j in range(n_cols):
            row[j] *= scale[j]


@njit(nogil=True, cache=True)
def _centre_f32(x, center, out, x_sq):
    """out = float32(x - center) (rows, b) and x_sq[i] = |out[i]|^2 in float64."""
    for i in range(x.shape[0]):
        acc = 0.0
        for j in range(x.shape[1]):
            v = np.float32(np.float64(x[i, j]) - center[j])
            out[i, j] = v
            acc += np.float64(v) * np.float64(v)
        x_sq[i] = acc


@njit(nogil=True, cache=True)
def _certified_votes(acc, intercept, x_sq, exp_coef, s_max, rel_round, pair_i, pair_j, n_class, dec, bound,
                     winner, sure):
    """Decision values, their error bounds, the one-vs-one vote winner and whether it is certain.

    ``acc`` (rows, p + 2 k): float64 sums of K @ [W, U, U * |s|^2] (p pairs, k classes), where U (n_SV, k)
    holds u_s = max over pairs of |W[s]| in the column of the class of s, so that sum |W[:, (i, j)]| K
    <= M_i + M_j with M = K @ U. For pixel x the error of the float32 exponent for support vector s is
    at most ``exp_coef * (|x| + |s|)^2 <= 2 exp_coef (|x|^2 + |s|^2)``; the exponential and the float32
    sums add ``rel_round`` relative to sum |W| K.
    The winner is libsvm's (f_ij > 0 votes for i, ties to the first class); it is certain when no
    decision values within the bounds could change it.
    """
    n_pairs = intercept.shape[0]
    low = np.zeros(n_class, np.int64)
    high = np.zeros(n_class, np.int64)
    votes = np.zeros(n_class, np.int64)
    for r in range(acc.shape[0]):
        x_norm = np.sqrt(x_sq[r])
        e_max = exp_coef * (x_norm + s_max) ** 2
        grow = (1.0 + e_max) * (1.0 + rel_round) / (1.0 - e_max - rel_round)
        low[:] = 0
        high[:] = 0
        votes[:] = 0
        for q in range(n_pairs):
            i, j = pair_i[q], pair_j[q]
            m0 = acc[r, n_pairs + i] + acc[r, n_pairs + j]
            m2 = acc[r, n_pairs + n_class + i] + acc[r, n_pairs + n_class + j]
            d = acc[r, q] + intercept[q]
            e = 1.01 * grow * (2.0 * exp_coef * (x_sq[r] * m0 + m2) + rel_round * m0) + 1e-30
            dec[r, q] = d
            bound[r, q] = e
            if d > 0:
                votes[i] += 1
            else:
                votes[j] += 1
            if d > e:
                low[i] += 1
                high[i] += 1
            elif d < -e:
                low[j] += 1
                high[j] += 1
            else:
                high[i] += 1
                high[j] += 1
        w = 0
        for c in range(1, n_class):
            if votes[c] > votes[w]:
                w = c
        ok = True
        for c in range(n_class):
            if c < w and high[c] >= low[w]:
                ok = False
            elif c > w and high[c] > low[w]:
                ok = False
        winner[r] = w
        sure[r] = ok


class FastSVC(SVC):
    """:class:`sklearn.svm.SVC` with BLAS prediction for the RBF kernel (other kernels: libsvm).

    Parameters are those of SVC; ``probability`` defaults to True and ``random_state`` to 0 so that
    probabilities are available and reproducible. Input ``X``: (n, bands) float.
    """

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0, shrinking=True,
                 probability=True, tol=1e-3, cache_size=200, class_weight=None, verbose=False,
                 max_iter=-1, decision_function_shape="ovr", break_ties=False, random_state=0):
        super().__init__(C=C, kernel=kernel, degree=degree, gamma=gamma, coef0=coef0,
                         shrinking=shrinking, probability=probability, tol=tol,
                         cache_size=cache_size, class_weight=class_weight, verbose=verbose,
                         max_iter=max_iter, decision_function_shape=decision_function_shape,
                         break_ties=break_ties, random_state=random_state)

    def fit(self, X, y, sample_weight=None):
        # scikit-learn 1.9 deprecates SVC(probability=True) with a FutureWarning on every fit; the
        # pinned 1.9.x still computes libsvm's Platt sigmoids, which predict_proba below reuses.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The `probability` parameter", category=FutureWarning)
            return super().fit(X, y, sample_weight=sample_weight)

    def _fast(self):
        check_is_fitted(self)
        return self.kernel == "rbf" and not self.break_ties and self._sparse is False

    def _pair_weights(self):
        """(n_SV, n_pairs) matrix W and (n_pairs,) libsvm intercepts so that dec = K @ W + b."""
        n_class = len(self.classes_)
        starts = np.concatenate([[0], np.cumsum(self._n_support)])
        coef = self._dual_coef_  # libsvm sign convention, (n_class - 1, n_SV)
        pairs = [(i, j) for i in range(n_class) for j in range(i + 1, n_class)]
        w = np.zeros((coef.shape[1], len(pairs)))
        for p, (i, j) in enumerate(pairs):
            si = slice(starts[i], starts[i + 1])
            sj = slice(starts[j], starts[j + 1])
            w[si, p] = coef[j - 1, si]
            w[sj, p] = coef[i, sj]
        return w, np.asarray(self._intercept_, dtype=float), pairs

    def _ovo_values(self, X):
        """libsvm one-vs-one decision values (n, n_pairs), float64, computed chunk by chunk."""
        w, b, _ = self._pair_weights()
        sv = np.asarray(self.support_vectors_, dtype=float)
        sv_sq = np.einsum("ij,ij->i", sv, sv)
        out = np.empty((X.shape[0], w.shape[1]))

        def chunk(start, stop):
            x = np.asarray(X[start:stop], dtype=float)
            k = x @ sv.T
            _rbf_from_dots(k, k, np.einsum("ij,ij->i", x, x), sv_sq, float(self._gamma))
            out[start:stop] = k @ w + b

        in_pool(chunk, X.shape[0], _ROWS_PER_CHUNK)
        return out

    def _ovo_values_f32(self, X, keep_values=False):
        """Float32 one-vs-one values with rigorous error bounds, and the certified vote winners.

        Data and support vectors are centred on the support-vector mean before the float32 GEMM (less
        cancellation in |x|^2 + |s|^2 - 2 x.s). The bound on |f32 value - exact value| sums, per pixel
        and pair: the rounding of the centring cast, of the GEMM (gamma_b |x||s|, b bands) and of the
        kernel arithmetic in the exponent (per support vector, through |x|^2 and |s|^2), the error of
        the exponential, and the rounding of K @ W (float32 over blocks of _SV_BLOCK support vectors,
        float64 across blocks), from per-class sums of max |W| K (Higham 2002, Accuracy and Stability of Numerical
        Algorithms, ch. 3). Chunks of rows run in a pool of single-threaded workers (:func:`.pool.in_pool`).

        Returns
        -------
        dec, bound : (n, n_pairs) float64 with ``keep_values``, else None (memory stays per chunk);
        winner : (n,) int class index; sure : (n,) bool.
        """
        w, b, pairs = self._pair_weights()
        sv = np.asarray(self.support_vectors_, dtype=np.float64)
        center = sv.mean(axis=0)
        sv_c = np.empty(sv.shape, np.float32)
        sv_sq = np.empty(len(sv))
        _centre_f32(sv, center, sv_c, sv_sq)
        gamma = float(self._gamma)
        n_sv, n_pairs = w.shape
        block = min(_SV_BLOCK, n_sv)
        exp_coef = gamma * _U32 * (sv.shape[1] + 16)
        rel_round = _EXP32_REL_ERR + 2 * _U32 + block * _U32 / (1 - block * _U32)
        owner = np.repeat(np.arange(len(self.classes_)), self._n_support)
        u = np.zeros((n_sv, len(self.classes_)))
        u[np.arange(n_sv), owner] = np.abs(w).max(axis=1)
        wa = np.hstack([w, u, u * sv_sq[:, None]]).astype(np.float32)
        pair_i = np.array([p[0] for p in pairs], dtype=np.int64)
        pair_j = np.array([p[1] for p in pairs], dtype=np.int64)
        n = X.shape[0]
        dec, bound = (np.empty((n, n_pairs)), np.empty((n, n_pairs))) if keep_values else (None, None)
        winner, sure = np.empty(n, np.int64), np.empty(n, np.bool_)

        def chunk(start, stop):
            x_c = np.empty((stop - start, sv.shape[1]), np.float32)
            x_sq = np.empty(stop - start)
            _centre_f32(X[start:stop], center, x_c, x_sq)
            k = x_c @ sv_c.T
            _rbf_f32(k, x_sq.astype(np.float32), sv_sq.astype(np.float32), np.float32(gamma))
            acc = np.zeros((stop - start, wa.shape[1]))
            for s0 in range(0, n_sv, block):
                acc += k[:, s0:s0 + block] @ wa[s0:s0 + block]
            if keep_values:
                dec_c, bound_c = dec[start:stop], bound[start:stop]
            else:
                dec_c, bound_c = np.empty((stop - start, n_pairs)), np.empty((stop - start, n_pairs))
            _certified_votes(acc, b, x_sq, exp_coef, np.sqrt(sv_sq.max()), rel_round, pair_i, pair_j,
                             len(self.classes_), dec_c, bound_c, winner[start:stop], sure[start:stop])

        in_pool(chunk, n, _ROWS_PER_CHUNK)
        return dec, bound, winner, sure

    def _check_predict_input(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=(np.float64, np.float32), reset=False)

    def _votes_argmax(self, dec):
        """Class index of the most votes (first class on ties); f_ij > 0 votes for class i."""
        positive = dec > 0
        n_class = len(self.classes_)
        votes = np.zeros((positive.shape[0], n_class), dtype=np.int32)
        col = 0
        for i in range(n_class):
            for j in range(i + 1, n_class):
                votes[:, i] += positive[:, col]
                votes[:, j] += ~positive[:, col]
                col += 1
        return np.argmax(votes, axis=1)

    def predict(self, X):
        """Class labels (n,), identical to SVC.predict (libsvm voting).

        Decision values are computed in float32 with an error bound; the few pixels whose vote winner
        the bound cannot certify are recomputed in float64.
        """
        if not self._fast():
            return super().predict(X)
        X = self._check_predict_input(X)
        _, _, winner, sure = self._ovo_values_f32(X)
        doubtful = np.flatnonzero(~sure)
        if doubtful.size:
            winner[doubtful] = self._votes_argmax(self._ovo_values(X[doubtful]))
        return self.classes_[winner]

    def decision_function(self, X):
        """As SVC.decision_function ("ovr" aggregates the one-vs-one values like scikit-learn)."""
        if not self._fast():
            return super().decision_function(X)
        from sklearn.utils.multiclass import _ovr_decision_function

        X = self._check_predict_input(X)
        dec = self._ovo_values(X)
        if len(self.classes_) == 2:
            return -dec.ravel()
        if self.decision_function_shape == "ovr":
            return _ovr_decision_function(dec < 0, -dec, len(self.classes_))
        return dec

    def predict_proba(self, X):
        """Class probabilities (n, n_classes) from Platt sigmoids + pairwise coupling (libsvm)."""
        if not self._fast():
            return super().predict_proba(X)
        self._check_proba()
        X = self._check_predict_input(X)
        dec = self._ovo_values(X)
        r = 1.0 / (1.0 + np.exp(dec * self._probA[None, :] + self._probB[None, :]))
        r = np.clip(r, 1e-7, 1 - 1e-7)
        # scikit-learn's bundled libsvm couples pairwise probabilities for two classes as well
        return pairwise_coupling(r, len(self.classes_))

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


def pairwise_coupling(r, n_class):
    """Multi-class probabilities from pairwise ones (Wu, Lin & Weng 2004, method 2; libsvm's loop).

    Parameters
    ----------
    r : (n, n_pairs) array, P(class i | i or j, x) for pairs (i < j) in lexicographic order.
    n_class : int

    Returns
    -------
    (n, n_class) array of probabilities summing to 1.
    """
    n = r.shape[0]
    rij = np.zeros((n, n_class, n_class))
    col = 0
    for i in range(n_class):
        for j in range(i + 1, n_class):
            rij[:, i, j] = r[:, col]
            rij[:, j, i] = 1 - r[:, col]
            col += 1
    q = -rij.transpose(0, 2, 1) * rij  # Q[t, j] = -r[j][t] * r[t][j]
    diag = np.einsum("njt,njt->nt", rij, rij)  # sum_j r[j][t]^2 (r[t][t] = 0)
    idx = np.arange(n_class)
    q[:, idx, idx] = diag
    p = np.full((n, n_class), 1.0 / n_class)
    eps = 0.005 / n_class
    active = np.ones(n, dtype=bool)
    for _ in range(max(100, n_class)):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        qa, pa = q[a], p[a]
        qp = np.einsum("ntj,nj->nt", qa, pa)
        pqp = np.einsum("nt,nt->n", pa, qp)
        done = np.max(np.abs(qp - pqp[:, None]), axis=1) < eps
        for t in range(n_class):
            diff = (-qp[:, t] + pqp) / qa[:, t, t]
            diff[done] = 0.0
            pa[:, t] += diff
            pqp = (pqp + diff * (diff * qa[:, t, t] + 2 * qp[:, t])) / (1 + diff) ** 2
            qp = (qp + diff[:, None] * qa[:, t, :]) / (1 + diff)[:, None]
            pa /= (1 + diff)[:, None]
        p[a] = pa
        active[a[done]] = False
    return p
