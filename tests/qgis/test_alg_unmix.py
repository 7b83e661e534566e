"""remine:unmix, remine:extractendmembers, remine:closecomposition through real QGIS (processing.run)."""
import os

import numpy as np
import pandas as pd
import pytest
import rasterio
from qgis.core import QgsProcessingException

from remine.core.demo import MINERALS, mineral_spectra
from remine.core.spectra import read_library, write_library
from remine.core.spectra.library import SpectralLibrary

M = len(MINERALS)


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(), list(ds.descriptions)


@pytest.fixture(scope="module")
def library_csv(tmp_path_factory):
    names, wl, fwhm, spectra = mineral_spectra()
    path = str(tmp_path_factory.mktemp("lib") / "demo_minerals.csv")
    write_library(SpectralLibrary(names, wl, spectra, fwhm_nm=fwhm), path)
    return path


def test_unmix_with_library_file(remine_processing, demo_scene, library_csv, tmp_path):
    import processing

    out = str(tmp_path / "abund.tif")
    res = processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 0, "LIBRARY": library_csv,
                                          "METHOD": 1, "NORMALISE": True, "INTERVALS": True, "OUTPUT": out})
    assert res["OUTPUT"] == out
    data, names = read(out)
    assert names[:M + 1] == list(MINERALS) + ["rmse"] and len(names) == 3 * M + 1
    total = np.nansum(data[:M], axis=0)
    valid = np.isfinite(data[0])
    assert np.allclose(total[valid], 100, atol=1e-3)
    assert os.path.exists(out + ".passport.json") and os.path.exists(os.path.splitext(out)[0] + ".qml")


def test_unmix_with_roi_means(remine_processing, demo_scene, tmp_path):
    import processing

    out = str(tmp_path / "roi_abund.tif")
    processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 1, "ROIS": demo_scene["rois"],
                                    "ROI_FIELD": "mineral", "GROUP_FIELD": "mineral", "METHOD": 0, "INTERVALS": False,
                                    "OUTPUT": out})
    data, names = read(out)
    assert set(MINERALS) <= set(names)  # one bundle per mineral (several ROIs each), by the chosen field
    assert any(n.startswith("spectrum_") for n in names)


def test_unmix_library_outside_cube_range(remine_processing, demo_scene, tmp_path):
    import processing

    names, wl, _, spectra = mineral_spectra()
    ftir = str(tmp_path / "ftir.csv")
    write_library(SpectralLibrary(names, wl + 10000.0, spectra), ftir)
    out = tmp_path / "none.tif"
    with pytest.raises(QgsProcessingException, match="the ranges do not overlap"):
        processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 0, "LIBRARY": ftir,
                                        "OUTPUT": str(out)})
    assert not out.exists()


def test_extract_endmembers(remine_processing, demo_scene, tmp_path):
    import processing

    out = str(tmp_path / "endmembers.csv")
    processing.run("remine:extractendmembers", {"INPUT": demo_scene["cube"], "N_ENDMEMBERS": 9, "METHOD": 0,
                                                "MAX_PIXELS": 20000, "OUTPUT": out})
    lib = read_library(out)
    assert len(lib) == 9 and lib.n_bands == 224 and lib.names == [f"EM{k}" for k in range(1, 10)]
    assert "library_match" in lib.metadata.columns
    assert len(set(lib.metadata["suggested_mineral"]) & set(MINERALS)) >= 7


@pytest.fixture(scope="module")
def members(demo_scene, tmp_path_factory):
    from remine.core.raster import read_cube, write_raster

    folder = tmp_path_factory.mktemp("members")
    truth = read_cube(demo_scene["truth_abundance"], window=((0, 50), (0, 50)), require_wavelengths=False)
    rng = np.random.default_rng(0)
    paths = []
    for k in range(2):
        path = str(folder / f"m{k}.tif")
        write_raster(path, (100 * np.nan_to_num(truth.data) + rng.normal(0, 3, truth.data.shape)).astype("float32"),
                     like=truth, band_names=list(MINERALS))
        paths.append(path)
    return paths


def test_close_composition(remine_processing, members, tmp_path):
    import processing

    out = str(tmp_path / "closed.tif")
    processing.run("remine:closecomposition", {"INPUT": members, "METHOD": 0, "INPUT_SCALE": 0, "OUTPUT": out})
    data, names = read(out)
    assert names[:M] == list(MINERALS) and names[-1] == "n_clipped" and len(names) == 3 * M + 1
    assert np.allclose(data[:M].sum(axis=0), 100, atol=1e-3)
    assert os.path.exists(out + ".passport.json")


