"""save_model / load_model: round trips, manifest, and refusal of pickles, untrusted types, newer formats."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from remine.core.errors import InputError
from remine.core.learn import TrainedModel, load_model, make_estimator, save_model
from remine.core.spectra import SNV

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 12)).astype(np.float32)
Y = np.array(["alunite", "calcite", "kaolinite"])[RNG.integers(0, 3, 120)]
X[Y == "alunite", :3] += 2.0
WL = np.linspace(400, 2400, 12)


def _model(est, y=Y, task="classification"):
    return TrainedModel(estimator=est.fit(X, y), wavelengths_nm=WL, task=task,
                        classes=sorted(set(y)) if task == "classification" else None,
                        metrics={"overall_accuracy": 0.9})


@pytest.mark.parametrize("name,params", [("svm", {}), ("xgboost", {"n_estimators": 5}),
                                         ("extratrees", {"n_estimators": 5}), ("plsda", {}),
                                         ("cnn1d", {"epochs": 2, "channels": 4, "n_threads": 1}),
                                         ("stack", {"estimators": ["lda", "plsda"], "n_splits": 3})])
def test_round_trip_predicts_the_same(tmp_path, name, params):
    model = _model(make_estimator(name, **params))
    path = save_model(str(tmp_path / "m.rmodel"), model)
    back = load_model(path)
    assert np.array_equal(back.estimator.predict(X), model.estimator.predict(X))
    assert np.allclose(back.estimator.predict_proba(X), model.estimator.predict_proba(X))
    assert back.classes == ["alunite", "calcite", "kaolinite"] and np.allclose(back.wavelengths_nm, WL)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["estimator.skops", "manifest.json"]
        payload = z.read("estimator.skops")
    assert b"Booster" not in payload and b"torch" not in payload  # JSON text / numpy state_dict, no pickles


def test_manifest_describes_the_model(tmp_path):
    pipe = Pipeline([("preprocess", SNV()), ("model", make_estimator("ridge", task="regression"))])
    model = _model(pipe, y=X[:, 0] * 3, task="regression")
    path = save_model(str(tmp_path / "r.rmodel"), model)
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["format"] == "remine.model" and manifest["format_version"] == 1
    assert manifest["preprocessing"][0]["class"] == "remine.core.spectra.transformers.SNV"
    assert manifest["estimator"]["class"] == "sklearn.linear_model._ridge.Ridge"
    assert manifest["wavelengths_nm"][0] == 400 and manifest["metrics"] == {"overall_accuracy": 0.9}
    assert {"remine", "numpy", "scikit-learn", "skops"} <= set(manifest["versions"])
    back = load_model(path)
    assert np.allclose(back.estimator.predict(X), pipe.predict(X))


def test_pickle_is_refused(tmp_path):
    path = tmp_path / "model.rmodel"
    with open(path, "wb") as f:
        pickle.dump({"weights": [1, 2, 3]}, f)
    with pytest.raises(InputError, match="looks like a pickle.*refuses to load pickles"):
        load_model(str(path))
    joblib_file = tmp_path / "m.joblib"
    joblib_file.write_bytes(b"anything")
    with pytest.raises(InputError, match="pickle"):
        load_model(str(joblib_file))


def test_untrusted_type_is_refused(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    evil = Pipeline([("f", FunctionTransformer(func=os.system)), ("m", make_estimator("lda"))])
    model = TrainedModel(estimator=evil, wavelengths_nm=WL, task="classification")
    path = save_model(str(tmp_path / "evil.rmodel"), model)
    with pytest.raises(InputError, match="untrusted types \\['posix.system'\\]"):
        load_model(path)


def test_newer_format_is_refused(tmp_path):
    path = save_model(str(tmp_path / "m.rmodel"), _model(make_estimator("lda")))
    newer = tmp_path / "newer.rmodel"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        manifest["format_version"] = 7
        dst.writestr("manifest.json", json.dumps(manifest))
        dst.writestr("estimator.skops", src.read("estimator.skops"))
    with pytest.raises(InputError, match="format version 7.*reads versions up to 1: upgrade remine"):
        load_model(str(newer))


def test_bad_files_and_paths(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_model(str(tmp_path / "missing.rmodel"))
    text = tmp_path / "notes.rmodel"
    text.write_text("hello")
    with pytest.raises(InputError, match="is not a remine model file"):
        load_model(str(text))
    model = _model(make_estimator("lda"))
    with pytest.raises(InputError, match="output folder does not exist"):
        save_model(str(tmp_path / "nope" / "m.rmodel"), model)
    existing = tmp_path / "keep.rmodel"
    existing.write_bytes(b"old")
    with pytest.raises(InputError, match="exists"):
        save_model(str(existing), model, overwrite=False)
    assert existing.read_bytes() == b"old"
    with pytest.raises(InputError, match="expects a TrainedModel"):
        save_model(str(tmp_path / "m.rmodel"), model.estimator)
    assert not (tmp_path / "m.rmodel").exists()


def test_refusing_a_pickle_imports_neither_skops_nor_torch(tmp_path):
    # `import skops.io` lists scikit-learn's estimators (sklearn.utils.all_estimators), whose package walk imports
    # sklearn.externals.array_api_compat.torch and so torch itself (~2 s, ~180 MB): a file that is refused
    # anyway must be refused before that import.
    import subprocess
    import sys

    path = tmp_path / "model.rmodel"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    code = ("import sys\n"
            "from remine.core.errors import InputError\n"
            "from remine.core.learn import load_model\n"
            "try:\n"
            f"    load_model({str(path)!r})\n"
            "except InputError as e:\n"
            "    print('refused:', e)\n"
            "print('loaded:', sorted(m for m in ('skops.io', 'torch') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "refused:" in out.stdout and "refuses to load pickles" in out.stdout, out.stderr
    assert "loaded: []" in out.stdout, out.stdout


def test_loading_a_model_does_not_import_torch_and_leaves_it_importable(tmp_path):
    # load_model holds sklearn.externals.array_api_compat.torch by a placeholder while skops.io imports every
    # sklearn module (see test above); the model must load and predict, torch must stay unimported, and both
    # torch and the real compat module must import normally afterwards.
    import subprocess
    import sys

    pytest.importorskip("torch")  # the placeholder matters only where torch is installed (the dev/CI venv)
    rng = np.random.default_rng(0)
    X = rng.random((60, 5))
    y = np.repeat(["a", "b", "c"], 20)
    model = TrainedModel(estimator=make_estimator("ridge", task="classification").fit(X, y),
                         wavelengths_nm=np.arange(5.0) * 10 + 500, task="classification", classes=["a", "b", "c"])
    path = save_model(str(tmp_path / "m.rmodel"), model)
    np.save(tmp_path / "X.npy", X)
    code = ("import sys, numpy as np\n"
            "from remine.core.learn import load_model\n"
            f"m = load_model({path!r})\n"
            f"print('labels:', ''.join(m.estimator.predict(np.load({str(tmp_path / 'X.npy')!r}))))\n"
            "print('torch imported:', 'torch' in sys.modules)\n"
            "import sklearn.externals.array_api_compat.torch as compat, torch\n"
            "print('compat is real:', hasattr(compat, 'asarray'), torch.ones(2).sum().item())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert f"labels: {''.join(model.estimator.predict(X))}" in out.stdout, out.stderr
    assert "torch imported: False" in out.stdout, out.stdout
    assert "compat is real: True 2.0" in out.stdout, out.stdout + out.stderr
