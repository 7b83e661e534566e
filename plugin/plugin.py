"""ReminePlugin: registers the Processing provider (headless too) and, with a GUI, a toolbox shortcut."""
import multiprocessing
import os
import sys

from qgis.core import QgsApplication


def inside_qgis():
    """True when running inside a QGIS executable (not a python interpreter)."""
    return not os.path.basename(os.path.realpath("/proc/self/exe")).startswith("python")


def use_system_python():
    """Workers (joblib/loky, multiprocessing) must start QGIS's own Python, not whatever python3 is first
    on PATH (docs/development.md, Pitfalls 5)."""
    if inside_qgis():
        sys.executable = os.path.join(sys.base_exec_prefix, "bin", "python3")
        multiprocessing.set_executable(sys.executable)


class ReminePlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        use_system_python()

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        if self.provider is None:
            from ..processing_provider.provider import RemineProvider

            self.provider = RemineProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
