"""core.volume.pipeline: the whole model on the 3D demo, and bad input (clear errors, nothing written)."""
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError, RemineWarning
from remine.core.volume.demo3d import TruthField
from remine.core.volume.grid import read_surface
from remine.core.volume.pipeline import read_samples, tailings_volume


def test_pipeline_kriging_only_against_truth(demo_scene, tmp_path):
    out = tmp_path / "model"
    res = tailings_volume(demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm",
                          str(out), depth_field="depth_m", voxel_size=10.0, voxel_height=1.0, n_realisations=0,
                          cutoffs=[500, 900], render=False)
    table = pd.read_csv(res["tonnage_csv"])
    assert list(table.columns) == ["cutoff", "tonnes", "mean_grade", "metal"]
    s = res["summary"]
    assert s["grid"][1:] == [15, 15] and s["sample_problems"]["above_top"] == []
    # kriged tonnage against the truth voxel grades: kriging smooths (fewer tonnes above the high cut-off)
    from remine.core.volume import VoxelGrid, grade_tonnage

    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], 10.0, 10.0, 1.0)
    truth = grade_tonnage(grid, grid.full(TruthField(0).grade(grid.centres())), 1.8, [500, 900])
    rel = table.tonnes / truth.tonnes - 1
    assert abs(rel[0]) < 0.2 and rel[1] < 0.1, rel
    assert sorted(os.listdir(out)) == sorted(["grade_tonnage.csv", "grade_tonnage.png", "grade_slices.tif",
                                              "variance_slices.tif", "footprint.gpkg", "model.json"])


def test_pipeline_bad_input(demo_scene, tmp_path):
    out = tmp_path / "bad"
    top, base, holes = demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"]
    with pytest.raises(InputError, match="samples have no depth"):
        tailings_volume(top, base, holes, "Zn_ppm", str(out))
    with pytest.raises(InputError, match="depth field 'nope' not found"):
        tailings_volume(top, base, holes, "Zn_ppm", str(out), depth_field="nope")
    with pytest.raises(InputError, match=r"more than the limit.*GiB.*50 realisations"):
        tailings_volume(top, base, holes, "Zn_ppm", str(out), depth_field="depth_m", voxel_size=0.5,
                        voxel_height=0.01)
    # samples above the top are listed and left out; constant grades are refused
    gdf = gpd.read_file(holes)
    gdf.loc[:2, "depth_m"] = -30.0
    gdf["flat"] = 5.0
    moved = str(tmp_path / "moved.gpkg")
    gdf.to_file(moved, driver="GPKG")
    with pytest.raises(InputError, match="the flat is constant"):
        tailings_volume(top, base, moved, "flat", str(out), depth_field="depth_m", voxel_size=10, voxel_height=1)
    res = tailings_volume(top, base, moved, "Zn_ppm", str(out), depth_field="depth_m", voxel_size=10,
                          voxel_height=1, n_realisations=0, render=False)
    assert res["summary"]["sample_problems"]["above_top"] == ["0", "1", "2"]
    assert np.isfinite(res["table"].tonnes).all()


def test_samples_z_field_and_3d_geometry(demo_scene, tmp_path):
    """The three ways to give a sample's elevation agree: depth below the top (the top's pixel at the sample minus
    the depth), a z field, and the z of 3D point geometries (the demo's z_m = top pixel - depth before the depth
    was rounded to 1 mm)."""
    holes = gpd.read_file(demo_scene["holes"])
    top = read_surface(demo_scene["surface_top"], "top")
    by_depth, v_depth, _, crs = read_samples(demo_scene["holes"], "Zn_ppm", top, depth_field="depth_m", crs=top.crs)
    by_field, v_field, _, _ = read_samples(demo_scene["holes"], "Zn_ppm", top, z_field="z_m")
    np.testing.assert_array_equal(by_field[:, 2], holes.z_m)
    np.testing.assert_allclose(by_depth, by_field, rtol=0, atol=1e-3)
    assert np.array_equal(v_depth, v_field) and crs == top.crs
    pointz = gpd.GeoDataFrame(holes[["hole_id", "Zn_ppm"]],
                              geometry=gpd.points_from_xy(holes.x, holes.y, holes.z_m), crs=holes.crs)
    path = str(tmp_path / "holes3d.gpkg")
    pointz.to_file(path, driver="GPKG")
    by_geom, v_geom, _, _ = read_samples(path, "Zn_ppm", top)
    np.testing.assert_array_equal(by_geom, by_field)
    with pytest.raises(InputError, match="z field 'nope' not found"):
        read_samples(path, "Zn_ppm", top, z_field="nope")
    # the whole model from 3D geometries equals the one from the z field
    kw = dict(voxel_size=10.0, voxel_height=1.0, n_realisations=0, cutoffs=[500, 900], render=False)
    scene = (demo_scene["surface_top"], demo_scene["surface_base"])
    geom = tailings_volume(*scene, path, "Zn_ppm", str(tmp_path / "geom"), **kw)
    field = tailings_volume(*scene, demo_scene["holes"], "Zn_ppm", str(tmp_path / "field"), z_field="z_m", **kw)
    assert geom["summary"]["n_samples"] == len(holes) and geom["summary"]["sample_problems"]["above_top"] == []
    pd.testing.assert_frame_equal(geom["table"], field["table"])


