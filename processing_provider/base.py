"""RemineAlgorithm: the shared base of every remine Processing algorithm.

A subclass sets NAME, DISPLAY, GROUP, HELP, declares parameters in ``initAlgorithm`` and implements
``compute(parameters, context, progress) -> dict`` by calling one or two ``remine.core`` functions. The base:

- refuses, before computing, an output that is one of the run's input files (every layer and file
  parameter: rasters, vectors, templates, models, libraries, tables, covariates), an existing folder, or
  a file in a folder that is missing or cannot be written (:func:`check_destinations`);
- adapts ``QgsProcessingFeedback`` to :class:`remine.core.progress.Progress` (progress, log, cancel);
- treats SIGINT/SIGTERM (Ctrl-C, ``kill`` of ``qgis_process``) like Cancel while an algorithm runs on the
  main thread: the run stops at the next block;
- turns ``InputError``/``DependencyError`` into ``QgsProcessingException`` with the same message, a
  missing package (``ModuleNotFoundError`` of one of :data:`remine.core.dependencies.PACKAGES`, imported
  lazily in ``compute``) into the ``DependencyError`` message naming it and its install command, one that
  is installed but fails to load (any other ``ImportError``, e.g. Windows' "DLL load failed") into one
  saying how to reinstall it (:func:`remine.core.dependencies.import_error`), and a cancel or interrupt
  into a failure too (``qgis_process`` exits non-zero) with a log line, no output;
- forwards ``RemineWarning``s to the log;
- writes a provenance passport ``<output>.passport.json`` for every file output (docs/architecture.md,
  Provenance), with the metrics the algorithm put into ``self.metrics``, the uncertainty summary it put into
  ``self.uncertainty`` (``{"kind": "none"}`` unless it says otherwise; NaN/inf values as null, with a note)
  and where its block work ran;
- sends the block work to the Dask scheduler of remine's Processing setting :data:`SCHEDULER_SETTING`
  when it is set (else ``REMINE_DASK_SCHEDULER`` decides; see ``remine.core.cluster``); an algorithm with
  block work (``CLUSTER``) connects to it first, so that an unreachable or unusable cluster fails before any
  work, and its runs share that connection.
- after the run (main thread), gives every output Processing loads a styled, named layer
  (:mod:`.layers`; subclasses name them in ``layer_style``) and remembers the last HTML report.
"""
import contextlib
import datetime
import os
import re
import signal
import threading
import warnings

from qgis.core import (
    Qgis,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsSettings,
)
from qgis.PyQt.QtCore import QUrl

from ..core import __version__, cluster
from ..core.dependencies import import_error
from ..core.errors import CancelledError, DependencyError, InputError, RemineWarning
from ..core.interpreter import find_python_or_fallback
from ..core.progress import Progress
from ..core.raster.units import WAVELENGTH_UNITS
from ..core.report.passport import NO_UNCERTAINTY, file_path, make_passport, write_passport
from .icons import remine_icon
from .layers import LayerStyle, load_on_completion, style_on_load

LAST_REPORT_KEY = "remine/last_report"  # read by the plugin menu's "Open last report"
HELP_PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "help.html")

#: remine's setting in QGIS's Processing options: the Dask scheduler address for block work ("" = this computer)
SCHEDULER_SETTING = "REMINE_DASK_SCHEDULER"


