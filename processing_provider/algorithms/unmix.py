"""remine:unmix — per-pixel mineral abundances (%) with intervals by linear spectral unmixing."""
from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...core.raster.style import write_style
from ...core.report.uncertainty import interval_uncertainty
from ...core.unmix.raster import ENDMEMBER_SOURCES, INTERVAL_METHODS, VARIABILITY, endmember_library, unmix_raster
from ...core.unmix.solvers import METHODS
from ..base import RemineAlgorithm

SOURCES = ["Spectral library file", "ROI polygons (mean spectrum per ROI)",
           "Extracted from the cube (N-FINDR, named EM1…EMn)", "Shipped USGS 1995 library (bundles by mineral)"]
METHOD_LABELS = ["FCLS: non-negative, sum to one", "NNLS: non-negative", "SCLS: sum to one", "UCLS: unconstrained"]
INTERVAL_LABELS = ["Residual error and conditioning", "Bootstrap over library spectra of each mineral"]
VARIABILITY_LABELS = ["Bundle unmixing (all spectra of a mineral at once)", "MESMA (best model per pixel)"]


class Unmix(RemineAlgorithm):
    NAME = "unmix"
    DISPLAY = "Unmix cube (abundances with intervals)"
    GROUP = "Unmixing"
    HELP = """Linear spectral unmixing of every pixel of a cube into mineral abundances (%), with the
reconstruction RMSE and lower/upper bounds, block by block. Exact active-set solvers (fully constrained FCLS,
non-negative NNLS) or closed forms (sum-to-one SCLS, unconstrained UCLS).

<b>Inputs</b>
<ul><li><b>Input cube</b>: raster with band wavelengths.</li>
<li><b>Endmember source</b>: a spectral library file (CSV, ENVI .sli, ...), ROI polygons (mean spectrum per
ROI, named by the <b>ROI name field</b>), extraction from the cube (N-FINDR, endmembers EM1…EMn; number
estimated when <b>Number of endmembers</b> is 0) or the shipped USGS library. Spectra are resampled to the
cube. Each spectrum is one endmember with its own band, named after it (spectra sharing a name are kept apart
as <i>name_1</i>, <i>name_2</i> with a warning), unless a <b>Grouping field</b> is given: spectra with the same
value of that library (or ROI) field are then unmixed together and summed (bundle unmixing), and a
<i>spectrum_&lt;group&gt;</i> band tells which one dominates. The shipped USGS library is grouped by its field
<i>mineral</i> when no field is given.</li>
<li><b>Endmember variability</b>: bundle unmixing (default), or MESMA: every model of one spectrum per mineral
is tried and each pixel keeps the one with the lowest RMSE; <i>spectrum_&lt;mineral&gt;</i> then gives the
spectrum used (1-based, 0 = mineral absent). At most 5000 models (the product of the numbers of spectra per
mineral).</li>
<li><b>Minerals</b>: comma-separated list of endmembers (or groups) to keep (optional).</li>
<li><b>Method</b>; <b>Normalise by the abundance sum</b>: a free per-pixel brightness (use with NNLS when
illumination varies).</li>
<li><b>Intervals</b>: residual (noise and conditioning of the active endmembers) or bootstrap over the
spectra of each mineral; <b>Interval level</b> (0.9 = 90 %). FCLS (and SCLS) residual intervals include a
model-form term: they reach towards the estimate of the same model with a free brightness (NNLS +
normalisation) as far as the brightness departure exceeds its noise; with normalisation the intervals are
those of the normalised abundances. On the demo scene (6 % illumination variation), nominal 90 % residual
intervals cover 91.6 % of the true abundances with NNLS + normalisation (92.1 % with all USGS spectra of the
nine minerals as bundles) and 95.1 % with FCLS (90.9 % with USGS bundles; 37 % and 70 % without the
model-form term). NNLS + normalisation remains the more accurate estimate under varying illumination.
MESMA intervals also span the models that fit as well as the chosen one (91.5 % with NNLS + normalisation
and two USGS spectra per mineral, 94.5 % with FCLS). All these intervals assume the linear model is right:
white noise, the scene's materials as endmembers, their variability in the bundles. On a real scene they
under-cover (Samson, extracted endmembers: 0.26 with NNLS + normalisation, 0.22 with FCLS);
<i>remine:calibrateintervals</i> rescales them on reference samples (0.90 / 0.88 on held-out pixels).</li></ul>
<b>Outputs</b>
<ul><li><b>Abundances</b>: GeoTIFF, one band per mineral (% , named after the mineral), <i>rmse</i>, then
<i>lower_&lt;mineral&gt;</i> and <i>upper_&lt;mineral&gt;</i> (%), then, when a mineral has several spectra,
<i>spectrum_&lt;mineral&gt;</i>. Nodata, NaN and all-zero pixels are NaN. Styled 0–100 %.</li></ul>
<b>Reference</b>: Heinz, D. C. &amp; Chang, C.-I (2001), Fully constrained least squares linear spectral mixture
analysis, IEEE TGRS 39(3), 529–545; Somers, B. et al. (2012), Endmember bundles, Remote Sens. Environ. 120;
Roberts, D. A. et al. (1998), Mapping chaparral in the Santa Monica Mountains using multiple endmember spectral
mixture models, Remote Sens. Environ. 65, 267–279 (MESMA)."""

    (INPUT, SOURCE, LIBRARY, ROIS, ROI_FIELD, N_ENDMEMBERS, MINERALS, METHOD, NORMALISE, INTERVALS_KEY,
     INTERVAL_METHOD, LEVEL, OUTPUT) = ("INPUT", "ENDMEMBER_SOURCE", "LIBRARY", "ROIS", "ROI_FIELD", "N_ENDMEMBERS",
                                        "MINERALS", "METHOD", "NORMALISE", "INTERVALS", "INTERVAL_METHOD", "LEVEL",
                                        "OUTPUT")
    VARIABILITY_KEY = "VARIABILITY"
    GROUP_FIELD = "GROUP_FIELD"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.SOURCE, "Endmember source", options=SOURCES,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFile(self.LIBRARY, "Spectral library file", optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(self.ROIS, "ROI polygons", optional=True))
        self.addParameter(QgsProcessingParameterField(self.ROI_FIELD, "ROI name field", defaultValue="mineral",
                                                      parentLayerParameterName=self.ROIS, optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.N_ENDMEMBERS, "Number of endmembers (0 = estimate)",
                                                       QgsProcessingParameterNumber.Integer, defaultValue=0,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterString(self.MINERALS, "Minerals (comma-separated, optional)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", options=METHOD_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.NORMALISE, "Normalise by the abundance sum",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean(self.INTERVALS_KEY, "Write lower/upper bounds",
                                                        defaultValue=True))
        self.addParameter(QgsProcessingParameterEnum(self.INTERVAL_METHOD, "Intervals", options=INTERVAL_LABELS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.LEVEL, "Interval level",
                                                       QgsProcessingParameterNumber.Double, defaultValue=0.9,
                                                       minValue=0.01, maxValue=0.999))
        self.addParameter(QgsProcessingParameterEnum(self.VARIABILITY_KEY, "Endmember variability",
                                                     options=VARIABILITY_LABELS, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterString(self.GROUP_FIELD, "Grouping field for bundles (optional)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Abundances"))

    def compute(self, parameters, context, progress):
        cube = self.parameterAsRasterLayer(parameters, self.INPUT, context).source()
        rois = self.parameterAsVectorLayer(parameters, self.ROIS, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        n = self.parameterAsInt(parameters, self.N_ENDMEMBERS, context)
        source = ENDMEMBER_SOURCES[self.parameterAsEnum(parameters, self.SOURCE, context)]
        group_field = self.parameterAsString(parameters, self.GROUP_FIELD, context).strip() or (
            "mineral" if source == "usgs" else None)
        library = endmember_library(source, cube,
                                    library_path=self.parameterAsFile(parameters, self.LIBRARY, context),
                                    rois_path=rois.source() if rois else None,
                                    roi_field=self.parameterAsString(parameters, self.ROI_FIELD, context),
                                    n_endmembers=n or None, progress=progress.sub(0.0, 0.2))
        result = unmix_raster(cube, library, out,
                              method=METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
                              intervals=self.parameterAsBoolean(parameters, self.INTERVALS_KEY, context),
                              progress=progress.sub(0.2, 1.0),
                              minerals=self.name_list(parameters, self.MINERALS, context),
                              interval_method=INTERVAL_METHODS[self.parameterAsEnum(parameters, self.INTERVAL_METHOD,
                                                                             context)],
                              level=self.parameterAsDouble(parameters, self.LEVEL, context),
                              normalise=self.parameterAsBoolean(parameters, self.NORMALISE, context),
                              variability=VARIABILITY[self.parameterAsEnum(parameters, self.VARIABILITY_KEY,
                                                                           context)],
                              group_field=group_field)
        write_style(out, value_range=(0, 100))
        self.metrics.update(method=result["method"], variability=result["variability"], group_field=group_field,
                            minerals=result["minerals"],
                            spectra=result["spectra"],
                            bands=result["band_names"], **result["summary"])
        if "mean_interval_width_percent" in result["summary"]:
            self.uncertainty = interval_uncertainty(
                INTERVAL_METHODS[self.parameterAsEnum(parameters, self.INTERVAL_METHOD, context)],
                self.parameterAsDouble(parameters, self.LEVEL, context),
                result["summary"]["mean_interval_width_percent"])
        return {self.OUTPUT: out}
