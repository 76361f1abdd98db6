"""J2 (von Mises) plasticity with isotropic and linear kinematic hardening, radial return.

Yield function on the relative stress ξ = s − β (s = dev σ, β the deviatoric back stress):

    f = ‖ξ‖ − √(2/3) σ_y(ε̄p)      (Simo & Hughes 1998, eq. 2.3.13 / Box 3.1)

with associative flow ε̇p = γ̇ n, n = ξ/‖ξ‖, ε̄p the accumulated equivalent plastic strain
(ε̄̇p = √(2/3) γ̇) and Prager's linear kinematic hardening β̇ = (2/3) H_kin γ̇ n, so that
in monotonic uniaxial tension the yield stress grows by (H_iso + H_kin)·ε̄p.

Return mapping (Simo & Hughes 1998, Box 3.2; de Souza Neto, Perić & Owen 2008, Box 7.5), for
the total strain ε_{n+1} = ε_n + Δε from the last converged state:

1. elastic predictor  s^tr = 2μ (dev ε_{n+1} − εp_n),  ξ^tr = s^tr − β_n,
   q^tr = √(3/2) ‖ξ^tr‖ (von Mises equivalent of the relative stress);
2. if q^tr ≤ σ_y(ε̄p_n) the step is elastic;
3. else solve the scalar consistency condition for the increment Δp = ε̄p_{n+1} − ε̄p_n,

       Φ(Δp) = q^tr − (3μ + H_kin) Δp − σ_y(ε̄p_n + Δp) = 0,

   by Newton's method (one step for linear hardening), then with Δγ = √(3/2) Δp
   εp_{n+1} = εp_n + Δγ n,  β_{n+1} = β_n + (2/3) H_kin Δγ n,  σ = K tr ε 1 + s^tr − 2μΔγ n;
4. consistent tangent (Simo & Hughes 1998, Box 3.2, step 5; eq. 3.3.10)

       C_alg = 3K I_vol + 2μ θ I_dev − 2μ θ̄ n⊗n,
       θ = 1 − 2μΔγ/‖ξ^tr‖ = 1 − 3μΔp/q^tr,  θ̄ = 1/(1 + (H_iso' + H_kin)/(3μ)) − (1 − θ).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from homog.materials._validation import finite_number, non_negative
from homog.materials.base import Material, State
from homog.materials.hardening import HardeningLaw
from kernels.tensors import DEVIATORIC, VOLUMETRIC, isotropic_stiffness, lame_from_young

SQRT_3_2 = float(np.sqrt(1.5))
SQRT_2_3 = float(np.sqrt(2.0 / 3.0))


class ReturnMappingError(RuntimeError):
    """The Newton iteration of the return mapping did not converge (cut the load increment)."""


class VonMises(Material):
    """Isotropic elastic, J2-plastic material with isotropic (any law) and kinematic hardening.

    Parameters: Young's modulus ``E``, Poisson's ratio ``nu``, an isotropic ``hardening`` law
    (:mod:`homog.materials.hardening`) and the linear kinematic (Prager) modulus
    ``kinematic_modulus`` H_kin ≥ 0 (0: no back stress).

    State: ``strain`` (6), ``stress`` (6), ``plastic_strain`` (6, Mandel), ``eqps`` (1,
    accumulated equivalent plastic strain ε̄p) and, when H_kin > 0, ``back_stress`` (6,
    deviatoric Mandel β).
    """

    name = "von_mises"
    #: Convergence of the consistency Newton iteration: |Φ| ≤ rtol · q^tr.
    rtol = 1e-13
    max_iterations = 50

    def __init__(
        self, E: float, nu: float, hardening: HardeningLaw, kinematic_modulus: float = 0.0
    ):
        if not isinstance(hardening, HardeningLaw):
            raise ValueError(
                f"hardening = {hardening!r} must be a HardeningLaw, e.g. "
                "LinearHardening(sigma_y0, H)"
            )
        self.E = finite_number(E, "E")
        self.nu = finite_number(nu, "nu")
        lam, self.mu = lame_from_young(self.E, self.nu)
        self.bulk = lam + 2.0 * self.mu / 3.0
        self.hardening = hardening
        self.kinematic_modulus = non_negative(
            kinematic_modulus, "kinematic_modulus", " (linear kinematic hardening modulus)"
        )
        self._stiffness = isotropic_stiffness(self.E, self.nu)

    @property
    def kinematic(self) -> bool:
        """True when the model carries a back stress (H_kin > 0)."""
        return self.kinematic_modulus > 0.0

    @property
    def stiffness(self) -> np.ndarray:
        return self._stiffness

    @property
    def state_variables(self) -> tuple[tuple[str, int], ...]:
        names = (("strain", 6), ("stress", 6), ("plastic_strain", 6), ("eqps", 1))
        return names + ((("back_stress", 6),) if self.kinematic else ())

    def yield_function(self, stress: Any, state: State) -> Any:
        """f = ‖dev σ − β‖ − √(2/3) σ_y(ε̄p) per point, ``(npoints,)``."""
        xi = _deviator(stress)
        if self.kinematic:
            xi = xi - state["back_stress"]
        norm = (xi * xi).sum(axis=1) ** 0.5
        return norm - SQRT_2_3 * self.hardening.sigma_y(state["eqps"][:, 0])

    def update(self, dstrain: Any, state: State) -> tuple[Any, Any, State]:
        """Radial return from ``state`` with total increment ``dstrain`` (see module docstring)."""
        xp = self._check_increment(dstrain, state)
        mu, bulk, h_kin = self.mu, self.bulk, self.kinematic_modulus
        strain = state["strain"] + dstrain
        plastic_strain, eqps = state["plastic_strain"], state["eqps"]
        mean_strain = (strain[:, 0] + strain[:, 1] + strain[:, 2]) / 3.0
        s_trial = strain - plastic_strain  # εp is deviatoric: dev ε − εp = dev(ε − εp)
        s_trial[:, :3] -= mean_strain[:, None]
        s_trial *= 2.0 * mu
        xi = s_trial - state["back_stress"] if self.kinematic else s_trial
        norm = xp.sqrt(xp.einsum("ni,ni->n", xi, xi))
        q_trial = SQRT_3_2 * norm
        sigma_y = self.hardening.sigma_y(eqps[:, 0])
        if not bool(xp.all(xp.isfinite(sigma_y) & (eqps[:, 0] >= 0.0))):
            raise ValueError(f"{self.name} state holds a NaN, inf or negative eqps: pass the "
                             "state of the last converged update, or initial_state(npoints)")
        if not bool(xp.all(xp.isfinite(q_trial))):  # a solver cuts the increment on this
            raise ReturnMappingError(
                f"{self.name}: the trial stress is not finite (NaN or inf in the state's strain"
                f"{', back_stress' if self.kinematic else ''} or plastic_strain, or a strain far "
                "out of range)")
        plastic = xp.nonzero(q_trial - sigma_y > 1e-12 * sigma_y)[0]
        n = xi[plastic] / norm[plastic, None]  # flow direction, copied before s_trial is reused

        stress = s_trial
        stress[:, :3] += (3.0 * bulk * mean_strain)[:, None]
        tangent = xp.empty((strain.shape[0], 6, 6), dtype=stress.dtype)
        tangent[...] = xp.asarray(self._stiffness, dtype=stress.dtype)
        new_state = {
            "strain": strain,
            "stress": stress,
            "plastic_strain": plastic_strain,
            "eqps": eqps,
        }
        if self.kinematic:
            new_state["back_stress"] = state["back_stress"]

        if plastic.size == 0:
            return stress, tangent, new_state

        q, alpha = q_trial[plastic], eqps[plastic, 0]
        dp = self._consistency(q, alpha)
        dgamma_n = (SQRT_3_2 * dp)[:, None] * n  # Δγ n, plastic strain increment

        stress[plastic] -= 2.0 * mu * dgamma_n
        new_state["plastic_strain"] = plastic_strain.copy()
        new_state["plastic_strain"][plastic] += dgamma_n
        new_state["eqps"] = eqps.copy()
        new_state["eqps"][plastic, 0] = alpha + dp
        if self.kinematic:
            new_state["back_stress"] = state["back_stress"].copy()
            new_state["back_stress"][plastic] += (2.0 / 3.0 * h_kin) * dgamma_n

        theta = 1.0 - 3.0 * mu * dp / q
        slope = self.hardening.slope(alpha + dp)
        theta_bar = 1.0 / (1.0 + (slope + h_kin) / (3.0 * mu)) - (1.0 - theta)
        vol = xp.asarray(VOLUMETRIC, dtype=stress.dtype)
        dev = xp.asarray(DEVIATORIC, dtype=stress.dtype)
        tangent_plastic = xp.multiply((2.0 * mu * theta)[:, None, None], dev)
        tangent_plastic += 3.0 * bulk * vol
        tangent_plastic -= xp.einsum("ni,nj->nij", (2.0 * mu * theta_bar)[:, None] * n, n)
        tangent[plastic] = tangent_plastic
        return stress, tangent, new_state

    def _consistency(self, q_trial: Any, eqps: Any) -> Any:
        """Δp solving Φ(Δp) = q^tr − (3μ + H_kin)Δp − σ_y(ε̄p_n + Δp) = 0 at every point.

        Newton from Δp = 0, all points at once (de Souza Neto et al. 2008, Box 7.4). With
        non-negative hardening slopes Φ is decreasing; for concave σ_y (Swift n ≤ 1, Voce) it is
        convex and the iterates increase monotonically to the root.
        """
        stiff = 3.0 * self.mu + self.kinematic_modulus
        dp = 0.0 * q_trial
        for _ in range(self.max_iterations):
            residual = q_trial - stiff * dp - self.hardening.sigma_y(eqps + dp)
            error = float((abs(residual) / q_trial).max())
            if error <= self.rtol:
                return dp
            if not np.isfinite(error):
                break
            dp = dp + residual / (stiff + self.hardening.slope(eqps + dp))
        raise ReturnMappingError(
            f"von Mises return mapping did not converge in {self.max_iterations} Newton "
            f"iterations (relative residual {error:.3e}, hardening {self.hardening!r}); "
            "reduce the load increment or check the hardening parameters"
        )

    def to_config(self) -> dict[str, Any]:
        config = {
            "model": self.name,
            "E": self.E,
            "nu": self.nu,
            "hardening": self.hardening.to_config(),
        }
        if self.kinematic:
            config["kinematic_modulus"] = self.kinematic_modulus
        return config


def _deviator(a: Any) -> Any:
    """Deviatoric part of Mandel vectors ``(npoints, 6)``."""
    dev = a.copy()
    dev[:, :3] -= a[:, :3].sum(axis=1, keepdims=True) / 3.0
    return dev
