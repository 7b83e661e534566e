"""predict_raster: class maps, probabilities, uncertainty, block independence, wavelength checks, bad input."""
import json
import os

import numpy as np
import pytest
import rasterio

from remine.core.blocks import GridSpec
from remine.core.errors import CancelledError, InputError, RemineWarning
from remine.core.learn import build_training_set, fit_model, predict_raster, save_model
from remine.core.progress import Progress
from remine.core.raster import read_cube, write_raster

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "learn")
CUBE = os.path.join(DATA, "cube.tif")
ROIS = os.path.join(DATA, "rois.gpkg")


@pytest.fixture(scope="module")
def class_set():
    return build_training_set(CUBE, ROIS, label_field="mineral")


@pytest.fixture(scope="module")
def cube():
    return read_cube(CUBE)


def _pixels(cube):
    return cube.data.reshape(cube.data.shape[0], -1).T


def test_class_map_probabilities_uncertainty(tmp_path, class_set, cube):
    model = fit_model("extratrees", class_set, n_estimators=20, n_jobs=1)
    out = predict_raster(model, CUBE, str(tmp_path / "map.tif"))
    X = _pixels(cube)
    valid = np.isfinite(X).all(axis=1)
    with rasterio.open(out["map"]) as ds:
        assert ds.dtypes[0] == "uint8" and ds.nodata == 0
        codes = ds.read(1).ravel()
        names = json.loads(ds.tags(1)["class_names"])
        assert ds.colormap(1)[1][3] == 255
    assert names == ["no data", "alunite", "calcite", "goethite", "kaolinite"]
    assert np.all(codes[~valid] == 0)
    expected = model.estimator.predict(X[valid])
    assert np.array_equal(np.array(names)[codes[valid]], expected)
    with rasterio.open(out["probabilities"]) as ds:
        proba = ds.read().reshape(4, -1).T
        assert list(ds.descriptions) == ["P(alunite)", "P(calcite)", "P(goethite)", "P(kaolinite)"]
    assert np.allclose(proba[valid], model.estimator.predict_proba(X[valid]), atol=1e-6)
    assert np.isnan(proba[~valid]).all()
    with rasterio.open(out["uncertainty"]) as ds:
        unc = ds.read().reshape(2, -1).T
        assert list(ds.descriptions) == ["entropy", "margin"]
    p = proba[valid].astype(float)
    ent = -np.sum(p * np.log(np.clip(p, 1e-300, 1)), axis=1) / np.log(4)
    assert np.allclose(unc[valid, 0], ent, atol=1e-5)
    top2 = np.sort(proba[valid], axis=1)[:, -2:]
    assert np.allclose(unc[valid, 1], top2[:, 1] - top2[:, 0], atol=1e-6)


def test_svm_labels_and_block_independence(tmp_path, class_set, cube):
    model = fit_model("svm", class_set)
    path = save_model(str(tmp_path / "svm.rmodel"), model)
    big = predict_raster(path, CUBE, str(tmp_path / "big.tif"), probabilities=False, uncertainty=False)
    small = predict_raster(path, CUBE, str(tmp_path / "small.tif"), max_bytes=40_000)
    assert big["probabilities"] is None and small["probabilities"] is not None
    with rasterio.open(big["map"]) as a, rasterio.open(small["map"]) as b:
        assert np.array_equal(a.read(), b.read())
        codes = a.read(1).ravel()
    X = _pixels(cube)
    valid = np.isfinite(X).all(axis=1)
    classes = np.array(["no data"] + model.classes)
    assert np.array_equal(classes[codes[valid]], model.estimator.predict(X[valid]))  # SVM voting, not arg-max


def test_regression_bands_and_tree_spread(tmp_path, cube):
    reg = build_training_set(CUBE, ROIS, target_fields=["kaolinite_pct", "Zn_ppm"])
    model = fit_model("randomforest", reg, n_estimators=15, n_jobs=1)
    out = predict_raster(model, CUBE, str(tmp_path / "grades.tif"), probabilities=True)
    assert out["probabilities"] is None
    X = _pixels(cube)
    valid = np.isfinite(X).all(axis=1)
    with rasterio.open(out["map"]) as ds:
        assert list(ds.descriptions) == ["kaolinite_pct", "Zn_ppm"]
        pred = ds.read().reshape(2, -1).T
    assert np.allclose(pred[valid], model.estimator.predict(X[valid]), rtol=1e-5, atol=1e-3)
    with rasterio.open(out["uncertainty"]) as ds:
        spread = ds.read(1).ravel()
    trees = np.stack([t.predict(X[valid])[:, 0] for t in model.estimator.estimators_])
    assert np.allclose(spread[valid], trees.std(axis=0), rtol=1e-5, atol=1e-3)


