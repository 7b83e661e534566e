"""unmix_raster / close_raster on real GeoTIFFs (the demo scene), intervals and their coverage."""
import os

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from remine.core.blocks import GridSpec
from remine.core.demo import MINERALS, mineral_spectra
from remine.core.errors import CancelledError, InputError, RemineWarning
from remine.core.progress import Progress
from remine.core.raster import write_raster
from remine.core.spectra.library import SpectralLibrary
from remine.core.unmix import close_raster, coverage, unmix_raster

M = len(MINERALS)


def demo_library():
    names, wl, fwhm, spectra = mineral_spectra()
    return SpectralLibrary(names, wl, spectra, fwhm_nm=fwhm)


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(), list(ds.descriptions)


def table(bands):
    return bands.reshape(bands.shape[0], -1).T


@pytest.fixture(scope="module")
def truth(demo_scene):
    return table(read(demo_scene["truth_abundance"])[0])


def test_demo_abundances_and_interval_coverage(demo_scene, truth, tmp_path):
    """Demo scene (true spectra, 6 % illumination variation, noise 0.004): NNLS + sum normalisation.
    remine: abundance RMSE 0.0050; coverage of nominal 90 % residual intervals 0.916 (per mineral
    0.89-0.93). Run in several blocks (small max_bytes)."""
    out = str(tmp_path / "abund.tif")
    result = unmix_raster(demo_scene["cube"], demo_library(), out, method="nnls", normalise=True,
                          max_bytes=8 * 2**20)
    data, names = read(out)
    assert names == result["band_names"] == list(MINERALS) + ["rmse"] + [f"lower_{m}" for m in MINERALS] + \
        [f"upper_{m}" for m in MINERALS]
    A, lo, up = table(data[:M]) / 100, table(data[M + 1:2 * M + 1]) / 100, table(data[2 * M + 1:]) / 100
    valid = np.isfinite(truth).all(axis=1)
    assert np.array_equal(np.isfinite(A).all(axis=1), valid)  # the nodata corner stays nodata
    assert np.abs(A[valid].sum(axis=1) - 1).max() < 1e-5
    rmse = np.sqrt(np.mean((A[valid] - truth[valid]) ** 2))
    assert rmse < 0.007
    per_mineral, overall = coverage(truth, lo, up)
    assert 0.87 < overall < 0.95 and per_mineral.min() > 0.85
    assert np.all(lo[valid] <= A[valid] + 1e-6) and np.all(A[valid] <= up[valid] + 1e-6)


def test_demo_fcls_without_intervals(demo_scene, truth, tmp_path):
    """FCLS with the true spectra: sums to 100 %, abundance RMSE 0.047 on the demo scene (the
    illumination factor is not part of the FCLS model, hence NNLS + normalisation above)."""
    out = str(tmp_path / "fcls.tif")
    unmix_raster(demo_scene["cube"], demo_library(), out, method="fcls", intervals=False)
    data, names = read(out)
    assert names == list(MINERALS) + ["rmse"]
    A = table(data[:M]) / 100
    valid = np.isfinite(truth).all(axis=1)
    assert np.abs(A[valid].sum(axis=1) - 1).max() < 1e-5 and A[valid].min() >= 0
    assert np.sqrt(np.mean((A[valid] - truth[valid]) ** 2)) < 0.06
    assert np.nanmax(data[M]) < 0.05  # RMSE band in reflectance units


def test_resampled_library_and_bundles_report_spectra(demo_scene, tmp_path):
    """A library on another grid is resampled with a warning; two spectra for kaolinite form a bundle
    and the output says which spectrum dominates."""
    lib = SpectralLibrary.usgs()
    keep = [lib.index(s) for s in MINERALS.values()] + [lib.index("Kaolinite KGa-1")]
    coarse = lib.subset(keep)
    coarse = SpectralLibrary(coarse.names, coarse.wavelengths_nm[::2], coarse.values[:, ::2], coarse.metadata)
    out = str(tmp_path / "bundle.tif")
    with pytest.warns(RemineWarning, match="resampled from 112 bands"):
        result = unmix_raster(demo_scene["cube"], coarse, out, method="nnls", normalise=True, intervals=False,
                              minerals=list(MINERALS), group_field="mineral")
    assert result["spectra"]["kaolinite"] == ["Kaolinite CM9", "Kaolinite KGa-1 (wxyl)"]
    data, names = read(out)
    assert names[-M:] == [f"spectrum_{m}" for m in MINERALS]
    used = data[names.index("spectrum_kaolinite")]
    assert set(np.unique(used[np.isfinite(used)])) <= {0.0, 1.0, 2.0}
    assert np.nanmean(used == 1) > np.nanmean(used == 2)  # the scene was made with Kaolinite CM9


