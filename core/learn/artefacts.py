"""Trained models and safe model files.

A :class:`TrainedModel` is a fitted estimator plus what is needed to apply it to a cube: the band
centres it was trained on (``wavelengths_nm``), the task, the class names or target names, the patch
size, and the cross-validation metrics.

``save_model(path, model)`` writes one ZIP file (``.rmodel``) holding

* ``manifest.json`` — format and version, wavelengths, classes / targets, preprocessing chain,
  estimator, CV metrics, training metadata, software versions;
* ``estimator.skops`` — the estimator serialised with skops (no pickle). XGBoost boosters are stored
  inside as XGBoost's JSON model text and torch networks as their ``state_dict`` arrays (see
  :mod:`.boosting` and :mod:`.cnn`).

``load_model(path)`` refuses pickle/joblib files, files written by a newer format version, and any
serialised type outside the trusted modules (scikit-learn, numpy, remine); it never unpickles.
"""
import contextlib
import datetime
import json
import os
import sys
import types
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from .. import __version__ as remine_version
from ..errors import InputError
from ..progress import as_progress
from ..raster import atomic_path, check_output_path
from .registry import make_estimator
from .validation import clean_training_set, fit_estimator

FORMAT = "remine.model"
FORMAT_VERSION = 1
MODEL_EXTENSIONS = (".rmodel", ".zip")
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "remine.core.learn.", "remine.core.spectra.")
PICKLE_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".sav", ".pt", ".pth")


@dataclass
class TrainedModel:
    """A fitted estimator with the metadata needed to map a cube.

    Attributes
    ----------
    estimator : fitted scikit-learn estimator (or Pipeline) taking (n, bands) or (n, bands, k, k).
    wavelengths_nm : (bands,) float64 band centres (nm) of the training spectra.
    task : "classification" | "regression".
    classes : list[str] (classification) or None.
    target_names : list[str] (regression) or None.
    patch_size : int, 1 for spectra, k for k x k patches (CNN2D).
    metrics : dict, cross-validation summary (``CVResult.to_dict()``) or {}.
    training : dict, training-set metadata (sources, sizes, dropped samples).
    manifest : dict, the manifest read from a file (empty for a model made in this session).
    """

    estimator: object
    wavelengths_nm: np.ndarray
    task: str
    classes: list = None
    target_names: list = None
    patch_size: int = 1
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)

    @property
    def is_classification(self):
        return self.task == "classification"


def fit_model(estimator, training_set, progress=None, **params):
    """Fit ``estimator`` (instance or registry name + ``params``) on all of ``training_set``.

    NaN samples are dropped (counted, RemineWarning); estimators whose ``fit`` takes ``groups``
    (stacking) get the ROI ids. Returns a :class:`TrainedModel`.
    """
    progress = as_progress(progress)
    classification = bool(training_set.is_classification)
    if isinstance(estimator, str):
        estimator = make_estimator(estimator, task="classification" if classification else "regression", **params)
    X, y, groups, _ = clean_training_set(training_set, progress)
    progress.report(0.0, f"fitting {type(estimator).__name__} on {len(X)} samples")
    estimator = fit_estimator(estimator, X, y, groups)
    progress.report(1.0, "fitted")
    training = {"n_samples": int(len(X)), "n_dropped_nan": int(len(training_set.X) - len(X)),
                "n_groups": int(len(np.unique(groups))), "metadata": dict(training_set.metadata or {})}
    return TrainedModel(estimator=estimator, wavelengths_nm=np.asarray(training_set.wavelengths_nm, dtype=float),
                        task="classification" if classification else "regression",
                        classes=[str(c) for c in np.unique(y)] if classification else None,
                        target_names=training_set.target_names, patch_size=int(training_set.patch_size),
                        training=training)


def describe_estimator(estimator):
    """Preprocessing chain and estimator as JSON-ready dicts (class path + parameters as text)."""
    steps = estimator.steps if hasattr(estimator, "steps") else [("estimator", estimator)]
    described = []
    for name, step in steps:
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        described.append({"name": name, "class": f"{type(step).__module__}.{type(step).__qualname__}",
                          "params": {k: _jsonable(v) for k, v in params.items()}})
    return described[:-1], described[-1]


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _versions():
    import platform

    import sklearn
    import skops

    versions = {"remine": remine_version, "python": platform.python_version(), "numpy": np.__version__,
                "scikit-learn": sklearn.__version__, "skops": skops.__version__}
    for mod in ("xgboost", "torch"):
        if mod in sys.modules:
            versions[mod] = sys.modules[mod].__version__
    return versions


