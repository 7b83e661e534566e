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


@pytest.fixture(scope="module")
def demo_subset(demo_scene):
    """Every 45th valid pixel of the demo scene (1996 pixels), its true abundances and a 'steady' twin:
    the same abundances and spectra with brightness exactly 1 (noise 0.004, as the demo)."""
    from remine.core.demo import mineral_spectra
    from remine.core.raster import read_cube

    cube = read_cube(demo_scene["cube"])
    truth = read_cube(demo_scene["truth_abundance"], require_wavelengths=False).data
    X = cube.data.reshape(cube.data.shape[0], -1).T
    T = truth.reshape(truth.shape[0], -1).T.astype(float)
    keep = np.flatnonzero(np.isfinite(X).all(axis=1))[::45]
    X, T = X[keep], T[keep]
    spectra = mineral_spectra()[3]
    steady = T @ spectra + np.random.default_rng(1).normal(0, 0.004, (len(T), spectra.shape[1]))
    return X, T, steady, cube.wavelengths_nm, cube.fwhm_nm


def endmember_set(kind, wl, fwhm):
    from remine.core.demo import MINERALS, mineral_spectra
    from remine.core.spectra.library import SpectralLibrary
    from remine.core.unmix import library_endmembers

    if kind == "usgs":  # all 59 USGS spectra of the nine minerals, as bundles
        return library_endmembers(SpectralLibrary.usgs(), wl, fwhm, minerals=list(MINERALS), group_field="mineral")
    names, lib_wl, lib_fwhm, spectra = mineral_spectra()
    return library_endmembers(SpectralLibrary(names, lib_wl, spectra, fwhm_nm=lib_fwhm), wl, fwhm)


@pytest.mark.parametrize("kind", ["true", "usgs"])
def test_fcls_intervals_calibrated_on_the_demo_scene(demo_subset, kind):
    """Demo scene (6 % illumination variation): nominal 90 % FCLS intervals with the model-form term
    cover 0.951 (true spectra) / 0.909 (USGS bundles) of the true abundances over all 89 790 pixels
    (benchmarks/calibrate_intervals.py); noise-only intervals 0.374 / 0.697."""
    from remine.core.unmix import unmix_pixels

    X, T, _, wl, fwhm = demo_subset
    res = unmix_pixels(X, endmember_set(kind, wl, fwhm), "fcls", "residual", 0.9)
    assert 0.85 <= coverage(T, res["lower"], res["upper"])[1] <= 0.97
    noise_only = unmix_pixels(X, endmember_set(kind, wl, fwhm), "fcls", "residual", 0.9, model_form=False)
    assert coverage(T, noise_only["lower"], noise_only["upper"])[1] < 0.8


@pytest.mark.parametrize("kind", ["true", "usgs"])
def test_model_form_term_is_small_when_brightness_is_one(demo_subset, kind):
    """Brightness exactly 1 (the FCLS model holds): the model-form term changes coverage and width little."""
    from remine.core.unmix import unmix_pixels

    _, T, steady, wl, fwhm = demo_subset
    es = endmember_set(kind, wl, fwhm)
    with_term = unmix_pixels(steady, es, "fcls", "residual", 0.9)
    without = unmix_pixels(steady, es, "fcls", "residual", 0.9, model_form=False)
    assert 0.87 <= coverage(T, with_term["lower"], with_term["upper"])[1] <= 0.95
    width = np.mean(with_term["upper"] - with_term["lower"])
    assert width <= 1.1 * np.mean(without["upper"] - without["lower"])
    assert np.all(with_term["lower"] <= without["lower"]) and np.all(with_term["upper"] >= without["upper"])


def test_normalised_intervals_calibrated_per_mineral():
    """NNLS + normalisation with 6 % illumination variation: delta-method intervals of a_k / g reach the
    nominal coverage for every mineral (0.893-0.906); dividing the bounds of a_k by g gives 0.83-0.95."""
    X, E, A = mixtures(0, n=2000, noise=0.004, concentration=3.0)
    X *= 1 + 0.06 * np.random.default_rng(9).standard_normal((len(X), 1))
    a = nnls(X, E)
    lower, upper = residual_intervals(X, E, a, "nnls", 0.9, normalise=True)
    per_mineral, overall = coverage(A, lower, upper)
    assert abs(overall - 0.9) < 0.02 and np.all(np.abs(per_mineral - 0.9) < 0.025)
    g = a.sum(axis=1, keepdims=True)
    assert np.all(lower <= a / g + 1e-12) and np.all(a / g <= upper + 1e-12) and upper.max() <= 1
    divided = residual_intervals(X, E, a, "nnls", 0.9)
    assert np.abs(coverage(A, divided[0] / g, divided[1] / g)[0] - 0.9).max() > 0.05


def test_normalised_intervals_match_explicit_delta_method():
    """Half-widths against numpy: gradient c = (1[j in k] - r_k) / g on the active set, variance c' s^2 H c."""
    from scipy.stats import norm

    rng = np.random.default_rng(10)
    E = rng.uniform(0.1, 1.0, (6, 40))
    owner = np.array([0, 0, 1, 2, 2, 3])
    A = rng.dirichlet(np.ones(6), 30) * rng.uniform(0.8, 1.2, (30, 1))
    A[A < 0.08] = 0.0
    X = A @ E + rng.normal(0, 0.01, (30, 40))
    rmse = np.sqrt(np.mean((X - A @ E) ** 2, axis=1))
    lower, upper = residual_intervals(X, E, A, "nnls", 0.9, rmse=rmse, groups=owner, normalise=True)
    z = norm.ppf(0.95)
    for i in range(30):
        P = np.flatnonzero(A[i] > 0)
        s2 = rmse[i] ** 2 * 40 / (40 - P.size)
        H = np.linalg.inv(E[P] @ E[P].T)
        g = A[i].sum()
        for k in range(4):
            r = A[i, owner == k].sum() / g
            if r == 0 or r == 1:
                continue
            c = ((owner[P] == k) - r) / g
            half = z * np.sqrt(s2 * c @ H @ c)
            expected_upper, expected_lower = min(r + half, 1.0), max(r - half, 0.0)
            assert np.isclose(upper[i, k], expected_upper, rtol=1e-7) and np.isclose(lower[i, k], expected_lower,
                                                                                      rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("m", [8, 70])
def test_distinct_active_sets_rebuild_every_row(m):
    # noise intervals compute the active-set factors once per distinct set and index them back per pixel
    from remine.core.unmix.intervals import distinct_rows

    rng = np.random.default_rng(m)
    active = rng.random((5000, m)) < 0.5
    active[::7] = active[3]  # repeated sets
    patterns, index = distinct_rows(active)
    assert np.array_equal(patterns[index], active)
    assert len(patterns) == len({row.tobytes() for row in active})
