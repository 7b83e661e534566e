"""Thin QGIS Processing layer over remine.core (one algorithm per file in algorithms/)."""
