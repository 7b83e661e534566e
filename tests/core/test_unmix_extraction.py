"""Endmember extraction (ATGP, VCA, N-FINDR), number of endmembers, library matching."""
import os

import numpy as np
import pytest

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.unmix import (ATGP, NFINDR, VCA, atgp, estimate_n_endmembers, match_endmembers, nfindr,
                               spectral_angle, vca)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "unmix")


def synthetic_scene(m, n=3000, seed=0, noise=0.002, pure=True):
    """Mixtures of m USGS spectra (Dirichlet abundances), optionally with one pure pixel per endmember."""
    names, _, _, refl = usgs_library()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(names) - 20, m, replace=False)
    E = refl[rows].astype(float)
    A = rng.dirichlet(np.ones(m), n)
    if pure:
        A[:m] = np.eye(m)
    X = A @ E + rng.normal(0, noise, (n, E.shape[1]))
    return X, E, [names[i] for i in rows]


@pytest.mark.parametrize("extractor", [atgp, vca, nfindr])
def test_pure_pixels_are_found(extractor):
    X, E, names = synthetic_scene(5, noise=0.0005)
    found, rows = extractor(X, 5)
    assert np.allclose(found, X[rows])
    _, matched, angles = match_endmembers(found, E, names)
    if extractor is atgp:  # ATGP picks extreme pixels, not necessarily the vertices of the simplex
        assert len(set(matched)) >= 4
    else:
        assert sorted(matched) == sorted(names)
        assert np.degrees(angles).max() < 1.0


def test_samson_vca_and_nfindr_match_ground_truth():
    """Samson (48x48 subsample): mean spectral angle to the ground truth, remine: VCA 4.8 deg,
    N-FINDR 3.6 deg (Soil/Tree/Water all matched one-to-one)."""
    with np.load(os.path.join(DATA, "samson_sub.npz")) as d:
        X = d["cube"].reshape(d["cube"].shape[0], -1).T
        truth, names = d["endmembers"], [str(n) for n in d["endmember_names"]]
    for extractor, limit in ((vca, 6.0), (nfindr, 5.0)):
        found, _ = extractor(X, 3)
        _, matched, angles = match_endmembers(found, truth, names)
        assert sorted(matched) == ["Soil", "Tree", "Water"]
        assert np.degrees(angles).mean() < limit


def test_nan_pixels_are_skipped_and_indices_refer_to_input_rows():
    X, _, _ = synthetic_scene(4, n=500)
    X[[0, 10, 20], 3] = np.nan
    for extractor in (atgp, vca, nfindr):
        found, rows = extractor(X, 4)
        assert np.isfinite(found).all() and np.allclose(found, X[rows])


@pytest.mark.parametrize("m", [3, 6])
def test_estimate_n_endmembers_on_synthetic_mixtures(m):
    X, _, _ = synthetic_scene(m, n=6000, seed=m, noise=0.001, pure=False)
    assert estimate_n_endmembers(X, "hysime") == m
    assert abs(estimate_n_endmembers(X, "hfc") - m) <= 2


def test_match_endmembers_unique_assignment():
    refl = usgs_library()[3]
    lib = refl[:6].astype(float)
    shuffled = lib[[3, 1, 5]] * 0.7  # scale does not change the angle
    idx, names, angles = match_endmembers(shuffled, lib, [f"s{i}" for i in range(6)])
    assert list(idx) == [3, 1, 5] and names == ["s3", "s1", "s5"] and np.allclose(angles, 0, atol=1e-6)
    assert spectral_angle(lib[:2], lib[:2]).shape == (2, 2)


def test_estimator_twins():
    X, _, _ = synthetic_scene(3, n=400)
    for cls, func in ((VCA, vca), (NFINDR, nfindr), (ATGP, atgp)):
        est = cls(n_endmembers=3).fit(X)
        assert np.array_equal(est.endmembers_, func(X, 3)[0]) and est.indices_.shape == (3,)


@pytest.mark.parametrize("n_endmembers, message", [
    (1, "n_endmembers must be >= 2"),
    (300, "300 endmembers requested but the pixels have only 224 bands"),
])
def test_bad_extraction_requests(n_endmembers, message):
    X, _, _ = synthetic_scene(3, n=200)
    with pytest.raises(InputError, match=message):
        vca(X, n_endmembers)


def test_too_few_pixels():
    X, _, _ = synthetic_scene(3, n=3)
    with pytest.raises(InputError, match="4 endmembers requested but only 3 valid"):
        nfindr(X, 4)
    with pytest.raises(InputError, match="more pixels"):
        estimate_n_endmembers(X)


def test_extract_endmembers_from_demo_cube(demo_scene):
    """N-FINDR on a 20 000-pixel sample of the demo cube, named by the shipped USGS library: the nine
    demo minerals are found (remine: 9 of 9 with HySime's estimate 9, angles 0.5-3.9 deg)."""
    from remine.core.unmix import extract_endmembers

    lib = extract_endmembers(demo_scene["cube"], None, "nfindr", max_pixels=20000)
    assert len(lib) == 9 and lib.n_bands == 224
    assert set(lib.metadata["mineral"]) == {"kaolinite", "muscovite", "chlorite", "montmorillonite", "alunite",
                                            "jarosite", "goethite", "gypsum", "calcite"}
    assert lib.metadata["angle_deg"].max() < 6.0
    assert {"library_match", "row", "col", "x", "y"} <= set(lib.metadata.columns)