def test_bootstrap_intervals_over_bundles(demo_scene, tmp_path):
    lib = SpectralLibrary.usgs()
    keep = [lib.index(s) for s in MINERALS.values()] + [lib.index("Calcite HS48.3B"), lib.index("Gypsum SU2202")]
    out = str(tmp_path / "boot.tif")
    unmix_raster(demo_scene["cube"], lib.subset(keep), out, method="nnls", normalise=True,
                 interval_method="bootstrap", n_draws=5, minerals=list(MINERALS), group_field="mineral")
    data, names = read(out)
    lo, up = data[names.index("lower_calcite")], data[names.index("upper_calcite")]
    ok = np.isfinite(lo)
    assert np.all(lo[ok] <= up[ok]) and np.nanmean(up - lo) > 0


class CancelAtOnce(Progress):
    def is_cancelled(self):
        return True


def test_cancel_leaves_no_output(demo_scene, tmp_path):
    out = tmp_path / "cancelled.tif"
    with pytest.raises(CancelledError):
        unmix_raster(demo_scene["cube"], demo_library(), str(out), max_bytes=8 * 2**20, progress=CancelAtOnce())
    assert not os.path.exists(out)


def test_library_outside_the_cube_range(demo_scene, tmp_path):
    lib = demo_library()
    ftir = SpectralLibrary(lib.names, lib.wavelengths_nm + 10000.0, lib.values)
    out = tmp_path / "none.tif"
    with pytest.raises(InputError, match="the ranges do not overlap"):
        unmix_raster(demo_scene["cube"], ftir, str(out))
    assert not os.path.exists(out)


@pytest.mark.parametrize("kwargs, message", [
    (dict(minerals=["kaolinite", "unobtainium"]), "no library spectrum for endmember.*unobtainium"),
    (dict(method="lasso"), "unknown unmixing method 'lasso'"),
    (dict(interval_method="bootstrap"), "bootstrap intervals need several library spectra"),
    (dict(level=90), "interval level must be between 0 and 1"),
])
def test_bad_unmix_requests(demo_scene, tmp_path, kwargs, message):
    out = tmp_path / "bad.tif"
    with pytest.raises(InputError, match=message):
        unmix_raster(demo_scene["cube"], demo_library(), str(out), **kwargs)
    assert not os.path.exists(out)


def test_duplicate_library_minerals_are_named(demo_scene, tmp_path):
    lib = demo_library()
    twin = SpectralLibrary(["kaolinite A", "alunite B"], lib.wavelengths_nm, lib.values[[0, 0]])
    out = tmp_path / "dup.tif"
    with pytest.raises(InputError, match="duplicate endmembers.*kaolinite A = alunite B"):
        unmix_raster(demo_scene["cube"], twin, str(out))
    assert not os.path.exists(out)


@pytest.fixture(scope="module")
def regression_members(demo_scene, tmp_path_factory):
    """Three 'model' outputs in percent on a 60x60 window: truth + noise (some values < 0 or > 100)."""
    folder = tmp_path_factory.mktemp("members")
    window = Window(100, 0, 60, 60)
    with rasterio.open(demo_scene["truth_abundance"]) as ds:
        truth = ds.read(window=window)
        grid = GridSpec(60, 60, ds.window_transform(window), ds.crs)
    rng = np.random.default_rng(0)
    paths = []
    for k in range(3):
        path = str(folder / f"member{k}.tif")
        write_raster(path, (100 * truth + rng.normal(0, 4, truth.shape)).astype(np.float32), like=grid,
                     band_names=list(MINERALS))
        paths.append(path)
    return paths, truth


