"""3D tailings volumes: voxel model between surfaces, 3D kriging and sequential Gaussian simulation,
grade–tonnage above cut-offs with P10/P50/P90, and 3D views rendered in a separate process.

Public API::

    from remine.core.volume import VoxelGrid, grade_tonnage, render_volume
"""
from .grid import VoxelGrid
from .render import render_volume, write_footprint, write_slices
from .tonnage import grade_tonnage, probability_above

__all__ = ["VoxelGrid", "grade_tonnage", "probability_above", "render_volume", "write_footprint", "write_slices"]