def _skops_io():
    """``skops.io``, imported without importing PyTorch.

    Importing skops.io lists scikit-learn's estimators by importing every sklearn module, among them
    ``sklearn.externals.array_api_compat.torch``, which imports torch when it is installed (+180 MB of
    memory and 1-2 s on every qgis_process run that loads a model). remine hands scikit-learn numpy
    arrays only, so that one module is held by an empty placeholder during the import and released after
    it (a later import loads the real module). Without torch installed, or with it already imported,
    this is a plain import.
    """
    name = "sklearn.externals.array_api_compat.torch"
    if "skops.io" in sys.modules or "torch" in sys.modules or name in sys.modules:
        import skops.io

        return skops.io
    placeholder = sys.modules[name] = types.ModuleType(name)
    try:
        import skops.io
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
    return skops.io


def save_model(path, model, overwrite=True):
    """Write ``model`` (a :class:`TrainedModel`) to ``path`` (``.rmodel``), atomically.

    Returns ``path``. Raises InputError for a bad output path, or an existing file when
    ``overwrite`` is False.
    """
    sio = _skops_io()

    if not isinstance(model, TrainedModel):
        raise InputError(f"save_model expects a TrainedModel (see fit_model); got {type(model).__name__}")
    path = check_output_path(path, extensions=MODEL_EXTENSIONS)
    if not overwrite and os.path.exists(path):
        raise InputError(f"model file {path} exists; choose another name or allow overwriting")
    preprocessing, final = describe_estimator(model.estimator)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": model.task, "classes": model.classes, "target_names": model.target_names,
        "patch_size": int(model.patch_size),
        "wavelengths_nm": [float(v) for v in np.asarray(model.wavelengths_nm, dtype=float)],
        "preprocessing": preprocessing, "estimator": final,
        "serialisation": {"estimator": "estimator.skops (skops, no pickle); XGBoost boosters as XGBoost JSON; "
                                       "torch networks as state_dict arrays"},
        "metrics": _jsonable(model.metrics), "training": _jsonable(model.training), "versions": _versions(),
    }
    payload = sio.dumps(model.estimator)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("manifest.json", json.dumps(manifest, indent=2, allow_nan=True))
            z.writestr("estimator.skops", payload)
    return path


def read_manifest(path):
    """The manifest dict of a model file (checks: exists, not a pickle, remine format, version)."""
    if not os.path.isfile(str(path)):
        raise InputError(f"model file {path!r} does not exist")
    with open(path, "rb") as f:
        head = f.read(4)
    if str(path).lower().endswith(PICKLE_EXTENSIONS) or head[:1] == b"\x80":
        raise InputError(f"{path!r} looks like a pickle/joblib/torch file; remine refuses to load pickles because "
                         "loading one can run arbitrary code. Re-save the model with remine.core.learn.save_model "
                         "(skops + JSON manifest)")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path!r} is not a remine model file (expected a ZIP with manifest.json and "
                         "estimator.skops, written by save_model)")
    with _damaged_model(path), zipfile.ZipFile(path) as z:
        if "manifest.json" not in z.namelist():
            raise InputError(f"{path!r} has no manifest.json; it is not a remine model file")
        manifest = json.loads(z.read("manifest.json"))
    if manifest.get("format") != FORMAT:
        raise InputError(f"{path!r} has format {manifest.get('format')!r}; expected {FORMAT!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(f"{path!r} was written with model format version {version} (remine "
                         f"{manifest.get('versions', {}).get('remine', '?')}); this remine reads versions up to "
                         f"{FORMAT_VERSION}: upgrade remine")
    return manifest


@contextlib.contextmanager
def _damaged_model(path):
    """Turn the errors of reading a damaged model file (truncated, bytes changed: bad ZIP, CRC, deflate or JSON
    data, a member missing) into an InputError that says so."""
    try:
        yield
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, TypeError, AttributeError,
            OSError) as exc:
        raise InputError(f"model file {path!r} is damaged ({type(exc).__name__}: {exc}); expected a model file "
                         "written by remine: copy it again or train the model again") from None


def load_model(path):
    """Read a model written by :func:`save_model`; returns a :class:`TrainedModel`.

    Only types from scikit-learn, numpy and remine's learning/spectra modules are accepted; anything
    else (e.g. a function reference smuggled into a FunctionTransformer) raises InputError naming it.
    """
    manifest = read_manifest(path)  # refusals (pickle, not a model, newer format) come before the skops import
    sio = _skops_io()  # costly (skops imports every scikit-learn module): after the refusals

    with _damaged_model(path):
        with zipfile.ZipFile(path) as z:
            payload = z.read("estimator.skops")
        types = sio.get_untrusted_types(data=payload)
    untrusted = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
    if untrusted:
        raise InputError(f"{path!r} contains untrusted types {untrusted}; remine loads only scikit-learn, numpy "
                         "and remine types")
    with _damaged_model(path):
        estimator = sio.loads(payload, trusted=list(types))
    return TrainedModel(estimator=estimator, wavelengths_nm=np.asarray(manifest["wavelengths_nm"], dtype=float),
                        task=manifest["task"], classes=manifest.get("classes"),
                        target_names=manifest.get("target_names"), patch_size=int(manifest.get("patch_size", 1)),
                        metrics=manifest.get("metrics") or {}, training=manifest.get("training") or {},
                        manifest=manifest)
