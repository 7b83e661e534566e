"""fuse: VNIR–SWIR + FTIR spectra of the same samples into one feature table."""
import numpy as np
import pandas as pd
import pytest

from remine.core.errors import InputError
from remine.core.progress import PrintProgress
from remine.core.spectra import SNV, SpectralLibrary, continuum_removed, fuse


@pytest.fixture
def sources():
    rng = np.random.default_rng(0)
    vnir = SpectralLibrary(["s1", "s2", "s3", "s4"], np.linspace(400, 2500, 50), rng.uniform(0.1, 0.9, (4, 50)))
    ftir = SpectralLibrary(["s3", "s1", "s2", "s9"], np.linspace(2500, 15000, 30), rng.uniform(0, 2, (4, 30)),
                           metadata=pd.DataFrame({"sample": ["S3", "S1", "S2", "S9"]}))
    return vnir, ftir


def test_fuse_matches_ids_and_keeps_band_origin(sources, capsys):
    vnir, ftir = sources
    progress = PrintProgress()
    fused = fuse({"vnir_swir": vnir, "ftir": ftir},
                 preprocess={"vnir_swir": lambda v, wl: continuum_removed(v, wl), "ftir": [SNV()]},
                 progress=progress)
    assert fused.sample_ids == ["s1", "s2", "s3"]
    assert fused.X.shape == (3, 80) and list(np.unique(fused.origin)) == ["ftir", "vnir_swir"]
    np.testing.assert_allclose(fused.X[0, :50], continuum_removed(vnir.values[0], vnir.wavelengths_nm))
    ftir_s1 = ftir.values[1]
    np.testing.assert_allclose(fused.X[0, 50:], (ftir_s1 - ftir_s1.mean()) / ftir_s1.std())
    assert fused.dropped == {"vnir_swir": ["s4"], "ftir": ["s9"]}
    expected = "warning: samples not present in every source were dropped: vnir_swir: s4; ftir: s9"
    assert expected in capsys.readouterr().out
    frame = fused.to_frame()
    assert frame.columns[0] == "vnir_swir:400.0 nm" and frame.columns[-1] == "ftir:15000.0 nm"
    np.testing.assert_allclose(fused.wavelengths_nm[50:], ftir.wavelengths_nm)


def test_fuse_by_metadata_field_and_feature_names_without_wavelengths(sources):
    vnir, ftir = sources
    vnir.metadata["sample"] = ["S1", "S2", "S3", "S4"]
    fused = fuse({"a": vnir, "b": ftir}, preprocess={"b": lambda v, wl: v[:, :3]}, id_field="sample")
    assert fused.sample_ids == ["S1", "S2", "S3"] and fused.feature_names[-1] == "b:f2"


def test_fuse_errors(sources):
    vnir, ftir = sources
    with pytest.raises(InputError, match="at least two named sources"):
        fuse({"a": vnir})
    with pytest.raises(InputError, match="no sample id is present in every source"):
        fuse({"a": vnir.subset([3]), "b": ftir.subset([3])})
    dup = SpectralLibrary(["s1", "s1"], vnir.wavelengths_nm, vnir.values[:2])
    with pytest.raises(InputError, match="duplicate sample ids s1"):
        fuse({"a": dup, "b": ftir})
    with pytest.raises(InputError, match="unknown source"):
        fuse({"a": vnir, "b": ftir}, preprocess={"c": SNV()})
