"""Plugins ▸ remine ▸ Check dependencies…: what is installed, what is missing, and an "Install missing" button.

pip runs in a ``QProcess`` (QGIS stays responsive), its output goes to the log pane; when it ends the
table is refreshed and the user site put on ``sys.path`` so the algorithms work without a restart. When the
interpreter has no pip, or QGIS's own interpreter is not found, the dialog says so and Install stays off;
packages the Linux distribution must install are named with the package manager's command.
"""
import platform

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

from ..core.dependencies import install_plan, status
from ..core.installer import activate_user_site, constraints_file, get_pip_hint, has_pip, pip_command, system_command
from ..core.interpreter import find_python_or_fallback

COLUMNS = ["Package", "Needed for", "", "Installed", "Minimum", "Status"]


class DependenciesDialog(QDialog):
    """``python``: the interpreter pip runs with (default: QGIS's own, :func:`find_python_or_fallback`)."""

    def __init__(self, parent=None, python=None):
        super().__init__(parent)
        self.setWindowTitle("remine — Python dependencies")
        self.setObjectName("remine_dependencies_dialog")
        self.resize(860, 560)
        self.process = None
        self.exit_code = None  # of the last pip run
        self.python, note = (python, None) if python else find_python_or_fallback()
        self.pip_ok = has_pip(self.python)
        layout = QVBoxLayout(self)
        versions = (f"QGIS {Qgis.QGIS_VERSION} · GDAL {gdal.__version__} · Python {platform.python_version()} "
                    f"({self.python})")
        layout.addWidget(QLabel(versions))
        self.warning = QLabel(" ".join(filter(None, [
            note and f"QGIS's own Python interpreter was not found: {note}.",
            None if self.pip_ok else f"pip is not available to {self.python}: {get_pip_hint(self.python)}; "
                                     "then open this dialog again."])))
        self.warning.setObjectName("remine_dependencies_warning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(bool(self.warning.text()))
        layout.addWidget(self.warning)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table)
        self.summary = QLabel()
        self.summary.setWordWrap(True)  # may name a package-manager command
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
        pending, by_system = install_plan(self.python, self.ticked())
        absent = [p.pip for p, _, ok in rows if not ok and p.required]
        text = "All required packages are installed." if not absent else "Missing required packages: " + ", ".join(
            absent)
        if by_system:
            text += f" Install {', '.join(p.pip for p in by_system)} with: {system_command(by_system)}"
        self.summary.setText(text)
        self.install_button.setEnabled(bool(pending) and self.pip_ok and self.process is None)

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
        packages = install_plan(self.python, self.ticked())[0]
        if not packages or not self.pip_ok or self.process is not None:
            return []
        cmd = pip_command(self.python, packages, constraints_file())
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

