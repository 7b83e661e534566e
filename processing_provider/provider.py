"""RemineProvider: every RemineAlgorithm in algorithms/ plus the shipped graphical models (models/*.model3), and
remine's setting in QGIS's Processing options (Settings ▸ Options ▸ Processing ▸ Providers ▸ remine): the Dask
scheduler address that receives the block work (empty: this computer)."""
import glob
import importlib
import inspect
import os
import pkgutil

from qgis.core import QgsApplication, QgsMessageLog, QgsProcessingModelAlgorithm, QgsProcessingProvider

from . import algorithms
from .base import SCHEDULER_SETTING, RemineAlgorithm
from .compat import WARNING
from .icons import remine_icon

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")


def algorithm_classes():
    """RemineAlgorithm subclasses defined in the modules of ``algorithms/``, sorted by name.

    A module that fails to import (it should not: algorithm modules import heavy packages only when run) is
    logged and skipped, so that one broken module never leaves QGIS with an empty provider."""
    found = []
    for mod in pkgutil.iter_modules(algorithms.__path__):
        try:
            module = importlib.import_module(f"{algorithms.__name__}.{mod.name}")
        except ImportError as exc:
            QgsMessageLog.logMessage(f"remine: algorithm module {mod.name} not loaded: {exc}", "remine", WARNING)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, RemineAlgorithm) and cls.__module__ == module.__name__ and cls.NAME:
                found.append(cls)
    return sorted(found, key=lambda c: c.NAME)


class RemineModel(QgsProcessingModelAlgorithm):
    """A shipped model under a readable name in the toolbox and its dialog ("Mineral abundances with
    intervals"): QGIS 3 shows a model's name, which is also its id ("abundance_workflow", kept for scripts);
    ``scripts/build_models.py`` stores the title in the model's help as ``ALG_TITLE``."""

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.helpContent().get("ALG_TITLE") or self.name()

    def createInstance(self):  # noqa: N802 (QGIS API name): the copy Processing runs keeps the display name
        copy = RemineModel()
        copy.loadVariant(self.toVariant())
        copy.setSourceFilePath(self.sourceFilePath())
        return copy


class RemineProvider(QgsProcessingProvider):
    def id(self):
        return "remine"

    def name(self):
        return "remine"

    def longName(self):
        return "remine — mineral maps, abundances, grades and volumes of mine tailings"

    def icon(self):
        return remine_icon()

    def load(self):
        """Register remine's Processing setting (when Processing's Python plugin is there), then the algorithms."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:
            ProcessingConfig = None
        if ProcessingConfig is not None:
            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(Setting(self.name(), SCHEDULER_SETTING,
                                                "Dask scheduler address for block work (tcp://host:8786; empty: "
                                                "this computer, or the REMINE_DASK_SCHEDULER environment variable)",
                                                ""))
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        ProcessingConfig.removeSetting(SCHEDULER_SETTING)

    def loadAlgorithms(self):
        for cls in algorithm_classes():
            self.addAlgorithm(cls())
        registry = QgsApplication.processingRegistry()
        if registry.providerById(self.id()) is not self:
            # The models' steps are remine algorithms, which the registry knows only once this provider is in
            # it; a model loaded before would have no outputs. Load them again once the provider is added.
            registry.providerAdded.connect(self._reload_with_models)
            return
        for path in sorted(glob.glob(os.path.join(MODELS_DIR, "*.model3"))):
            model = RemineModel()
            if model.fromFile(path):
                self.addAlgorithm(model)
            else:
                QgsMessageLog.logMessage(f"remine: cannot load model {path}", "remine", WARNING)

    def _reload_with_models(self, provider_id):
        if provider_id == self.id():
            QgsApplication.processingRegistry().providerAdded.disconnect(self._reload_with_models)
            self.refreshAlgorithms()
