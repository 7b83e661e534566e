"""Fusion of spectra of the same samples measured by different instruments (VNIR–SWIR, FTIR…)."""
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..progress import as_progress


@dataclass
class FusedFeatures:
    """One feature table from several spectral ranges.

    X : ndarray (n, f) float64; sample_ids : list[str] (n,); origin : ndarray (f,) str, the source of
    each column (e.g. "vnir_swir", "ftir"); wavelengths_nm : ndarray (f,) (NaN where a preprocessing
    step made features that are not bands); dropped : dict source -> ids present there only.
    """

    X: np.ndarray
    sample_ids: list
    origin: np.ndarray
    wavelengths_nm: np.ndarray
    dropped: dict = field(default_factory=dict)

    @property
    def feature_names(self):
        """``"<origin>:<wavelength> nm"`` (or ``"<origin>:f<k>"``) for each column."""
        names, counters = [], {}
        for o, w in zip(self.origin, self.wavelengths_nm):
            k = counters[o] = counters.get(o, -1) + 1
            names.append(f"{o}:{w:.1f} nm" if np.isfinite(w) else f"{o}:f{k}")
        return names

    def to_frame(self):
        """pandas DataFrame indexed by sample id, one column per feature name."""
        import pandas as pd

        return pd.DataFrame(self.X, index=pd.Index(self.sample_ids, name="sample_id"), columns=self.feature_names)


def _sample_ids(library, id_field, source):
    ids = library.names if id_field is None else library.metadata[id_field].astype(str).tolist() \
        if id_field in library.metadata.columns else None
    if ids is None:
        raise InputError(f"source '{source}' has no metadata field '{id_field}' to match samples by")
    seen, dup = set(), set()
    for i in ids:
        (dup if i in seen else seen).add(i)
    if dup:
        raise InputError(f"source '{source}' has duplicate sample ids {', '.join(sorted(dup)[:10])}; average "
                         "replicates first")
    return ids


def _apply(step, values, wavelengths_nm):
    """Run one preprocessing step: a scikit-learn transformer or a callable f(values, wavelengths_nm)."""
    if hasattr(step, "fit_transform"):
        out = step.fit_transform(values)
        wl = getattr(step, "wavelengths_out_", None)
    else:
        out, wl = step(values, wavelengths_nm), None
    out = np.asarray(out, dtype=float)
    if wl is None:
        wl = wavelengths_nm if out.shape[1] == len(wavelengths_nm) else np.full(out.shape[1], np.nan)
    return out, np.asarray(wl, dtype=float)


def fuse(sources, preprocess=None, id_field=None, progress=None):
    """Join spectra of the same samples from several sources into one feature table.

    Parameters
    ----------
    sources : dict name -> SpectralLibrary, e.g. ``{"vnir_swir": asd_lib, "ftir": ftir_lib}``.
    preprocess : dict name -> step or list of steps, optional; a step is a scikit-learn transformer
        (``fit_transform``) or a callable ``f(values (n, bands), wavelengths_nm) -> (n, k)``. Each source
        is preprocessed its own way before joining.
    id_field : str, optional, metadata column holding the sample id (default: the spectra names).

    Returns
    -------
    FusedFeatures with the samples present in every source (in the order of the first source);
    ids missing from some source are listed in ``dropped`` and reported through ``progress``.
    """
    progress = as_progress(progress)
    if not isinstance(sources, dict) or len(sources) < 2:
        raise InputError("fuse needs a dict of at least two named sources, e.g. {'vnir_swir': lib1, 'ftir': lib2}")
    preprocess = preprocess or {}
    unknown = set(preprocess) - set(sources)
    if unknown:
        raise InputError(f"preprocessing given for unknown source(s) {', '.join(sorted(unknown))}")
    ids = {name: _sample_ids(lib, id_field, name) for name, lib in sources.items()}
    first = next(iter(sources))
    common = [i for i in ids[first] if all(i in set(v) for v in ids.values())]
    if not common:
        raise InputError("no sample id is present in every source; check the ids ("
                         + "; ".join(f"{k}: {', '.join(v[:3])}…" for k, v in ids.items()) + ")")
    dropped = {name: sorted(set(v) - set(common)) for name, v in ids.items() if set(v) - set(common)}
    if dropped:
        progress.warn("samples not present in every source were dropped: "
                      + "; ".join(f"{k}: {', '.join(v)}" for k, v in dropped.items()))
    blocks, origins, wls = [], [], []
    for name, lib in sources.items():
        index = {sid: k for k, sid in enumerate(ids[name])}
        values, wl = lib.values[[index[i] for i in common]], lib.wavelengths_nm
        steps = preprocess.get(name, [])
        for step in steps if isinstance(steps, (list, tuple)) else [steps]:
            values, wl = _apply(step, values, wl)
        blocks.append(values)
        origins += [name] * values.shape[1]
        wls.append(wl)
    return FusedFeatures(np.hstack(blocks), common, np.array(origins), np.concatenate(wls), dropped)
