"""FE² example: a plane-strain plate with a central hole whose material is an SCA ROM.

The macroscopic model is a quarter of a square plate (half-width ``L``) with a central hole of
radius ``R``, symmetry conditions on the cut planes (u₁ = 0 on x = 0, u₂ = 0 on y = 0), a
prescribed displacement δ on the top edge and a free right edge and hole. It is meshed with
8-node serendipity quadrilaterals and 2×2 Gauss points (the reduced-integration element of
plane-strain plasticity, Abaqus CPE8R) and assembled with scikit-fem. Every Gauss point is a
material point of the reduced-order model of a fibre RVE, called through the UMAT interface::

    stress, statev, ddsdde, converged = umat.batch(stress_n, statev_n, stran_n, dstran)

once per macroscopic Newton iteration for all points at once, always from the converged state
of the start of the increment (Abaqus conventions: Voigt order 11, 22, 33, 12, engineering
shear strain, DDSDDE = ∂Δσ/∂Δε). The macroscopic Newton iteration

    K(u_k) δu = −R(u_k),   R(u) = ∫ Bᵀ σ(ε(u)) dΩ,   K = ∫ Bᵀ DDSDDE B dΩ

converges quadratically when DDSDDE is the exact derivative of the ROM's stress (Simo &
Hughes 1998, §3.3; Feyel & Chaboche, CMAME 183, 2000, for FE²). That holds with the ROM's
reference medium frozen at the isotropic fit of C_eff (``--reference frozen``, the default);
the self-consistent schemes refit (λ0, μ0) to each increment inside the UMAT call, a
dependence DDSDDE leaves out, and the macro iteration then converges only linearly. An
increment whose points fail (``converged`` False) or whose Newton iteration fails is cut in
halves, as Abaqus does with PNEWDT < 1.

Run ``python examples/fe2_plate.py --help``; see docs/fe2.md.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse
from skfem import (
    Basis,
    BilinearForm,
    ElementQuadS2,
    ElementVector,
    LinearForm,
    MeshQuad,
    condense,
    solve,
)
from skfem.helpers import sym_grad

import rve_gen
from homog import build_rom, from_config, load_rom
from homog.materials import ReturnMappingError, VonMises
from kernels.tensors import (
    mandel_to_voigt_stiffness,
    mandel_to_voigt_stress,
    voigt_to_mandel_strain,
)

#: In-plane components of the plane-strain Voigt vector (11, 22, 33, 12).
IN_PLANE = (0, 1, 3)


class Umat(Protocol):
    """What the macro solver needs of a material: the batched UMAT of ``homog``."""

    ntens: int
    nstatv: int
    statev_names: Sequence[str]

    def initial_statev(self, npoints: int) -> np.ndarray: ...

    def batch(self, stress: np.ndarray, statev: np.ndarray, stran: np.ndarray,
              dstran: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...


# ---------------------------------------------------------------- the macroscopic model

def plate_with_hole_mesh(half_width: float = 1.0, radius: float = 0.3, n_theta: int = 12,
                         n_radial: int = 8, grading: float = 1.15) -> MeshQuad:
    """Mapped quadrilateral mesh of the quarter plate [0, L]² minus the disc of radius R.

    Node (i, j) lies on the segment from the hole point at angle θ_j = (π/2)·j/n_theta to the
    point of the outer boundary (right edge for j ≤ n_theta/2, top edge beyond) with the same
    arc-length parameter, at the fraction s_i of a geometric series of ratio ``grading``
    (elements grow away from the hole).
    """
    if n_theta < 2 or n_theta % 2:
        raise ValueError(f"n_theta = {n_theta} must be an even number >= 2 (the plate corner "
                         "is a node)")
    if n_radial < 1 or not 0.0 < radius < half_width:
        raise ValueError(f"need n_radial >= 1 and 0 < radius < half_width, got n_radial = "
                         f"{n_radial}, radius = {radius}, half_width = {half_width}")
    theta = 0.5 * np.pi * np.arange(n_theta + 1) / n_theta
    hole = radius * np.stack([np.cos(theta), np.sin(theta)])
    hole[0, -1] = 0.0  # exactly on the symmetry plane x = 0
    t = 2.0 * np.arange(n_theta + 1) / n_theta  # 0..1 up the right edge, 1..2 along the top
    outer = half_width * np.where(t <= 1.0, [np.ones_like(t), t], [2.0 - t, np.ones_like(t)])
    s = np.cumsum(np.concatenate([[0.0], grading ** np.arange(n_radial)]))
    s /= s[-1]
    points = hole[:, None, :] + s[None, :, None] * (outer - hole)[:, None, :]  # (2, i, j)
    index = np.arange((n_radial + 1) * (n_theta + 1)).reshape(n_radial + 1, n_theta + 1)
    cells = np.stack([index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]])
    return MeshQuad(points.reshape(2, -1), cells.reshape(4, -1))


@LinearForm
def _internal_force(v: Any, w: Any) -> Any:
    """∫ ε(v) : σ dΩ with σ given at the quadrature points (w.stress: (3, nel, nqp) Voigt)."""
    e = sym_grad(v)
    return e[0, 0] * w.stress[0] + e[1, 1] * w.stress[1] + 2.0 * e[0, 1] * w.stress[2]


@BilinearForm
def _tangent_stiffness(u: Any, v: Any, w: Any) -> Any:
    """∫ ε(v)·D·ε(u) dΩ with D (3, 3, nel, nqp) in-plane Voigt (11, 22, 12; γ12 = 2ε12)."""
    eu, ev = sym_grad(u), sym_grad(v)
    gu = np.stack([eu[0, 0], eu[1, 1], 2.0 * eu[0, 1]])
    gv = np.stack([ev[0, 0], ev[1, 1], 2.0 * ev[0, 1]])
    return np.einsum("i...,ij...,j...->...", gv, np.asarray(w.ddsdde), gu)


class PlateModel:
    """The discretized quarter plate: basis, constrained dofs and point-wise operators.

    Material-point arrays are point-first, ``(npoints, ntens)`` with the points of element e
    at rows ``e·nqp … e·nqp + nqp − 1``.
    """

    def __init__(self, mesh: MeshQuad, half_width: float) -> None:
        self.mesh = mesh
        self.basis = Basis(mesh, ElementVector(ElementQuadS2()), intorder=3)  # 2×2 Gauss
        self.nel, self.nqp = self.basis.dx.shape
        self.npoints = self.nel * self.nqp
        left = self.basis.get_dofs(lambda x: np.isclose(x[0], 0.0)).all("u^1")
        bottom = self.basis.get_dofs(lambda x: np.isclose(x[1], 0.0)).all("u^2")
        self.top = self.basis.get_dofs(lambda x: np.isclose(x[1], half_width)).all("u^2")
        self.fixed = np.unique(np.concatenate([left, bottom, self.top]))
        self.free = np.setdiff1d(np.arange(self.basis.N), self.fixed)

    def strain(self, u: np.ndarray) -> np.ndarray:
        """Plane-strain Voigt strain (ε11, ε22, 0, γ12) at every point, ``(npoints, 4)``."""
        g = self.basis.interpolate(u).grad  # (2, 2, nel, nqp): ∂u_i/∂x_j
        out = np.zeros((self.npoints, 4))
        out[:, 0], out[:, 1] = g[0, 0].ravel(), g[1, 1].ravel()
        out[:, 3] = (g[0, 1] + g[1, 0]).ravel()
        return out

    def internal_force(self, stress: np.ndarray) -> np.ndarray:
        """R = ∫ Bᵀσ dΩ from the point stresses ``(npoints, 4)`` (σ33 does no work)."""
        s = stress[:, IN_PLANE].T.reshape(3, self.nel, self.nqp)
        return _internal_force.assemble(self.basis, stress=s)

    def stiffness(self, ddsdde: np.ndarray) -> scipy.sparse.csr_matrix:
        """K = ∫ Bᵀ D B dΩ from the point tangents ``(npoints, 4, 4)`` (in-plane block)."""
        D = ddsdde[:, IN_PLANE][:, :, IN_PLANE].transpose(1, 2, 0)
        return _tangent_stiffness.assemble(self.basis, ddsdde=D.reshape(3, 3, self.nel,
                                                                        self.nqp))

    def reaction(self, force: np.ndarray) -> float:
        """Total vertical force on the loaded edge (per unit thickness, quarter model)."""
        return float(force[self.top].sum())

    def prescribed(self, delta: float) -> np.ndarray:
        """Displacement vector that is δ on the top u₂ dofs and zero elsewhere."""
        u = np.zeros(self.basis.N)
        u[self.top] = delta
        return u


# ---------------------------------------------------------------- the FE² solver

@dataclass
class Increment:
    """One converged (sub)increment: top displacement, reaction and Newton residual history."""

    displacement: float
    force: float
    residuals: list[float]
    cut_level: int


@dataclass
class FE2Result:
    """Load–displacement history and the final fields of an FE² run."""

    increments: list[Increment]
    u: np.ndarray
    stress: np.ndarray
    statev: np.ndarray
    strain: np.ndarray
    cuts: int = 0
    umat_calls: int = 0
    umat_seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def displacement(self) -> np.ndarray:
        """Top displacement at the start (0) and after each converged increment."""
        return np.array([0.0] + [inc.displacement for inc in self.increments])

    @property
    def force(self) -> np.ndarray:
        """Reaction force matching :attr:`displacement`."""
        return np.array([0.0] + [inc.force for inc in self.increments])


class NewtonFailure(RuntimeError):
    """The macroscopic Newton iteration of an increment failed (cut the increment)."""


class FE2Solver:
    """Displacement-controlled incremental Newton solver of :class:`PlateModel` with a UMAT.

    ``tol``: convergence when ‖R_free‖ ≤ tol·‖R_constrained‖ (residual relative to the
    reactions); ``max_newton`` iterations per increment; ``max_cuts`` successive halvings.
    """

    def __init__(self, model: PlateModel, umat: Umat, *, tol: float = 1e-8,
                 max_newton: int = 12, max_cuts: int = 6, verbose: bool = True) -> None:
        if umat.ntens != 4:
            raise ValueError(f"the plate is plane strain: it needs a UMAT with ntens = 4 "
                             f"(11, 22, 33, 12), got ntens = {umat.ntens} (use a 2D ROM)")
        self.model, self.umat = model, umat
        self.tol, self.max_newton, self.max_cuts = float(tol), int(max_newton), int(max_cuts)
        self.verbose = verbose
        self.umat_calls, self.umat_seconds = 0, 0.0

    def run(self, delta: float, steps: int) -> FE2Result:
        """Load the top edge to ``delta`` in ``steps`` equal increments."""
        m = self.model
        u = np.zeros(m.basis.N)
        stress = np.zeros((m.npoints, 4))
        strain = np.zeros((m.npoints, 4))
        statev = self.umat.initial_statev(m.npoints)
        ddsdde = self.umat.batch(stress, statev, strain, strain)[2]  # elastic tangent
        increments: list[Increment] = []
        cuts = 0
        for k in range(steps):
            pending = [(delta * (k + 1) / steps, 0)]  # (target displacement, cut level)
            while pending:
                target, level = pending.pop()
                start = increments[-1].displacement if increments else 0.0
                try:
                    u, stress, statev, strain, ddsdde, residuals = self._increment(
                        u, stress, statev, strain, ddsdde, target - start)
                except NewtonFailure as err:
                    if level >= self.max_cuts:
                        raise NewtonFailure(f"increment {k + 1} failed after {self.max_cuts} "
                                            f"cuts: {err}") from None
                    cuts += 1
                    self._print(f"  cut ({err}): retry with half the increment")
                    pending += [(target, level + 1), (0.5 * (start + target), level + 1)]
                    continue
                force = m.reaction(m.internal_force(stress))
                increments.append(Increment(target, force, residuals, level))
                self._print(f"increment {k + 1:3d}{'' if not level else f' (1/{2**level})'}"
                            f"  δ = {target:.5g}  F = {force:.6g}  residuals "
                            + " ".join(f"{r:.2e}" for r in residuals))
        return FE2Result(increments, u, stress, statev, strain, cuts, self.umat_calls,
                         self.umat_seconds)

    def _increment(self, u_n: np.ndarray, stress_n: np.ndarray, statev_n: np.ndarray,
                   strain_n: np.ndarray, ddsdde_n: np.ndarray, ddelta: float):
        """Newton from the converged state n; returns the new state and the residual history.

        The first iterate solves K_n Δu = 0 on the free dofs with the prescribed Δδ, K_n the
        tangent of the last converged iteration (a linear increment is then exact at once).
        """
        m = self.model
        u = u_n + solve(*condense(m.stiffness(ddsdde_n), np.zeros(m.basis.N),
                                  x=m.prescribed(ddelta), D=m.fixed))
        residuals: list[float] = []
        for _ in range(self.max_newton + 1):
            strain = m.strain(u)
            t0 = time.perf_counter()
            stress, statev, ddsdde, converged = self.umat.batch(stress_n, statev_n, strain_n,
                                                                strain - strain_n)
            self.umat_seconds += time.perf_counter() - t0
            self.umat_calls += 1
            if not np.all(converged):
                raise NewtonFailure(f"{int(np.size(converged) - np.count_nonzero(converged))} "
                                    "material points did not converge")
            force = m.internal_force(stress)
            reaction = np.linalg.norm(force[m.fixed])
            r = float(np.linalg.norm(force[m.free]) / max(reaction, np.finfo(float).tiny))
            residuals.append(r)
            if not np.isfinite(r) or (len(residuals) > 2 and r > residuals[-2]
                                      and r > residuals[0]):
                raise NewtonFailure(f"Newton diverged (residuals {residuals})")
            if r <= self.tol:
                return u, stress, statev, strain, ddsdde, residuals
            du = solve(*condense(m.stiffness(ddsdde), -force, D=m.fixed))
            u = u + du
        raise NewtonFailure(f"no convergence in {self.max_newton} Newton iterations "
                            f"(last relative residual {residuals[-1]:.2e})")

    def _print(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)


def elastic_solution(model: PlateModel, stiffness: np.ndarray, delta: float
                     ) -> tuple[np.ndarray, float]:
    """Linear elastic plate with a homogeneous in-plane Voigt stiffness (3, 3): (u, reaction)."""
    D = np.broadcast_to(np.asarray(stiffness, dtype=float)[None, :, :], (model.npoints, 3, 3))
    ddsdde = np.zeros((model.npoints, 4, 4))
    ddsdde[:, np.array(IN_PLANE)[:, None], np.array(IN_PLANE)] = D
    K = model.stiffness(ddsdde)
    u = solve(*condense(K, np.zeros(model.basis.N), x=model.prescribed(delta), D=model.fixed))
    stress = np.einsum("pij,pj->pi", ddsdde, model.strain(u))
    return u, model.reaction(model.internal_force(stress))


def mandel_plane_to_voigt(C: np.ndarray) -> np.ndarray:
    """In-plane Mandel stiffness (11, 22, √2·12) → in-plane Voigt (11, 22, 12; engineering γ)."""
    w = np.array([1.0, 1.0, np.sqrt(2.0)])
    return np.asarray(C) / np.outer(w, w)


# ---------------------------------------------------------------- the single-scale reference

class PlaneStrainVonMises:
    """A homogeneous von Mises material behind the same batched UMAT signature (plane strain).

    The single-scale reference of the example (``--material matrix``): the matrix phase alone.
    STATEV packs the material state (``material.pack_state``); stresses and strains are
    converted between Voigt (11, 22, 33, 12) and Mandel with :mod:`kernels.tensors`. A failed
    return mapping marks every point as not converged (the material raises for the batch).
    """

    ntens = 4

    def __init__(self, material: VonMises) -> None:
        self.material = material
        self.statev_names = [name if size == 1 else f"{name}[{k}]"
                             for name, size in material.state_variables for k in range(size)]
        self.nstatv = len(self.statev_names)
        self._elastic = self._voigt_tangent(material.stiffness[None])[0]
        #: In-plane Voigt elastic stiffness (11, 22, 12), the C_eff of a homogeneous plate.
        self.elastic_plane_stiffness = self._elastic[np.ix_(IN_PLANE, IN_PLANE)]

    def initial_statev(self, npoints: int) -> np.ndarray:
        """Virgin state, ``(npoints, nstatv)``."""
        return self.material.pack_state(self.material.initial_state(npoints))

    def batch(self, stress: np.ndarray, statev: np.ndarray, stran: np.ndarray,
              dstran: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(stress, statev, DDSDDE, converged) at the end of the increment ``dstran``."""
        n = dstran.shape[0]
        full = np.zeros((n, 6))
        full[:, :4] = dstran
        try:
            s, C, state = self.material.update(voigt_to_mandel_strain(full),
                                               self.material.unpack_state(statev))
        except ReturnMappingError:
            return (stress.copy(), statev.copy(), np.broadcast_to(self._elastic, (n, 4, 4)).copy(),
                    np.zeros(n, dtype=bool))
        return (mandel_to_voigt_stress(s)[:, :4], self.material.pack_state(state),
                self._voigt_tangent(C), np.ones(n, dtype=bool))

    @staticmethod
    def _voigt_tangent(C: np.ndarray) -> np.ndarray:
        return mandel_to_voigt_stiffness(C)[:, :4, :4]


