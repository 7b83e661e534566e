"""The remine icon (Qt only through qgis.PyQt)."""
import os

from qgis.PyQt.QtGui import QIcon

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "icon.svg")


def remine_icon():
    return QIcon(ICON_PATH)
