"""remine:predictraster — map a cube with a trained model (classes or regression, probabilities, uncertainty)."""
from qgis.core import (
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.learn import predict_raster
from ...core.raster.style import share_layer_name
from ...core.report.uncertainty import band_uncertainty
from ..base import RemineAlgorithm
from ..compat import INTEGER


class PredictRaster(RemineAlgorithm):
    NAME = "predictraster"
    CLUSTER = True
    DISPLAY = "Predict raster"
    GROUP = "Learning"
    HELP = """Applies a model from <i>Train classifier</i> / <i>Train regressor</i> to a cube, block by block
within a memory budget. The model's wavelengths are checked against the cube's: a cube on another band grid
that covers the model's range is resampled (a warning is logged); missing bands stop the run.

<b>Inputs</b>
<ul><li><b>Model</b> (.rmodel; pickles are refused).</li>
<li><b>Cube</b>: GeoTIFF/ENVI with band wavelengths.</li>
<li><b>Memory budget</b> (MB) for the blocks in flight.</li></ul>
<b>Outputs</b>
<ul><li><b>Map</b>: classes as uint8 codes 1..K with a colour table and class names (0 = no data), or one
float32 band per regression target.</li>
<li><b>Probabilities</b> (optional, classifiers): one band per class.</li>
<li><b>Uncertainty</b> (optional): entropy (0–1) and margin of the class probabilities (+ MC-dropout std for
CNNs); for regression the spread of the ensemble members or the MC-dropout std (when the model has one), then
<i>lower_&lt;target&gt;</i> / <i>upper_&lt;target&gt;</i>: 90 % split-conformal intervals, the prediction
∓ the 90 % quantile of the absolute out-of-fold residuals of the model's spatial cross-validation. They assume
that the mapped pixels err like the held-out ROIs; on the demo scene, over all pixels (mixtures the ROIs do
not hold), they covered 0.99 / 0.84 of the true kaolinite % / Zn ppm with PLSR, 0.68 / 0.84 with ridge,
0.52 / 0.88 with ExtraTrees and 1.00 / 0.65 with SVM. Targets whose training values are all ≥ 0 stay ≥ 0:
negative predictions and bounds are set to 0, counted per pixel in the band <i>n_clipped</i> and in the log.
</li></ul>
<b>Reference</b>: Gal &amp; Ghahramani (2016) Dropout as a Bayesian approximation, ICML; Shannon (1948) entropy;
Lei, J. et al. (2018) Distribution-free predictive inference for regression, JASA 113, 1094–1111."""

    MODEL, INPUT, MEMORY = "MODEL", "INPUT", "MAX_MEMORY_MB"
    OUTPUT, PROBABILITIES, UNCERTAINTY = "OUTPUT", "PROBABILITIES", "UNCERTAINTY"
    SECONDARY_OUTPUTS = (PROBABILITIES, UNCERTAINTY)   # loaded unchecked: the map shows first

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model (.rmodel)", extension="rmodel"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Cube"))
        self.addParameter(QgsProcessingParameterNumber(self.MEMORY, "Memory budget (MB)",
                                                       INTEGER, defaultValue=256,
                                                       minValue=16))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Map"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.PROBABILITIES, "Probabilities",
                                                                  optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.UNCERTAINTY, "Uncertainty",
                                                                  optional=True, createByDefault=True))

    def compute(self, parameters, context, progress):
        cube = self.parameterAsRasterLayer(parameters, self.INPUT, context).source()
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        proba = self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context) or False
        unc = self.parameterAsOutputLayer(parameters, self.UNCERTAINTY, context) or False
        paths = predict_raster(self.parameterAsFile(parameters, self.MODEL, context), cube, out,
                               probabilities=proba, uncertainty=unc,
                               max_bytes=self.parameterAsInt(parameters, self.MEMORY, context) * 2**20,
                               progress=progress)
        self.metrics.update(bands=paths["band_names"])
        names = paths["band_names"]
        self.layer_names = {self.OUTPUT: "Predicted class" if names["map"] == ["class"] else
                            f"Predicted {names['map'][0]}"}
        if names["probabilities"]:
            self.layer_names[self.PROBABILITIES] = share_layer_name("Probability", paths["probability_shown"],
                                                                    len(names["probabilities"]), "classes")
        if names["uncertainty"]:
            self.layer_names[self.UNCERTAINTY] = f"Uncertainty – {names['uncertainty'][0]}"
        if paths["uncertainty"]:
            self.uncertainty = band_uncertainty(paths["uncertainty"])
        if "n_clipped" in paths:
            self.metrics.update(n_clipped=paths["n_clipped"])
        return {self.OUTPUT: paths["map"], self.PROBABILITIES: paths["probabilities"],
                self.UNCERTAINTY: paths["uncertainty"]}
