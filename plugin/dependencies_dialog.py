"""Plugins ▸ remine ▸ Check dependencies…: what is installed, what is missing, and an "Install missing" button.

pip runs in a ``QProcess`` (QGIS stays responsive), its output goes to the log pane; when it ends the
table is refreshed and the user site put on ``sys.path`` so the algorithms work without a restart.
"""
import os
import platform
import tempfile

from osgeo import gdal
from qgis.core import Qgis
from qgis.PyQt.QtCore import QProcess, Qt
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..core.dependencies import status
from ..core.interpreter import find_python
from .installer import activate_user_site, pip_command, shipped_constraints, to_install, write_constraints

COLUMNS = ["Package", "Needed for", "", "Installed", "Minimum", "Status"]


class DependenciesDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("remine — Python dependencies")
        self.setObjectName("remine_dependencies_dialog")
        self.resize(860, 560)
        self.process = None
        self.exit_code = None  # of the last pip run
        self.python = find_python()
        layout = QVBoxLayout(self)
        versions = (f"QGIS {Qgis.QGIS_VERSION} · GDAL {gdal.__version__} · Python {platform.python_version()} "
                    f"({self.python})")
        layout.addWidget(QLabel(versions))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table)
        self.summary = QLabel()
        layout.addWidget(self.summary)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        layout.addWidget(self.progress)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setObjectName("remine_dependencies_log")
        layout.addWidget(self.log)
        buttons = QHBoxLayout()
        self.install_button = QPushButton("Install missing")
        self.install_button.setObjectName("remine_install_missing")
        self.install_button.clicked.connect(self.install)
        buttons.addWidget(self.install_button)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        buttons.addWidget(box)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self):
        rows = status()
        self.table.setRowCount(len(rows))
        for r, (package, version, ok) in enumerate(rows):
            kind = "required" if package.required else "optional"
            cells = [package.pip, package.purpose, kind, version or "—", package.minimum,
                     "ok" if ok else ("too old" if version else "missing")]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, c, item)
            if not package.required:  # optional packages are installed only when ticked
                check = self.table.item(r, 2)
                check.setFlags(check.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                check.setCheckState(Qt.CheckState.Unchecked if not ok else Qt.CheckState.Checked)
                if ok:
                    check.setFlags(check.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        self.table.resizeColumnsToContents()
        pending = to_install(self.ticked())
        absent = [p.pip for p, _, ok in rows if not ok and p.required]
        self.summary.setText("All required packages are installed." if not absent else
                             "Missing required packages: " + ", ".join(absent))
        self.install_button.setEnabled(bool(pending) and self.process is None)

    def ticked(self):
        names = []
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 2)
            checkable = item is not None and item.flags() & Qt.ItemFlag.ItemIsUserCheckable
            if checkable and item.checkState() == Qt.CheckState.Checked:
                names.append(self.table.item(r, 0).text())
        return names

    def install(self):
        """Run pip for the missing packages; returns the command (empty when nothing is missing)."""
        packages = to_install(self.ticked())
        if not packages or self.process is not None:
            return []
        constraints = write_constraints(os.path.join(tempfile.mkdtemp(prefix="remine-pip-"), "constraints.txt"),
                                        shipped_constraints())
        cmd = pip_command(self.python, packages, constraints)
        self.log.appendPlainText("$ " + " ".join(cmd))
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self.read_output)
        self.process.finished.connect(self.finished)
        self.progress.setRange(0, 0)  # busy
        self.install_button.setEnabled(False)
        self.process.start(cmd[0], cmd[1:])
        return cmd

    def read_output(self):
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace").rstrip()
        if text:
            self.log.appendPlainText(text)

    def finished(self, code, _status=None):
        self.read_output()
        self.process, self.exit_code = None, code
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        activate_user_site()
        self.log.appendPlainText("done: all requested packages installed" if code == 0 else
                                 f"pip stopped with exit code {code}; nothing of QGIS's own packages was changed")
        self.refresh()

