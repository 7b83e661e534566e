"""MESMA (Roberts et al. 1998): best model of one spectrum per mineral, per pixel.

Exact recovery of noiseless mixtures made from given bundle members, the chosen RMSE is the minimum
over every fixed model, agreement with a brute-force scipy NNLS loop on the augmented sum-to-one
system, the model-count limit, and the raster driver on a written GeoTIFF."""
import itertools
import os

import numpy as np
import pandas as pd
import pytest
import rasterio
from scipy.optimize import nnls as scipy_nnls

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.raster import write_raster
from remine.core.spectra.library import SpectralLibrary
from remine.core.unmix import (
    MESMA,
    coverage,
    fcls,
    mesma,
    mesma_intervals,
    reconstruction_rmse,
    residual_intervals,
    unmix_raster,
)
from remine.core.unmix.mesma import MAX_MODELS

MINERALS = ("calcite", "gypsum", "goethite", "alunite")


def bundles_of(minerals=MINERALS, per_mineral=3):
    """USGS spectra of each mineral (the first ``per_mineral``), their names and the library grid."""
    names, wl, fwhm, refl = usgs_library()
    idx = [[i for i, n in enumerate(names) if n.lower().startswith(m)][:per_mineral] for m in minerals]
    return [refl[i].astype(float) for i in idx], [[names[j] for j in i] for i in idx], wl, fwhm


def mixtures(bundles, n, seed, noise=0.0, concentration=3.0):
    """Pixels (n, b) mixed from one random member of each bundle; abundances (n, m), members (n, m)."""
    rng = np.random.default_rng(seed)
    m = len(bundles)
    A = rng.dirichlet(np.full(m, concentration), n)
    pick = rng.integers(0, [len(b) for b in bundles], (n, m))
    spectra = np.stack([bundles[k][pick[:, k]] for k in range(m)], axis=1)  # (n, m, b)
    X = np.einsum("nm,nmb->nb", A, spectra)
    return X + noise * rng.standard_normal(X.shape), A, pick


@pytest.mark.parametrize("method", ["fcls", "nnls", "scls", "ucls"])  # compiled, and closed forms
def test_exact_recovery_of_the_members_used(method):
    bundles, _, _, _ = bundles_of()
    X, A, pick = mixtures(bundles, 300, seed=0)
    res = mesma(X, bundles, method)
    assert np.array_equal(res["model"], pick) and np.array_equal(res["spectrum"], pick + 1)
    assert np.abs(res["abundances"] - A).max() < 1e-9
    assert res["rmse"].max() < 1e-6  # sqrt of the ~1e-16 cancellation error of the Gram form


def test_rmse_is_the_minimum_over_fixed_models():
    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, _, _ = mixtures(bundles, 200, seed=1, noise=0.01)
    res = mesma(X, bundles, "fcls")
    per_model = []
    for model in itertools.product(*(range(len(b)) for b in bundles)):
        E = np.stack([b[j] for b, j in zip(bundles, model)])
        per_model.append(reconstruction_rmse(X, E, fcls(X, E)))
    per_model = np.array(per_model)  # (models, n)
    assert np.all(res["rmse"] <= per_model + 1e-9)
    assert np.allclose(res["rmse"], per_model.min(axis=0), rtol=0, atol=1e-9)


def scipy_fcls(x, E):
    """Heinz & Chang (2001) augmented system [E'; delta 1'] a = [x; delta], scipy NNLS."""
    delta = 1e4 * np.abs(E).max()
    return scipy_nnls(np.vstack([E.T, delta * np.ones(len(E))]), np.append(x, delta))[0]


