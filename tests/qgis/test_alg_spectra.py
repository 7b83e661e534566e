"""The Spectra algorithms through real QGIS Processing (processing.run), on the demo scene."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from remine.core.learn import TrainingSet
from remine.core.raster import read_cube
from remine.core.spectra import absorption_feature, continuum_removed, read_library, sensor_bands

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "spectra")


def run(name, params):
    import processing

    return processing.run(f"remine:{name}", params)


def test_algorithms_are_listed_with_help(remine_processing):
    names = {a.name() for a in remine_processing.algorithms()}
    assert {"importspectrallibrary", "continuumremoval", "resampletosensor", "absorptionfeature",
            "buildtrainingset"} <= names


def test_continuum_removal(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "cr.tif")
    res = run("continuumremoval", {"INPUT": demo_scene["cube"], "MIN_WAVELENGTH": 2000, "MAX_WAVELENGTH": 2450,
                                   "OUTPUT": out})
    cube, src = read_cube(res["OUTPUT"]), read_cube(demo_scene["cube"], window=((0, 300), (0, 300)))
    sel = (src.wavelengths_nm >= 2000) & (src.wavelengths_nm <= 2450)
    np.testing.assert_allclose(cube.wavelengths_nm, src.wavelengths_nm[sel], atol=1e-3)
    pixels = src.data[sel][:, 100, :].T
    np.testing.assert_allclose(cube.data[:, 100, :].T, continuum_removed(pixels, src.wavelengths_nm[sel]),
                               atol=1e-6)
    assert QgsRasterLayer(out, "cr").isValid()
    assert json.load(open(out + ".passport.json"))["metrics"]["bands"] == int(sel.sum())


def test_absorption_feature_and_window_outside(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "feat.tif")
    run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 1, "OUTPUT": out})
    feat, src = read_cube(out, require_wavelengths=False), read_cube(demo_scene["cube"])
    assert feat.band_names == ["position_nm", "depth", "width_nm"]
    expected = absorption_feature(src.data[:, 50, :].T, src.wavelengths_nm, (2150, 2250))
    np.testing.assert_allclose(feat.data[0, 50], expected["position_nm"], atol=1e-3, equal_nan=True)
    bad = str(tmp_path / "bad.tif")
    with pytest.raises(QgsProcessingException, match="outside the sensor range"):
        run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 0, "MIN_WAVELENGTH": 2400,
                                  "MAX_WAVELENGTH": 2700, "OUTPUT": bad})
    assert not os.path.exists(bad)


def test_resample_to_sentinel2_and_cancel(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "s2.tif")
    run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 0, "OUTPUT": out})
    cube = read_cube(out)
    np.testing.assert_allclose(cube.wavelengths_nm, sensor_bands("sentinel2")[0], atol=1e-3)
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    other = str(tmp_path / "cancelled.tif")
    import processing

    with pytest.raises(QgsProcessingException, match="cancelled by the user"):
        processing.run("remine:resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 1, "OUTPUT": other},
                       feedback=feedback)
    assert not os.path.exists(other)


def test_import_library_from_file_and_from_rois(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "asd.csv")
    run("importspectrallibrary", {"INPUT": os.path.join(DATA, "kaolinite_fieldspec4_v8.asd"), "OUTPUT": out})
    lib = read_library(out)
    assert lib.names == ["kaolinite_fieldspec4_v8"] and lib.n_bands == 2151
    sli = str(tmp_path / "rois.sli")
    run("importspectrallibrary", {"RASTER": demo_scene["cube"], "ROIS": demo_scene["rois"], "NAME_FIELD": "mineral",
                                  "STATISTIC": 0, "OUTPUT": sli})
    rois = read_library(sli)
    assert len(rois) == 27 and "kaolinite" in rois.names and rois.n_bands == 224
    with pytest.raises(QgsProcessingException, match="give a spectra file"):
        run("importspectrallibrary", {"OUTPUT": str(tmp_path / "none.csv")})
    assert not os.path.exists(tmp_path / "none.csv")


def test_build_training_set_classification_and_lab_errors(remine_processing, demo_scene, tmp_path):
    out, summary = str(tmp_path / "train.h5"), str(tmp_path / "summary.csv")
    res = run("buildtrainingset", {"INPUT": demo_scene["cube"], "ROIS": demo_scene["rois"], "LABEL_FIELD": "mineral",
                                   "MAX_PIXELS_PER_ROI": 20, "OUTPUT": out, "SUMMARY": summary})
    ts = TrainingSet.load(res["OUTPUT"])
    assert ts.is_classification and ts.X.shape[1] == 224 and len(set(ts.groups.tolist())) == 27
    table = pd.read_csv(res["SUMMARY"])
    assert list(table.columns) == ["class", "n_pixels", "n_rois", "fraction"] and table["n_pixels"].sum() == len(ts.y)
    assert json.load(open(out + ".passport.json"))["metrics"]["task"] == "classification"
    lab = tmp_path / "lab.csv"
    pd.DataFrame({"roi_id": [1, 2, 99], "Zn_ppm": [1.0, 2.0, 3.0]}).to_csv(lab, index=False)
    bad = str(tmp_path / "bad.h5")
    with pytest.raises(QgsProcessingException, match="lab table ids that match no ROI 'roi_id': 99"):
        run("buildtrainingset", {"INPUT": demo_scene["cube"], "ROIS": demo_scene["rois"], "LAB_TABLE": str(lab),
                                 "OUTPUT": bad, "SUMMARY": str(tmp_path / "bad.csv")})
    assert not os.path.exists(bad) and not os.path.exists(tmp_path / "bad.csv")


def test_resample_to_a_library_grid_with_fwhm(remine_processing, demo_scene, tmp_path):
    out = str(tmp_path / "lib_grid.tif")
    res = run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 4,
                                   "TARGET_LIBRARY": os.path.join(DATA, "usgs3_bigendian.sli"), "TARGET_FWHM": 20,
                                   "OUTPUT": out})
    cube = read_cube(res["OUTPUT"])
    lib = read_library(os.path.join(DATA, "usgs3_bigendian.sli"))
    np.testing.assert_allclose(cube.wavelengths_nm, lib.wavelengths_nm, atol=1e-3)
    np.testing.assert_allclose(cube.fwhm_nm, 20.0)
    with pytest.raises(QgsProcessingException, match="exactly one resampling target"):
        run("resampletosensor", {"INPUT": demo_scene["cube"], "TARGET": 3, "OUTPUT": str(tmp_path / "x.tif")})
    with pytest.raises(QgsProcessingException, match="give both the minimum and the maximum"):
        run("absorptionfeature", {"INPUT": demo_scene["cube"], "WINDOW": 0, "MIN_WAVELENGTH": 2100,
                                  "OUTPUT": str(tmp_path / "y.tif")})
    assert not os.path.exists(tmp_path / "x.tif") and not os.path.exists(tmp_path / "y.tif")


def test_build_training_set_with_augmentation(remine_processing, demo_scene, tmp_path):
    """Two copies per sample: three times the samples, the copies keep their ROI ids and differ from
    their sources; the settings are in the set's metadata and the passport."""
    out, summary = str(tmp_path / "aug.h5"), str(tmp_path / "aug.csv")
    run("buildtrainingset", {"INPUT": demo_scene["cube"], "ROIS": demo_scene["rois"], "LABEL_FIELD": "mineral",
                             "MAX_PIXELS_PER_ROI": 10, "AUGMENT_COPIES": 2, "AUGMENT_NOISE": 0.01,
                             "OUTPUT": out, "SUMMARY": summary})
    ts = TrainingSet.load(out)
    n = ts.metadata["augmented"]["n_original"]
    assert ts.n_samples == 3 * n and ts.metadata["augmented"]["noise"] == 0.01
    assert np.array_equal(ts.groups[:n], ts.groups[n:2 * n]) and np.array_equal(ts.y[:n], ts.y[2 * n:])
    assert np.abs(ts.X[n:2 * n] - ts.X[:n]).mean() > 0.005
    assert json.load(open(out + ".passport.json"))["metrics"]["augmented"]["n_copies"] == 2


