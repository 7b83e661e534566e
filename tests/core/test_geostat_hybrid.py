"""HybridKrigingRegressor and compare_with_kriging: no leakage, seeds, covariates, intervals, honest comparisons.

Small ensembles and few epochs keep these tests fast; benchmarks/bench_hybrid.py runs the full sizes.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch  # the optional "deep" extra, part of the dev environment

from remine.core.errors import CancelledError, InputError
from remine.core.geostat import HybridKrigingRegressor, Spherical, compare_with_kriging
from remine.core.geostat.covariates import CovariateEncoder, raster_covariates
from remine.core.geostat.cv import fold_labels
from remine.core.progress import Progress

torch.set_num_threads(1)
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "geostat")
LOGZN = Spherical(psill=0.59060780221, range_=897.0209098, nugget=0.05066242682)  # gstat fit, meuse_reference.md
FAST = {"n_ensemble": 2, "max_epochs": 60, "patience": 10}


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(os.path.join(DATA, "meuse.csv"))
    cov = pd.DataFrame({"dist": d["dist"], "ffreq": d["ffreq"].astype(str)})
    return d[["x", "y"]].to_numpy(float), np.log(d["zinc"].to_numpy(float)), cov


def test_own_value_never_reaches_own_inputs(meuse):
    """Changing sample i's value changes its target and its neighbours' inputs, never its own inputs; and its
    inputs equal those a model fitted without sample i builds for a target at x_i (prediction time)."""
    c, v, cov = meuse
    fit = {"n_ensemble": 1, "max_epochs": 1}
    base = HybridKrigingRegressor(LOGZN, **fit).fit(c, v, cov)
    i = 17
    v2 = v.copy()
    v2[i] += 5.0
    moved = HybridKrigingRegressor(LOGZN, **fit).fit(c, v2, cov)
    a, b = base.training_inputs_, moved.training_inputs_
    assert np.array_equal(a["sequence"][i], b["sequence"][i])
    assert np.array_equal(a["static"][i], b["static"][i])
    assert b["target"][i] - a["target"][i] == pytest.approx(5.0)
    changed = [j for j in range(len(v)) if not np.array_equal(a["sequence"][j], b["sequence"][j])]
    assert len(changed) >= 5 and i not in changed  # the value does reach the samples it is a neighbour of
    # prediction-time inputs at x_i from the other samples
    keep = np.arange(len(v)) != i
    without = HybridKrigingRegressor(LOGZN, **fit).fit(c[keep], v[keep], cov.iloc[keep])
    seq, static, _, _ = without._raw_inputs(without.samples_, c[i:i + 1],
                                          without.encoder_.transform(cov.iloc[[i]], 1), False)
    assert seq.shape[2] == 5 + 4  # value, dx, dy, distance, covariance + the neighbour's dist and ffreq one-hot
    assert np.allclose(seq[0, :, 0], a["sequence"][i, :, 0])  # neighbour values
    assert np.allclose(seq[0, :, 1:4] * without.length_, a["sequence"][i, :, 1:4] * base.length_)  # offsets
    assert np.allclose(seq[0, :, 4], a["sequence"][i, :, 4])  # covariances
    assert np.allclose(static[0, :3], a["static"][i, :3])  # OK estimate, std, average covariance
    # covariates at x_i are encoded with each model's training statistics; their innovations agree in units
    enc_a, enc_w = base.encoder_.columns_[0][2], without.encoder_.columns_[0][2]
    assert static[0, 5 + 4] * enc_w[1] == pytest.approx(a["static"][i, 5 + 4] * enc_a[1])


def test_fitted_variogram_is_the_only_path_of_own_value(meuse):
    """With the default fitted variogram ("spherical", fitted on all samples like the standardisation
    statistics) sample i's value reaches its own inputs only through the variogram parameters: its neighbours'
    values, offsets, distances and covariates and its coordinates and covariates stay bit-equal when its value
    changes, while the covariance, OK and innovation inputs move with the refitted model; with the variogram
    fixed to the fitted one, its inputs are bit-equal (the leave-one-out guarantee holds for a given variogram)."""
    c, v, cov = meuse
    fit = {"n_ensemble": 1, "max_epochs": 1}
    base = HybridKrigingRegressor(**fit).fit(c, v, cov)
    i = 17
    v2 = v.copy()
    v2[i] += 5.0
    moved = HybridKrigingRegressor(**fit).fit(c, v2, cov)
    assert moved.model_.range_ != base.model_.range_  # the fitted variogram sees the new value
    a, b = base.training_inputs_, moved.training_inputs_
    same_seq = [0, 1, 2, 3, 5, 6, 7, 8]  # value, dx, dy, distance, the neighbour's dist and ffreq one-hot
    assert np.array_equal(a["sequence"][i][:, same_seq], b["sequence"][i][:, same_seq])
    assert not np.array_equal(a["sequence"][i][:, 4], b["sequence"][i][:, 4])  # covariances: refitted model
    assert np.array_equal(a["static"][i, 3:9], b["static"][i, 3:9])  # x, y, dist, ffreq one-hot at x_i
    fixed = HybridKrigingRegressor(base.model_, **fit)
    same = fixed.fit(c, v, cov).training_inputs_
    assert all(np.array_equal(same[key], a[key]) for key in ("sequence", "static", "target"))
    own = HybridKrigingRegressor(base.model_, **fit).fit(c, v2, cov).training_inputs_
    assert np.array_equal(own["sequence"][i], a["sequence"][i]) and np.array_equal(own["static"][i], a["static"][i])


def test_leave_one_out_inputs_are_the_public_cross_validation(meuse):
    """The OK estimate and standard deviation at a training sample are remine's leave-one-out cross-validation
    of the same kriger (cv.leave_one_out, as cross_validate(scheme="loo") reports it)."""
    from remine.core.geostat import OrdinaryKriging, cross_validate

    c, v, _ = meuse
    reg = HybridKrigingRegressor(LOGZN, n_ensemble=1, max_epochs=1).fit(c, v)
    table = cross_validate(OrdinaryKriging(LOGZN, n_neighbors=32), c, v, scheme="loo").table
    static = reg.training_inputs_["static"]
    np.testing.assert_allclose(static[:, 0], table["predicted"], rtol=1e-12)
    np.testing.assert_allclose(static[:, 1], np.sqrt(table["variance"]), rtol=1e-12)
    assert np.array_equal(reg.folds_, fold_labels(c, "spatial", 5, 0))  # the members' folds: spatial


@pytest.mark.parametrize("element", ["Zn_ppm", "Ca_ppm"])
def test_intervals_cover_held_out_spatial_folds(demo_scene, element):
    """Without covariates, the nominal 90 % interval covers 0.82-0.97 of the points of held-out spatial folds
    (measured with these settings: Zn 0.87, Ca 0.92; calibrated on random inner folds it covered 0.78 and 0.84)."""
    from remine.core.points import read_points

    pts = read_points(demo_scene["samples"], element)
    table = compare_with_kriging(pts.coords[:, :2], pts.values, k=5, seed=0, hybrid_params=FAST)
    coverage = table.attrs["summary"]["pooled"].loc["hybrid", "coverage90"]
    assert 0.82 <= coverage <= 0.97, coverage


def test_same_seed_same_predictions_and_pickle(meuse):
    c, v, _ = meuse
    targets = c[:40] + 20.0
    one = HybridKrigingRegressor(LOGZN, random_state=3, n_ensemble=2, max_epochs=8).fit(c, v)
    two = HybridKrigingRegressor(LOGZN, random_state=3, n_ensemble=2, max_epochs=8).fit(c, v)
    other = HybridKrigingRegressor(LOGZN, random_state=4, n_ensemble=2, max_epochs=8).fit(c, v)
    e1, s1 = one.predict(targets, return_std=True)
    e2, s2 = two.predict(targets, return_std=True)
    assert np.array_equal(e1, e2) and np.array_equal(s1, s2)
    assert one.histories_[0]["loss"] != other.histories_[0]["loss"]  # another seed, other initial weights
    assert np.all(s1 > 0) and np.all(np.isfinite(e1))
    back = pickle.loads(pickle.dumps(one))
    assert np.array_equal(back.predict(targets), e1)


def test_three_dimensional_coordinates():
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 100, (120, 3))
    v = np.sin(c[:, 0] / 20) + c[:, 2] / 50 + 0.05 * rng.standard_normal(120)
    reg = HybridKrigingRegressor("exponential", n_neighbors=8, n_ensemble=1, max_epochs=5).fit(c, v)
    assert reg.training_inputs_["sequence"].shape == (120, 8, 6)  # value, dx, dy, dz, distance, covariance
    est, std = reg.predict(rng.uniform(0, 100, (30, 3)), return_std=True)
    assert est.shape == std.shape == (30,) and np.all(np.isfinite(est))
    with pytest.raises(InputError, match="targets have 2 coordinates but the samples have 3"):
        reg.predict(np.zeros((2, 2)))


def test_covariate_encoding_uses_training_statistics_only():
    train = pd.DataFrame({"ab": [0.1, 0.3, 0.5, 0.7], "soil": ["1", "2", "2", "3"]})
    enc = CovariateEncoder().fit(train, 4)
    assert enc.feature_names_ == ["ab", "soil=1", "soil=2", "soil=3"]
    new = pd.DataFrame({"ab": [0.4, 1.0], "soil": ["2", "9"]})
    x = enc.transform(new, 2)
    assert x[0, 0] == pytest.approx((0.4 - 0.4) / np.std([0.1, 0.3, 0.5, 0.7]))
    assert list(x[0, 1:]) == [0, 1, 0] and list(x[1, 1:]) == [0, 0, 0]  # an unseen class: all zeros
    ked = CovariateEncoder(drop_first=True).fit(train, 4)
    assert ked.feature_names_ == ["ab", "soil=2", "soil=3"]
    num = CovariateEncoder(categorical=[1]).fit(np.array([[0.0, 1], [1.0, 2], [2.0, 1]]), 3)
    assert num.feature_names_ == ["covariate 1", "covariate 2=1.0", "covariate 2=2.0"]


def test_compare_on_meuse_identical_folds_and_report(meuse, tmp_path):
    from remine.core.geostat.hybrid_report import write_comparison_report

    c, v, cov = meuse
    table = compare_with_kriging(c, v, k=5, seed=0, covariates=cov, threshold=float(np.log(500)),
                                 cutoffs=[float(np.log(300)), float(np.log(800))], hybrid_params=FAST)
    assert list(table.columns) == ["fold", "model", "rmse", "mae", "r2", "bias", "coverage90", "n"]
    assert set(table.model) == {"ok", "hybrid", "ked"} and len(table) == 15
    s = table.attrs["summary"]
    folds = fold_labels(c, "spatial", 5, 0)
    assert np.array_equal(s["predictions"]["fold"], folds)  # every model on the same folds
    sizes = table.pivot(index="fold", columns="model", values="n")
    assert (sizes.nunique(axis=1) == 1).all() and sizes["ok"].sum() == len(v)
    for m in ("ok", "hybrid", "ked"):
        assert np.isfinite(s["predictions"][m]).all()
    assert set(s["wilcoxon"]) == {"ok", "ked"} and "beat" in s["verdict"]
    assert {"false_negative_rate", f"above_{np.log(300):g}"} <= set(s["decision"].columns)
    # OK rows are plain spatial-fold kriging with the variogram fitted in the training folds
    from remine.core.geostat import OrdinaryKriging
    from remine.core.geostat.fit import auto_model

    test = folds == 0
    est, _ = OrdinaryKriging(auto_model(c[~test], v[~test])).fit(c[~test], v[~test]).predict(c[test])
    ok0 = table[(table.fold == 0) & (table.model == "ok")].iloc[0]
    assert ok0.rmse == pytest.approx(np.sqrt(np.mean((est - v[test]) ** 2)))
    path = write_comparison_report(table, str(tmp_path / "meuse_report.html"))
    with open(path) as f:
        text = f.read()
    assert "beat kriging" in text or "beats kriging" in text
    assert text.count("<img") == 3


def _demo_points(scene):
    """Ca samples of a demo scene with the truth abundances as covariates, and every 4th cell of the truth Ca
    grades with theirs: (coords, values, covariates, truth coords, truth values, truth covariates)."""
    import rasterio

    from remine.core.points import read_points

    pts = read_points(scene["samples"], "Ca_ppm")
    c = pts.coords[:, :2]
    cov, _, _ = raster_covariates([scene["truth_abundance"]], c)
    with rasterio.open(scene["truth_grades"]) as src:
        truth, t = src.read(4), src.transform
    rows, cols = np.mgrid[0:truth.shape[0]:4, 0:truth.shape[1]:4]
    xs, ys = t * (cols + 0.5, rows + 0.5)
    tc = np.column_stack([np.ravel(xs), np.ravel(ys)])
    tcov, _, _ = raster_covariates([scene["truth_abundance"]], tc)
    tv = truth[rows, cols].ravel().astype(float)
    ok = np.isfinite(tv)
    return c, pts.values, cov, tc[ok], tv[ok], tcov[ok]


def test_demo_with_abundance_covariates_beats_ok_against_truth(tmp_path_factory):
    """Ca of the demo scene is tied to calcite and gypsum; with the abundance maps the hybrid must beat OK
    against the truth grades. Demo seed 0 (the conftest scene) is a development case: the covariate innovations
    and the residual target were chosen on it (benchmarks/NOTES.md). This test asserts on demo seeds 1-4, the
    first four after it, never used for a choice; measured with these settings (2026-12-07): RMSE ratio to OK
    0.749, 0.585, 0.588, 0.834 (mean 0.689; seed 0: 0.534), 90 % interval coverage 0.967, 0.953, 0.886,
    0.978."""
    from remine.core.demo import make_demo
    from remine.core.geostat import OrdinaryKriging
    from remine.core.geostat.fit import auto_model

    ratios, coverages = [], []
    for seed in (1, 2, 3, 4):
        scene = make_demo(str(tmp_path_factory.mktemp(f"demo_seed{seed}")), seed=seed)
        c, v, cov, tc, tv, tcov = _demo_points(scene)
        est, std = HybridKrigingRegressor("spherical", **FAST).fit(c, v, cov).predict(tc, tcov, return_std=True)
        ok, _ = OrdinaryKriging(auto_model(c, v)).fit(c, v).predict(tc)
        ratios.append(np.sqrt(np.mean((est - tv) ** 2)) / np.sqrt(np.mean((ok - tv) ** 2)))
        coverages.append(np.mean(np.abs(est - tv) <= 1.645 * std))
    assert np.mean(ratios) <= 0.8 and max(ratios) <= 0.95, ratios
    assert 0.85 <= np.mean(coverages) <= 0.99 and min(coverages) >= 0.8, coverages


def _nonlinear_case(seed):
    """Synthetic field (80 x 80 cells of 10 m): target 3 sin(2a) + 1.5|a| + 0.5 g of a fine-grained covariate
    ``a`` (detail finer than the sample spacing) and a smooth field g; 250 samples with noise 0.1. Returns
    (coords, values, covariate at the samples (250, 1), cell coords, truth, covariate at the cells). The same
    field as benchmarks/compare_hybrid.py (there with seed 7)."""
    from remine.core.demo import smooth_field

    rng = np.random.default_rng(seed)
    size = 80
    a = smooth_field(rng, (size, size), size / 40)
    z = 3.0 * np.sin(2.0 * a) + 1.5 * np.abs(a) + 0.5 * smooth_field(rng, (size, size), size / 8)
    pick = rng.choice(size * size, 250, replace=False)
    rows, cols = np.unravel_index(pick, (size, size))
    c = np.column_stack([cols, rows]) * 10.0
    v = z[rows, cols] + 0.1 * rng.standard_normal(250)
    grid_r, grid_c = np.mgrid[0:size, 0:size]
    t = np.column_stack([grid_c.ravel(), grid_r.ravel()]) * 10.0
    return c, v, a[rows, cols][:, None], t, z.ravel(), a.ravel()[:, None]


def test_nonlinear_covariate_is_won_clearly():
    """Target a non-linear function of a covariate: the hybrid (3 members) beats OK and KED (linear in the
    covariate) against the truth. Field seed 7 is the development case (weight_decay, patience, learning rate
    and the residual target were chosen on it, benchmarks/NOTES.md); this test asserts on seeds 8-12, the first
    five after it. Measured (2026-12-07) RMSE ratios hybrid/OK 0.501, 0.545, 0.507, 0.659, 0.575 (mean 0.557),
    hybrid/KED 0.538, 0.566, 0.520, 0.691, 0.586 (mean 0.580); seed 7: 0.52 / 0.55 with one member."""
    from remine.core.geostat import ExternalDriftKriging, OrdinaryKriging
    from remine.core.geostat.fit import auto_model

    ratios = {"ok": [], "ked": []}
    for seed in (8, 9, 10, 11, 12):
        c, v, a, t, z, a_t = _nonlinear_case(seed)
        est = HybridKrigingRegressor(n_ensemble=3).fit(c, v, a).predict(t, a_t)
        ok = OrdinaryKriging(auto_model(c, v)).fit(c, v).predict(t)[0]
        ked = ExternalDriftKriging(auto_model(c, v, drift=a)).fit(c, v, drift=a).predict(t, drift=a_t)[0]
        rmse = {m: float(np.sqrt(np.mean((p - z) ** 2))) for m, p in (("hybrid", est), ("ok", ok), ("ked", ked))}
        for m in ratios:
            ratios[m].append(rmse["hybrid"] / rmse[m])
    for m, r in ratios.items():
        assert np.mean(r) <= 0.7 and max(r) <= 0.85, (m, r)


def test_decision_figures_by_hand():
    """False-negative rate of high-risk cells (truth > threshold, finite prediction <= threshold) and fraction
    above each cut-off (over the finite predictions) with its ratio to the truth's, computed by hand."""
    from remine.core.geostat.compare import decision_figures

    truth = np.array([1.0, 2, 3, 4, 5, 6])
    pred = {"a": np.array([3.0, 2, 4, 3, 5, np.nan]), "b": np.array([0.0, 0, 0, 5, 0, 0])}
    d = decision_figures(truth, pred, threshold=3.5, cutoffs=[2.5, 4.5])
    # a: high-risk cells with a prediction are 4, 5 (6 has none); 4 is predicted 3 <= 3.5: missed
    assert d.loc["a", "high_risk_n"] == 2 and d.loc["a", "false_negative_rate"] == 0.5
    # over the cells it predicts (truth 1-5): above 2.5 predicted 4/5, truly 3/5; above 4.5 1/5 and 1/5
    assert d.loc["a", "above_2.5"] == pytest.approx(0.8) and d.loc["a", "above_2.5_ratio"] == pytest.approx(4 / 3)
    assert d.loc["a", "above_4.5"] == pytest.approx(0.2) and d.loc["a", "above_4.5_ratio"] == pytest.approx(1.0)
    # b: high-risk 4, 5, 6 predicted 5, 0, 0: two of three missed; above 2.5: 1/6 vs 4/6, above 4.5: 1/6 vs 2/6
    assert d.loc["b", "high_risk_n"] == 3 and d.loc["b", "false_negative_rate"] == pytest.approx(2 / 3)
    assert d.loc["b", "above_2.5_ratio"] == pytest.approx(0.25) and d.loc["b", "above_4.5_ratio"] == pytest.approx(0.5)
    assert d.loc["truth", "above_2.5"] == pytest.approx(4 / 6) and d.loc["truth", "above_4.5"] == pytest.approx(2 / 6)
    assert np.isnan(d.loc["truth", "false_negative_rate"])
    assert decision_figures(truth, pred).empty


