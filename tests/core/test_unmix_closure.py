"""Closure: simplex projection (exact, nearest point), ilr route, ensemble intervals."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from remine.core.errors import InputError, RemineWarning
from remine.core.unmix import close, ensemble_intervals, ilr, ilr_inverse, project_simplex

rows = arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(2, 10)),
              elements=st.floats(-5, 5, allow_nan=False, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(rows)
def test_projection_is_on_simplex_idempotent_and_nearest(V):
    W = project_simplex(V)
    assert W.min() >= 0 and np.abs(W.sum(axis=1) - 1).max() < 1e-9
    assert np.allclose(project_simplex(W), W, atol=1e-12)
    # KKT of min ||w - v||^2 on the simplex: v - w = theta on the support, v - theta <= 0 off it
    for v, w in zip(V, W):
        support = w > 0
        theta = np.mean(v[support] - w[support])
        assert np.allclose(v[support] - w[support], theta, atol=1e-9)
        assert np.all(v[~support] - theta <= 1e-9)


def test_projection_known_values():
    # Duchi et al. (2008): v = (0.5, 0.5, 0.5) -> (1/3, 1/3, 1/3); (2, 0, 0) -> (1, 0, 0); (0.8, 0.6) -> (0.6, 0.4)
    out = project_simplex([[0.5, 0.5, 0.5], [2.0, 0.0, 0.0], [0.8, 0.6, -1.0]])
    assert np.allclose(out, [[1 / 3] * 3, [1, 0, 0], [0.6, 0.4, 0.0]])
    assert np.isnan(project_simplex([[np.nan, 0.2]])).all()


@settings(max_examples=100, deadline=None)
@given(rows)
def test_close_gives_compositions(V):
    for method in ("simplex", "ilr"):
        C = close(V, method, warn=False)
        assert C.min() >= 0 and np.abs(C.sum(axis=1) - 1).max() < 1e-9


def test_close_counts_values_outside_0_1():
    V = np.array([[0.7, -0.1, 0.5], [1.2, 0.1, 0.0], [0.2, 0.3, 0.5]])
    with pytest.warns(RemineWarning, match="2 abundance value.*projected onto the simplex as they are"):
        C, n = close(V, "simplex", return_count=True)
    assert n == 2
    assert np.allclose(C[2], [0.2, 0.3, 0.5])  # already a composition: unchanged
    # the projection of the raw (1.2, 0.1, 0): theta = 0.2 -> (1, 0, 0); clipping to (1, 0.1, 0) first gave
    # (0.95, 0.05, 0), 0.206 from the raw values against 0.2 for (1, 0, 0)
    assert np.allclose(C[1], [1.0, 0.0, 0.0])
    with pytest.warns(RemineWarning, match="2 abundance value.*clipped before closure"):
        close(V, "ilr")


@settings(max_examples=200, deadline=None)
@given(rows, st.integers(0, 2**32 - 1))
def test_simplex_closure_is_the_nearest_composition_to_the_raw_values(V, seed):
    # no point of the simplex is closer to the raw values than close(..., "simplex"): random compositions
    # (uniform on the simplex, its vertices, and the answer nudged along the simplex) are never closer
    C = close(V, "simplex", warn=False)
    np.testing.assert_allclose(C, project_simplex(V), atol=1e-12)
    rng = np.random.default_rng(seed)
    n, m = V.shape
    others = np.concatenate([rng.dirichlet(np.ones(m), (200, n)), np.broadcast_to(np.eye(m)[:, None], (m, n, m)),
                             0.9 * C[None] + 0.1 * rng.dirichlet(np.ones(m), (50, n))])
    best = np.linalg.norm(C - V, axis=1)
    assert np.all(best <= np.linalg.norm(others - V[None], axis=2).min(axis=0) + 1e-9)


def test_ilr_round_trip_and_closure_of_positive_parts():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(5), 100)
    assert np.allclose(ilr_inverse(ilr(P)), P)
    assert ilr(P).shape == (100, 4)
    C = close(P * 3.0, "ilr", warn=False)  # values > 1 clipped to 1 first
    assert np.allclose(C.sum(axis=1), 1) and C.min() > 0
    with pytest.raises(InputError, match="strictly positive"):
        ilr([[0.5, 0.5, 0.0]])


def test_ensemble_intervals_cover_the_truth():
    rng = np.random.default_rng(1)
    truth = rng.dirichlet(np.ones(4), 200)
    members = truth[None] + rng.normal(0, 0.03, (25, 200, 4))
    for method in ("simplex", "ilr"):
        centre, lo, up = ensemble_intervals(members, 0.9, method)
        assert np.allclose(centre.sum(axis=1), 1)
        assert np.all(lo <= up)
        inside = np.mean((truth >= lo) & (truth <= up))
        assert 0.7 < inside <= 1.0


@pytest.mark.parametrize("value, message", [
    (np.ones((2, 2, 2)), r"abundances must be \(n pixels, m >= 2 minerals\); got shape \(2, 2, 2\)"),
    (np.ones((3, 1)), r"m >= 2 minerals"),
])
def test_close_bad_shapes(value, message):
    with pytest.raises(InputError, match=message):
        close(value)


def test_close_unknown_method():
    with pytest.raises(InputError, match="unknown closure method 'softmax'"):
        close(np.ones((2, 3)), "softmax")