@pytest.mark.parametrize("method, index", [("savgol", 0), ("derivative", 1), ("snv", 2)])
def test_preprocess_cube_equals_the_spectra_functions(remine_processing, demo_scene, tmp_path, method, index):
    from remine.core.spectra import derivative, savgol, snv

    out = str(tmp_path / f"{method}.tif")
    run("preprocesscube", {"INPUT": demo_scene["cube"], "METHOD": index, "WINDOW_LENGTH": 9, "POLYORDER": 2,
                           "MIN_WAVELENGTH": 1000, "MAX_WAVELENGTH": 2400, "OUTPUT": out})
    cube, full = read_cube(out), read_cube(demo_scene["cube"])
    keep = (full.wavelengths_nm >= 1000) & (full.wavelengths_nm <= 2400)
    np.testing.assert_allclose(cube.wavelengths_nm, full.wavelengths_nm[keep])
    X = full.data[keep].reshape(int(keep.sum()), -1).T.astype(np.float64)
    expected = {"savgol": lambda: savgol(X, 9, 2), "snv": lambda: snv(X),
                "derivative": lambda: derivative(X, full.wavelengths_nm[keep], 1, 9, 2)}[method]()
    got = cube.data.reshape(cube.data.shape[0], -1).T
    ok = np.isfinite(X).all(axis=1)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-4, atol=1e-5 * np.abs(expected[ok]).max())
    assert json.load(open(out + ".passport.json"))["metrics"]["method"] == method