def test_compare_against_truth():
    """With ``truth``, every model is fitted on all samples and judged at the truth cells: rows ok, hybrid, ked
    whose metrics are those of their predictions (OK's: plain OK with the variogram fitted on all samples), and
    the decision figures there; covariates without truth covariates fail before any fold is fitted."""
    from remine.core.geostat import OrdinaryKriging
    from remine.core.geostat.compare import decision_figures
    from remine.core.geostat.fit import auto_model

    c, v, a, t, z, a_t = _nonlinear_case(0)
    t, z, a_t = t[::4], z[::4], a_t[::4]
    params = {"n_ensemble": 1, "max_epochs": 5, "n_neighbors": 8}
    table = compare_with_kriging(c, v, k=3, covariates=a, truth=(t, z, a_t), threshold=1.0, cutoffs=[0.0, 2.0],
                                 hybrid_params=params)
    truth = table.attrs["summary"]["truth"]
    assert list(truth["metrics"].index) == ["ok", "hybrid", "ked"]
    ok, _ = OrdinaryKriging(auto_model(c, v)).fit(c, v).predict(t)
    assert truth["metrics"].loc["ok", "rmse"] == pytest.approx(np.sqrt(np.mean((ok - z) ** 2)), rel=1e-12)
    for m in ("ok", "hybrid", "ked"):
        p = truth["predictions"][m]
        assert p.shape == z.shape and np.all(np.isfinite(p)) and np.all(truth["std"][m] >= 0)
        assert truth["metrics"].loc[m, "mae"] == pytest.approx(np.mean(np.abs(p - z)))
        cover = np.mean(np.abs(p - z) <= 1.6448536269514722 * truth["std"][m])
        assert truth["metrics"].loc[m, "coverage90"] == pytest.approx(cover)
    expected = decision_figures(z, truth["predictions"], 1.0, [0.0, 2.0])
    pd.testing.assert_frame_equal(truth["decision"], expected)
    assert list(truth["decision"].index) == ["ok", "hybrid", "ked", "truth"]
    with pytest.raises(InputError, match="truth needs covariates at its locations"):
        compare_with_kriging(c, v, k=3, covariates=a, truth=(t, z), hybrid_params=params)


