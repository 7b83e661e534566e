"""Upper-hull continuum removal: exact against scipy's ConvexHull (Qhull) and hypothesis properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial import ConvexHull

from remine.core.data import usgs_library
from remine.core.errors import InputError, RemineWarning
from remine.core.spectra import ContinuumRemover, continuum_removed
from remine.core.spectra.continuum import continuum

NAMES, WL, FWHM, REFL = usgs_library()


def qhull_continuum(y, x):
    """Reference: upper hull from Qhull (two points far below close the polygon), interpolated."""
    low = y.min() - 1.0
    hull = ConvexHull(np.vstack([np.column_stack([x, y]), [[x[0], low], [x[-1], low]]]))
    vertices = np.sort([v for v in hull.vertices if v < len(x)])
    return np.interp(x, x[vertices], y[vertices])


def test_equals_qhull_on_every_shipped_usgs_spectrum():
    values = REFL.astype(np.float64)
    ours = continuum_removed(values, WL)
    reference = np.stack([v / qhull_continuum(v, WL) for v in values])
    assert np.abs(ours - reference).max() < 1e-6
    assert ours.shape == values.shape and ours.dtype == np.float64


def test_float32_and_subtract_and_single_spectrum():
    cr32 = continuum_removed(REFL, WL)
    assert cr32.dtype == np.float32
    np.testing.assert_allclose(cr32, continuum_removed(REFL.astype(float), WL), atol=1e-6)
    hull = continuum(REFL[0].astype(float), WL)
    np.testing.assert_allclose(continuum_removed(REFL[0].astype(float), WL, method="subtract"), REFL[0] - hull)
    with pytest.raises(InputError, match="method must be one of"):
        continuum_removed(REFL, WL, method="ratio")


def test_noisy_float32_equals_qhull_in_both_memory_orders():
    """Spectra made like benchmarks/bench_spectra.py (library x brightness 0.6-1.4 + 0.5 % noise):
    the float32 path (float32 pre-filter and apply, float64 chords) stays within 1e-6 of Qhull."""
    rng = np.random.default_rng(3)
    x = REFL[rng.integers(0, len(REFL), 300)] * rng.uniform(0.6, 1.4, (300, 1)).astype(np.float32)
    x = np.clip(x + rng.normal(0, 0.005, x.shape).astype(np.float32), 1e-4, None).astype(np.float32)
    reference = np.stack([v / qhull_continuum(v, WL) for v in x.astype(np.float64)])
    band_major = np.ascontiguousarray(x.T).T  # what a (bands, rows, cols) cube reshaped to a table gives
    for table in (x, band_major):
        cr = continuum_removed(table, WL)
        assert cr.dtype == np.float32
        assert np.abs(cr - reference).max() < 1e-6
        assert cr.max() <= 1.0
    np.testing.assert_array_equal(continuum_removed(band_major, WL), continuum_removed(x, WL))


def test_nan_bands_are_skipped():
    y = REFL[50].astype(float).copy()
    y[[0, 100, 223]] = np.nan
    out = continuum_removed(y, WL)
    assert np.isnan(out[[0, 100, 223]]).all() and np.isfinite(np.delete(out, [0, 100, 223])).all()
    keep = np.isfinite(y)
    np.testing.assert_allclose(out[keep], y[keep] / qhull_continuum(y[keep], WL[keep]), atol=1e-12)
    out32 = continuum_removed(y.astype(np.float32), WL)
    assert np.isnan(out32[[0, 100, 223]]).all()
    np.testing.assert_allclose(out32[keep], out[keep], atol=1e-6)


def test_wavelength_errors():
    with pytest.raises(InputError, match="not monotonic"):
        continuum_removed(REFL[:2], WL[::-1])
    with pytest.raises(InputError, match="224 wavelengths for 10 bands"):
        continuum_removed(REFL[:2, :10], WL)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(3, 40)),
              elements=st.floats(0.01, 1.0, allow_nan=False)))
def test_properties_le_one_and_one_on_hull(values):
    wl = np.cumsum(np.linspace(1.0, 3.0, values.shape[1])) + 400.0  # uneven spacing
    cr = continuum_removed(values, wl)
    hull = continuum(values, wl)
    assert np.all(cr <= 1 + 1e-12)
    assert np.all(hull >= values - 1e-12)
    np.testing.assert_allclose(cr[:, [0, -1]], 1.0)  # end points are always hull vertices
    for v, h in zip(values, hull):  # hull vertices: cr == 1 exactly, and the hull is concave
        assert np.any(np.isclose(v / h, 1.0))
        slopes = np.diff(h) / np.diff(wl)
        assert np.all(np.diff(slopes) <= 1e-9)
    ref = np.stack([v / qhull_continuum(v, wl) for v in values])
    assert np.abs(cr - ref).max() < 1e-6


def test_transformer_in_pipeline():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(ContinuumRemover(wavelengths_nm=WL))
    np.testing.assert_array_equal(clone(pipe).fit_transform(REFL), continuum_removed(REFL, WL))
    with pytest.raises(InputError, match="X has 10 bands"):
        ContinuumRemover(wavelengths_nm=WL).fit(REFL[:, :10])


def test_non_positive_reflectance_is_floored_counted_and_warned():
    # atmospherically corrected drone spectra: noisy bands slightly below zero, a dead band at zero, at both ends
    rng = np.random.default_rng(3)
    values = REFL[:5].astype(np.float64) + rng.normal(0, 0.002, (5, len(WL)))
    values[:, 0] = -0.01
    values[0, -1] = 0.0
    values[1, 40] = -0.02
    with pytest.warns(RemineWarning, match=r"7 reflectance value\(s\) <= 0 .* raised to 0\.0001"):
        out, n = continuum_removed(values, WL, return_count=True)
    assert n == 7 and np.isfinite(out).all()
    floored = np.where(values <= 0, 1e-4, values)
    reference = np.stack([v / qhull_continuum(v, WL) for v in floored])
    assert np.abs(out - reference).max() < 1e-6  # the documented treatment: floor, then the exact hull
    assert out[1, 40] == pytest.approx(0.0, abs=1e-3) and (out <= 1 + 1e-12).all()
    sub = continuum_removed(values, WL, "subtract")  # no division: nothing to treat
    assert np.isfinite(sub).all()
    with pytest.raises(InputError, match="floor must be > 0"):
        continuum_removed(values, WL, floor=0)


def test_preprocessing_that_makes_nan_features_names_samples_and_bands():
    from remine.core.spectra import BrightnessNormaliser

    X = REFL[:6].astype(np.float64).copy()
    X[[2, 4]] = 0.0  # all-zero spectra: brightness 0
    step = BrightnessNormaliser("mean").fit(X)
    step.wavelengths_out_ = WL
    with pytest.raises(InputError, match=rf"preprocessing 'brightness' turned 2 finite spectra into NaN/inf features "
                                         rf"\(samples 2, 4; bands {WL[0]:g}, "):
        step.transform(X)
