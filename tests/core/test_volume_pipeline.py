"""core.volume.pipeline: the whole model on the 3D demo, and bad input (clear errors, nothing written)."""
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError
from remine.core.volume.demo3d import TruthField
from remine.core.volume.pipeline import tailings_volume


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
    assert "OK optional dependency 'torch' is not installed" in run.stdout, run.stderr[-2000:]
    assert "pip install 'remine[deep]'" in run.stdout
    assert not out.exists() or os.listdir(out) == []
