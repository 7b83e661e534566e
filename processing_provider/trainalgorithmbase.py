"""TrainModelAlgorithm: the parameters and run shared by trainclassifier, trainregressor and crmclassmap."""
from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ..core.learn.artefacts import save_model
from ..core.learn.registry import method_names
from ..core.learn.train import PREPROCESSING, load_or_build_training_set, train, write_report
from ..core.learn.validation import SCHEMES
from .base import RemineAlgorithm
from .compat import DOUBLE, INTEGER, VECTOR_POLYGON

COMMON_HELP = """<b>Inputs</b>
<ul><li><b>Training set</b> (.h5 from <i>Build training set</i>), <b>or</b> a <b>cube</b> and <b>ROI polygons</b>
with the field(s) below (the set is then built on the fly).</li>
<li><b>Method</b> and optional <b>method parameters</b> as JSON, e.g. <code>{"C": 10}</code>.</li>
<li><b>Preprocessing</b>: none, SNV, continuum removal, Savitzky–Golay 1st derivative, brightness normalisation.</li>
<li><b>Validation</b>: <i>group</i> (whole ROIs held out), <i>block</i> (square map blocks, optional buffer in m;
block size 0 = automatic) or <i>random</i> (pixel-wise; overstates accuracy, a warning is logged); number of
folds; seed. The log and the report name the classes that a fold tests but its training part lacks.
<b>Class-aware blocks</b> (classification): blocks are assigned to folds so that every class spanning two or
more blocks is trained wherever it is tested (with block size 0 the blocks shrink, down to a quarter of the
automatic side, until every class spans two); the buffer is kept.</li></ul>
<b>Outputs</b>
<ul><li><b>Model</b> (.rmodel): skops estimator + JSON manifest (wavelengths, preprocessing, classes, CV scores,
versions); no pickle. Use it with <i>Predict raster</i>.</li>
<li><b>Report</b> (.html, optional): settings, out-of-fold scores, per-fold table and %s.</li></ul>
<b>Reference</b>: Roberts et al. (2017) Cross-validation strategies for data with spatial structure, Ecography 40,
913–929; Li, Desta &amp; Buxton (EGU 2026), SVM and PLS-DA on VNIR–SWIR + FTIR for critical raw materials."""


class TrainModelAlgorithm(RemineAlgorithm):
    """Shared parameters and run of the training algorithms (not registered: NAME is empty)."""

    TASK = "classification"
    TRAINING_SET, CUBE, ROIS, ID_FIELD, PATCH_SIZE, MAX_PIXELS = ("TRAINING_SET", "CUBE", "ROIS", "ID_FIELD",
                                                                  "PATCH_SIZE", "MAX_PIXELS_PER_ROI")
    METHOD, PARAMS, PREPROCESS = "METHOD", "PARAMETERS", "PREPROCESSING"
    SCHEME, N_SPLITS, BUFFER, BLOCK, SEED = "SCHEME", "N_SPLITS", "BUFFER_M", "BLOCK_SIZE_M", "SEED"
    CLASS_AWARE = "CLASS_AWARE_BLOCKS"
    OUTPUT_MODEL, OUTPUT_REPORT = "OUTPUT_MODEL", "OUTPUT_REPORT"

    def methods(self):
        return method_names(self.TASK)

    def add_training_inputs(self):
        self.addParameter(QgsProcessingParameterFile(self.TRAINING_SET, "Training set (.h5)", extension="h5",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.CUBE, "Cube (to build the training set)",
                                                            optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(self.ROIS, "ROI polygons",
                                                            [VECTOR_POLYGON], optional=True))
        self.addParameter(QgsProcessingParameterField(self.ID_FIELD, "ROI id field", defaultValue="roi_id",
                                                      parentLayerParameterName=self.ROIS, optional=True))

    def add_method_inputs(self):
        self.addParameter(QgsProcessingParameterNumber(self.PATCH_SIZE, "Patch size (odd pixels; cnn2d only)",
                                                       INTEGER, defaultValue=1,
                                                       minValue=1, maxValue=15))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_PIXELS, "Maximum pixels per ROI (0 = all)",
                                                       INTEGER, defaultValue=0,
                                                       minValue=0))
        methods = self.methods()
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", options=methods,
                                                     defaultValue=methods.index("svm")))
        self.addParameter(QgsProcessingParameterString(self.PARAMS, "Method parameters (JSON)", defaultValue="",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PREPROCESS, "Preprocessing", options=list(PREPROCESSING),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.SCHEME, "Validation scheme", options=list(SCHEMES),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.N_SPLITS, "Folds", INTEGER,
                                                       defaultValue=5, minValue=2))
        self.addParameter(QgsProcessingParameterNumber(self.BUFFER, "Buffer between test and training samples (m)",
                                                       DOUBLE, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.BLOCK, "Block size for block validation (m, 0 = auto)",
                                                       DOUBLE, defaultValue=0.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed", INTEGER,
                                                       defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.CLASS_AWARE, "Class-aware blocks (classification)",
                                                        defaultValue=False))

    def add_outputs(self):
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Model",
                                                                fileFilter="remine model (*.rmodel)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Report",
                                                                fileFilter="HTML (*.html)", optional=True,
                                                                createByDefault=True))

    def layer_source(self, parameters, key, context, raster=True):
        layer = (self.parameterAsRasterLayer if raster else self.parameterAsVectorLayer)(parameters, key, context)
        return layer.source().split("|")[0] if layer is not None else None

    def training_set(self, parameters, context, progress, **build):
        build = dict(build, id_field=self.parameterAsString(parameters, self.ID_FIELD, context) or "roi_id",
                     patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context),
                     max_pixels_per_roi=self.parameterAsInt(parameters, self.MAX_PIXELS, context) or None,
                     seed=self.parameterAsInt(parameters, self.SEED, context))
        return load_or_build_training_set(self.parameterAsFile(parameters, self.TRAINING_SET, context),
                                          self.layer_source(parameters, self.CUBE, context),
                                          self.layer_source(parameters, self.ROIS, context, raster=False),
                                          progress=progress, **build)

    def train(self, parameters, context, progress, training_set, trainer=train):
        method = self.methods()[self.parameterAsEnum(parameters, self.METHOD, context)]
        return trainer(training_set, method=method, params=self.parameterAsString(parameters, self.PARAMS, context),
                       preprocessing=PREPROCESSING[self.parameterAsEnum(parameters, self.PREPROCESS, context)],
                       scheme=SCHEMES[self.parameterAsEnum(parameters, self.SCHEME, context)],
                       n_splits=self.parameterAsInt(parameters, self.N_SPLITS, context),
                       buffer_m=self.parameterAsDouble(parameters, self.BUFFER, context),
                       block_size_m=self.parameterAsDouble(parameters, self.BLOCK, context) or None,
                       seed=self.parameterAsInt(parameters, self.SEED, context), progress=progress,
                       class_aware=self.parameterAsBoolean(parameters, self.CLASS_AWARE, context))

    def save(self, parameters, context, model, cv, title, extra=None):
        model_path = save_model(self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context), model)
        results = {self.OUTPUT_MODEL: model_path, self.OUTPUT_REPORT: None}
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        if report:
            results[self.OUTPUT_REPORT] = write_report(report, model, cv, title, extra=extra)
        return results
