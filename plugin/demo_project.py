"""Plugins ▸ remine ▸ Create demo project…: a new project with the demo tailings scene as a layer group."""
import os

from qgis.core import QgsProject
from qgis.PyQt.QtWidgets import QFileDialog

PROJECT_NAME = "remine-demo.qgz"


def create_demo_project(iface, folder=None, seed=0):
    """Write the demo scene into ``folder`` (asked for when None), load it as a group into a new project
    saved as ``<folder>/remine-demo.qgz``; returns the project path, or None when the user cancelled."""
    import processing

    if folder is None:
        folder = QFileDialog.getExistingDirectory(iface.mainWindow(), "Folder for the remine demo project")
        if not folder:
            return None
    if not iface.newProject(True):  # the user kept the current project
        return None
    processing.runAndLoadResults("remine:createdemodata", {"OUTPUT": folder, "SEED": seed})
    path = os.path.join(folder, PROJECT_NAME)
    project = QgsProject.instance()
    project.setTitle("remine demo tailings scene")
    project.write(path)
    iface.mapCanvas().zoomToFullExtent()
    return path
