"""SpectralLibrary: named spectra on one wavelength grid (nm, strictly ascending) with a metadata table."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import InputError, as_float_array


def check_wavelengths(wavelengths_nm, n_bands=None, source="library"):
    """Validate a wavelength grid: finite, strictly ascending, no duplicates, ``n_bands`` long.

    Returns the grid as float64 (bands,). Raises :class:`InputError` naming the offending values.
    """
    wl = as_float_array(wavelengths_nm, f"wavelengths of the {source}", "numbers (nm)", np.float64).ravel()
    if wl.size == 0:
        raise InputError(f"{source} has no wavelengths")
    if n_bands is not None and wl.size != n_bands:
        raise InputError(f"{source}: {wl.size} wavelengths for {n_bands} bands")
    if not np.all(np.isfinite(wl)):
        raise InputError(f"{source} has non-numeric or missing wavelengths")
    step = np.diff(wl)
    if np.any(step == 0):
        dup = np.unique(wl[1:][step == 0])
        raise InputError(f"{source} has duplicate wavelengths {', '.join(f'{v:g}' for v in dup[:5])} nm; "
                         "each band needs its own wavelength")
    if np.any(step < 0):
        i = int(np.argmax(step < 0))
        raise InputError(f"{source} wavelengths are not monotonic: {wl[i]:g} nm is followed by {wl[i + 1]:g} nm; "
                         "expected strictly ascending (or strictly descending wavenumbers)")
    return wl


@dataclass
class SpectralLibrary:
    """Named spectra on a common wavelength grid.

    Attributes
    ----------
    names : list[str] (n,)
    wavelengths_nm : ndarray float64 (bands,), strictly ascending, nm.
    values : ndarray float (n, bands), reflectance (0–1) or whatever ``metadata`` says (absorbance, DN...).
    metadata : pandas.DataFrame (n rows), per-spectrum attributes (sample id, mineral, source file...).
    fwhm_nm : ndarray (bands,) or None, band widths in nm.
    """

    names: list
    wavelengths_nm: np.ndarray
    values: np.ndarray
    metadata: object = None
    fwhm_nm: Optional[np.ndarray] = None
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        import pandas as pd

        self.values = np.atleast_2d(np.asarray(self.values, dtype=float))
        n, bands = self.values.shape
        self.wavelengths_nm = check_wavelengths(self.wavelengths_nm, bands)
        self.names = [str(v) for v in self.names]
        if len(self.names) != n:
            raise InputError(f"library has {len(self.names)} names for {n} spectra")
        if self.fwhm_nm is not None:
            self.fwhm_nm = np.asarray(self.fwhm_nm, dtype=float)
            if self.fwhm_nm.shape != (bands,):
                raise InputError(f"library has {self.fwhm_nm.size} FWHM values for {bands} bands")
        if self.metadata is None:
            self.metadata = pd.DataFrame({"name": self.names})
        elif len(self.metadata) != n:
            raise InputError(f"library metadata has {len(self.metadata)} rows for {n} spectra")
        else:
            self.metadata = pd.DataFrame(self.metadata).reset_index(drop=True)
            if "name" not in self.metadata.columns:  # the names travel with the metadata into files
                self.metadata.insert(0, "name", self.names)

    def __len__(self):
        return len(self.names)

    @property
    def n_bands(self):
        return len(self.wavelengths_nm)

    def index(self, name):
        """Row of the spectrum called ``name`` (exact) or the first whose name starts with it."""
        if name in self.names:
            return self.names.index(name)
        for i, n in enumerate(self.names):
            if n.lower().startswith(str(name).lower()):
                return i
        raise KeyError(f"no spectrum named {name!r} in the library ({len(self)} spectra)")

    def spectrum(self, name):
        """Values (bands,) of the spectrum called ``name`` (see :meth:`index`)."""
        return self.values[self.index(name)]

    def subset(self, rows):
        """A library with the given rows (indices, boolean mask or names)."""
        if isinstance(rows, np.ndarray) and rows.dtype == bool:
            rows = np.flatnonzero(rows)
        else:
            rows = np.array([self.index(r) if isinstance(r, str) else int(r) for r in np.atleast_1d(rows).tolist()],
                            dtype=int)
        return SpectralLibrary([self.names[i] for i in rows], self.wavelengths_nm, self.values[rows],
                               self.metadata.iloc[rows].reset_index(drop=True), self.fwhm_nm, dict(self.attrs))

    def resampled(self, target_wavelengths_nm, target_fwhm_nm=None):
        """This library resampled to another grid (Gaussian SRF; see :func:`remine.core.spectra.resample`)."""
        from .resample import resample

        values = resample(self.values, self.wavelengths_nm, target_wavelengths_nm, target_fwhm_nm,
                          source_fwhm_nm=self.fwhm_nm)
        target = np.atleast_1d(np.asarray(target_wavelengths_nm, dtype=float))
        fwhm = None if target_fwhm_nm is None else np.broadcast_to(np.asarray(target_fwhm_nm, float), target.shape)
        return SpectralLibrary(self.names, target, values, self.metadata.copy(), fwhm, dict(self.attrs))

    def to_frame(self):
        """Wide pandas DataFrame: metadata columns, then one column per wavelength (nm, float labels)."""
        import pandas as pd

        spectra = pd.DataFrame(self.values, columns=[float(w) for w in self.wavelengths_nm])
        return pd.concat([self.metadata.reset_index(drop=True), spectra], axis=1)

    @classmethod
    def concat(cls, libraries):
        """Stack libraries that share one wavelength grid (InputError otherwise)."""
        import pandas as pd

        libraries = list(libraries)
        if not libraries:
            raise InputError("no spectra to combine")
        first = libraries[0]
        for lib in libraries[1:]:
            if lib.n_bands != first.n_bands or not np.allclose(lib.wavelengths_nm, first.wavelengths_nm):
                raise InputError(f"spectra have different wavelength grids ({first.n_bands} bands "
                                 f"{first.wavelengths_nm[0]:g}–{first.wavelengths_nm[-1]:g} nm vs {lib.n_bands} bands "
                                 f"{lib.wavelengths_nm[0]:g}–{lib.wavelengths_nm[-1]:g} nm); resample them first")
        return cls([n for lib in libraries for n in lib.names], first.wavelengths_nm,
                   np.concatenate([lib.values for lib in libraries]),
                   pd.concat([lib.metadata for lib in libraries], ignore_index=True), first.fwhm_nm,
                   dict(first.attrs))

    @classmethod
    def usgs(cls):
        """The USGS 1995 library subset shipped with remine (224 AVIRIS bands; ``remine.core.data``), with a
        metadata field ``mineral`` (the first word of each sample name, lower case) to bundle spectra by."""
        import pandas as pd

        from ..data import usgs_library

        names, wl, fwhm, refl = usgs_library()
        minerals = [str(n).strip().split()[0].lower() for n in names]
        return cls(names, wl, refl, pd.DataFrame({"mineral": minerals}), fwhm_nm=fwhm,
                   attrs={"source": "USGS splib (1995 AVIRIS-convolved)"})


def library_from_rois(cube_path, rois_path, statistic="mean", name_field=None, id_field="roi_id",
                      progress=None):
    """Spectral library from the pixels of a cube under ROI polygons.

    Parameters
    ----------
    cube_path : str, cube with wavelengths.
    rois_path : str or GeoDataFrame, polygons (reprojected to the cube CRS with a warning).
    statistic : "mean", "median" (one spectrum per ROI) or "all" (every pixel).
    name_field : str, optional, field naming the spectra (e.g. "mineral"); default the ROI id.
    id_field : str, ROI id field.

    Returns
    -------
    SpectralLibrary with metadata columns roi_id, n_pixels (mean/median) or x, y (all), and the
    layer's attribute fields.
    """
    import pandas as pd

    from ..raster import raster_info
    from .rois import read_roi_pixels, read_rois

    if statistic not in ("mean", "median", "all"):
        raise InputError(f"statistic must be 'mean', 'median' or 'all'; got {statistic!r}")
    info = raster_info(cube_path, require_wavelengths=True)
    layer = read_rois(rois_path, info.crs, id_field=id_field, progress=progress)
    if name_field is not None and name_field not in layer.frame.columns:
        raise InputError(f"ROI layer has no field '{name_field}'")
    attrs = layer.frame.drop(columns="geometry")
    names, rows, meta = [], [], []
    for i, pixels in enumerate(read_roi_pixels(cube_path, layer, progress=progress)):
        label = str(attrs[name_field].iloc[i]) if name_field else layer.id_labels[i]
        record = dict(attrs.iloc[i].to_dict(), roi_id=layer.id_labels[i])
        if statistic == "all":
            rows.append(pixels.values)
            names += [f"{label}_{k + 1}" for k in range(len(pixels.values))]
            meta += [dict(record, x=x, y=y) for x, y in pixels.coords]
        else:
            reduce = np.mean if statistic == "mean" else np.median
            rows.append(reduce(pixels.values, axis=0)[None])
            names.append(label)
            meta.append(dict(record, n_pixels=len(pixels.values)))
    return SpectralLibrary(names, info.wavelengths_nm, np.concatenate(rows), pd.DataFrame(meta), info.fwhm_nm,
                           {"source": str(cube_path), "statistic": statistic})
