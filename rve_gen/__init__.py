"""rve_gen: periodic representative volume elements for homogenization.

Generators return a geometric description in RVE length units (side 1 by default), which
``.voxelize(shape)`` turns into a :class:`Microstructure` (an integer phase-label image) at any
resolution::

    pack = rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=0)
    ms = pack.voxelize((600, 600))
    ms.save("rve.npz"); ms = rve_gen.load("rve.npz")

All generators are periodic, seeded and non-overlapping; see ``docs/rve_gen.md``.
"""

from rve_gen import statistics
from rve_gen._checks import ParameterError
from rve_gen.ellipsoids import EllipsoidPacking, ellipses, ellipsoids
from rve_gen.fibers import FiberPacking, LongFiberPacking, fibers, long_fibers
from rve_gen.image import from_image
from rve_gen.io import load, read, write
from rve_gen.microstructure import Microstructure
from rve_gen.packing import SpherePacking, circles, spheres
from rve_gen.particles import ParticlePacking
from rve_gen.preview import preview
from rve_gen.voronoi import Tessellation, voronoi

__all__ = [
    "EllipsoidPacking",
    "FiberPacking",
    "LongFiberPacking",
    "Microstructure",
    "ParameterError",
    "ParticlePacking",
    "SpherePacking",
    "Tessellation",
    "circles",
    "ellipses",
    "ellipsoids",
    "fibers",
    "from_image",
    "load",
    "long_fibers",
    "preview",
    "read",
    "spheres",
    "statistics",
    "voronoi",
    "write",
]
