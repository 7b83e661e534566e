"""Renders a voxel model with PyVista, off-screen, in its own process (never inside QGIS).

Standalone script (numpy + pyvista only, no remine import), started by :func:`remine.core.volume.render_volume`::

    python render_worker.py MODEL.npz OUT_DIR SPEC.json

``MODEL.npz`` holds the grid (``origin`` (3,), ``spacing`` (3,), ``fraction`` (nz, ny, nx), ``top``/``base``
(ny, nx), arrays ``a_<name>`` (nz, ny, nx), optional ``holes`` (n, 3) and ``hole_values`` (n,)); row 0 of the
arrays is the northern row. ``SPEC.json``: ``{"scalar": name, "cutoff": float|null, "title": str,
"window": [w, h], "png": bool, "vtk": bool, "html": bool, "max_triangles": int}``. Writes ``model.vti``,
``volume.png``, ``slices.png``, ``holes.png``, ``surfaces.png`` and ``view.html`` into OUT_DIR and prints
``{"files": {...}}`` as JSON on stdout.
"""
import base64
import json
import os
import sys

import numpy as np


def image_data(model, names):
    """pyvista.ImageData with the cell arrays ``fraction`` and ``names`` (NaN outside the body)."""
    import pyvista as pv

    frac = model["fraction"]
    nz, ny, nx = frac.shape
    img = pv.ImageData(dimensions=(nx + 1, ny + 1, nz + 1), spacing=tuple(model["spacing"]),
                       origin=tuple(model["origin"]))
    # VTK: x fastest, then y increasing northwards, then z: flip the rows (row 0 is the northern one)
    img.cell_data["fraction"] = frac[:, ::-1, :].ravel()
    for name in names:
        img.cell_data[name] = model["a_" + name][:, ::-1, :].ravel()
    return img


def _exaggeration(model):
    """Vertical exaggeration that makes the body's height about a fifth of its width (at least 1)."""
    nz, ny, nx = model["fraction"].shape
    dx, dy, dz = model["spacing"]
    return float(max(1.0, 0.2 * max(nx * dx, ny * dy) / max(nz * dz, 1e-9)))


def _plotter(spec, title):
    import pyvista as pv

    p = pv.Plotter(off_screen=True, window_size=tuple(spec.get("window", (1200, 900))))
    p.set_background("white")
    p.add_text(title, font_size=10, color="black")
    return p


def _save(p, path, exaggeration):
    p.set_scale(zscale=exaggeration)
    p.camera_position = "iso"
    p.camera.zoom(1.2)
    p.add_axes(color="black")
    p.screenshot(path)
    p.close()
    return path


def render_pngs(img, model, spec, out):
    """The four PNG views; returns {name: path}."""
    import pyvista as pv

    scalar, cutoff = spec["scalar"], spec.get("cutoff")
    # only the outer faces of the body's cells are drawn: its surface is extracted once, for every view
    body = img.threshold(1e-6, scalars="fraction")
    shell = body.extract_surface(algorithm="dataset_surface")
    outline = body.outline()
    ex = _exaggeration(model)
    clim = [float(np.nanpercentile(model["a_" + scalar], q)) for q in (2, 98)]
    bar = {"title": scalar, "color": "black", "fmt": "%.4g", "position_x": 0.3, "width": 0.55}
    files = {}
    # volume with the cut-off: the body translucent, the cells above the cut-off solid
    p = _plotter(spec, f"{spec.get('title', '')} — {scalar} ≥ {cutoff:g}" if cutoff is not None else scalar)
    p.add_mesh(outline, color="black")
    if cutoff is not None:
        p.add_mesh(shell, color="lightgrey", opacity=0.12)
        above = body.threshold(cutoff, scalars=scalar)
        if above.n_cells:
            p.add_mesh(above.extract_surface(algorithm="dataset_surface"), scalars=scalar, cmap="viridis",
                       clim=clim, scalar_bar_args=bar)
    else:
        p.add_mesh(shell, scalars=scalar, cmap="viridis", clim=clim, scalar_bar_args=bar)
    files["volume"] = _save(p, os.path.join(out, "volume.png"), ex)
    # orthogonal slices through the centre of the body, cut from the image data (NaN outside the body)
    p = _plotter(spec, f"{scalar}: slices")
    p.add_mesh(outline, color="black")
    cx, cy, cz = body.center
    sl = img.slice_orthogonal(x=cx, y=cy, z=cz)
    p.add_mesh(sl, scalars=scalar, cmap="viridis", clim=clim, scalar_bar_args=bar, nan_opacity=0.0)
    files["slices"] = _save(p, os.path.join(out, "slices.png"), ex)
    # sample holes coloured by their values, over the translucent body
    p = _plotter(spec, "sample holes")
    p.add_mesh(shell, color="lightgrey", opacity=0.1)
    p.add_mesh(outline, color="black")
    if "holes" in model and len(model["holes"]):
        pts = pv.PolyData(np.asarray(model["holes"], float))
        pts["value"] = np.asarray(model["hole_values"], float)
        p.add_mesh(pts, scalars="value", cmap="viridis", clim=clim, point_size=9, render_points_as_spheres=True,
                   scalar_bar_args={**bar, "title": "sample " + scalar})
    files["holes"] = _save(p, os.path.join(out, "holes.png"), ex)
    # top and base surfaces
    p = _plotter(spec, "top and base surfaces")
    for name, cmap in (("top", "terrain"), ("base", "copper")):
        s = surface_grid(model, name)
        if s is not None:
            p.add_mesh(s, scalars="elevation", cmap=cmap, opacity=0.9 if name == "top" else 1.0,
                       scalar_bar_args={"title": f"{name} (m)", "color": "black", "fmt": "%.1f"}, nan_opacity=0.0)
    files["surfaces"] = _save(p, os.path.join(out, "surfaces.png"), ex)
    return files


