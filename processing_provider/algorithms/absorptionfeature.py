"""remine:absorptionfeature — position, depth and width of the deepest absorption in a window."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.errors import InputError
from ...core.raster.style import write_data_style
from ...core.spectra.cube import FEATURE_BANDS, absorption_feature_raster
from ...core.spectra.features import WINDOWS_NM
from ..base import RemineAlgorithm
from ..compat import DOUBLE

WINDOW_LABELS = {"AlOH": "Al-OH {} nm (kaolinite, muscovite, smectite)", "FeOH": "Fe-OH {} nm (jarosite, chlorite)",
                 "MgOH_CO3": "Mg-OH / carbonate {} nm (chlorite, calcite)",
                 "Fe3": "Fe3+ {} nm (goethite, hematite, jarosite)", "alunite_1760": "alunite {} nm"}
PRESETS = [("custom (minimum / maximum below)", None)] + [
    (WINDOW_LABELS[k].format(f"{lo:g}–{hi:g}"), (lo, hi)) for k, (lo, hi) in WINDOWS_NM.items()]


class AbsorptionFeature(RemineAlgorithm):
    NAME = "absorptionfeature"
    CLUSTER = True
    DISPLAY = "Absorption feature (minimum wavelength)"
    GROUP = "Spectra"
    HELP = """Maps the deepest absorption feature of every pixel inside a wavelength window: the continuum
(upper hull) is removed over the window, the minimum band is refined by a parabola through it and its
neighbours, depth = 1 − continuum-removed minimum, width = full width at half depth.

<b>Inputs</b>
<ul><li><b>Input cube</b>: GeoTIFF or ENVI with band wavelengths covering the window.</li>
<li><b>Window</b>: a preset (Al-OH, Fe-OH, Mg-OH/carbonate, Fe³⁺, alunite) or custom minimum / maximum (nm).</li>
<li><b>Wavelength units</b>: only for files whose wavelengths carry no units.</li></ul>
<b>Outputs</b>
<ul><li><b>Feature raster</b>: 3 bands — position (nm), depth (0–1), width (nm);
NaN where there is no feature.</li></ul>
<b>Reference</b>: van Ruitenbeek, F. J. A. et al. (2014), Measuring rock microstructure in hyperspectral
mineral maps (wavelength mapping), Computers &amp; Geosciences 64; van der Meer, F. (2004), Analysis of spectral
absorption features in hyperspectral imagery, JAG 5(1), 55–68."""

    INPUT, PRESET, MIN, MAX, UNITS_KEY, OUTPUT = ("INPUT", "WINDOW", "MIN_WAVELENGTH", "MAX_WAVELENGTH",
                                                  "WAVELENGTH_UNITS", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.PRESET, "Window", options=[p[0] for p in PRESETS],
                                                     defaultValue=1))
        self.addParameter(QgsProcessingParameterNumber(self.MIN, "Custom window minimum (nm)",
                                                       DOUBLE, optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MAX, "Custom window maximum (nm)",
                                                       DOUBLE, optional=True))
        self.add_wavelength_units(self.UNITS_KEY)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Feature raster"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        name, window = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        if window is not None:
            self.warn_ignored(parameters, [self.MIN, self.MAX],
                              f"the window '{name}' is a preset; choose the custom window to use your own limits")
        else:
            window = (self.optional_number(parameters, self.MIN, context),
                      self.optional_number(parameters, self.MAX, context))
            if None in window:
                raise InputError("custom window: give both the minimum and the maximum wavelength (nm)")
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = absorption_feature_raster(layer.source(), out, window,
                                           units=self.wavelength_units(parameters, self.UNITS_KEY, context),
                                           progress=progress)
        self.metrics.update(window_min_nm=result["window_nm"][0], window_max_nm=result["window_nm"][1],
                            window_bands=result["bands"])
        write_data_style(out, band=FEATURE_BANDS.index("depth") + 1)  # shown: the depth, on the grades' ramp
        self.layer_names[self.OUTPUT] = "Absorption depth {:g}–{:g} nm".format(*result["window_nm"])
        return {self.OUTPUT: out}
