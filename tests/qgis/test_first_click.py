"""Every remine algorithm runs on its first click: the parameters are the dialog's defaults (destinations as
the dialog sets them: temporary outputs, optional ones skipped unless created by default) plus only the
inputs it requires, taken from the demo scene (a 40 x 40-pixel piece of its cube where a cube suffices) or
from the outputs of algorithms run before it; results load through Processing as from the toolbox, styled
and named."""
import json
import os
import time

import processing
from qgis.core import (
    QgsApplication,
    QgsMapLayerType,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProject,
)

CROP = [150, 150, 40, 40]  # xoff, yoff, width, height of the demo cube piece
N_SOME = 50  # the first demo samples for the hybrid model: its default report trains ensembles on 5 spatial folds
#: algorithms whose results are cubes (shown as RGB, like the input cube)
CUBES = {"spectralsubset", "continuumremoval", "preprocesscube", "resampletosensor"}
XRD = ",".join(f"xrd_{m}" for m in ("alunite", "calcite", "chlorite", "goethite", "gypsum", "jarosite", "kaolinite",
                                     "montmorillonite", "muscovite"))
#: algorithm (without "remine:") -> its required inputs, from the scene ``s`` and earlier results ``r``
#: (in this order: later algorithms take earlier results)
INPUTS = {
    "createdemodata": lambda s, r: {},
    "spectralsubset": lambda s, r: {"INPUT": s["crop"]},
    "continuumremoval": lambda s, r: {"INPUT": s["crop"]},
    "preprocesscube": lambda s, r: {"INPUT": s["crop"]},
    "resampletosensor": lambda s, r: {"INPUT": s["crop"]},
    "absorptionfeature": lambda s, r: {"INPUT": s["crop"]},
    "extractendmembers": lambda s, r: {"INPUT": s["crop"]},
    "unmix": lambda s, r: {"INPUT": s["crop"]},
    "calibrateintervals": lambda s, r: {"INPUT": r["unmix"]["OUTPUT"], "REFERENCES": s["references"]},
    "importspectrallibrary": lambda s, r: {"RASTER": s["CUBE"], "ROIS": s["ROIS"]},
    "fusespectra": lambda s, r: {"VNIR_SWIR": r["importspectrallibrary"]["OUTPUT"],
                                 "FTIR": r["importspectrallibrary"]["OUTPUT"], "LABEL_FIELD": "mineral"},
    "buildtrainingset": lambda s, r: {"INPUT": s["CUBE"], "ROIS": s["ROIS"]},
    "trainclassifier": lambda s, r: {"TRAINING_SET": r["buildtrainingset"]["OUTPUT"]},
    "trainregressor": lambda s, r: {"CUBE": s["CUBE"], "ROIS": s["ROIS"], "TARGET_FIELDS": XRD},
    "predictraster": lambda s, r: {"MODEL": r["trainclassifier"]["OUTPUT_MODEL"], "INPUT": s["crop"]},
    "evaluatemodel": lambda s, r: {"MODEL": r["trainclassifier"]["OUTPUT_MODEL"],
                                   "TEST_SET": r["buildtrainingset"]["OUTPUT"]},
    "crmclassmap": lambda s, r: {"CUBE": s["CUBE"], "ROIS": s["ROIS"]},
    "closecomposition": lambda s, r: {"INPUT": [predicted(r["trainregressor"]["OUTPUT_MODEL"], s["crop"])]},
    "variogram": lambda s, r: {"INPUT": s["SAMPLES"], "FIELD": "Zn_ppm"},
    "ordinarykriging": lambda s, r: {"INPUT": s["SAMPLES"], "FIELD": "Zn_ppm"},
    "krigingcrossvalidation": lambda s, r: {"INPUT": s["SAMPLES"], "FIELD": "Zn_ppm"},
    "externaldriftkriging": lambda s, r: {"INPUT": s["SAMPLES"], "FIELD": "Zn_ppm", "DRIFT": [s["SURFACE_TOP"]]},
    "hybridkriging": lambda s, r: {"INPUT": s["some_samples"], "FIELD": "Zn_ppm"},
    "tailingsvolume": lambda s, r: {"TOP": s["SURFACE_TOP"], "BASE": s["SURFACE_BASE"], "SAMPLES": s["holes"],
                                    "GRADE_FIELD": "Zn_ppm", "DEPTH_FIELD": "depth_m"},
    "report": lambda s, r: {"INPUT": s["OUTPUT"]},
    "exportcatalog": lambda s, r: {"INPUT": s["OUTPUT"]},
    "mineral_map_workflow": lambda s, r: {"cube": s["CUBE"], "rois": s["ROIS"]},
    "abundance_workflow": lambda s, r: {"cube": s["crop"]},
    "grade_map_workflow": lambda s, r: {"samples": s["SAMPLES"], "template": s["TRUTH_GRADES"]},
    "grade_map_hybrid_workflow": lambda s, r: {"samples": s["some_samples"], "template": s["TRUTH_GRADES"]},
    "tailings_tonnage_workflow": lambda s, r: {"top": s["SURFACE_TOP"], "base": s["SURFACE_BASE"],
                                               "samples": s["holes"]},
}


