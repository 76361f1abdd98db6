"""Self-consistent Clustering Analysis (SCA; Liu, Bessa & Liu, CMAME 306, 2016): the
reduced-order model of an RVE, offline then online.

Modules in pipeline order; each imports only the ones above it:

- :mod:`~homog.sca.clustering`: k-means of the strain concentration, phase by phase (offline).
- :mod:`~homog.sca.interaction`: cluster interaction tensors by Parseval GEMMs (offline).
- :mod:`~homog.sca.hierarchy`: fine clusters and their tree for adaptive SCA (offline).
- :mod:`~homog.sca.io`: the model file (one ``.npz``, no pickle).
- :mod:`~homog.sca.batched_linalg`: compiled Jacobian assembly of the online stage.
- :mod:`~homog.sca.online`: the discrete Lippmann–Schwinger system, Newton with a
  self-consistent reference medium, for one or many material points.
- :mod:`~homog.sca.adaptive`: clusters split during the run where the strain localizes.
- :mod:`~homog.sca.model`: :class:`ReducedOrderModel` and :func:`build_rom`, which wire the
  stages together; :func:`load_rom`.

The UMAT interface (:mod:`homog.umat`) and the failure runs (:mod:`homog.failure`) use a model
from here.
"""

from homog.sca.adaptive import Adaptivity
from homog.sca.hierarchy import ClusterHierarchy
from homog.sca.model import ReducedOrderModel, build_rom, load_rom
from homog.sca.online import OnlineSolver, OnlineState

__all__ = [
    "Adaptivity",
    "ClusterHierarchy",
    "OnlineSolver",
    "OnlineState",
    "ReducedOrderModel",
    "build_rom",
    "load_rom",
]
