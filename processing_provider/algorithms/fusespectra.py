"""remine:fusespectra — VNIR–SWIR + FTIR spectra of the same samples -> one training set for the trainers."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
)

from ..base import RemineAlgorithm

PREPROCESSING = ["none", "snv", "derivative"]
PREPROCESSING_LABELS = ["None", "Standard normal variate (SNV)", "First derivative (Savitzky–Golay, 11 bands)"]


class FuseSpectra(RemineAlgorithm):
    NAME = "fusespectra"
    DISPLAY = "Fuse spectra (VNIR–SWIR + FTIR)"
    GROUP = "Spectra"
    HELP = """Joins the spectra of the same samples measured by two instruments (e.g. VNIR–SWIR reflectance
and FTIR) into one training set: samples are matched by name (or by a sample id field present in both
libraries), each library is preprocessed its own way, and the features are concatenated. The class label or
the numeric targets come from the fields of the first library. Samples present in one library only are
dropped and listed in the log. Each sample is its own group, so the trainers' grouped cross-validation holds
out whole samples. Use the result as the <b>Training set</b> of <i>Train classifier</i> / <i>Train
regressor</i>.

<b>Inputs</b>
<ul><li><b>VNIR–SWIR library</b> and <b>FTIR library</b>: spectral library files (CSV, ENVI .sli, ASD,
FTIR CSV or JCAMP-DX; see <i>Import spectral library</i>).</li>
<li><b>Sample id field</b> (optional, default the spectrum names).</li>
<li><b>Label field</b> (classification) <b>or</b> <b>target fields</b> (comma-separated, regression) of
the first library.</li>
<li><b>Preprocessing</b> of each library: none, SNV or first derivative.</li></ul>
<b>Outputs</b>
<ul><li><b>Training set</b>: HDF5 (.h5) with the fused features (wavelengths of the columns kept; the
feature names <i>vnir_swir:… nm</i> / <i>ftir:… nm</i> in the metadata).</li></ul>
<b>Reference</b>: Li, Desta &amp; Buxton (EGU 2026), SVM and PLS-DA on fused VNIR–SWIR + FTIR spectra for
critical raw materials; Barnes et al. (1989), SNV, Appl. Spectrosc. 43(5)."""

    VNIR, FTIR, ID_FIELD, LABEL_FIELD, TARGET_FIELDS, PRE_VNIR, PRE_FTIR, OUTPUT = (
        "VNIR_SWIR", "FTIR", "ID_FIELD", "LABEL_FIELD", "TARGET_FIELDS", "PREPROCESS_VNIR_SWIR", "PREPROCESS_FTIR",
        "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.VNIR, "VNIR–SWIR library"))
        self.addParameter(QgsProcessingParameterFile(self.FTIR, "FTIR library"))
        self.addParameter(QgsProcessingParameterString(self.ID_FIELD, "Sample id field (default: spectrum names)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterString(self.LABEL_FIELD, "Label field (classification)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterString(self.TARGET_FIELDS,
                                                       "Target fields (comma-separated, regression)", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PRE_VNIR, "Preprocessing of the VNIR–SWIR spectra",
                                                     options=PREPROCESSING_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.PRE_FTIR, "Preprocessing of the FTIR spectra",
                                                     options=PREPROCESSING_LABELS, defaultValue=1))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Training set",
                                                                fileFilter="HDF5 (*.h5)"))

    def compute(self, parameters, context, progress):
        from ...core.learn.fused import fused_training_set
        from ...core.raster import check_output_path
        from ...core.spectra import read_library

        out = check_output_path(self.parameterAsFileOutput(parameters, self.OUTPUT, context), extensions=(".h5",))
        sources = {"vnir_swir": read_library(self.parameterAsFile(parameters, self.VNIR, context)),
                   "ftir": read_library(self.parameterAsFile(parameters, self.FTIR, context))}
        targets = [t.strip() for t in self.parameterAsString(parameters, self.TARGET_FIELDS, context).split(",")
                   if t.strip()]
        training = fused_training_set(
            sources, label_field=self.parameterAsString(parameters, self.LABEL_FIELD, context).strip() or None,
            target_fields=targets or None,
            id_field=self.parameterAsString(parameters, self.ID_FIELD, context).strip() or None,
            preprocess={"vnir_swir": PREPROCESSING[self.parameterAsEnum(parameters, self.PRE_VNIR, context)],
                        "ftir": PREPROCESSING[self.parameterAsEnum(parameters, self.PRE_FTIR, context)]},
            progress=progress)
        training.save(out)
        progress.info(training.summary().to_string(index=False))
        self.metrics.update(samples=int(training.n_samples), features=training.metadata["fusion"]["features"],
                            dropped=training.metadata["fusion"]["dropped"],
                            task="classification" if training.is_classification else "regression")
        return {self.OUTPUT: out}
