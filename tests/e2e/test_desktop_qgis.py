"""Desktop QGIS under Xvfb, driven as an analyst would: the plugin menu, results loaded from the toolbox API
(styled, named, grouped), and a QGIS whose Python has only Debian's packages (no modal error, a message bar,
every algorithm registered, Install missing, then an algorithm runs). Each run saves screenshots in its tmp
folder."""
import json
import os
import re
import shutil
import subprocess
import textwrap

from conftest import ROOT, qgis_process_env

HARNESS = '''
import json, os, traceback
from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer, QEventLoop
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface
OUT = {}

def save():
    with open(os.path.join(TMP, "result.json"), "w") as f:
        json.dump(OUT, f, indent=1)

def finish():
    save()
    os._exit(0)   # exitQgis() from a running desktop QGIS aborts (also without remine)

def wait(seconds):
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()

def shot(name, widget=None):
    QApplication.processEvents()
    wait(1.5)
    (widget or iface.mainWindow()).grab().save(os.path.join(TMP, name))

def remine_menu():
    for action in iface.pluginMenu().actions():
        if action.menu() is not None and action.text().replace("&", "") == "remine":
            return [a.text() for a in action.menu().actions()]
    return []

def layer_facts(layer):
    facts = {"name": layer.name(), "renderer": layer.renderer().type() if layer.renderer() else None}
    node = QgsProject.instance().layerTreeRoot().findLayer(layer.id())
    facts["checked"] = node.itemVisibilityChecked() if node is not None else None
    if hasattr(layer, "legendSymbologyItems"):
        facts["legend"] = [label for label, _ in layer.legendSymbologyItems()]
        facts["band"] = layer.renderer().usesBands()
    if facts["renderer"] == "paletted":
        facts["classes"] = {c.label: c.color.name() for c in layer.renderer().classes()}
    if facts["renderer"] == "singlebandpseudocolor":   # the ramp's top colour, the layer panel's ramp legend
        shader = layer.renderer().shader().rasterShaderFunction()
        facts["top"] = shader.colorRampItemList()[-1].color.name()
        facts["ramp_legend"] = [shader.legendSettings().prefix(), shader.legendSettings().suffix()]
        from osgeo import gdal
        dataset = gdal.Open(layer.source())
        facts["band_name"] = dataset.GetRasterBand(facts["band"][0]).GetDescription()
    return facts

def guarded():
    try:
        probe()
    except Exception:
        OUT["error"] = traceback.format_exc()
    finish()

QTimer.singleShot(2500, guarded)
'''


def run_desktop(tmp_path, probe, env, timeout=300):
    """Start desktop QGIS (fresh profile under ``tmp_path``) with ``probe`` (defines ``probe()``); its OUT dict."""
    assert shutil.which("xvfb-run"), "xvfb-run missing: run make setup"
    ini = tmp_path / "profiles" / "default" / "QGIS"
    ini.mkdir(parents=True)
    (ini / "QGIS3.ini").write_text("[PythonPlugins]\nremine=true\n")
    script = tmp_path / "probe.py"
    script.write_text(f"TMP = {str(tmp_path)!r}\n" + textwrap.dedent(probe) + HARNESS)
    env = dict(env, QGIS_PLUGINPATH=os.path.join(ROOT, "build", "qgis-plugins"))
    env.pop("QT_QPA_PLATFORM", None)
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1440x900x24", "qgis", "--nologo", "--noversioncheck",
                          "--profiles-path", str(tmp_path), "--code", str(script)],
                         capture_output=True, text=True, env=env, timeout=timeout)
    result = tmp_path / "result.json"
    assert result.exists(), run.stderr[-3000:]
    got = json.loads(result.read_text())
    assert "error" not in got, got["error"]
    return got