# ---------------------------------------------------------------- the example

def reference_materials() -> Path:
    """The shipped TOML of the reference materials (von Mises matrix, elastic fibres)."""
    return Path(str(resources.files("homog.data").joinpath("reference_materials.toml")))


def fibre_rom(size: int = 64, clusters: dict[int, int] | None = None, radius: float = 0.1,
              volume_fraction: float = 0.3, seed: int = 0) -> Any:
    """SCA reduced-order model of a periodic 2D fibre RVE with the reference materials."""
    ms = rve_gen.circles(volume_fraction=volume_fraction, radius=radius,
                         seed=seed).voxelize((size, size))
    return build_rom(ms, reference_materials(), clusters or {0: 8, 1: 4}, seed=seed,
                     adaptive=None)  # the UMAT runs static clusters: no fine level to build


#: UMAT options per reference-medium treatment. "frozen" keeps the (λ0, μ0) of STATEV — the
#: isotropic fit of C_eff — so that DDSDDE is the exact derivative of the returned stress; the
#: self-consistent schemes refit (λ0, μ0) to the increment inside the call, which DDSDDE does
#: not differentiate (the macro Newton iteration then converges only linearly; docs/fe2.md).
REFERENCE_MEDIA = {"frozen": {"scs_tol": np.inf}, "regression": {"scs": "regression"},
                   "projection": {"scs": "projection"}}


