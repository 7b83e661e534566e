"""Training sets: pixels (or k×k patches) under ROI polygons, with class labels or lab targets.

``build_training_set(cube, rois, label_field="mineral")`` gives a classification set;
``build_training_set(cube, rois, target_fields=["xrd_kaolinite"])`` or with ``lab_table=`` (XRD %,
XRF ppm joined by ROI id) a regression set. ``TrainingSet.save`` writes HDF5 (h5py), atomically.
"""
import json
import os
from dataclasses import dataclass, field, replace

import numpy as np

from ..dependencies import require
from ..errors import InputError
from ..progress import as_progress
from ..raster import atomic_path, check_output_path, raster_info
from ..spectra.preprocess import brightness_normalise, snv
from ..spectra.rois import id_text, read_roi_pixels, read_rois

FORMAT = "remine.TrainingSet"
FORMAT_VERSION = 1


@dataclass
class TrainingSet:
    """Samples for supervised learning.

    Attributes
    ----------
    X : ndarray float32, (n, bands) pixel spectra or (n, bands, k, k) patches centred on the pixel.
    y : ndarray (n,) str class labels, or float targets (n,) / (n, t).
    groups : ndarray (n,) int, ROI id of each sample (use for grouped cross-validation).
    coords : ndarray (n, 2) float64, map x/y of the pixel centres (in ``crs``).
    wavelengths_nm : ndarray (bands,) float64 band centres in nm (NaN where unknown).
    target_names : list[str] or None, names of the regression targets (columns of y).
    classes : list[str] or None, sorted class names (classification only).
    crs : str, WKT of the coordinates' CRS ("" if unknown).
    metadata : dict, JSON-serialisable (sources, fields, patch size, seed, ROI id labels...).
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    coords: np.ndarray
    wavelengths_nm: np.ndarray
    target_names: list = None
    classes: list = None
    crs: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.X)
        for name in ("y", "groups", "coords"):
            if len(getattr(self, name)) != n:
                raise InputError(f"TrainingSet.{name} has {len(getattr(self, name))} rows; X has {n}")
        if self.X.ndim not in (2, 4) or self.X.shape[1] != len(self.wavelengths_nm):
            raise InputError(f"TrainingSet.X must be (n, bands) or (n, bands, k, k) with bands = "
                             f"{len(self.wavelengths_nm)} wavelengths; got shape {self.X.shape}")

    @property
    def is_classification(self):
        """True when ``y`` holds class labels (text), False for numeric targets."""
        return self.y.dtype.kind in "USO"

    @property
    def n_samples(self):
        return len(self.X)

    @property
    def patch_size(self):
        return 1 if self.X.ndim == 2 else self.X.shape[-1]

    def summary(self):
        """Class balance (class, n_pixels, n_rois, fraction) or target statistics
        (target, n_pixels, n_rois, mean, std, min, max) as a pandas DataFrame."""
        import pandas as pd

        if self.is_classification:
            rows = []
            for cls in (self.classes or sorted(set(self.y))):
                sel = self.y == cls
                rows.append({"class": cls, "n_pixels": int(sel.sum()), "n_rois": len(np.unique(self.groups[sel])),
                             "fraction": float(sel.mean()) if len(sel) else 0.0})
            return pd.DataFrame(rows, columns=["class", "n_pixels", "n_rois", "fraction"])
        y2 = self.y.reshape(len(self.y), -1)
        names = self.target_names or [f"target_{j}" for j in range(y2.shape[1])]
        rows = []
        for j, name in enumerate(names):
            v = y2[:, j]
            rows.append({"target": name, "n_pixels": len(v), "n_rois": len(np.unique(self.groups)),
                         "mean": float(np.mean(v)), "std": float(np.std(v)),
                         "min": float(np.min(v)), "max": float(np.max(v))})
        return pd.DataFrame(rows, columns=["target", "n_pixels", "n_rois", "mean", "std", "min", "max"])

    def normalised(self, method="snv"):
        """A copy with every spectrum normalised: ``"snv"`` (standard normal variate), ``"brightness"``
        (divided by its L2 norm) or ``"standard"`` (each band to zero mean, unit variance over the set;
        the band means/stds are kept in ``metadata["normalisation"]`` to apply to new data).
        Patches are normalised per pixel spectrum (band axis 1)."""
        x = np.moveaxis(self.X, 1, -1)  # (..., bands)
        flat = x.reshape(-1, x.shape[-1])
        info = {"method": method}
        if method == "snv":
            out = snv(flat)
        elif method == "brightness":
            out = brightness_normalise(flat)
        elif method == "standard":
            mean, std = flat.mean(axis=0, dtype=np.float64), flat.std(axis=0, dtype=np.float64)
            std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1e-12), std, 1.0)  # constant band: centre only
            out = (flat - mean) / std
            info.update(mean=mean.tolist(), std=std.tolist())
        else:
            raise InputError(f"normalisation method must be 'snv', 'brightness' or 'standard'; got {method!r}")
        X = np.moveaxis(out.reshape(x.shape), -1, 1).astype(np.float32)
        return replace(self, X=np.ascontiguousarray(X), metadata=dict(self.metadata, normalisation=info))

    def write_summary(self, path):
        """Write :meth:`summary` as CSV, atomically. Returns ``path``."""
        check_output_path(path, extensions=(".csv",))
        with atomic_path(path) as tmp:
            self.summary().to_csv(tmp, index=False)
        return path

    def augment(self, n_copies=1, brightness=0.1, noise=0.005, shift_nm=2.0, mix=0.05, seed=0):
        """Original samples plus ``n_copies`` perturbed copies of each, reproducible with ``seed``.

        Each copy: spectrum mixed with a random sample of another class (ROI for regression) at a
        fraction drawn in [0, ``mix``] (regression targets mixed by the same fraction), shifted by a
        wavelength offset drawn in ±``shift_nm`` nm (linear interpolation, edge values held), scaled by
        a brightness factor in 1 ± ``brightness``, plus Gaussian noise of standard deviation ``noise``
        (reflectance units). Copies keep the groups and coords of their source sample, so grouped
        cross-validation stays honest. ``metadata["augmented"]`` records the settings.
        """
        rng = np.random.default_rng(seed)
        n = self.n_samples
        xs, ys = [self.X], [self.y]
        for _ in range(int(n_copies)):
            x = self.X.astype(np.float32, copy=True)
            y = self.y.copy()
            if mix > 0 and n > 1:
                x, y = self._mix(x, y, rng, mix)
            if shift_nm > 0:
                x = _shift_wavelengths(x, self.wavelengths_nm, rng.uniform(-shift_nm, shift_nm, n))
            scale = rng.uniform(1 - brightness, 1 + brightness, n).astype(np.float32)
            x = x * scale.reshape((n,) + (1,) * (x.ndim - 1))
            if noise > 0:
                x = x + rng.normal(0.0, noise, x.shape).astype(np.float32)
            xs.append(x.astype(np.float32))
            ys.append(y)
        reps = int(n_copies) + 1
        meta = dict(self.metadata, augmented={"n_copies": int(n_copies), "brightness": brightness, "noise": noise,
                                              "shift_nm": shift_nm, "mix": mix, "seed": seed, "n_original": n})
        return replace(self, X=np.concatenate(xs), y=np.concatenate(ys), groups=np.tile(self.groups, reps),
                       coords=np.tile(self.coords, (reps, 1)), metadata=meta)

    def _mix(self, x, y, rng, mix):
        """Mix each sample with a random partner of another class (classification) or ROI (regression)."""
        key = self.y if self.is_classification else self.groups
        partner = rng.integers(0, len(x), len(x))
        same = key[partner] == key
        for _ in range(10):  # redraw partners that share the key; few rounds suffice
            if not same.any():
                break
            partner[same] = rng.integers(0, len(x), int(same.sum()))
            same = key[partner] == key
        f = rng.uniform(0, mix, len(x)).astype(np.float32)
        f[same] = 0.0  # only one class/ROI: nothing to mix with
        fx = f.reshape((len(x),) + (1,) * (x.ndim - 1))
        x = (1 - fx) * x + fx * x[partner]
        if not self.is_classification:
            fy = f.reshape((len(y),) + (1,) * (y.ndim - 1))
            y = (1 - fy) * y + fy * y[partner]
        return x, y

    def save(self, path):
        """Write the set to HDF5 (``.h5``), atomically. Returns ``path``."""
        import h5py

        check_output_path(path, extensions=(".h5", ".hdf5"))
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.create_dataset("X", data=self.X, compression="gzip", compression_opts=4, shuffle=True)
                if self.is_classification:
                    f.create_dataset("y", data=np.asarray(self.y, dtype=object), dtype=h5py.string_dtype())
                else:
                    f.create_dataset("y", data=np.asarray(self.y, dtype=np.float64))
                f.create_dataset("groups", data=np.asarray(self.groups, dtype=np.int64))
                f.create_dataset("coords", data=np.asarray(self.coords, dtype=np.float64))
                f.create_dataset("wavelengths_nm", data=np.asarray(self.wavelengths_nm, dtype=np.float64))
                f.attrs["target_names"] = json.dumps(self.target_names)
                f.attrs["classes"] = json.dumps(self.classes)
                f.attrs["crs"] = self.crs or ""
                f.attrs["metadata"] = json.dumps(self.metadata, default=_json_default)
        return path

    @classmethod
    def load(cls, path):
        """Read a set written by :meth:`save`."""
        import h5py

        if not os.path.isfile(path):
            raise InputError(f"training set file {path!r} does not exist")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path!r} is not an HDF5 file ({exc}); expected a remine training set (.h5)") from exc
        with f:
            if f.attrs.get("format") != FORMAT:
                raise InputError(f"{path!r} is not a remine training set (format attribute "
                                 f"{f.attrs.get('format')!r}, expected {FORMAT!r})")
            y = f["y"]
            y = np.array(y.asstr()[()], dtype=str) if h5py.check_string_dtype(y.dtype) else y[()]
            return cls(X=f["X"][()], y=y, groups=f["groups"][()], coords=f["coords"][()],
                       wavelengths_nm=f["wavelengths_nm"][()], target_names=json.loads(f.attrs["target_names"]),
                       classes=json.loads(f.attrs["classes"]), crs=str(f.attrs["crs"]),
                       metadata=json.loads(f.attrs["metadata"]))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _shift_wavelengths(x, wavelengths_nm, shifts_nm):
    """Resample each sample i at ``wavelengths_nm + shifts_nm[i]`` (linear, edges held); band axis 1."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    if not np.all(np.isfinite(wl)) or len(wl) < 2:
        return x
    q = np.clip(wl[None, :] + shifts_nm[:, None], wl[0], wl[-1])  # (n, bands)
    hi = np.clip(np.searchsorted(wl, q), 1, len(wl) - 1)
    lo = hi - 1
    w = ((q - wl[lo]) / (wl[hi] - wl[lo])).astype(np.float32)
    extra = (1,) * (x.ndim - 2)
    take = lambda idx: np.take_along_axis(x, idx.reshape(idx.shape + extra), axis=1)  # noqa: E731
    w = w.reshape(w.shape + extra)
    return take(lo) * (1 - w) + take(hi) * w


