"""Every algorithm's help reads as the dialog shows it: whole paragraphs, intact lists, a reference, short;
labels do not say "optional" (QGIS adds "[optional]"); unmix runs on its first click with a cube only."""
import re

import processing
import pytest


def visible_text(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_help_paragraphs_lists_reference(remine_processing):
    for alg in remine_processing.algorithms():
        if alg.id().startswith("remine:") and hasattr(alg, "HELP"):
            text = alg.shortHelpString()
            paragraphs = text.split("\n")   # QGIS shows each line as one paragraph
            assert len(paragraphs) <= 8, (alg.id(), len(paragraphs))
            for tag in ("ul", "li", "b", "i"):
                assert text.count(f"<{tag}>") == text.count(f"</{tag}>"), (alg.id(), tag)
            for paragraph in paragraphs:   # a list never spans paragraphs
                assert paragraph.count("<ul>") == paragraph.count("</ul>"), (alg.id(), paragraph[:80])
            assert "Reference" in text, alg.id()
            assert len(visible_text(text)) <= 2000, (alg.id(), len(visible_text(text)))


def test_labels_leave_optional_to_qgis(remine_processing):
    for alg in remine_processing.algorithms():
        for p in alg.parameterDefinitions():
            assert "optional" not in p.description().lower(), (alg.id(), p.name(), p.description())


def test_unmix_first_click(remine_processing, demo_scene, tmp_path):
    """Only the cube given: the default endmember source is the shipped library, and it runs."""
    from osgeo import gdal

    small = str(tmp_path / "small.tif")
    gdal.Translate(small, demo_scene["cube"], srcWin=[150, 150, 12, 12])
    out = processing.run("remine:unmix", {"INPUT": small, "OUTPUT": str(tmp_path / "ab.tif")})
    ds = gdal.Open(out["OUTPUT"])
    names = [ds.GetRasterBand(b + 1).GetDescription() for b in range(ds.RasterCount)]
    assert "kaolinite" in names


def test_error_uses_the_dialog_labels(remine_processing, demo_scene, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="Spectral library file"):
        processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 0,
                                        "OUTPUT": str(tmp_path / "ab.tif")})
    assert not (tmp_path / "ab.tif").exists()
    # core's own checks, worded with core's argument names, reach the dialog with its labels
    with pytest.raises(QgsProcessingException) as hybrid:   # 250 demo samples: too few for 400 neighbours
        processing.run("remine:hybridkriging", {"INPUT": demo_scene["samples"], "FIELD": "Zn_ppm",
                                                "TEMPLATE": demo_scene["truth_grades"], "N_NEIGHBORS": 400,
                                                "OUTPUT": str(tmp_path / "zn.tif"),
                                                "OUTPUT_STD": str(tmp_path / "sd.tif"),
                                                "OUTPUT_REPORT": str(tmp_path / "zn.html")})
    assert "“Neighbours per sequence” = 400" in str(hybrid.value) and "n_neighbors" not in str(hybrid.value)
    with pytest.raises(QgsProcessingException) as volume:
        processing.run("remine:tailingsvolume", {"TOP": demo_scene["surface_top"], "BASE": demo_scene["surface_base"],
                                                 "SAMPLES": demo_scene["samples"], "GRADE_FIELD": "Zn_ppm",
                                                 "DEPTH_FIELD": "depth", "OUTPUT_FOLDER": str(tmp_path / "volume")})
    assert str(volume.value).startswith("“Depth field (m below the top)” 'depth' not found"), str(volume.value)
    assert "depth_m" in str(volume.value)                      # the fields there are
    assert not {p.name for p in tmp_path.iterdir()} & {"zn.tif", "sd.tif", "zn.html", "volume"}
