"""Training sets from fused spectra: VNIR–SWIR + FTIR (or any two instruments) of the same samples.

:func:`fused_training_set` joins the libraries sample by sample with :func:`remine.core.spectra.fuse`
(each source preprocessed its own way) and takes the class label or the numeric targets from the
first source's metadata. Each sample is its own group (one spectrum per sample and instrument), so
the trainers' grouped cross-validation holds out whole samples.
"""
import numpy as np

from ..errors import InputError
from ..progress import as_progress
from ..spectra import fuse
from ..spectra.preprocess import derivative, snv
from .dataset import TrainingSet

#: per-source preprocessing of :func:`fused_training_set`
FUSION_PREPROCESSING = ("none", "snv", "derivative")


def _step(name):
    if name == "snv":
        return lambda values, wl: snv(values)
    if name == "derivative":  # first derivative per nm after an 11-band Savitzky–Golay smoothing
        return lambda values, wl: derivative(values, wl, 1, window_length=11 if len(wl) >= 11 else None)
    return []


def fused_training_set(sources, label_field=None, target_fields=None, id_field=None, preprocess=None,
                       progress=None):
    """TrainingSet (X (n, f) fused features) from libraries of the same samples.

    Parameters
    ----------
    sources : dict name -> SpectralLibrary, e.g. ``{"vnir_swir": lib1, "ftir": lib2}`` (at least two)
    label_field : str, metadata field of the first source with class labels (classification), or
    target_fields : list of str, numeric metadata fields of the first source (regression)
    id_field : str, optional, metadata field holding the sample id in every source (default the names)
    preprocess : dict name -> one of :data:`FUSION_PREPROCESSING` (default "none")

    Returns
    -------
    TrainingSet with ``wavelengths_nm`` of the fused columns (NaN where not a band), groups = sample
    index, coords 0, metadata ``fusion`` (sources, feature origins, samples dropped).
    """
    progress = as_progress(progress)
    if bool(label_field) == bool(target_fields):
        raise InputError("give either a label field (classification) or target fields (regression) of the first "
                         f"library; got label field {label_field!r} and target fields {target_fields!r}")
    preprocess = dict(preprocess or {})
    bad = {k: v for k, v in preprocess.items() if v not in FUSION_PREPROCESSING}
    if bad:
        raise InputError(f"unknown preprocessing {bad}; expected one of {FUSION_PREPROCESSING}")
    fused = fuse(sources, {k: _step(v) for k, v in preprocess.items()}, id_field=id_field, progress=progress)
    first_name = next(iter(sources))
    first = sources[first_name]
    ids = first.names if id_field is None else first.metadata[id_field].astype(str).tolist()
    rows = [ids.index(i) for i in fused.sample_ids]
    meta = first.metadata.iloc[rows].reset_index(drop=True)
    fields = [label_field] if label_field else list(target_fields)
    missing = [f for f in fields if f not in meta.columns]
    if missing:
        raise InputError(f"the library '{first_name}' has no field(s) {', '.join(missing)}; its fields are "
                         f"{', '.join(map(str, meta.columns))}")
    if label_field:
        y = meta[label_field].astype(str).to_numpy()
        classes, names = sorted(set(y.tolist())), None
    else:
        import pandas as pd

        y = meta[fields].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(y).all():
            bad_ids = [fused.sample_ids[i] for i in np.flatnonzero(~np.isfinite(y).all(axis=1))[:10]]
            raise InputError(f"target fields {', '.join(fields)} are missing or not numeric for samples "
                             f"{', '.join(bad_ids)}")
        y = y[:, 0] if y.shape[1] == 1 else y
        classes, names = None, fields
    n = len(fused.sample_ids)
    origins, counts = np.unique(fused.origin, return_counts=True)
    metadata = {"fusion": {"sources": list(sources), "features": dict(zip(origins.tolist(), counts.tolist())),
                           "preprocessing": {k: preprocess.get(k, "none") for k in sources},
                           "dropped": fused.dropped, "feature_names": fused.feature_names},
                "sample_ids": list(fused.sample_ids)}
    return TrainingSet(X=fused.X.astype(np.float32), y=y, groups=np.arange(n), coords=np.zeros((n, 2)),
                       wavelengths_nm=fused.wavelengths_nm, target_names=names, classes=classes,
                       metadata=metadata)
