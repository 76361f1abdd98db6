"""Mandel tensor algebra for small-strain mechanics.

Convention (DESIGN.md §2): a symmetric second-order tensor is the 6-vector
(a11, a22, a33, √2·a23, √2·a13, √2·a12); a fourth-order tensor with minor symmetries is the
6×6 matrix acting on it, so that the double contraction ``C : ε`` is ``C @ e`` and
``A : B`` is ``A @ B``. In this basis the identity on symmetric tensors is ``eye(6)`` and the
Mandel matrix of an isotropic tensor is symmetric.

At the boundary only, Abaqus-style Voigt notation is used: order (11, 22, 33, 12, 13, 23) with
engineering shear strains (γ = 2ε) and plain shear stresses.

References: Mandel (1965); Helnwein, CMAME 190 (2001) for the Mandel/Voigt mappings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.arraymodule import array_module

SQRT2 = float(np.sqrt(2.0))

#: Mandel component names, in order.
MANDEL_NAMES = ("11", "22", "33", "23", "13", "12")
#: Plane-strain in-plane Mandel components (11, 22, √2·12) as indices into the 6-vector.
PLANE_INDICES = (0, 1, 5)
#: Tensor index pairs (i, j) of each Mandel component.
MANDEL_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: Abaqus Voigt order (11, 22, 33, 12, 13, 23) as indices into the Mandel 6-vector.
ABAQUS_ORDER = (0, 1, 2, 5, 4, 3)

_MANDEL_WEIGHT = np.array([1.0, 1.0, 1.0, SQRT2, SQRT2, SQRT2])
_ONE = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
#: Mandel index -> Abaqus Voigt slot (the inverse permutation of ABAQUS_ORDER).
_MANDEL_FROM_ABAQUS = tuple(int(i) for i in np.argsort(ABAQUS_ORDER))

#: Volumetric projector I_vol = (1/3) 1⊗1 and deviatoric projector I_dev = I − I_vol (Mandel).
VOLUMETRIC = np.outer(_ONE, _ONE) / 3.0
DEVIATORIC = np.eye(6) - VOLUMETRIC


def identity2() -> np.ndarray:
    """The second-order identity δ_ij as a Mandel 6-vector."""
    return _ONE.copy()


def lame_from_young(E: float, nu: float) -> tuple[float, float]:
    """Lamé constants (λ, μ) from Young's modulus and Poisson's ratio.

    λ = Eν / ((1+ν)(1−2ν)),  μ = E / (2(1+ν)).
    """
    _check_young_poisson(E, nu)
    return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))


def young_from_lame(lam: float, mu: float) -> tuple[float, float]:
    """Young's modulus and Poisson's ratio (E, ν) from the Lamé constants.

    E = μ(3λ+2μ)/(λ+μ),  ν = λ / (2(λ+μ)).
    """
    return mu * (3.0 * lam + 2.0 * mu) / (lam + mu), lam / (2.0 * (lam + mu))


def isotropic_stiffness(
    E: float | None = None,
    nu: float | None = None,
    *,
    lam: float | None = None,
    mu: float | None = None,
) -> np.ndarray:
    """Isotropic stiffness C = 3K·I_vol + 2μ·I_dev as a 6×6 Mandel matrix.

    Give either ``(E, nu)`` or ``(lam=λ, mu=μ)``; K = λ + 2μ/3 is the bulk modulus.
    """
    if lam is None and mu is None:
        if E is None or nu is None:
            raise ValueError("isotropic_stiffness needs (E, nu) or (lam=..., mu=...)")
        lam, mu = lame_from_young(E, nu)
    elif lam is None or mu is None or E is not None or nu is not None:
        raise ValueError("isotropic_stiffness needs either (E, nu) or both lam= and mu=, not a mix")
    else:
        if not (np.isfinite(lam) and np.isfinite(mu)) or mu < 0 or 3 * lam + 2 * mu < 0:
            raise ValueError(
                f"Lamé constants lam={lam}, mu={mu} are not admissible: need finite mu >= 0 "
                "and bulk modulus lam + 2 mu / 3 >= 0"
            )
    return (3.0 * lam + 2.0 * mu) * VOLUMETRIC + 2.0 * mu * DEVIATORIC


def isotropic_projection(C: np.ndarray) -> tuple[float, float]:
    """Bulk and shear moduli (K, μ) of the isotropic part of a Mandel stiffness.

    Projection onto span{I_vol, I_dev} in the Frobenius inner product (Mandel matrices):
    3K = I_vol :: C / (I_vol :: I_vol) = tr(I_vol C),  2μ = tr(I_dev C) / 5.
    Returns ``(K, mu)``; λ = K − 2μ/3.
    """
    C = np.asarray(C, dtype=float)
    if C.shape != (6, 6):
        raise ValueError(f"isotropic_projection expects a 6x6 Mandel matrix, got shape {C.shape}")
    three_k = float(np.trace(VOLUMETRIC @ C))
    two_mu = float(np.trace(DEVIATORIC @ C)) / 5.0
    return three_k / 3.0, two_mu / 2.0


def lame_projection(C: np.ndarray) -> tuple[float, float]:
    """Lamé constants (λ, μ) of the isotropic projection of a Mandel stiffness."""
    K, mu = isotropic_projection(C)
    return K - 2.0 * mu / 3.0, mu


#: Moduli (and stiffness entries) the solvers take: squares of stresses of fields of 1e6–1e8
#: voxels stay within double precision (found: E = 1e155 made CG stop at 0 iterations on the
#: Voigt bound). Any unit system of engineering (Pa to GPa) is far inside.
MODULUS_RANGE = (1e-100, 1e100)


def _check_modulus_scale(value: float, what: str) -> None:
    """ValueError when a modulus (or stiffness entry) ``value`` leaves :data:`MODULUS_RANGE`."""
    if not MODULUS_RANGE[0] <= value <= MODULUS_RANGE[1]:
        raise ValueError(f"{what} lies outside [{MODULUS_RANGE[0]:g}, {MODULUS_RANGE[1]:g}], "
                         "where the solvers' squared norms under- or overflow: express the "
                         "moduli in other units (e.g. GPa)")


def check_stiffness(
    C: np.ndarray, name: str = "stiffness", *, allow_zero: bool = False
) -> np.ndarray:
    """Validate a 6×6 Mandel stiffness: finite, symmetric and positive definite.

    A stiffness that is exactly zero (a void) passes when ``allow_zero``. Returns the matrix as
    a float64 array. Raises ``ValueError`` naming ``name`` and the offending property.
    """
    try:
        C = np.asarray(C, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a 6x6 Mandel stiffness matrix of numbers, got "
                         f"{C!r}") from None
    if C.shape != (6, 6):
        raise ValueError(f"{name}: expected a 6x6 Mandel stiffness matrix, got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError(f"{name}: stiffness has non-finite entries (NaN or inf)")
    scale = float(np.max(np.abs(C)))
    if scale == 0.0:
        if allow_zero:
            return C
        raise ValueError(f"{name}: stiffness is zero; voids are only allowed with solver='cg'")
    _check_modulus_scale(scale, f"{name}: stiffness of magnitude {scale:.3g}")
    if not np.allclose(C, C.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(
            f"{name}: stiffness is not symmetric (max |C - C^T| = {np.max(np.abs(C - C.T)):.3e}); "
            "give a Mandel matrix with major symmetry"
        )
    eig_min = float(np.linalg.eigvalsh(0.5 * (C + C.T))[0])
    if eig_min <= 1e-12 * scale:
        raise ValueError(
            f"{name}: stiffness is not positive definite (smallest eigenvalue {eig_min:.3e}); "
            "check the moduli (E > 0, -1 < nu < 0.5)"
        )
    return C


def mandel_to_voigt_strain(e: Any) -> Any:
    """Mandel strain (..., 6) -> Abaqus Voigt strain (11, 22, 33, γ12, γ13, γ23)."""
    xp, e = _module_and_array(e)
    return (e * xp.asarray(_MANDEL_WEIGHT))[..., ABAQUS_ORDER]


def voigt_to_mandel_strain(v: Any) -> Any:
    """Abaqus Voigt strain (11, 22, 33, γ12, γ13, γ23) (..., 6) -> Mandel strain."""
    xp, v = _module_and_array(v)
    return v[..., _MANDEL_FROM_ABAQUS] / xp.asarray(_MANDEL_WEIGHT)


def mandel_to_voigt_stress(s: Any) -> Any:
    """Mandel stress (..., 6) -> Abaqus Voigt stress (11, 22, 33, 12, 13, 23)."""
    xp, s = _module_and_array(s)
    return (s / xp.asarray(_MANDEL_WEIGHT))[..., ABAQUS_ORDER]


def voigt_to_mandel_stress(v: Any) -> Any:
    """Abaqus Voigt stress (11, 22, 33, 12, 13, 23) (..., 6) -> Mandel stress."""
    xp, v = _module_and_array(v)
    return v[..., _MANDEL_FROM_ABAQUS] * xp.asarray(_MANDEL_WEIGHT)


def mandel_to_voigt_stiffness(C: Any) -> Any:
    """Mandel stiffness (..., 6, 6) -> Abaqus Voigt stiffness (DDSDDE layout).

    With σ_V = W⁻¹σ_M and γ_V = Wε_M (W = diag of the √2 weights), C_V = W⁻¹ C_M W⁻¹.
    """
    xp, C = _module_and_array(C)
    w = xp.asarray(1.0 / _MANDEL_WEIGHT)
    Cv = C * w[:, None] * w[None, :]
    return Cv[..., ABAQUS_ORDER, :][..., ABAQUS_ORDER]


def voigt_to_mandel_stiffness(Cv: Any) -> Any:
    """Abaqus Voigt stiffness (..., 6, 6) -> Mandel stiffness (inverse of the above)."""
    xp, Cv = _module_and_array(Cv)
    C = Cv[..., _MANDEL_FROM_ABAQUS, :][..., _MANDEL_FROM_ABAQUS]
    w = xp.asarray(_MANDEL_WEIGHT)
    return C * w[:, None] * w[None, :]


def _module_and_array(a: Any) -> tuple[Any, Any]:
    """The array module of ``a`` (numpy or cupy) and ``a`` as an array of it."""
    xp = array_module(a)
    return xp, xp.asarray(a)


def tensor_to_mandel(t: np.ndarray) -> np.ndarray:
    """Symmetric tensor (..., 3, 3) -> Mandel vector (..., 6)."""
    t = np.asarray(t)
    i, j = zip(*MANDEL_PAIRS)
    return t[..., list(i), list(j)] * _MANDEL_WEIGHT


def mandel_to_tensor(v: np.ndarray) -> np.ndarray:
    """Mandel vector (..., 6) -> symmetric tensor (..., 3, 3)."""
    v = np.asarray(v)
    t = np.zeros(v.shape[:-1] + (3, 3), dtype=v.dtype)
    for k, (i, j) in enumerate(MANDEL_PAIRS):
        t[..., i, j] = t[..., j, i] = v[..., k] / _MANDEL_WEIGHT[k]
    return t


def engineering_constants(C: np.ndarray) -> dict[str, float]:
    """Engineering constants of a 6×6 Mandel stiffness from its compliance S = C⁻¹.

    E_i = 1/S_ii (Mandel and tensor components coincide on the diagonal normal block),
    ν_ij = −S_ij / S_ii (lateral contraction in j under uniaxial stress along i), and
    G_ij = 1 / (2·S_kk) for the Mandel shear component k of the pair ij.
    """
    S = np.linalg.inv(check_stiffness(C, "C_eff"))
    out = {f"E{i + 1}": 1.0 / S[i, i] for i in range(3)}
    for i in range(3):
        for j in range(3):
            if i != j:
                out[f"nu{i + 1}{j + 1}"] = -S[i, j] / S[i, i]
    for k, name in ((3, "G23"), (4, "G13"), (5, "G12")):
        out[name] = 1.0 / (2.0 * S[k, k])
    return {key: float(val) for key, val in out.items()}


def _check_young_poisson(E: float, nu: float) -> None:
    if not (np.isfinite(E) and np.isfinite(nu)):
        raise ValueError(f"E={E} and nu={nu} must be finite numbers")
    if E <= 0:
        raise ValueError(f"Young's modulus E={E} must be > 0 (a void is a zero stiffness "
                         "matrix, not an isotropic material)")
    _check_modulus_scale(E, f"Young's modulus E={E:g}")
    if not -1.0 < nu < 0.5:
        bound = ("0.5 is incompressible, which a displacement-based FFT solver cannot represent"
                 if nu >= 0.5 else "-1 and below make the shear or bulk modulus non-positive")
        raise ValueError(f"Poisson's ratio nu={nu} must lie in (-1, 0.5): {bound}")
