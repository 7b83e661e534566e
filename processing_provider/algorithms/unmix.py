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

from ...core.errors import InputError
from ...core.raster.style import share_layer_name
from ...core.report.uncertainty import interval_uncertainty
from ...core.unmix.options import ENDMEMBER_SOURCES, INTERVAL_METHODS, METHODS, VARIABILITY
from ..base import RemineAlgorithm
from ..compat import DOUBLE, INTEGER

SOURCES = ["Spectral library file", "ROI polygons (mean spectrum per ROI)",
           "Extracted from the cube (N-FINDR, named EM1…EMn)", "Shipped USGS 1995 library (bundles by mineral)"]
METHOD_LABELS = ["FCLS: non-negative, sum to one", "NNLS: non-negative", "SCLS: sum to one", "UCLS: unconstrained"]
INTERVAL_LABELS = ["Residual error and conditioning", "Bootstrap over library spectra of each mineral"]
VARIABILITY_LABELS = ["Bundle unmixing (all spectra of a mineral at once)", "MESMA (best model per pixel)"]


class Unmix(RemineAlgorithm):
    NAME = "unmix"
    CLUSTER = True
    DISPLAY = "Unmix cube (abundances with intervals)"
    GROUP = "Unmixing"
    HELP = """Linear spectral unmixing of every pixel of a cube into mineral abundances (%), with the
reconstruction RMSE and lower/upper bounds, block by block: exact active-set solvers (fully constrained FCLS,
non-negative NNLS) or closed forms (sum-to-one SCLS, unconstrained UCLS).

<b>Inputs</b>
<ul><li><b>Input cube</b>: raster with band wavelengths.</li>
<li><b>Endmember source</b>: the shipped USGS library (default, grouped by mineral), a spectral library file
(CSV, ENVI .sli, ...), ROI polygons (mean spectrum per ROI, named by the <b>ROI name field</b>) or extraction
from the cube (N-FINDR, EM1…EMn; their number estimated when <b>Number of endmembers</b> is 0). Spectra are
resampled to the cube; each is one endmember unless a <b>Grouping field</b> bundles those sharing a value
(unmixed together and summed; a <i>spectrum_&lt;group&gt;</i> band tells which one dominates).</li>
<li><b>Endmember variability</b>: bundles, or MESMA (each pixel keeps the model of one spectrum per mineral with
the lowest RMSE; at most 5000 models).</li>
<li><b>Minerals</b> to keep; <b>Method</b>; <b>Normalise by the abundance sum</b> (a free per-pixel brightness:
use with NNLS when illumination varies).</li>
<li><b>Intervals</b>: residual (noise and conditioning; for FCLS/SCLS with a model-form term) or bootstrap
over the spectra of each mineral, at the <b>Interval level</b> (0.9 = 90 %). They assume the linear model is right;
<i>remine:calibrateintervals</i> rescales them on reference samples (coverage figures: Plugins ▸ remine ▸
Help).</li></ul>
<b>Outputs</b>
<ul><li><b>Abundances</b>: GeoTIFF, one band per mineral (%), <i>rmse</i>, <i>lower_&lt;mineral&gt;</i> and
<i>upper_&lt;mineral&gt;</i> (%), then <i>spectrum_&lt;mineral&gt;</i> for bundles. Nodata and all-zero pixels
are NaN. Loads as the band of the mineral with the largest mean, 0–100 %.</li></ul>
<b>Reference</b>: Heinz, D. C. &amp; Chang, C.-I (2001), IEEE TGRS 39(3), 529–545 (FCLS); Somers, B. et al.
(2012), Remote Sens. Environ. 120 (bundles); Roberts, D. A. et al. (1998), Remote Sens. Environ. 65, 267–279
(MESMA)."""

    (INPUT, SOURCE, LIBRARY, ROIS, ROI_FIELD, N_ENDMEMBERS, MINERALS, METHOD, NORMALISE, INTERVALS_KEY,
     INTERVAL_METHOD, LEVEL, OUTPUT) = ("INPUT", "ENDMEMBER_SOURCE", "LIBRARY", "ROIS", "ROI_FIELD", "N_ENDMEMBERS",
                                        "MINERALS", "METHOD", "NORMALISE", "INTERVALS", "INTERVAL_METHOD", "LEVEL",
                                        "OUTPUT")
    VARIABILITY_KEY = "VARIABILITY"
    GROUP_FIELD = "GROUP_FIELD"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterEnum(self.SOURCE, "Endmember source", options=SOURCES,
                                                     defaultValue=ENDMEMBER_SOURCES.index("usgs")))
        self.addParameter(QgsProcessingParameterFile(self.LIBRARY, "Spectral library file", optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(self.ROIS, "ROI polygons", optional=True))
        self.addParameter(QgsProcessingParameterField(self.ROI_FIELD, "ROI name field", defaultValue="mineral",
                                                      parentLayerParameterName=self.ROIS, optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.N_ENDMEMBERS, "Number of endmembers (0 = estimate)",
                                                       INTEGER, defaultValue=0,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterString(self.MINERALS, "Minerals (comma-separated)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", options=METHOD_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.NORMALISE, "Normalise by the abundance sum",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean(self.INTERVALS_KEY, "Write lower/upper bounds",
                                                        defaultValue=True))
        self.addParameter(QgsProcessingParameterEnum(self.INTERVAL_METHOD, "Intervals", options=INTERVAL_LABELS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.LEVEL, "Interval level",
                                                       DOUBLE, defaultValue=0.9,
                                                       minValue=0.01, maxValue=0.999))
        self.addParameter(QgsProcessingParameterEnum(self.VARIABILITY_KEY, "Endmember variability",
                                                     options=VARIABILITY_LABELS, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterString(self.GROUP_FIELD, "Grouping field for bundles",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Abundances"))

    def check_source(self, source, parameters, context):
        """The input the chosen endmember source needs, named as in the dialog."""
        chosen = SOURCES[ENDMEMBER_SOURCES.index(source)]
        if source == "library" and not self.parameterAsFile(parameters, self.LIBRARY, context):
            raise InputError(f"Endmember source is '{chosen}' but no Spectral library file is given; choose one, "
                             f"or the source '{SOURCES[ENDMEMBER_SOURCES.index('usgs')]}'")
        if source == "rois" and self.parameterAsVectorLayer(parameters, self.ROIS, context) is None:
            raise InputError(f"Endmember source is '{chosen}' but no ROI polygons are given; choose a polygon layer, "
                             f"or another Endmember source")

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.unmix.raster import endmember_library, unmix_raster
        cube = self.parameterAsRasterLayer(parameters, self.INPUT, context).source()
        rois = self.parameterAsVectorLayer(parameters, self.ROIS, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        n = self.parameterAsInt(parameters, self.N_ENDMEMBERS, context)
        source = ENDMEMBER_SOURCES[self.parameterAsEnum(parameters, self.SOURCE, context)]
        self.check_source(source, parameters, context)
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
        self.layer_names[self.OUTPUT] = share_layer_name("Abundance", result["shown"], len(result["minerals"]),
                                                         "minerals")
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
