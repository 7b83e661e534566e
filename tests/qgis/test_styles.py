"""The QGIS styles remine writes, as QGIS reads them: a stack of per-mineral shares (abundance %, class
probability, demo fraction) shows the band of largest mean share on a ramp whose top colour is that mineral's
colour in the class maps (truth and predicted), and its legend says the unit."""
import numpy as np
import pytest
import rasterio
from osgeo import gdal
from qgis.core import QgsRasterLayer


def palette(path):
    """``{label: colour name}`` of a paletted class map as QGIS loads it (default style)."""
    layer = QgsRasterLayer(path, "classes")
    assert layer.renderer().type() == "paletted"
    return {c.label: c.color.name() for c in layer.renderer().classes()}


def shown(path):
    """What QGIS shows of ``path`` (default style): band, band name, ramp colours, item labels, ramp legend."""
    layer = QgsRasterLayer(path, "shares")
    renderer = layer.renderer()
    assert renderer.type() == "singlebandpseudocolor"
    shader = renderer.shader().rasterShaderFunction()
    settings = shader.legendSettings()          # the layer panel's continuous ramp legend (QgsColorRampLegendNode)
    assert settings.useContinuousLegend()
    legend = (settings.prefix(), settings.suffix())
    band = renderer.band()
    return {"band": band, "name": descriptions(path)[band - 1],
            "top": shader.colorRampItemList()[-1].color.name(), "range": (shader.minimumValue(),
                                                                    shader.maximumValue()),
            "items": [label for label, _ in renderer.legendSymbologyItems()],
            "legend": legend}


def descriptions(path):
    with rasterio.open(path) as ds:
        return list(ds.descriptions)


def largest_mean(path, n):
    """1-based band of largest mean over the valid cells among the first ``n`` bands (read whole)."""
    with rasterio.open(path) as ds:
        data = ds.read(list(range(1, n + 1)), masked=True).astype("float64").filled(np.nan)
    return int(np.nanargmax(np.nanmean(data.reshape(n, -1), axis=1))) + 1


@pytest.fixture(scope="module")
def crop(demo_scene, tmp_path_factory):
    """A 40 x 40 px piece of the demo cube (the desktop test's), where alunite (band 1 of an abundance raster
    whose minerals are sorted) is nearly absent."""
    path = str(tmp_path_factory.mktemp("styles") / "crop.tif")
    gdal.Translate(path, demo_scene["cube"], srcWin=[150, 150, 40, 40])
    return path


def test_demo_truth_fractions_show_the_largest_mineral_in_its_class_colour(demo_scene):
    got, colours = shown(demo_scene["truth_abundance"]), palette(demo_scene["truth_class"])
    assert got["band"] == largest_mean(demo_scene["truth_abundance"], 9)
    assert got["top"] == colours[got["name"]]
    assert got["range"] == (0, 1) and got["legend"] == ("", " (fraction)")
    assert got["items"][0] == "0 (fraction)" and got["items"][-1] == "1 (fraction)"


def test_abundances_show_the_largest_mineral_in_its_class_colour(remine_processing, demo_scene, crop, tmp_path):
    import processing

    out = str(tmp_path / "abundances.tif")
    processing.run("remine:unmix", {"INPUT": crop, "ENDMEMBER_SOURCE": 3, "INTERVALS": False, "OUTPUT": out})
    n = descriptions(out).index("rmse")                              # the mineral bands come first
    got = shown(out)
    assert n > 9 and got["band"] == largest_mean(out, n) and got["band"] != 1
    assert got["top"] == palette(demo_scene["truth_class"])[got["name"]]   # one colour everywhere
    assert got["range"] == (0, 100) and got["legend"] == ("", " %")
    assert got["items"][0] == "0 %" and got["items"][-1] == "100 %"


def test_probabilities_show_the_likeliest_class_in_its_class_colour(remine_processing, demo_scene, crop,
                                                                     tmp_path):
    import processing

    alg = remine_processing.algorithm("trainclassifier")
    model = str(tmp_path / "minerals.rmodel")
    processing.run(alg, {"CUBE": demo_scene["cube"], "ROIS": demo_scene["rois"], "N_SPLITS": 3,
                         "METHOD": alg.parameterDefinition("METHOD").options().index("lda"), "OUTPUT_MODEL": model})
    out = {k: str(tmp_path / f"{k}.tif") for k in ("classes", "proba")}
    processing.run("remine:predictraster", {"MODEL": model, "INPUT": crop, "OUTPUT": out["classes"],
                                            "PROBABILITIES": out["proba"]})
    got, predicted = shown(out["proba"]), palette(out["classes"])
    assert got["band"] == largest_mean(out["proba"], 9) and got["band"] != 1
    mineral = got["name"][2:-1]                                       # "P(kaolinite)"
    assert got["top"] == predicted[mineral] == palette(demo_scene["truth_class"])[mineral]
    assert got["range"] == (0, 1) and got["legend"] == ("p = ", "")
    assert got["items"][0] == "p = 0" and got["items"][-1] == "p = 1"


def test_kriging_ramps_say_the_unit_of_the_field(remine_processing, demo_scene, tmp_path):
    """Zn_ppm kriged from the toolbox: the prediction's legend reads ppm, the variance's ppm² (from 0)."""
    import processing

    out = {k: str(tmp_path / f"{k}.tif") for k in ("zn", "zn_var")}
    processing.run("remine:ordinarykriging", {"INPUT": demo_scene["samples"], "FIELD": "Zn_ppm",
                                              "TEMPLATE": demo_scene["cube"], "OUTPUT": out["zn"],
                                              "OUTPUT_VARIANCE": out["zn_var"]})
    grade, variance = shown(out["zn"]), shown(out["zn_var"])
    assert grade["legend"] == ("", " ppm") and grade["items"][-1].endswith(" ppm")
    assert variance["legend"] == ("", " ppm²") and variance["range"][0] == 0
    assert float(grade["items"][-1].split()[0]) == pytest.approx(grade["range"][1], rel=1e-3)


def test_the_unit_comes_from_the_field_name():
    from remine.core.raster.style import quantity, unit_suffix

    assert quantity("Zn_ppm") == ("Zn", "ppm") and quantity("Cu_pct") == ("Cu", "pct")
    assert quantity("logzn") == ("logzn", "") and quantity("z_2") == ("z_2", "") and quantity(None) == ("", "")
    assert unit_suffix("Zn_ppm") == " ppm" and unit_suffix("Zn_ppm", "²") == " ppm²" and unit_suffix("logzn") == ""
