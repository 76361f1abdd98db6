"""Example database configurations shipped with homog, to start from in any folder.

``homog database example fibres -o fibres.toml`` (or :func:`example_config`) writes the
configuration that docs/database.md walks through; ``examples/database/`` in the source tree
holds the same files (a test keeps them identical).
"""

from __future__ import annotations

#: Example name -> TOML text.
EXAMPLES = {
    "fibres": """\
# A database of 2D fibre-reinforced composites (plane strain) run to failure under uniaxial
# tension: how toughness varies with the fibre fraction and size and with the matrix's
# yield stress and softening strain. Get it in any folder and run it with
#
#     homog database example fibres -o fibres.toml
#     homog database run fibres.toml --store fibres.zarr --workers 2
#     homog database summary fibres.zarr -o fibres.csv
#     homog database train fibres.zarr --target toughness --plots fibres
#
# Units: MPa for moduli and stresses, RVE side 1. Reference: docs/database.md.

samples = 64                      # design points; a power of 2 keeps Sobol balanced
seed = 0                          # seeds the design, every RVE packing and every k-means

[design]
method = "sobol"                  # scrambled Sobol (scipy.stats.qmc); or "lhs", or "table"

[variables]                       # dotted path into the tables below = [low, high]
"microstructure.volume_fraction" = [0.15, 0.45]
"microstructure.radius" = [0.04, 0.08]
"materials.matrix.hardening.sigma_y0" = [0.3, 0.8]
"materials.matrix.softening_strain" = { low = 0.02, high = 0.08, scale = "log" }

[microstructure]                  # rve_gen.circles: fibre cross-sections
generator = "circles"
volume_fraction = 0.3             # fixed values of the varied inputs are overridden
radius = 0.06
min_gap = 0.005
shape = [200, 200]                # voxel grid of every RVE
phase_names = ["matrix", "fibre"]

[materials.matrix]                # a homog.materials table (docs/materials.md)
model = "von_mises_damage"
E = 100.0
nu = 0.3
hardening = { law = "linear", sigma_y0 = 0.5, H = 2.0 }
onset = 0.02                      # equivalent plastic strain at damage onset
softening_strain = 0.04           # softening scale s of the damage law
nonlocal_length = 0.05            # ℓ: non-local damage, objective in clusters and voxels

[materials.fibre]
model = "linear_elastic"
E = 500.0
nu = 0.19

[rom]
clusters = { matrix = 12, fibre = 6 }

[loading]
type = "uniaxial"                 # uniaxial | uniaxial_strain | shear | biaxial
axis = 0
max_strain = 0.3                  # the run stops earlier, at failure
steps = 300

[failure]
drop = 0.5                        # failure: stress below 50 % of its peak

[store]
microstructure = false            # true keeps every label image in the store
""",
}


def example_config(name: str = "fibres") -> str:
    """The TOML text of the shipped example configuration ``name`` (see :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise ValueError(f"no example database configuration {name!r}; examples: "
                         f"{sorted(EXAMPLES)}")
    return EXAMPLES[name]