STYLED = '''
def probe():
    import processing
    from osgeo import gdal
    from qgis.core import (QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                           QgsProcessingModelChildParameterSource, QgsProcessingModelOutput,
                           QgsProcessingModelParameter, QgsProcessingParameterRasterLayer)
    OUT["menu"] = remine_menu()
    OUT["algorithms"] = len(QgsApplication.processingRegistry().providerById("remine").algorithms())
    from remine.plugin.demo_project import create_demo_project
    OUT["project"] = create_demo_project(iface, folder=os.path.join(TMP, "scene"))   # Create demo project…
    scene = {key: os.path.join(TMP, "scene", name) for key, name in (
        ("CUBE", "cube.tif"), ("SAMPLES", "samples.gpkg"), ("TRUTH_GRADES", "truth_grades.tif"))}
    group = QgsProject.instance().layerTreeRoot().findGroup("Demo tailings scene")
    OUT["group"] = [dict(layer_facts(n.layer()), visible=n.isVisible()) for n in group.children()]
    small = os.path.join(TMP, "small_cube.tif")
    gdal.Translate(small, scene["CUBE"], srcWin=[150, 150, 40, 40])
    processing.runAndLoadResults("remine:unmix", {"INPUT": small, "ENDMEMBER_SOURCE": 3, "INTERVALS": False,
                                                  "OUTPUT": os.path.join(TMP, "abundances.tif")})
    processing.runAndLoadResults("remine:ordinarykriging", {
        "INPUT": scene["SAMPLES"], "FIELD": "Zn_ppm", "TEMPLATE": scene["TRUTH_GRADES"], "N_NEIGHBORS": 16,
        "OUTPUT": os.path.join(TMP, "zn.tif"), "OUTPUT_VARIANCE": os.path.join(TMP, "zn_var.tif"),
        "CV_REPORT": os.path.join(TMP, "zn_cv.html")})
    from qgis.core import QgsSettings
    OUT["last_report"] = QgsSettings().value("remine/last_report")
    model = QgsProcessingModelAlgorithm("unmix model", "tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("cube", "cube"), QgsProcessingModelParameter("cube"))
    child = QgsProcessingModelChildAlgorithm("remine:unmix")
    child.setChildId("unmix")
    child.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter("cube")])
    for key, value in (("ENDMEMBER_SOURCE", 3), ("INTERVALS", False)):
        child.addParameterSources(key, [QgsProcessingModelChildParameterSource.fromStaticValue(value)])
    output = QgsProcessingModelOutput("abundances")
    output.setChildId("unmix")
    output.setChildOutputName("OUTPUT")
    child.setModelOutputs({"abundances": output})
    model.addChildAlgorithm(child)
    processing.runAndLoadResults(model, {"cube": small, "unmix:abundances": os.path.join(TMP, "model_ab.tif")})
    OUT["loaded"] = [layer_facts(l) for l in QgsProject.instance().mapLayers().values()
                     if group.findLayer(l.id()) is None]
    iface.mapCanvas().zoomToFullExtent()
    shot("styled_outputs.png")
    dialog = processing.createAlgorithmDialog("remine:unmix")
    dialog.show()
    shot("unmix_dialog.png", dialog)
    OUT["dialog_modal"] = dialog.isModal()
    dialog.close()
'''


def test_outputs_load_styled_and_named(tmp_path):
    """Toolbox runs and a model run: every result styled and named; the demo scene as a layer group."""
    env = qgis_process_env()
    env["HOME"] = str(tmp_path / "home")
    got = run_desktop(tmp_path, STYLED, env)
    assert got["menu"] == ["Check dependencies…", "Create demo project…", "Open last report", "Open 3D view…", "Help"]
    assert got["project"] == str(tmp_path / "scene" / "remine-demo.qgz") and os.path.isfile(got["project"])
    group = {g["name"]: g for g in got["group"]}
    assert [g["name"] for g in got["group"]][:3] == ["Samples – Zn (ppm)", "ROIs (mineral)", "Truth – dominant mineral"]
    truth = group["Truth – dominant mineral"]
    assert truth["renderer"] == "paletted" and truth["legend"][:3] == ["alunite", "calcite", "chlorite"]
    assert group["ROIs (mineral)"]["renderer"] == "categorizedSymbol"
    assert group["Samples – Zn (ppm)"]["renderer"] == "graduatedSymbol"
    assert not group["Reflectance cube (224 bands)"]["visible"]
    loaded = {layer["name"]: layer for layer in got["loaded"]}
    abundance = [layer for layer in got["loaded"] if layer["name"].startswith("Abundance – ")]
    assert len(abundance) == 2, loaded   # toolbox run and model run
    for layer in abundance:
        # one band shown, the mineral of largest mean (not band 1, alunite, ~0 % in this piece), named so, in the
        # colour the mineral has in the truth class map; the layer panel's ramp legend in %
        mineral = layer["band_name"]
        assert layer["renderer"] == "singlebandpseudocolor" and layer["band"] != [1] and layer["checked"]
        assert re.fullmatch(f"Abundance – {mineral} \\(largest mean of [0-9]+ minerals\\)", layer["name"])
        assert layer["top"] == truth["classes"][mineral]
        assert layer["legend"][0] == "0 %" and layer["legend"][-1] == "100 %" and layer["ramp_legend"] == ["", " %"]
    truth_fraction = next(g for g in got["group"] if g["name"].startswith("Truth abundance – "))
    assert truth_fraction["name"] == (f"Truth abundance – {truth_fraction['band_name']} "
                                      "(largest mean of 9 minerals, fraction)")
    assert truth_fraction["top"] == truth["classes"][truth_fraction["band_name"]]
    assert truth_fraction["ramp_legend"] == ["", " (fraction)"]
    kriged, variance = loaded["Zn kriged (ppm)"], loaded["Zn kriging variance (ppm²)"]
    assert kriged["renderer"] == variance["renderer"] == "singlebandpseudocolor"
    assert kriged["checked"] and not variance["checked"]   # the variance loads unchecked: the prediction shows
    assert got["last_report"] == str(tmp_path / "zn_cv.html")   # Plugins > remine > Open last report
    assert not got["dialog_modal"]
    for png in ("styled_outputs.png", "unmix_dialog.png"):
        assert os.path.getsize(tmp_path / png) > 10_000


