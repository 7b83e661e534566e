"""Covariates of the hybrid model and of KED: encoding (one-hot, standardisation) and sampling from rasters.

:class:`CovariateEncoder` learns from the training samples only: the categories of categorical columns
(one-hot encoded; a category unseen in training gets all zeros) and the mean and standard deviation of
continuous columns. :func:`raster_covariates` samples single- or multi-band rasters at points, one column per
band, and says which points fall outside or on nodata.
"""
import numpy as np

from ..errors import InputError


def _columns(covariates, n):
    """``covariates`` as a list of (name, 1-D array) columns of length n."""
    if hasattr(covariates, "columns"):  # pandas DataFrame
        return [(str(c), covariates[c].to_numpy()) for c in covariates.columns]
    a = np.asarray(covariates)
    a = a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1)
    if len(a) != n:
        raise InputError(f"covariates have {len(a)} rows for {n} points; expected one row per point")
    return [(f"covariate {j + 1}", a[:, j]) for j in range(a.shape[1])]


class CovariateEncoder:
    """One-hot + standardisation of covariates, fitted on training rows.

    Parameters
    ----------
    categorical : list of int | str, optional
        Columns (0-based positions or DataFrame names) to one-hot encode; DataFrame columns that are not
        numeric are categorical anyway.
    drop_first : bool
        Leave out the first category of each categorical column (for a regression with an intercept, e.g.
        external drift kriging).
    """

    def __init__(self, categorical=None, drop_first=False):
        self.categorical = categorical
        self.drop_first = drop_first

    def fit(self, covariates, n):
        cols = _columns(covariates, n)
        wanted = set(self.categorical or [])
        self.columns_ = []
        for j, (name, col) in enumerate(cols):
            is_cat = j in wanted or name in wanted or not np.issubdtype(np.asarray(col).dtype, np.number)
            if is_cat:
                keep = _valid(col)
                cats = np.unique(np.asarray(col[keep]).astype(str))
                self.columns_.append((name, "categorical", cats[1:] if self.drop_first else cats))
            else:
                col = np.asarray(col, float)
                ok = col[np.isfinite(col)]
                mean, std = (float(ok.mean()), float(ok.std())) if len(ok) else (0.0, 1.0)
                self.columns_.append((name, "continuous", (mean, std if std > 0 else 1.0)))
        self.n_input_ = len(cols)
        return self

    @property
    def feature_names_(self):
        names = []
        for name, kind, info in self.columns_:
            names += [f"{name}={c}" for c in info] if kind == "categorical" else [name]
        return names

    def transform(self, covariates, n):
        """(n, q) float64; rows with a missing covariate are NaN throughout."""
        cols = _columns(covariates, n)
        if len(cols) != self.n_input_:
            raise InputError(f"{len(cols)} covariates given; the model was fitted with {self.n_input_}")
        out, bad = [], np.zeros(n, bool)
        for (_name, kind, info), (_, col) in zip(self.columns_, cols):
            if kind == "categorical":
                bad |= ~_valid(col)
                labels = np.asarray(col).astype(str)
                out.append((labels[:, None] == np.asarray(info)[None, :]).astype(float))
            else:
                col = np.asarray(col, float)
                bad |= ~np.isfinite(col)
                out.append(((col - info[0]) / info[1])[:, None])
        x = np.concatenate(out, axis=1) if out else np.zeros((n, 0))
        x[bad] = np.nan
        return x

    def fit_transform(self, covariates, n):
        return self.fit(covariates, n).transform(covariates, n)


def _valid(col):
    col = np.asarray(col)
    if np.issubdtype(col.dtype, np.number):
        return np.isfinite(col.astype(float))
    return np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in col], bool)


def check_complete(x, what, ids=None):
    """InputError when rows of ``x`` (n, q) have NaN: names how many and which (ids or 0-based rows)."""
    bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
    if len(bad):
        names = [str(ids[i]) for i in bad[:10]] if ids is not None else [str(i) for i in bad[:10]]
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise InputError(f"{len(bad)} of {len(x)} {what} have no covariate value (outside the covariate rasters "
                         f"or on nodata): {', '.join(names)}{more}; expected covariates that cover every {what[:-1]}")


def raster_covariates(paths, coords):
    """Every band of every raster in ``paths`` at ``coords`` (n, 2+): (n, total bands) float64, NaN outside or
    on nodata, and the column names (``file:band``), plus the indices of categorical columns: single-band
    integer rasters with a colour table or category names (class maps), to be one-hot encoded."""
    import os

    import rasterio
    from rasterio.transform import rowcol

    cols, names, categorical = [], [], []
    for path in paths:
        with rasterio.open(path) as src:
            rows, cc = (np.asarray(a) for a in rowcol(src.transform, coords[:, 0], coords[:, 1]))
            inside = (rows >= 0) & (rows < src.height) & (cc >= 0) & (cc < src.width)
            vals = np.full((len(coords), src.count), np.nan)
            if inside.any():
                got = np.ma.stack(list(src.sample(coords[inside, :2], masked=True)))
                vals[inside] = np.ma.filled(got.astype(float), np.nan)
            if src.count == 1 and np.issubdtype(np.dtype(src.dtypes[0]), np.integer) and _is_class_map(src):
                categorical.append(len(names))
            base = os.path.splitext(os.path.basename(path))[0]
            for b in range(src.count):
                desc = src.descriptions[b] if src.descriptions and src.descriptions[b] else f"band {b + 1}"
                names.append(f"{base}:{desc}")
            cols.append(vals)
    return (np.concatenate(cols, axis=1) if cols else np.zeros((len(coords), 0))), names, categorical


def _is_class_map(src):
    try:
        src.colormap(1)
        return True
    except ValueError:
        return bool(src.tags(1).get("class_names"))