def test_samples_in_another_crs_than_the_surfaces_are_reprojected(demo_scene, tmp_path):
    """Samples in UTM 31N beside surfaces in UTM 30N: reprojected to the surfaces' CRS (said), at the same
    positions within 1 mm, and so the same model as from the samples stored in UTM 30N."""
    moved = str(tmp_path / "holes_32631.gpkg")
    gpd.read_file(demo_scene["holes"]).to_crs("EPSG:32631").to_file(moved, driver="GPKG")
    top = read_surface(demo_scene["surface_top"], "top")
    with pytest.warns(RemineWarning, match="samples reprojected from EPSG:32631 to the surfaces CRS EPSG:32630"):
        xyz, values, _, crs = read_samples(moved, "Zn_ppm", top, depth_field="depth_m", crs=top.crs)
    ref, ref_values, _, _ = read_samples(demo_scene["holes"], "Zn_ppm", top, depth_field="depth_m", crs=top.crs)
    np.testing.assert_allclose(xyz, ref, rtol=0, atol=1e-3)
    assert np.array_equal(values, ref_values) and crs == top.crs
    kw = dict(depth_field="depth_m", voxel_size=10.0, voxel_height=1.0, n_realisations=0, cutoffs=[500, 900],
              render=False)
    scene = (demo_scene["surface_top"], demo_scene["surface_base"])
    with pytest.warns(RemineWarning, match="samples reprojected"):
        got = tailings_volume(*scene, moved, "Zn_ppm", str(tmp_path / "moved"), **kw)
    want = tailings_volume(*scene, demo_scene["holes"], "Zn_ppm", str(tmp_path / "ref"), **kw)
    pd.testing.assert_frame_equal(got["table"], want["table"], rtol=1e-6)


def test_pipeline_hybrid_model_against_truth(demo_scene, tmp_path):
    """Voxel grades by the hybrid model (small ensemble, few epochs) on the 3D demo: a correction of kriging,
    tonnage against the truth voxel grades as for kriging, variance from the calibrated standard deviation."""
    from remine.core.volume import VoxelGrid, grade_tonnage

    kw = dict(depth_field="depth_m", voxel_size=10.0, voxel_height=1.0, n_realisations=0, cutoffs=[500, 900],
              render=False)
    scene = (demo_scene["surface_top"], demo_scene["surface_base"], demo_scene["holes"], "Zn_ppm")
    hybrid = tailings_volume(*scene, str(tmp_path / "hybrid"), estimator="hybrid",
                             hybrid_options={"n_ensemble": 2, "max_epochs": 10}, **kw)
    kriged = tailings_volume(*scene, str(tmp_path / "kriged"), **kw)
    s = hybrid["summary"]
    assert s["estimator"] == "hybrid" and s["hybrid"]["members"] == 2 and 0 < s["hybrid"]["oof_coverage"] <= 1
    grid = VoxelGrid.from_surfaces(demo_scene["surface_top"], demo_scene["surface_base"], 10.0, 10.0, 1.0)
    truth = grade_tonnage(grid, grid.full(TruthField(0).grade(grid.centres())), 1.8, [500, 900])
    rel = hybrid["table"].tonnes / truth.tonnes - 1
    assert abs(rel[0]) < 0.2 and rel[1] < 0.1, rel
    import rasterio

    with rasterio.open(hybrid["grade_slices"]) as h, rasterio.open(kriged["grade_slices"]) as k:
        a, b = h.read(), k.read()
    inside = np.isfinite(b)
    assert np.isfinite(a[inside]).all() and not np.array_equal(a[inside], b[inside])   # the network corrected
    assert np.corrcoef(a[inside], b[inside])[0, 1] > 0.8                                 # kriging, not replaced it
    with rasterio.open(hybrid["variance_slices"]) as v:
        var = v.read()
    assert (var[inside] > 0).all()
    with pytest.raises(InputError, match=r"estimator 'cnn' unknown; expected one of \['kriging', 'hybrid'\]"):
        tailings_volume(*scene, str(tmp_path / "bad"), estimator="cnn", **kw)


def test_pipeline_hybrid_without_torch_is_a_dependency_error_and_writes_nothing(demo_scene, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "hybrid"
    code = ("import sys; sys.modules['torch'] = None\n"
            "from remine.core.errors import DependencyError\n"
            "from remine.core.volume.pipeline import tailings_volume\n"
            "try:\n"
            f"    tailings_volume({demo_scene['surface_top']!r}, {demo_scene['surface_base']!r}, "
            f"{demo_scene['holes']!r}, 'Zn_ppm', {str(out)!r}, depth_field='depth_m', voxel_size=10.0, "
            "voxel_height=1.0, n_realisations=0, render=False, estimator='hybrid')\n"
            "except DependencyError as e:\n"
            "    print('OK', e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert "OK the Python package 'torch' (CNN classifiers, hybrid kriging" in run.stdout, run.stderr[-2000:]
    assert "Check dependencies" in run.stdout and "pip install 'remine[deep]'" in run.stdout
    assert not out.exists() or os.listdir(out) == []