def test_close_raster_members_with_intervals(regression_members, tmp_path):
    paths, truth = regression_members
    out = str(tmp_path / "closed.tif")
    with pytest.warns(RemineWarning, match="outside \\[0, 100\\] were projected onto the simplex as they are"):
        result = close_raster(paths, out, method="simplex")
    data, names = read(out)
    assert names == list(MINERALS) + [f"lower_{m}" for m in MINERALS] + [f"upper_{m}" for m in MINERALS] + ["n_clipped"]
    assert result["n_clipped"] == int(np.nansum(data[-1])) > 0
    assert np.allclose(np.nansum(data[:M], axis=0), 100, atol=1e-3)
    assert np.all(data[M:2 * M] <= data[2 * M:3 * M] + 1e-4)


def test_close_raster_single_member_ilr(regression_members, tmp_path):
    out = str(tmp_path / "closed_ilr.tif")
    close_raster(regression_members[0][0], out, method="ilr")
    data, names = read(out)
    assert names == list(MINERALS) + ["n_clipped"]
    assert np.allclose(data[:M].sum(axis=0), 100, atol=1e-3) and data[:M].min() > 0


def test_close_raster_refuses_a_reflectance_cube(tmp_path):
    # a 224-band cube is not 224 minerals: closing it would be silent nonsense
    from affine import Affine

    from remine.core.data import usgs_library

    _, wl, _, refl = usgs_library()
    path = str(tmp_path / "cube.tif")
    write_raster(path, np.repeat(refl[:16].T[:, :, None], 4, axis=2).reshape(len(wl), 4, 16),
                 like=GridSpec(16, 4, Affine(1, 0, 0, 0, -1, 4), None), wavelengths_nm=wl)
    with pytest.raises(InputError, match=r"cube.tif has 224 bands with wavelengths \(383.*nm\): it is a spectral "
                                         r"cube, not regression rasters with one band per mineral"):
        close_raster(path, str(tmp_path / "closed.tif"))
    assert not os.path.exists(tmp_path / "closed.tif")


def test_close_raster_band_count_mismatch(regression_members, tmp_path):
    out = tmp_path / "bad.tif"
    with pytest.raises(InputError, match="has 9 bands but 3 minerals were given"):
        close_raster(regression_members[0], str(out), minerals=["kaolinite", "alunite", "calcite"])
    assert not os.path.exists(out)


def test_nan_and_all_zero_pixels_are_nodata(tmp_path):
    names, wl, fwhm, spectra = mineral_spectra()
    rng = np.random.default_rng(0)
    A = rng.dirichlet(np.ones(M), (6, 7))  # (rows, cols, M)
    cube = np.einsum("rcm,mb->brc", A, spectra).astype(np.float32)
    cube[:, 0, 0] = 0.0  # zero-filled border pixel
    cube[5, 2, 3] = np.nan  # one missing band
    grid = GridSpec(7, 6, rasterio.transform.from_origin(500000, 5560000, 1, 1), rasterio.crs.CRS.from_epsg(32630))
    path = str(tmp_path / "tiny.tif")
    write_raster(path, cube, like=grid, wavelengths_nm=wl, fwhm_nm=fwhm)
    out = str(tmp_path / "tiny_abund.tif")
    unmix_raster(path, demo_library(), out, method="fcls")
    data, _ = read(out)
    assert np.isnan(data[:, 0, 0]).all() and np.isnan(data[:, 2, 3]).all()
    valid = np.isfinite(data[0])
    assert valid.sum() == 40
    assert np.allclose(np.moveaxis(data[:M], 0, -1)[valid] / 100, A[valid], atol=1e-5)  # noiseless: exact


def test_unmix_summary_for_the_passport(demo_scene, tmp_path):
    result = unmix_raster(demo_scene["cube"], demo_library(), str(tmp_path / "s.tif"), method="nnls", normalise=True,
                          minerals=["kaolinite", "muscovite", "chlorite", "montmorillonite", "alunite", "jarosite",
                                    "goethite", "gypsum", "calcite"])
    summary = result["summary"]
    assert abs(sum(summary["mean_abundance_percent"].values()) - 100) < 0.01
    assert all(0 < w < 10 for w in summary["mean_interval_width_percent"].values())
    assert 0 < summary["mean_rmse"] < 0.01
