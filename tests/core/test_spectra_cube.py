"""Block-wise cube operations equal the in-memory functions; outputs keep wavelengths; bad input leaves no file."""
import os

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.raster import raster_info, read_cube, write_raster
from remine.core.spectra import absorption_feature, continuum_removed, library_from_rois, resample
from remine.core.spectra.cube import absorption_feature_raster, continuum_removal_raster, resample_raster

NAMES, WL, FWHM, REFL = usgs_library()
GRID = {"width": 30, "height": 20, "transform": Affine(2, 0, 600000, 0, -2, 5000000), "crs": "EPSG:32630"}


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    rng = np.random.default_rng(1)
    pixels = REFL[rng.integers(0, len(REFL), 600)] * rng.uniform(0.8, 1.2, (600, 1)).astype(np.float32)
    data = pixels.T.reshape(224, 20, 30).copy()
    data[:, 0, 0] = np.nan
    path = str(tmp_path_factory.mktemp("cube") / "cube.tif")
    write_raster(path, data, GRID, wavelengths_nm=WL, fwhm_nm=FWHM)
    return path


def table(path):
    c = read_cube(path, require_wavelengths=False)
    return c.data.reshape(c.data.shape[0], -1).T, c


def test_continuum_raster_equals_in_memory(cube, tmp_path):
    out = str(tmp_path / "cr.tif")
    result = continuum_removal_raster(cube, out, min_nm=2000, max_nm=2450, max_bytes=200_000)
    pixels, _ = table(cube)
    sel = (WL >= 2000) & (WL <= 2450)
    got, c = table(out)
    np.testing.assert_allclose(got, continuum_removed(pixels[:, sel], WL[sel]), atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(c.wavelengths_nm, WL[sel], atol=1e-3)
    assert result["bands"] == sel.sum() and np.isnan(got[0]).all()


def test_resample_raster_keeps_target_wavelengths(cube, tmp_path):
    out = str(tmp_path / "res.tif")
    target = np.arange(450.0, 2400.0, 50.0)
    resample_raster(cube, out, target, 50.0, max_bytes=300_000)
    got, c = table(out)
    pixels, _ = table(cube)
    np.testing.assert_allclose(got, resample(pixels, WL, target, 50.0, source_fwhm_nm=raster_info(cube).fwhm_nm),
                               atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(c.wavelengths_nm, target, atol=1e-3)


def test_absorption_feature_raster(cube, tmp_path):
    out = str(tmp_path / "feat.tif")
    absorption_feature_raster(cube, out, (2150, 2250))
    got, c = table(out)
    assert c.band_names == ["position_nm", "depth", "width_nm"]
    pixels, _ = table(cube)
    expected = absorption_feature(pixels, WL, (2150, 2250))
    np.testing.assert_allclose(got[:, 0], expected["position_nm"], atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(got[:, 1], expected["depth"], atol=1e-6, equal_nan=True)


def test_bad_inputs_leave_no_output(cube, tmp_path):
    out = str(tmp_path / "x.tif")
    with pytest.raises(InputError, match="outside the sensor range"):
        absorption_feature_raster(cube, out, (2400, 2700))
    with pytest.raises(InputError, match="at least 3 are needed"):
        continuum_removal_raster(cube, out, min_nm=2200, max_nm=2210)
    with pytest.raises(InputError, match="also an input"):
        continuum_removal_raster(cube, cube)
    with pytest.raises(InputError, match="do not overlap"):
        resample_raster(cube, out, [5000.0, 6000.0])
    assert not os.path.exists(out)


def test_library_from_rois(cube, tmp_path):
    rois = gpd.GeoDataFrame({"roi_id": [1, 2], "mineral": ["a", "b"]},
                            geometry=[box(600000, 4999980, 600010, 5000000), box(600020, 4999970, 600030, 4999980)],
                            crs="EPSG:32630")
    pixels, _ = table(cube)
    mean = library_from_rois(cube, rois, "mean", name_field="mineral")
    assert mean.names == ["a", "b"] and list(mean.metadata["n_pixels"]) == [49, 25]  # 50 px minus nodata
    rows, cols = np.mgrid[0:10, 0:5]
    inside = (rows * 30 + cols).ravel()[1:]
    np.testing.assert_allclose(mean.values[0], pixels[inside].mean(axis=0), rtol=1e-5)
    everything = library_from_rois(cube, rois, "all")
    assert len(everything) == 74 and {"x", "y", "roi_id"} <= set(everything.metadata.columns)
    median = library_from_rois(cube, rois, "median")
    assert median.names == ["1", "2"]
    with pytest.raises(InputError, match="statistic must be"):
        library_from_rois(cube, rois, "max")
