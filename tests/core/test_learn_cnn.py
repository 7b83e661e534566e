"""CNN1D / CNN2D (torch CPU): learning, seeds, early stopping, MC dropout, patches on rasters, no torch."""
import os
import subprocess
import sys

import numpy as np
import rasterio
import torch  # the optional "deep" extra, part of the dev environment

from remine.core.learn import CNN1D, CNN2D, build_training_set, fit_model, predict_raster
from remine.core.learn.cnn import CNN1DRegressor

torch.set_num_threads(1)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "learn")
CUBE = os.path.join(DATA, "cube.tif")
ROIS = os.path.join(DATA, "rois.gpkg")
SMALL = dict(channels=8, epochs=25, batch_size=32, n_threads=1, learning_rate=3e-3)


def spectra(n=300, seed=0):
    """Three classes of smooth 40-band spectra differing by an absorption feature position."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    bands = np.arange(40)
    X = 0.5 - 0.2 * np.exp(-((bands[None, :] - (10 + 10 * y)[:, None]) ** 2) / 8.0)
    X = X * rng.uniform(0.8, 1.2, (n, 1)) + 0.01 * rng.standard_normal((n, 40))
    return X.astype(np.float32), np.array(["a", "b", "c"])[y]


def test_cnn1d_learns_and_is_reproducible():
    X, y = spectra()
    Xt, yt = spectra(150, seed=1)
    a = CNN1D(**SMALL).fit(X, y)
    b = CNN1D(**SMALL).fit(X, y)
    assert a.score(Xt, yt) > 0.9
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))  # same seed, same network
    assert np.allclose(a.predict_proba(Xt).sum(axis=1), 1, atol=1e-6)
    std = a.predict_std(Xt)
    assert std.shape == (150,) and np.all(std >= 0) and std.max() > 0  # MC dropout varies


def test_early_stopping_and_class_weights():
    X, y = spectra()
    net = CNN1D(**dict(SMALL, epochs=200, patience=2)).fit(X, y)
    assert net.n_epochs_ < 200 and len(net.validation_curve_) == net.n_epochs_
    best = int(np.argmin(net.validation_curve_))
    assert net.n_epochs_ == best + 1 + 2  # stopped `patience` epochs after the best one
    keep = (y != "c") | (np.arange(len(y)) % 10 == 0)  # rare class c
    weighted = CNN1D(**SMALL).fit(X[keep], y[keep])
    Xt, yt = spectra(150, seed=1)
    assert np.mean(weighted.predict(Xt[yt == "c"]) == "c") > 0.8


def test_cnn1d_regressor():
    X, y = spectra()
    target = X[:, 15] * 100.0
    reg = CNN1DRegressor(**dict(SMALL, epochs=40)).fit(X, target)
    assert reg.score(X, target) > 0.8
    assert reg.predict_std(X[:20]).shape == (20,)


def test_cnn2d_on_patches_maps_a_raster(tmp_path):
    ts = build_training_set(CUBE, ROIS, label_field="mineral", patch_size=3)
    model = fit_model(CNN2D(**dict(SMALL, epochs=15)), ts)
    out = predict_raster(model, CUBE, str(tmp_path / "cnn2d.tif"), max_bytes=200_000)
    with rasterio.open(out["map"]) as ds:
        codes = ds.read(1)
    with rasterio.open(out["uncertainty"]) as ds:
        assert list(ds.descriptions) == ["entropy", "margin", "mc_dropout_std"]
        mc = ds.read(3)
    # the map at the training pixels equals the network's prediction on the training patches
    rows, cols = rasterio.transform.rowcol(rasterio.open(CUBE).transform, ts.coords[:, 0], ts.coords[:, 1])
    names = np.array(["no data"] + model.classes)
    assert np.array_equal(names[codes[rows, cols]], model.estimator.predict(ts.X))
    assert np.mean(names[codes[rows, cols]] == ts.y) > 0.9
    assert np.all(codes[:3, :3] == 0) and np.isnan(mc[:3, :3]).all() and np.nanmax(mc) > 0


def test_cnn_without_torch_raises_dependency_error():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from remine.core.learn import make_estimator\n"
            "from remine.core.errors import DependencyError\n"
            "try:\n"
            "    make_estimator('cnn1d').fit(np.zeros((20, 5)), np.arange(20) % 2)\n"
            "except DependencyError as e:\n"
            "    print('OK', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "OK the Python package 'torch' (CNN classifiers, hybrid kriging" in out.stdout, out.stderr
    assert "Check dependencies" in out.stdout and "pip install 'remine[deep]'" in out.stdout
