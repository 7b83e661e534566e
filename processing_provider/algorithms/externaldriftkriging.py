"""remine:externaldriftkriging — kriging with external drift (e.g. mineral abundance rasters) onto their grid."""
from qgis.core import (QgsProcessing, QgsProcessingParameterField, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterVectorLayer)

from ...core.errors import InputError
from ...core.geostat import ExternalDriftKriging, krige_raster
from ...core.report.uncertainty import kriging_uncertainty
from ..base import RemineAlgorithm
from .ordinarykriging import model_parameters, read_model


class ExternalDriftKrigingAlgorithm(RemineAlgorithm):
    NAME = "externaldriftkriging"
    DISPLAY = "Kriging with external drift"
    GROUP = "Geostatistics"
    HELP = """Kriging with external drift (KED): the local mean of the sampled grade is a linear function of
co-located rasters known everywhere — typically mineral abundance maps from <i>remine:unmix</i> — and the
residual is kriged. Grades follow the mapped mineralogy where samples are sparse.

<b>Inputs</b>
<ul><li><b>Sample points</b> (projected CRS) and <b>Field</b> (e.g. Zn_ppm).</li>
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

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer("INPUT", "Sample points",
                                                            [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELD", "Field", parentLayerParameterName="INPUT",
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterMultipleLayers("DRIFT", "Drift rasters",
                                                               QgsProcessing.TypeRaster))
        model_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_VARIANCE", "Variance"))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
        drift = [lyr.source() for lyr in self.parameterAsLayerList(parameters, "DRIFT", context)]
        if not drift:
            raise InputError("no drift raster given; expected one or more single-band rasters")
        model = read_model(self, parameters, context)
        k = self.parameterAsInt(parameters, "N_NEIGHBORS", context)
        kriger = ExternalDriftKriging(None if isinstance(model, str) else model, n_neighbors=k or None)
        res = krige_raster(layer.source(), drift[0], field=self.parameterAsString(parameters, "FIELD", context),
                           model=model if isinstance(model, str) else None, kriger=kriger, drift=drift,
                           prediction_path=self.parameterAsOutputLayer(parameters, "OUTPUT", context),
                           variance_path=self.parameterAsOutputLayer(parameters, "OUTPUT_VARIANCE", context),
                           progress=progress)
        self.metrics.update(model=res["model"], n_points=res["n_points"], drift=drift,
                            extrapolated_fraction=res["extrapolated_fraction"], n_clipped=res["n_clipped"])
        self.uncertainty = kriging_uncertainty(res["variance"])
        return {"OUTPUT": res["prediction"], "OUTPUT_VARIANCE": res["variance"]}
