"""remine:ordinarykriging — prediction and variance rasters from sample points, block-wise."""
from qgis.core import (QgsProcessing, QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterExtent, QgsProcessingParameterField, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterVectorLayer)

from ...core.errors import InputError
from ...core.geostat import OrdinaryKriging, krige_raster, read_model_json
from ...core.geostat.report import cross_validation_analysis
from ...core.report.uncertainty import kriging_uncertainty
from ..base import RemineAlgorithm
from .variogram import MODELS


def model_parameters(alg):
    """The variogram-model parameters shared by the kriging algorithms."""
    alg.addParameter(QgsProcessingParameterFile("MODEL_FILE", "Variogram model (JSON from remine:variogram)",
                                                extension="json", optional=True))
    alg.addParameter(QgsProcessingParameterEnum("MODEL", "Model to fit when no file is given", options=MODELS,
                                                defaultValue=0))
    alg.addParameter(QgsProcessingParameterNumber("N_NEIGHBORS", "Neighbours per estimate (0 = all samples)",
                                                  QgsProcessingParameterNumber.Integer, defaultValue=32, minValue=0))


def read_model(alg, parameters, context):
    """A VariogramModel from MODEL_FILE, else the name of the model to fit."""
    path = alg.parameterAsFile(parameters, "MODEL_FILE", context)
    if path:
        alg.warn_ignored(parameters, ["MODEL"], "a variogram model file is given")
    return read_model_json(path) if path else MODELS[alg.parameterAsEnum(parameters, "MODEL", context)]


class OrdinaryKrigingAlgorithm(RemineAlgorithm):
    NAME = "ordinarykriging"
    DISPLAY = "Ordinary kriging (prediction and variance)"
    GROUP = "Geostatistics"
    HELP = """Ordinary kriging of a numeric field of sample points onto a raster grid, with the kriging variance,
block by block under a memory budget (10⁷ cells in bounded memory). Each cell is estimated from its nearest
samples (KD-tree neighbourhood); results equal R gstat and PyKrige.

<b>Inputs</b>
<ul><li><b>Sample points</b> (projected CRS, metres) and <b>Field</b>.</li>
<li><b>Variogram model</b>: a JSON file from <i>remine:variogram</i>, or a model fitted automatically.</li>
<li><b>Neighbours</b> (default 32, 0 = all samples), <b>Search radius</b> (m, 0 = none).</li>
<li><b>Template raster</b> (its grid is used) or <b>Extent</b> + <b>Pixel size</b> (m).</li>
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

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer("INPUT", "Sample points",
                                                            [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELD", "Field", parentLayerParameterName="INPUT",
                                                      type=QgsProcessingParameterField.Numeric))
        model_parameters(self)
        self.addParameter(QgsProcessingParameterNumber("MAX_DIST", "Search radius (m, 0 = none)",
                                                       QgsProcessingParameterNumber.Double, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterRasterLayer("TEMPLATE", "Template raster (grid)", optional=True))
        self.addParameter(QgsProcessingParameterExtent("EXTENT", "Extent (when no template)", optional=True))
        self.addParameter(QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size (m, when no template)",
                                                       QgsProcessingParameterNumber.Double, defaultValue=10.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber("BLOCK_SIZE", "Block size (m, 0 = point kriging)",
                                                       QgsProcessingParameterNumber.Double, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterBoolean("LOGNORMAL", "Log-normal kriging", defaultValue=False))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_VARIANCE", "Variance"))
        self.addParameter(QgsProcessingParameterFileDestination("CV_REPORT", "Cross-validation report",
                                                                "HTML (*.html)", optional=True))

    def grid(self, parameters, context, points_crs):
        """``dict`` of krige_raster grid arguments: a template path, or extent + pixel size + CRS."""
        template = self.parameterAsRasterLayer(parameters, "TEMPLATE", context)
        if template is not None:
            self.warn_ignored(parameters, ["EXTENT", "PIXEL_SIZE"], "the template raster gives the grid")
            return {"grid_like": template.source()}
        if not parameters.get("EXTENT"):
            raise InputError("no output grid: give a template raster or an extent and a pixel size")
        crs = self.parameterAsExtentCrs(parameters, "EXTENT", context)
        rect = self.parameterAsExtent(parameters, "EXTENT", context, crs)
        authid = crs.authid() if crs.isValid() else points_crs.authid()
        return {"extent": (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()),
                "pixel_size": self.parameterAsDouble(parameters, "PIXEL_SIZE", context), "crs": authid or None}

    def compute(self, parameters, context, progress):
        layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
        field = self.parameterAsString(parameters, "FIELD", context)
        k = self.parameterAsInt(parameters, "N_NEIGHBORS", context)
        max_dist = self.parameterAsDouble(parameters, "MAX_DIST", context)
        block = self.parameterAsDouble(parameters, "BLOCK_SIZE", context)
        model = read_model(self, parameters, context)
        kriger = OrdinaryKriging(None if isinstance(model, str) else model, n_neighbors=k or None,
                                 max_dist=max_dist or None, block_size=block or None,
                                 lognormal=self.parameterAsBoolean(parameters, "LOGNORMAL", context))
        pred = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        var = self.parameterAsOutputLayer(parameters, "OUTPUT_VARIANCE", context)
        cv_path = self.parameterAsFileOutput(parameters, "CV_REPORT", context)
        res = krige_raster(layer.source(), field=field, model=model if isinstance(model, str) else None,
                           kriger=kriger, prediction_path=pred, variance_path=var,
                           progress=progress.sub(0.0, 0.9 if cv_path else 1.0),
                           **self.grid(parameters, context, layer.crs()))
        self.metrics.update(model=res["model"], n_points=res["n_points"],
                            extrapolated_fraction=res["extrapolated_fraction"])
        out = {"OUTPUT": res["prediction"], "OUTPUT_VARIANCE": res["variance"], "CV_REPORT": None}
        if cv_path:
            cv = cross_validation_analysis(layer.source(), field, kriger, report_path=cv_path)
            self.metrics.update(cross_validation=cv.metrics)
            out["CV_REPORT"] = cv_path
        self.uncertainty = kriging_uncertainty(res["variance"], self.metrics.get("cross_validation"))
        progress.report(1.0)
        return out
