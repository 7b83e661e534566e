"""Savitzky–Golay, derivatives, SNV, brightness, bad bands, ASD splice correction, transformers."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.spectra import (
    SNV,
    BadBandRemover,
    BrightnessNormaliser,
    Derivative,
    SavGol,
    SpliceCorrector,
    bad_band_mask,
    brightness_normalise,
    derivative,
    savgol,
    snv,
    splice_correction,
)

NAMES, WL, FWHM, REFL = usgs_library()


def test_savgol_keeps_polynomials_and_validates_window():
    x = np.arange(50.0)
    quad = np.vstack([1 + 0.5 * x - 0.01 * x ** 2, 2 - x])
    np.testing.assert_allclose(savgol(quad, 7, 2), quad, atol=1e-10)
    with pytest.raises(InputError, match="window_length must be odd"):
        savgol(quad, 8, 2)


def test_derivatives_on_uneven_grid():
    wl = np.cumsum(np.linspace(1, 3, 60)) + 400
    y = 0.2 + 1e-3 * (wl - 400) + 2e-6 * (wl - 400) ** 2
    d1 = derivative(y, wl, 1)
    np.testing.assert_allclose(d1[1:-1], 1e-3 + 4e-6 * (wl[1:-1] - 400), rtol=1e-3)
    d2 = derivative(y, wl, 2)
    np.testing.assert_allclose(d2[3:-3], 4e-6, rtol=0.05)
    with pytest.raises(InputError, match="order must be 1 or 2"):
        derivative(y, wl, 3)


def test_snv_and_brightness():
    out = snv(REFL)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(snv(np.full((1, 5), 0.3)), 0)
    np.testing.assert_allclose(np.linalg.norm(brightness_normalise(REFL), axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(brightness_normalise(2 * REFL[:3], "max"), brightness_normalise(REFL[:3], "max"))
    with pytest.raises(InputError, match="brightness method"):
        brightness_normalise(REFL, "median")


def test_bad_band_mask():
    bad = bad_band_mask(WL)
    assert bad[(WL > 1360) & (WL < 1440)].all() and bad[(WL > 1800) & (WL < 1950)].all() and bad[WL > 2460].all()
    assert not bad[(WL > 500) & (WL < 1300)].any()
    bbl = np.ones(224)
    bbl[5] = 0
    values = REFL[:2].copy()
    values[:, 7] = np.nan
    bad = bad_band_mask(WL, windows_nm=None, bbl=bbl, min_nm=400, values=values)
    assert bad[5] and bad[7] and bad[WL < 400].all() and bad.sum() == 2 + (WL < 400).sum()
    with pytest.raises(InputError, match="bbl has 3 entries"):
        bad_band_mask(WL, bbl=[1, 1, 0])


def test_splice_correction_removes_detector_steps():
    wl = np.arange(350.0, 2501.0)
    smooth = 0.3 + 0.1 * np.sin(wl / 300.0)
    jumped = smooth.copy()
    jumped[wl <= 1000] *= 1.06  # VNIR detector 6 % high
    jumped[wl > 1800] *= 0.95   # SWIR2 5 % low
    fixed = splice_correction(jumped, wl)
    np.testing.assert_allclose(fixed, smooth, rtol=2e-3)
    with pytest.raises(InputError, match="needs bands on both sides"):
        splice_correction(REFL[:1, :50], WL[:50])


def test_transformers_chain_and_clone():
    pipe = make_pipeline(BadBandRemover(wavelengths_nm=WL), SavGol(7, 2), SNV())
    out = clone(pipe).fit_transform(REFL)
    keep = ~bad_band_mask(WL)
    np.testing.assert_allclose(out, snv(savgol(REFL[:, keep], 7, 2)), atol=1e-6)
    np.testing.assert_array_equal(pipe.fit(REFL)[0].wavelengths_out_, WL[keep])
    assert Derivative(wavelengths_nm=WL).fit_transform(REFL).shape == REFL.shape
    assert BrightnessNormaliser().get_params() == {"method": "l2"}
    wl = np.arange(350.0, 2501.0)
    assert SpliceCorrector(wavelengths_nm=wl).fit_transform(np.ones((2, wl.size))).shape == (2, wl.size)