def test_class_map_covariate_one_hot_through_rasters_and_nodata_cells_warned(demo_scene, tmp_path):
    """A class map (the demo's truth_class: uint8, colour table, 0 = nodata) is categorical in raster_covariates and
    one-hot encoded by hybrid_kriging_raster: one feature per class met at the samples (9 minerals), named after
    the raster band; the maps are finite wherever the class map has a class, NaN on its 210 nodata cells (the
    scene's corner rows + cols < 20), which are counted and reported with a RemineWarning."""
    import rasterio

    from remine.core.errors import RemineWarning
    from remine.core.geostat.hybrid_map import hybrid_kriging_raster
    from remine.core.points import read_points

    coords = read_points(demo_scene["samples"], "Ca_ppm").coords[:, :2]
    table, names, categorical = raster_covariates([demo_scene["truth_class"]], coords)
    assert categorical == [0] and names == ["truth_class:dominant mineral"]
    classes = np.unique(table[:, 0]).astype(int)
    assert list(classes) == list(range(1, 10))
    with pytest.warns(RemineWarning, match="210 of 90000 grid cells have no covariate value"):
        res = hybrid_kriging_raster(demo_scene["samples"], "Ca_ppm", str(tmp_path / "ca.tif"),
                                    str(tmp_path / "ca_std.tif"), covariates=[demo_scene["truth_class"]],
                                    n_neighbors=8, n_ensemble=1, max_epochs=5, scheduler="")
    assert res["features"] == [f"truth_class:dominant mineral={c}" for c in classes]
    assert res["n_no_covariate"] == 210
    with rasterio.open(res["prediction"]) as src, rasterio.open(res["std"]) as sd, \
            rasterio.open(demo_scene["truth_class"]) as cls:
        est, std, has_class = src.read(1), sd.read(1), cls.read(1) > 0
    assert np.all(np.isfinite(est[has_class])) and np.all(std[has_class] > 0)
    assert np.all(np.isnan(est[~has_class])) and np.all(np.isnan(std[~has_class])) and (~has_class).sum() == 210