def test_agrees_with_brute_force_scipy_loop():
    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, _, _ = mixtures(bundles, 6, seed=2, noise=0.02, concentration=0.5)
    res = mesma(X, bundles, "fcls")
    for i, x in enumerate(X):
        best = (np.inf, None, None)
        for model in itertools.product(*(range(len(b)) for b in bundles)):
            E = np.stack([b[j] for b, j in zip(bundles, model)])
            a = scipy_fcls(x, E)
            r = np.sqrt(np.mean((x - a @ E) ** 2))
            if r < best[0]:
                best = (r, a, model)
        assert abs(res["rmse"][i] - best[0]) < 1e-6
        assert np.abs(res["abundances"][i] - best[1]).max() < 1e-6
        present = best[1] > 1e-6
        assert np.array_equal(res["model"][i][present], np.array(best[2])[present])


def test_estimator_twin_and_nan_pixels():
    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, _, _ = mixtures(bundles, 50, seed=3, noise=0.005)
    X[4, 10] = np.nan
    res = mesma(X, bundles)
    est = MESMA().fit(bundles)
    assert est.n_models_ == 16 and est.n_features_in_ == X.shape[1]
    assert np.array_equal(est.transform(X), res["abundances"], equal_nan=True)
    assert np.isnan(res["abundances"][4]).all() and np.isnan(res["rmse"][4]) and (res["spectrum"][4] == 0).all()
    assert np.isfinite(res["abundances"][np.arange(50) != 4]).all()


def test_intervals_on_the_chosen_model():
    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, A, _ = mixtures(bundles, 400, seed=4, noise=0.01, concentration=8.0)
    res = mesma(X, bundles)
    lower, upper = mesma_intervals(X, bundles, res, "fcls", 0.9, model_form=False, model_choice=False)
    key = res["model"][0]
    same = (res["model"] == key).all(axis=1)
    E = np.stack([b[j] for b, j in zip(bundles, key)])
    lo, up = residual_intervals(X[same], E, res["abundances"][same], "fcls", 0.9, groups=np.arange(4))
    assert np.allclose(lower[same], lo) and np.allclose(upper[same], up)
    wide_lower, wide_upper = mesma_intervals(X, bundles, res, "fcls", 0.9)
    assert np.all(wide_lower <= lower) and np.all(wide_upper >= upper)
    assert 0.85 < coverage(A, wide_lower, wide_upper)[1] < 0.97


def test_model_choice_term_contains_the_competing_models():
    """The interval spans the abundances of every model whose RSS is within chi2_m(0.9) s^2 of the best."""
    from scipy.stats import chi2

    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, _, _ = mixtures(bundles, 100, seed=6, noise=0.01)
    res = mesma(X, bundles, "nnls")
    lower, upper = mesma_intervals(X, bundles, res, "nnls", 0.9)
    b = X.shape[1]
    limit = res["rmse"] ** 2 * b * (1 + chi2.ppf(0.9, 4) / (b - 4))
    n_near = 0
    for model in itertools.product(*(range(len(b_)) for b_ in bundles)):
        E = np.stack([b_[j] for b_, j in zip(bundles, model)])
        a = np.array([scipy_nnls(E.T, x)[0] for x in X])
        near = np.sum((X - a @ E) ** 2, axis=1) <= limit * (1 - 1e-9)
        n_near += near.sum()
        assert np.all(lower[near] <= a[near] + 1e-9) and np.all(a[near] <= upper[near] + 1e-9)
    assert n_near > len(X)  # other models than the best compete for some pixels


def test_too_many_models_is_an_error_naming_the_bundles():
    names, _, _, refl = usgs_library()
    bundles = [refl[:18], refl[18:36], refl[36:54]]  # 18^3 = 5832 models
    with pytest.raises(InputError, match=r"5832 models .*bundle sizes: mineral 0 18, mineral 1 18, mineral 2 18.*"
                                         r"limit of 5000; use bundle unmixing or fewer spectra"):
        mesma(refl[:2], bundles)
    assert MAX_MODELS == 5000
    with pytest.raises(InputError, match="different band counts"):
        mesma(refl[:2], [refl[:2], refl[2:4, :100]])


