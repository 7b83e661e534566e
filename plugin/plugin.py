"""ReminePlugin: the Processing provider (headless too) and, with a GUI, the Plugins ▸ remine menu.

Nothing here imports a heavy package: QGIS starts in the same time with or without scikit-learn & co.
When required packages are missing, one non-blocking message bar per QGIS session points to
"Check dependencies…"; algorithms still register and say what to install when run.
"""
import os

from qgis.core import QgsApplication, QgsMessageLog, QgsSettings
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QAction, QFileDialog, QPushButton

from ..core.dependencies import missing
from ..core.interpreter import use_own_python
from ..processing_provider.base import LAST_REPORT_KEY
from ..processing_provider.compat import INFO, WARNING
from ..processing_provider.icons import remine_icon

MENU = "&remine"
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELP_PAGE = os.path.join(PLUGIN_DIR, "docs", "help.html")
WARNED_PROPERTY = "remine_dependencies_warned"  # on the QgsApplication: once per session, survives reloads


class ReminePlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        try:
            use_own_python()
        except FileNotFoundError as exc:  # workers then run in threads; never block QGIS
            QgsMessageLog.logMessage(f"remine: {exc}", "remine", WARNING)

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        if self.provider is None:
            from ..processing_provider.provider import RemineProvider

            self.provider = RemineProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        for text, name, slot in (("Check dependencies…", "dependencies", self.check_dependencies),
                                 ("Create demo project…", "demo", self.create_demo_project),
                                 ("Open last report", "report", self.open_last_report),
                                 ("Open 3D view…", "view3d", self.open_3d_view),
                                 ("Help", "help", self.open_help)):
            action = QAction(remine_icon(), text, self.iface.mainWindow())
            action.setObjectName("remine_" + name)
            action.triggered.connect(slot)
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)
        self.warn_missing_once()

    def unload(self):
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # --- dependencies -----------------------------------------------------------------------------
    def warn_missing_once(self):
        """A non-blocking warning in the message bar when required packages are missing (once per session)."""
        absent = missing()
        app = QgsApplication.instance()
        if not absent or app.property(WARNED_PROPERTY):
            return
        app.setProperty(WARNED_PROPERTY, True)
        bar = self.iface.messageBar()
        item = bar.createMessage("remine", "Python packages missing for its algorithms: "
                                 + ", ".join(p.pip for p in absent) + ".")
        button = QPushButton("Check dependencies…", item)
        button.clicked.connect(self.check_dependencies)
        item.layout().addWidget(button)
        bar.pushWidget(item, WARNING, 0)

    def check_dependencies(self):
        from .dependencies_dialog import DependenciesDialog

        self.dependencies_dialog = DependenciesDialog(self.iface.mainWindow())
        self.dependencies_dialog.show()
        return self.dependencies_dialog

    # --- demo, reports, help ------------------------------------------------------------------------
    def create_demo_project(self):
        from .demo_project import create_demo_project

        return create_demo_project(self.iface)

    def open_last_report(self):
        path = QgsSettings().value(LAST_REPORT_KEY, "")
        if path and os.path.isfile(path):
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))
        else:
            self.iface.messageBar().pushMessage("remine", "No report yet: the training, evaluation, variogram and "
                                                "kriging algorithms write HTML reports.", INFO, 5)
        return path

    def open_3d_view(self, path=None):
        """An interactive PyVista window on a VTK output of remine:tailingsvolume (``path``, asked for when
        None), in its own process: QGIS stays responsive and never loads VTK. Returns the process (a
        ``subprocess.Popen``), or None when cancelled or refused (no display, no file: said in the message bar)."""
        from ..core.errors import InputError
        from ..core.volume.view import open_view

        if not path:
            path, _ = QFileDialog.getOpenFileName(self.iface.mainWindow(), "3D model from remine:tailingsvolume",
                                                  "", "VTK models (*.vti *.vtu)")
            if not path:
                return None
        try:
            self.view_process = open_view(path)
        except InputError as exc:
            self.iface.messageBar().pushMessage("remine", str(exc), WARNING, 10)
            return None
        return self.view_process

    def open_help(self):
        QDesktopServices.openUrl(QUrl.fromLocalFile(HELP_PAGE))
        return HELP_PAGE
