"""Plots, HTML reports and provenance passports."""
