"""remine:calibrateintervals — rescale abundance intervals so they cover their level on reference samples."""
from qgis.core import (
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from ...core.raster import raster_info
from ...core.raster.style import share_layer_name, write_share_style
from ...core.report.uncertainty import interval_uncertainty
from ..base import RemineAlgorithm
from ..compat import DOUBLE, VECTOR_POINT


class CalibrateIntervals(RemineAlgorithm):
    NAME = "calibrateintervals"
    CLUSTER = True
    DISPLAY = "Calibrate abundance intervals on reference samples"
    GROUP = "Unmixing"
    HELP = """Rescales the lower/upper bounds of an abundance raster (from <i>remine:unmix</i> or
<i>remine:closecomposition</i>) so that they cover the chosen level of reference abundances measured at
some places (lab XRD of field samples, a mapped subset): split-conformal scaling of each bound's distance to
the estimate. The unmixing intervals assume the linear model is right (white noise, the scene's materials
as endmembers, their variability in the bundles) and the closure intervals that the ensemble members err
independently; on real scenes neither holds: on the Samson scene (soil, trees, water; extracted endmembers)
nominal 90 % residual intervals cover 0.26 of the ground truth, and after calibration on half of the scene
(a checkerboard of 8 × 8-pixel squares) 0.90 of the other half (NNLS + normalisation; FCLS 0.22 → 0.88).
The calibrated coverage holds where the references are representative of the mapped pixels.

<b>Inputs</b>
<ul><li><b>Abundance raster</b> (%) with bands <i>&lt;name&gt;</i>, <i>lower_&lt;name&gt;</i>,
<i>upper_&lt;name&gt;</i>.</li>
<li><b>Reference points</b> with one field (%) per abundance band name; points outside the raster or on
nodata are left out. At least 10 reference values.</li>
<li><b>Interval level</b> (0.9 = 90 %).</li></ul>
<b>Outputs</b>
<ul><li><b>Calibrated abundances</b>: the same bands, lower/upper rescaled (kept within 0–100 %). The passport
records the scale, the number of references and their coverage before and after.</li></ul>
<b>Reference</b>: Vovk, V., Gammerman, A. &amp; Shafer, G. (2005), Algorithmic Learning in a Random World,
Springer; Romano, Y., Patterson, E. &amp; Candès, E. (2019), Conformalized quantile regression, NeurIPS."""

    INPUT, REFERENCES, LEVEL, OUTPUT = "INPUT", "REFERENCES", "LEVEL", "OUTPUT"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Abundance raster (%)"))
        self.addParameter(QgsProcessingParameterVectorLayer(self.REFERENCES, "Reference points",
                                                            [VECTOR_POINT]))
        self.addParameter(QgsProcessingParameterNumber(self.LEVEL, "Interval level",
                                                       DOUBLE, defaultValue=0.9,
                                                       minValue=0.01, maxValue=0.999))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Calibrated abundances"))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.unmix.calibration import calibrate_interval_raster
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        level = self.parameterAsDouble(parameters, self.LEVEL, context)
        refs = self.parameterAsVectorLayer(parameters, self.REFERENCES, context).source().split("|")[0]
        result = calibrate_interval_raster(self.parameterAsRasterLayer(parameters, self.INPUT, context).source(),
                                           refs, out, level=level, progress=progress)
        names = raster_info(out).band_names
        minerals = [n for n in names if f"lower_{n}" in names]   # the leading bands, as unmix writes them
        _, shown = write_share_style(out, minerals)                # as unmix's abundances
        self.layer_names[self.OUTPUT] = share_layer_name("Calibrated abundance", shown, len(minerals), "minerals")
        progress.info(f"interval scale {result['scale']:.3g} from {result['n_references']} references "
                      f"(coverage {result['coverage_before']:.3f} -> {result['coverage_after']:.3f})")
        self.metrics.update(result)
        self.uncertainty = interval_uncertainty(f"split-conformal scaling on {result['n_references']} reference "
                                                "samples", level)
        return {self.OUTPUT: out}
