"""remine:closecomposition — regression outputs (one band per mineral) to closed abundances with intervals."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ...core.raster.style import share_layer_name
from ...core.report.uncertainty import interval_uncertainty
from ...core.unmix.closure import CLOSE_METHODS
from ..base import RemineAlgorithm
from ..compat import DOUBLE, RASTER

METHOD_LABELS = ["Projection onto the simplex (nearest composition)", "Compositional closure (ilr route)"]
SCALES = ["Percent (0–100)", "Fraction (0–1)"]


class CloseComposition(RemineAlgorithm):
    NAME = "closecomposition"
    CLUSTER = True
    DISPLAY = "Close composition (abundances sum to 100 %)"
    GROUP = "Unmixing"
    HELP = """Turns per-mineral regression outputs of any model into valid compositions: non-negative and summing
to 100 % per pixel. With several ensemble members, each is closed and the 5 %/95 % (for level 0.9) quantiles
across members give per-pixel intervals. These intervals measure how much the members disagree; they cover the
level only if the members err independently and without a common bias, which models trained on the same
samples do not (their errors are shared): treat them as a lower bound of the uncertainty and calibrate them on
reference samples with <i>remine:calibrateintervals</i> before reading them as confidence intervals. On the demo
scene, nominal 90 % intervals from PLSR + ridge maps of the nine XRD targets covered 0.10 of the true
abundances (with ExtraTrees as a third member 0.42); calibrated on 1 % of the pixels, 0.90 of the others.

<b>Inputs</b>
<ul><li><b>Regression rasters</b>: one raster per ensemble member, each with one band per mineral (same grid
and band order).</li>
<li><b>Minerals</b>: comma-separated names, one per band (default: the band names); a different count is an
error.</li>
<li><b>Closure</b>: Euclidean projection onto the simplex, or the compositional route (parts below 1e-6 set to
1e-6, divided by the sum; ensemble centre = mean in ilr coordinates).</li>
<li><b>Input scale</b>: percent or fraction. Values outside the range are counted (log, passport and the
<i>n_clipped</i> band); the projection takes them as they are, the compositional route clips them first.</li>
<li><b>Interval level</b> for ensembles.</li></ul>
<b>Outputs</b>
<ul><li><b>Closed abundances</b>: one band per mineral (%), with two or more members <i>lower_&lt;mineral&gt;</i>
and <i>upper_&lt;mineral&gt;</i> (%), and <i>n_clipped</i>. Styled 0–100 %.</li></ul>
<b>Reference</b>: Duchi, J. et al. (2008), Efficient projections onto the l1-ball, ICML; Egozcue, J. J. et al.
(2003), Isometric logratio transformations for compositional data analysis, Math. Geol. 35(3), 279–300."""

    INPUT, MINERALS, METHOD, SCALE, LEVEL, OUTPUT = ("INPUT", "MINERALS", "METHOD", "INPUT_SCALE", "LEVEL",
                                                     "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(self.INPUT, "Regression rasters (ensemble members)",
                                                               RASTER))
        self.addParameter(QgsProcessingParameterString(self.MINERALS, "Minerals (comma-separated)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Closure", options=METHOD_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.SCALE, "Input scale", options=SCALES, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.LEVEL, "Interval level",
                                                       DOUBLE, defaultValue=0.9,
                                                       minValue=0.01, maxValue=0.999))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Closed abundances"))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.unmix.raster import close_raster
        paths = [layer.source() for layer in self.parameterAsLayerList(parameters, self.INPUT, context)]
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = close_raster(paths, out,
                              minerals=self.name_list(parameters, self.MINERALS, context),
                              method=CLOSE_METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
                              input_percent=self.parameterAsEnum(parameters, self.SCALE, context) == 0,
                              level=self.parameterAsDouble(parameters, self.LEVEL, context), progress=progress)
        self.layer_names[self.OUTPUT] = share_layer_name("Closed abundance", result["shown"],
                                                         len(result["minerals"]), "minerals")
        self.metrics.update(n_members=len(paths), n_clipped=result["n_clipped"], bands=result["band_names"])
        if len(paths) > 1:
            self.uncertainty = interval_uncertainty("ensemble quantiles",
                                                    self.parameterAsDouble(parameters, self.LEVEL, context), None)
        return {self.OUTPUT: out}
