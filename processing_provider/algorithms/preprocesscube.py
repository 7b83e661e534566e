"""remine:preprocesscube — Savitzky–Golay smoothing, derivatives or SNV of every pixel of a cube, block-wise."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.spectra.cube import PREPROCESS_METHODS, preprocess_raster
from ..base import RemineAlgorithm
from ..compat import DOUBLE, INTEGER

METHOD_LABELS = ["Savitzky–Golay smoothing", "Derivative (per nm, Savitzky–Golay smoothed)",
                 "Standard normal variate (SNV)"]


class PreprocessCube(RemineAlgorithm):
    NAME = "preprocesscube"
    CLUSTER = True
    DISPLAY = "Preprocess cube (Savitzky–Golay, derivative, SNV)"
    GROUP = "Spectra"
    HELP = """Applies one spectral preprocessing step to every pixel spectrum of a cube, block by block within
a bounded memory budget: Savitzky–Golay smoothing, first or second derivative with respect to wavelength
(per nm, per nm²; central differences on the band grid after Savitzky–Golay smoothing), or standard normal
variate (each spectrum minus its mean, divided by its standard deviation). The same steps are the
preprocessing options of the trainers, so a cube preprocessed here matches spectra preprocessed there.

<b>Inputs</b>
<ul><li><b>Input cube</b>: GeoTIFF or ENVI with band wavelengths.</li>
<li><b>Method</b>; <b>window length</b> (odd, bands; 0 = no smoothing before a derivative) and
<b>polynomial order</b> of the Savitzky–Golay filter; <b>derivative order</b> (1 or 2).</li>
<li><b>Minimum / maximum wavelength</b> (nm, optional): range of bands kept.</li></ul>
<b>Outputs</b>
<ul><li><b>Preprocessed cube</b>: float32 GeoTIFF with the wavelengths of the kept bands; pixels with a
missing band stay missing.</li></ul>
<b>Reference</b>: Savitzky, A. &amp; Golay, M. J. E. (1964), Smoothing and differentiation of data by simplified
least squares procedures, Anal. Chem. 36(8), 1627–1639; Barnes, R. J., Dhanoa, M. S. &amp; Lister, S. J. (1989),
Standard normal variate transformation and de-trending of near-infrared diffuse reflectance spectra, Appl.
Spectrosc. 43(5), 772–777."""

    INPUT, METHOD, WINDOW, POLYORDER, ORDER, MIN, MAX, OUTPUT = (
        "INPUT", "METHOD", "WINDOW_LENGTH", "POLYORDER", "DERIVATIVE_ORDER", "MIN_WAVELENGTH", "MAX_WAVELENGTH",
        "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", options=METHOD_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.WINDOW, "Savitzky–Golay window length (odd, bands)",
                                                       INTEGER, defaultValue=11,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.POLYORDER, "Savitzky–Golay polynomial order",
                                                       INTEGER, defaultValue=2,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.ORDER, "Derivative order",
                                                       INTEGER, defaultValue=1,
                                                       minValue=1, maxValue=2))
        self.addParameter(QgsProcessingParameterNumber(self.MIN, "Minimum wavelength (nm)",
                                                       DOUBLE, optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MAX, "Maximum wavelength (nm)",
                                                       DOUBLE, optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Preprocessed cube"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        method = PREPROCESS_METHODS[self.parameterAsEnum(parameters, self.METHOD, context)]
        result = preprocess_raster(layer.source(), out, method=method,
                                   window_length=self.parameterAsInt(parameters, self.WINDOW, context),
                                   polyorder=self.parameterAsInt(parameters, self.POLYORDER, context),
                                   order=self.parameterAsInt(parameters, self.ORDER, context),
                                   min_nm=self.optional_number(parameters, self.MIN, context),
                                   max_nm=self.optional_number(parameters, self.MAX, context), progress=progress)
        self.metrics.update(method=method, bands=result["bands"])
        label = METHOD_LABELS[PREPROCESS_METHODS.index(method)]
        self.layer_names[self.OUTPUT] = f"{label} ({result['bands']} bands)"
        return {self.OUTPUT: out}
