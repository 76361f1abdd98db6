"""Constitutive models: point-wise, vectorized over material points, numpy or cupy.

Every model implements ``update(dstrain, state) -> (stress, tangent, new_state)`` in 3D Mandel
notation (see :mod:`homog.materials.base`); build them in Python or from a TOML table with
:func:`from_config`. The materials of the examples: :func:`reference_materials` (their TOML
file: :func:`reference_materials_path`).
"""

from homog.materials.base import Material
from homog.materials.config import (
    MODELS,
    from_config,
    hardening_from_config,
    material_from_config,
    reference_materials,
    reference_materials_path,
)
from homog.materials.damage import SOFTENING_LAWS, VonMisesDamage
from homog.materials.elastic import LinearElastic
from homog.materials.hardening import (
    HARDENING_LAWS,
    HardeningLaw,
    LinearHardening,
    PiecewiseLinearHardening,
    SwiftHardening,
    VoceHardening,
)
from homog.materials.von_mises import ReturnMappingError, VonMises

__all__ = [
    "HARDENING_LAWS",
    "MODELS",
    "HardeningLaw",
    "LinearElastic",
    "LinearHardening",
    "Material",
    "PiecewiseLinearHardening",
    "ReturnMappingError",
    "SOFTENING_LAWS",
    "SwiftHardening",
    "VoceHardening",
    "VonMises",
    "VonMisesDamage",
    "from_config",
    "hardening_from_config",
    "material_from_config",
    "reference_materials",
    "reference_materials_path",
]
