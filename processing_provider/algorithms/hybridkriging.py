"""remine:hybridkriging — ordinary kriging corrected by a 1D CNN-BiLSTM ensemble, judged against OK/KED."""
from qgis.core import (
    QgsProcessingParameterExtent,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.raster.style import MAGMA, quantity, unit_suffix, write_data_style
from ...core.report.uncertainty import raster_summary
from ..compat import DOUBLE, INTEGER, RASTER
from ..krigingalgorithmbase import KrigingAlgorithm


class HybridKrigingAlgorithm(KrigingAlgorithm):
    NAME = "hybridkriging"
    CLUSTER = True
    DISPLAY = "Hybrid kriging (kriging + CNN-BiLSTM ensemble)"
    GROUP = "Geostatistics"
    HELP = """Ordinary kriging corrected by a small ensemble of 1D CNN-BiLSTM networks, with the exhaustive
rasters you have — abundance maps from <i>remine:unmix</i>, class probabilities, elevation —
as covariates, and a report that says whether it beats kriging on <i>your</i> data.

For every cell the network sees the nearest samples (value, offset, distance, variogram covariance), the
ordinary-kriging estimate and standard deviation there, the coordinates and the covariates, and predicts the
kriging residual. <b>No leakage</b>: a sample's own value never enters its inputs (leave-one-out neighbours
and kriging); only the variogram, fitted on all samples, sees every value (the report fits it per training
fold). Five networks with different seeds give the standard deviation, calibrated so that 90 % intervals
cover 90 % of samples held out in spatial folds. Needs PyTorch (the <i>deep</i> extra).

<b>Inputs</b>
<ul><li><b>Sample points</b> and <b>Field</b>; another CRS than the grid's is reprojected.</li>
<li><b>Covariate rasters</b> (optional): every band is a covariate; single-band class maps (colour table or class
names) are one-hot encoded; all on one grid in its CRS, covering every point.</li>
<li><b>Template raster</b> (its grid; default the covariates' grid) or <b>Extent</b> + <b>Pixel size</b> (m).</li>
<li><b>Neighbours</b> per sequence (16), <b>Ensemble members</b> (5), <b>Maximum epochs</b> (300, with early
stopping), <b>Folds</b> of the comparison (5, spatial), <b>Seed</b> (same seed, same maps).</li></ul>
<b>Outputs</b>
<ul><li><b>Prediction</b> and <b>Standard deviation</b> GeoTIFFs (NaN where a covariate is nodata, counted
in the log).</li>
<li><b>Report</b> (HTML, optional): OK, the hybrid and KED (kriging with external drift on the same covariates)
on identical spatial folds — table, paired Wilcoxon test, loss curves, observed against predicted, interval
coverage — and a plain-words verdict: <i>beats kriging</i> or <i>does not beat kriging on these data</i>.</li></ul>
<br><b>Reference</b>: Anvari, K., Benndorf, J., Gerber, … (2025), Scientific Reports 15, 35004 (the network);
Hengl, T. et al. (2007), Computers &amp; Geosciences 33, 1301–1315 (regression kriging, the KED baseline)."""

    COVARIATES, N_ENSEMBLE, MAX_EPOCHS, FOLDS, SEED = "COVARIATES", "N_ENSEMBLE", "MAX_EPOCHS", "FOLDS", "SEED"
    OUTPUT, OUTPUT_STD, OUTPUT_REPORT = "OUTPUT", "OUTPUT_STD", "OUTPUT_REPORT"
    CORE_NAMES = {"n_neighbors": "N_NEIGHBORS", "n_ensemble": "N_ENSEMBLE", "n_folds": "FOLDS"}

    def initAlgorithm(self, config=None):
        self.add_sample_parameters()
        self.addParameter(QgsProcessingParameterMultipleLayers(self.COVARIATES, "Covariate rasters",
                                                               RASTER, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.TEMPLATE, "Template raster (grid)", optional=True))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent (when no template or covariates)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.PIXEL_SIZE, "Pixel size (m, when no template)",
                                                       DOUBLE, defaultValue=10.0,
                                                       minValue=0.0))
        for name, label, default, lo in ((self.N_NEIGHBORS, "Neighbours per sequence", 16, 1),
                                         (self.N_ENSEMBLE, "Ensemble members", 5, 1),
                                         (self.MAX_EPOCHS, "Maximum epochs per member", 300, 1),
                                         (self.FOLDS, "Spatial folds of the comparison", 5, 2),
                                         (self.SEED, "Seed", 0, 0)):
            self.addParameter(QgsProcessingParameterNumber(name, label, INTEGER,
                                                           defaultValue=default, minValue=lo))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Prediction"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_STD, "Standard deviation"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Comparison report",
                                                                "HTML (*.html)", optional=True))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.geostat.hybrid_map import hybrid_kriging_raster
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        covariates = [lyr.source() for lyr in self.parameterAsLayerList(parameters, self.COVARIATES, context)]
        template = self.parameterAsRasterLayer(parameters, self.TEMPLATE, context)
        grid = {"template": template.source()} if template is not None else {}
        if template is None and not covariates:
            g = self.grid(parameters, context, layer.crs(), progress)
            grid = {"extent": g["extent"], "pixel_size": g["pixel_size"], "crs": g["crs"]}
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        integer = {n: self.parameterAsInt(parameters, n, context)
                   for n in (self.N_NEIGHBORS, self.N_ENSEMBLE, self.MAX_EPOCHS, self.FOLDS, self.SEED)}
        res = hybrid_kriging_raster(
            layer.source(), self.parameterAsString(parameters, self.FIELD, context),
            self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
            self.parameterAsOutputLayer(parameters, self.OUTPUT_STD, context), covariates=covariates,
            report_path=report, n_neighbors=integer[self.N_NEIGHBORS], n_ensemble=integer[self.N_ENSEMBLE],
            max_epochs=integer[self.MAX_EPOCHS], k=integer[self.FOLDS], seed=integer[self.SEED], progress=progress,
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
        field = self.parameterAsString(parameters, self.FIELD, context)
        # the kriging outputs' ramps: the grade over its range, the std from 0, legends in the field's unit
        write_data_style(res["prediction"], unit=unit_suffix(field))
        write_data_style(res["std"], colours=MAGMA, from_zero=True, unit=unit_suffix(field))
        name, unit = quantity(field)
        self.layer_names.update({self.OUTPUT: f"{name} hybrid" + (f" ({unit})" if unit else ""),
                                 self.OUTPUT_STD: f"{name} hybrid standard deviation" + (f" ({unit})" if unit else "")})
        return {self.OUTPUT: res["prediction"], self.OUTPUT_STD: res["std"], self.OUTPUT_REPORT: res["report"]}