def write_scene(folder, bundles, names, wl, fwhm, noise=0.0):
    """A 30 x 40 GeoTIFF cube of mixtures and a library file holding the bundles."""
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from remine.core.blocks import GridSpec
    from remine.core.spectra import write_library

    X, A, pick = mixtures(bundles, 30 * 40, seed=5, noise=noise)
    grid = GridSpec(40, 30, from_origin(500000, 5560000, 1, 1), CRS.from_epsg(32630))
    cube = os.path.join(folder, "cube.tif")
    write_raster(cube, X.T.reshape(-1, 30, 40).astype(np.float32), like=grid, wavelengths_nm=wl, fwhm_nm=fwhm)
    lib = os.path.join(folder, "bundles.csv")
    flat = [n for group in names for n in group]
    mineral = pd.DataFrame({"mineral": [m for m, group in zip(MINERALS, names) for _ in group]})
    write_library(SpectralLibrary(flat, wl, np.concatenate(bundles), mineral, fwhm_nm=fwhm), lib)
    return cube, lib, A, pick


def test_unmix_raster_mesma_on_a_written_cube(tmp_path):
    bundles, names, wl, fwhm = bundles_of(per_mineral=2)
    cube, lib, A, pick = write_scene(str(tmp_path), bundles, names, wl, fwhm)
    out = str(tmp_path / "mesma.tif")
    result = unmix_raster(cube, lib, out, method="fcls", variability="mesma", max_bytes=2**20,
                          group_field="mineral")
    assert result["variability"] == "mesma" and result["minerals"] == list(MINERALS)
    with rasterio.open(out) as ds:
        data, band_names = ds.read().astype(float), list(ds.descriptions)
    m = len(MINERALS)
    assert band_names == list(MINERALS) + ["rmse"] + [f"lower_{x}" for x in MINERALS] + \
        [f"upper_{x}" for x in MINERALS] + [f"spectrum_{x}" for x in MINERALS]
    table = data.reshape(len(band_names), -1).T
    assert np.abs(table[:, :m] / 100 - A).max() < 1e-5  # float32 output
    assert np.array_equal(table[:, -m:].astype(int), pick + 1)
    assert np.all(table[:, m + 1:2 * m + 1] <= table[:, :m] + 1e-4)
    assert np.all(table[:, :m] <= table[:, 2 * m + 1:3 * m + 1] + 1e-4)


def test_unmix_raster_mesma_limits_and_bad_option(tmp_path):
    bundles, names, wl, fwhm = bundles_of(per_mineral=2)
    cube, _, _, _ = write_scene(str(tmp_path), bundles, names, wl, fwhm)
    out = tmp_path / "none.tif"
    with pytest.raises(InputError, match=r"models \(one spectrum per mineral; bundle sizes: alunite 6"):
        unmix_raster(cube, SpectralLibrary.usgs(), str(out), variability="mesma", group_field="mineral")
    with pytest.raises(InputError, match="unknown endmember variability 'best'"):
        unmix_raster(cube, SpectralLibrary.usgs(), str(out), variability="best")
    assert not out.exists()


def test_fcls_intervals_cover_an_illumination_bias():
    """Per-pixel brightness 1 + 0.06 N(0, 1), as the demo scene: FCLS cannot absorb it and its model
    choice follows it; the model-form term (MESMA with a free brightness) restores the coverage."""
    bundles, _, _, _ = bundles_of(per_mineral=2)
    X, A, _ = mixtures(bundles, 600, seed=7, noise=0.004)
    X *= 1 + 0.06 * np.random.default_rng(8).standard_normal((len(X), 1))
    res = mesma(X, bundles, "fcls")
    noise_only = mesma_intervals(X, bundles, res, "fcls", 0.9, model_form=False)
    honest = mesma_intervals(X, bundles, res, "fcls", 0.9)
    assert coverage(A, *noise_only)[1] < 0.75
    assert 0.85 <= coverage(A, *honest)[1] <= 0.97
