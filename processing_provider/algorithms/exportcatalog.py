"""remine:exportcatalog — a run's outputs and passports as a STAC catalogue."""
from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterString,
)

from ...core.report.catalog import export_catalog
from ..base import RemineAlgorithm
from ..compat import FOLDER


class ExportCatalog(RemineAlgorithm):
    NAME = "exportcatalog"
    DISPLAY = "Export run as STAC catalogue"
    GROUP = "Reports"
    HELP = """Writes a STAC catalogue (SpatioTemporal Asset Catalog 1.1, the geospatial community's catalogue
standard) of a run, so that runs can be searched and shared like any other geodata: one Item per output with
the file as its asset (SHA-256 and size), its passport as a metadata asset, its footprint in WGS 84 (for models,
tables and reports: the footprint of the data they derive from), the time it was produced, and the passport
(algorithm, parameters, inputs with checksums, versions, CRS and extent, metrics, uncertainty summary, ancestor
outputs) as properties. Links are relative: move the catalogue and the run folder together. The catalogue is
validated against the STAC JSON Schemas (pystac) before the run ends.

<b>Inputs</b>
<ul><li><b>Run folder</b>: the outputs of a run, each with its <i>&lt;output&gt;.passport.json</i>.</li>
<li><b>Title</b> (optional).</li></ul>
<b>Outputs</b>
<ul><li><b>Catalogue folder</b>: <i>catalog.json</i> and one folder per Item.</li></ul>
Needs the Python package pystac (<code>pip install 'pystac[validation]'</code>).
<br><b>Reference</b>: STAC specification 1.1.0, https://stacspec.org; pystac (Radiant Earth Foundation)."""

    INPUT, TITLE, OUTPUT = "INPUT", "TITLE", "OUTPUT"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.INPUT, "Run folder",
                                                     behavior=FOLDER))
        self.addParameter(QgsProcessingParameterString(self.TITLE, "Title", optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, "Catalogue folder"))
        self.addOutput(QgsProcessingOutputFile("CATALOG", "catalog.json"))
        self.addOutput(QgsProcessingOutputNumber("N_ITEMS", "Items"))

    def compute(self, parameters, context, progress):
        folder = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        progress.report(0.05, "reading passports and checking files")
        result = export_catalog(self.parameterAsFile(parameters, self.INPUT, context), folder,
                                title=self.parameterAsString(parameters, self.TITLE, context) or None)
        for p in result["problems"]:
            progress.warn(f"{p['problem']}: {p['file']} ({p['role']}) {p['detail']}")
        self.metrics.update(items=result["items"], n_problems=len(result["problems"]))
        self.output_files = [result["catalog"]]
        progress.report(1.0)
        return {self.OUTPUT: folder, "CATALOG": result["catalog"], "N_ITEMS": result["items"]}
