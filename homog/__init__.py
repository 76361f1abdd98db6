"""homog: data-driven multiscale homogenization (FFT full-field solvers and SCA).

Import packages of the distribution: ``rve_gen`` (microstructures), ``kernels`` (FFT
machinery) and ``homog`` (materials, load paths, full-field and reduced-order models).
"""

from homog import loading, materials
from homog.dns import dns
from homog.loading import LoadPath
from homog.materials import from_config
from homog.response import Response
from homog.sca.model import ReducedOrderModel, build_rom, load_rom
from homog.umat import Umat

__version__ = "0.1.0"

__all__ = [
    "LoadPath",
    "ReducedOrderModel",
    "Response",
    "Umat",
    "build_rom",
    "dns",
    "from_config",
    "load_rom",
    "loading",
    "materials",
]