NO_DEPENDENCIES = '''
def probe():
    import processing
    from qgis.core import QgsProcessingException
    from qgis.utils import plugins
    OUT["modal"] = QApplication.activeModalWidget() is not None
    OUT["dialogs"] = [w.windowTitle() for w in QApplication.topLevelWidgets()
                      if w.isVisible() and w.inherits("QDialog")]
    bar = iface.messageBar()
    OUT["bar"] = [item.text() for item in bar.items() if item.title() == "remine"]
    plugins["remine"].warn_missing_once()          # a second check in the same session: no second message
    OUT["bar_again"] = len([item for item in bar.items() if item.title() == "remine"])
    OUT["algorithms"] = sorted(a.id() for a in QgsApplication.processingRegistry().providerById("remine").algorithms())
    shot("startup_without_packages.png")
    scene = processing.run("remine:createdemodata", {"OUTPUT": os.path.join(TMP, "scene"), "SEED": 0})
    from osgeo import gdal
    small = os.path.join(TMP, "small_cube.tif")
    gdal.Translate(small, scene["CUBE"], srcWin=[150, 150, 30, 30])
    params = {"INPUT": small, "ENDMEMBER_SOURCE": 3, "INTERVALS": False, "OUTPUT": os.path.join(TMP, "ab.tif")}
    try:
        processing.run("remine:unmix", params)
    except QgsProcessingException as exc:
        OUT["error_message"] = str(exc)
    OUT["left_behind"] = os.path.exists(params["OUTPUT"])
    action = [a for a in iface.pluginMenu().actions() if a.menu() is not None and "remine" in a.text()][0]
    [a for a in action.menu().actions() if a.text().startswith("Check dependencies")][0].trigger()
    dialog = plugins["remine"].dependencies_dialog
    shot("dependencies_before.png", dialog)
    OUT["command"] = dialog.install()
    waited = 0
    while dialog.process is not None and waited < 900:
        wait(1)
        waited += 1
    OUT["exit_code"] = dialog.exit_code
    OUT["log_tail"] = dialog.log.toPlainText()[-1500:]
    OUT["summary"] = dialog.summary.text()
    OUT["install_enabled_after"] = dialog.install_button.isEnabled()
    shot("dependencies_after.png", dialog)
    processing.run("remine:unmix", params)
    OUT["ran"] = os.path.exists(params["OUTPUT"])
'''


def test_debian_only_qgis_never_blocks_then_installs(tmp_path, remine_processing):
    """Only Debian's packages: QGIS starts without a modal error, every algorithm registers, one message bar;
    running one names the package; Install missing installs into the user site, then the algorithm runs."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE")}
    env.update(HOME=str(tmp_path / "home"), PROJ_DATA="/usr/share/proj", PATH="/usr/bin:/bin",
               PIP_CACHE_DIR=os.path.join(os.path.expanduser("~"), ".cache", "remine-test-pip"))
    got = run_desktop(tmp_path, NO_DEPENDENCIES, env, timeout=1200)
    assert not got["modal"] and got["dialogs"] == [], got
    assert len(got["bar"]) == 1 and "scikit-learn" in got["bar"][0] and got["bar_again"] == 1
    assert got["algorithms"] == sorted(a.id() for a in remine_processing.algorithms())
    assert "'scikit-learn'" in got["error_message"] and "pip install" in got["error_message"]
    assert not got["left_behind"]
    assert "--user" in got["command"] and any(c.startswith("scikit-learn>=") for c in got["command"])
    assert got["exit_code"] == 0, got["log_tail"]
    assert got["summary"] == "All required packages are installed." and not got["install_enabled_after"]
    assert got["ran"]
    site = list((tmp_path / "home" / ".local" / "lib").glob("python3*/site-packages"))
    assert site and (site[0] / "sklearn").is_dir() and not (site[0] / "numpy").exists()
