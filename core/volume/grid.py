"""Voxel model of a tailings body: cells between a top and a base surface, with partial-cell volume fractions.

The grid is north-up and axis-aligned. Columns are ``dx × dy`` m; layers are ``dz`` m thick, layer 0 at the
bottom (``z0`` .. ``z0 + dz``). Arrays are ``(nz, ny, nx)``: layer, row (row 0 to the north), column.
Surfaces are averaged over each column exactly (pixel-area overlaps), so that the model's volume equals the
raster integral of ``top − base`` over the footprint.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, RemineWarning

#: Default limit on the number of cells of a grid (about 1.5 GB with kriging and 50 realisations).
MAX_CELLS = 3 * 10 ** 7
#: Bytes per cell: float32 fraction + float64 estimate and variance.
BYTES_PER_CELL = 20
#: Bytes per cell and realisation (float32).
BYTES_PER_REALISATION = 4


def memory_estimate(n_cells, n_realisations=0):
    """Bytes a grid of ``n_cells`` needs with kriging and ``n_realisations`` simulations (float32)."""
    return int(n_cells) * (BYTES_PER_CELL + BYTES_PER_REALISATION * int(n_realisations))


@dataclass
class Surface:
    """A raster surface: elevations ``(rows, cols)`` (NaN = nodata), its affine transform and CRS."""

    data: np.ndarray
    transform: object
    crs: object = None

    @property
    def pixel_size(self):
        return abs(self.transform.a), abs(self.transform.e)


def read_surface(obj, name):
    """A :class:`Surface` from a raster path, ``(array, transform[, crs])`` or a Surface; a number stays one."""
    if isinstance(obj, Surface):
        return obj
    if isinstance(obj, (int, float, np.floating, np.integer)) and not isinstance(obj, bool):
        if not np.isfinite(obj):
            raise InputError(f"{name} {obj} is not a finite elevation (m)")
        return float(obj)
    if isinstance(obj, (tuple, list)) and len(obj) in (2, 3):
        data = np.asarray(obj[0], float)
        if data.ndim != 2:
            raise InputError(f"{name}: array of shape {data.shape}; expected (rows, cols) elevations in metres")
        return Surface(data, obj[1], obj[2] if len(obj) == 3 else None)
    if isinstance(obj, str):
        import os

        import rasterio

        if not os.path.exists(obj):
            raise InputError(f"{name} raster {obj} does not exist; expected a GeoTIFF of elevations (m) or a "
                             "constant elevation")
        with rasterio.open(obj) as ds:
            data = ds.read(1, masked=True).astype(float).filled(np.nan)
            if ds.transform.b != 0 or ds.transform.d != 0 or ds.transform.e >= 0:
                raise InputError(f"{name} raster {obj} is rotated or south-up; expected a north-up grid")
            return Surface(data, ds.transform, ds.crs)
    raise InputError(f"{name} {obj!r} not understood; expected a raster path, (array, transform) or a constant "
                     "elevation (m)")


def _resample_onto(src, ref, name):
    """``src`` Surface on the pixel grid of ``ref`` (bilinear), with a warning saying so."""
    from rasterio.warp import Resampling, reproject

    out = np.full(ref.data.shape, np.nan)
    same = ref.crs or src.crs or "EPSG:3857"  # no CRS on either side: the same (any) CRS, an identity warp
    reproject(src.data, out, src_transform=src.transform, src_crs=src.crs or same, dst_transform=ref.transform,
              dst_crs=ref.crs or same, src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear)
    why = "CRS" if (src.crs and ref.crs and src.crs != ref.crs) else "grid"
    warnings.warn(f"the {name} surface has another {why} than the reference surface ({src.data.shape[1]} x "
                  f"{src.data.shape[0]} px of {src.pixel_size[0]:g} m): resampled bilinearly onto it "
                  f"({ref.data.shape[1]} x {ref.data.shape[0]} px of {ref.pixel_size[0]:g} m)", RemineWarning,
                  stacklevel=3)
    return Surface(out, ref.transform, ref.crs)


def _overlaps(edges_px, edges_cells):
    """Sparse matrix (cells, pixels) of the overlap lengths of two sets of increasing interval edges."""
    from scipy.sparse import csr_matrix

    n_cells = len(edges_cells) - 1
    rows, cols, vals = [], [], []
    j0 = np.searchsorted(edges_px, edges_cells[:-1], side="right") - 1
    j1 = np.searchsorted(edges_px, edges_cells[1:], side="left")
    for i in range(n_cells):
        js = np.arange(max(j0[i], 0), min(j1[i], len(edges_px) - 1))
        if len(js) == 0:
            continue
        ov = np.minimum(edges_px[js + 1], edges_cells[i + 1]) - np.maximum(edges_px[js], edges_cells[i])
        keep = ov > 0
        rows.append(np.full(keep.sum(), i)), cols.append(js[keep]), vals.append(ov[keep])
    return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_cells, len(edges_px) - 1))


@dataclass
class VoxelGrid:
    """Cells between two surfaces.

    Attributes
    ----------
    x0, y0 : float – west and north edges of the grid (m). z0 : float – bottom of layer 0 (m).
    dx, dy, dz : float – cell size (m). nx, ny, nz : int.
    top, base : ndarray (ny, nx) – column-mean elevations (m), NaN outside the footprint.
    coverage : ndarray (ny, nx) – fraction of each column's area inside the footprint.
    fraction : ndarray (nz, ny, nx) float32 – fraction of each cell's volume between the surfaces.
    crs : CRS or None.
    info : dict – what was done to the inputs (resampling, cells with the top below the base).
    """

    x0: float
    y0: float
    z0: float
    dx: float
    dy: float
    dz: float
    top: np.ndarray
    base: np.ndarray
    coverage: np.ndarray
    fraction: np.ndarray
    crs: object = None
    info: dict = field(default_factory=dict)

    @property
    def shape(self):
        """``(nz, ny, nx)``."""
        return self.fraction.shape

    @property
    def nx(self):
        return self.shape[2]

    @property
    def ny(self):
        return self.shape[1]

    @property
    def nz(self):
        return self.shape[0]

    @property
    def cell_volume(self):
        """m³ of a full cell."""
        return self.dx * self.dy * self.dz

    @property
    def volume_m3(self):
        """Volume between the surfaces (m³), the sum of the cells' volume fractions."""
        return float(self.fraction.sum(dtype=np.float64) * self.cell_volume)

    @property
    def active(self):
        """Boolean mask (nz, ny, nx) of cells with some volume."""
        return self.fraction > 0

    @property
    def transform(self):
        """Affine transform of the columns (a north-up raster of ny × nx cells)."""
        from affine import Affine

        return Affine(self.dx, 0.0, self.x0, 0.0, -self.dy, self.y0)

    def centres(self, mask=None):
        """Cell-centre coordinates ``(m, 3)`` (x, y, z in m) of the cells in ``mask`` (default: active), in
        C order of (layer, row, column)."""
        k, r, c = np.nonzero(self.active if mask is None else mask)
        return np.column_stack([self.x0 + (c + 0.5) * self.dx, self.y0 - (r + 0.5) * self.dy,
                                self.z0 + (k + 0.5) * self.dz])

    def cell_of(self, coords):
        """Indices ``(layer, row, column)`` (3 int arrays) of the cells holding ``coords`` (n, 3); −1 outside."""
        coords = np.asarray(coords, float)
        c = np.floor((coords[:, 0] - self.x0) / self.dx).astype(np.int64)
        r = np.floor((self.y0 - coords[:, 1]) / self.dy).astype(np.int64)
        k = np.floor((coords[:, 2] - self.z0) / self.dz).astype(np.int64)
        inside = (c >= 0) & (c < self.nx) & (r >= 0) & (r < self.ny) & (k >= 0) & (k < self.nz)
        return tuple(np.where(inside, a, -1) for a in (k, r, c))

    def full(self, values, fill=np.nan):
        """Values of the active cells (m,) (or (..., m)) spread onto the grid ``(..., nz, ny, nx)``."""
        values = np.asarray(values)
        out = np.full(values.shape[:-1] + self.shape, fill, dtype=np.result_type(values.dtype, np.float32))
        out[..., self.active] = values
        return out

    def surface_at(self, xy, which="top"):
        """Column-mean ``top`` or ``base`` elevation (m) at points ``xy`` (n, 2); NaN outside the footprint."""
        xy = np.asarray(xy, float)
        c = np.floor((xy[:, 0] - self.x0) / self.dx).astype(np.int64)
        r = np.floor((self.y0 - xy[:, 1]) / self.dy).astype(np.int64)
        inside = (c >= 0) & (c < self.nx) & (r >= 0) & (r < self.ny)
        out = np.full(len(xy), np.nan)
        out[inside] = getattr(self, which)[r[inside], c[inside]]
        return out

    @classmethod
    def from_surfaces(cls, top, base, dx, dy=None, dz=1.0, max_cells=MAX_CELLS, n_realisations=0):
        """Voxel model between ``top`` and ``base``.

        Parameters
        ----------
        top, base : raster path, ``(array (rows, cols), transform[, crs])``, or a constant elevation (m). At least
            one must be a raster (it gives the footprint: its valid pixels). A raster on another grid or CRS
            than the reference (``top`` if it is a raster) is resampled onto it, with a warning.
        dx, dy, dz : float – cell size (m); ``dy`` defaults to ``dx``.
        max_cells : int – refuse grids with more cells (the error gives the memory estimate).
        n_realisations : int – simulations planned, for the memory estimate only.

        Returns
        -------
        VoxelGrid. Pixels where the top lies below the base count as zero thickness (counted in
        ``info["top_below_base_px"]``, with a warning).
        """
        dy = dx if dy is None else dy
        for n, v in (("dx", dx), ("dy", dy), ("dz", dz)):
            if not (np.isfinite(v) and v > 0):
                raise InputError(f"voxel size {n}={v} must be > 0 (metres)")
        top, base = read_surface(top, "top"), read_surface(base, "base")
        ref = top if isinstance(top, Surface) else base
        if not isinstance(ref, Surface):
            raise InputError("top and base are both constants; expected at least one raster (it gives the footprint)")
        info = {}
        for name in ("top", "base"):
            s = top if name == "top" else base
            if isinstance(s, Surface) and s is not ref and (
                    s.data.shape != ref.data.shape or not s.transform.almost_equals(ref.transform)
                    or (s.crs and ref.crs and s.crs != ref.crs)):
                s = _resample_onto(s, ref, name)
                info[f"{name}_resampled"] = True
            if name == "top":
                top = s
            else:
                base = s
        t = top.data if isinstance(top, Surface) else np.full(ref.data.shape, top)
        b = base.data if isinstance(base, Surface) else np.full(ref.data.shape, base)
        valid = np.isfinite(t) & np.isfinite(b)
        if not valid.any():
            raise InputError("the top and base surfaces have no valid pixel in common; expected overlapping rasters")
        thick = np.where(valid, t - b, 0.0)
        below = valid & (thick < 0)
        info["top_below_base_px"] = int(below.sum())
        if below.any():
            warnings.warn(f"{int(below.sum())} pixels have the top below the base (by up to {-thick.min():.3g} m); "
                          "they count as zero thickness", RemineWarning, stacklevel=2)
        thick = np.maximum(thick, 0.0)
        info["raster_volume_m3"] = float(thick.sum() * ref.pixel_size[0] * ref.pixel_size[1])
        tr = ref.transform
        rows, cols = ref.data.shape
        width_m, height_m = cols * tr.a, rows * -tr.e
        nx, ny = int(np.ceil(width_m / dx - 1e-9)), int(np.ceil(height_m / dy - 1e-9))
        zmin, zmax = float(b[valid].min()), float(np.max(np.where(valid, b + thick, -np.inf)))
        z0 = float(np.floor(zmin / dz) * dz)
        nz = max(1, int(np.ceil((zmax - z0) / dz - 1e-9)))
        n_cells = nx * ny * nz
        if n_cells > max_cells:
            need = memory_estimate(n_cells, n_realisations)
            raise InputError(f"voxels of {dx:g} x {dy:g} x {dz:g} m give {nx} x {ny} x {nz} = {n_cells:,} cells, "
                             f"more than the limit of {int(max_cells):,} (about {need / 2 ** 30:.1f} GiB with "
                             f"kriging{f' and {n_realisations} realisations' if n_realisations else ''}); "
                             "expected larger voxels")
        # exact column averages: separable pixel/column overlaps (x from the west, y from the north)
        wx = _overlaps(np.arange(cols + 1) * tr.a, np.arange(nx + 1) * dx)
        wy = _overlaps(np.arange(rows + 1) * -tr.e, np.arange(ny + 1) * dy)
        area = np.asarray(wy @ (wx @ valid.T.astype(float)).T)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.asarray(wy @ (wx @ np.where(valid, b, 0.0).T).T) / area
            mean_t = mean_b + np.asarray(wy @ (wx @ thick.T).T) / area
        footprint = area > 0
        mean_b[~footprint], mean_t[~footprint] = np.nan, np.nan
        coverage = area / (dx * dy)
        zlo = z0 + np.arange(nz)[:, None, None] * dz
        with np.errstate(invalid="ignore"):
            ov = np.minimum(mean_t[None], zlo + dz) - np.maximum(mean_b[None], zlo)
        frac = np.where(footprint[None], np.clip(ov / dz, 0.0, 1.0) * coverage[None], 0.0).astype(np.float32)
        return cls(tr.c, tr.f, z0, float(dx), float(dy), float(dz), mean_t, mean_b, coverage, frac, ref.crs, info)
