"""remine:krigingcrossvalidation — leave-one-out / k-fold / spatial cross-validation of ordinary kriging or
kriging with external drift."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)

from ...core.geostat.fit import resolve_model
from ...core.geostat.options import SCHEMES
from ...core.points import read_points
from ...core.report.uncertainty import cross_validation_uncertainty
from ..compat import INTEGER, RASTER
from ..krigingalgorithmbase import KrigingAlgorithm

SCHEME_LABELS = ["Leave-one-out (closed form)", "k-fold (random folds)", "Spatial k-fold (k-means clusters)"]


class KrigingCrossValidation(KrigingAlgorithm):
    NAME = "krigingcrossvalidation"
    DISPLAY = "Kriging cross-validation"
    GROUP = "Geostatistics"
    HELP = """Cross-validates ordinary kriging, or kriging with external drift when <b>drift rasters</b> are
given (as in <i>remine:externaldriftkriging</i>), of a point field with a fixed variogram model and reports
how good the predictions and their variances are. Leave-one-out is computed without refitting each point: the closed
form of Dubrule (1983) for a global neighbourhood, one updated factorisation per point for a local one
(10 000 points with 32 neighbours in about a second). k-fold uses random folds; spatial k-fold uses k-means
clusters of the coordinates, which tests prediction into unsampled areas.

<b>Inputs</b>
<ul><li><b>Sample points</b> (projected CRS) and <b>Field</b>; <b>Variogram model</b> (JSON from
<i>remine:variogram</i>, or fitted automatically); <b>Neighbours</b> (0 = all).</li>
<li><b>Drift rasters</b> (optional): single-band rasters sampled at the points (points outside them or on
nodata are left out, with a count in the log); the variogram is then that of the drift residuals.</li>
<li><b>Scheme</b>, <b>Number of folds</b>, <b>Seed</b>.</li></ul>
<b>Outputs</b>
<ul><li><b>Table</b> (CSV): x, y, observed, predicted, variance, residual, zscore, fold per sample.</li>
<li><b>Report</b> (HTML): RMSE, MAE, R², Pearson r, mean error, mean standardised error, mean squared
deviation ratio (≈ 1 when the variance is right), observed-vs-predicted plot, residual map.</li></ul>
<b>Reference</b>: Dubrule, O. (1983), Cross validation of kriging in a unique neighborhood, Math. Geol. 15(6),
687–699; Roberts, D. R. et al. (2017), Cross-validation strategies for data with temporal, spatial,
hierarchical, or phylogenetic structure, Ecography 40, 913–929."""

    DRIFT, SCHEME, K, SEED, OUTPUT_TABLE, OUTPUT_REPORT = ("DRIFT", "SCHEME", "K", "SEED", "OUTPUT_TABLE",
                                                          "OUTPUT_REPORT")

    def initAlgorithm(self, config=None):
        self.add_sample_parameters()
        self.add_model_parameters()
        self.addParameter(QgsProcessingParameterMultipleLayers(self.DRIFT, "Drift rasters (external drift)",
                                                               RASTER, optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.SCHEME, "Scheme", options=SCHEME_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.K, "Number of folds (k-fold, spatial)",
                                                       INTEGER, defaultValue=5,
                                                       minValue=2))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Seed", INTEGER,
                                                       defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_TABLE, "Cross-validation table",
                                                                "CSV (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Report", "HTML (*.html)",
                                                                optional=True))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.geostat import ExternalDriftKriging, OrdinaryKriging
        from ...core.geostat.report import cross_validation_analysis, drift_at_points
        source = self.parameterAsVectorLayer(parameters, self.INPUT, context).source()
        field = self.parameterAsString(parameters, self.FIELD, context)
        model = self.read_model(parameters, context)
        drift = [lyr.source() for lyr in self.parameterAsLayerList(parameters, self.DRIFT, context)] or None
        if isinstance(model, str):  # a name: fit it to the points
            pts = read_points(source, field)
            coords, values, d = drift_at_points(drift, pts.coords, pts.values) if drift else (pts.coords,
                                                                                             pts.values, None)
            model = resolve_model(model, coords, values, drift=d)
        k = self.n_neighbors(parameters, context)
        kriging = ExternalDriftKriging if drift else OrdinaryKriging
        progress.report(0.1, "cross-validation")
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        table = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context)
        cv = cross_validation_analysis(source, field, kriging(model, n_neighbors=k),
                                       scheme=SCHEMES[self.parameterAsEnum(parameters, self.SCHEME, context)],
                                       k=self.parameterAsInt(parameters, self.K, context),
                                       seed=self.parameterAsInt(parameters, self.SEED, context), table_path=table,
                                       report_path=report or None, drift=drift)
        progress.report(1.0)
        self.metrics.update(cv.metrics, model=model.to_dict(), drift=drift)
        self.uncertainty = cross_validation_uncertainty(SCHEMES[self.parameterAsEnum(parameters, self.SCHEME, context)],
                                                        cv.metrics,
                                                        ("rmse", "mae", "r2", "msdr", "mean_standardised_error"))
        return {self.OUTPUT_TABLE: table, self.OUTPUT_REPORT: report or None}