def surface_grid(model, name):
    """A StructuredGrid of the ``top`` or ``base`` column elevations (NaN columns dropped), or None."""
    import pyvista as pv

    z = np.asarray(model[name], float)[::-1]
    if not np.isfinite(z).any():
        return None
    ny, nx = z.shape
    dx, dy, _ = model["spacing"]
    x0, y0, _ = model["origin"]
    xx, yy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * dx, y0 + (np.arange(ny) + 0.5) * dy)
    zz = np.where(np.isfinite(z), z, np.nanmin(z))
    grid = pv.StructuredGrid(xx, yy, zz)
    grid["elevation"] = np.where(np.isfinite(z), z, np.nan).ravel(order="F")
    return grid


def _colours(values, clim):
    """uint8 RGB (n, 3) of ``values`` on viridis within ``clim`` (grey where NaN)."""
    from matplotlib import colormaps

    t = np.clip((values - clim[0]) / max(clim[1] - clim[0], 1e-300), 0, 1)
    rgb = (colormaps["viridis"](np.nan_to_num(t))[:, :3] * 255).astype(np.uint8)
    rgb[~np.isfinite(values)] = 160
    return rgb


def _mesh_payload(mesh, scalar, clim, max_triangles):
    """Triangles of a mesh's outer surface as base64 float32 positions, uint32 indices, uint8 colours."""
    surf = mesh.extract_surface().triangulate()
    if surf.n_cells > max_triangles:
        surf = surf.decimate_pro(1.0 - max_triangles / surf.n_cells, preserve_topology=False)
    surf = surf.cell_data_to_point_data() if scalar in surf.cell_data else surf
    faces = surf.faces.reshape(-1, 4)[:, 1:].astype(np.uint32)
    vals = np.asarray(surf.point_data[scalar], float) if scalar in surf.point_data else np.full(surf.n_points, np.nan)

    def enc(a):
        return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")

    return {"points": enc(np.asarray(surf.points, np.float32)), "faces": enc(faces),
            "colours": enc(_colours(vals, clim)), "n_points": int(surf.n_points), "n_faces": len(faces)}


def write_html(img, model, spec, path):
    """A self-contained interactive view (canvas 2D, no network, no WebGL): drag to rotate, wheel to zoom."""
    scalar, cutoff = spec["scalar"], spec.get("cutoff")
    body = img.threshold(1e-6, scalars="fraction")
    clim = [float(np.nanpercentile(model["a_" + scalar], q)) for q in (2, 98)]
    layers = {"body": _mesh_payload(body, scalar, clim, spec.get("max_triangles", 60000))}
    if cutoff is not None:
        above = body.threshold(cutoff, scalars=scalar)
        if above.n_cells:
            layers["above"] = _mesh_payload(above, scalar, clim, spec.get("max_triangles", 60000))
    data = {"layers": layers, "exaggeration": _exaggeration(model), "title": spec.get("title", ""),
            "scalar": scalar, "cutoff": cutoff, "clim": clim}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "view.html"), encoding="utf-8") as f:
        template = f.read()
    html = template.replace("/*DATA*/null", json.dumps(data))
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(html)
    os.replace(tmp, path)
    return path


def main(argv):
    model_path, out, spec_path = argv[1:4]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    with np.load(model_path) as z:
        model = {k: z[k] for k in z.files}
    names = [k[2:] for k in model if k.startswith("a_")]
    import pyvista as pv

    pv.OFF_SCREEN = True
    img = image_data(model, names)
    files = {}
    if spec.get("vtk", True):
        files["vtk"] = os.path.join(out, "model.vti")
        img.save(files["vtk"])
    if spec.get("png", True):
        files.update(render_pngs(img, model, spec, out))
    if spec.get("html", True):
        files["html"] = write_html(img, model, spec, os.path.join(out, "view.html"))
    print(json.dumps({"files": files}))


if __name__ == "__main__":
    main(sys.argv)
