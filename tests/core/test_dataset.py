"""build_training_set / TrainingSet on small real GeoTIFF + GeoPackage files written here."""
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box

from remine.core.errors import InputError
from remine.core.learn import TrainingSet, build_training_set
from remine.core.progress import Progress
from remine.core.raster import write_raster

X0, Y0 = 500000.0, 4000000.0  # UTM 33N, 1 m pixels, 20 x 20
CRS = "EPSG:32633"
WL = np.array([500.0, 800.0, 1200.0, 1600.0, 2200.0, 2350.0])


class Collect(Progress):
    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def scene(tmp_path):
    """Cube whose band 0 = row, band 1 = col, bands 2.. = constants; three ROIs."""
    rows, cols = np.mgrid[0:20, 0:20].astype(np.float32)
    data = np.stack([rows, cols] + [np.full((20, 20), 0.1 * (b + 1), np.float32) for b in range(4)])
    data[:, 0, 0] = np.nan  # a nodata pixel inside ROI 3
    grid = {"width": 20, "height": 20, "transform": Affine(1, 0, X0, 0, -1, Y0), "crs": CRS}
    cube = write_raster(str(tmp_path / "cube.tif"), data, grid, wavelengths_nm=WL)
    rois = gpd.GeoDataFrame(
        {"roi_id": [1, 2, 3], "mineral": ["kaolinite", "alunite", "kaolinite"], "Zn_ppm": [120.0, 40.0, 300.0]},
        geometry=[box(X0 + 2, Y0 - 6, X0 + 5, Y0 - 2),     # cols 2-4, rows 2-5: 12 px
                  box(X0 + 10, Y0 - 12, X0 + 12, Y0 - 10),  # cols 10-11, rows 10-11: 4 px
                  box(X0, Y0 - 2, X0 + 2, Y0)],             # cols 0-1, rows 0-1: 4 px, one nodata
        crs=CRS)
    path = str(tmp_path / "rois.gpkg")
    rois.to_file(path, driver="GPKG")
    return {"cube": cube, "rois": path, "frame": rois, "tmp": tmp_path}


def test_classification_pixels_labels_groups_coords(scene):
    ts = build_training_set(scene["cube"], scene["rois"], label_field="mineral")
    assert ts.X.shape == (12 + 4 + 3, 6) and ts.X.dtype == np.float32
    assert ts.is_classification and ts.classes == ["alunite", "kaolinite"]
    np.testing.assert_array_equal(np.bincount(ts.groups), [0, 12, 4, 3])
    assert set(ts.y[ts.groups == 2]) == {"alunite"}
    # coords are pixel centres and match the row/col encoded in bands 0/1
    np.testing.assert_allclose(ts.coords[:, 0], X0 + ts.X[:, 1] + 0.5)
    np.testing.assert_allclose(ts.coords[:, 1], Y0 - ts.X[:, 0] - 0.5)
    np.testing.assert_allclose(ts.wavelengths_nm, WL)
    summary = ts.summary()
    assert list(summary["class"]) == ["alunite", "kaolinite"]
    assert list(summary["n_pixels"]) == [4, 15] and list(summary["n_rois"]) == [1, 2]


def test_patches_fill_outside_and_nodata_with_centre(scene):
    ts = build_training_set(scene["cube"], scene["rois"], label_field="mineral", patch_size=3)
    assert ts.X.shape == (19, 6, 3, 3) and ts.patch_size == 3
    np.testing.assert_array_equal(ts.X[:, :, 1, 1], build_training_set(
        scene["cube"], scene["rois"], label_field="mineral").X)
    assert np.isfinite(ts.X).all()
    inner = ts.X[ts.groups == 2][0]  # pixel row 10, col 10: neighbours rows 9-11, cols 9-11
    np.testing.assert_array_equal(inner[0], [[9] * 3, [10] * 3, [11] * 3])
    np.testing.assert_array_equal(inner[1], [[9, 10, 11]] * 3)
    corner = ts.X[(ts.groups == 3) & (ts.X[:, 0, 1, 1] == 0)][0]  # row 0, col 1: row -1 and (0,0) missing
    np.testing.assert_array_equal(corner[1], [[1, 1, 1], [1, 1, 2], [0, 1, 2]])


