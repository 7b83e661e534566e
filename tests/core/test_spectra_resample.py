"""Gaussian-SRF resampling: identity, flat spectra (hypothesis), analytic integrals, sensors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remine.core.data import usgs_library
from remine.core.errors import InputError
from remine.core.spectra import Resampler, SpectralLibrary, resample, sensor_bands

NAMES, WL, FWHM, REFL = usgs_library()


def test_same_grid_is_identity():
    np.testing.assert_array_equal(resample(REFL, WL, WL), REFL)
    # same centres and widths as the source: nothing left to convolve
    np.testing.assert_array_equal(resample(REFL, WL, WL, FWHM, source_fwhm_nm=FWHM), REFL)


@settings(max_examples=40, deadline=None)
@given(level=st.floats(0.0, 2.0), fwhm=st.floats(0.5, 200.0), start=st.floats(384.0, 2000.0),
       step=st.floats(1.0, 50.0))
def test_flat_spectrum_stays_flat(level, fwhm, start, step):
    target = np.arange(start, min(start + 40 * step, 2500.0), step)
    out = resample(np.full((2, 224), level), WL, target, fwhm)
    np.testing.assert_allclose(out, level, rtol=1e-12, atol=1e-12)


def test_narrow_srf_between_two_source_bands_is_interpolated():
    """Found by hypothesis: a 1.83 nm SRF at 1506.3 nm lies in the gap of the AVIRIS bands (no source band
    within ±5 σ); it must be interpolated, not NaN."""
    target = np.arange(1483.274540072842, 1483.274540072842 + 40 * 11.517053280669716, 11.517053280669716)
    out = resample(np.full((1, 224), 0.7), WL, target, 1.8344922580734506)
    np.testing.assert_allclose(out, 0.7, rtol=1e-12, atol=1e-12)


def test_gaussian_srf_matches_analytic_convolution():
    wl = np.arange(400.0, 2500.0, 1.0)
    values = 0.3 + 0.1 * np.sin(wl / 50.0)
    target, fwhm = np.array([800.0, 1500.0, 2100.0]), 30.0
    sigma = fwhm / 2.3548200450309493
    # sin convolved with a unit Gaussian is damped by exp(-(k sigma)^2 / 2), k = 1/50 per nm
    expected = 0.3 + 0.1 * np.exp(-0.5 * (sigma / 50.0) ** 2) * np.sin(target / 50.0)
    np.testing.assert_allclose(resample(values, wl, target, fwhm), expected, atol=2e-5)


def test_to_sentinel2_and_outside_bands():
    wl_s2, fwhm_s2 = sensor_bands("sentinel2")
    out = resample(REFL[:3], WL, wl_s2, fwhm_s2)
    assert out.shape == (3, 13) and np.isfinite(out).all()
    band4 = np.argmin(np.abs(wl_s2 - 664.6))  # red band ~ mean reflectance around 665 nm
    near = (WL > 650) & (WL < 680)
    np.testing.assert_allclose(out[:, band4], REFL[:3, near].mean(axis=1), rtol=0.02)
    partial = resample(REFL[:1], WL, [300.0, 1000.0], 10.0)
    assert np.isnan(partial[0, 0]) and np.isfinite(partial[0, 1])
    with pytest.raises(InputError, match="do not overlap"):
        resample(REFL[:1], WL, [3000.0, 4000.0])
    with pytest.raises(InputError, match="unknown sensor"):
        sensor_bands("sentinel9")


def test_bad_inputs():
    with pytest.raises(InputError, match="not monotonic"):
        resample(REFL[:1], WL, [1000.0, 900.0])
    with pytest.raises(InputError, match="target FWHM must be"):
        resample(REFL[:1], WL, [900.0, 1000.0], [10.0])
    with pytest.raises(InputError, match="224 wavelengths"):
        resample(REFL[:1, :100], WL, [900.0])


def test_library_and_transformer():
    lib = SpectralLibrary.usgs().subset([0, 1])
    target = np.arange(450.0, 2400.0, 25.0)
    res = lib.resampled(target, 25.0)
    np.testing.assert_array_equal(res.values, resample(lib.values, WL, target, 25.0, FWHM))
    tr = Resampler(wavelengths_nm=WL, target_wavelengths_nm=target, target_fwhm_nm=25.0).fit(REFL)
    np.testing.assert_array_equal(tr.wavelengths_out_, target)
    assert tr.transform(REFL).shape == (len(REFL), len(target))
