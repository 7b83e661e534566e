"""Loading the provider imports no heavy package: QGIS starts as fast without scikit-learn & co. as with them,
and a QGIS whose Python lacks them still registers every algorithm (checked for real in tests/e2e)."""
import glob
import os
import re
import subprocess
import sys
import types

from remine.processing_provider.compat import DOUBLE, INTEGER, OPTIONAL, VECTOR_POINT, WARNING, pick

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
    assert QgsProcessingParameterNumber("N", "n", optional=True).flags() & OPTIONAL
    assert not param.flags() & OPTIONAL


def test_compat_picks_the_scoped_enums_where_they_exist():
    """Against a Qgis with the scoped enums of QGIS >= 3.36 / 4, pick returns the scoped member (the branch
    QGIS 3.22 never runs); against one without them, the legacy member of the given owner."""
    from qgis.core import QgsProcessing, QgsProcessingParameterDefinition, QgsProcessingParameterNumber

    integer, point, optional = object(), object(), object()
    scoped = types.SimpleNamespace(ProcessingNumberParameterType=types.SimpleNamespace(Integer=integer),
                                   ProcessingSourceType=types.SimpleNamespace(VectorPoint=point),
                                   ProcessingParameterFlag=types.SimpleNamespace(Optional=optional))
    assert pick("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber, qgis=scoped) is integer
    assert pick("ProcessingSourceType", "VectorPoint", QgsProcessing, "TypeVectorPoint", qgis=scoped) is point
    assert pick("ProcessingParameterFlag", "Optional", QgsProcessingParameterDefinition, "FlagOptional",
                qgis=scoped) is optional
    legacy = types.SimpleNamespace()
    assert pick("ProcessingSourceType", "VectorPoint", QgsProcessing, "TypeVectorPoint", qgis=legacy) \
        == QgsProcessing.TypeVectorPoint


LEGACY = re.compile(r"QgsProcessingParameterNumber\.(Integer|Double)\b|QgsProcessing\.Type\w+|"
                    r"QgsProcessingParameterField\.(Numeric|Any|String|DateTime)\b|"
                    r"QgsProcessingParameterFile\.(File|Folder)\b|Qgis\.(Info|Warning|Critical|Success)\b|"
                    r"\.Flag[A-Z]\w*")  # legacy flags: QgsProcessingParameterDefinition.FlagOptional, …


def test_enums_only_through_compat():
    """No module but compat.py names a Processing/message enum in a form QGIS 4 lacks (or 3.22 lacks), the
    legacy flags (``p.FlagOptional``, ``QgsProcessingAlgorithm.FlagNoThreading``) included."""
    assert LEGACY.search("if p.flags() & p.FlagOptional else") and LEGACY.search("QgsProcessingAlgorithm.FlagHidden")
    assert not LEGACY.search("p.flags() & OPTIONAL") and not LEGACY.search("p.setFlags(flags)")
    offenders = []
    for folder in ("processing_provider", "plugin"):
        for path in sorted(glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)):
            if os.path.basename(path) == "compat.py":
                continue
            for number, line in enumerate(open(path, encoding="utf-8"), 1):
                if LEGACY.search(line):
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
