"""Interactive 3D window on a VTK file (``model.vti`` from :func:`remine.core.volume.render_volume`), in its own
process so that QGIS stays responsive and never loads VTK (pyvista/pyvistaqt#69).

From a shell::

    python -m remine.core.volume.view model.vti [--scalar NAME] [--cutoff GRADE]
    python <plugin>/core/volume/view.py model.vti          # the same without remine on the path

From the plugin (menu "Open 3D view…")::

    from remine.core.volume.view import open_view
    process = open_view("model.vti")     # returns at once; InputError with a clear message without a display
"""
import argparse
import os
import subprocess
import sys

NO_DISPLAY = ("no display: the interactive 3D window needs a desktop session (DISPLAY or WAYLAND_DISPLAY on "
              "Linux); the off-screen views (PNGs, view.html, model.vti for ParaView) are written anyway")


def has_display():
    """True where a window can open (always on Windows and macOS; on Linux an X or Wayland display)."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_view(path, scalar=None, cutoff=None):
    """Start the interactive viewer on ``path`` in a separate process and return the ``subprocess.Popen``.

    Raises InputError when the file is missing or there is no display.
    """
    from ..errors import InputError
    from .render import python_executable

    if not os.path.isfile(path):
        raise InputError(f"3D view: {path} does not exist; expected a model.vti written by remine:tailingsvolume")
    if not has_display():
        raise InputError(NO_DISPLAY)
    cmd = [python_executable(), os.path.abspath(__file__), os.path.abspath(path)]
    if scalar:
        cmd += ["--scalar", scalar]
    if cutoff is not None:
        cmd += ["--cutoff", str(cutoff)]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def show(path, scalar=None, cutoff=None, off_screen=None):
    """Open the window (blocking until it is closed); ``off_screen`` (a PNG path) renders to a file instead."""
    import numpy as np
    import pyvista as pv

    img = pv.read(path)
    names = [n for n in img.cell_data if n != "fraction"]
    scalar = scalar or (names[0] if names else "fraction")
    body = img.threshold(1e-6, scalars="fraction") if "fraction" in img.cell_data else img
    values = np.asarray(body.cell_data[scalar], float)
    clim = [float(np.nanpercentile(values, 2)), float(np.nanpercentile(values, 98))]
    p = pv.Plotter(off_screen=off_screen is not None, title=f"remine 3D view — {os.path.basename(path)}")
    p.add_mesh(body.outline(), color="black")
    if cutoff is not None:
        p.add_mesh(body, color="lightgrey", opacity=0.12)
        above = body.threshold(cutoff, scalars=scalar)
        if above.n_cells:
            p.add_mesh(above, scalars=scalar, cmap="viridis", clim=clim)
    else:
        p.add_mesh(body, scalars=scalar, cmap="viridis", clim=clim)
    b = body.bounds
    p.set_scale(zscale=max(1.0, 0.2 * max(b[1] - b[0], b[3] - b[2]) / max(b[5] - b[4], 1e-9)))
    p.camera_position = "iso"
    p.add_axes()
    if off_screen is not None:
        p.screenshot(off_screen)
        p.close()
    else:
        p.show()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Interactive 3D view of a remine voxel model (.vti)")
    parser.add_argument("path")
    parser.add_argument("--scalar")
    parser.add_argument("--cutoff", type=float)
    parser.add_argument("--screenshot", help="render off-screen into this PNG instead of opening a window")
    args = parser.parse_args(argv)
    if args.screenshot is None and not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    show(args.path, args.scalar, args.cutoff, args.screenshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
