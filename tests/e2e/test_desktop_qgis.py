"""The plugin loads in desktop QGIS (Xvfb), registers its toolbox provider and shows its algorithms."""
import json
import os
import shutil
import subprocess

from conftest import ROOT, qgis_process_env

PROBE = """
import json
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.utils import plugins, iface

def probe():
    reg = QgsApplication.processingRegistry()
    prov = reg.providerById("remine")
    out = {"plugin": "remine" in plugins, "provider": prov is not None,
           "algorithms": sorted(a.name() for a in prov.algorithms()) if prov else [],
           "window": iface.mainWindow().windowTitle()}
    with open(RESULT, "w") as f:
        json.dump(out, f)
    QgsApplication.instance().exitQgis()
    QgsApplication.instance().quit()

QTimer.singleShot(3000, probe)
"""


def test_plugin_loads_in_desktop_qgis(tmp_path):
    assert shutil.which("xvfb-run"), "xvfb-run missing: run make setup"
    profiles = tmp_path            # QGIS keeps profiles in <profiles-path>/profiles/<name>
    ini = profiles / "profiles" / "default" / "QGIS"
    ini.mkdir(parents=True)
    (ini / "QGIS3.ini").write_text("[PythonPlugins]\nremine=true\n")
    result = tmp_path / "result.json"
    script = tmp_path / "probe.py"
    script.write_text(f"RESULT = {str(result)!r}\n" + PROBE)
    env = qgis_process_env()
    env.pop("QT_QPA_PLATFORM")
    env["QGIS_PLUGINPATH"] = os.path.join(ROOT, "build", "qgis-plugins")
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "qgis", "--nologo", "--noversioncheck",
                          "--profiles-path", str(profiles), "--code", str(script)],
                         capture_output=True, text=True, env=env, timeout=240)
    assert result.exists(), run.stderr[-3000:]
    got = json.loads(result.read_text())
    assert got["plugin"] and got["provider"], (got, run.stderr[-3000:])
    assert {"createdemodata", "spectralsubset"} <= set(got["algorithms"])
