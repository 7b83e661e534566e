"""core.demo: the synthetic tailings scene is deterministic, consistent and built from the USGS spectra."""
import geopandas as gpd
import numpy as np
import rasterio

from remine.core.data import usgs_library
from remine.core.demo import ELEMENTS, MINERALS, make_demo, mineral_spectra
from remine.core.raster import read_class_names, read_cube


def test_demo_contents(demo_scene):
    cube = read_cube(demo_scene["cube"], require_crs=True)
    assert cube.data.shape == (224, 300, 300)
    assert cube.crs.to_epsg() == 32630 and cube.transform.a == 0.5
    assert cube.fwhm_nm is not None and 383 < cube.wavelengths_nm[0] < 384
    ab = read_cube(demo_scene["truth_abundance"], require_wavelengths=False)
    assert ab.band_names == list(MINERALS)
    valid = ~np.isnan(ab.data[0])
    assert 0.9 < valid.mean() < 1.0                               # a nodata corner
    np.testing.assert_allclose(np.nansum(ab.data, axis=0)[valid], 1.0, atol=1e-5)
    assert (ab.data[:, valid] >= 0).all()
    # every mineral dominates somewhere, and the class map is the arg-max, coded as a classifier trained on
    # the ROIs codes its classes (sorted labels 1…9, 0 = no data outside the footprint)
    with rasterio.open(demo_scene["truth_class"]) as ds:
        cls = ds.read(1)
        assert ds.nodata == 0
    names = read_class_names(demo_scene["truth_class"])
    rois = gpd.read_file(demo_scene["rois"])
    assert names == ["no data"] + sorted(MINERALS) == ["no data"] + sorted(rois.mineral.unique())
    assert set(np.unique(cls[valid])) == set(range(1, len(MINERALS) + 1)) and (cls[~valid] == 0).all()
    dominant = np.array(list(MINERALS))[np.argmax(ab.data[:, valid], axis=0)]
    assert (np.array(names)[cls[valid]] == dominant).all()
    # the cube is the mixture of the library spectra (up to illumination and noise): pure-ish pixel check
    _, _, _, spectra = mineral_spectra()
    k = int(np.argmax(ab.data[0][valid]))
    r, c = np.argwhere(valid)[k]
    pix = cube.data[:, r, c]
    mix = spectra.T @ ab.data[:, r, c]
    assert np.corrcoef(pix, mix)[0, 1] > 0.99
    assert not np.isnan(cube.data[:, valid]).any() and np.isnan(cube.data[:, ~valid]).all()


def test_demo_vectors_and_surfaces(demo_scene):
    rois = gpd.read_file(demo_scene["rois"])
    samples = gpd.read_file(demo_scene["samples"])
    assert rois.crs.to_epsg() == 32630 and samples.crs.to_epsg() == 32630
    assert set(rois["mineral"]) == set(MINERALS) and rois["roi_id"].is_unique
    xrd = rois[[f"xrd_{m}" for m in MINERALS]].to_numpy()
    np.testing.assert_allclose(xrd.sum(axis=1), 100, atol=1e-6 * 100 + 0.05)
    # each ROI's labelled mineral is its largest XRD phase
    assert (np.array(list(MINERALS))[xrd.argmax(axis=1)] == rois["mineral"].to_numpy()).mean() > 0.9
    assert 150 <= len(samples) <= 400 and set(ELEMENTS) <= set(samples.columns)
    assert {"x", "y", "depth_m"} <= set(samples.columns)
    assert (samples[list(ELEMENTS)].to_numpy() > 0).all()
    top = read_cube(demo_scene["surface_top"], require_wavelengths=False).data[0]
    base = read_cube(demo_scene["surface_base"], require_wavelengths=False).data[0]
    assert (top - base >= 0.5 - 1e-4).all() and (top - base).max() > 8


def test_grades_follow_mineralogy(demo_scene):
    ab = read_cube(demo_scene["truth_abundance"], require_wavelengths=False).data
    gr = read_cube(demo_scene["truth_grades"], require_wavelengths=False).data
    valid = ~np.isnan(gr[0])
    names = list(MINERALS)
    ca = gr[ELEMENTS.index("Ca_ppm")][valid]
    assert np.corrcoef(ca, ab[names.index("calcite")][valid])[0, 1] > 0.8
    s = gr[ELEMENTS.index("S_ppm")][valid]
    sulphates = ab[names.index("gypsum")] + ab[names.index("jarosite")] + ab[names.index("alunite")]
    assert np.corrcoef(s, sulphates[valid])[0, 1] > 0.9


def test_same_seed_same_rasters_other_seed_differs(tmp_path):
    small = dict(size=96, n_samples=150)
    one = make_demo(str(tmp_path / "one"), seed=0, **small)
    again = make_demo(str(tmp_path / "again"), seed=0, **small)
    other = make_demo(str(tmp_path / "other"), seed=1, **small)
    for key in ("cube", "truth_abundance", "truth_grades", "surface_top"):
        assert read_cube(again[key], require_wavelengths=False).data.tobytes() == \
            read_cube(one[key], require_wavelengths=False).data.tobytes()
    assert read_cube(other["cube"]).data.tobytes() != read_cube(one["cube"]).data.tobytes()
    assert gpd.read_file(again["samples"]).drop(columns="geometry").equals(
        gpd.read_file(one["samples"]).drop(columns="geometry"))


def test_shipped_library_subset():
    names, wl, fwhm, refl = usgs_library()
    assert refl.shape == (len(names), 224) and len(names) >= 100
    assert np.all(np.diff(wl) > 0) and wl[0] > 383 and wl[-1] < 2509
    for sample in MINERALS.values():
        assert any(n.startswith(sample) for n in names), sample
