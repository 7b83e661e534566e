"""Loading the provider imports no heavy package: QGIS starts as fast without scikit-learn & co. as with them,
and a QGIS whose Python lacks them still registers every algorithm (checked for real in tests/e2e)."""
import glob
import os
import re
import subprocess
import sys

from remine.processing_provider.compat import DOUBLE, INTEGER, VECTOR_POINT, WARNING

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEAVY = ("sklearn", "xgboost", "numba", "skops", "pykrige", "torch", "pyvista", "vtk", "dask", "distributed",
         "joblib", "llvmlite")

PROBE = """
import sys
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from remine.processing_provider.provider import RemineProvider
provider = RemineProvider()
QgsApplication.processingRegistry().addProvider(provider)
print("COUNT", len(provider.algorithms()))
print("HEAVY", " ".join(sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))))
"""


def test_provider_loads_without_heavy_imports():
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines() if line.startswith(("COUNT ", "HEAVY ")))
    assert int(lines["COUNT"]) >= 19
    assert lines["HEAVY"] == "", f"imported while registering the algorithms: {lines['HEAVY']}"


def test_compat_enums_resolve_on_this_qgis():
    """The compat names are the enum values this QGIS's own API uses (3.22 legacy or scoped ≥ 3.36 forms)."""
    from qgis.core import Qgis, QgsProcessing, QgsProcessingParameterNumber

    scoped = hasattr(Qgis, "ProcessingNumberParameterType")
    assert INTEGER == (Qgis.ProcessingNumberParameterType.Integer if scoped else QgsProcessingParameterNumber.Integer)
    assert DOUBLE == (Qgis.ProcessingNumberParameterType.Double if scoped else QgsProcessingParameterNumber.Double)
    assert VECTOR_POINT == (Qgis.ProcessingSourceType.VectorPoint if scoped else QgsProcessing.TypeVectorPoint)
    assert WARNING == Qgis.MessageLevel.Warning
    param = QgsProcessingParameterNumber("N", "n", INTEGER)
    assert param.dataType() == INTEGER


LEGACY = re.compile(r"QgsProcessingParameterNumber\.(Integer|Double)\b|QgsProcessing\.Type\w+|"
                    r"QgsProcessingParameterField\.(Numeric|Any|String|DateTime)\b|"
                    r"QgsProcessingParameterFile\.(File|Folder)\b|Qgis\.(Info|Warning|Critical|Success)\b")


def test_enums_only_through_compat():
    """No module but compat.py names a Processing/message enum in a form QGIS 4 lacks (or 3.22 lacks)."""
    offenders = []
    for folder in ("processing_provider", "plugin"):
        for path in sorted(glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)):
            if os.path.basename(path) == "compat.py":
                continue
            for number, line in enumerate(open(path, encoding="utf-8"), 1):
                if LEGACY.search(line):
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
