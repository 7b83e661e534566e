"""remine:importspectrallibrary — read spectra (CSV, ENVI .sli, ASD, JCAMP-DX) or raster pixels under
polygons into a CSV / ENVI spectral library with wavelengths in nm."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from ...core.errors import InputError
from ...core.spectra import library_from_rois, read_library, write_library
from ...core.spectra.library import ROI_STATISTICS
from ..base import RemineAlgorithm
from ..compat import VECTOR_POLYGON


class ImportSpectralLibrary(RemineAlgorithm):
    NAME = "importspectrallibrary"
    DISPLAY = "Import spectral library"
    GROUP = "Spectra"
    HELP = """Reads field or lab spectra — CSV (one column per wavelength, or one row per wavelength), ENVI
spectral library (.sli + .hdr), ASD FieldSpec binary (.asd, v1–v8; reflectance = target / white reference),
FTIR CSV or JCAMP-DX (.jdx, .dx) in µm or cm⁻¹ — or the pixels of a cube under ROI polygons (mean, median or
every pixel), and writes one spectral library with wavelengths in nanometres, ascending. Wavelengths without
units that could be nm or cm⁻¹ are refused: choose the units.

<b>Inputs</b>
<ul><li><b>Spectra file</b> (optional): .csv, .txt, .sli, .hdr, .asd, .jdx, .dx.</li>
<li><b>or Cube</b> + <b>ROI polygons</b> (+ <b>name field</b>, <b>statistic</b>): spectra from raster pixels.</li>
<li><b>Wavelength units</b>: for files that do not say (nm, µm, cm⁻¹).</li></ul>
<b>Outputs</b>
<ul><li><b>Spectral library</b>: .csv (metadata columns, then one column per wavelength "<nm> nm") or .sli.</li></ul>
<b>Reference</b>: ASD Inc., ASD File Format v8 (rev. B); L3Harris ENVI Header Format; McDonald, R. S. &amp;
Wilks, P. A. (1988), JCAMP-DX, Applied Spectroscopy 42(1), 151–162."""

    INPUT, UNITS_KEY, RASTER, ROIS, NAME_FIELD, STATISTIC, OUTPUT = (
        "INPUT", "WAVELENGTH_UNITS", "RASTER", "ROIS", "NAME_FIELD", "STATISTIC", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.INPUT, "Spectra file", optional=True))
        self.add_wavelength_units(self.UNITS_KEY)
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, "or: cube", optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(self.ROIS, "ROI polygons",
                                                            [VECTOR_POLYGON], optional=True))
        self.addParameter(QgsProcessingParameterField(self.NAME_FIELD, "Name field (ROIs)", parentLayerParameterName=
                                                      self.ROIS, optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.STATISTIC, "Statistic (ROIs)", options=list(ROI_STATISTICS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, "Spectral library", fileFilter="CSV (*.csv);;ENVI spectral library (*.sli)"))

    def compute(self, parameters, context, progress):
        path = self.parameterAsFile(parameters, self.INPUT, context)
        raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        rois = self.parameterAsVectorLayer(parameters, self.ROIS, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if path and (raster or rois):
            raise InputError("give either a spectra file or a cube with ROI polygons, not both")
        if path:
            library = read_library(path, units=self.wavelength_units(parameters, self.UNITS_KEY, context))
        elif raster and rois:
            library = library_from_rois(raster.source(), rois.source(),
                                        ROI_STATISTICS[self.parameterAsEnum(parameters, self.STATISTIC, context)],
                                        name_field=self.parameterAsString(parameters, self.NAME_FIELD, context)
                                        or None, progress=progress)
        else:
            raise InputError("give a spectra file (.csv, .sli, .asd, .jdx) or a cube and ROI polygons")
        write_library(library, out)
        progress.info(f"{len(library)} spectra, {library.n_bands} bands "
                      f"{library.wavelengths_nm[0]:.1f}–{library.wavelengths_nm[-1]:.1f} nm")
        self.metrics.update(spectra=len(library), bands=library.n_bands,
                            min_nm=float(library.wavelengths_nm[0]), max_nm=float(library.wavelengths_nm[-1]))
        return {self.OUTPUT: out}
