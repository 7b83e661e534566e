"""remine:extractendmembers — endmember spectra from a cube (N-FINDR, VCA, ATGP) with library suggestions."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ...core.spectra import read_library, write_library
from ...core.unmix.options import EXTRACTION_METHODS, N_ESTIMATORS
from ..base import RemineAlgorithm
from ..compat import INTEGER

METHOD_LABELS = {"nfindr": "N-FINDR", "vca": "VCA", "atgp": "ATGP"}
ESTIMATOR_LABELS = {"eigengap": "Eigenvalue gap of the noise-whitened covariance", "hysime": "HySime",
                    "hfc": "HFC virtual dimensionality", "nwhfc": "Noise-whitened HFC"}


class ExtractEndmembers(RemineAlgorithm):
    NAME = "extractendmembers"
    DISPLAY = "Extract endmembers"
    GROUP = "Unmixing"
    HELP = """Finds the purest pixels of a cube as endmember spectra, each with a unique name (EM1…EMn or the
names given), and suggests for each the library spectrum with the smallest spectral angle (one-to-one
assignment). The suggestion is information only: it never merges endmembers in <i>remine:unmix</i>; a
warning names the suggestions whose angle exceeds 10° (poor matches: the library may not hold the material).

<b>Inputs</b>
<ul><li><b>Input cube</b>: raster with band wavelengths.</li>
<li><b>Number of endmembers</b>: 0 estimates it with the chosen <b>estimator</b>: the eigenvalue gap of the
noise-whitened covariance (default: it counts the dominant materials; on the Samson scene of soil, trees and
water it gives 3 where HySime gives 76, HFC 6 and noise-whitened HFC 5, as real scenes carry many weak
directions above the noise), HySime, or (noise-whitened) HFC virtual dimensionality. Under varying
illumination the gap may count a shade endmember as well.</li>
<li><b>Method</b>: N-FINDR (simplex volume), VCA (vertex component analysis) or ATGP (orthogonal
projections).</li>
<li><b>Library for naming</b> (optional; default the shipped USGS 1995 subset), resampled to the cube.</li>
<li><b>Maximum pixels</b>: size of the random pixel sample the extraction sees.</li>
<li><b>Endmember names</b> (optional): comma-separated, one unique name per endmember.</li></ul>
<b>Outputs</b>
<ul><li><b>Endmember library</b>: CSV or ENVI .sli with one spectrum per endmember and the fields
library_match, suggested_mineral, angle_deg, row, col, x, y; usable as the library of <i>remine:unmix</i>
(one abundance band per endmember).</li></ul>
<b>Reference</b>: Winter, M. E. (1999), N-FINDR, Proc. SPIE 3753; Nascimento, J. M. P. &amp; Bioucas-Dias, J. M.
(2005), Vertex component analysis, IEEE TGRS 43(4), 898–910; Bioucas-Dias, J. M. &amp; Nascimento, J. M. P.
(2008), Hyperspectral subspace identification, IEEE TGRS 46(8), 2435–2445; Chang, C.-I &amp; Du, Q. (2004),
Estimation of number of spectrally distinct signal sources in hyperspectral imagery, IEEE TGRS 42(3), 608–619."""

    INPUT, N_ENDMEMBERS, METHOD, ESTIMATOR, LIBRARY, MAX_PIXELS, NAMES, OUTPUT = (
        "INPUT", "N_ENDMEMBERS", "METHOD", "ESTIMATOR", "LIBRARY", "MAX_PIXELS", "NAMES", "OUTPUT")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input cube"))
        self.addParameter(QgsProcessingParameterNumber(self.N_ENDMEMBERS, "Number of endmembers (0 = estimate)",
                                                       INTEGER, defaultValue=0,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.METHOD, "Method", defaultValue=0,
                                                     options=[METHOD_LABELS[m] for m in EXTRACTION_METHODS]))
        self.addParameter(QgsProcessingParameterEnum(self.ESTIMATOR, "Estimator of the number",
                                                     options=[ESTIMATOR_LABELS[e] for e in N_ESTIMATORS],
                                                     defaultValue=N_ESTIMATORS.index("eigengap")))
        self.addParameter(QgsProcessingParameterFile(self.LIBRARY, "Library for naming (default: USGS 1995)",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_PIXELS, "Maximum pixels",
                                                       INTEGER, defaultValue=50000,
                                                       minValue=100))
        self.addParameter(QgsProcessingParameterString(self.NAMES, "Endmember names (comma-separated)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, "Endmember library", fileFilter="CSV (*.csv);;ENVI spectral library (*.sli)"))

    def compute(self, parameters, context, progress):
        # imported when the algorithm runs: they need packages QGIS's Python may lack (scikit-learn, numba)
        from ...core.unmix.raster import extract_endmembers
        cube = self.parameterAsRasterLayer(parameters, self.INPUT, context).source()
        library_path = self.parameterAsFile(parameters, self.LIBRARY, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        n = self.parameterAsInt(parameters, self.N_ENDMEMBERS, context)
        library = extract_endmembers(cube, n or None,
                                     EXTRACTION_METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
                                     N_ESTIMATORS[self.parameterAsEnum(parameters, self.ESTIMATOR, context)],
                                     library=read_library(library_path) if library_path else None,
                                     max_pixels=self.parameterAsInt(parameters, self.MAX_PIXELS, context),
                                     progress=progress,
                                     names=self.name_list(parameters, self.NAMES, context))
        write_library(library, out)
        meta = library.metadata
        progress.info("endmembers (library suggestion, spectral angle): " + ", ".join(
            f"{n}: {m} ({a:.2f}°)" for n, m, a in zip(library.names, meta["library_match"], meta["angle_deg"])))
        self.metrics.update(n_endmembers=len(library), endmembers=list(library.names),
                            library_match=list(meta["library_match"]),
                            angle_deg=[float(a) for a in meta["angle_deg"]])
        return {self.OUTPUT: out}
