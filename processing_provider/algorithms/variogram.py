"""remine:variogram — sample variogram and fitted model of a point field (gstat defaults), with plots."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
)

from ...core.geostat.fit import WEIGHTS
from ...core.geostat.models import FITTED_MODELS
from ...core.geostat.variogram import ESTIMATORS
from ..base import RemineAlgorithm
from ..compat import DOUBLE, FIELD_NUMERIC, INTEGER, VECTOR_POINT

WEIGHT_NAMES = list(WEIGHTS)  # npairs_over_h2 (gstat fit.method 7), npairs, cressie, equal


class Variogram(RemineAlgorithm):
    NAME = "variogram"
    DISPLAY = "Variogram (sample variogram and fitted model)"
    GROUP = "Geostatistics"
    HELP = """Computes the sample (experimental) variogram of a numeric field of sample points and fits a
variogram model by weighted least squares, reproducing R gstat: default cutoff = one third of the bounding-box
diagonal, 15 bins, weights N<sub>j</sub>/h<sub>j</sub>² (gstat <i>fit.method = 7</i>). Missing values are
dropped and duplicate locations averaged (reported in the log).

<b>Inputs</b>
<ul><li><b>Sample points</b>: point layer in a projected CRS (metres); <b>Field</b>: the numeric attribute
(e.g. Zn_ppm).</li>
<li><b>Model</b>: spherical, exponential, gaussian, matérn (κ = 0.5) or power, fitted from initial values
nugget = 10 % and partial sill = 90 % of the variance, range = half the cutoff.</li>
<li><b>Number of lags</b>, <b>Cutoff</b> (m, 0 = gstat default), <b>Direction</b> (degrees clockwise from
North, empty = omnidirectional) and <b>Angular tolerance</b>, <b>Estimator</b> (Matheron or Cressie–Hawkins
robust), <b>Fit weights</b>.</li></ul>
<b>Outputs</b>
<ul><li><b>Variogram table</b> (CSV): np, dist, gamma and the model at each lag.</li>
<li><b>Fitted model</b> (JSON: model, psill, range_, nugget), reusable by the kriging algorithms.</li>
<li><b>Report</b> (HTML) and <b>Plot</b> (PNG), optional: variogram plot with the model and a variogram map.</li></ul>
<b>Reference</b>: Pebesma, E. J. (2004), Multivariable geostatistics in S: the gstat package, Computers &amp;
Geosciences 30, 683–691; Cressie, N. (1985), Fitting variogram models by weighted least squares, Math. Geol. 17."""

    INPUT, FIELD, MODEL, N_LAGS, CUTOFF, DIRECTION, TOLERANCE, ESTIMATOR, WEIGHTS = (
        "INPUT", "FIELD", "MODEL", "N_LAGS", "CUTOFF", "DIRECTION", "TOLERANCE", "ESTIMATOR", "WEIGHTS")
    OUTPUT_TABLE, OUTPUT_MODEL, OUTPUT_REPORT, OUTPUT_PLOT = ("OUTPUT_TABLE", "OUTPUT_MODEL", "OUTPUT_REPORT",
                                                              "OUTPUT_PLOT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Sample points",
                                                            [VECTOR_POINT]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Field", parentLayerParameterName=self.INPUT,
                                                      type=FIELD_NUMERIC))
        self.addParameter(QgsProcessingParameterEnum(self.MODEL, "Model", options=list(FITTED_MODELS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.N_LAGS, "Number of lags",
                                                       INTEGER,
                                                       defaultValue=15, minValue=2))
        self.addParameter(QgsProcessingParameterNumber(self.CUTOFF, "Cutoff (m, 0 = one third of the diagonal)",
                                                       DOUBLE, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.DIRECTION, "Direction (degrees from North, empty = all)",
                                                       DOUBLE, optional=True,
                                                       minValue=-360.0, maxValue=360.0))
        self.addParameter(QgsProcessingParameterNumber(self.TOLERANCE, "Angular tolerance (degrees)",
                                                       DOUBLE, defaultValue=22.5,
                                                       minValue=0.0, maxValue=90.0))
        self.addParameter(QgsProcessingParameterEnum(self.ESTIMATOR, "Estimator", options=list(ESTIMATORS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.WEIGHTS, "Fit weights", options=WEIGHT_NAMES, defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_TABLE, "Variogram table", "CSV (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Fitted model", "JSON (*.json)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Report", "HTML (*.html)",
                                                                optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_PLOT, "Plot", "PNG (*.png)", optional=True))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.geostat.report import variogram_analysis
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        cutoff = self.parameterAsDouble(parameters, self.CUTOFF, context)
        direction = parameters.get(self.DIRECTION)
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        plot = self.parameterAsFileOutput(parameters, self.OUTPUT_PLOT, context)
        progress.report(0.1, "sample variogram")
        res = variogram_analysis(layer.source(), field,
                                 model=FITTED_MODELS[self.parameterAsEnum(parameters, self.MODEL, context)],
                                 n_lags=self.parameterAsInt(parameters, self.N_LAGS, context), cutoff=cutoff or None,
                                 direction=None if direction in (None, "") else self.parameterAsDouble(
                                     parameters, self.DIRECTION, context),
                                 tolerance=self.parameterAsDouble(parameters, self.TOLERANCE, context),
                                 estimator=ESTIMATORS[self.parameterAsEnum(parameters, self.ESTIMATOR, context)],
                                 weights=WEIGHT_NAMES[self.parameterAsEnum(parameters, self.WEIGHTS, context)],
                                 table_path=self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context),
                                 model_path=self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context),
                                 report_path=report or None, plot_path=plot or None)
        progress.report(1.0)
        self.metrics.update(model=res["model"].to_dict(), n_points=res["n_points"],
                            cutoff_m=res["experimental"].cutoff, fit=res["model"].fit_info_["converged"])
        return {self.OUTPUT_TABLE: res["table"], self.OUTPUT_MODEL: res["model_path"],
                self.OUTPUT_REPORT: res["report"], self.OUTPUT_PLOT: res["plot"]}
