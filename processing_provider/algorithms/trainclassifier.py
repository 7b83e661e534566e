"""remine:trainclassifier — train a mineral classifier with honest (ROI / spatial-block) validation."""
from qgis.core import QgsProcessingOutputNumber, QgsProcessingParameterField

from ...core.report.uncertainty import cross_validation_uncertainty
from ..trainalgorithmbase import COMMON_HELP, TrainModelAlgorithm


class TrainClassifier(TrainModelAlgorithm):
    NAME = "trainclassifier"
    DISPLAY = "Train classifier"
    GROUP = "Learning"
    HELP = ("""Trains a mineral classifier (SVM, PLS-DA, XGBoost, ExtraTrees, random forest, ridge, LDA, 1D/2D CNN or
a stacked ensemble) on ROI pixels and reports its accuracy on held-out ROIs or spatial blocks, then fits it on all
samples. Pixels of one ROI never sit on both sides of a split, so the scores are honest.
""" + COMMON_HELP % "the confusion matrix")

    LABEL_FIELD = "LABEL_FIELD"
    OVERALL_ACCURACY, KAPPA, BALANCED_ACCURACY = "OVERALL_ACCURACY", "KAPPA", "BALANCED_ACCURACY"

    def initAlgorithm(self, config=None):
        self.add_training_inputs()
        self.addParameter(QgsProcessingParameterField(self.LABEL_FIELD, "Class label field", defaultValue="mineral",
                                                      parentLayerParameterName=self.ROIS, optional=True))
        self.add_method_inputs()
        self.add_outputs()
        for key, name in ((self.OVERALL_ACCURACY, "Overall accuracy (CV)"), (self.KAPPA, "Kappa (CV)"),
                          (self.BALANCED_ACCURACY, "Balanced accuracy (CV)")):
            self.addOutput(QgsProcessingOutputNumber(key, name))

    def compute(self, parameters, context, progress):
        label = self.parameterAsString(parameters, self.LABEL_FIELD, context) or "mineral"
        ts = self.training_set(parameters, context, progress.sub(0.0, 0.1), label_field=label)
        model, cv = self.train(parameters, context, progress.sub(0.1, 0.95), ts)
        results = self.save(parameters, context, model, cv, f"Classifier: {model.metrics['method']}")
        m = cv.metrics
        self.metrics.update(method=model.metrics["method"], scheme=cv.scheme, n_splits=cv.n_splits,
                            overall_accuracy=m["overall_accuracy"], kappa=m["kappa"],
                            balanced_accuracy=m["balanced_accuracy"], macro_f1=m["macro_f1"],
                            n_samples=m["n_samples"], classes=m["classes"], confusion_matrix=m["confusion_matrix"])
        self.uncertainty = cross_validation_uncertainty(cv.scheme, m, ("overall_accuracy", "kappa",
                                                                       "balanced_accuracy", "macro_f1"))
        results.update({self.OVERALL_ACCURACY: m["overall_accuracy"], self.KAPPA: m["kappa"],
                        self.BALANCED_ACCURACY: m["balanced_accuracy"]})
        return results
