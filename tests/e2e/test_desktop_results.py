"""Desktop QGIS under Xvfb: results of a batch run (Processing's batch dialog) load styled and named as
from the toolbox; the truth and predicted class maps give each mineral one code, name and colour; the
plugin menu's "Open 3D view…" opens PyVista in its own process while QGIS keeps running, and says so
without a display. Each run saves screenshots in its tmp folder."""
import os
import re

import pytest
from conftest import qgis_process_env
from test_desktop_qgis import run_desktop

CROPS = ([30, 190, 70, 70], [190, 30, 70, 70])  # xoff, yoff, width, height: two pieces of the demo cube


@pytest.fixture(scope="module")
def mineral_model(remine_processing, demo_scene, tmp_path_factory):
    """An LDA classifier trained on the demo cube under the demo ROIs (.rmodel path)."""
    import processing

    alg = remine_processing.algorithm("trainclassifier")
    path = str(tmp_path_factory.mktemp("model") / "minerals.rmodel")
    processing.run(alg, {"CUBE": demo_scene["cube"], "ROIS": demo_scene["rois"], "N_SPLITS": 3,
                         "METHOD": alg.parameterDefinition("METHOD").options().index("lda"), "OUTPUT_MODEL": path})
    return path


BATCH = '''
MODEL = {model!r}
CROPS = {crops!r}

def classes(layer):
    """{{label: [code, colour]}} of a paletted layer."""
    return {{c.label: [c.value, c.color.name()] for c in layer.renderer().classes()}}

def fill_batch(dialog, rows):
    """Type ``rows`` ([{{parameter: value}}]) into the batch dialog's table as a user would."""
    from processing.tools import dataobjects
    panel, context = dialog.mainWidget(), dataobjects.createContext()
    while panel.batchRowCount() < len(rows):
        panel.addRow()
    for row, values in enumerate(rows):
        for key, value in values.items():
            column = panel.parameter_to_column[key]
            if dialog.algorithm().parameterDefinition(key).isDestination():
                panel.tblParameters.cellWidget(row + 1, column).setValue(value)
            else:
                panel.wrappers[row][column].setParameterValue(value, context)
    return panel

def probe():
    import processing
    from osgeo import gdal
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    scene = os.path.join(TMP, "scene")
    processing.runAndLoadResults("remine:createdemodata", {{"OUTPUT": scene, "SEED": 0}})
    project = QgsProject.instance()
    demo = set(project.mapLayers())
    rows = []
    for k, window in enumerate(CROPS):
        crop = os.path.join(TMP, f"crop{{k}}.tif")
        gdal.Translate(crop, os.path.join(scene, "cube.tif"), srcWin=window)
        rows.append({{"MODEL": MODEL, "INPUT": crop, "OUTPUT": os.path.join(TMP, f"class{{k}}.tif"),
                     "PROBABILITIES": os.path.join(TMP, f"proba{{k}}.tif")}})
    dialog = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("remine:predictraster"),
                                  iface.mainWindow())
    panel = fill_batch(dialog, rows)
    panel.checkLoadLayersOnCompletion.setChecked(True)   # "Load layers on completion": off by default in 3.22
    dialog.show()
    dialog.runAlgorithm()                      # what the dialog's Run button does
    from qgis.PyQt.QtWidgets import QTextEdit
    OUT["log"] = dialog.findChild(QTextEdit, "txtLog").toPlainText()
    shot("batch_dialog.png", dialog)
    dialog.close()
    by_name = lambda name: [l for l in project.mapLayers().values() if l.name() == name]
    OUT["batch"] = [dict(layer_facts(l), source=l.source()) for k, l in project.mapLayers().items() if k not in demo]
    for facts in OUT["batch"]:   # the class map of the same row (classK.tif next to probaK.tif)
        twin = [l for l in by_name("Predicted class") if l.source() == facts["source"].replace("proba", "class")]
        facts["predicted"] = classes(twin[0]) if twin else None
    truth = by_name("Truth – dominant mineral")[0]
    OUT["truth"] = classes(truth)
    OUT["predicted"] = [classes(l) for l in by_name("Predicted class")]
    rois = by_name("ROIs (mineral)")[0]
    OUT["rois"] = {{c.label(): c.symbol().color().name() for c in rois.renderer().categories()}}
    root = project.layerTreeRoot()
    for layer in project.mapLayers().values():   # the two maps side by side: truth, predicted pieces above it
        root.findLayer(layer.id()).setItemVisibilityChecked(
            layer.name() in ("Truth – dominant mineral", "Predicted class"))
    iface.mapCanvas().setExtent(truth.extent())
    iface.mapCanvas().refresh()
    shot("truth_and_predicted_classes.png")
'''


