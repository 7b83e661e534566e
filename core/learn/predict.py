"""Apply a trained model to a cube, block by block: class/regression maps, probabilities, uncertainty.

Outputs (GeoTIFF, on the cube's grid):

* classification: ``out_path`` uint8 class codes 1..K (0 = no data) with a colour table and the
  class names as GDAL category names; probabilities: K float32 bands named after the classes;
  uncertainty: ``entropy`` (Shannon entropy of the probabilities divided by ln K, 0 = certain,
  1 = uniform), ``margin`` (highest minus second-highest probability) and, for networks,
  ``mc_dropout_std`` (Monte-Carlo dropout std of the winning class probability);
* regression: ``out_path`` float32, one band per target; uncertainty: ``spread`` — the standard
  deviation across ensemble members (forests: trees; stacking: members) or the MC-dropout std
  (CNNs) of the first target — then, for models trained by :func:`remine.core.learn.train.train`,
  ``lower_<target>`` / ``upper_<target>``: split-conformal intervals, prediction -/+ the quantile of
  the absolute out-of-fold residuals of the model's spatial cross-validation (held-out ROIs or
  blocks) at the model's level (0.9). They assume the map's pixels err like the held-out samples
  (exchangeable residuals, one width everywhere); they cover the level on average over pixels like
  the training ROIs, not pixel by pixel. Targets whose training values are all >= 0 (concentrations,
  %) are non-negative: predictions and lower bounds below 0 are set to 0, counted per pixel in the
  band ``n_clipped`` and announced with a RemineWarning.

The model's wavelengths are checked against the cube's: equal grids are used as they are; a cube on
another grid covering the model's range is linearly resampled to the model's band centres (with a
RemineWarning); model bands the cube cannot supply are an InputError.
"""
import functools
import os
import tempfile
import warnings

import numpy as np

from ..blocks import DEFAULT_MAX_BYTES, BlockOutput, io_bytes_per_pixel, map_blocks, pixel_table, with_work_bytes
from ..errors import InputError, RemineWarning
from ..progress import as_progress
from ..raster import band_statistics, check_output_path, raster_info, read_window
from ..raster.style import MAGMA, class_table, write_data_style, write_share_style
from ..spectra.resample import resampling_matrix
from ..spectra.rois import pad_nan, pixel_patches
from .artefacts import TrainedModel, load_model
from .probabilities import class_probabilities

_MISSING_FACTOR = 1.5  # a model band is missing when no cube band lies within 1.5 median spacings


def model_band_matrix(model_wl, cube_wl, cube_name="the cube"):
    """Matrix W (cube_bands, model_bands) so that ``pixels @ W`` gives the model's bands, or None.

    None means the cube is used as it is (same grid within 0.5 nm, or unknown wavelengths with the
    same band count). Raises InputError when model bands lie outside the cube's coverage.
    """
    model_wl = np.asarray(model_wl, dtype=float)
    n_model = len(model_wl)
    unknown = cube_wl is None or not np.all(np.isfinite(model_wl)) or not np.all(np.isfinite(cube_wl))
    if unknown:
        n_cube = n_model if cube_wl is None else len(cube_wl)
        if n_cube != n_model:
            raise InputError(f"{cube_name} has {n_cube} bands and the model {n_model}, and wavelengths are "
                             "missing on one side; give the cube wavelengths or use the training cube's bands")
        warnings.warn(f"wavelengths unknown for {cube_name} or the model; assuming its {n_cube} bands are the "
                      "model's bands", RemineWarning, stacklevel=3)
        return None
    cube_wl = np.asarray(cube_wl, dtype=float)
    if len(cube_wl) == n_model and np.allclose(cube_wl, model_wl, atol=0.5):
        return None
    spacing = float(np.median(np.diff(cube_wl))) if len(cube_wl) > 1 else 1.0
    nearest = np.min(np.abs(model_wl[:, None] - cube_wl[None, :]), axis=1)
    missing = model_wl[nearest > _MISSING_FACTOR * spacing]
    if missing.size:
        raise InputError(f"the model needs {missing.size} bands ({missing.min():.1f}-{missing.max():.1f} nm) that "
                         f"{cube_name} ({cube_wl.min():.1f}-{cube_wl.max():.1f} nm, {len(cube_wl)} bands) does "
                         "not cover; use a cube with the model's bands or retrain on this cube's bands")
    warnings.warn(f"{cube_name} has {len(cube_wl)} bands on another wavelength grid than the model "
                  f"({n_model} bands); resampling it linearly to the model's band centres", RemineWarning,
                  stacklevel=3)
    return np.asarray(resampling_matrix(cube_wl, np.clip(model_wl, cube_wl[0], cube_wl[-1])).todense())


