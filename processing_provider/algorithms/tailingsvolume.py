"""remine:tailingsvolume — 3D voxel model of a tailings body, kriged and simulated grades, grade–tonnage."""
from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...core.errors import InputError
from ...core.raster.style import MAGMA, fullest_band, quantity, unit_suffix, write_data_style
from ..base import RemineAlgorithm
from ..compat import DOUBLE, FIELD_NUMERIC, INTEGER, LAYER_RASTER, LAYER_VECTOR, VECTOR_POINT
from ..layers import LayerStyle

#: ESTIMATOR options (indexes are kept: scripts and models address them by index) -> tailings_volume estimator
ESTIMATORS = [("3D ordinary kriging", "kriging"), ("Hybrid model (kriging + CNN-BiLSTM ensemble; needs PyTorch)",
                                                   "hybrid")]


def parse_cutoffs(text):
    """``"300, 500,900"`` → [300.0, 500.0, 900.0]; empty → None (defaults)."""
    if not text or not text.strip():
        return None
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"cut-offs '{text}' not understood; expected grades separated by commas, "
                         "e.g. 300, 500, 900") from None


class TailingsVolume(RemineAlgorithm):
    NAME = "tailingsvolume"
    CLUSTER = True
    DISPLAY = "3D tailings volume (voxels, kriging, simulation, grade–tonnage)"
    GROUP = "Geostatistics"
    CORE_NAMES = {"samples: depth field": "DEPTH_FIELD", "samples: z field": "Z_FIELD", "samples": "SAMPLES",
                  "cut-offs": "CUTOFFS", "n_realisations": "N_REALISATIONS"}
    HELP = """Builds the 3D model of a tailings body: how many tonnes of which grade lie where, and how sure we are.

<b>Inputs</b>
<ul><li><b>Top surface</b> (e.g. a drone DEM) and <b>Base surface</b> rasters, or a constant <b>Base
elevation</b> (m); a base on another grid or CRS is resampled onto the top's.</li>
<li><b>Samples</b>: auger or drill points (another CRS is reprojected) with a <b>Grade field</b> and a <b>Depth
field</b> (m below the top) or a <b>Z field</b> (elevation, m).</li>
<li><b>Voxel size</b>, <b>Voxel height</b> (m, 0 = about 2,500 columns, median thickness / 10), <b>Density</b>
(t/m³, 1.8), <b>Cut-offs</b> (comma-separated; default the data's 10/30/50/70/90 % quantiles),
<b>Realisations</b> (50, 0 = none), <b>Grade estimator</b>: 3D kriging, or the hybrid model of
remine:hybridkriging (needs PyTorch; minutes of training).</li></ul>
<b>Method</b>: cells between the surfaces with partial-cell volume fractions (volume = raster integral of top −
base); horizontal and vertical variograms, a 3D anisotropic model; 3D ordinary kriging with variance (32
neighbours) or the hybrid model (variance: its calibrated std squared); sequential Gaussian simulation (normal
scores, shared random path, multigrid) honouring the data. A Dask scheduler in remine's Processing setting (or
REMINE_DASK_SCHEDULER) runs kriging and simulation on that cluster, same results.
<b>Outputs</b> (in the output folder)
<ul><li><b>grade_tonnage.csv</b>: cutoff, tonnes, mean_grade, metal, their p10/p50/p90 over the
realisations; <b>grade_tonnage.png</b>: the estimated curve beside the simulated P10–P90 band.</li>
<li><b>grade_slices.tif</b>, <b>variance_slices.tif</b>: a band per slice, bottom first;
<b>p_above_&lt;cut-off&gt;.tif</b>: probability above each cut-off; <b>footprint.gpkg</b>: area, volume,
tonnes.</li>
<li><b>model.vti</b> (ParaView), <b>volume.png</b>, <b>slices.png</b>, <b>holes.png</b>, <b>surfaces.png</b>,
<b>view.html</b> (interactive).</li></ul>
<b>Reference</b>: Deutsch, C. V. &amp; Journel, A. G. (1998), GSLIB, 2nd ed., Oxford Univ. Press (sgsim);
Goovaerts, P. (1997), Geostatistics for Natural Resources Evaluation, Oxford Univ. Press, ch. 8; Anvari, K.,
Benndorf, J., Gerber, … (2025), Scientific Reports 15, 35004 (hybrid model)."""

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer("TOP", "Top surface (m)"))
        self.addParameter(QgsProcessingParameterRasterLayer("BASE", "Base surface (m)", optional=True))
        self.addParameter(QgsProcessingParameterNumber("BASE_ELEVATION", "Base elevation (m, when no base raster)",
                                                       DOUBLE, optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer("SAMPLES", "Samples", [VECTOR_POINT]))
        self.addParameter(QgsProcessingParameterField("GRADE_FIELD", "Grade field", parentLayerParameterName="SAMPLES",
                                                      type=FIELD_NUMERIC))
        self.addParameter(QgsProcessingParameterField("DEPTH_FIELD", "Depth field (m below the top)", optional=True,
                                                      parentLayerParameterName="SAMPLES",
                                                      type=FIELD_NUMERIC))
        self.addParameter(QgsProcessingParameterField("Z_FIELD", "Z field (elevation, m; when no depth field)",
                                                      optional=True, parentLayerParameterName="SAMPLES",
                                                      type=FIELD_NUMERIC))
        for name, label in (("VOXEL_SIZE", "Voxel size (m, 0 = automatic)"),
                            ("VOXEL_HEIGHT", "Voxel height (m, 0 = automatic)")):
            self.addParameter(QgsProcessingParameterNumber(name, label, DOUBLE,
                                                           defaultValue=0.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber("DENSITY", "Dry density (t/m³)",
                                                       DOUBLE, defaultValue=1.8,
                                                       minValue=0.01))
        self.addParameter(QgsProcessingParameterString("CUTOFFS", "Cut-offs (grades, comma-separated)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterNumber("N_REALISATIONS", "Realisations (0 = kriging only)",
                                                       INTEGER, defaultValue=50,
                                                       minValue=0, maxValue=1000))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        # optional: models and scripts saved before it existed stay valid and keep kriging
        self.addParameter(QgsProcessingParameterEnum("ESTIMATOR", "Grade estimator", options=[o for o, _ in ESTIMATORS],
                                                     defaultValue=0, optional=True))
        for key, label in (("VTK", "VTK model (.vti)"), ("HTML", "Interactive 3D view (HTML)"),
                           ("TONNAGE_CSV", "Grade–tonnage table"), ("TONNAGE_PLOT", "Grade–tonnage plot")):
            self.addOutput(QgsProcessingOutputFile(key, label))
        self.addOutput(QgsProcessingOutputRasterLayer("GRADE_SLICES", "Grade elevation slices"))
        self.addOutput(QgsProcessingOutputRasterLayer("VARIANCE_SLICES", "Kriging variance slices"))
        self.addOutput(QgsProcessingOutputVectorLayer("FOOTPRINT", "Footprint"))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.volume.pipeline import tailings_volume
        top = self.parameterAsRasterLayer(parameters, "TOP", context).source()
        base_layer = self.parameterAsRasterLayer(parameters, "BASE", context)
        constant = parameters.get("BASE_ELEVATION") not in (None, "")
        if (base_layer is not None) == constant:
            labels = [f"'{self.parameterDefinition(k).description()}'" for k in ("BASE", "BASE_ELEVATION")]
            what = "both a base surface and a base elevation: give only one of" if constant else "no base: give"
            raise InputError(f"{what} {labels[0]} (a raster) or {labels[1]} (a constant)")
        base = base_layer.source() if base_layer is not None else self.parameterAsDouble(parameters, "BASE_ELEVATION",
                                                                                        context)
        samples = self.parameterAsVectorLayer(parameters, "SAMPLES", context).source()
        depth = self.parameterAsString(parameters, "DEPTH_FIELD", context) or None
        zf = self.parameterAsString(parameters, "Z_FIELD", context) or None
        n_real = self.parameterAsInt(parameters, "N_REALISATIONS", context)
        density = self.parameterAsDouble(parameters, "DENSITY", context)
        cutoffs = parse_cutoffs(self.parameterAsString(parameters, "CUTOFFS", context))
        progress.info(f"density {density:g} t/m³, {n_real} realisations"
                      + ("" if cutoffs else ", cut-offs from the data's 10/30/50/70/90 % quantiles"))
        folder = self.parameterAsFileOutput(parameters, "OUTPUT_FOLDER", context)
        estimator = ESTIMATORS[self.parameterAsEnum(parameters, "ESTIMATOR", context)][1]
        res = tailings_volume(top, base, samples, self.parameterAsString(parameters, "GRADE_FIELD", context), folder,
                              depth_field=depth, z_field=zf,
                              voxel_size=self.parameterAsDouble(parameters, "VOXEL_SIZE", context) or None,
                              voxel_height=self.parameterAsDouble(parameters, "VOXEL_HEIGHT", context) or None,
                              density=density, cutoffs=cutoffs, n_realisations=n_real, progress=progress,
                              estimator=estimator)
        s = res["summary"]
        progress.info(f"volume {s['volume_m3']:,.0f} m³, {s['tonnes']:,.0f} t; grade–tonnage:\n"
                      + res["table"][["cutoff", "tonnes", "mean_grade", "metal"]].to_string(index=False))
        self.metrics.update({k: s[k] for k in ("volume_m3", "tonnes", "voxel_m", "n_samples", "cutoffs",
                                               "anisotropy_ratio", "n_realisations", "estimator")})
        files = [v for k, v in res.items() if isinstance(v, str)] + list(res["probability"])
        self.output_files = files
        self.name_slices(res, self.parameterAsString(parameters, "GRADE_FIELD", context))
        return {"OUTPUT_FOLDER": folder, "VTK": res.get("vtk"), "HTML": res.get("html"),
                "TONNAGE_CSV": res["tonnage_csv"], "TONNAGE_PLOT": res["tonnage_plot"],
                "GRADE_SLICES": res["grade_slices"], "VARIANCE_SLICES": res["variance_slices"],
                "FOOTPRINT": res["footprint"]}

    def name_slices(self, res, field):
        """Style the grade and variance slices on the slice with the most voxels (grade ramp, variance from 0)
        and name the layers the toolbox loads: "Zn (ppm) at z=101.75 m", "Zn variance (ppm²) at …"."""
        band, label = fullest_band(res["grade_slices"])
        styles = (write_data_style(res["grade_slices"], band=band, unit=unit_suffix(field)),
                  write_data_style(res["variance_slices"], colours=MAGMA, band=band, from_zero=True,
                                   unit=unit_suffix(field, "²")))
        self.output_files += [p for p in styles if p]  # removed with the outputs when the run is interrupted
        name, unit = quantity(field)
        at = label.split(" ", 1)[-1].replace("z=", "at z=")
        self.layer_names.update(GRADE_SLICES=f"{name}" + (f" ({unit})" if unit else "") + f" {at}",
                                VARIANCE_SLICES=f"{name} variance" + (f" ({unit}²)" if unit else "") + f" {at}",
                                FOOTPRINT=f"Tailings footprint – {name}")

    def extra_layers(self):
        """Grade slice, variance slice (hidden) and footprint (hidden) load as one group "Tailings volume"."""
        layers = []
        for order, (key, hint) in enumerate((("GRADE_SLICES", LAYER_RASTER), ("VARIANCE_SLICES", LAYER_RASTER),
                                             ("FOOTPRINT", LAYER_VECTOR))):
            if self.results.get(key):
                style = LayerStyle(self.layer_names.get(key), "Tailings volume", order, visible=order == 0)
                layers.append((self.results[key], style, hint))
        return layers