def _cube_with(tmp_path, cube, band_sel, shift_nm=0.0, name="other.tif"):
    path = str(tmp_path / name)
    write_raster(path, cube.data[band_sel], like=GridSpec(cube.data.shape[2], cube.data.shape[1], cube.transform,
                                                          cube.crs),
                 wavelengths_nm=cube.wavelengths_nm[band_sel] + shift_nm)
    return path


def test_wavelength_checks(tmp_path, class_set, cube):
    model = fit_model("lda", class_set)
    shifted = _cube_with(tmp_path, cube, slice(None), shift_nm=3.0, name="shifted.tif")
    with pytest.warns(RemineWarning, match="resampling it linearly"):
        out = predict_raster(model, shifted, str(tmp_path / "ok.tif"), uncertainty=False)
    with rasterio.open(out["map"]) as a:
        agree = np.mean(a.read(1)[3:, 3:] == rasterio.open(
            predict_raster(model, CUBE, str(tmp_path / "ref.tif"), False, False)["map"]).read(1)[3:, 3:])
    assert agree > 0.95
    # a cube on a coarser grid (every other band; fewer bands than the model) is resampled to the model's
    # bands in every block, whichever way the block's pixel table was built
    every_other = np.r_[0:len(cube.wavelengths_nm):2, len(cube.wavelengths_nm) - 1]  # same range, half the bands
    coarse = _cube_with(tmp_path, cube, every_other, name="coarse.tif")
    with pytest.warns(RemineWarning, match="resampling it linearly"):
        out = predict_raster(model, coarse, str(tmp_path / "coarse_map.tif"), uncertainty=False, max_bytes=60_000)
    with rasterio.open(out["map"]) as a, rasterio.open(str(tmp_path / "ref.tif")) as r:
        assert np.mean(a.read(1)[3:, 3:] == r.read(1)[3:, 3:]) > 0.9
    short = _cube_with(tmp_path, cube, slice(0, 40), name="short.tif")
    target = tmp_path / "never.tif"
    expected = r"needs 15 bands \(1920.1-2478.5 nm\) that short.tif \(383.1-1849.7 nm, 40 bands\)"
    with pytest.raises(InputError, match=expected):
        predict_raster(model, short, str(target))
    assert not target.exists() and not list(tmp_path.glob("never*"))


def test_overwrite_false_and_cancel_leave_files_alone(tmp_path, class_set):
    model = fit_model("lda", class_set)
    existing = tmp_path / "map.tif"
    existing.write_bytes(b"previous")
    with pytest.raises(InputError, match="exists"):
        predict_raster(model, CUBE, str(existing), overwrite=False)
    assert existing.read_bytes() == b"previous"

    class Cancel(Progress):
        def is_cancelled(self):
            return True

    with pytest.raises(CancelledError):
        predict_raster(model, CUBE, str(tmp_path / "c.tif"), max_bytes=40_000, progress=Cancel())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]


def test_predicted_class_missing_from_the_model_is_reported_and_leaves_no_file(tmp_path, class_set, cube):
    # voting models (SVM) map predicted labels to class codes: a label outside the model's classes (a model
    # whose class list does not match its estimator) is an error naming it, and no output is left
    import dataclasses

    model = fit_model("svm", class_set)
    labels, counts = np.unique(model.estimator.predict(_pixels(cube)[np.isfinite(_pixels(cube)).all(axis=1)]),
                               return_counts=True)
    dropped = str(labels[np.argmax(counts)])
    broken = dataclasses.replace(model, classes=[c for c in model.classes if c != dropped])
    with pytest.raises(ValueError, match=f"predicted classes \\['{dropped}'\\] that are not among its classes"):
        predict_raster(broken, CUBE, str(tmp_path / "map.tif"), probabilities=False, uncertainty=False)
    assert list(tmp_path.iterdir()) == []


def test_output_over_the_input_is_refused(tmp_path, class_set):
    model = fit_model("lda", class_set)
    with pytest.raises(InputError, match="is also an input"):
        predict_raster(model, CUBE, CUBE)


def test_models_without_uncertainty_warn_and_write_none(tmp_path):
    reg = build_training_set(CUBE, ROIS, target_fields=["kaolinite_pct", "Zn_ppm"])
    model = fit_model("svm", reg)  # two targets: one SVR per target, no ensemble spread
    assert type(model.estimator).__name__ == "MultiOutputRegressor"
    with pytest.warns(RemineWarning, match="has no uncertainty measure"):
        out = predict_raster(model, CUBE, str(tmp_path / "svr.tif"))
    assert out["uncertainty"] is None and not (tmp_path / "svr_uncertainty.tif").exists()
    with rasterio.open(out["map"]) as ds:
        assert ds.count == 2


