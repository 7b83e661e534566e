"""remine:buildtrainingset — cube + ROI polygons (+ lab table) -> HDF5 training set + summary table."""
from qgis.core import (
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...core.errors import InputError
from ...core.learn.dataset import build_training_set
from ...core.raster import check_output_path
from ..base import RemineAlgorithm
from ..compat import DOUBLE, INTEGER, VECTOR_POLYGON


class BuildTrainingSet(RemineAlgorithm):
    NAME = "buildtrainingset"
    DISPLAY = "Build training set"
    GROUP = "Spectra"
    HELP = """Extracts the pixels (or k×k patches) of a cube under ROI polygons into a training set for the
Learning algorithms: class labels from a field of the ROI layer, or numeric targets (XRD mineral %, XRF ppm)
from the ROI layer or from a lab table joined by ROI id. Groups = ROI ids (for grouped cross-validation).
A ROI layer in another CRS is reprojected (logged); ROIs outside the raster, empty ROIs and lab ids that
match no ROI are errors naming the ids.

<b>Inputs</b>
<ul><li><b>Cube</b>: GeoTIFF or ENVI with wavelengths.</li>
<li><b>ROI polygons</b>, <b>ROI id field</b> (default roi_id), <b>label field</b> (classification).</li>
<li><b>Lab table</b> (optional CSV/GeoPackage/XLSX with the ROI id) and <b>target fields</b> (comma-separated;
regression).</li>
<li><b>Patch size</b> (odd, 1 = pixels), <b>maximum pixels per ROI</b> (0 = all), <b>seed</b>.</li>
<li><b>Augmentation</b> (optional): <b>copies</b> per sample (0 = none), each mixed with a sample of another
class (ROI for regression; targets mixed alike) at a fraction up to <b>mix</b>, shifted by up to ±<b>shift</b>
nm, scaled by a brightness factor 1 ± <b>brightness</b> and with Gaussian <b>noise</b> (reflectance units).
Copies keep the ROI id and position of their source sample, so grouped and block cross-validation never
test on a copy of a training sample.</li></ul>
<b>Outputs</b>
<ul><li><b>Training set</b>: HDF5 (.h5) with X, y, groups, coords, wavelengths and metadata.</li>
<li><b>Summary table</b>: CSV of class balance (class, n_pixels, n_rois, fraction) or target statistics.</li></ul>
<b>Reference</b>: Roberts, D. R. et al. (2017), Cross-validation strategies for data with temporal, spatial,
hierarchical, or phylogenetic structure, Ecography 40, 913–929 (why ROI groups matter)."""

    (INPUT, ROIS, ID_FIELD, LABEL_FIELD, LAB_TABLE, TARGET_FIELDS, PATCH_SIZE, MAX_PIXELS, SEED, OUTPUT,
     SUMMARY) = ("INPUT", "ROIS", "ID_FIELD", "LABEL_FIELD", "LAB_TABLE", "TARGET_FIELDS", "PATCH_SIZE",
                 "MAX_PIXELS_PER_ROI", "SEED", "OUTPUT", "SUMMARY")
    #: augmentation parameters: (key, label, default, maximum) -> TrainingSet.augment keyword
    AUGMENT = {"AUGMENT_COPIES": ("n_copies", "Augmentation: copies per sample (0 = none)", 0, 20),
               "AUGMENT_BRIGHTNESS": ("brightness", "Augmentation: brightness variation (fraction)", 0.1, 1.0),
               "AUGMENT_NOISE": ("noise", "Augmentation: noise standard deviation (reflectance)", 0.005, 1.0),
               "AUGMENT_SHIFT_NM": ("shift_nm", "Augmentation: wavelength shift (± nm)", 2.0, 100.0),
               "AUGMENT_MIX": ("mix", "Augmentation: mixing fraction with another class", 0.05, 0.5)}

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Cube"))
        self.addParameter(QgsProcessingParameterVectorLayer(self.ROIS, "ROI polygons",
                                                            [VECTOR_POLYGON]))
        self.addParameter(QgsProcessingParameterField(self.ID_FIELD, "ROI id field", defaultValue="roi_id",
                                                      parentLayerParameterName=self.ROIS, optional=True))
        self.addParameter(QgsProcessingParameterField(self.LABEL_FIELD, "Label field (classification)",
                                                      defaultValue="mineral", parentLayerParameterName=self.ROIS,
                                                      optional=True))
        self.addParameter(QgsProcessingParameterFile(self.LAB_TABLE, "Lab table (regression)", optional=True))
        self.addParameter(QgsProcessingParameterString(self.TARGET_FIELDS, "Target fields (comma-separated)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.PATCH_SIZE, "Patch size (odd, pixels)",
                                                       INTEGER, defaultValue=1,
                                                       minValue=1))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_PIXELS, "Maximum pixels per ROI (0 = all)",
                                                       INTEGER, defaultValue=0,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed", INTEGER,
                                                       defaultValue=0))
        for key, (_, label, default, maximum) in self.AUGMENT.items():
            kind = INTEGER if key == "AUGMENT_COPIES" else \
                DOUBLE
            self.addParameter(QgsProcessingParameterNumber(key, label, kind, defaultValue=default, minValue=0,
                                                           maxValue=maximum))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Training set",
                                                                fileFilter="HDF5 (*.h5)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.SUMMARY, "Summary table",
                                                                fileFilter="CSV (*.csv)"))

    def compute(self, parameters, context, progress):
        cube = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        rois = self.parameterAsVectorLayer(parameters, self.ROIS, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        summary_path = self.parameterAsFileOutput(parameters, self.SUMMARY, context)
        check_output_path(summary_path, extensions=(".csv",))
        max_pixels = self.parameterAsInt(parameters, self.MAX_PIXELS, context)
        label = self.parameterAsString(parameters, self.LABEL_FIELD, context) or None
        lab_table = self.parameterAsFile(parameters, self.LAB_TABLE, context) or None
        targets = self.name_list(parameters, self.TARGET_FIELDS, context)
        if not (label or lab_table or targets):
            raise InputError("give a Label field (classification), or Target fields (comma-separated) or a Lab "
                             "table (regression); all three are empty")
        if lab_table or targets:  # regression: the label field (set by default) is not used
            self.warn_ignored(parameters, [self.LABEL_FIELD], "target fields or a lab table are given (regression)")
            label = None
        training = build_training_set(
            cube.source(), rois.source(), label_field=label,
            id_field=self.parameterAsString(parameters, self.ID_FIELD, context) or "roi_id",
            lab_table=lab_table, target_fields=targets,
            patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context),
            max_pixels_per_roi=max_pixels or None, seed=self.parameterAsInt(parameters, self.SEED, context),
            progress=progress)
        augment = {kw: self.parameterAsDouble(parameters, key, context) for key, (kw, *_) in self.AUGMENT.items()}
        if augment["n_copies"] >= 1:
            augment["n_copies"] = int(augment["n_copies"])
            training = training.augment(seed=self.parameterAsInt(parameters, self.SEED, context), **augment)
            progress.info(f"augmented: {augment['n_copies']} copies per sample, {training.n_samples} samples")
        training.save(out)
        training.write_summary(summary_path)
        progress.info(training.summary().to_string(index=False))
        self.metrics.update(samples=int(training.n_samples), rois=int(len(set(training.groups.tolist()))),
                            bands=int(training.X.shape[1]), patch_size=int(training.patch_size),
                            task="classification" if training.is_classification else "regression",
                            augmented=training.metadata.get("augmented"))
        return {self.OUTPUT: out, self.SUMMARY: summary_path}
