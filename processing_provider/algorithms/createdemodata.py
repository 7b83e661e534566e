"""remine:createdemodata — the synthetic demo tailings facility."""
from qgis.core import (
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ...core.demo import make_demo
from ..base import RemineAlgorithm
from ..compat import INTEGER, LAYER_RASTER, LAYER_VECTOR
from ..layers import LayerStyle


class CreateDemoData(RemineAlgorithm):
    NAME = "createdemodata"
    DISPLAY = "Create demo tailings scene"
    GROUP = "Data"
    HELP = """Writes a deterministic synthetic tailings facility built from real USGS library spectra, to try
every remine algorithm and to test them against a known truth.

<b>Inputs</b>
<ul><li><b>Output folder</b> (created if missing).</li>
<li><b>Seed</b>: the same seed gives the same rasters.</li></ul>
<b>Outputs</b> (EPSG:32630, 0.5 m pixels, 300 × 300)
<ul><li><b>cube.tif</b>: 224-band AVIRIS-like reflectance cube (383–2508 nm, FWHM stored), linear mixtures of
kaolinite, muscovite, chlorite, montmorillonite, alunite, jarosite, goethite, gypsum and calcite with
spatially correlated abundances, illumination scaling and noise; a nodata corner.</li>
<li><b>truth_abundance.tif</b> (one band per mineral, sums to 1), <b>truth_class.tif</b> (dominant
mineral; codes 1–9 = the mineral names in alphabetical order, as in a class map predicted from the ROIs).</li>
<li><b>rois.gpkg</b>: polygons with mineral label, synthetic XRD mineral % and XRF Zn/Cu/S/Ca ppm.</li>
<li><b>samples.gpkg</b>: 250 points with depth and Zn/Cu/S/Ca ppm (correlated field + nugget);
<b>truth_grades.tif</b>: the noise-free grades.</li>
<li><b>surface_top.tif</b>, <b>surface_base.tif</b>: tailings top and base elevations (m).</li>
<li><b>holes.gpkg</b>: 40 auger holes sampled every 0.5 m down to the base (hole_id, depth_m, z_m, Zn_ppm,
Cu_ppm; grades layered with depth), <b>truth_voxels.tif</b>: the true Zn ppm of every 5 × 5 × 0.5 m voxel
between the surfaces (one band per elevation slice), for <i>remine:tailingsvolume</i>.</li></ul>
<b>Reference</b>: spectra from the USGS Digital Spectral Library (Clark et al.), AVIRIS-convolved “USGS 1995”
version, public domain."""

    OUTPUT = "OUTPUT"
    SEED = "SEED"
    RASTERS = {"CUBE": "cube", "TRUTH_ABUNDANCE": "truth_abundance", "TRUTH_CLASS": "truth_class",
               "TRUTH_GRADES": "truth_grades", "SURFACE_TOP": "surface_top", "SURFACE_BASE": "surface_base"}
    VECTORS = {"ROIS": "rois", "SAMPLES": "samples"}
    GROUP_NAME = "Demo tailings scene"
    #: file -> (layer name, position in the group from the top, shown)
    LAYERS = {"samples": ("Samples – Zn (ppm)", 0, True), "rois": ("ROIs (mineral)", 1, True),
              "truth_class": ("Truth – dominant mineral", 2, True),
              "truth_abundance": ("Truth abundance – {band} (largest mean of 9 minerals, fraction)", 3, False),
              "truth_grades": ("Truth grade – Zn (ppm)", 4, False), "surface_top": ("Tailings top (m)", 5, False),
              "surface_base": ("Tailings base (m)", 6, False), "cube": ("Reflectance cube (224 bands)", 7, False)}

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Seed", INTEGER,
                                                       defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, "Output folder"))
        for key, name in self.RASTERS.items():
            self.addOutput(QgsProcessingOutputRasterLayer(key, name))
        for key, name in self.VECTORS.items():
            self.addOutput(QgsProcessingOutputVectorLayer(key, name))

    def compute(self, parameters, context, progress):
        folder = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        progress.report(0.05, "building the demo scene")
        paths = make_demo(folder, seed=seed)
        progress.report(1.0, "done")
        self.output_files = list(paths.values())
        results = {self.OUTPUT: folder}
        results.update({key: paths[name] for key, name in {**self.RASTERS, **self.VECTORS}.items()})
        return results

    def extra_layers(self):
        """The scene loads as one layer group: samples and ROIs over the truth class map, the rest hidden."""
        layers = []
        for key, file in {**self.RASTERS, **self.VECTORS}.items():
            if key in self.results:
                name, order, visible = self.LAYERS[file]
                style = LayerStyle(name, self.GROUP_NAME, order, visible,
                                   categories="mineral" if file == "rois" else None,
                                   graduated="Zn_ppm" if file == "samples" else None)
                layers.append((self.results[key], style, LAYER_VECTOR if key in self.VECTORS else LAYER_RASTER))
        return layers