def test_regression_from_lab_table_and_unknown_ids(scene):
    lab = scene["tmp"] / "lab.csv"
    pd.DataFrame({"roi_id": [1, 2, 3], "xrd_kaolinite": [40.0, 2.0, 35.0], "Cu_ppm": [10.0, 20.0, 30.0]}).to_csv(
        lab, index=False)
    ts = build_training_set(scene["cube"], scene["rois"], lab_table=str(lab))
    assert not ts.is_classification and ts.target_names == ["xrd_kaolinite", "Cu_ppm"]
    assert ts.y.shape == (19, 2)
    np.testing.assert_array_equal(ts.y[ts.groups == 2], [[2.0, 20.0]] * 4)
    assert list(ts.summary()["target"]) == ["xrd_kaolinite", "Cu_ppm"]
    one = build_training_set(scene["cube"], scene["rois"], target_fields=["Zn_ppm"])
    assert one.y.shape == (19,) and set(one.y[one.groups == 3]) == {300.0}

    pd.DataFrame({"roi_id": [1, 7, 9], "Zn_ppm": [1.0, 2.0, 3.0]}).to_csv(lab, index=False)
    with pytest.raises(InputError, match=r"lab table ids that match no ROI 'roi_id': 7, 9"):
        build_training_set(scene["cube"], scene["rois"], lab_table=str(lab))


def test_roi_layer_in_other_crs_is_reprojected_with_warning(scene):
    other = scene["tmp"] / "rois_wgs84.gpkg"
    scene["frame"].to_crs("EPSG:4326").to_file(other, driver="GPKG")
    progress = Collect()
    ts = build_training_set(scene["cube"], str(other), label_field="mineral", progress=progress)
    assert any("EPSG:4326" in w and "reprojected" in w for w in progress.warnings)
    assert np.bincount(ts.groups)[2] == 4


def test_roi_outside_raster_and_empty_roi_are_named(scene):
    frame = scene["frame"].copy()
    frame.loc[1, "geometry"] = box(X0 + 100, Y0 - 100, X0 + 110, Y0 - 90)
    with pytest.raises(InputError, match=r"ROIs outside the raster extent .*: 2;"):
        build_training_set(scene["cube"], frame, label_field="mineral")
    frame = scene["frame"].copy()
    frame.loc[2, "geometry"] = box(X0 + 5.1, Y0 - 5.4, X0 + 5.4, Y0 - 5.1)  # covers no pixel centre
    with pytest.raises(InputError, match=r"ROIs without any valid pixel .*: 3;"):
        build_training_set(scene["cube"], frame, label_field="mineral")


def test_bad_arguments(scene):
    with pytest.raises(InputError, match="give label_field"):
        build_training_set(scene["cube"], scene["rois"])
    with pytest.raises(InputError, match="has no field.*lithology"):
        build_training_set(scene["cube"], scene["rois"], label_field="lithology")
    with pytest.raises(InputError, match="patch_size must be an odd"):
        build_training_set(scene["cube"], scene["rois"], label_field="mineral", patch_size=2)


def test_max_pixels_per_roi_is_seeded(scene):
    a = build_training_set(scene["cube"], scene["rois"], label_field="mineral", max_pixels_per_roi=3, seed=1)
    b = build_training_set(scene["cube"], scene["rois"], label_field="mineral", max_pixels_per_roi=3, seed=1)
    np.testing.assert_array_equal(np.bincount(a.groups), [0, 3, 3, 3])
    np.testing.assert_array_equal(a.X, b.X)


def test_save_load_roundtrip_and_bad_paths(scene):
    ts = build_training_set(scene["cube"], scene["rois"], label_field="mineral", patch_size=3)
    path = str(scene["tmp"] / "train.h5")
    assert ts.save(path) == path
    back = TrainingSet.load(path)
    for name in ("X", "y", "groups", "coords", "wavelengths_nm"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ts, name))
    assert back.y.dtype.kind == "U" and back.classes == ts.classes and back.crs == ts.crs
    assert back.metadata["label_field"] == "mineral" and back.metadata["patch_size"] == 3
    with pytest.raises(InputError, match="output folder does not exist"):
        ts.save(str(scene["tmp"] / "missing" / "t.h5"))
    assert not os.path.exists(scene["tmp"] / "missing")
    with pytest.raises(InputError, match="not an HDF5 file"):
        TrainingSet.load(scene["rois"])


def test_augment_is_seeded_and_keeps_groups(scene):
    ts = build_training_set(scene["cube"], scene["rois"], label_field="mineral")
    a = ts.augment(n_copies=2, seed=3)
    b = ts.augment(n_copies=2, seed=3)
    c = ts.augment(n_copies=2, seed=4)
    assert a.X.shape == (57, 6) and a.metadata["augmented"]["n_copies"] == 2
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.X[:19], ts.X)
    np.testing.assert_array_equal(a.groups, np.tile(ts.groups, 3))
    np.testing.assert_array_equal(a.y, np.tile(ts.y, 3))
    unshifted = ts.augment(n_copies=2, shift_nm=0, seed=3).X[19:, 2:]  # bands equal in every pixel:
    ratio = unshifted / np.tile(ts.X[:, 2:], (2, 1))  # mixing changes nothing; brightness 10 %, noise 0.005
    assert np.all(np.abs(ratio - 1) < 0.1 + 5 * 0.005 / 0.1)
    none = ts.augment(n_copies=1, brightness=0, noise=0, shift_nm=0, mix=0)
    np.testing.assert_allclose(none.X[19:], ts.X)