def scheduler_setting():
    """The Dask scheduler address of remine's Processing setting, or None when empty or unavailable."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:  # Processing's Python plugin not loaded
        return None
    return (ProcessingConfig.getSetting(SCHEDULER_SETTING) or "").strip() or None


class FeedbackProgress(Progress):
    """A remine Progress backed by a QgsProcessingFeedback; ``interrupted`` names a signal received."""

    def __init__(self, feedback):
        self.feedback = feedback
        self.interrupted = None

    def _report(self, fraction, message):
        if self.feedback is None:
            return
        self.feedback.setProgress(100.0 * fraction)
        if message:
            self.feedback.setProgressText(message)

    def info(self, message):
        if self.feedback is not None:
            self.feedback.pushInfo(message)

    def warn(self, message):
        if self.feedback is not None:
            self.feedback.pushWarning(message)

    def is_cancelled(self):
        return self.interrupted is not None or (self.feedback is not None and self.feedback.isCanceled())


@contextlib.contextmanager
def interrupts_cancel(progress):
    """While the block runs, SIGINT and SIGTERM set ``progress.interrupted`` (the run stops at its next
    cancel check) instead of killing the process, which would leave partial files; a second signal
    interrupts at once. Only on the main thread (qgis_process; the QGIS desktop runs algorithms on worker
    threads and has its own Cancel button); the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}

    def handler(signum, frame):
        if progress.interrupted is not None:
            raise KeyboardInterrupt(names[signum])
        progress.interrupted = names[signum]

    previous = {sig: signal.signal(sig, handler) for sig in names}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class RemineAlgorithm(QgsProcessingAlgorithm):
    """Base class; see the module docstring."""

    NAME = ""
    DISPLAY = ""
    GROUP = ""
    HELP = ""
    #: output keys that load unchecked (variances, uncertainties, probabilities), so that the map shows first
    SECONDARY_OUTPUTS = ()
    #: ``{name core's messages use: parameter key}``: an InputError reaches the dialog with the label instead
    CORE_NAMES = {}
    #: True: its block work may go to a Dask cluster (processAlgorithm connects to it before the work)
    CLUSTER = False

    def __init__(self):
        super().__init__()
        self.metrics = {}
        self.uncertainty = dict(NO_UNCERTAINTY)
        self.output_files = []
        self.results = {}
        self.layer_names = {}  # output key -> layer name ("Abundance – kaolinite"), set by compute

    # --- identity -------------------------------------------------------------------------------
    def name(self):
        return self.NAME

    def displayName(self):
        return self.DISPLAY

    def group(self):
        return self.GROUP

    def groupId(self):
        return self.GROUP.lower().replace(" ", "")

    def shortHelpString(self):
        """``HELP`` as the help panel wants it: QGIS makes a paragraph of every line, so source lines are
        joined; blank lines and the Inputs, Outputs and Reference headings start paragraphs."""
        text = "\n".join(" ".join(block.split()) for block in self.HELP.split("\n\n") if block.strip())

        def heading(match):  # a new paragraph only outside lists
            before = text[:match.start()]
            return match.group(2) if before.count("<ul>") > before.count("</ul>") else "\n" + match.group(2)

        return re.sub(r"\s*(<br>)?\s*(<b>(Inputs|Outputs|References?)</b>)", heading, text).strip()

    def helpUrl(self):
        return QUrl.fromLocalFile(HELP_PAGE).toString()

    def icon(self):
        return remine_icon()

    def createInstance(self):
        return type(self)()

    # --- parameters shared by several algorithms (as EnMAP-Box's parameterAsX: empty -> None) --------
    def optional_number(self, parameters, key, context):
        """Value of an optional number parameter, or None when it was left empty."""
        if parameters.get(key) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, key, context)

    def name_list(self, parameters, key, context):
        """A comma-separated string parameter as a list of stripped names, or None when empty."""
        text = self.parameterAsString(parameters, key, context)
        names = [t.strip() for t in (text or "").split(",") if t.strip()]
        return names or None

    def add_wavelength_units(self, key):
        """An enum parameter for the wavelength units of files that carry none (option 0: from the file)."""
        self.addParameter(QgsProcessingParameterEnum(key, "Wavelength units (files without units)",
                                                     options=["from the file", *WAVELENGTH_UNITS], defaultValue=0))

    def wavelength_units(self, parameters, key, context):
        """The units chosen with :meth:`add_wavelength_units` (``"nm"``, ``"um"``, ``"cm-1"``), or None."""
        index = self.parameterAsEnum(parameters, key, context)
        return None if index == 0 else WAVELENGTH_UNITS[index - 1]

    def in_dialog_terms(self, message):
        """``message`` with every name of CORE_NAMES (``n_neighbors=3``) as its parameter's label in quotes
        (``“Neighbours per sequence” = 3``), in one pass (a label is never rewritten again)."""
        if not self.CORE_NAMES:
            return message
        names = sorted(self.CORE_NAMES, key=len, reverse=True)
        pattern = r"\b(" + "|".join(map(re.escape, names)) + r")\b(\s*=\s*)?"

        def label(match):
            text = self.parameterDefinition(self.CORE_NAMES[match.group(1)]).description()
            return f"“{text}”" + (" = " if match.group(2) else "")

        return re.sub(pattern, label, message)

    # --- execution -------------------------------------------------------------------------------
    def compute(self, parameters, context, progress):
        """Do the work with remine.core; return the outputs dict. Subclasses implement this."""
        raise NotImplementedError

    def processAlgorithm(self, parameters, context, feedback):
        started = datetime.datetime.now(datetime.timezone.utc)
        self.metrics, self.uncertainty, self.output_files = {}, dict(NO_UNCERTAINTY), []
        self.layer_names = {}
        progress = FeedbackProgress(feedback)
        results = None
        try:
            check_destinations(self, parameters, context)
            with cluster.using(scheduler_setting()), cluster.recording() as runs, interrupts_cancel(progress), \
                    warnings.catch_warnings(record=True) as caught, \
                    cluster.session() if self.CLUSTER else contextlib.nullcontext():
                warnings.simplefilter("always", RemineWarning)
                progress.report(0.0, "checking the inputs")
                results = self.compute(parameters, context, progress)
                progress.check()  # a signal during the last step: the outputs go
        except (CancelledError, KeyboardInterrupt):
            self.remove_outputs(results)
            reason = f"interrupted by {progress.interrupted}" if progress.interrupted else "cancelled by the user"
            progress.info(f"{reason}: no output was written")
            raise QgsProcessingException(f"{reason}: no output was written") from None
        except InputError as exc:
            raise QgsProcessingException(self.in_dialog_terms(str(exc))) from None
        except DependencyError as exc:
            raise QgsProcessingException(str(exc)) from None
        except ImportError as exc:
            python, note = find_python_or_fallback()
            error = import_error(exc, python=python)
            if error is None:
                raise
            raise QgsProcessingException(str(error) + (f" (QGIS's own Python was not found: {note})" if note
                                                       else "")) from None
        for w in caught:
            if issubclass(w.category, RemineWarning):
                progress.warn(str(w.message))
        self.write_passports(parameters, context, results, started, cluster.where(runs))
        self.results = dict(results)
        return results

    # --- loading the outputs ---------------------------------------------------------------------
    def layer_style(self, key, path):
        """How output ``key`` (file ``path``) shows when Processing loads it: a :class:`LayerStyle` named
        from ``self.layer_names``, unchecked when in SECONDARY_OUTPUTS (rasters get the style remine.core wrote
        next to them)."""
        return LayerStyle(self.layer_names.get(key), visible=key not in self.SECONDARY_OUTPUTS)

    def extra_layers(self):
        """``[(path, LayerStyle, QgsProcessingUtils.LayerHint)]`` of outputs that are not destination
        parameters but should load too (the demo scene's files)."""
        return []

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 (QGIS API name; runs in the main thread)
        layers = context.layersToLoadOnCompletion()
        if "" in layers:  # an optional output left empty in a batch row: QGIS 3.22 would report it as failed
            del layers[""]
            context.setLayersToLoadOnCompletion(layers)
        extra = self.extra_layers()
        for path, style, hint in extra:
            load_on_completion(context, path, style, hint)
        for key, value in self.results.items():
            if value not in {path for path, _, _ in extra}:
                style_on_load(context, value, self.layer_style(key, value))
        reports = [v for v in self.results.values() if isinstance(v, str) and v.lower().endswith(".html")]
        if reports:
            QgsSettings().setValue(LAST_REPORT_KEY, reports[-1])
        return {}

    def warn_ignored(self, parameters, names, reason):
        """Log a warning for each of ``names`` the user gave although the chosen option ignores it
        (``reason`` says why, e.g. "the window is a preset; choose 'Custom' to use it")."""
        labels = {p.name(): p.description() for p in self.parameterDefinitions()}
        for name in names:
            if parameters.get(name) not in (None, ""):
                warnings.warn(f"{labels.get(name, name)} ({name}) is ignored: {reason}", RemineWarning, stacklevel=2)

    def remove_outputs(self, results):
        """Delete the files a run produced (results and ``self.output_files``) after an interrupt."""
        files = [v for v in (results or {}).values() if isinstance(v, str)] + list(self.output_files)
        for path in files:
            for f in (path, f"{path}.passport.json"):
                if os.path.isfile(f):
                    os.remove(f)

    # --- provenance ------------------------------------------------------------------------------
    def input_files(self, parameters, context):
        """``{parameter name: file path}`` of the layer/file inputs (for SHA-256 in passports)."""
        found = {}
        for p in self.parameterDefinitions():
            name = p.name()
            if name not in parameters or parameters[name] is None:
                continue
            if isinstance(p, QgsProcessingParameterRasterLayer):
                layer = self.parameterAsRasterLayer(parameters, name, context)
                sources = [layer.source()] if layer else []
            elif isinstance(p, (QgsProcessingParameterFeatureSource, QgsProcessingParameterVectorLayer)):
                layer = self.parameterAsVectorLayer(parameters, name, context)
                sources = [layer.source()] if layer else []
            elif isinstance(p, QgsProcessingParameterMultipleLayers):
                sources = [lyr.source() for lyr in self.parameterAsLayerList(parameters, name, context)]
            elif isinstance(p, QgsProcessingParameterFile):
                sources = [self.parameterAsFile(parameters, name, context)]
            else:
                continue
            for k, src in enumerate(sources):
                path = file_path(src)
                if path:
                    found[name if len(sources) == 1 else f"{name}[{k}]"] = path
        return found

    def parameter_values(self, parameters):
        """JSON-friendly effective value of every declared parameter (layers by source): the value given,
        or the parameter's default when it was left out (None for an optional parameter without one)."""
        values = {}
        for p in self.parameterDefinitions():
            name = p.name()
            value = parameters.get(name)
            if value is None:
                value = p.defaultValue()
            source = getattr(value, "source", None)
            if callable(source):
                value = source()
            sink = getattr(value, "sink", None)  # QgsProcessingOutputLayerDefinition
            if sink is not None:
                value = sink.staticValue()
            values[name] = value
        return values

    def write_passports(self, parameters, context, results, started, execution=None):
        outputs = [v for v in results.values() if isinstance(v, str) and os.path.isfile(v)]
        outputs += [f for f in self.output_files if os.path.isfile(f)]
        if not outputs:
            return
        inputs = self.input_files(parameters, context)
        values = self.parameter_values(parameters)
        software = {"qgis": Qgis.QGIS_VERSION, "remine": __version__}
        for out in dict.fromkeys(outputs):
            if out.endswith(".passport.json"):
                continue
            passport = make_passport(f"remine:{self.name()}", __version__, values, inputs, out, started,
                                     metrics=self.metrics, software=software, uncertainty=self.uncertainty,
                                     execution=execution)
            write_passport(out, passport)


