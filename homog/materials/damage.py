"""Von Mises plasticity with isotropic ductile damage driven by the equivalent plastic strain.

Effective-stress concept (Kachanov 1958; Lemaitre, J. Eng. Mater. Technol. 107, 1985;
Lemaitre & Chaboche, Mechanics of Solid Materials, 1990, §7.2): plastic flow takes place in the
effective (undamaged) configuration and one scalar damage D scales the stress,

    σ = (1 − D) σ̃,        σ̃, εp, ε̄p  from the J2 radial return of :class:`VonMises`

(same E, ν, hardening and kinematic modulus), so the damaged elastic stiffness is (1 − D) C and
the nominal yield stress (1 − D) σ_y(ε̄p). D is a function of the accumulated equivalent plastic
strain ε̄p (which never decreases, so D never heals), zero up to the onset ε̄p_0:

    exponential:  D = 1 − exp(−(ε̄p − ε̄p_0)/s)        linear:  D = (ε̄p − ε̄p_0)/(2s)

for ε̄p > ε̄p_0, both capped at D_max < 1 (default 0.99) so that the stiffness (1 − D) C of a
failed point stays positive definite and the solvers keep a non-singular system. Both laws share
∫_{ε̄p_0}^∞ (1 − D) dε̄p = s (without the cap): with the yield stress frozen at its onset value,
the energy density dissipated after onset is σ_y(ε̄p_0) · s.

**Regularization** (crack band, Bažant & Oh, Matériaux et Constructions 16, 1983): in a softening
solid the deformation localizes into a band one element wide, so a local law dissipates an energy
that vanishes with the element size h. The crack band keeps the energy per unit band area equal
to the fracture energy G_f: σ_y(ε̄p_0) · s · h = G_f, i.e.

    s = G_f / (σ_y(ε̄p_0) · h),

with h the point's ``element_length`` (voxel size in the DNS, cluster length in the ROM), given
to :meth:`initial_state` and stored in the state. Without ``fracture_energy`` the law is local:
s = ``softening_strain`` at every point, whatever its size.

**Non-local damage** (``nonlocal_length`` ℓ; Pijaudier-Cabot & Bažant, J. Eng. Mech. 113, 1987):
D is driven by the history maximum κ of the over-non-local variable (Vermeer & Brinkgreve 1994;
Grassl & Jirásek, Int. J. Solids Struct. 43, 2006)

    ε̂ = m ε̄p_nl + (1 − m) ε̄p,     κ = max over the history of ε̂,     D = D(κ),

where ε̄p_nl is the Gaussian average of ε̄p over the material (:mod:`homog.nonlocal_average`)
and m = ``over_nonlocal`` ≥ 1 (m = 1: the plain non-local average). The solvers supply the
average: :func:`homog.dns` on the voxel grid, the ROM on its clusters (:meth:`update_nonlocal`).
A plain :meth:`update` sees a homogeneous field, where ε̄p_nl = ε̄p. The crack band is the
regularization of a finite element or voxel code; the cluster lengths of a ROM do not make it
objective (docs/failure.md), the non-local length does.

**Consistent tangent.** Differentiating σ = (1 − D(ε̄p)) σ̃:

    C_alg = (1 − D) C̃_alg − σ̃ ⊗ ∂D/∂ε,      ∂D/∂ε = D'(ε̄p) · √6 μ / (3μ + H_kin + σ_y'(ε̄p)) · n,

where C̃_alg is the von Mises consistent tangent (Simo & Hughes 1998, Box 3.2) and the second
factor is ∂Δε̄p/∂ε from the consistency condition q^tr − (3μ + H_kin)Δε̄p − σ_y(ε̄p_n + Δε̄p) = 0
with ∂q^tr/∂ε = √6 μ n, n = ξ/‖ξ‖ the flow direction (ξ = dev σ̃ − β). The term is non-zero only
at points that flowed in the increment with ε̄p > ε̄p_0 and D < D_max; the tangent is not
symmetric there and, once D' σ_y outweighs the hardening, not positive definite (softening).
Non-locally, ∂D_I/∂ε_J = D'(κ_I) (m W_IJ + (1 − m) δ_IJ) ∂ε̄p_J/∂ε_J couples the points: the
local part stays in the returned tangent, the rest comes back as a :class:`NonlocalCoupling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from homog.materials._validation import finite_number, non_negative, positive
from homog.materials.base import Material, State
from homog.materials.hardening import HardeningLaw
from homog.materials.von_mises import VonMises
from kernels.arraymodule import array_module

SQRT_6 = float(np.sqrt(6.0))
#: Softening laws D(ε̄p) by name.
SOFTENING_LAWS = ("exponential", "linear")
#: Tangents ``update`` returns: the consistent one, or the symmetric secant-type (1 − D) C̃_alg.
TANGENTS = ("consistent", "secant")


@dataclass
class NonlocalCoupling:
    """The non-local part of the consistent tangent: ∂σ_I/∂ε_J = −W_IJ · U_I ⊗ G_J.

    ``U`` (n, 6) = m D'(κ_I) σ̃_I at the points whose damage grows (zero elsewhere), ``G``
    (n, 6) = ∂ε̄p_J/∂ε_J at the points that flowed (zero elsewhere) and ``average`` the
    averaging operator W of the update; :meth:`apply` is the product with a strain field.
    """

    U: Any
    G: Any
    average: Any

    def apply(self, v: Any) -> Any:
        """−U_I Σ_J W_IJ G_J·v_J for ``v`` (n, 6): the coupling's share of ∂σ·v."""
        xp = array_module(v)
        return -self.U * self.average(xp.einsum("ni,ni->n", self.G, v))[:, None]


