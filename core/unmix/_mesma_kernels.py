"""Compiled MESMA loops (numba): every model for every pixel, one pixel at a time, no (n, m) temporaries.

``model_grams`` (q, m, m) are the Gram matrices of the q models and ``model_index`` (q, m) the columns
of ``C = X E'`` (n, K) each model uses; ``xx`` (n,) the squared pixel norms. Each pixel-model is solved
by the active-set solver of :mod:`remine.core.unmix._kernels` (non-negative methods: NNLS, FCLS).
"""
import numpy as np
from numba import njit, prange

from ._kernels import solve_pixel


@njit(cache=True, nogil=True)
def _solve_model(Gm, C, r, cols, c, a, tol, sum_to_one, warm, work):
    """Solve pixel ``r`` on one model into ``a``; return its residual sum of squares (up to ``x'x``)."""
    passive, blocked, idx, L, u, v, g = work
    m = cols.shape[0]
    for i in range(m):
        c[i] = C[r, cols[i]]
    solve_pixel(Gm, c, a, tol, sum_to_one, warm, passive, blocked, idx, L, u, v, g)
    ss = 0.0
    for i in range(m):
        if a[i] != 0.0:
            t = -2.0 * c[i]
            for j in range(m):
                t += Gm[i, j] * a[j]
            ss += a[i] * t
    return ss


@njit(cache=True, parallel=True)
def best_models(model_grams, model_index, C, xx, tol, sum_to_one, warm):
    """Per pixel: the model with the lowest residual sum of squares (first on ties).

    Returns ``abundances`` (n, m), ``ss`` (n,) residual sums of squares and ``best`` (n,) model numbers;
    a pixel whose first C entry is NaN gets NaN and model 0."""
    n = C.shape[0]
    q, m = model_index.shape
    A = np.full((n, m), np.nan)
    best_ss = np.full(n, np.nan)
    best = np.zeros(n, dtype=np.int64)
    for r in prange(n):
        if np.isnan(C[r, 0]):
            continue
        work = (np.zeros(m, dtype=np.bool_), np.zeros(m, dtype=np.bool_), np.zeros(m, dtype=np.int64),
                np.zeros((m, m)), np.zeros(m), np.zeros(m), np.zeros(m))
        c = np.zeros(m)
        a = np.zeros(m)
        lowest = np.inf
        for k in range(q):
            ss = xx[r] + _solve_model(model_grams[k], C, r, model_index[k], c, a, tol, sum_to_one, warm, work)
            if ss < lowest:
                lowest = ss
                best[r] = k
                for i in range(m):
                    A[r, i] = a[i]
        best_ss[r] = lowest
    return A, best_ss, best


@njit(cache=True, parallel=True)
def near_model_range(model_grams, model_index, C, xx, limit, low, high, tol, sum_to_one, warm, normalise):
    """Widen ``low``/``high`` (n, m) in place to the abundances of every model whose residual sum of
    squares is at most ``limit`` (n,); with ``normalise`` each model's abundances are divided by their
    sum. NaN pixels are skipped."""
    n = C.shape[0]
    q, m = model_index.shape
    for r in prange(n):
        if np.isnan(C[r, 0]) or not limit[r] >= 0.0:
            continue
        work = (np.zeros(m, dtype=np.bool_), np.zeros(m, dtype=np.bool_), np.zeros(m, dtype=np.int64),
                np.zeros((m, m)), np.zeros(m), np.zeros(m), np.zeros(m))
        c = np.zeros(m)
        a = np.zeros(m)
        for k in range(q):
            ss = xx[r] + _solve_model(model_grams[k], C, r, model_index[k], c, a, tol, sum_to_one, warm, work)
            if ss > limit[r]:
                continue
            scale = 1.0
            if normalise:
                total = 0.0
                for i in range(m):
                    total += a[i]
                if total <= 0.0:
                    continue
                scale = 1.0 / total
            for i in range(m):
                value = a[i] * scale
                if value < low[r, i]:
                    low[r, i] = value
                if value > high[r, i]:
                    high[r, i] = value