def build_training_set(cube_path, rois_path, label_field=None, id_field="roi_id", lab_table=None,
                       target_fields=None, patch_size=1, max_pixels_per_roi=None, seed=0, progress=None):
    """Pixels (or k×k patches) of ``cube_path`` under the ROI polygons of ``rois_path``.

    Parameters
    ----------
    cube_path : str, GeoTIFF/ENVI cube (bands, rows, cols) with wavelengths.
    rois_path : str or GeoDataFrame, polygons; reprojected to the cube CRS (with a warning) if needed.
    label_field : str, field of the ROI layer holding class labels -> classification set.
    id_field : str, ROI id field (groups; join key with ``lab_table``).
    lab_table : str (CSV, GeoPackage, Shapefile, XLSX) or pandas DataFrame with ``id_field`` and lab
        values (XRD mineral %, XRF element ppm). Ids that match no ROI raise :class:`InputError`.
    target_fields : list[str], numeric targets (in ``lab_table`` if given, else in the ROI layer);
        with a lab table and no ``target_fields``, every numeric column except the id is a target.
    patch_size : odd int, 1 for pixel spectra, k for k×k patches.
    max_pixels_per_roi : int, random subset per ROI (seeded).
    seed : int, random seed.
    progress : Progress or None.

    Returns
    -------
    TrainingSet with X float32 (n, bands[, k, k]); y str labels (n,) or float targets (n,) / (n, t).
    ROIs whose label or any target is missing are dropped with a warning.
    """
    progress = as_progress(progress)
    if label_field is None and target_fields is None and lab_table is None:
        raise InputError("give label_field (class labels) or target_fields / lab_table (lab values); got neither")
    if label_field is not None and (target_fields is not None or lab_table is not None):
        raise InputError("label_field (classification) and target_fields/lab_table (regression) are exclusive; "
                         "build two training sets")
    info = raster_info(cube_path)
    layer = read_rois(rois_path, info.crs, id_field=id_field, progress=progress)
    if label_field is not None:
        _require_fields(layer.frame, [label_field], "ROI layer")
        y_roi = _roi_labels(layer, label_field, progress)
        target_names = None
    else:
        y_roi, target_names = _roi_targets(layer, lab_table, target_fields, id_field, progress)
    keep = np.array([v is not None for v in y_roi])
    xs, ys, groups, coords = [], [], [], []
    found = read_roi_pixels(cube_path, layer, patch_size, max_pixels_per_roi, seed, progress.sub(0.0, 0.95))
    for i, pixels in enumerate(found):
        if not keep[i]:
            continue
        xs.append(pixels.values)
        coords.append(pixels.coords)
        groups.append(np.full(len(pixels.values), layer.ids[i], dtype=np.int64))
        ys.append([y_roi[i]] * len(pixels.values))
    if not xs:
        raise InputError("no ROI has both pixels and a label/target; check the label and target fields")
    wavelengths = info.wavelengths_nm if info.wavelengths_nm is not None else np.full(info.count, np.nan)
    if label_field is not None:
        y = np.array([v for part in ys for v in part], dtype=str)
        classes = sorted(set(y.tolist()))
    else:
        y = np.array([v for part in ys for v in part], dtype=np.float64)
        y = y[:, 0] if y.shape[1] == 1 else y
        classes = None
    meta = {"cube_path": os.path.abspath(cube_path) if isinstance(cube_path, str) else str(cube_path),
            "rois_path": os.path.abspath(rois_path) if isinstance(rois_path, str) else "<GeoDataFrame>",
            "label_field": label_field, "id_field": id_field, "target_fields": target_names,
            "lab_table": lab_table if isinstance(lab_table, str) else (None if lab_table is None else "<DataFrame>"),
            "patch_size": int(patch_size), "max_pixels_per_roi": max_pixels_per_roi, "seed": seed,
            "roi_id_labels": {str(i): lab for i, lab in zip(layer.ids, layer.id_labels)},  # JSON keys are text
            "band_names": list(info.band_names or []),
            "fwhm_nm": None if info.fwhm_nm is None else [float(v) for v in info.fwhm_nm]}
    progress.report(1.0, f"{len(y)} samples from {len(np.unique(np.concatenate(groups)))} ROIs")
    return TrainingSet(X=np.concatenate(xs), y=y, groups=np.concatenate(groups), coords=np.concatenate(coords),
                       wavelengths_nm=np.asarray(wavelengths, dtype=np.float64), target_names=target_names,
                       classes=classes, crs=info.crs.to_wkt() if info.crs else "", metadata=meta)