def test_anvari2025_architecture_runs_with_honest_inputs(meuse):
    c, v, _ = meuse
    reg = HybridKrigingRegressor(LOGZN, architecture="anvari2025", n_ensemble=1, max_epochs=2).fit(c, v)
    assert len(reg.histories_[0]["loss"]) == 2
    assert np.all(np.isfinite(reg.predict(c[:5] + 10.0)))


def test_anvari2025_is_the_papers_network_and_training():
    """architecture="anvari2025" is the network and training of Anvari et al. (2025) as the authors' notebook
    (GCNN-RNN-Geostatistical-Deep-Learning-Framework, GCNN-RNN.ipynb) and issue 17 list them: Conv1D(32, kernel 1,
    L2 1e-4) -> LeakyReLU -> Dropout 0.2 -> BiLSTM(32) -> Dropout 0.2 -> Dense 32 ReLU -> Dense 1; Adam 1e-4, MSE,
    batch 8, <= 200 epochs, early stopping (patience 30, best weights), ReduceLROnPlateau (patience 10, x 0.5,
    min_lr 1e-6), whatever the regressor's own training parameters."""
    from torch import nn

    from remine.core.geostat._hybridnet import build_network, forward, optimizers, train_member

    net = build_network("anvari2025", 9, 12, 16, 0.1)  # the regressor's hidden and dropout do not apply
    assert (net.conv.in_channels, net.conv.out_channels, net.conv.kernel_size) == (9 + 12, 32, (1,))
    with torch.no_grad():
        assert float(net.penalty()) == pytest.approx(1e-4 * float((net.conv.weight ** 2).sum()))  # Keras l2(1e-4)
    assert isinstance(net.act, nn.LeakyReLU) and net.act.negative_slope == 0.3  # Keras LeakyReLU() default
    assert isinstance(net.drop, nn.Dropout) and net.drop.p == 0.2
    lstm = net.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == (32, 32, 1, True)
    dense, relu, out = net.head
    assert (dense.in_features, dense.out_features, out.in_features, out.out_features) == (64, 32, 32, 1)
    assert isinstance(relu, nn.ReLU)
    assert torch.all(lstm.bias_ih_l0[32:64] == 1) and torch.all(lstm.bias_hh_l0 == 0)  # Keras unit_forget_bias
    reg = HybridKrigingRegressor(architecture="anvari2025", max_epochs=300, learning_rate=5e-3, batch_size=32,
                                 patience=5, weight_decay=1e-2)
    settings = reg._settings()
    assert {k: settings[k] for k in ("learning_rate", "batch_size", "max_epochs", "patience", "weight_decay")} == \
        {"learning_rate": 1e-4, "batch_size": 8, "max_epochs": 200, "patience": 30, "weight_decay": 0.0}
    opt, plateau = optimizers(net, settings)
    assert type(opt) is torch.optim.Adam and opt.defaults["lr"] == 1e-4 and opt.defaults["eps"] == 1e-7
    assert (plateau.factor, plateau.patience, plateau.min_lrs, plateau.threshold_mode, plateau.threshold) == \
        (0.5, 10, [1e-6], "abs", 1e-4)
    # trained on noise: the validation loss is the MSE of the kept (best) weights, 30 epochs after the best
    g = torch.Generator().manual_seed(0)
    seq, static, y = torch.randn(48, 4, 9, generator=g), torch.randn(48, 12, generator=g), torch.randn(48, generator=g)
    torch.manual_seed(0)
    net = build_network("anvari2025", 9, 12, 16, 0.1)
    hist = train_member(net, seq, static, y, np.arange(32), np.arange(32, 48), settings, 0)
    assert hist["best_epoch"] > 0 and len(hist["loss"]) == min(200, hist["best_epoch"] + 30)
    mse = np.mean((forward(net, seq[32:].numpy(), static[32:].numpy()) - y[32:].numpy()) ** 2)
    assert mse == pytest.approx(hist["val_loss"][hist["best_epoch"] - 1], rel=1e-5)


