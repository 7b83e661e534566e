"""Per-pixel intervals: residual/conditioning intervals reach their nominal coverage under white noise;
bootstrap intervals over bundles contain the spread of the draws."""
import numpy as np
import pytest

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.unmix import bootstrap_intervals, coverage, fcls, nnls, residual_intervals


def mixtures(seed, n=3000, m=4, noise=0.01, concentration=8.0):
    names, _, _, refl = usgs_library()
    rng = np.random.default_rng(seed)
    E = refl[[0, 7, 21, 25, 12][:m]].astype(float)  # alunite, calcite, goethite, gypsum, chlorite
    A = rng.dirichlet(np.full(m, concentration), n)  # interior abundances: every endmember active
    return A @ E + rng.normal(0, noise, (n, E.shape[1])), E, A


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_residual_intervals_nominal_coverage(level):
    """White noise, interior abundances: the linearised covariance s^2 K_P is exact, so coverage ~ level."""
    X, E, A = mixtures(0)
    a = fcls(X, E)
    lower, upper = residual_intervals(X, E, a, "fcls", level)
    per_mineral, overall = coverage(A, lower, upper)
    assert abs(overall - level) < 0.03 and np.all(np.abs(per_mineral - level) < 0.05)


def test_residual_intervals_for_nnls_and_inactive_endmembers():
    X, E, A = mixtures(1, concentration=0.3)
    a = nnls(X, E)
    lower, upper = residual_intervals(X, E, a, "nnls", 0.9)
    inactive = a == 0
    assert inactive.any() and np.all(lower[inactive] == 0) and np.all(upper[inactive] > 0)
    assert np.all(lower <= a + 1e-12) and np.all(a <= upper + 1e-12)


def test_intervals_widen_with_noise():
    widths = []
    for noise in (0.002, 0.02):
        X, E, _ = mixtures(2, n=500, noise=noise)
        a = fcls(X, E)
        lo, up = residual_intervals(X, E, a, "fcls")
        widths.append(np.mean(up - lo))
    assert widths[1] > 5 * widths[0]


def test_bootstrap_intervals_over_bundles():
    names, _, _, refl = usgs_library()
    pick = {k: [i for i, n in enumerate(names) if n.lower().startswith(k)] for k in ("calcite", "gypsum", "goethite")}
    bundles = [refl[idx].astype(float) for idx in pick.values()]
    rng = np.random.default_rng(3)
    A = rng.dirichlet(np.ones(3), 200)
    X = A @ np.stack([b[0] for b in bundles])
    lower, upper = bootstrap_intervals(X, bundles, "fcls", 0.9, n_draws=20)
    assert lower.shape == (200, 3) and np.all(lower <= upper) and np.mean(upper - lower) > 0.01
    with pytest.raises(InputError, match="several spectra for at least one mineral"):
        bootstrap_intervals(X, [b[:1] for b in bundles])


def reference_factor(G, active, owner, k, sum_to_one):
    """Variance factor of group k by explicit inverses (numpy), as in the module docstring."""
    idx = np.flatnonzero(active)
    members = idx[owner[idx] == k]
    if members.size == 0:
        idx = np.append(idx, np.flatnonzero(owner == k)[0])
        members = idx[-1:]
    H = np.linalg.inv(G[np.ix_(idx, idx)])
    K = H - np.outer(H.sum(1), H.sum(1)) / H.sum() if sum_to_one else H
    pos = [list(idx).index(j) for j in members]
    return K[np.ix_(pos, pos)].sum()


@pytest.mark.parametrize("sum_to_one", [True, False])
def test_group_variances_match_explicit_inverses(sum_to_one):
    from remine.core.unmix._kernels import group_variances

    rng = np.random.default_rng(4)
    E = rng.uniform(0.1, 1.0, (7, 30))
    G = E @ E.T
    owner = np.array([0, 0, 1, 2, 2, 2, 3])
    active = rng.random((40, 7)) < 0.5
    got = group_variances(G, active, owner, 4, sum_to_one)
    for r in range(40):
        for k in range(4):
            assert np.isclose(got[r, k], max(reference_factor(G, active[r], owner, k, sum_to_one), 0.0),
                              rtol=1e-8, atol=1e-12)
