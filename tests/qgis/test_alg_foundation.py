"""Provider, base algorithm and the first algorithms through real QGIS (processing.run)."""
import json
import os

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from remine.core.raster import read_cube

EXPECTED = {"createdemodata", "spectralsubset"}


def test_provider_lists_algorithms_with_help(remine_processing):
    algs = {a.name(): a for a in remine_processing.algorithms()}
    assert EXPECTED <= set(algs)
    for alg in algs.values():
        if alg.name() in EXPECTED or alg.provider().id() == "remine":
            assert alg.displayName() and alg.group()
            help_text = alg.shortHelpString() or ""
            if not alg.name().endswith("model3"):
                assert "Inputs" in help_text and "Outputs" in help_text and "Reference" in help_text, alg.name()


def test_spectral_subset_through_processing(remine_processing, demo_scene, tmp_path):
    import processing

    out = str(tmp_path / "subset.tif")
    res = processing.run("remine:spectralsubset", {"INPUT": demo_scene["cube"], "MIN_WAVELENGTH": 400,
                                                   "MAX_WAVELENGTH": 2450, "DROP_WATER_BANDS": True,
                                                   "OUTPUT": out})
    assert res["OUTPUT"] == out
    assert not os.path.exists(out + ".aux.xml")  # the passport reads the CRS without computing histograms
    cube = read_cube(out)
    wl = cube.wavelengths_nm
    assert wl.min() >= 400 and wl.max() <= 2450
    assert not ((wl >= 1340) & (wl <= 1460)).any() and not ((wl >= 1790) & (wl <= 1960)).any()
    full = read_cube(demo_scene["cube"])
    keep = [list(full.wavelengths_nm).index(w) for w in wl]
    assert cube.data.tobytes() == full.data[keep].tobytes()
    layer = QgsRasterLayer(out, "subset")
    assert layer.isValid() and layer.bandCount() == len(wl)
    passport = json.load(open(out + ".passport.json"))
    assert passport["algorithm"] == "remine:spectralsubset"
    assert passport["metrics"]["bands_out"] == len(wl)
    assert passport["inputs"][0]["parameter"] == "INPUT" and len(passport["inputs"][0]["sha256"]) == 64
    assert passport["crs"] == "EPSG:32630"


def test_passport_records_every_parameter_with_its_effective_value(remine_processing, demo_scene, tmp_path):
    """Parameters left out of the call are recorded with the default the algorithm used."""
    import processing

    out = str(tmp_path / "abund.tif")
    processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 3, "METHOD": 1,
                                    "MINERALS": "kaolinite,calcite,gypsum", "OUTPUT": out})
    passport = json.load(open(out + ".passport.json"))
    alg = QgsApplication.processingRegistry().algorithmById("remine:unmix")
    params = passport["parameters"]
    assert set(params) == {p.name() for p in alg.parameterDefinitions()}
    assert params["METHOD"] == 1 and params["LEVEL"] == 0.9 and params["INTERVALS"] is True
    assert params["NORMALISE"] is False and params["N_ENDMEMBERS"] == 0 and params["OUTPUT"] == out
    assert passport["metrics"]["group_field"] == "mineral"  # the shipped library's bundles, as the dialog says


def test_input_error_becomes_processing_exception_and_writes_nothing(remine_processing, demo_scene, tmp_path):
    import processing

    out = str(tmp_path / "subset.tif")
    with pytest.raises(QgsProcessingException, match="no band of .* lies in 3000.0–4000.0 nm"):
        processing.run("remine:spectralsubset", {"INPUT": demo_scene["cube"], "MIN_WAVELENGTH": 3000,
                                                 "MAX_WAVELENGTH": 4000, "OUTPUT": out})
    assert os.listdir(tmp_path) == []


def test_cancel_stops_cleanly(remine_processing, demo_scene, tmp_path):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    out = str(tmp_path / "subset.tif")
    with pytest.raises(QgsProcessingException, match="cancelled by the user: no output was written"):
        processing.run("remine:spectralsubset", {"INPUT": demo_scene["cube"], "OUTPUT": out}, feedback=feedback)
    assert os.listdir(tmp_path) == []  # a cancel is a failure: no output, no hidden part file


def test_create_demo_data_outputs_load_styled(remine_processing, tmp_path):
    import processing

    res = processing.run("remine:createdemodata", {"OUTPUT": str(tmp_path / "scene"), "SEED": 3})
    for key in ("CUBE", "TRUTH_ABUNDANCE", "TRUTH_CLASS", "TRUTH_GRADES", "SURFACE_TOP", "SURFACE_BASE"):
        assert QgsRasterLayer(res[key], key).isValid(), key
    layer = QgsRasterLayer(res["TRUTH_CLASS"], "classes")
    assert layer.renderer().type() == "paletted"                       # loaded from the .qml side-car
    labels = [c.label for c in layer.renderer().classes()]
    assert labels[:3] == ["alunite", "calcite", "chlorite"]   # codes 1, 2, 3: the mineral names sorted
    for path in os.listdir(tmp_path / "scene"):
        if path.endswith((".tif", ".gpkg")):
            assert os.path.exists(tmp_path / "scene" / (path + ".passport.json")), path


def test_plugin_class_factory_registers_provider(qgis_iface):
    import remine

    registry = QgsApplication.processingRegistry()
    before = registry.providerById("remine")
    plugin = remine.classFactory(qgis_iface)
    if before is None:
        plugin.initProcessing()
        assert registry.providerById("remine") is not None
        plugin.unload()
        assert registry.providerById("remine") is None
