"""remine:ordinarykriging — prediction and variance rasters from sample points, block-wise."""
from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.report.uncertainty import kriging_uncertainty
from ..compat import DOUBLE
from ..krigingalgorithmbase import KrigingAlgorithm


class OrdinaryKrigingAlgorithm(KrigingAlgorithm):
    NAME = "ordinarykriging"
    CLUSTER = True
    DISPLAY = "Ordinary kriging (prediction and variance)"
    GROUP = "Geostatistics"
    HELP = """Ordinary kriging of a numeric field of sample points onto a raster grid, with the kriging variance,
block by block under a memory budget (10⁷ cells in bounded memory). Each cell is estimated from its nearest
samples (KD-tree neighbourhood); results equal R gstat and PyKrige.

<b>Inputs</b>
<ul><li><b>Sample points</b> and <b>Field</b>; points in another CRS than the grid are reprojected to it.</li>
<li><b>Variogram model</b>: a JSON file from <i>remine:variogram</i>, or a model fitted automatically.</li>
<li><b>Neighbours</b> (default 32, 0 = all samples), <b>Search radius</b> (m, 0 = none).</li>
<li><b>Template raster</b> (its grid is used) or <b>Extent</b> (default: the sample points') + <b>Pixel
size</b> (m).</li>
<li><b>Block size</b> (m, 0 = point kriging): block kriging averages over square blocks (4 × 4 Gauss–Legendre
points, as gstat).</li>
<li><b>Log-normal</b>: krige log(values) and back-transform without bias (values &gt; 0).</li></ul>
<b>Outputs</b>
<ul><li><b>Prediction</b> and <b>Variance</b> GeoTIFFs (float32, NaN where no sample lies within the radius).</li>
<li><b>Cross-validation report</b> (optional HTML): leave-one-out metrics (RMSE, MAE, R², mean standardised
error, MSDR) and plots.</li></ul>
Duplicates are averaged, NaN values dropped, singular systems regularised, extrapolation reported in the log.
<br><b>Reference</b>: Isaaks, E. H. &amp; Srivastava, R. M. (1989), An Introduction to Applied Geostatistics,
Oxford Univ. Press, ch. 12–13; Pebesma, E. J. (2004), Computers &amp; Geosciences 30, 683–691."""

    MAX_DIST, TEMPLATE, EXTENT, PIXEL_SIZE, BLOCK_SIZE, LOGNORMAL, OUTPUT, OUTPUT_VARIANCE, CV_REPORT = ("MAX_DIST",
        "TEMPLATE", "EXTENT", "PIXEL_SIZE", "BLOCK_SIZE", "LOGNORMAL", "OUTPUT", "OUTPUT_VARIANCE", "CV_REPORT")

    def initAlgorithm(self, config=None):
        self.add_sample_parameters()
        self.add_model_parameters()
        self.addParameter(QgsProcessingParameterNumber(self.MAX_DIST, "Search radius (m, 0 = none)",
                                                       DOUBLE, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterRasterLayer(self.TEMPLATE, "Template raster (grid)", optional=True))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent (when no template)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.PIXEL_SIZE, "Pixel size (m, when no template)",
                                                       DOUBLE, defaultValue=10.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.BLOCK_SIZE, "Block size (m, 0 = point kriging)",
                                                       DOUBLE, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterBoolean(self.LOGNORMAL, "Log-normal kriging", defaultValue=False))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_VARIANCE, "Variance"))
        self.addParameter(QgsProcessingParameterFileDestination(self.CV_REPORT, "Cross-validation report",
                                                                "HTML (*.html)", optional=True))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.geostat import OrdinaryKriging, krige_raster
        from ...core.geostat.report import cross_validation_analysis
        self.name_layers(parameters, context)
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        k = self.n_neighbors(parameters, context)
        max_dist = self.parameterAsDouble(parameters, self.MAX_DIST, context)
        block = self.parameterAsDouble(parameters, self.BLOCK_SIZE, context)
        kriger = OrdinaryKriging(None, n_neighbors=k, max_dist=max_dist or None, block_size=block or None,
                                 lognormal=self.parameterAsBoolean(parameters, self.LOGNORMAL, context))
        pred = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        var = self.parameterAsOutputLayer(parameters, self.OUTPUT_VARIANCE, context)
        cv_path = self.parameterAsFileOutput(parameters, self.CV_REPORT, context)
        res = krige_raster(layer.source(), field=field, model=self.read_model(parameters, context),
                           kriger=kriger, prediction_path=pred, variance_path=var,
                           progress=progress.sub(0.0, 0.9 if cv_path else 1.0),
                           **self.grid(parameters, context, layer.crs(), progress))
        self.metrics.update(model=res["model"], n_points=res["n_points"],
                            extrapolated_fraction=res["extrapolated_fraction"])
        out = {self.OUTPUT: res["prediction"], self.OUTPUT_VARIANCE: res["variance"], self.CV_REPORT: None}
        if cv_path:
            cv = cross_validation_analysis(res["points"], field, res["kriger"], report_path=cv_path)
            self.metrics.update(cross_validation=cv.metrics)
            out[self.CV_REPORT] = cv_path
        self.uncertainty = kriging_uncertainty(res["variance"], self.metrics.get("cross_validation"))
        progress.report(1.0)
        return out
