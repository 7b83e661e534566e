"""remine:spectralsubset — keep the bands of a cube within a wavelength range."""
from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.bands import spectral_subset
from ..base import RemineAlgorithm
from ..compat import DOUBLE


class SpectralSubset(RemineAlgorithm):
    NAME = "spectralsubset"
    DISPLAY = "Spectral subset"
    GROUP = "Spectra"
    HELP = """Copies the bands of a spectral cube whose wavelengths lie in a range, optionally without the
atmospheric water-vapour windows (1340–1460, 1790–1960 and ≥ 2450 nm), block by block.

<b>Inputs</b>
<ul><li><b>Input cube</b>: GeoTIFF or ENVI with band wavelengths (nm, µm or cm⁻¹).</li>
<li><b>Minimum / maximum wavelength</b> (nm, inclusive).</li>
<li><b>Drop water-vapour bands</b>.</li>
<li><b>Wavelength units</b>: only for files whose wavelengths carry no units.</li></ul>
<b>Outputs</b>
<ul><li><b>Output cube</b>: GeoTIFF with the kept bands, their wavelengths, FWHM and names.</li></ul>
<b>Reference</b>: Gao, B.-C. &amp; Goetz, A. F. H. (1990), Column atmospheric water vapor and vegetation liquid
water retrievals from airborne imaging spectrometer data, JGR 95(D4), 3549–3564."""

    INPUT, MIN, MAX, WATER, UNITS_KEY, OUTPUT = ("INPUT", "MIN_WAVELENGTH", "MAX_WAVELENGTH", "DROP_WATER_BANDS",
                                                 "WAVELENGTH_UNITS", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterNumber(self.MIN, "Minimum wavelength (nm)",
                                                       DOUBLE, defaultValue=350.0))
        self.addParameter(QgsProcessingParameterNumber(self.MAX, "Maximum wavelength (nm)",
                                                       DOUBLE, defaultValue=2500.0))
        self.addParameter(QgsProcessingParameterBoolean(self.WATER, "Drop water-vapour bands", defaultValue=True))
        self.add_wavelength_units(self.UNITS_KEY)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Output cube"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = spectral_subset(layer.source(), out,
                                 min_nm=self.parameterAsDouble(parameters, self.MIN, context),
                                 max_nm=self.parameterAsDouble(parameters, self.MAX, context),
                                 drop_water=self.parameterAsBoolean(parameters, self.WATER, context),
                                 units=self.wavelength_units(parameters, self.UNITS_KEY, context),
                                 progress=progress)
        progress.info(f"kept {result['bands_out']} of {result['bands_in']} bands")
        self.metrics.update(bands_in=result["bands_in"], bands_out=result["bands_out"])
        self.layer_names[self.OUTPUT] = f"Cube subset ({result['bands_out']} bands)"
        return {self.OUTPUT: out}
