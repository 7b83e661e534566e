"""Spectra: libraries and readers, preprocessing, absorption features, fusion."""