def destination_paths(alg, parameters, context):
    """``{parameter name: path}`` of the file and folder outputs the run was given (temporary outputs
    included, as QGIS resolves them)."""
    found = {}
    for p in alg.destinationParameterDefinitions():
        name = p.name()
        if parameters.get(name) in (None, ""):
            continue
        if isinstance(p, QgsProcessingParameterRasterDestination):
            path = alg.parameterAsOutputLayer(parameters, name, context)
        elif isinstance(p, (QgsProcessingParameterFileDestination, QgsProcessingParameterFolderDestination)):
            path = alg.parameterAsFileOutput(parameters, name, context)
        else:
            continue
        if path:
            found[name] = path
    return found


def check_destinations(alg, parameters, context):
    """Refuse outputs that would overwrite an input or cannot be written, before any computation.

    Every output must differ from every input file (all layer and file parameters, see
    :meth:`RemineAlgorithm.input_files`) and from the other outputs; a file output must not be an existing
    folder and its folder must exist and be writable. Messages use the dialog's labels.
    """
    labels = {p.name(): p.description() for p in alg.parameterDefinitions()}

    def label(key):
        name = key.split("[")[0]
        return f"{labels.get(name, name)} ({key})"

    inputs = {k: os.path.realpath(v) for k, v in alg.input_files(parameters, context).items()}
    outputs = destination_paths(alg, parameters, context)
    seen = {}
    folders = {p.name() for p in alg.destinationParameterDefinitions()
               if isinstance(p, QgsProcessingParameterFolderDestination)}
    for name, path in outputs.items():
        real = os.path.realpath(path)
        for key, src in inputs.items():
            if real == src:
                raise InputError(f"{label(name)} {path} is the input {label(key)}: an output never overwrites "
                                 "an input; choose another output path")
        if real in seen:
            raise InputError(f"{label(name)} and {label(seen[real])} are the same file {path}; give each output "
                             "its own path")
        seen[real] = name
        if name in folders:
            continue
        if os.path.isdir(path):
            raise InputError(f"{label(name)} {path} is an existing folder; expected a file name (e.g. "
                             f"{os.path.join(path, 'output' + (os.path.splitext(path)[1] or '.tif'))})")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"the folder of {label(name)} does not exist: {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"the folder of {label(name)} cannot be written: {folder}")