def rom_umat(rom: Any, reference: str = "frozen") -> Any:
    """``rom.umat(...)`` with the reference medium of :data:`REFERENCE_MEDIA`."""
    if reference not in REFERENCE_MEDIA:
        raise ValueError(f"reference = {reference!r}; choose one of {', '.join(REFERENCE_MEDIA)}")
    return rom.umat(**REFERENCE_MEDIA[reference])


def equivalent_plastic_strain(umat: Umat, statev: np.ndarray) -> np.ndarray:
    """Volume average over the RVE of the equivalent plastic strain ε̄p, ``(npoints,)``.

    Sums the STATEV columns ``cluster<I>.eqps`` weighted by the volume fraction c_I of their
    cluster (elastic phases have no ``eqps``: they add zero); a single-scale material's
    ``eqps`` column is taken as it is.
    """
    columns, weights = [], []
    for k, name in enumerate(umat.statev_names):
        owner, _, variable = name.rpartition(".")
        if variable == "eqps" or name == "eqps":
            columns.append(k)
            cluster = owner.removeprefix("cluster")
            weights.append(umat.rom.volume_fractions[int(cluster)] if cluster else 1.0)
    return statev[:, columns] @ np.asarray(weights)


def write_outputs(out: Path, model: PlateModel, result: FE2Result, umat: Umat,
                  elastic_slope: float, title: str) -> None:
    """curve.csv, residuals.csv, curve.png and plastic_zone.png in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    out.mkdir(parents=True, exist_ok=True)
    with (out / "curve.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["displacement", "force", "force_elastic_C_eff", "newton_iterations",
                    "cut_level"])
        w.writerow([0.0, 0.0, 0.0, 0, 0])
        for inc in result.increments:
            w.writerow([inc.displacement, inc.force, elastic_slope * inc.displacement,
                        len(inc.residuals) - 1, inc.cut_level])
    with (out / "residuals.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["increment", "displacement", "iteration", "relative_residual"])
        for k, inc in enumerate(result.increments, start=1):
            w.writerows([k, inc.displacement, i, r] for i, r in enumerate(inc.residuals))

    d, F = result.displacement, result.force
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(d, F, "o-", ms=3, label=title)
    ax.plot(d, elastic_slope * d, "--", color="grey", label="linear elastic, C_eff")
    ax.set_xlabel("top displacement δ")
    ax.set_ylabel("reaction force F (quarter plate, per unit thickness)")
    ax.set_ylim(0.0, 1.15 * F.max())
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=150)
    plt.close(fig)

    corners = model.mesh.p[:, model.mesh.t].transpose(2, 1, 0)  # (nel, 4, 2)
    eqps = equivalent_plastic_strain(umat, result.statev).reshape(model.nel, model.nqp)
    s22 = result.stress[:, 1].reshape(model.nel, model.nqp)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
    for ax, values, label, cmap in ((axes[0], eqps, "⟨ε̄p⟩ (RVE average)", "inferno_r"),
                                    (axes[1], s22, "σ22", "viridis")):
        cells = PolyCollection(corners, array=values.mean(axis=1), cmap=cmap,
                               edgecolors="face", linewidths=0.2)
        ax.add_collection(cells)
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_title(f"{label} at δ = {d[-1]:.4g}")
        fig.colorbar(cells, ax=ax, shrink=0.85)
    fig.tight_layout()
    fig.savefig(out / "plastic_zone.png", dpi=150)
    plt.close(fig)


def parse_clusters(text: str) -> dict[int, int]:
    """``"0=8,1=4"`` → {0: 8, 1: 4}."""
    try:
        return {int(k): int(v) for k, v in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"--clusters {text!r}: expected PHASE=COUNT pairs "
                                         "separated by commas, e.g. 0=8,1=4") from None


def main(argv: list[str] | None = None) -> FE2Result:
    """Command line: build (or load) the ROM, run the FE² plate, write and print the results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--material", choices=("rom", "matrix"), default="rom",
                   help="rom: SCA model of the fibre RVE (FE²); matrix: the von Mises matrix "
                   "alone (single-scale reference)")
    p.add_argument("--rom", type=Path, help="load this ROM file instead of building one")
    p.add_argument("--reference", choices=tuple(REFERENCE_MEDIA), default="frozen",
                   help="reference medium of the ROM: frozen at the fit of C_eff (consistent "
                   "DDSDDE, quadratic macro Newton) or refitted self-consistently per call")
    p.add_argument("--size", type=int, default=64, help="RVE voxels per side")
    p.add_argument("--clusters", type=parse_clusters, default={0: 8, 1: 4},
                   help="clusters per phase, PHASE=COUNT,...")
    p.add_argument("--fibre-radius", type=float, default=0.1, help="fibre radius / RVE side")
    p.add_argument("--hole-radius", type=float, default=0.3, help="hole radius / half-width")
    p.add_argument("--n-theta", type=int, default=16, help="elements around the hole (even)")
    p.add_argument("--n-radial", type=int, default=10, help="elements from hole to edge")
    p.add_argument("--displacement", type=float, default=0.02,
                   help="final top displacement (half-width = 1)")
    p.add_argument("--steps", type=int, default=20, help="load increments")
    p.add_argument("--tol", type=float, default=1e-8, help="relative residual tolerance")
    p.add_argument("--max-newton", type=int, default=12, help="Newton iterations per increment")
    p.add_argument("--max-cuts", type=int, default=6, help="halvings of a failing increment")
    p.add_argument("-o", "--out", type=Path, default=Path("fe2-plate"), help="output folder")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    if args.material == "matrix":
        umat: Any = PlaneStrainVonMises(from_config(reference_materials())[0])
        title, C_eff = "single scale: von Mises matrix", umat.elastic_plane_stiffness
    else:
        rom = load_rom(args.rom) if args.rom else fibre_rom(args.size, args.clusters,
                                                             args.fibre_radius)
        umat = rom_umat(rom, args.reference)
        title = f"FE², SCA ROM {rom.n_clusters}, {args.reference} C0"
        C_eff = mandel_plane_to_voigt(rom.C_eff)
        print(f"ROM: {rom.K} clusters {rom.n_clusters}, {umat.nstatv} state variables per "
              f"point ({time.perf_counter() - t0:.1f} s)")
    model = PlateModel(plate_with_hole_mesh(1.0, args.hole_radius, args.n_theta, args.n_radial),
                       1.0)
    print(f"mesh: {model.nel} CPE8R elements, {model.npoints} material points, "
          f"{model.basis.N} dofs")
    t1 = time.perf_counter()
    result = FE2Solver(model, umat, tol=args.tol, max_newton=args.max_newton,
                       max_cuts=args.max_cuts).run(args.displacement, args.steps)
    solve_s = time.perf_counter() - t1
    first = result.increments[0]
    _, F_el = elastic_solution(model, C_eff, first.displacement)
    print(f"first increment δ = {first.displacement:.4g}: F = {first.force:.8g}, linear elastic "
          f"with C_eff F = {F_el:.8g}, relative difference {abs(first.force / F_el - 1):.2e}")
    print(f"final δ = {result.displacement[-1]:.4g}: F = {result.force[-1]:.6g} "
          f"= {result.force[-1] / (F_el / first.displacement * result.displacement[-1]):.3f} "
          f"× the elastic line; {len(result.increments)} increments, {result.cuts} cuts, "
          f"{sum(len(i.residuals) - 1 for i in result.increments)} Newton iterations")
    points = result.umat_calls * model.npoints
    print(f"solve {solve_s:.1f} s, of which umat.batch {result.umat_seconds:.1f} s "
          f"({result.umat_calls} calls, {points / max(result.umat_seconds, 1e-12):.3g} "
          f"point-increments/s)")
    write_outputs(args.out, model, result, umat, F_el / first.displacement, title)
    print(f"wrote {args.out}/curve.csv, residuals.csv, curve.png, plastic_zone.png")
    result.info.update(elastic_force=F_el, solve_s=solve_s)
    return result


if __name__ == "__main__":
    main()
