"""remine.core: the library. Pure Python + the numpy stack; never imports qgis or Qt."""
__version__ = "0.1.0"
