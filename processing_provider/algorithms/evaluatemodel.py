"""remine:evaluatemodel — score a trained model on an independent test set."""
from qgis.core import QgsProcessingOutputNumber, QgsProcessingParameterFile, QgsProcessingParameterFileDestination

from ...core.learn import TrainingSet, load_model
from ...core.learn.train import evaluate_model, headline, write_report
from ..base import RemineAlgorithm


class EvaluateModel(RemineAlgorithm):
    NAME = "evaluatemodel"
    DISPLAY = "Evaluate model"
    GROUP = "Learning"
    HELP = """Scores a trained model on samples it was not trained on (a test set built with <i>Build training
set</i> from other ROIs, another survey or lab spectra) and writes a report next to the cross-validation scores
stored in the model.

<b>Inputs</b>
<ul><li><b>Model</b> (.rmodel).</li>
<li><b>Test set</b> (.h5) with the same kind of labels (classes or lab targets); a test set on another band
grid is resampled to the model's wavelengths.</li></ul>
<b>Outputs</b>
<ul><li><b>Report</b> (.html): overall accuracy, kappa, per-class scores and confusion matrix, or R², RMSE,
MAE, bias and scatter plots.</li>
<li>Numbers: overall accuracy / kappa (classification) or R² / RMSE of the first target (regression).</li></ul>
<b>Reference</b>: Congalton (1991) A review of assessing the accuracy of classifications of remotely sensed data,
Remote Sensing of Environment 37, 35–46."""

    MODEL, TEST_SET, OUTPUT_REPORT = "MODEL", "TEST_SET", "OUTPUT_REPORT"
    OVERALL_ACCURACY, KAPPA, R2, RMSE = "OVERALL_ACCURACY", "KAPPA", "R2", "RMSE"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model (.rmodel)", extension="rmodel"))
        self.addParameter(QgsProcessingParameterFile(self.TEST_SET, "Test set (.h5)", extension="h5"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Report",
                                                                fileFilter="HTML (*.html)"))
        for key, name in ((self.OVERALL_ACCURACY, "Overall accuracy"), (self.KAPPA, "Kappa"), (self.R2, "R²"),
                          (self.RMSE, "RMSE")):
            self.addOutput(QgsProcessingOutputNumber(key, name))

    def compute(self, parameters, context, progress):
        model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
        test = TrainingSet.load(self.parameterAsFile(parameters, self.TEST_SET, context))
        result = evaluate_model(model, test, progress)
        progress.info(headline(result))
        report = write_report(self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context), model, result,
                              "Model evaluation")
        outputs = {self.OUTPUT_REPORT: report}
        m = result.metrics
        if result.task == "classification":
            outputs.update({self.OVERALL_ACCURACY: m["overall_accuracy"], self.KAPPA: m["kappa"]})
            self.metrics.update(overall_accuracy=m["overall_accuracy"], kappa=m["kappa"], n_samples=m["n_samples"])
        else:
            first = m if "r2" in m else next(iter(m.values()))
            outputs.update({self.R2: first["r2"], self.RMSE: first["rmse"]})
            self.metrics.update(r2=first["r2"], rmse=first["rmse"], n_samples=first["n_samples"])
        return outputs
