"""Build the shipped graphical models (models/*.model3) with QgsProcessingModelAlgorithm.

The models are written by code rather than drawn by hand so that they stay valid as the algorithms
change: every child algorithm and parameter is checked against the registered remine provider
(``model.validate()``) before a file is written. Run after changing an algorithm's parameters:

    make models          # = .venv/bin/python scripts/build_models.py

Each model lands in the toolbox group "Workflows" as ``remine:<name>``; in qgis_process its outputs are
named ``<step>:<output>`` (e.g. ``predict:class_map``).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(ROOT, "models")
GROUP = "Workflows"
COL, ROW = 260.0, 110.0


def qgis():
    """Start a headless QgsApplication with the remine provider; returns the application."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from remine.processing_provider.provider import RemineProvider

    app.remine_provider = RemineProvider()  # keep the Python object alive while QGIS uses it
    QgsApplication.processingRegistry().addProvider(app.remine_provider)
    return app


class Builder:
    """Small helper around QgsProcessingModelAlgorithm: inputs, steps, outputs, help; ``save()`` validates."""

    def __init__(self, name, title, description, inputs, outputs, reference):
        from qgis.core import QgsProcessingModelAlgorithm

        # QGIS shows a model's name (its id, "abundance_workflow") in the toolbox: the provider shows the title
        # stored in the help as ALG_TITLE (processing_provider.provider.RemineModel)
        self.model = QgsProcessingModelAlgorithm(name, GROUP, GROUP.lower())
        text = (f"<b>{title}</b>. {description}<br><b>Inputs</b>: {inputs}<br><b>Outputs</b>: {outputs}"
                f"<br><b>Reference</b>: {reference}")
        self.name, self.help, self.n_inputs = name, {"ALG_DESC": text, "ALG_TITLE": title, "ALG_CREATOR": "remine",
                                                     "ALG_HELP_CREATOR": "remine", "ALG_VERSION": "1.0"}, 0

    def input(self, definition, help_text):
        from qgis.core import QgsProcessingModelParameter
        from qgis.PyQt.QtCore import QPointF

        component = QgsProcessingModelParameter(definition.name())
        component.setPosition(QPointF(120.0 + COL * (self.n_inputs % 4), 60.0 + 70.0 * (self.n_inputs // 4)))
        self.n_inputs += 1
        self.model.addModelParameter(definition, component)
        self.help[definition.name()] = help_text
        return definition.name()

    def step(self, child_id, algorithm, description, column, row, params, outputs=None, depends=()):
        """Add child ``child_id`` running ``algorithm``.

        ``params``: ``{parameter: value}`` where a value is ``("input", name)``, ``("step", child, output)``,
        a list of such tuples, or a static value. ``outputs``: ``{child output: (model output name,
        description)}``: these become the model's outputs.
        """
        from qgis.core import (
            QgsProcessingModelChildAlgorithm,
            QgsProcessingModelChildDependency,
            QgsProcessingModelOutput,
        )
        from qgis.core import QgsProcessingModelChildParameterSource as Source
        from qgis.PyQt.QtCore import QPointF

        def source(value):
            if isinstance(value, tuple) and value[0] == "input":
                default = self.model.parameterDefinition(value[1]).defaultValue()
                if default is None:
                    return Source.fromModelParameter(value[1])
                # qgis_process and processing.run pass no value for a model input left out, and the step would
                # fall back to its own default: the model's default is applied here
                return Source.fromExpression(f"coalesce(@{value[1]}, {_literal(default)})")
            if isinstance(value, tuple) and value[0] == "step":
                return Source.fromChildOutput(value[1], value[2])
            return Source.fromStaticValue(value)

        child = QgsProcessingModelChildAlgorithm(algorithm)
        child.setChildId(child_id)
        child.setDescription(description)
        child.setPosition(QPointF(160.0 + COL * column, 260.0 + ROW * row))
        if child.algorithm() is None:
            raise SystemExit(f"model {self.name}: algorithm {algorithm} is not registered")
        for definition in child.algorithm().parameterDefinitions():   # the defaults, as the modeller sets them
            if not definition.isDestination() and definition.defaultValue() is not None:
                child.addParameterSources(definition.name(), [source(definition.defaultValue())])
        for key, value in params.items():
            values = value if isinstance(value, list) else [value]
            child.addParameterSources(key, [source(v) for v in values])
        model_outputs = {}
        for k, (child_output, (name, text)) in enumerate((outputs or {}).items()):
            out = QgsProcessingModelOutput(name, text)
            out.setChildId(child_id)
            out.setChildOutputName(child_output)
            out.setPosition(QPointF(160.0 + COL * column + 150.0, 260.0 + ROW * row + 40.0 * (k + 1)))
            model_outputs[name] = out
            self.help[f"{child_id}:{name}"] = text
        child.setModelOutputs(model_outputs)
        child.setDependencies([QgsProcessingModelChildDependency(d) for d in depends])
        self.model.addChildAlgorithm(child)
        return child_id

    def save(self):
        self.model.setHelpContent(self.help)
        ok, issues = self.model.validate()
        if not ok:
            raise SystemExit(f"model {self.name} is not valid: {issues}")
        path = os.path.join(MODELS_DIR, f"{self.name}.model3")
        if not self.model.toFile(path):
            raise SystemExit(f"cannot write {path}")
        _stable_xml(path)
        return path


def _stable_xml(path):
    """Rewrite the model file with each element's attributes in name order (QGIS writes them in hash order,
    which changes from run to run), so that rebuilding an unchanged model gives the same bytes."""
    import xml.etree.ElementTree as ET

    with open(path, encoding="utf-8") as f:
        doctype, body = f.read().split("\n", 1)
    root = ET.fromstring(body)
    for element in root.iter():
        element.attrib = dict(sorted(element.attrib.items()))
    ET.indent(root, space=" ")
    with open(path, "w", encoding="utf-8") as f:
        f.write(doctype + "\n" + ET.tostring(root, encoding="unicode") + "\n")


def _literal(value):
    """A QGIS expression literal for a parameter default."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def params():
    """The QgsProcessingParameter classes, imported once QGIS runs."""
    import qgis.core as q

    return q


def mineral_map():
    q = params()
    b = Builder("mineral_map_workflow", "Mineral map from a drone cube",
                "Mineral map with honest accuracy from a drone hyperspectral cube and ROI polygons: spectral subset "
                "(water-vapour bands dropped) → continuum removal → training set from the ROIs → classifier with "
                "cross-validation that holds out whole ROIs (or spatial blocks) → class map styled with the mineral "
                "colours, class probabilities, uncertainty (entropy, margin) → HTML run report. Defaults suit a "
                "VNIR–SWIR cube (400–2450 nm) and an SVM.",
                "a cube with band wavelengths and ROI polygons with a mineral label field.",
                "mineral map, probabilities, uncertainty, trained model, classifier report and run report, each "
                "with its passport.",
                "Clark, R. N. &amp; Roush, T. L. (1984), Reflectance spectroscopy: quantitative analysis techniques "
                "for remote sensing applications, JGR 89(B7), 6329–6340 (continuum removal); Roberts, D. R. et al. "
                "(2017), Cross-validation strategies for data with spatial structure, Ecography 40, 913–929.")
    cube = b.input(q.QgsProcessingParameterRasterLayer("cube", "Cube (with band wavelengths)"),
                   "Reflectance cube (GeoTIFF/ENVI) whose bands carry wavelengths.")
    rois = b.input(q.QgsProcessingParameterVectorLayer("rois", "ROI polygons", [q.QgsProcessing.TypeVectorPolygon]),
                   "Polygons over pixels of known mineralogy.")
    label = b.input(q.QgsProcessingParameterField("label_field", "Class label field", defaultValue="mineral",
                                                  parentLayerParameterName="rois"), "Field holding the mineral name.")
    roi_id = b.input(q.QgsProcessingParameterField("roi_id_field", "ROI id field", defaultValue="roi_id",
                                                   parentLayerParameterName="rois"),
                     "Field identifying each polygon (pixels of one ROI never sit on both sides of a split).")
    wmin = b.input(q.QgsProcessingParameterNumber("min_wavelength", "Minimum wavelength (nm)",
                                                  q.QgsProcessingParameterNumber.Double, defaultValue=400.0),
                   "Shortest wavelength kept (nm).")
    wmax = b.input(q.QgsProcessingParameterNumber("max_wavelength", "Maximum wavelength (nm)",
                                                  q.QgsProcessingParameterNumber.Double, defaultValue=2450.0),
                   "Longest wavelength kept (nm).")
    method = b.input(q.QgsProcessingParameterEnum("method", "Classifier", options=_methods(), defaultValue=0),
                     "Classifier (SVM by default; see remine:trainclassifier).")
    scheme = b.input(q.QgsProcessingParameterEnum("validation", "Validation", options=["group", "block", "random"],
                                                  defaultValue=0),
                     "group: whole ROIs held out; block: spatial blocks; random: pixel-wise (overstates accuracy).")
    folds = b.input(q.QgsProcessingParameterNumber("folds", "Folds", q.QgsProcessingParameterNumber.Integer,
                                                   defaultValue=3, minValue=2), "Number of cross-validation folds.")
    b.step("subset", "remine:spectralsubset", "Spectral subset", 0, 0,
           {"INPUT": ("input", cube), "MIN_WAVELENGTH": ("input", wmin), "MAX_WAVELENGTH": ("input", wmax),
            "DROP_WATER_BANDS": True})
    b.step("continuum", "remine:continuumremoval", "Continuum removal", 1, 0,
           {"INPUT": ("step", "subset", "OUTPUT"), "METHOD": 0})
    b.step("training", "remine:buildtrainingset", "Training set from ROIs", 2, 0,
           {"INPUT": ("step", "continuum", "OUTPUT"), "ROIS": ("input", rois), "ID_FIELD": ("input", roi_id),
            "LABEL_FIELD": ("input", label)})
    b.step("classifier", "remine:trainclassifier", "Classifier with cross-validation", 0, 1,
           {"TRAINING_SET": ("step", "training", "OUTPUT"), "METHOD": ("input", method),
            "SCHEME": ("input", scheme), "N_SPLITS": ("input", folds)},
           {"OUTPUT_MODEL": ("model", "Trained model (.rmodel)"),
            "OUTPUT_REPORT": ("classifier_report", "Classifier report")})
    b.step("predict", "remine:predictraster", "Class map, probabilities, uncertainty", 1, 1,
           {"MODEL": ("step", "classifier", "OUTPUT_MODEL"), "INPUT": ("step", "continuum", "OUTPUT")},
           {"OUTPUT": ("class_map", "Mineral map"), "PROBABILITIES": ("probabilities", "Class probabilities"),
            "UNCERTAINTY": ("uncertainty", "Uncertainty")})
    b.step("report", "remine:report", "Run report", 2, 1,
           {"OUTPUTS": [("step", "predict", "OUTPUT"), ("step", "predict", "UNCERTAINTY"),
                        ("step", "classifier", "OUTPUT_MODEL")], "TITLE": "Mineral map"},
           {"OUTPUT": ("run_report", "Run report")})
    return b.save()


def abundances():
    q = params()
    b = Builder("abundance_workflow", "Mineral abundances with intervals",
                "Per-pixel mineral abundances (%) with lower/upper bounds from a drone cube: spectral subset → linear "
                "unmixing (non-negative least squares) against a spectral library, the ROIs' mean spectra, endmembers "
                "extracted from the cube or the shipped USGS library → closure (abundances normalised to sum to "
                "100 %) → maps styled 0–100 % → HTML run report.",
                "a cube with band wavelengths; a spectral library or ROI polygons unless the shipped USGS library "
                "or extracted endmembers are used.",
                "abundances (%) with lower_/upper_ bounds and RMSE bands, and the run report.",
                "Heinz, D. C. &amp; Chang, C.-I (2001), Fully constrained least squares linear spectral mixture "
                "analysis, IEEE TGRS 39(3), 529–545; Keshava, N. &amp; Mustard, J. F. (2002), Spectral unmixing, "
                "IEEE Signal Processing Magazine 19(1), 44–57.")
    cube = b.input(q.QgsProcessingParameterRasterLayer("cube", "Cube (with band wavelengths)"),
                   "Reflectance cube whose bands carry wavelengths.")
    source = b.input(q.QgsProcessingParameterEnum("endmember_source", "Endmember source",
                                                  options=["Spectral library file", "ROI polygons",
                                                           "Extracted from the cube", "Shipped USGS 1995 library"],
                                                  defaultValue=3), "Where the endmember spectra come from.")
    library = b.input(q.QgsProcessingParameterFile("library", "Spectral library file", optional=True),
                      "Library (CSV, ENVI .sli, ...) when the source is a library file.")
    rois = b.input(q.QgsProcessingParameterVectorLayer("rois", "ROI polygons", [q.QgsProcessing.TypeVectorPolygon],
                                                       optional=True), "ROIs when the source is ROI polygons.")
    minerals = b.input(q.QgsProcessingParameterString(
        "minerals", "Minerals (comma-separated)", optional=True,
        defaultValue="kaolinite,muscovite,chlorite,montmorillonite,alunite,jarosite,goethite,gypsum,calcite"),
        "Minerals to unmix (names in the library or ROI field).")
    level = b.input(q.QgsProcessingParameterNumber("level", "Interval level", q.QgsProcessingParameterNumber.Double,
                                                   defaultValue=0.9, minValue=0.5, maxValue=0.999),
                    "Nominal coverage of the per-pixel intervals.")
    b.step("subset", "remine:spectralsubset", "Spectral subset", 0, 0,
           {"INPUT": ("input", cube), "MIN_WAVELENGTH": 400.0, "MAX_WAVELENGTH": 2450.0, "DROP_WATER_BANDS": True})
    b.step("unmix", "remine:unmix", "Unmix with intervals and closure", 1, 0,
           {"INPUT": ("step", "subset", "OUTPUT"), "ENDMEMBER_SOURCE": ("input", source),
            "LIBRARY": ("input", library), "ROIS": ("input", rois), "MINERALS": ("input", minerals), "METHOD": 1,
            "NORMALISE": True, "INTERVALS": True, "LEVEL": ("input", level)},
           {"OUTPUT": ("abundances", "Abundances (%) with bounds")})
    b.step("report", "remine:report", "Run report", 2, 0,
           {"OUTPUTS": [("step", "unmix", "OUTPUT")], "TITLE": "Mineral abundances"},
           {"OUTPUT": ("run_report", "Run report")})
    return b.save()


def grade_map():
    q = params()
    b = Builder("grade_map_workflow", "Grade map from samples",
                "Kriged grade map with its variance and an honest error estimate from sample points: sample "
                "variogram and fitted model → ordinary kriging onto a template grid (leave-one-out cross-validation "
                "report) → spatial k-fold cross-validation (k-means clusters) → HTML run report.",
                "sample points with a numeric grade field and a template raster for the output grid.",
                "kriged grade and variance rasters, variogram report, leave-one-out and spatial cross-validation "
                "reports, run report.",
                "Pebesma, E. J. (2004), Multivariable geostatistics in S: the gstat package, Computers &amp; "
                "Geosciences 30, 683–691; Isaaks, E. H. &amp; Srivastava, R. M. (1989), An Introduction to Applied "
                "Geostatistics, Oxford Univ. Press.")
    samples = b.input(q.QgsProcessingParameterVectorLayer("samples", "Sample points",
                                                          [q.QgsProcessing.TypeVectorPoint]),
                      "Point layer in a projected CRS (metres).")
    field = b.input(q.QgsProcessingParameterField("field", "Grade field", defaultValue="Zn_ppm",
                                                  parentLayerParameterName="samples",
                                                  type=q.QgsProcessingParameterField.Numeric), "Numeric field.")
    template = b.input(q.QgsProcessingParameterRasterLayer("template", "Template raster (output grid)"),
                       "The kriged rasters use its grid (e.g. the cube or an abundance map).")
    model = b.input(q.QgsProcessingParameterEnum("variogram_model", "Variogram model",
                                                 options=["spherical", "exponential", "gaussian", "matern", "power"],
                                                 defaultValue=0), "Model fitted to the sample variogram.")
    neighbours = b.input(q.QgsProcessingParameterNumber("neighbours", "Neighbours per estimate",
                                                        q.QgsProcessingParameterNumber.Integer, defaultValue=32,
                                                        minValue=0), "Nearest samples used per cell (0 = all).")
    b.step("variogram", "remine:variogram", "Variogram", 0, 0,
           {"INPUT": ("input", samples), "FIELD": ("input", field), "MODEL": ("input", model)},
           {"OUTPUT_REPORT": ("variogram_report", "Variogram report")})
    b.step("kriging", "remine:ordinarykriging", "Ordinary kriging", 1, 0,
           {"INPUT": ("input", samples), "FIELD": ("input", field),
            "MODEL_FILE": ("step", "variogram", "OUTPUT_MODEL"), "N_NEIGHBORS": ("input", neighbours),
            "TEMPLATE": ("input", template)},
           {"OUTPUT": ("grade", "Kriged grade"), "OUTPUT_VARIANCE": ("variance", "Kriging variance"),
            "CV_REPORT": ("cv_report", "Leave-one-out cross-validation report")})
    b.step("spatial_cv", "remine:krigingcrossvalidation", "Spatial k-fold cross-validation", 2, 0,
           {"INPUT": ("input", samples), "FIELD": ("input", field),
            "MODEL_FILE": ("step", "variogram", "OUTPUT_MODEL"), "N_NEIGHBORS": ("input", neighbours),
            "SCHEME": 2, "K": 5},
           {"OUTPUT_REPORT": ("spatial_cv_report", "Spatial cross-validation report")})
    b.step("report", "remine:report", "Run report", 1, 1,
           {"OUTPUTS": [("step", "variogram", "OUTPUT_TABLE"), ("step", "kriging", "OUTPUT"),
                        ("step", "spatial_cv", "OUTPUT_TABLE")], "TITLE": "Grade map"},
           {"OUTPUT": ("run_report", "Run report")})
    return b.save()


def grade_map_hybrid():
    q = params()
    b = Builder("grade_map_hybrid_workflow", "Grade map: hybrid model against kriging",
                "The grade map of the grade-map workflow with the optional hybrid step: sample variogram → ordinary "
                "kriging (leave-one-out cross-validation report) → hybrid kriging (ordinary kriging corrected by an "
                "ensemble of 1D CNN-BiLSTM networks, with covariate rasters such as the abundances of the abundance "
                "workflow) judged against ordinary kriging and kriging with external drift on identical spatial "
                "folds, with a verdict → HTML run report. Needs PyTorch (the deep extra).",
                "sample points with a numeric grade field, a template raster, optional covariate rasters.",
                "kriged grade and variance, hybrid prediction and standard deviation, comparison report, run report.",
                "Anvari, K. et al. (2025), Scientific Reports 15, 35004 (the hybrid network); Hengl, T. et al. "
                "(2007), About regression-kriging, Computers &amp; Geosciences 33, 1301–1315.")
    samples = b.input(q.QgsProcessingParameterVectorLayer("samples", "Sample points",
                                                          [q.QgsProcessing.TypeVectorPoint]),
                      "Point layer in a projected CRS (metres).")
    field = b.input(q.QgsProcessingParameterField("field", "Grade field", defaultValue="Zn_ppm",
                                                  parentLayerParameterName="samples",
                                                  type=q.QgsProcessingParameterField.Numeric), "Numeric field.")
    template = b.input(q.QgsProcessingParameterRasterLayer("template", "Template raster (output grid)"),
                       "The kriged and hybrid rasters use its grid.")
    covariates = b.input(q.QgsProcessingParameterMultipleLayers("covariates", "Covariate rasters",
                                                                q.QgsProcessing.TypeRaster, optional=True),
                         "Exhaustive rasters on one grid (abundances, class probabilities, elevation).")
    members = b.input(q.QgsProcessingParameterNumber("ensemble", "Ensemble members",
                                                     q.QgsProcessingParameterNumber.Integer, defaultValue=5,
                                                     minValue=1), "Networks trained with different seeds.")
    epochs = b.input(q.QgsProcessingParameterNumber("epochs", "Maximum epochs per member",
                                                    q.QgsProcessingParameterNumber.Integer, defaultValue=300,
                                                    minValue=1), "Upper bound; training stops early.")
    folds = b.input(q.QgsProcessingParameterNumber("folds", "Spatial folds of the comparison",
                                                   q.QgsProcessingParameterNumber.Integer, defaultValue=5,
                                                   minValue=2), "Folds on which OK, the hybrid and KED are compared.")
    b.step("variogram", "remine:variogram", "Variogram", 0, 0, {"INPUT": ("input", samples), "FIELD": ("input", field)})
    b.step("kriging", "remine:ordinarykriging", "Ordinary kriging", 1, 0,
           {"INPUT": ("input", samples), "FIELD": ("input", field),
            "MODEL_FILE": ("step", "variogram", "OUTPUT_MODEL"), "TEMPLATE": ("input", template)},
           {"OUTPUT": ("grade", "Kriged grade"), "OUTPUT_VARIANCE": ("variance", "Kriging variance"),
            "CV_REPORT": ("cv_report", "Leave-one-out cross-validation report")})
    b.step("hybrid", "remine:hybridkriging", "Hybrid kriging against kriging", 2, 0,
           {"INPUT": ("input", samples), "FIELD": ("input", field), "COVARIATES": ("input", covariates),
            "TEMPLATE": ("input", template), "N_ENSEMBLE": ("input", members), "MAX_EPOCHS": ("input", epochs),
            "FOLDS": ("input", folds)},
           {"OUTPUT": ("hybrid_grade", "Hybrid prediction"), "OUTPUT_STD": ("hybrid_std", "Hybrid standard deviation"),
            "OUTPUT_REPORT": ("comparison_report", "Hybrid against kriging report")})
    b.step("report", "remine:report", "Run report", 1, 1,
           {"OUTPUTS": [("step", "variogram", "OUTPUT_TABLE"), ("step", "kriging", "OUTPUT"),
                        ("step", "hybrid", "OUTPUT")], "TITLE": "Grade map: hybrid against kriging"},
           {"OUTPUT": ("run_report", "Run report")})
    return b.save()


def tailings_tonnage():
    q = params()
    b = Builder("tailings_tonnage_workflow", "Tailings tonnage",
                "Tonnes and grade above cut-offs of a tailings facility with their uncertainty: voxel model between "
                "the top and base surfaces → 3D variogram and kriging of the sampled grade on the voxels → "
                "conditional simulations (P10/P50/P90 of the tonnage) → grade–tonnage table and plot, elevation "
                "slices, probability-above-cut-off rasters and 3D views (VTK, HTML viewer, PNG snapshots) → HTML "
                "run report.",
                "top and base surfaces (m) and sample points (auger holes) with a grade and a depth field.",
                "a folder with the grade–tonnage table and plot, slices, 3D model and views, and the run report.",
                "Journel, A. G. &amp; Huijbregts, C. J. (1978), Mining Geostatistics, Academic Press (grade–tonnage "
                "curves, 3D kriging); Deutsch, C. V. &amp; Journel, A. G. (1998), GSLIB, 2nd ed., Oxford Univ. "
                "Press (sequential Gaussian simulation).")
    top = b.input(q.QgsProcessingParameterRasterLayer("top", "Top surface (m)"), "Elevation of the tailings top.")
    base = b.input(q.QgsProcessingParameterRasterLayer("base", "Base surface (m)"), "Elevation of the base.")
    samples = b.input(q.QgsProcessingParameterVectorLayer("samples", "Samples", [q.QgsProcessing.TypeVectorPoint]),
                      "Sample points (auger-hole intervals) inside the footprint.")
    field = b.input(q.QgsProcessingParameterField("grade_field", "Grade field", defaultValue="Zn_ppm",
                                                  parentLayerParameterName="samples",
                                                  type=q.QgsProcessingParameterField.Numeric), "Numeric grade field.")
    depth = b.input(q.QgsProcessingParameterField("depth_field", "Depth field (m below the top)",
                                                  defaultValue="depth_m", parentLayerParameterName="samples",
                                                  type=q.QgsProcessingParameterField.Numeric),
                    "Depth of each sample below the top surface (m).")
    density = b.input(q.QgsProcessingParameterNumber("density", "Dry density (t/m³)",
                                                     q.QgsProcessingParameterNumber.Double, defaultValue=1.8,
                                                     minValue=0.01), "Dry bulk density of the tailings.")
    cutoffs = b.input(q.QgsProcessingParameterString("cutoffs", "Cut-offs (comma-separated)", optional=True),
                      "Grades above which tonnes are counted (default: the data's 10/30/50/70/90 % quantiles).")
    voxel = b.input(q.QgsProcessingParameterNumber("voxel_size", "Voxel size (m, 0 = automatic)",
                                                   q.QgsProcessingParameterNumber.Double, defaultValue=0.0,
                                                   minValue=0.0), "Horizontal voxel size.")
    reals = b.input(q.QgsProcessingParameterNumber("realisations", "Realisations (0 = kriging only)",
                                                   q.QgsProcessingParameterNumber.Integer, defaultValue=50,
                                                   minValue=0, maxValue=1000), "Conditional simulations for P10–P90.")
    b.step("volume", "remine:tailingsvolume", "Voxel model, 3D kriging, simulations, grade–tonnage", 0, 0,
           {"TOP": ("input", top), "BASE": ("input", base), "SAMPLES": ("input", samples),
            "GRADE_FIELD": ("input", field), "DEPTH_FIELD": ("input", depth), "DENSITY": ("input", density),
            "CUTOFFS": ("input", cutoffs), "VOXEL_SIZE": ("input", voxel), "N_REALISATIONS": ("input", reals)},
           {"OUTPUT_FOLDER": ("output_folder", "Output folder")})
    b.step("report", "remine:report", "Run report", 1, 0,
           {"OUTPUTS": [("step", "volume", "TONNAGE_CSV"), ("step", "volume", "TONNAGE_PLOT"),
                        ("step", "volume", "GRADE_SLICES")], "TITLE": "Tailings tonnage"},
           {"OUTPUT": ("run_report", "Run report")})
    return b.save()


def _methods():
    from remine.core.learn.registry import method_names

    return method_names("classification")


BUILDERS = [mineral_map, abundances, grade_map, grade_map_hybrid, tailings_tonnage]


def main():
    app = qgis()
    os.makedirs(MODELS_DIR, exist_ok=True)
    for build in BUILDERS:
        print(build())
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