def test_augment_wavelength_shift_is_linear_interpolation():
    wl = np.array([100.0, 200.0, 300.0])
    ts = TrainingSet(X=np.array([[0.0, 1.0, 2.0]], np.float32), y=np.array([1.0]), groups=np.array([1]),
                     coords=np.zeros((1, 2)), wavelengths_nm=wl)
    out = ts.augment(brightness=0, noise=0, mix=0, shift_nm=50, seed=0)
    shift = np.random.default_rng(0).uniform(-50, 50, 1)[0]
    expected = np.interp(np.clip(wl + shift, 100, 300), wl, [0, 1, 2])
    np.testing.assert_allclose(out.X[1], expected, atol=1e-6)


def test_normalised_methods(scene):
    ts = build_training_set(scene["cube"], scene["rois"], label_field="mineral", patch_size=3)
    snv = ts.normalised("snv")
    centre = snv.X[:, :, 1, 1]
    np.testing.assert_allclose(centre.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(centre.std(axis=1), 1, atol=1e-4)
    std = ts.normalised("standard")
    np.testing.assert_allclose(std.X.transpose(0, 2, 3, 1).reshape(-1, 6).mean(axis=0), 0, atol=1e-5)
    assert len(std.metadata["normalisation"]["mean"]) == 6
    with pytest.raises(InputError, match="normalisation method"):
        ts.normalised("minmax")


def test_empty_geometry_is_named(scene):
    frame = scene["frame"].copy()
    frame.loc[0, "geometry"] = box(0, 0, 1, 1).buffer(-5)  # empty polygon
    with pytest.raises(InputError, match="ROIs with empty geometry: 1;"):
        build_training_set(scene["cube"], frame, label_field="mineral")


def test_demo_scene_regression_targets(demo_scene, tmp_path):
    """The lead's demo: rois.gpkg carries XRD % and assay ppm per ROI (targets constant within a ROI)."""
    ts = build_training_set(demo_scene["cube"], demo_scene["rois"], target_fields=["xrd_kaolinite", "Zn_ppm"],
                            max_pixels_per_roi=10, seed=0)
    assert ts.y.shape == (len(ts.X), 2) and ts.target_names == ["xrd_kaolinite", "Zn_ppm"]
    assert ts.X.shape[1] == 224 and np.all(np.diff(ts.wavelengths_nm) > 0)
    for g in np.unique(ts.groups):
        assert len(np.unique(ts.y[ts.groups == g], axis=0)) == 1
    back = TrainingSet.load(ts.save(str(tmp_path / "demo.h5")))
    np.testing.assert_array_equal(back.y, ts.y)
    summary = back.summary()
    assert list(summary["target"]) == ["xrd_kaolinite", "Zn_ppm"] and summary["n_rois"].iloc[0] == 27


def test_roi_reads_grouped_or_one_by_one_give_the_same_pixels(scene):
    from remine.core.raster import raster_info
    from remine.core.spectra.rois import read_roi_pixels, read_rois

    layer = read_rois(scene["rois"], raster_info(scene["cube"]).crs)
    together = read_roi_pixels(scene["cube"], layer, patch_size=3)
    apart = read_roi_pixels(scene["cube"], layer, patch_size=3, max_bytes=1)  # one read per ROI
    for a, b in zip(together, apart):
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.coords, b.coords)


def test_text_roi_ids_join_a_geopackage_lab_table(scene):
    frame = scene["frame"].assign(roi_id=["A-1", "B-7", "C-3"])
    lab = gpd.GeoDataFrame({"roi_id": ["C-3", "A-1", "B-7"], "Cu_ppm": [30.0, 10.0, np.nan]},
                           geometry=gpd.points_from_xy([0, 0, 0], [0, 0, 0]), crs=CRS)
    lab_path = str(scene["tmp"] / "lab.gpkg")
    lab.to_file(lab_path, driver="GPKG")
    progress = Collect()
    ts = build_training_set(scene["cube"], frame, lab_table=lab_path, target_fields=["Cu_ppm"], progress=progress)
    assert any("B-7" in w and "dropped" in w for w in progress.warnings)  # NaN assay: ROI dropped, said so
    labels = ts.metadata["roi_id_labels"]
    assert sorted(labels.values()) == ["A-1", "B-7", "C-3"]
    by_label = {labels[str(g)]: set(ts.y[ts.groups == g]) for g in np.unique(ts.groups)}
    assert by_label == {"A-1": {10.0}, "C-3": {30.0}}
