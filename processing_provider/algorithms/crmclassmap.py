"""remine:crmclassmap — high/low critical-raw-material classes from a lab threshold, ROC/AUC and a P(high) map."""
import functools

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ...core.errors import InputError
from ...core.learn import predict_raster
from ...core.learn.crm import HIGH, describe, roc_section, train_crm
from ...core.raster.style import quantity
from ..compat import DOUBLE
from ..trainalgorithmbase import TrainModelAlgorithm

PROBABILISTIC = ["svm", "plsda", "xgboost", "extratrees", "randomforest", "lda", "cnn1d", "stack"]


class CrmClassMap(TrainModelAlgorithm):
    NAME = "crmclassmap"
    CLUSTER = True
    DISPLAY = "CRM high/low class map"
    GROUP = "Learning"
    HELP = """Labels each ROI <i>high</i> when its lab value (e.g. XRF Zn ppm) is at or above a threshold and
<i>low</i> otherwise, trains a classifier with ROI/block cross-validation, reports the ROC curve and AUC of the
out-of-fold P(high) and the chosen thresholds, and maps the classes and P(high) over the cube.

<b>Inputs</b>
<ul><li><b>Training set</b> (.h5 with lab targets) or <b>cube</b> + <b>ROI polygons</b>; the <b>cube</b> is also
the raster that is mapped.</li>
<li><b>Target field</b> (lab value) and <b>threshold</b> (same units, e.g. ppm); an optional <b>upper
threshold</b> makes three ordinal classes: low (&lt; threshold), medium, high (&ge; upper threshold).</li>
<li><b>Method</b> (a classifier with probabilities), preprocessing, validation scheme, folds, buffer, seed.</li></ul>
<b>Outputs</b>
<ul><li><b>Class map</b> (uint8: high/low or high/low/medium, colour table), <b>P(high)</b> (float32 0–1).</li>
<li><b>Model</b> (.rmodel) and <b>report</b> (.html) with the ROC curve, AUC, element threshold and the
Youden cut on P(high) (a suggestion for drawing maps; CV scores use the classifier's own decision).</li></ul>
<b>Reference</b>: Li, Desta &amp; Buxton (EGU 2026), SVM and PLS-DA on VNIR–SWIR + FTIR for critical raw
materials in mine tailings; Fawcett (2006) An introduction to ROC analysis, Pattern Recognition Letters 27,
861–874."""

    TARGET, THRESHOLD, UPPER = "TARGET_FIELD", "THRESHOLD", "UPPER_THRESHOLD"
    OUTPUT_CLASS, OUTPUT_PROBABILITY = "OUTPUT_CLASS", "OUTPUT_PROBABILITY"
    SECONDARY_OUTPUTS = (OUTPUT_PROBABILITY,)   # loaded unchecked: the class map shows first
    AUC, YOUDEN_CUT = "AUC", "YOUDEN_CUT"

    def methods(self):
        return PROBABILISTIC

    def initAlgorithm(self, config=None):
        self.add_training_inputs()
        self.addParameter(QgsProcessingParameterString(self.TARGET, "Target field (lab value)", defaultValue="Zn_ppm"))
        self.addParameter(QgsProcessingParameterNumber(self.THRESHOLD, "Threshold (high at or above)",
                                                       DOUBLE, defaultValue=500.0))
        self.addParameter(QgsProcessingParameterNumber(self.UPPER, "Upper threshold (ordinal low/medium/high)",
                                                       DOUBLE, optional=True))
        self.add_method_inputs()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_CLASS, "Class map (high/low)"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_PROBABILITY, "P(high)"))
        self.add_outputs()
        self.addOutput(QgsProcessingOutputNumber(self.AUC, "AUC (out of fold)"))
        self.addOutput(QgsProcessingOutputNumber(self.YOUDEN_CUT, "Youden cut on P(high)"))

    def compute(self, parameters, context, progress):
        cube = self.layer_source(parameters, self.CUBE, context)
        if not cube:
            raise InputError("give the cube to map (it also provides the pixels when no training set is given)")
        target = self.parameterAsString(parameters, self.TARGET, context)
        threshold = self.parameterAsDouble(parameters, self.THRESHOLD, context)
        if parameters.get(self.UPPER) not in (None, ""):
            threshold = (threshold, self.parameterAsDouble(parameters, self.UPPER, context))
        ts = self.training_set(parameters, context, progress.sub(0.0, 0.1), target_fields=[target])
        trainer = functools.partial(train_crm, target=target, threshold=threshold)
        model, cv, roc = self.train(parameters, context, progress.sub(0.1, 0.7), ts, trainer=trainer)
        results = self.save(parameters, context, model, cv, f"CRM classes: {describe(target, threshold)}",
                            extra=roc_section(roc, target, threshold))
        paths = predict_raster(model, cube, self.parameterAsOutputLayer(parameters, self.OUTPUT_CLASS, context),
                               probabilities=self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITY, context),
                               uncertainty=False, probability_classes=[HIGH], progress=progress.sub(0.7, 1.0))
        crm = model.metrics["crm"]
        self.metrics.update(crm, overall_accuracy=cv.metrics["overall_accuracy"], kappa=cv.metrics["kappa"],
                            scheme=cv.scheme)
        name, unit = quantity(target)
        ordinal = isinstance(threshold, tuple)
        cuts = "–".join(f"{t:g}" for t in (threshold if ordinal else (threshold,)))
        kinds = "low/medium/high" if ordinal else "high/low"
        self.layer_names.update({self.OUTPUT_CLASS: f"{name} {kinds} (cut {cuts}{' ' + unit if unit else ''})",
                                 self.OUTPUT_PROBABILITY: f"P({name} {HIGH})"})
        results.update({self.OUTPUT_CLASS: paths["map"], self.OUTPUT_PROBABILITY: paths["probabilities"],
                        self.AUC: crm["auc"], self.YOUDEN_CUT: crm["youden_cut"]})
        return results
