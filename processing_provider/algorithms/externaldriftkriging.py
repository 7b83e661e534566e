"""remine:externaldriftkriging — kriging with external drift (e.g. mineral abundance rasters) onto their grid."""
from qgis.core import (
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
)

from ...core.errors import InputError
from ...core.report.uncertainty import kriging_uncertainty
from ..compat import RASTER
from ..krigingalgorithmbase import KrigingAlgorithm


class ExternalDriftKrigingAlgorithm(KrigingAlgorithm):
    NAME = "externaldriftkriging"
    CLUSTER = True
    DISPLAY = "Kriging with external drift"
    GROUP = "Geostatistics"
    HELP = """Kriging with external drift (KED): the local mean of the sampled grade is a linear function of
co-located rasters known everywhere — typically mineral abundance maps from <i>remine:unmix</i> — and the
residual is kriged. Grades follow the mapped mineralogy where samples are sparse.

<b>Inputs</b>
<ul><li><b>Sample points</b> (another CRS is reprojected to the grid's) and <b>Field</b> (e.g. Zn_ppm).</li>
<li><b>Drift rasters</b>: one or more single-band rasters on one grid, which is also the output grid; they are
sampled at the points (points outside them or on nodata are dropped, with a count in the log).</li>
<li><b>Variogram model</b>: JSON of the residual variogram, or fitted automatically to the residuals of a
least-squares regression of the field on the drift; <b>Neighbours</b> (0 = all).</li></ul>
<b>Outputs</b>
<ul><li><b>Prediction</b> and <b>Variance</b> GeoTIFFs on the drift grid (NaN where a drift is nodata). When every
sample is ≥ 0 (grades), predictions below 0 — a linear drift extrapolated beyond the sampled drift values, or
negative kriging weights — are set to 0; their number is in the log and the passport (n_clipped).
Cross-validate the same model with <i>remine:krigingcrossvalidation</i> and its drift rasters.</li></ul>
<b>Reference</b>: Wackernagel, H. (2003), Multivariate Geostatistics, 3rd ed., Springer, ch. 38 (external
drift); Hengl, T. et al. (2007), About regression-kriging, Computers &amp; Geosciences 33, 1301–1315."""

    DRIFT, OUTPUT, OUTPUT_VARIANCE = ("DRIFT", "OUTPUT", "OUTPUT_VARIANCE")

    def initAlgorithm(self, config=None):
        self.add_sample_parameters()
        self.addParameter(QgsProcessingParameterMultipleLayers(self.DRIFT, "Drift rasters",
                                                               RASTER))
        self.add_model_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_VARIANCE, "Variance"))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.geostat import ExternalDriftKriging, krige_raster
        self.name_layers(parameters, context, estimate="kriged with external drift")
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        drift = [lyr.source() for lyr in self.parameterAsLayerList(parameters, self.DRIFT, context)]
        if not drift:
            raise InputError("no drift raster given; expected one or more single-band rasters")
        kriger = ExternalDriftKriging(None, n_neighbors=self.n_neighbors(parameters, context))
        res = krige_raster(layer.source(), drift[0], field=self.parameterAsString(parameters, self.FIELD, context),
                           model=self.read_model(parameters, context), kriger=kriger, drift=drift,
                           prediction_path=self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
                           variance_path=self.parameterAsOutputLayer(parameters, self.OUTPUT_VARIANCE, context),
                           progress=progress)
        self.metrics.update(model=res["model"], n_points=res["n_points"], drift=drift,
                            extrapolated_fraction=res["extrapolated_fraction"], n_clipped=res["n_clipped"])
        self.uncertainty = kriging_uncertainty(res["variance"])
        return {self.OUTPUT: res["prediction"], self.OUTPUT_VARIANCE: res["variance"]}