def test_batch_results_load_styled_and_share_mineral_codes(tmp_path, demo_scene, mineral_model):
    """A batch run of remine:predictraster from Processing's batch dialog (two rows): every result loads
    styled and named as from the toolbox; the demo truth and the predicted maps, both loaded styled, give
    every mineral the same code, legend name and colour (so do the ROIs' categories)."""
    env = qgis_process_env()
    env["HOME"] = str(tmp_path / "home")
    got = run_desktop(tmp_path, BATCH.format(model=mineral_model, crops=[list(c) for c in CROPS]), env)
    loaded = sorted((re.sub(r"– \w+ \(", "– * (", layer["name"]), layer["renderer"],
                     os.path.basename(layer["source"])) for layer in got["batch"])
    assert loaded == [("Predicted class", "paletted", "class0.tif"), ("Predicted class", "paletted", "class1.tif"),
                      ("Probability – * (largest mean of 9 classes)", "singlebandpseudocolor", "proba0.tif"),
                      ("Probability – * (largest mean of 9 classes)", "singlebandpseudocolor", "proba1.tif")]
    assert "Batch execution completed" in got["log"] and "not correctly generated" not in got["log"], got["log"]
    truth, minerals = got["truth"], sorted(got["rois"])
    for layer in got["batch"]:
        # the map shows first; the probabilities of the likeliest class on average (band "P(<mineral>)"),
        # named after it, on a ramp whose top is the mineral's colour in the truth and predicted maps
        assert layer["checked"] == (layer["renderer"] == "paletted"), layer
        if layer["renderer"] == "singlebandpseudocolor":
            mineral = layer["band_name"][2:-1]
            assert layer["name"].startswith(f"Probability – {mineral} (") and mineral in minerals
            assert layer["top"] == truth[mineral][1] == layer["predicted"][mineral][1]
            assert layer["legend"][0] == "p = 0" and layer["legend"][-1] == "p = 1"
            assert layer["ramp_legend"] == ["p = ", ""]
    assert {layer["band"][0] for layer in got["batch"] if layer["renderer"] == "singlebandpseudocolor"} != {1}
    assert len(minerals) == 9 and sorted(truth) == minerals          # no "no data" entry in the legend
    assert [truth[m][0] for m in minerals] == list(range(1, 10))
    assert len(got["predicted"]) == 2
    for predicted in got["predicted"]:
        assert predicted == truth                                     # label -> (code, colour), every mineral
    assert {m: truth[m][1] for m in minerals} == got["rois"]
    for png in ("batch_dialog.png", "truth_and_predicted_classes.png"):
        assert os.path.getsize(tmp_path / png) > 10_000


VIEW = '''
MODEL = {model!r}

def probe():
    import signal
    from qgis.utils import plugins
    from qgis.PyQt.QtCore import QTimer
    OUT["menu"] = remine_menu()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(100)
    process = plugins["remine"].open_3d_view(MODEL)     # Plugins > remine > Open 3D view... with the file chosen
    wait(8)                                             # the viewer starts (VTK, OpenGL) while QGIS keeps running
    OUT["ticks"] = len(ticks)
    OUT["viewer_pid"] = process.pid
    OUT["qgis_pid"] = os.getpid()
    OUT["running"] = process.poll() is None
    QApplication.primaryScreen().grabWindow(0).save(os.path.join(TMP, "open_3d_view.png"))
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)
    OUT["stderr"] = process.stderr.read().decode(errors="replace")[-2000:]
    display = os.environ.pop("DISPLAY")
    OUT["no_display"] = plugins["remine"].open_3d_view(MODEL)
    os.environ["DISPLAY"] = display
    OUT["bar"] = [item.text() for item in iface.messageBar().items() if item.title() == "remine"]
    shot("open_3d_view_no_display.png")
'''


def test_open_3d_view_runs_outside_qgis(tmp_path):
    """Plugins ▸ remine ▸ Open 3D view… on a real .vti: a separate process shows the model while QGIS's
    event loop keeps running; without a display, a message bar says so and nothing starts."""
    import numpy as np
    import pyvista as pv

    grid = pv.ImageData(dimensions=(9, 7, 5), spacing=(5.0, 5.0, 0.5), origin=(500000.0, 5559900.0, 100.0))
    grid.cell_data["Zn_ppm"] = np.linspace(100, 900, grid.n_cells)
    grid.cell_data["fraction"] = np.ones(grid.n_cells)
    model = str(tmp_path / "model.vti")
    grid.save(model)
    env = qgis_process_env()
    env["HOME"] = str(tmp_path / "home")
    got = run_desktop(tmp_path, VIEW.format(model=model), env)
    assert "Open 3D view…" in got["menu"]
    assert got["viewer_pid"] != got["qgis_pid"]
    assert got["running"], got["stderr"]                 # the window was still open after 8 s
    assert got["ticks"] >= 40                            # ≥ 4 of the 8 s: QGIS's event loop was never blocked
    with pytest.raises(ProcessLookupError):
        os.kill(got["viewer_pid"], 0)                    # terminated by the probe, not left behind
    assert got["no_display"] is None
    assert any("no display" in text for text in got["bar"]), got["bar"]
    for png in ("open_3d_view.png", "open_3d_view_no_display.png"):
        assert os.path.getsize(tmp_path / png) > 10_000