def test_bad_inputs(meuse):
    c, v, cov = meuse
    with pytest.raises(InputError, match="5 valid points for n_neighbors=16; expected at least"):
        HybridKrigingRegressor(LOGZN).fit(c[:5], v[:5])
    v_nan = v.copy()
    v_nan[:4] = np.nan
    reg = HybridKrigingRegressor(LOGZN, n_ensemble=1, max_epochs=1)
    with pytest.warns(UserWarning, match="dropped 4 of 155 points"):
        reg.fit(c, v_nan)
    assert reg.input_info_["n_nan"] == 4 and len(reg.values_) == 151
    bad_cov = cov.copy()
    bad_cov.loc[[3, 9], "dist"] = np.nan
    with pytest.raises(InputError, match="2 of 155 points have no covariate value .*: 3, 9"):
        HybridKrigingRegressor(LOGZN, n_ensemble=1, max_epochs=1).fit(c, v, bad_cov)
    with pytest.raises(InputError, match="fitted without covariates"):
        reg.predict(c[:2], cov.iloc[:2])
    with pytest.raises(InputError, match="architecture 'transformer' unknown"):
        HybridKrigingRegressor(LOGZN, architecture="transformer").fit(c, v)
    with pytest.raises(InputError, match="155 valid points for k=200 folds; expected at least 400"):
        compare_with_kriging(c, v, k=200)


