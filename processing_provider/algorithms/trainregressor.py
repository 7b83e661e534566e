"""remine:trainregressor — regress mineral abundances (XRD %) or element grades (XRF ppm) on spectra."""
from qgis.core import QgsProcessingOutputNumber, QgsProcessingParameterString

from ...core.errors import InputError
from ...core.report.uncertainty import cross_validation_uncertainty
from ..trainalgorithmbase import COMMON_HELP, TrainModelAlgorithm


class TrainRegressor(TrainModelAlgorithm):
    NAME = "trainregressor"
    DISPLAY = "Train regressor"
    GROUP = "Learning"
    TASK = "regression"
    HELP = ("""Trains a regressor (PLSR, ridge, SVM, XGBoost, ExtraTrees, random forest, 1D/2D CNN or a stacked
ensemble) from spectra to lab values — mineral abundance (XRD %) or element grade (XRF ppm) — scores it on
held-out ROIs or spatial blocks (R², RMSE, MAE, bias per target), then fits it on all samples.
<b>Target fields</b>: comma-separated numeric fields of the ROI layer (when building from cube + ROIs).
""" + COMMON_HELP % "observed-vs-predicted scatter plots")

    TARGET_FIELDS = "TARGET_FIELDS"
    R2, RMSE = "R2", "RMSE"

    def methods(self):
        names = super().methods()
        return ["plsr"] + [n for n in names if n != "plsr"]

    def initAlgorithm(self, config=None):
        self.add_training_inputs()
        self.addParameter(QgsProcessingParameterString(self.TARGET_FIELDS, "Target fields (comma-separated)",
                                                       defaultValue="", optional=True))
        self.add_method_inputs()
        self.parameterDefinition(self.METHOD).setDefaultValue(0)
        self.add_outputs()
        self.addOutput(QgsProcessingOutputNumber(self.R2, "R² of the first target (CV)"))
        self.addOutput(QgsProcessingOutputNumber(self.RMSE, "RMSE of the first target (CV)"))

    def compute(self, parameters, context, progress):
        fields = self.name_list(parameters, self.TARGET_FIELDS, context)
        rois = self.parameterAsVectorLayer(parameters, self.ROIS, context)
        if not fields and not self.parameterAsFile(parameters, self.TRAINING_SET, context) and rois is not None:
            numeric = [f.name() for f in rois.fields() if f.isNumeric() and f.name() not in ("fid", "roi_id")]
            raise InputError("Target fields (comma-separated) is empty: name the ROI polygons' lab-value fields "
                             f"to learn; numeric fields of the layer: {', '.join(numeric)}")
        ts = self.training_set(parameters, context, progress.sub(0.0, 0.1), target_fields=fields)
        model, cv = self.train(parameters, context, progress.sub(0.1, 0.95), ts)
        results = self.save(parameters, context, model, cv, f"Regressor: {model.metrics['method']}")
        per_target = cv.metrics if "r2" not in cv.metrics else {(cv.target_names or ["target"])[0]: cv.metrics}
        first = next(iter(per_target.values()))
        self.metrics.update(method=model.metrics["method"], scheme=cv.scheme, n_splits=cv.n_splits,
                            targets={k: {m: v[m] for m in ("r2", "rmse", "mae", "bias")}
                                     for k, v in per_target.items()})
        self.uncertainty = cross_validation_uncertainty(cv.scheme, {"targets": self.metrics["targets"]}, ("targets",))
        results.update({self.R2: first["r2"], self.RMSE: first["rmse"]})
        return results
