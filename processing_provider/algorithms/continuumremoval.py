"""remine:continuumremoval — upper convex-hull continuum removal of a cube, block by block."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.spectra.continuum import METHODS
from ...core.spectra.cube import continuum_removal_raster
from ..base import RemineAlgorithm
from ..compat import DOUBLE


class ContinuumRemoval(RemineAlgorithm):
    NAME = "continuumremoval"
    CLUSTER = True
    DISPLAY = "Continuum removal (upper hull)"
    GROUP = "Spectra"
    HELP = """Removes the continuum of every pixel spectrum: the upper convex hull over the band wavelengths
(exact, one linear pass per pixel), by division (continuum-removed reflectance, ≤ 1, 1 on the hull) or by
subtraction (≤ 0). Optionally restricted to a wavelength range (the hull is then fitted over that range only).

<b>Inputs</b>
<ul><li><b>Input cube</b>: GeoTIFF or ENVI with band wavelengths.</li>
<li><b>Method</b>: divide (standard) or subtract. Division needs positive reflectance: values ≤ 0 (noise of
atmospherically corrected data) are raised to 0.0001 before the hull is computed (the result there is about 0),
counted in the log and the passport (<i>floored_values</i>).</li>
<li><b>Minimum / maximum wavelength</b> (nm, optional): range of bands kept and used for the hull.</li>
<li><b>Wavelength units</b>: only for files whose wavelengths carry no units.</li></ul>
<b>Outputs</b>
<ul><li><b>Continuum-removed cube</b>: float32 GeoTIFF with the wavelengths of the kept bands.</li></ul>
<b>Reference</b>: Clark, R. N. &amp; Roush, T. L. (1984), Reflectance spectroscopy: quantitative analysis
techniques for remote sensing applications, JGR 89(B7), 6329–6340."""

    INPUT, METHOD, MIN, MAX, UNITS_KEY, OUTPUT = ("INPUT", "METHOD", "MIN_WAVELENGTH", "MAX_WAVELENGTH",
                                                  "WAVELENGTH_UNITS", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", options=list(METHODS), defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.MIN, "Minimum wavelength (nm)",
                                                       DOUBLE, optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MAX, "Maximum wavelength (nm)",
                                                       DOUBLE, optional=True))
        self.add_wavelength_units(self.UNITS_KEY)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Continuum-removed cube"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = continuum_removal_raster(layer.source(), out,
                                          method=METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
                                          min_nm=self.optional_number(parameters, self.MIN, context),
                                          max_nm=self.optional_number(parameters, self.MAX, context),
                                          units=self.wavelength_units(parameters, self.UNITS_KEY, context),
                                          progress=progress)
        self.metrics.update(bands=result["bands"], floored_values=result["floored"])
        self.layer_names[self.OUTPUT] = f"Continuum removed ({result['bands']} bands)"
        return {self.OUTPUT: out}
