"""Endmember extraction (ATGP, VCA, N-FINDR), number of endmembers, library matching."""
import os
import warnings

import numpy as np
import pytest
import rasterio

from remine.core.data import usgs_library
from remine.core.errors import InputError, RemineWarning
from remine.core.unmix import (
    ATGP,
    NFINDR,
    VCA,
    atgp,
    estimate_n_endmembers,
    match_endmembers,
    nfindr,
    spectral_angle,
    vca,
)

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
    assert estimate_n_endmembers(X) == estimate_n_endmembers(X, "hysime") == m
    assert abs(estimate_n_endmembers(X, "hfc") - m) <= 2 and abs(estimate_n_endmembers(X, "nwhfc") - m) <= 2


def test_estimate_n_endmembers_on_samson():
    """Samson (soil, trees, water; 48 x 48 subsample): the eigenvalue gap finds 3; HySime counts every
    direction above the noise (remine: 76; full scene 71), HFC 6 and noise-whitened HFC 5 (full: 9, 8)."""
    with np.load(os.path.join(DATA, "samson_sub.npz")) as d:
        X = d["cube"].reshape(d["cube"].shape[0], -1).T
    assert estimate_n_endmembers(X) == 3
    assert estimate_n_endmembers(X, "hysime") > 20
    assert estimate_n_endmembers(X, "hfc") > 3 and estimate_n_endmembers(X, "nwhfc") > 3
    with pytest.raises(InputError, match="expected one of hysime, hfc, eigengap, nwhfc"):
        estimate_n_endmembers(X, "pca")


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
    """N-FINDR on a 20 000-pixel sample of the demo cube: EM1..EM9, and the shipped USGS library suggests
    the nine demo minerals (remine: 9 of 9 with HySime's estimate 9, angles 0.5-3.9 deg, no warning; the
    eigenvalue gap gives 10: the scene's 6 % illumination variation adds a shade direction)."""
    from remine.core.unmix import extract_endmembers

    with warnings.catch_warnings():
        warnings.simplefilter("error", RemineWarning)
        lib = extract_endmembers(demo_scene["cube"], None, "nfindr", "hysime", max_pixels=20000)
    assert len(lib) == 9 and lib.n_bands == 224 and lib.names == [f"EM{k}" for k in range(1, 10)]
    assert set(lib.metadata["suggested_mineral"]) == {"kaolinite", "muscovite", "chlorite", "montmorillonite",
                                                      "alunite", "jarosite", "goethite", "gypsum", "calcite"}
    assert lib.metadata["angle_deg"].max() < 6.0
    assert {"library_match", "row", "col", "x", "y"} <= set(lib.metadata.columns)


def samson_tif(folder):
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from remine.core.blocks import GridSpec
    from remine.core.raster import write_raster

    with np.load(os.path.join(DATA, "samson_sub.npz")) as d:
        cube, wl, truth = d["cube"], d["wavelengths_nm"], d["abundances"]
    path = os.path.join(folder, "samson.tif")
    grid = GridSpec(cube.shape[2], cube.shape[1], from_origin(500000, 5560000, 1, 1), CRS.from_epsg(32630))
    write_raster(path, cube, like=grid, wavelengths_nm=wl)
    return path, truth.reshape(3, -1).T


def test_extract_then_unmix_samson_against_ground_truth(tmp_path):
    """Samson (48 x 48): N-FINDR endmembers EM1..EM3 (user names accepted), unmixed with NNLS + sum
    normalisation; abundance RMSE against the ground truth after matching endmembers to Soil/Tree/Water
    (remine: 0.151; with the means of the pure ground-truth pixels as endmembers 0.110; FCLS 0.31, as
    the scene's illumination varies)."""
    from scipy.optimize import linear_sum_assignment

    from remine.core.unmix import extract_endmembers, unmix_raster

    cube, truth = samson_tif(str(tmp_path))
    with pytest.warns(RemineWarning, match="poor matches"):  # USGS minerals do not describe trees and water
        lib = extract_endmembers(cube, 3, names=["a", "b", "c"])
    assert lib.names == ["a", "b", "c"]
    out = str(tmp_path / "abund.tif")
    result = unmix_raster(cube, lib, out, method="nnls", normalise=True, intervals=False)
    assert result["minerals"] == ["a", "b", "c"]
    with rasterio.open(out) as ds:
        A = ds.read()[:3].reshape(3, -1).T / 100
    cost = np.sqrt(((A[:, :, None] - truth[:, None, :]) ** 2).mean(axis=0))
    rows, cols = linear_sum_assignment(cost)
    assert sorted(cols) == [0, 1, 2]
    assert np.sqrt(np.mean(cost[rows, cols] ** 2)) < 0.17


def test_extraction_names_must_be_unique(demo_scene):
    from remine.core.unmix import extract_endmembers

    with pytest.raises(InputError, match="expected 3 unique"):
        extract_endmembers(demo_scene["cube"], 3, names=["a", "a", "b"])


def test_library_spectra_are_never_merged_by_name():
    """Without a grouping field every spectrum is an endmember (shared names kept apart, with a warning);
    with one, bundles follow that field only."""
    import pandas as pd

    from remine.core.spectra.library import SpectralLibrary
    from remine.core.unmix import library_endmembers

    names, wl, fwhm, refl = usgs_library()
    pick = [names.index(n) for n in ("Kaolinite CM9", "Kaolinite KGa-1 (wxyl)", "Calcite WS272")]
    lib = SpectralLibrary([names[i] for i in pick], wl, refl[pick], fwhm_nm=fwhm)
    es = library_endmembers(lib, wl, fwhm)
    assert es.minerals == ["Kaolinite CM9", "Kaolinite KGa-1 (wxyl)", "Calcite WS272"] and not es.has_variability
    same = SpectralLibrary(["kaolinite", "kaolinite", "calcite"], wl, refl[pick],
                           pd.DataFrame({"group": ["k", "k", "c"]}), fwhm_nm=fwhm)
    with pytest.warns(RemineWarning, match="kaolinite appear more than once"):
        assert library_endmembers(same, wl, fwhm).minerals == ["kaolinite_1", "kaolinite_2", "calcite"]
    grouped = library_endmembers(same, wl, fwhm, group_field="group")
    assert grouped.minerals == ["k", "c"] and [len(b) for b in grouped.bundles] == [2, 1]
    with pytest.raises(InputError, match="no field 'mineral'.*its fields are: name, group"):
        library_endmembers(same, wl, fwhm, group_field="mineral")
