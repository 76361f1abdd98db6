"""Closed-form elastic references used as test oracles (no homog code involved)."""

from __future__ import annotations

import numpy as np


def laminate_stiffness(stiffnesses: list[np.ndarray], fractions: list[float],
                       normal_components: list[int]) -> np.ndarray:
    """Exact stiffness of a laminate of homogeneous layers (Mandel matrices, any size).

    Layers normal to axis 1 share the in-plane strains and the traction σ·n. With N the Mandel
    components that involve the normal (11, 13, 12 in 3D; 11, 12 in 2D), the jump a_p of
    ε_p = E + a_p lives in N, K_p = C_p[N,N], L_p = C_p[N,:]; traction continuity gives
    t = ⟨K⁻¹⟩⁻¹⟨K⁻¹L⟩E, a_p = K_p⁻¹(t − L_p E), and C_eff E = ⟨C_p(E + a_p)⟩.
    """
    n = stiffnesses[0].shape[0]
    N = np.asarray(normal_components)
    kinv = [np.linalg.inv(C[np.ix_(N, N)]) for C in stiffnesses]
    mean_kinv = sum(f * k for f, k in zip(fractions, kinv))
    mean_kinv_l = sum(f * k @ C[N, :] for f, k, C in zip(fractions, kinv, stiffnesses))
    T = np.linalg.solve(mean_kinv, mean_kinv_l)  # t = T E
    C_eff = np.zeros((n, n))
    for f, k, C in zip(fractions, kinv, stiffnesses):
        A = np.eye(n)
        A[N, :] += k @ (T - C[N, :])
        C_eff += f * C @ A
    return C_eff


def hashin_shtrikman(k: list[float], g: list[float], c: list[float]) -> tuple[tuple, tuple]:
    """Hashin–Shtrikman bounds on (bulk, shear) moduli of an isotropic 3D mixture.

    Walpole's form: K_HS(g*) = [Σ c_i / (K_i + 4g*/3)]⁻¹ − 4g*/3 and
    G_HS(ζ*) = [Σ c_i / (G_i + ζ*)]⁻¹ − ζ*, ζ(K, G) = G(9K + 8G) / (6(K + 2G)), taken at the
    smallest (lower) and largest (upper) phase moduli. Returns ((K_lo, K_up), (G_lo, G_up)).
    """
    k, g, c = map(np.asarray, (k, g, c))

    def kb(gs):
        return 1.0 / np.sum(c / (k + 4.0 * gs / 3.0)) - 4.0 * gs / 3.0

    def zeta(kk, gg):
        return gg * (9 * kk + 8 * gg) / (6 * (kk + 2 * gg))

    def gb(z):
        return 1.0 / np.sum(c / (g + z)) - z

    return ((kb(g.min()), kb(g.max())), (gb(zeta(k.min(), g.min())), gb(zeta(k.max(), g.max()))))


def hashin_shtrikman_2d(k: list[float], g: list[float], c: list[float]) -> tuple[tuple, tuple]:
    """HS bounds on the transverse (plane-strain) moduli of a fibre composite.

    k are plane-strain bulk moduli k = λ + μ, g shear moduli (Hashin 1965; Torquato 2002,
    eq. 21.43): k_HS(g*) = [Σ c_i/(k_i + g*)]⁻¹ − g*, g_HS(ζ*) = [Σ c_i/(g_i + ζ*)]⁻¹ − ζ*
    with ζ(k, g) = k g / (k + 2g). Returns ((k_lo, k_up), (g_lo, g_up)).
    """
    k, g, c = map(np.asarray, (k, g, c))

    def kb(gs):
        return 1.0 / np.sum(c / (k + gs)) - gs

    def zeta(kk, gg):
        return kk * gg / (kk + 2 * gg)

    def gb(z):
        return 1.0 / np.sum(c / (g + z)) - z

    return ((kb(g.min()), kb(g.max())), (gb(zeta(k.min(), g.min())), gb(zeta(k.max(), g.max()))))


def dilute_sphere_moduli(km: float, gm: float, ki: float, gi: float, c: float) -> tuple:
    """Dilute (Eshelby) estimate of (K, G) for spherical inclusions at small fraction c.

    K = Km + c (Ki − Km)(3Km + 4Gm)/(3Ki + 4Gm),
    G = Gm + c (Gi − Gm) Gm(5(3Km + 4Gm)) / (Gm(9Km + 8Gm) + 6(Km + 2Gm)Gi)... in the form
    G = Gm + c (Gi − Gm) / (1 + β (Gi − Gm)/Gm), β = 2(4 − 5νm)/(15(1 − νm)).
    """
    nu = (3 * km - 2 * gm) / (2 * (3 * km + gm))
    alpha = (1 + nu) / (3 * (1 - nu))
    beta = 2 * (4 - 5 * nu) / (15 * (1 - nu))
    K = km + c * (ki - km) / (1 + alpha * (ki - km) / km)
    G = gm + c * (gi - gm) / (1 + beta * (gi - gm) / gm)
    return K, G


def sphere_labels(n: int, fraction: float) -> np.ndarray:
    """One centred sphere of the given volume fraction on an n³ grid (label 1 inside)."""
    r = (3 * fraction / (4 * np.pi)) ** (1 / 3)
    x = (np.arange(n) + 0.5) / n - 0.5
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    return (X**2 + Y**2 + Z**2 < r**2).astype(np.int32)


def disc_labels(n: int, fraction: float) -> np.ndarray:
    """One centred disc (a fibre cross-section) of the given area fraction on an n² grid."""
    r = np.sqrt(fraction / np.pi)
    x = (np.arange(n) + 0.5) / n - 0.5
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (X**2 + Y**2 < r**2).astype(np.int32)
