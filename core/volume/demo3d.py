"""The demo scene in 3D: auger holes with grades at several depths, and the true grade of every voxel.

The true Zn and Cu grades (ppm) are log-normal 3D fields: ``exp(μ + σ·Y(x, y, z) + layering(z))`` with ``Y`` a
zero-mean, unit-variance Gaussian random field of gaussian covariance, horizontal correlation length
``H_RANGE`` m and vertical ``V_RANGE`` m (spectral method: a sum of random cosines, so it can be evaluated at
any point), and ``layering`` horizontal deposition layers (a sine of the elevation, period ``LAYER_PERIOD``
m). Auger holes sample the truth every ``interval`` m down to the base, with a multiplicative lab error.
The random draws use their own generator (``seed`` + 1000), so the 2D demo outputs stay as they were.
"""
import os

import numpy as np

from ..raster import atomic_path, write_raster
from .grid import VoxelGrid

H_RANGE = 35.0
V_RANGE = 2.5
LAYER_PERIOD = 4.0
#: log-mean, log-std and layering amplitude of each element
ELEMENTS_3D = {"Zn_ppm": (np.log(600.0), 0.55, 0.35), "Cu_ppm": (np.log(250.0), 0.45, 0.25)}
N_COMPONENTS = 400
#: Voxel size (m) of the written truth grid.
VOXEL = (5.0, 5.0, 0.5)


class TruthField:
    """True grades at any (x, y, z): :meth:`grade` (n, 3) → (n,) ppm for one element."""

    def __init__(self, seed, element="Zn_ppm"):
        rng = np.random.default_rng([seed + 1000, list(ELEMENTS_3D).index(element)])
        # gaussian covariance exp(-(h/a)²) ↔ frequencies ~ N(0, 2/a²) per axis (scaled space)
        self.freq = rng.standard_normal((N_COMPONENTS, 3)) * np.sqrt(2.0) / np.array([H_RANGE, H_RANGE, V_RANGE])
        self.phase = rng.uniform(0, 2 * np.pi, N_COMPONENTS)
        self.layer_phase = rng.uniform(0, 2 * np.pi)
        self.mu, self.sigma, self.layering = ELEMENTS_3D[element]

    def gaussian(self, xyz):
        """The standard Gaussian field Y at ``xyz`` (n, 3)."""
        xyz = np.asarray(xyz, float)
        out = np.empty(len(xyz))
        for s in range(0, len(xyz), 20000):
            arg = (xyz[s:s + 20000] - np.array([5e5, 5.56e6, 0.0])) @ self.freq.T + self.phase
            out[s:s + 20000] = np.sqrt(2.0 / N_COMPONENTS) * np.cos(arg).sum(axis=1)
        return out

    def grade(self, xyz):
        xyz = np.asarray(xyz, float)
        layers = self.layering * np.sin(2 * np.pi * xyz[:, 2] / LAYER_PERIOD + self.layer_phase)
        return np.exp(self.mu + self.sigma * self.gaussian(xyz) + layers)


def auger_holes(rng, top, base, transform, outside, n_holes, interval):
    """Hole collars (x, y) at random valid pixels and samples every ``interval`` m below the top to the base.

    Returns a dict of columns: hole_id, x, y, depth_m (below the top), z_m (elevation).
    """
    valid = np.flatnonzero(~outside.ravel())
    pick = rng.choice(valid, size=n_holes, replace=False)
    r, c = np.unravel_index(pick, top.shape)
    x = transform.c + (c + 0.5) * transform.a
    y = transform.f + (r + 0.5) * transform.e
    cols = {"hole_id": [], "x": [], "y": [], "depth_m": [], "z_m": []}
    for h in range(n_holes):
        depth = np.arange(interval / 2, top[r[h], c[h]] - base[r[h], c[h]], interval)
        cols["hole_id"] += [f"H{h + 1:02d}"] * len(depth)
        cols["x"].append(np.full(len(depth), x[h]))
        cols["y"].append(np.full(len(depth), y[h]))
        cols["depth_m"].append(np.round(depth, 3))
        cols["z_m"].append(top[r[h], c[h]] - depth)
    for k in ("x", "y", "depth_m", "z_m"):
        cols[k] = np.concatenate(cols[k])
    return cols


def write_volume_demo(out_dir, seed, top, base, transform, crs, outside, n_holes=40, interval=0.5):
    """Write ``holes.gpkg`` (auger samples, fields hole_id, depth_m, z_m, Zn_ppm, Cu_ppm) and
    ``truth_voxels.tif`` (true Zn ppm at the centre of each voxel of :data:`VOXEL` size between the surfaces,
    one band per layer, bottom first, band names ``z=<centre> m``; NaN outside the body). Holes avoid the
    ``outside`` pixels (rows, cols). Returns their paths."""
    import geopandas as gpd
    from shapely.geometry import Point

    rng = np.random.default_rng(seed + 1000)
    cols = auger_holes(rng, top, base, transform, outside, n_holes, interval)
    xyz = np.column_stack([cols["x"], cols["y"], cols["z_m"]])
    for el in ELEMENTS_3D:
        lab = np.exp(0.05 * rng.standard_normal(len(xyz)))
        cols[el] = np.round(TruthField(seed, el).grade(xyz) * lab, 1)
    gdf = gpd.GeoDataFrame(cols, geometry=[Point(a, b) for a, b in xyz[:, :2]], crs=crs)
    paths = {"holes": os.path.join(out_dir, "holes.gpkg"), "truth_voxels": os.path.join(out_dir, "truth_voxels.tif")}
    with atomic_path(paths["holes"]) as tmp:
        gdf.to_file(tmp, layer="holes", driver="GPKG")
    grid = VoxelGrid.from_surfaces((top, transform, crs), (base, transform, crs), *VOXEL)
    truth = grid.full(TruthField(seed).grade(grid.centres()))
    z = grid.z0 + (np.arange(grid.nz) + 0.5) * grid.dz
    like = {"width": grid.nx, "height": grid.ny, "transform": grid.transform, "crs": crs}
    write_raster(paths["truth_voxels"], truth.astype(np.float32), like=like, band_names=[f"z={v:.2f} m" for v in z])
    return paths