def test_diverging_training_stops_with_a_message(meuse):
    c, v, _ = meuse
    with pytest.raises(InputError, match="training diverged .*epoch"):
        HybridKrigingRegressor(LOGZN, n_ensemble=1, max_epochs=30, learning_rate=1e12).fit(c, v * 1e30)


def test_cancel_within_an_epoch(meuse):
    class CancelAfter(Progress):
        def __init__(self, n):
            self.calls, self.n = 0, n

        def is_cancelled(self):
            self.calls += 1
            return self.calls > self.n

    c, v, _ = meuse
    progress = CancelAfter(2)  # the third batch of the first epoch
    with pytest.raises(CancelledError):
        HybridKrigingRegressor(LOGZN, n_ensemble=1, max_epochs=50).fit(c, v, progress=progress)
    assert progress.calls == 3


def test_without_torch_raises_dependency_error():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from remine.core.geostat import HybridKrigingRegressor\n"
            "from remine.core.errors import DependencyError\n"
            "try:\n"
            "    HybridKrigingRegressor().fit(np.random.rand(30, 2), np.random.rand(30))\n"
            "except DependencyError as e:\n"
            "    print('OK', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert "OK the Python package 'torch' (CNN classifiers, hybrid kriging" in out.stdout, out.stderr
    assert "Check dependencies" in out.stdout and "pip install 'remine[deep]'" in out.stdout