def test_preprocess_cube_bad_window_leaves_nothing(remine_processing, demo_scene, tmp_path):
    out = tmp_path / "bad.tif"
    with pytest.raises(QgsProcessingException, match="window_length must be odd"):
        run("preprocesscube", {"INPUT": demo_scene["cube"], "METHOD": 0, "WINDOW_LENGTH": 8, "OUTPUT": str(out)})
    assert not out.exists()


def test_fuse_spectra_into_a_training_set_the_trainers_use(remine_processing, tmp_path):
    """VNIR–SWIR (USGS spectra of four minerals, 8 noisy samples each) + a synthetic FTIR library of the
    same samples (one sample missing): fused set, then remine:trainclassifier on it."""
    from remine.core.spectra import SpectralLibrary, write_library

    usgs = SpectralLibrary.usgs()
    rng = np.random.default_rng(0)
    minerals = ["kaolinite", "calcite", "gypsum", "goethite"]
    names, labels, vnir, ftir = [], [], [], []
    wn = np.linspace(4000.0, 600.0, 120)  # FTIR wavenumbers (cm-1)
    for k, m in enumerate(minerals):
        base = usgs.values[list(usgs.metadata["mineral"]).index(m)]
        peak = np.exp(-0.5 * ((wn - (1000 + 500 * k)) / 40.0) ** 2)
        for j in range(8):
            names.append(f"{m}_{j}")
            labels.append(m)
            vnir.append(base * rng.uniform(0.9, 1.1) + rng.normal(0, 0.01, base.size))
            ftir.append(peak * rng.uniform(0.8, 1.2) + rng.normal(0, 0.02, wn.size))
    vnir_path, ftir_path = str(tmp_path / "vnir.csv"), str(tmp_path / "ftir.csv")
    write_library(SpectralLibrary(names, usgs.wavelengths_nm, np.array(vnir),
                                  pd.DataFrame({"name": names, "mineral": labels})), vnir_path)
    write_library(SpectralLibrary(names[1:], np.sort(1e7 / wn), np.array(ftir)[1:, ::-1]), ftir_path)
    out = str(tmp_path / "fused.h5")
    run("fusespectra", {"VNIR_SWIR": vnir_path, "FTIR": ftir_path, "LABEL_FIELD": "mineral", "OUTPUT": out})
    ts = TrainingSet.load(out)
    assert ts.n_samples == 31 and ts.X.shape[1] == 224 + 120 and ts.classes == sorted(minerals)
    assert ts.metadata["fusion"]["dropped"] == {"vnir_swir": ["kaolinite_0"]}
    assert ts.metadata["fusion"]["features"] == {"ftir": 120, "vnir_swir": 224}
    res = run("trainclassifier", {"TRAINING_SET": out, "METHOD": 1, "N_SPLITS": 4,
                                  "OUTPUT_MODEL": str(tmp_path / "m.rmodel"),
                                  "OUTPUT_REPORT": str(tmp_path / "r.html")})
    assert res["OVERALL_ACCURACY"] > 0.9  # PLS-DA, whole samples held out


class WarningLog(QgsProcessingFeedback):
    """A feedback that keeps the warnings pushed to the log."""

    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, text):
        self.warnings.append(text)


def test_parameters_the_chosen_option_ignores_are_warned_about(remine_processing, tmp_path):
    import shutil

    import processing

    cube = str(tmp_path / "cube.tif")  # a copy: QGIS writes .aux.xml statistics beside the layers it opens
    shutil.copy(os.path.join(DATA, "..", "learn", "cube.tif"), cube)
    log = WarningLog()
    processing.run("remine:absorptionfeature", {"INPUT": cube, "WINDOW": 1, "MIN_WAVELENGTH": 1000,
                                                "OUTPUT": str(tmp_path / "f.tif")}, feedback=log)
    assert ["Custom window minimum (nm) (MIN_WAVELENGTH) is ignored: the window 'Al-OH 2150–2250 nm (kaolinite, "
            "muscovite, smectite)' is a preset; choose the custom window to use your own limits"] == log.warnings
    log = WarningLog()
    processing.run("remine:resampletosensor", {"INPUT": cube, "TARGET": 1, "TARGET_LIBRARY": cube,
                                               "OUTPUT": str(tmp_path / "l8.tif")}, feedback=log)
    assert "Target spectral library (TARGET_LIBRARY) is ignored: the target is 'Landsat 8 OLI (7 bands)'" in log.warnings
