"""A run: the passports of a folder of outputs (or of a list of outputs), and a check of their files.

>>> run = load_run("demo-output")            # every <file>.passport.json under the folder
>>> [p.problem for p in run.problems]         # outputs/inputs moved, modified or missing since the run

A passport records the absolute path and SHA-256 of its output and of every input. :func:`check_run`
compares them with the files as they are now: a file whose checksum differs was modified after the
run; a file no longer at its recorded path was moved (its new place is named when a file of the run
has the same checksum) or deleted. Intermediate files of a graphical model that lived in QGIS's temporary
processing folder (``<temp>/processing_*``) and were removed with it are listed apart, as ``temporary``:
their passports live on in the lineage of the outputs made from them.
"""
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

from ..errors import InputError
from .passport import passport_path, sha256

SUFFIX = ".passport.json"


@dataclass
class Entry:
    """One output of the run: its passport and where its file and passport are now."""

    passport: dict
    passport_file: str
    file: str                      # the output as found now: the passport's path without the suffix

    @property
    def algorithm(self):
        return self.passport["algorithm"]

    @property
    def name(self):
        return os.path.basename(self.file)


@dataclass
class Problem:
    """A file of the run that is not as its passport says."""

    file: str                      # the path recorded in the passport
    role: str                      # "output" or "input <parameter> of <output name>"
    problem: str                   # "moved", "modified", "missing"
    detail: str = ""


@dataclass
class Run:
    entries: List[Entry]
    root: Optional[str] = None
    problems: List[Problem] = field(default_factory=list)
    temporary: List[Problem] = field(default_factory=list)   # removed intermediates of model runs

    def by_algorithm(self, *names):
        """Entries whose algorithm is one of ``names`` (``"remine:unmix"`` or ``"unmix"``)."""
        wanted = {n if n.startswith("remine:") else f"remine:{n}" for n in names}
        return [e for e in self.entries if e.algorithm in wanted]

    def relative(self, path):
        """``path`` relative to the run folder when it lies inside it, else as given."""
        if self.root and os.path.abspath(path).startswith(os.path.abspath(self.root) + os.sep):
            return os.path.relpath(path, self.root)
        return path


def load_run(source):
    """The passports of a run.

    Parameters
    ----------
    source : str or list of str
        A folder (searched recursively for ``*.passport.json``), or output files / passport files.

    Returns
    -------
    Run, with its entries sorted by the time each output was finished, and ``problems`` filled by
    :func:`check_run`.
    """
    if isinstance(source, str) and os.path.isdir(source):
        root, files = source, sorted(os.path.join(d, f) for d, _, names in os.walk(source)
                                     for f in names if f.endswith(SUFFIX))
        if not files:
            raise InputError(f"no passport (*{SUFFIX}) found under {source}; expected the output folder of a "
                             "remine run")
    else:
        items = [source] if isinstance(source, str) else list(source)
        if not items:
            raise InputError("no outputs given; expected a run folder or a list of output files")
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in items])
        files = [p if p.endswith(SUFFIX) else passport_path(p) for p in items]
        missing = [p for p in files if not os.path.isfile(p)]
        if missing:
            raise InputError(f"no passport for {', '.join(p[:-len(SUFFIX)] for p in missing)}; expected outputs "
                             f"of remine algorithms (each with its <output>{SUFFIX})")
    entries = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                passport = json.load(f)
        except ValueError as exc:
            raise InputError(f"{path} is not a valid passport (JSON error: {exc})") from None
        if not isinstance(passport, dict) or "output" not in passport or "algorithm" not in passport:
            raise InputError(f"{path} is not a remine passport (no 'algorithm' and 'output')")
        entries.append(Entry(passport, os.path.abspath(path), os.path.abspath(path[:-len(SUFFIX)])))
    entries.sort(key=lambda e: (e.passport.get("finished", ""), e.file))
    run = Run(entries, root)
    found = check_run(run)
    run.problems = [p for p in found if p.problem != "temporary"]
    run.temporary = [p for p in found if p.problem == "temporary"]
    return run


def check_run(run):
    """Compare every output and input of ``run`` with its recorded path and SHA-256; list of Problem."""
    digests = {}

    def digest(path):
        if path not in digests:
            digests[path] = sha256(path) if os.path.isfile(path) else None
        return digests[path]

    here = {}                                   # sha256 -> where a file of the run is now
    for e in run.entries:
        if digest(e.file):
            here.setdefault(digest(e.file), e.file)
    problems = []
    for e in run.entries:
        out = e.passport["output"]
        recorded = out["path"]
        if digest(e.file) is None:
            problems.append(Problem(recorded, "output", "missing", f"{e.file} no longer exists"))
        elif out.get("sha256") and digest(e.file) != out["sha256"]:
            problems.append(Problem(recorded, "output", "modified",
                                    f"{e.file}: SHA-256 {digest(e.file)[:12]}… differs from the passport's "
                                    f"{out['sha256'][:12]}…"))
        elif os.path.abspath(recorded) != e.file:
            problems.append(Problem(recorded, "output", "moved", f"now at {e.file}"))
        for item in e.passport.get("inputs", []):
            problems += _check_input(item, e, digest, here)
    return problems


def _check_input(item, entry, digest, here):
    role = f"input {item['parameter']} of {entry.name}"
    now = digest(item["path"])
    if now == item["sha256"]:
        return []
    if now is not None:
        return [Problem(item["path"], role, "modified",
                        f"SHA-256 {now[:12]}… differs from the passport's {item['sha256'][:12]}…")]
    if item["sha256"] in here:
        return [Problem(item["path"], role, "moved", f"now at {here[item['sha256']]}")]
    if is_temporary(item["path"]):
        return [Problem(item["path"], role, "temporary", "intermediate file of a model run, removed with QGIS's "
                                                         "temporary folder")]
    return [Problem(item["path"], role, "missing", "no file of the run has its SHA-256")]


def is_temporary(path):
    """Whether ``path`` lies in a QGIS processing temporary folder (``<system temp>/processing_*/...``)."""
    temp = os.path.abspath(tempfile.gettempdir())
    parts = os.path.relpath(os.path.abspath(path), temp).split(os.sep)
    return not parts[0].startswith("..") and parts[0].startswith("processing_")