def _final_step(estimator):
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _through_pipeline(estimator, X):
    """X transformed by all steps but the last (identity for a plain estimator)."""
    for _, step in getattr(estimator, "steps", [])[:-1]:
        X = step.transform(X)
    return X


def _is_regression_ensemble(final):
    """Forests, bagging and other scikit-learn ensembles of regressors (members in ``estimators_``)."""
    from sklearn.base import is_regressor
    from sklearn.ensemble import BaseEnsemble

    return isinstance(final, BaseEnsemble) and is_regressor(final)


def prediction_spread(estimator, X):
    """(n,) member spread / MC-dropout std of a fitted estimator, or None if it has no such measure."""
    final = _final_step(estimator)
    if hasattr(final, "predict_std"):
        return np.asarray(final.predict_std(_through_pipeline(estimator, X)), dtype=float)
    if _is_regression_ensemble(final):
        Xt = _through_pipeline(estimator, X)
        preds = np.stack([np.asarray(m.predict(Xt), dtype=float).reshape(len(Xt), -1)[:, 0]
                          for m in final.estimators_])
        return preds.std(axis=0)
    return None


def uncertainty_bands(estimator, task):
    """Names of the uncertainty bands ``predict_raster`` writes for this estimator ([] if none)."""
    final = _final_step(estimator)
    if task == "classification":
        if not hasattr(estimator, "predict_proba"):
            return []
        return ["entropy", "margin"] + (["mc_dropout_std"] if hasattr(final, "predict_std") else [])
    return ["spread"] if hasattr(final, "predict_std") or _is_regression_ensemble(final) else []


def regression_limits(model):
    """``(halfwidth (t,) or None, nonnegative (t,) bool)`` of a regression model from its training
    metrics (see :func:`remine.core.learn.train.train`); models without them: (None, all False)."""
    names = list(model.target_names or ["prediction"])
    intervals = (model.metrics or {}).get("intervals") or {}
    width = intervals.get("halfwidth") or {}
    nonneg = (model.metrics or {}).get("nonnegative") or {}
    half = np.array([float(width[t]) for t in names]) if all(t in width for t in names) else None
    return half, np.array([bool(nonneg.get(t, False)) for t in names])


def regression_uncertainty_bands(model):
    """Uncertainty band names of a regression model: ``spread`` (ensembles), ``lower_/upper_<target>``
    (conformal intervals), ``n_clipped`` (non-negative targets)."""
    names = list(model.target_names or ["prediction"])
    half, nonneg = regression_limits(model)
    bands = uncertainty_bands(model.estimator, "regression")
    if half is not None:
        bands = bands + [f"lower_{t}" for t in names] + [f"upper_{t}" for t in names]
    return bands + (["n_clipped"] if nonneg.any() else [])