def test_threads_executor_gives_the_same_map(tmp_path, class_set):
    model = fit_model("plsda", class_set)
    a = predict_raster(model, CUBE, str(tmp_path / "a.tif"), max_bytes=60_000)
    b = predict_raster(model, CUBE, str(tmp_path / "b.tif"), max_bytes=60_000, executor="threads")
    for key in ("map", "probabilities", "uncertainty"):
        with rasterio.open(a[key]) as x, rasterio.open(b[key]) as y:
            assert np.array_equal(x.read(), y.read(), equal_nan=True)


@pytest.mark.parametrize("name", ["xgboost", "plsda"])
def test_tables_built_while_reading_give_the_estimator_answers(tmp_path, class_set, cube, name):
    # predict_block gets each block's pixel table and finite mask from the block engine's reading stage; with
    # small blocks, some with nodata, the map and probabilities must equal the estimator's answers on the
    # whole C-ordered pixel table.
    model = fit_model(name, class_set)
    out = predict_raster(model, CUBE, str(tmp_path / "map.tif"), uncertainty=False, max_bytes=60_000)
    X = np.ascontiguousarray(_pixels(cube))
    valid = np.isfinite(X).all(axis=1)
    with rasterio.open(out["map"]) as ds:
        codes = ds.read(1).ravel()
    with rasterio.open(out["probabilities"]) as ds:
        proba = ds.read().reshape(len(model.classes), -1).T
    assert np.array_equal(np.array(["no data"] + model.classes)[codes[valid]], model.estimator.predict(X[valid]))
    assert np.allclose(proba[valid], model.estimator.predict_proba(X[valid]), atol=1e-6)
    assert np.all(codes[~valid] == 0)


def test_xgboost_pooled_prediction_equals_one_booster_call(class_set):
    # rows beyond one chunk are predicted in a pool of single-threaded calls: same values as one call
    from remine.core.learn.boosting import _ROWS_PER_CHUNK

    model = fit_model("xgboost", class_set)
    rng = np.random.default_rng(0)
    X = class_set.X[rng.integers(0, len(class_set.X), 2 * _ROWS_PER_CHUNK + 123)].astype(np.float32)
    X += rng.normal(0, 0.01, X.shape).astype(np.float32)
    booster = model.estimator.booster_
    assert np.array_equal(model.estimator.predict_proba(X), booster.inplace_predict(X).astype(np.float64))


def test_trained_regressor_writes_conformal_intervals_and_stays_non_negative(tmp_path, demo_scene):
    """PLSR trained on the demo ROIs (XRD kaolinite %, Zn ppm; ROI-grouped CV) then mapped over the whole
    scene: the uncertainty output holds 90 % split-conformal bounds from the out-of-fold residuals and the
    per-pixel count of predictions set to 0 (both targets are non-negative). Coverage of the true
    abundance / grade over all pixels, remine: 0.991 (kaolinite), 0.841 (Zn); 9946 values clipped."""
    from remine.core.learn.train import train

    ts = build_training_set(demo_scene["cube"], demo_scene["rois"], target_fields=["xrd_kaolinite", "Zn_ppm"])
    model, cv = train(ts, "plsr", n_splits=5)
    half = model.metrics["intervals"]["halfwidth"]
    residual = np.abs(cv.y_pred - cv.y_true)
    assert np.mean(residual[:, 0] <= half["xrd_kaolinite"]) >= 0.9  # conformal quantile of held-out residuals
    assert model.metrics["nonnegative"] == {"xrd_kaolinite": True, "Zn_ppm": True}
    with pytest.warns(RemineWarning, match=r"predicted value\(s\) of the non-negative target\(s\) xrd_kaolinite"):
        out = predict_raster(model, demo_scene["cube"], str(tmp_path / "grades.tif"), uncertainty=True)
    with rasterio.open(out["map"]) as ds:
        pred = ds.read()
    with rasterio.open(out["uncertainty"]) as ds:
        names, unc = list(ds.descriptions), ds.read()
    assert names == ["lower_xrd_kaolinite", "lower_Zn_ppm", "upper_xrd_kaolinite", "upper_Zn_ppm", "n_clipped"]
    assert np.nanmin(pred) >= 0 and np.nanmin(unc[:2]) >= 0
    assert out["n_clipped"] == int(np.nansum(unc[4])) > 0
    with rasterio.open(demo_scene["truth_abundance"]) as ds:
        kaolinite = 100 * ds.read(list(ds.descriptions).index("kaolinite") + 1)
    with rasterio.open(demo_scene["truth_grades"]) as ds:
        zn = ds.read(list(ds.descriptions).index("Zn_ppm") + 1)
    for j, truth in enumerate((kaolinite, zn)):
        ok = np.isfinite(unc[j]) & np.isfinite(truth)
        assert np.mean((unc[j][ok] <= truth[ok]) & (truth[ok] <= unc[j + 2][ok])) > 0.8
