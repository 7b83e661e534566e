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