def _patch_table(cube_info, window, k, resample):
    """(n, bands, k, k) patches of every pixel of ``window`` (neighbours off-raster take the centre)."""
    from rasterio.windows import Window

    h = k // 2
    r0, c0 = int(window.row_off), int(window.col_off)
    r1, c1 = r0 + int(window.height), c0 + int(window.width)
    rr0, cc0 = max(r0 - h, 0), max(c0 - h, 0)
    rr1, cc1 = min(r1 + h, cube_info.height), min(c1 + h, cube_info.width)
    data = read_window(cube_info, Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
    data = pad_nan(data, (rr0 - (r0 - h), (r1 + h) - rr1, cc0 - (c0 - h), (c1 + h) - cc1))
    if resample is not None:
        data = np.einsum("bm,brc->mrc", resample, data).astype(np.float32)
    rows, cols = np.mgrid[0:int(window.height), 0:int(window.width)]
    return pixel_patches(data, rows.ravel(), cols.ravel(), k)


def predict_block(arrays, info, estimator, task, classes, resample, products, patch=None, proba_classes=None,
                  limits=None):
    """Block function of :func:`predict_raster` (pure; picklable through functools.partial).

    ``arrays[0]``: cube block (bands, rows, cols); ``info``: its BlockInfo (``info.table`` and ``info.valid``,
    the pixel table and finite mask built while reading, are used when given). ``classes``: class names, or
    target names for regression (None: one target). ``products``: tuple of "main", "proba", "uncertainty".
    ``patch``: (RasterInfo, k) for patch models. ``proba_classes``: classes whose probability bands are
    written (None: all). ``limits``: regression ``(halfwidth (t,) or None, nonnegative (t,))`` of
    :func:`regression_limits`. Returns one array per product.
    """
    cube = arrays[0]
    rows, cols = cube.shape[1:]
    if patch is not None:
        X_all = _patch_table(patch[0], info.window, patch[1], resample)
        valid = np.isfinite(X_all[:, :, patch[1] // 2, patch[1] // 2]).all(axis=1)
    else:
        if info is not None and info.table is not None:  # built by the block engine's reading stage
            X_all, valid = info.table, info.valid
        else:
            X_all, valid = pixel_table(cube)
        if resample is not None:
            X_all = X_all @ resample.astype(np.float32)
            valid = valid & np.isfinite(X_all).all(axis=1)
    X = X_all if valid.all() else X_all[valid]
    from sklearn import config_context

    # the rows kept are finite in every band (patches: the centre pixel only): estimators need not check
    with config_context(assume_finite=patch is None):
        return _block_products(X, valid, rows, cols, estimator, task, classes, products, proba_classes, limits)


def _block_products(X, valid, rows, cols, estimator, task, classes, products, proba_classes, limits=None):
    """The products of :func:`predict_block` for the usable pixels ``X`` (``valid`` of the block's rows * cols)."""
    n = rows * cols
    out = {}
    unc_names = uncertainty_bands(estimator, task)
    if task == "classification":
        k = len(classes)
        codes = np.zeros(n, dtype=np.uint8)
        proba = None
        if len(X) and ("proba" in products or "uncertainty" in products or not _votes(estimator)):
            if hasattr(estimator, "predict_proba"):
                proba = class_probabilities(estimator, X, classes)
        if len(X):
            if proba is not None and not _votes(estimator):
                codes[valid] = np.argmax(proba, axis=1) + 1
            else:
                codes[valid] = _class_codes(estimator.predict(X), classes)
        out["main"] = codes.reshape(1, rows, cols)
        if "proba" in products:
            cols_out = list(range(k)) if proba_classes is None else [classes.index(c) for c in proba_classes]
            p = np.full((n, len(cols_out)), np.nan, dtype=np.float32)
            if proba is not None:
                p[valid] = proba[:, cols_out]
            out["proba"] = p.T.reshape(len(cols_out), rows, cols)
        if "uncertainty" in products:
            u = np.full((n, len(unc_names)), np.nan, dtype=np.float32)
            if len(X):
                srt = np.sort(proba, axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ent = -np.sum(np.where(proba > 0, proba * np.log(proba), 0.0), axis=1) / np.log(k)
                u[valid, 0] = ent
                u[valid, 1] = srt[:, -1] - srt[:, -2]
                if "mc_dropout_std" in unc_names:
                    u[valid, 2] = prediction_spread(estimator, X)
            out["uncertainty"] = u.T.reshape(len(unc_names), rows, cols)
    else:
        t = len(classes) if classes else 1  # classes: the target names for regression
        half, nonneg = limits if limits is not None else (None, np.zeros(t, dtype=bool))
        m = np.full((n, t), np.nan, dtype=np.float32)
        bands = []
        if "uncertainty" in products and "spread" in unc_names:
            bands.append(np.full((n, 1), np.nan, dtype=np.float32))
            if len(X):
                bands[0][valid, 0] = prediction_spread(estimator, X)
        if len(X):
            m[valid] = np.asarray(estimator.predict(X), dtype=np.float32).reshape(len(X), t)
        below = np.where(valid[:, None] & nonneg[None, :], m < 0, False)
        m[below] = 0.0
        out["main"] = m.T.reshape(t, rows, cols)
        if "uncertainty" in products:
            if half is not None:
                lower = m - half.astype(np.float32)
                lower[:, nonneg] = np.maximum(lower[:, nonneg], 0.0)
                bands += [lower, m + half.astype(np.float32)]
            if nonneg.any():
                count = below.sum(axis=1).astype(np.float32)[:, None]
                count[~valid] = np.nan
                bands.append(count)
            out["uncertainty"] = np.hstack(bands).T.reshape(-1, rows, cols)
    return [out[p] for p in products]


def _class_codes(labels, classes):
    """Codes 1..K (uint8) of predicted ``labels`` in the class names ``classes``, vectorised."""
    names = np.asarray(classes, dtype=str)
    order = np.argsort(names)
    labels = np.asarray(labels).astype(str)
    pos = np.minimum(np.searchsorted(names[order], labels), len(names) - 1)
    unknown = names[order][pos] != labels
    if unknown.any():
        raise ValueError(f"the model predicted classes {sorted(set(labels[unknown]))[:5]} that are not among "
                         f"its classes {list(classes)}")
    return (order[pos] + 1).astype(np.uint8)


def _votes(estimator):
    """True for SVMs, whose predict (one-vs-one voting) may differ from the arg-max probability."""
    from sklearn.svm import SVC

    return isinstance(_final_step(estimator), SVC)


def _derived_path(out_path, suffix):
    base, ext = os.path.splitext(out_path)
    return f"{base}_{suffix}{ext or '.tif'}"


def predict_raster(model, cube_path, out_path, probabilities=True, uncertainty=True, max_bytes=DEFAULT_MAX_BYTES,
                   progress=None, executor=None, scheduler=None, overwrite=True, probability_classes=None):
    """Map a cube with a trained model, block by block under ``max_bytes``.

    Parameters
    ----------
    model : TrainedModel or path of a model file (``load_model``).
    cube_path : str, GeoTIFF/ENVI cube with wavelengths.
    out_path : str, class map (uint8, colour table, class names) or regression bands (float32) GeoTIFF.
    probabilities : bool or str, write class probabilities (K float32 bands) to
        ``<out>_probabilities.tif`` or to the given path (classification only).
    uncertainty : bool or str, write uncertainty bands (see module docstring) to
        ``<out>_uncertainty.tif`` or to the given path; skipped (with a warning) when the model has none.
    max_bytes : int, memory budget of the blocks in flight.
    progress : Progress or None (cancel between blocks; no output file is left on cancel or error).
    executor, scheduler : as :func:`remine.core.blocks.map_blocks` (``scheduler``: a Dask scheduler address).
    overwrite : bool, False refuses existing output files.
    probability_classes : list of class names whose probability bands are written (None: all), e.g.
        ``["high"]`` for a P(high) map.

    Returns
    -------
    dict with keys "map", "probabilities", "uncertainty" (paths or None), "band_names", with probabilities
    "probability_shown" (the class of largest mean probability, shown by the QGIS style) and, for
    non-negative regression targets, "n_clipped" (predictions set to 0).
    """
    progress = as_progress(progress)
    sources = [cube_path] + ([] if isinstance(model, TrainedModel) else [model])
    if not isinstance(model, TrainedModel):
        model = load_model(model)
    info = raster_info(cube_path)
    resample = model_band_matrix(model.wavelengths_nm, info.wavelengths_nm, os.path.basename(str(cube_path)))
    classification = model.is_classification
    est = model.estimator
    paths = {"map": out_path, "probabilities": None, "uncertainty": None}
    if classification and probabilities:
        if hasattr(est, "predict_proba"):
            paths["probabilities"] = probabilities if isinstance(probabilities, str) else _derived_path(
                out_path, "probabilities")
        else:
            warnings.warn(f"{type(_final_step(est)).__name__} gives no probabilities; none written", RemineWarning,
                          stacklevel=2)
    unc_names = uncertainty_bands(est, model.task) if classification else regression_uncertainty_bands(model)
    limits = None if classification else regression_limits(model)
    if uncertainty:
        if unc_names and unc_names != ["n_clipped"]:
            paths["uncertainty"] = uncertainty if isinstance(uncertainty, str) else _derived_path(
                out_path, "uncertainty")
        else:
            warnings.warn(f"{type(_final_step(est)).__name__} has no uncertainty measure; none written",
                          RemineWarning, stacklevel=2)
    for p in paths.values():
        if p:
            check_output_path(p, sources)
        if p and not overwrite and os.path.exists(p):
            raise InputError(f"output {p} exists; choose another name or allow overwriting")
    classes = [str(c) for c in model.classes] if classification else None
    if probability_classes is not None:
        unknown = [c for c in probability_classes if c not in (classes or [])]
        if unknown:
            raise InputError(f"probability_classes {unknown} are not classes of the model {classes}")
    if classification:
        colormap, category_names = class_table(classes)
        main = BlockOutput(out_path, 1, "uint8", nodata=0, colormap=colormap, category_names=category_names,
                           band_names=["class"])
    else:
        names = model.target_names or ["prediction"]
        main = BlockOutput(out_path, len(names), "float32", band_names=list(names))
    outputs, products = [main], ["main"]
    if paths["probabilities"]:
        written = classes if probability_classes is None else list(probability_classes)
        outputs.append(BlockOutput(paths["probabilities"], len(written), "float32",
                                   band_names=[f"P({c})" for c in written], statistics=True))
        products.append("proba")
    counting = limits is not None and limits[1].any()
    scratch = tempfile.TemporaryDirectory(prefix="remine-") if counting and not paths["uncertainty"] else None
    if paths["uncertainty"] or counting:  # non-negative targets: the clipped pixels are counted in n_clipped
        unc_path = paths["uncertainty"] or os.path.join(scratch.name, "n_clipped.tif")
        outputs.append(BlockOutput(unc_path, len(unc_names), "float32", band_names=unc_names, statistics=True))
        products.append("uncertainty")
    patch = (info, int(model.patch_size)) if int(model.patch_size) > 1 else None
    func = functools.partial(predict_block, estimator=est, task=model.task,
                             classes=classes if classification else model.target_names,
                             resample=resample, products=tuple(products), patch=patch,
                             proba_classes=probability_classes, limits=limits)
    # temporaries: three times the block's bytes for the pixel table (read twice) and the model's arrays;
    # with patches, k x k patches of every pixel
    copies = 4 if patch is None else 4 * model.patch_size ** 2
    func = with_work_bytes(func, (copies - 1) * io_bytes_per_pixel(1 if patch else info.count, outputs))
    try:
        map_blocks(func, [info], outputs, max_bytes=max_bytes, progress=progress, executor=executor,
                   scheduler=scheduler, bands=[[0]] if patch else None, table=patch is None)
        if counting:
            n_clipped = int(round(band_statistics(outputs[-1].path)["n_clipped"]["sum"]))
            paths["n_clipped"] = n_clipped
            if n_clipped:
                targets = [t for t, k in zip(model.target_names or ["prediction"], limits[1]) if k]
                warnings.warn(f"{n_clipped} predicted value(s) of the non-negative target(s) {', '.join(targets)} "
                              "were below 0 and set to 0 (per-pixel counts: band n_clipped of the uncertainty "
                              "output)", RemineWarning, stacklevel=2)
    finally:
        if scratch is not None:
            scratch.cleanup()
    if paths["probabilities"]:  # the likeliest class on average shown, in its class's colour
        _, paths["probability_shown"] = write_share_style(paths["probabilities"], written, "probability")
    if paths["uncertainty"]:
        write_data_style(paths["uncertainty"], colours=MAGMA, from_zero=True)
    if not classification:
        write_data_style(out_path)
    paths["band_names"] = {"map": main.band_names, "probabilities": outputs[1].band_names if paths["probabilities"]
                           else None, "uncertainty": unc_names if paths["uncertainty"] else None}
    return paths
