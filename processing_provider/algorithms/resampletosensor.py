"""remine:resampletosensor — Gaussian-SRF resampling of a cube to another sensor, cube or library."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.spectra.cube import resample_raster
from ...core.spectra.sensors import SENSORS, target_grid
from ..base import RemineAlgorithm
from ..compat import DOUBLE

SENSOR_LABELS = {"sentinel2": "Sentinel-2 MSI (13 bands)", "landsat8": "Landsat 8 OLI (7 bands)",
                 "aviris1995": "AVIRIS 1995 (224 bands, USGS library grid)"}
TARGETS = [(SENSOR_LABELS[s], s) for s in SENSORS] + [("the target raster below", None),
                                                      ("the target spectral library below", None)]


class ResampleToSensor(RemineAlgorithm):
    NAME = "resampletosensor"
    CLUSTER = True
    DISPLAY = "Resample to sensor"
    GROUP = "Spectra"
    HELP = """Resamples every pixel spectrum to the bands of another sensor, another cube or a spectral
library, with Gaussian spectral response functions (centre, FWHM); the source bandwidths are deconvolved
(σ² = σ_target² − σ_source²). Without target widths the spectrum is linearly interpolated. A flat spectrum
stays flat; resampling to the same grid is the identity. Target bands outside the cube's range are NaN.

<b>Inputs</b>
<ul><li><b>Input cube</b>: GeoTIFF or ENVI with band wavelengths (and FWHM if known).</li>
<li><b>Target</b>: Sentinel-2, Landsat 8, AVIRIS 1995, a target raster or a target spectral library
(CSV, ENVI .sli, ASD, JCAMP-DX).</li>
<li><b>Target FWHM</b> (nm, optional): overrides or supplies the target band widths.</li>
<li><b>Wavelength units</b>: only for files whose wavelengths carry no units.</li></ul>
<b>Outputs</b>
<ul><li><b>Resampled cube</b>: float32 GeoTIFF with the target wavelengths and FWHM.</li></ul>
<b>Reference</b>: ESA Sentinel-2 User Handbook (2015); USGS Landsat 8 Data Users Handbook (2019); Gaussian SRF
convolution as in Kokaly, R. F. et al. (2017), USGS Spectral Library Version 7, Data Series 1035."""

    INPUT, TARGET, TARGET_RASTER, TARGET_LIBRARY, FWHM, UNITS_KEY, OUTPUT = (
        "INPUT", "TARGET", "TARGET_RASTER", "TARGET_LIBRARY", "TARGET_FWHM", "WAVELENGTH_UNITS", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.TARGET, "Target", options=[t[0] for t in TARGETS],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterLayer(self.TARGET_RASTER, "Target raster", optional=True))
        self.addParameter(QgsProcessingParameterFile(self.TARGET_LIBRARY, "Target spectral library", optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.FWHM, "Target FWHM (nm)",
                                                       DOUBLE, optional=True,
                                                       minValue=0.0))
        self.add_wavelength_units(self.UNITS_KEY)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Resampled cube"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        choice = self.parameterAsEnum(parameters, self.TARGET, context)
        units = self.wavelength_units(parameters, self.UNITS_KEY, context)
        if choice != 3:
            self.warn_ignored(parameters, [self.TARGET_RASTER], f"the target is '{TARGETS[choice][0]}'")
        if choice != 4:
            self.warn_ignored(parameters, [self.TARGET_LIBRARY], f"the target is '{TARGETS[choice][0]}'")
        target_layer = self.parameterAsRasterLayer(parameters, self.TARGET_RASTER, context) if choice == 3 else None
        wl, fwhm = target_grid(sensor=TARGETS[choice][1],
                               raster_path=target_layer.source() if target_layer else None,
                               library_path=self.parameterAsFile(parameters, self.TARGET_LIBRARY, context) or None
                               if choice == 4 else None,
                               fwhm_nm=self.optional_number(parameters, self.FWHM, context), units=units)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = resample_raster(layer.source(), out, wl, fwhm, units=units, progress=progress)
        if result["outside"]:
            progress.warn(f"{result['outside']} target band(s) lie outside the input's wavelength range: NaN")
        self.metrics.update(bands=result["bands"], bands_outside=result["outside"])
        sensor = TARGETS[choice][1]
        self.layer_names[self.OUTPUT] = (f"Resampled to {SENSOR_LABELS[sensor]}" if sensor
                                         else f"Resampled cube ({result['bands']} bands)")
        return {self.OUTPUT: out}
