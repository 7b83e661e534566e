#!/usr/bin/env python3
"""README screenshots from desktop QGIS under Xvfb: ``scripts/screenshots.py [OUT_DIR]`` (default docs/img).

Starts QGIS with this checkout's plugin and the project venv in a throwaway profile, builds the demo scene,
kriges Zn, unmixes a piece of the cube and maps its minerals with a classifier trained on the ROIs from the
toolbox API (``processing.runAndLoadResults``, as a click on Run would), then saves ``toolbox.png`` (the
remine toolbox groups), ``unmix_dialog.png`` (an algorithm dialog with its help) and ``styled_outputs.png``
(results loaded styled and named: the predicted piece over the truth map, in the same mineral colours).
Needs ``make setup``; ``make screenshots`` runs it. Exits non-zero when the run in QGIS fails or a picture
is missing.
"""
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = ("styled_outputs.png", "toolbox.png", "unmix_dialog.png")

PROBE = '''
import os, traceback
from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QEventLoop, QTimer
from qgis.PyQt.QtWidgets import QApplication, QDockWidget
from qgis.utils import iface, plugins


def wait(seconds):
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def shot(name, widget=None):
    QApplication.processEvents()
    wait(2)
    (widget or iface.mainWindow()).grab().save(os.path.join(OUT, name))
    print("wrote", os.path.join(OUT, name))


def run():
    import processing
    from osgeo import gdal
    iface.mainWindow().resize(1400, 860)
    from remine.plugin.demo_project import create_demo_project
    create_demo_project(iface, folder=os.path.join(WORK, "scene"))   # Plugins > remine > Create demo project
    scene = {key: os.path.join(WORK, "scene", name) for key, name in (
        ("CUBE", "cube.tif"), ("SAMPLES", "samples.gpkg"), ("TRUTH_GRADES", "truth_grades.tif"))}
    processing.runAndLoadResults("remine:ordinarykriging", {
        "INPUT": scene["SAMPLES"], "FIELD": "Zn_ppm", "TEMPLATE": scene["TRUTH_GRADES"],
        "OUTPUT": os.path.join(WORK, "zn.tif"), "OUTPUT_VARIANCE": os.path.join(WORK, "zn_variance.tif")})
    part = os.path.join(WORK, "cube_part.tif")
    gdal.Translate(part, scene["CUBE"], srcWin=[100, 100, 120, 120])
    processing.runAndLoadResults("remine:unmix", {"INPUT": part, "ENDMEMBER_SOURCE": 3, "INTERVALS": False,
                                                  "OUTPUT": os.path.join(WORK, "abundances.tif")})
    model = processing.run("remine:trainclassifier", {
        "CUBE": scene["CUBE"], "ROIS": os.path.join(WORK, "scene", "rois.gpkg"), "N_SPLITS": 3,
        "OUTPUT_MODEL": os.path.join(WORK, "minerals.rmodel")})["OUTPUT_MODEL"]
    processing.runAndLoadResults("remine:predictraster", {"MODEL": model, "INPUT": part,
                                                          "OUTPUT": os.path.join(WORK, "minerals.tif")})
    root = QgsProject.instance().layerTreeRoot()
    shown = ("Predicted class", "Truth – dominant mineral", "ROIs (mineral)", "Samples – Zn (ppm)")
    for layer in QgsProject.instance().mapLayers().values():   # the predicted piece over the truth: same colours
        node = root.findLayer(layer.id())
        node.setItemVisibilityChecked(layer.name() in shown)
        node.setExpanded(layer.name() == "Predicted class")
    iface.mapCanvas().zoomToFullExtent()
    shot("styled_outputs.png")
    toolbox = plugins["processing"].toolbox
    toolbox.show()
    toolbox.searchBox.setText("remine")
    shot("toolbox.png")
    toolbox.searchBox.setText("")
    dialog = processing.createAlgorithmDialog("remine:unmix", {"INPUT": part})
    dialog.resize(1100, 700)
    dialog.show()
    shot("unmix_dialog.png", dialog)
    dialog.close()


def guarded():
    try:
        run()
    except Exception:
        traceback.print_exc()
        os._exit(1)   # the run failed: make screenshots fails too
    os._exit(0)


QTimer.singleShot(3000, guarded)
'''


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="remine-shots-")
    ini = os.path.join(work, "profiles", "default", "QGIS")
    os.makedirs(ini)
    with open(os.path.join(ini, "QGIS3.ini"), "w") as f:
        f.write("[PythonPlugins]\nremine=true\n")
    script = os.path.join(work, "shots.py")
    with open(script, "w") as f:
        f.write(f"OUT = {os.path.abspath(out_dir)!r}\nWORK = {work!r}\n" + textwrap.dedent(PROBE))
    venv_site = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, QGIS_PLUGINPATH=os.path.join(ROOT, "build", "qgis-plugins"), PYTHONPATH=venv_site,
               PROJ_DATA="/usr/share/proj", HOME=os.path.join(work, "home"), PATH="/usr/bin:/bin")
    env.pop("QT_QPA_PLATFORM", None)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1440x900x24", "qgis", "--nologo", "--noversioncheck",
           "--profiles-path", work, "--code", script]
    code = subprocess.run(cmd, env=env, timeout=900).returncode
    missing = [name for name in SHOTS if not os.path.isfile(os.path.join(out_dir, name))]
    if code or missing:
        print(f"screenshots failed (QGIS exit status {code}; missing: {', '.join(missing) or 'none'})",
              file=sys.stderr)
        return code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "img")))