def _require_fields(frame, fields, what):
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise InputError(f"{what} has no field(s) {', '.join(missing)}; available: "
                         f"{', '.join(c for c in frame.columns if c != 'geometry')}")


def _roi_labels(layer, label_field, progress):
    labels = []
    missing = []
    for lab, value in zip(layer.id_labels, layer.frame[label_field]):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            missing.append(lab)
            labels.append(None)
        else:
            labels.append(str(value))
    if missing:
        progress.warn(f"ROIs without a '{label_field}' value dropped: {', '.join(missing)}")
    return labels


def _roi_targets(layer, lab_table, target_fields, id_field, progress):
    """Per-ROI target vectors (list of float lists, None where missing) and the target names."""
    import pandas as pd

    if lab_table is None:
        table, key = layer.frame, None
    else:
        table = _read_table(lab_table)
        _require_fields(table, [id_field], "lab table")
        key = [id_text(v) for v in table[id_field]]
        unknown = sorted(set(key) - set(layer.id_labels))
        if unknown:
            raise InputError(f"lab table ids that match no ROI '{id_field}': {', '.join(unknown)}; "
                             f"ROI ids are {', '.join(sorted(set(layer.id_labels)))}")
    if target_fields is None:
        target_fields = [c for c in table.columns if c not in (id_field, "geometry")
                         and pd.api.types.is_numeric_dtype(table[c])]
        if not target_fields:
            raise InputError(f"lab table has no numeric column besides '{id_field}'; give target_fields")
    target_fields = [target_fields] if isinstance(target_fields, str) else list(target_fields)
    _require_fields(table, target_fields, "lab table" if lab_table is not None else "ROI layer")
    values = table[target_fields].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if key is None:
        per_roi = list(values)
    else:
        lookup = {}
        for k, row in zip(key, values):
            lookup.setdefault(k, []).append(row)
        per_roi = [np.mean(lookup[lab], axis=0) if lab in lookup else None for lab in layer.id_labels]
    out, missing = [], []
    for lab, row in zip(layer.id_labels, per_roi):
        if row is None or not np.all(np.isfinite(row)):
            missing.append(lab)
            out.append(None)
        else:
            out.append([float(v) for v in row])
    if missing:
        progress.warn(f"ROIs without all targets ({', '.join(target_fields)}) dropped: {', '.join(missing)}")
    return out, target_fields


def _read_table(table):
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    if not os.path.isfile(str(table)):
        raise InputError(f"lab table {table!r} does not exist")
    ext = os.path.splitext(str(table))[1].lower()
    try:
        if ext in (".csv", ".txt"):
            return pd.read_csv(table)
        if ext in (".xlsx", ".xls"):
            require("openpyxl")  # DependencyError naming the install command if missing
            return pd.read_excel(table)
        import geopandas as gpd

        return pd.DataFrame(gpd.read_file(table).drop(columns="geometry", errors="ignore"))
    except (InputError, ImportError):
        raise
    except Exception as exc:
        raise InputError(f"cannot read lab table {table!r}: {exc}") from exc