class VonMisesDamage(Material):
    """J2 plasticity (:class:`VonMises`) with isotropic damage D(ε̄p), effective-stress concept.

    Parameters
    ----------
    E, nu, hardening, kinematic_modulus : the effective (undamaged) von Mises material.
    onset : ε̄p_0 ≥ 0, equivalent plastic strain at which damage starts.
    fracture_energy : G_f > 0 (energy per unit area, e.g. MPa·mm = N/mm): crack-band
        regularized softening, s = G_f / (σ_y(ε̄p_0) h) with h each point's ``element_length``.
    softening_strain : s > 0, softening scale in plastic strain: a local law, or with
        ``nonlocal_length`` the material's own. Give exactly one of ``fracture_energy`` and
        ``softening_strain``.
    nonlocal_length : ℓ > 0, internal length of the non-local damage (module docstring), in the
        units of the RVE lengths; needs ``softening_strain``. Resolve it: voxel size and
        cluster count fine enough that the results no longer move (docs/failure.md).
    over_nonlocal : m ≥ 1 of the over-non-local driving variable (default 1).
    softening : "exponential" (default) or "linear" law D(ε̄p) (module docstring).
    max_damage : D_max in [0, 1), default 0.99; D_max = 0 is plain :class:`VonMises`.
    tangent : "consistent" (default) or "secant": (1 − D) C̃_alg without the damage-growth
        term, symmetric positive semi-definite. Newton then converges linearly, but the
        conjugate-gradient solves of the full-field solver (:func:`homog.dns`) stay well posed
        while the material softens, where the consistent tangent is indefinite and CG breaks
        down.

    State: the :class:`VonMises` variables (``strain``, ``stress`` = the damaged stress σ,
    ``plastic_strain``, ``eqps``, ``back_stress`` when H_kin > 0), then ``damage`` (1) and, when
    regularized, ``element_length`` (1) (crack band) or ``nonlocal_eqps`` (1), κ (non-local).
    """

    name = "von_mises_damage"

    def __init__(
        self,
        E: float,
        nu: float,
        hardening: HardeningLaw,
        *,
        onset: float = 0.0,
        fracture_energy: float | None = None,
        softening_strain: float | None = None,
        softening: str = "exponential",
        max_damage: float = 0.99,
        kinematic_modulus: float = 0.0,
        tangent: str = "consistent",
        nonlocal_length: float | None = None,
        over_nonlocal: float = 1.0,
    ):
        self.effective = VonMises(E, nu, hardening, kinematic_modulus=kinematic_modulus)
        self.onset = non_negative(onset, "onset", " (equivalent plastic strain at damage onset)")
        if (fracture_energy is None) == (softening_strain is None):
            raise ValueError(
                "give exactly one of fracture_energy (G_f > 0, crack-band regularized: results "
                "converge with the mesh / cluster count) or softening_strain (s > 0, local law)"
            )
        self.fracture_energy = (
            None
            if fracture_energy is None
            else positive(fracture_energy, "fracture_energy", " (G_f, energy per unit area)")
        )
        self.softening_strain = (
            None
            if softening_strain is None
            else positive(softening_strain, "softening_strain", " (plastic strain scale s)")
        )
        self.nonlocal_length = (
            None
            if nonlocal_length is None
            else positive(nonlocal_length, "nonlocal_length", " (internal length ℓ)")
        )
        if self.nonlocal_length is not None and self.fracture_energy is not None:
            raise ValueError(
                "nonlocal_length regularizes the softening by itself: give softening_strain "
                "(the material's softening scale s), not fracture_energy (crack band)"
            )
        self.over_nonlocal = finite_number(over_nonlocal, "over_nonlocal")
        if self.over_nonlocal < 1.0:
            raise ValueError(
                f"over_nonlocal = {self.over_nonlocal} must be >= 1 (1: plain non-local "
                "average; > 1: over-non-local, Grassl & Jirasek 2006)"
            )
        if softening not in SOFTENING_LAWS:
            raise ValueError(
                f"softening = {softening!r} is not a known law; allowed: {list(SOFTENING_LAWS)}"
            )
        self.softening = softening
        if tangent not in TANGENTS:
            raise ValueError(f"tangent = {tangent!r}: use one of {list(TANGENTS)}")
        self.tangent = tangent
        self.max_damage = finite_number(max_damage, "max_damage")
        if not 0.0 <= self.max_damage < 1.0:
            raise ValueError(
                f"max_damage = {self.max_damage} must lie in [0, 1): the residual stiffness "
                "(1 - D_max) C must stay positive (e.g. 0.99)"
            )
        #: σ_y(ε̄p_0): the effective yield stress at onset, which converts G_f into s.
        self.onset_stress = float(hardening.sigma_y(np.array([self.onset]))[0])

    # ------------------------------------------------------------------ properties
    @property
    def regularized(self) -> bool:
        """True when the softening is scaled by each point's element length (crack band)."""
        return self.fracture_energy is not None

    @property
    def is_nonlocal(self) -> bool:
        """True when the damage is driven by a non-local average (``nonlocal_length``)."""
        return self.nonlocal_length is not None

    @property
    def stiffness(self) -> np.ndarray:
        return self.effective.stiffness

    @property
    def hardening(self) -> HardeningLaw:
        """The effective material's isotropic hardening law."""
        return self.effective.hardening

    @property
    def state_variables(self) -> tuple[tuple[str, int], ...]:
        extra = (("damage", 1),) + ((("element_length", 1),) if self.regularized else ())
        extra += (("nonlocal_eqps", 1),) if self.is_nonlocal else ()
        return self.effective.state_variables + extra

    def initial_state(
        self,
        npoints: int,
        xp: ModuleType = np,
        dtype: Any = np.float64,
        *,
        element_length: Any = None,
    ) -> State:
        """Zeros, and h = ``element_length`` (scalar or ``(npoints,)``, > 0) when regularized."""
        state = super().initial_state(npoints, xp, dtype)
        if not self.regularized:
            return state
        if element_length is None:
            raise ValueError(
                f"{self.name} with fracture_energy needs element_length (the voxel size in the "
                "DNS, the cluster length in the ROM): initial_state(npoints, "
                "element_length=h); or use softening_strain for a local law"
            )
        h = xp.asarray(element_length, dtype=dtype)
        if h.ndim == 0:
            h = xp.full(npoints, h, dtype=dtype)
        if h.shape != (npoints,):
            raise ValueError(
                f"element_length has shape {h.shape}; give a scalar or one value per point "
                f"({npoints},)"
            )
        _check_lengths(h, xp)
        state["element_length"] = h.reshape(npoints, 1).copy()
        return state

    # ------------------------------------------------------------------ damage law
    def softening_scale(self, state: State) -> Any:
        """s per point ``(npoints,)``: G_f/(σ_y(ε̄p_0) h) (regularized) or ``softening_strain``."""
        if not self.regularized:
            return self.softening_strain
        return self.fracture_energy / (self.onset_stress * state["element_length"][:, 0])

    def damage(self, eqps: Any, scale: Any) -> tuple[Any, Any]:
        """D(ε̄p) capped at D_max and its slope dD/dε̄p (zero below onset and at the cap)."""
        xp = array_module(eqps)
        x = xp.maximum(eqps - self.onset, 0.0) / scale
        if self.softening == "exponential":
            decay = xp.exp(-x)
            raw, slope = 1.0 - decay, decay / scale
        else:
            raw, slope = 0.5 * x, 0.5 / scale + 0.0 * x
        growing = (eqps > self.onset) & (raw < self.max_damage)
        return xp.minimum(raw, self.max_damage), xp.where(growing, slope, 0.0)

    # ------------------------------------------------------------------ update
    @property
    def can_soften(self) -> bool:
        return True

    @property
    def secant_tangent(self) -> bool:
        return self.tangent == "secant"

    def update(self, dstrain: Any, state: State) -> tuple[Any, Any, State]:
        """σ = (1 − D) σ̃ with σ̃ from the von Mises radial return (module docstring).

        A non-local model sees a homogeneous field here (ε̄p_nl = ε̄p); the solvers call
        :meth:`update_nonlocal` with the average over the microstructure.
        """
        stress, tangent, new_state, _ = self.update_nonlocal(dstrain, state, None)
        return stress, tangent, new_state

    def update_nonlocal(self, dstrain: Any, state: State,
                        average: Any) -> tuple[Any, Any, State, NonlocalCoupling | None]:
        """:meth:`update` with ε̄p_nl = ``average(ε̄p)`` (a linear map of the (n,) ε̄p).

        Returns the stress, the local part of the tangent, the new state and the coupling
        (:class:`NonlocalCoupling`) of the consistent tangent; None for the secant tangent, a
        local model or a plain update (``average`` None).
        """
        xp = self._check_increment(dstrain, state)
        if self.regularized:
            _check_lengths(state["element_length"][:, 0], xp)
        effective_stress, tangent, new_state = self.effective.update(dstrain, state)
        eqps, flowed = new_state["eqps"][:, 0], new_state["eqps"][:, 0] > state["eqps"][:, 0]
        local_weight = 1.0
        if self.is_nonlocal:
            m = self.over_nonlocal
            averaged = eqps if average is None else average(eqps)
            drive = m * averaged + (1.0 - m) * eqps
            previous = state["nonlocal_eqps"][:, 0]
            kappa = xp.maximum(previous, drive)
            damage, slope = self.damage(kappa, self.softening_strain)
            slope = xp.where(drive > previous, slope, 0.0)
            new_state["nonlocal_eqps"] = kappa[:, None]
            if average is not None:
                local_weight = 1.0 - m
        else:
            damage, slope = self.damage(eqps, self.softening_scale(state))
        if not bool(xp.all(xp.isfinite(damage))):
            raise ValueError(f"{self.name} state holds NaN or inf in nonlocal_eqps: pass the "
                             "state of the last converged update, or initial_state(npoints)")
        intact = 1.0 - damage
        stress = intact[:, None] * effective_stress
        tangent *= intact[:, None, None]
        new_state["stress"] = stress
        new_state["damage"] = damage[:, None]
        if self.regularized:
            new_state["element_length"] = state["element_length"]
        if self.tangent != "consistent":
            return stress, tangent, new_state, None
        # ∂ε̄p/∂ε = √6 μ/(3μ + H) n at the points that flowed, n = ξ/‖ξ‖ (module docstring)
        mu, h_kin = self.effective.mu, self.effective.kinematic_modulus
        xi = effective_stress.copy()
        xi[:, :3] -= xi[:, :3].mean(axis=1, keepdims=True)
        if self.effective.kinematic:
            xi -= new_state["back_stress"]
        norm = xp.sqrt(xp.einsum("ni,ni->n", xi, xi))
        gain = SQRT_6 * mu / (3.0 * mu + self.hardening.slope(eqps) + h_kin)
        G = xp.where(flowed, gain / xp.where(flowed, norm, 1.0), 0.0)[:, None] * xi
        U = slope[:, None] * effective_stress
        if local_weight != 0.0:
            tangent -= local_weight * xp.einsum("ni,nj->nij", U, G)
        if not self.is_nonlocal or average is None:
            return stress, tangent, new_state, None
        return stress, tangent, new_state, NonlocalCoupling(self.over_nonlocal * U, G, average)

    def to_config(self) -> dict[str, Any]:
        config = self.effective.to_config() | {"model": self.name, "onset": self.onset}
        if self.regularized:
            config["fracture_energy"] = self.fracture_energy
        else:
            config["softening_strain"] = self.softening_strain
        config["softening"] = self.softening
        config["max_damage"] = self.max_damage
        if self.tangent != "consistent":
            config["tangent"] = self.tangent
        if self.is_nonlocal:
            config["nonlocal_length"] = self.nonlocal_length
            config["over_nonlocal"] = self.over_nonlocal
        return config


def _check_lengths(h: Any, xp: ModuleType) -> None:
    if h.size and not bool(xp.all(xp.isfinite(h) & (h > 0.0))):
        raise ValueError(
            "element_length must be finite and > 0 at every point (got a zero, negative or "
            "non-finite value); build the state with initial_state(npoints, element_length=h) "
            "rather than zeros (a UMAT STATEV array must carry h)"
        )
