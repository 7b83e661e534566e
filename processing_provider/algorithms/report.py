"""remine:report — one self-contained HTML report of a run, from the passports of its outputs."""
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from ...core.errors import InputError
from ...core.report.run_report import build_report
from ..base import RemineAlgorithm
from ..compat import FOLDER, SOURCE_FILE


class RunReport(RemineAlgorithm):
    NAME = "report"
    DISPLAY = "Run report (HTML from passports)"
    GROUP = "Reports"
    HELP = """Writes one self-contained HTML report of a run from the provenance passports
(<i>&lt;output&gt;.passport.json</i>) of its outputs: a data summary, a check of every output and input
against its recorded SHA-256 (files moved, modified or missing since the run are listed), a lineage diagram
(which output came from which inputs), spectra of the cubes, cross-validation scores and confusion matrices,
class maps, mean abundances with interval widths, variograms and kriging cross-validation, hybrid-model and
grade–tonnage sections when the run has those products, and every passport. Where the demo scene's truth rasters
are part of the run or its lineage, map accuracy, abundance RMSE and interval coverage, and kriged-grade RMSE
against the truth are added. Plots are PNGs embedded in the page: it opens offline and loads nothing.

<b>Inputs</b>
<ul><li><b>Run folder</b>: every passport under it, <b>or</b> <b>Outputs</b>: a list of output files (each with
its passport).</li>
<li><b>Title</b> of the report.</li></ul>
<b>Outputs</b>
<ul><li><b>Report</b> (.html).</li>
<li><b>Files not as recorded</b>: the number of outputs and inputs moved, modified or missing (listed in the
log and the report).</li></ul>
<b>Reference</b>: the Digital Ore Passport idea of machine-readable, provenance-carrying descriptors of mineral
data (DESIGN.md §11); W3C PROV-O (2013) for lineage as entities derived from entities by activities."""

    INPUT, OUTPUTS, TITLE, OUTPUT = "INPUT", "OUTPUTS", "TITLE", "OUTPUT"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.INPUT, "Run folder", optional=True,
                                                     behavior=FOLDER))
        self.addParameter(QgsProcessingParameterMultipleLayers(self.OUTPUTS, "Outputs (instead of a folder)",
                                                               SOURCE_FILE, optional=True))
        self.addParameter(QgsProcessingParameterString(self.TITLE, "Title", defaultValue="remine run report"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Report", "HTML (*.html)"))
        self.addOutput(QgsProcessingOutputNumber("N_PROBLEMS", "Files not as recorded"))

    def compute(self, parameters, context, progress):
        folder = self.parameterAsFile(parameters, self.INPUT, context)
        outputs = [p for p in self.parameterAsFileList(parameters, self.OUTPUTS, context) if p]
        if not folder and not outputs:
            raise InputError("no run given; expected a run folder or a list of outputs (files with passports)")
        progress.report(0.05, "reading passports and checking files")
        result = build_report(folder or outputs, self.parameterAsFileOutput(parameters, self.OUTPUT, context),
                              title=self.parameterAsString(parameters, self.TITLE, context) or "remine run report")
        for p in result["problems"]:
            progress.warn(f"{p['problem']}: {p['file']} ({p['role']}) {p['detail']}")
        self.metrics.update(result["summary"], n_problems=len(result["problems"]), problems=result["problems"])
        progress.report(1.0)
        return {self.OUTPUT: result["path"], "N_PROBLEMS": len(result["problems"])}
