"""3D outputs of a voxel model: PyVista views in a separate process, elevation-slice GeoTIFFs, footprint layer.

PyVista/VTK never run inside the calling process (inside QGIS, pyvistaqt crashes QGIS on close,
pyvista/pyvistaqt#69): :func:`render_volume` saves the model to a temporary ``.npz`` and runs
``render_worker.py`` (numpy + pyvista only) with the Python that runs remine, off-screen (VTK's EGL/OSMesa
wheels need no display).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..errors import DependencyError, InputError
from ..raster import atomic_path, write_raster

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "render_worker.py")


def python_executable():
    """The Python interpreter for helper processes (``REMINE_PYTHON`` overrides; inside QGIS the plugin points
    ``sys.executable`` at QGIS's own Python)."""
    return os.environ.get("REMINE_PYTHON") or sys.executable


def save_model(path, grid, arrays, holes=None, hole_values=None):
    """The grid and its cell arrays (name → (nz, ny, nx)) as the ``.npz`` bundle the worker reads."""
    data = {"origin": np.array([grid.x0, grid.y0 - grid.ny * grid.dy, grid.z0]),
            "spacing": np.array([grid.dx, grid.dy, grid.dz]), "fraction": grid.fraction, "top": grid.top,
            "base": grid.base}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.shape != grid.shape:
            raise InputError(f"array '{name}' of shape {a.shape}; expected the grid's {grid.shape}")
        data["a_" + name] = a.astype(np.float32)
    if holes is not None:
        data["holes"] = np.asarray(holes, float).reshape(-1, 3)
        data["hole_values"] = np.asarray(hole_values, float).ravel()
    np.savez(path, **data)
    return path


def render_volume(grid, arrays, out_dir, scalar=None, cutoff=None, holes=None, hole_values=None, title="",
                  png=True, vtk=True, html=True, window=(1200, 900), max_triangles=60000, timeout=900):
    """Write 3D views of a voxel model, rendered off-screen by PyVista in a separate process.

    Parameters
    ----------
    grid : VoxelGrid. arrays : dict name → ndarray (nz, ny, nx) (e.g. kriged grade, variance, probability).
    out_dir : str – existing or new folder.
    scalar : str – the array shown (default: the first). cutoff : float, optional – grade of the isosurface
        (cells ≥ cutoff shown solid inside the translucent body).
    holes : ndarray (n, 3), hole_values (n,), optional – sample positions (m) and values.
    png, vtk, html : which outputs. window : PNG size (pixels). max_triangles : per layer of the HTML view.

    Returns
    -------
    dict of paths: ``vtk`` (model.vti, for ParaView), ``volume``, ``slices``, ``holes``, ``surfaces`` (PNGs),
    ``html`` (view.html: self-contained, opens offline). Files appear only when all are written.
    """
    if not arrays:
        raise InputError("no cell array to render; expected e.g. {'grade': kriged grades (nz, ny, nx)}")
    scalar = scalar or next(iter(arrays))
    if scalar not in arrays:
        raise InputError(f"scalar '{scalar}' is not one of the arrays {sorted(arrays)}")
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".render-", dir=out_dir)
    try:
        model = save_model(os.path.join(work, "model.npz"), grid, arrays, holes, hole_values)
        spec = os.path.join(work, "spec.json")
        with open(spec, "w", encoding="utf-8") as f:
            json.dump({"scalar": scalar, "cutoff": None if cutoff is None else float(cutoff), "title": title,
                       "window": list(window), "png": png, "vtk": vtk, "html": html,
                       "max_triangles": int(max_triangles)}, f)
        env = dict(os.environ)
        env.pop("DISPLAY", None)  # off-screen: VTK takes EGL/OSMesa instead of probing an X server
        run = subprocess.run([python_executable(), WORKER, model, work, spec], capture_output=True, text=True,
                             env=env, timeout=timeout, check=False)
        if run.returncode != 0:
            if "No module named 'pyvista'" in run.stderr or "No module named 'vtk" in run.stderr:
                raise DependencyError("3D rendering needs pyvista and vtk in the Python that runs remine: "
                                      "pip install pyvista==0.49.1 vtk==9.7.2")
            raise InputError(f"3D rendering failed (exit {run.returncode}): {run.stderr.strip()[-1500:]}")
        files = json.loads(run.stdout.strip().splitlines()[-1])["files"]
        out = {}
        for key, path in files.items():
            dst = os.path.join(out_dir, os.path.basename(path))
            os.replace(path, dst)
            out[key] = dst
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_slices(grid, values, path, name="grade"):
    """Elevation slices as one GeoTIFF: band k = layer k (bottom first), named ``<name> z=<centre> m``."""
    z = grid.z0 + (np.arange(grid.nz) + 0.5) * grid.dz
    like = {"width": grid.nx, "height": grid.ny, "transform": grid.transform, "crs": grid.crs}
    return write_raster(path, np.asarray(values, np.float32), like=like,
                        band_names=[f"{name} z={v:.2f} m" for v in z])


def write_footprint(grid, path, tonnes=None):
    """Footprint of the body as polygons (GeoPackage layer ``footprint``) with area_m2, volume_m3 (and tonnes
    when ``tonnes`` (nz, ny, nx) is given) per connected part; returns the path."""
    import geopandas as gpd
    from rasterio.features import shapes
    from scipy import ndimage
    from shapely.geometry import shape

    cols = grid.fraction.sum(axis=0) > 0
    labels, _ = ndimage.label(cols)
    vol = grid.fraction.sum(axis=0, dtype=np.float64) * grid.cell_volume
    ton = None if tonnes is None else np.nansum(tonnes, axis=0)
    rows = []
    for geom, lab in shapes(labels.astype(np.int32), mask=cols, transform=grid.transform):
        part = labels == int(lab)
        rec = {"part": int(lab), "area_m2": float(part.sum() * grid.dx * grid.dy),
               "volume_m3": float(vol[part].sum()), "geometry": shape(geom)}
        if ton is not None:
            rec["tonnes"] = float(ton[part].sum())
        rows.append(rec)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs).dissolve(by="part", aggfunc="first").reset_index()
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer="footprint", driver="GPKG")
    return path
