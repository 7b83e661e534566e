"""Run reports and catalogues from passports (no QGIS): lineage, file checks, truth scores, STAC."""
import json
import os
import shutil

import pytest
from conftest import PASSPORT_TIME as NOW
from conftest import passport_for

from remine.core.errors import InputError
from remine.core.report.passport import read_passport, spatial_extent
from remine.core.report.run import load_run
from remine.core.report.run_report import build_report


def test_passport_carries_lineage_extent_and_uncertainty(passport_run):
    run, out, _ = passport_run
    passport = read_passport(out)
    cube = str(run / "scene" / "cube.tif")
    assert passport["inputs"][0]["passport"] == cube + ".passport.json"
    assert [a["algorithm"] for a in passport["lineage"]] == ["remine:createdemodata"]
    assert passport["lineage"][0]["output"]["path"] == cube
    ext = passport["extent"]
    assert ext["crs"] == "EPSG:32630" and (ext["width"], ext["height"], ext["bands"]) == (300, 300, 27)
    assert ext["bbox"] == [500000.0, 5560000.0 - 150.0, 500150.0, 5560000.0]
    west, south, east, north = ext["bbox_wgs84"]          # UTM 30N, 500 km E = central meridian 3° W
    assert -3.001 < west < east < -2.99 and 50.1 < south < north < 50.2
    assert passport["uncertainty"]["kind"] == "prediction intervals"


def test_lineage_reaches_back_through_generations(passport_run, tmp_path):
    run, out, _ = passport_run
    child = str(tmp_path / "child.tif")
    shutil.copy(out, child)
    passport_for(child, "remine:closecomposition", {"INPUT": out})
    lineage = read_passport(child)["lineage"]
    assert sorted(a["algorithm"] for a in lineage) == ["remine:createdemodata", "remine:unmix"]
    assert all("lineage" not in a for a in lineage)


def test_spatial_extent_of_vectors_and_non_spatial_files(demo_scene, tmp_path):
    ext = spatial_extent(demo_scene["samples"])
    assert ext["features"] == 250 and ext["crs"] == "EPSG:32630"
    note = tmp_path / "model.json"
    note.write_text("{}")
    assert spatial_extent(str(note)) is None


def test_report_scores_abundances_against_the_truth(passport_run, tmp_path):
    run, _, expected = passport_run
    result = build_report(str(run), str(tmp_path / "report.html"))
    summary = result["summary"]
    assert summary["abundance RMSE against the truth (% points)"] == pytest.approx(expected["rmse"], rel=0.02)
    assert summary["abundance interval coverage (mean)"] == pytest.approx(expected["coverage"], abs=0.01)
    assert result["problems"] == []
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "data:image/png;base64," in page and "abundances.tif" in page
    assert "http://" not in page and "https://" not in page


def test_report_says_which_files_moved_or_changed(passport_run, tmp_path):
    run, out, _ = passport_run
    moved = tmp_path / "elsewhere"
    shutil.move(str(run), str(moved))                       # the whole run moved
    with open(moved / "scene" / "truth_abundance.tif", "ab") as f:  # and one file was modified
        f.write(b"\0")
    result = build_report(str(moved), str(tmp_path / "report.html"))
    problems = {(p["problem"], os.path.basename(p["file"]), p["role"]) for p in result["problems"]}
    assert ("moved", "abundances.tif", "output") in problems
    assert ("moved", "cube.tif", "input INPUT of abundances.tif") in problems
    assert ("modified", "truth_abundance.tif", "output") in problems
    detail = next(p["detail"] for p in result["problems"] if p["role"] == "input INPUT of abundances.tif")
    assert detail == f"now at {moved / 'scene' / 'cube.tif'}"
    page = (tmp_path / "report.html").read_text()
    assert "are not as their passports say" in page and "modified" in page


def test_report_of_a_list_of_outputs_and_bad_inputs(passport_run, tmp_path):
    run, out, _ = passport_run
    assert [e.name for e in load_run([out]).entries] == ["abundances.tif"]
    with pytest.raises(InputError, match="no passport for .*cube_copy.tif"):
        shutil.copy(run / "scene" / "cube.tif", tmp_path / "cube_copy.tif")
        load_run([str(tmp_path / "cube_copy.tif")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no passport .* found under"):
        load_run(str(empty))
    broken = tmp_path / "x.tif.passport.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not a valid passport"):
        load_run([str(broken)])
    os.remove(broken)


def test_stac_catalogue_validates_and_is_searchable(passport_run, tmp_path):
    pystac = pytest.importorskip("pystac")
    from remine.core.report.catalog import export_catalog

    run, out, _ = passport_run
    result = export_catalog(str(run), str(tmp_path / "stac"))
    assert result["items"] == 3
    catalog = pystac.Catalog.from_file(result["catalog"])
    assert catalog.validate() and catalog.validate_all() == 3   # the catalogue, then its three items
    items = {i.properties["title"]: i for i in catalog.get_items(recursive=True)}
    unmixed = items["abundances.tif"]
    assert unmixed.properties["remine:algorithm"] == "remine:unmix"
    assert unmixed.properties["remine:passport"]["inputs"][0]["path"].endswith("cube.tif")
    assert unmixed.bbox == read_passport(out)["extent"]["bbox_wgs84"]
    assert unmixed.datetime == NOW
    data = unmixed.assets["data"]
    assert os.path.samefile(data.get_absolute_href(), out)
    with open(result["catalog"]) as f:
        assert "abundances" in json.dumps(json.load(f))
    # a search by place and algorithm, as a catalogue client would do it
    hits = [i for i in catalog.get_items(recursive=True)
            if i.properties["remine:algorithm"] == "remine:unmix" and i.bbox[0] < -2.999 < i.bbox[2]]
    assert [i.id for i in hits] == [unmixed.id]