def predicted(model, cube):
    """The map of a trained regressor over ``cube`` (closecomposition's input)."""
    return processing.run("remine:predictraster", {"MODEL": model, "INPUT": cube,
                                                   "OUTPUT": QgsProcessing.TEMPORARY_OUTPUT})["OUTPUT"]


def references(truth_abundance, path, step=8):
    """Reference points every ``step`` pixels of the crop with the true abundances (%) as fields named
    like the minerals (what remine:calibrateintervals takes)."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import Point

    with rasterio.open(truth_abundance) as ds:
        truth = ds.read() * 100.0
        rows, cols = zip(*[(r, c) for r in range(CROP[1] + 2, CROP[1] + CROP[3], step)
                           for c in range(CROP[0] + 2, CROP[0] + CROP[2], step)])
        table = {m: truth[k, rows, cols] for k, m in enumerate(ds.descriptions)}
        table["geometry"] = [Point(ds.xy(r, c)) for r, c in zip(rows, cols)]
        gpd.GeoDataFrame(table, crs=ds.crs).to_file(path, driver="GPKG")
    return path


def dialog_parameters(alg, required):
    """What the algorithm dialog runs with when only ``required`` is filled in."""
    params = {}
    for p in alg.parameterDefinitions():
        if p.flags() & QgsProcessingParameterDefinition.FlagHidden:
            continue
        if p.isDestination():
            if p.createByDefault() or not p.flags() & QgsProcessingParameterDefinition.FlagOptional:
                params[p.name()] = QgsProcessing.TEMPORARY_OUTPUT
        elif p.defaultValue() is not None:
            params[p.name()] = p.defaultValue()
    params.update(required)
    return params


def layer_facts(layer):
    """Name, renderer type and band count of a loaded layer."""
    renderer = layer.renderer()
    return {"name": layer.name(), "renderer": renderer.type() if renderer else None,
            "bands": layer.bandCount() if layer.type() == QgsMapLayerType.RasterLayer else 0}


def test_every_algorithm_runs_on_its_first_click(remine_processing, tmp_path):
    """Each algorithm succeeds; each raster result that is not a cube loads with a paletted or pseudocolour
    renderer (never grey or RGB) under a name that says what it holds, not the output's label."""
    import geopandas as gpd
    from osgeo import gdal

    assert sorted(INPUTS) == sorted(a.id().split(":")[1] for a in remine_processing.algorithms())
    project = QgsProject.instance()
    project.clear()
    scene, results, timings, loaded = {}, {}, {}, {}
    for name, required in INPUTS.items():
        before = set(project.mapLayers())
        start = time.perf_counter()
        alg = QgsApplication.processingRegistry().createAlgorithmById(f"remine:{name}")
        results[name] = processing.runAndLoadResults(alg, dialog_parameters(alg, required(scene, results)))
        timings[name] = round(time.perf_counter() - start, 1)
        labels = {d.description() for d in alg.destinationParameterDefinitions()}
        loaded[name] = [dict(layer_facts(layer), label=layer.name() in labels)
                        for key, layer in project.mapLayers().items() if key not in before]
        if name == "createdemodata":
            scene.update(results[name])
            scene["crop"] = str(tmp_path / "crop.tif")
            gdal.Translate(scene["crop"], scene["CUBE"], srcWin=CROP)
            scene["holes"] = os.path.join(scene["OUTPUT"], "holes.gpkg")
            scene["references"] = references(scene["TRUTH_ABUNDANCE"], str(tmp_path / "references.gpkg"))
            scene["some_samples"] = str(tmp_path / "some_samples.gpkg")
            gpd.read_file(scene["SAMPLES"]).head(N_SOME).to_file(scene["some_samples"], driver="GPKG")
    (tmp_path / "first_click.json").write_text(json.dumps({"seconds": timings, "layers": loaded}, indent=1))
    project.clear()
    for name, layers in loaded.items():
        for layer in layers:
            if name in CUBES or layer["name"] == "Reflectance cube (224 bands)":   # the demo's cube
                assert layer["renderer"] == "multibandcolor", (name, layer)
            elif layer["bands"]:
                assert layer["renderer"] in ("paletted", "singlebandpseudocolor"), (name, layer)
            assert not layer["label"], (name, layer)
    styled = {name for name, layers in loaded.items() if layers}
    assert styled >= {"createdemodata", "unmix", "calibrateintervals", "predictraster", "crmclassmap",
                      "closecomposition", "absorptionfeature", "ordinarykriging", "externaldriftkriging",
                      "hybridkriging", "tailingsvolume", "mineral_map_workflow", "abundance_workflow",
                      "grade_map_workflow", "grade_map_hybrid_workflow", "tailings_tonnage_workflow"}, loaded
