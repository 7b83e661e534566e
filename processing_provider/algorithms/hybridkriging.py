"""remine:hybridkriging — ordinary kriging corrected by a 1D CNN-BiLSTM ensemble, judged against OK/KED."""
from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterExtent,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from ...core.geostat.hybrid_map import hybrid_kriging_raster
from ...core.report.uncertainty import raster_summary
from ..base import RemineAlgorithm
from .ordinarykriging import OrdinaryKrigingAlgorithm


class HybridKrigingAlgorithm(RemineAlgorithm):
    NAME = "hybridkriging"
    DISPLAY = "Hybrid kriging (kriging + CNN-BiLSTM ensemble)"
    GROUP = "Geostatistics"
    HELP = """Ordinary kriging corrected by a small ensemble of 1D CNN-BiLSTM networks (after Anvari et al. 2025),
with the exhaustive rasters you have — abundance maps from <i>remine:unmix</i>, class probabilities, elevation —
as covariates, and a report that says whether it beats kriging on <i>your</i> data.

For every cell the network sees the nearest samples (value, offset, distance, variogram covariance), the
ordinary-kriging estimate and standard deviation there, the coordinates and the covariates, and predicts the
kriging residual. <b>No leakage</b>: at a sample, its own value never enters its inputs (leave-one-out
neighbours and kriging), as for a cell to be mapped. Five networks with different seeds give the standard
deviation, calibrated so that 90 % intervals cover 90 % of out-of-fold samples. Needs PyTorch (the
<i>deep</i> extra: <tt>pip install 'remine[deep]'</tt>).

<b>Inputs</b>
<ul><li><b>Sample points</b> (projected CRS, metres) and <b>Field</b> (rows without a value are dropped).</li>
<li><b>Covariate rasters</b> (optional): every band is a covariate; single-band class maps (colour table or class
names) are one-hot encoded; all on one grid, in the points' CRS, covering every point.</li>
<li><b>Template raster</b> (its grid; default the covariates' grid) or <b>Extent</b> + <b>Pixel size</b> (m).</li>
<li><b>Neighbours</b> per sequence (16), <b>Ensemble members</b> (5), <b>Maximum epochs</b> (300, with early
stopping), <b>Folds</b> of the comparison (5, spatial), <b>Seed</b> (same seed, same maps).</li></ul>
<b>Outputs</b>
<ul><li><b>Prediction</b> and <b>Standard deviation</b> GeoTIFFs (float32, NaN where a covariate is nodata),
written block by block.</li>
<li><b>Report</b> (HTML, optional): OK, the hybrid and KED (kriging with external drift on the same covariates)
on identical spatial folds — table, paired Wilcoxon test, loss curves, observed against predicted, interval
coverage — and a plain-words verdict: <i>beats kriging</i> or <i>does not beat kriging on these data</i>.</li></ul>
Progress is reported per epoch and per block; Cancel stops within an epoch or a block and leaves no file.
<br><b>Reference</b>: Anvari, K., Benndorf, J., Gerber, … (2025), Scientific Reports 15, 35004 (the network);
Hengl, T. et al. (2007), Computers &amp; Geosciences 33, 1301–1315 (regression kriging, the KED baseline)."""

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer("INPUT", "Sample points",
                                                            [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELD", "Field", parentLayerParameterName="INPUT",
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterMultipleLayers("COVARIATES", "Covariate rasters",
                                                               QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer("TEMPLATE", "Template raster (grid)", optional=True))
        self.addParameter(QgsProcessingParameterExtent("EXTENT", "Extent (when no template or covariates)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size (m, when no template)",
                                                       QgsProcessingParameterNumber.Double, defaultValue=10.0,
                                                       minValue=0.0))
        for name, label, default, lo in (("N_NEIGHBORS", "Neighbours per sequence", 16, 1),
                                         ("N_ENSEMBLE", "Ensemble members", 5, 1),
                                         ("MAX_EPOCHS", "Maximum epochs per member", 300, 1),
                                         ("FOLDS", "Spatial folds of the comparison", 5, 2),
                                         ("SEED", "Seed", 0, 0)):
            self.addParameter(QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Integer,
                                                           defaultValue=default, minValue=lo))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_STD", "Standard deviation"))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Comparison report",
                                                                "HTML (*.html)", optional=True))

    def compute(self, parameters, context, progress):
        layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
        covariates = [lyr.source() for lyr in self.parameterAsLayerList(parameters, "COVARIATES", context)]
        template = self.parameterAsRasterLayer(parameters, "TEMPLATE", context)
        grid = {"template": template.source()} if template is not None else {}
        if template is None and not covariates:
            g = OrdinaryKrigingAlgorithm.grid(self, parameters, context, layer.crs())
            grid = {"extent": g["extent"], "pixel_size": g["pixel_size"], "crs": g["crs"]}
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context) or None
        integer = {n: self.parameterAsInt(parameters, n, context)
                   for n in ("N_NEIGHBORS", "N_ENSEMBLE", "MAX_EPOCHS", "FOLDS", "SEED")}
        res = hybrid_kriging_raster(
            layer.source(), self.parameterAsString(parameters, "FIELD", context),
            self.parameterAsOutputLayer(parameters, "OUTPUT", context),
            self.parameterAsOutputLayer(parameters, "OUTPUT_STD", context), covariates=covariates,
            report_path=report, n_neighbors=integer["N_NEIGHBORS"], n_ensemble=integer["N_ENSEMBLE"],
            max_epochs=integer["MAX_EPOCHS"], k=integer["FOLDS"], seed=integer["SEED"], progress=progress,
            **grid)
        self.metrics.update(n_points=res["n_points"], covariates=covariates, verdict=res["verdict"],
                            beats_kriging=res["beats_kriging"], std_scale=res["std_scale"],
                            oof_coverage_unscaled=res["oof_coverage"], epochs=res["epochs"])
        if res["comparison"] is not None:
            means = res["comparison"].attrs["summary"]["means"]
            self.metrics["comparison"] = {m: {k: float(v) for k, v in row.items()} for m, row in
                                          means.iterrows()}
        self.uncertainty = {"kind": "calibrated ensemble standard deviation", "std_scale": res["std_scale"],
                            "oof_coverage_unscaled": res["oof_coverage"],
                            "std": raster_summary(res["std"], bands=[1])}
        if res["verdict"]:
            progress.info(res["verdict"])
        return {"OUTPUT": res["prediction"], "OUTPUT_STD": res["std"], "OUTPUT_REPORT": res["report"]}