def test_close_composition_band_count_mismatch(remine_processing, members, tmp_path):
    import processing

    out = tmp_path / "bad.tif"
    with pytest.raises(QgsProcessingException, match="has 9 bands but 2 minerals"):
        processing.run("remine:closecomposition", {"INPUT": members, "MINERALS": "kaolinite, calcite",
                                                   "OUTPUT": str(out)})
    assert not out.exists()


def test_unmix_mesma_reports_the_spectra_used(remine_processing, demo_scene, tmp_path):
    """VARIABILITY = MESMA: two USGS spectra for kaolinite and calcite (4 models); the scene was made
    with the first of each, which MESMA picks for most pixels where the mineral is abundant."""

    import processing

    names, wl, fwhm, spectra = mineral_spectra()
    lib = SpectralLibrary.usgs()
    extra = [lib.index("Kaolinite KGa-1"), lib.index("Calcite HS48.3B")]
    path = str(tmp_path / "two_per_mineral.csv")
    write_library(SpectralLibrary(list(lib.names[i] for i in extra) + list(names), wl,
                                  np.vstack([lib.values[extra], spectra]),
                                  pd.DataFrame({"mineral": ["kaolinite", "calcite"] + list(names)}), fwhm_nm=fwhm),
                  path)
    out = str(tmp_path / "mesma.tif")
    processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 0, "LIBRARY": path,
                                    "METHOD": 1, "NORMALISE": True, "INTERVALS": True, "VARIABILITY": 1,
                                    "GROUP_FIELD": "mineral", "OUTPUT": out})
    data, band_names = read(out)
    minerals = ["kaolinite", "calcite"] + [m for m in MINERALS if m not in ("kaolinite", "calcite")]
    assert band_names[:M + 1] == minerals + ["rmse"] and band_names[-M:] == [f"spectrum_{m}" for m in minerals]
    valid = np.isfinite(data[0])
    assert np.allclose(np.nansum(data[:M], axis=0)[valid], 100, atol=1e-3)
    for k in range(2):
        used = data[-M + k][valid]
        assert set(np.unique(used)) <= {0.0, 1.0, 2.0}
        abundant = data[k][valid] > 20
        assert np.mean(used[abundant] == 2) > 0.9  # the scene's spectrum comes second in the bundle
    assert set(np.unique(data[-1][valid])) <= {0.0, 1.0}  # one spectrum: 1 where present
    with open(out + ".passport.json") as f:
        assert "mesma" in f.read()


def test_calibrate_intervals_on_reference_points(remine_processing, demo_scene, library_csv, tmp_path):
    """Demo abundances (true spectra, FCLS) calibrated on 300 reference points carrying the true
    abundances (%): the passport says the scale and the references' coverage before/after."""
    import json

    import geopandas as gpd
    import processing

    abund = str(tmp_path / "abund.tif")
    processing.run("remine:unmix", {"INPUT": demo_scene["cube"], "ENDMEMBER_SOURCE": 0, "LIBRARY": library_csv,
                                    "METHOD": 0, "OUTPUT": abund})
    with rasterio.open(demo_scene["truth_abundance"]) as ds:
        truth, transform, crs = ds.read(), ds.transform, ds.crs
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, truth.shape[1], 300), rng.integers(0, truth.shape[2], 300)
    x, y = rasterio.transform.xy(transform, rows, cols)
    refs = str(tmp_path / "refs.gpkg")
    gpd.GeoDataFrame({m: 100 * truth[k, rows, cols] for k, m in enumerate(MINERALS)},
                     geometry=gpd.points_from_xy(x, y), crs=crs).to_file(refs, driver="GPKG")
    out = str(tmp_path / "calibrated.tif")
    processing.run("remine:calibrateintervals", {"INPUT": abund, "REFERENCES": refs, "OUTPUT": out})
    metrics = json.load(open(out + ".passport.json"))["metrics"]
    assert metrics["n_references"] > 250 and metrics["coverage_after"] >= 0.9 and metrics["scale"] > 0
    data, names = read(out)
    before, _ = read(abund)
    assert names == list(MINERALS) + ["rmse"] + [f"lower_{m}" for m in MINERALS] + [f"upper_{m}" for m in MINERALS]
    assert 0.5 < metrics["scale"] < 2  # the demo's intervals hold already (FCLS with the model-form term: 0.95)
    assert np.array_equal(data[:M + 1], before[:M + 1], equal_nan=True)  # abundances and RMSE unchanged
    with open(out[:-4] + ".qml") as calibrated, open(abund[:-4] + ".qml") as unmixed:
        assert calibrated.read() == unmixed.read()   # styled as unmix's abundances: the first mineral's ramp, 0–100 %
