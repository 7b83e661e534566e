"""Sizes and memory known before a job starts, so that a job that cannot fit is refused at once.

:func:`check_grid` refuses an output grid with more than :data:`MAX_GRID_CELLS` cells (the message gives
the size and what to change), and warns when its uncompressed outputs exceed the free disk space;
:func:`available_memory` reads what the operating system can give without swapping.
"""
import os
import shutil
import warnings

from .errors import InputError, RemineWarning

#: Largest output grid (cells per band) remine writes: 2^32, e.g. 65 536 x 65 536 px (16 GiB per float32
#: band uncompressed, hours of kriging). Far beyond any drone survey at its ground resolution.
MAX_GRID_CELLS = 2 ** 32


def human_bytes(n):
    """``1536`` -> ``"1.5 KiB"``; binary units up to EiB."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def available_memory():
    """Bytes of memory available without swapping (Linux ``MemAvailable``; elsewhere the free physical
    pages), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_grid(width, height, bytes_per_cell, folder=None, what="the output grid", change=None):
    """Refuse a grid of ``width`` x ``height`` cells above :data:`MAX_GRID_CELLS`; warn when its outputs
    (``bytes_per_cell`` uncompressed, all outputs together) exceed the free space of ``folder``.

    ``change``: what the user can change, for the message (default: the pixel size or the extent).
    Returns the uncompressed output size in bytes.
    """
    cells = int(width) * int(height)
    size = cells * float(bytes_per_cell)
    change = change or "use a larger pixel size or a smaller extent"
    if cells > MAX_GRID_CELLS:
        raise InputError(f"{what} is {int(width):,} x {int(height):,} = {cells:.3g} cells ({human_bytes(size)} of "
                         f"output uncompressed), more than the {MAX_GRID_CELLS:.3g} cells remine writes; {change}")
    if folder and os.path.isdir(folder):
        free = shutil.disk_usage(folder).free
        if size > free:
            warnings.warn(f"{what} ({int(width):,} x {int(height):,} cells) takes up to {human_bytes(size)} "
                          f"uncompressed but only {human_bytes(free)} are free in {folder}: compression may "
                          f"save it, else the run fails when the disk is full; {change}", RemineWarning,
                          stacklevel=3)
    return size
