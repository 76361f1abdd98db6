"""Run an RVE to failure and measure its toughness.

``run_to_failure(model, loading)`` follows a load path with a reduced-order model
(:meth:`homog.sca.ReducedOrderModel.run`) or the full-field solver (:func:`homog.dns`) and stops
once the homogenized stress has fallen below ``drop`` × its peak; ``failure_metrics(response)``
reduces the history to scalars. Both use one scalar **stress measure** m and its work-conjugate
**strain measure** e, chosen by ``measure``:

- a Mandel component k (0..5, or "auto": the strain-controlled component with the largest
  target along the path, e.g. 0 for ``uniaxial_stress`` along x1): m = s·σ_k, e = s·ε_k, with
  the sign s of ε_k at the end of the path (compression and negative shear read positive);
- ``"von_mises"``: m = √(3/2) ‖dev σ‖ and e = √(2/3) ‖dev ε‖ (always ≥ 0).

Definitions, over the Mandel history (ε_j, σ_j), j = 0..n (row 0 the unloaded state):

- **peak stress** m_peak = max_j m_j, reached at row j*; **strain at peak** e_{j*}; the
  peak is **reached** (``peaked``) when j* is not the last row: a history whose stress is
  still at its maximum at the end only bounds the material's peak from below;
- **failure**: the first row j > j* with m_j < drop · m_peak; the **failure strain** e_f is
  interpolated linearly between rows j − 1 and j where m crosses drop · m_peak. A run that
  diverged past the peak (``info["stopped"] == "diverged"``) fails at its last converged row;
- **toughness** W: the strain energy density absorbed until failure, W = ∫ σ : dε, summed with
  the trapezoidal rule over the Mandel history (the Mandel dot product equals σ_ij dε_ij), up to
  the interpolated failure point (to the end of the history when the run did not fail);
- **initial stiffness**: m_1 / e_1, the slope of the first increment (the effective Young's
  modulus under ``uniaxial_stress``).

A run that diverges (the solver cannot converge an increment after its cuts) once the stress is
past its peak has failed there: the RVE has lost its load-carrying capacity faster than the
increments can follow. One that diverges before the peak is a numerical failure, not a material
one: :class:`PrePeakDivergence` is raised.

Toughness as the RVE output of a design database: Bessa et al., CMAME 320 (2017); Liu, Fleming
& Liu, CMAME 330 (2018) for SCA with strain-softening matrices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from homog.loading import LoadPath
from homog.response import Response
from kernels import ConvergenceError
from kernels.tensors import MANDEL_NAMES

#: Stress measures accepted besides a Mandel component index.
MEASURES = ("auto", "von_mises")


class PrePeakDivergence(ConvergenceError):
    """The solver diverged before the stress reached its peak: an error, not a failure.

    ``response`` holds the converged part of the run (for the record). Besides a numerical
    breakdown, this is what a brittle RVE does: when the elastic energy it stores at the peak
    exceeds what its softening can dissipate, the response snaps back and cannot be followed
    under strain control (a larger fracture energy or a finer increment may help).
    """

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message, int(response.iterations.sum()), float("nan"))
        self.response = response


@dataclass(frozen=True)
class FailureMetrics:
    """Scalar outputs of a run to failure (definitions in the module docstring).

    ``failure_mode`` is "drop" (the stress fell below ``drop`` × peak), "diverged" (the solver
    diverged past the peak: the last converged state is the failure point) or "none" (neither:
    ``failure_strain`` is NaN and ``failed`` False); ``peaked`` is False when the stress was
    still at its maximum at the end of the history (``peak_stress`` and ``strain_at_peak``
    then bound the material's from below; a failed run has always peaked); ``measure`` is the
    Mandel component index or "von_mises".
    """

    toughness: float
    peak_stress: float
    strain_at_peak: float
    failure_strain: float
    initial_stiffness: float
    failed: bool
    failure_mode: str
    drop: float
    measure: int | str
    peaked: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON- and DataFrame-friendly)."""
        return asdict(self)


#: Newton tolerance of a reduced-order model run to failure (see :func:`run_to_failure`).
ROM_TOL = 1e-8


def run_to_failure(
    model: Any,
    loading: LoadPath,
    *,
    drop: float = 0.5,
    measure: int | str = "auto",
    materials: Any = None,
    **options: Any,
) -> Response:
    """Follow ``loading`` until the stress measure falls below ``drop`` × its peak.

    Parameters
    ----------
    model : a :class:`~homog.sca.model.ReducedOrderModel` (runs ``model.run``), or a microstructure
        (label array or object with ``.labels``) for the full-field :func:`homog.dns`, which then
        needs ``materials``.
    loading : the load path, long enough to reach failure (e.g. ``uniaxial_stress(0.1, 200)``);
        it is not extended. Small increments follow the softening branch best.
    drop : fraction of the peak in (0, 1) that defines failure.
    measure : Mandel component index, "auto" or "von_mises" (module docstring).
    materials : phase materials of a DNS (a ROM carries its own: not allowed with one).
    options : keyword arguments of ``model.run`` or :func:`homog.dns` (``tol``, ``backend``...).
        A reduced-order model runs at ``tol`` = 1e-8 unless given (``model.run``'s default
        is 1e-6): past the peak, the branch that a coarse softening model follows moves with
        the tolerance (on the eight 48² RVEs of docs/adaptive.md, 1e-6 moved three toughness
        errors by 8 to 55 points), and the toughness studies were measured at 1e-8.

    Returns the :class:`~homog.response.Response` up to the increment where the stress first fell
    below ``drop`` × peak (or up to the last converged increment past the peak, or the whole
    path when it never failed); ``info["failure_measure"]`` records the measure used, for
    :func:`failure_metrics`. Raises :class:`PrePeakDivergence` when the solver diverges before
    the peak, ``ValueError`` on bad arguments.
    """
    if not isinstance(loading, LoadPath):
        raise ValueError(
            f"loading must be a homog.loading.LoadPath, got {type(loading).__name__}; e.g. "
            "homog.loading.uniaxial_stress(0.1, steps=200)"
        )
    drop = _check_drop(drop)
    measure = _resolve_measure(measure, loading)
    if measure != "von_mises":
        _check_monotonic(loading, measure)
    for key in ("stop", "failure"):
        if key in options:
            raise ValueError(f"run_to_failure sets {key!r} itself; do not pass it")

    def stop(strain: np.ndarray, stress: np.ndarray) -> bool:
        values = stress_measure(stress, strain, measure)
        peak = values.max()
        return bool(peak > 0.0 and values[-1] < drop * peak)

    if hasattr(model, "run") and callable(model.run):
        if materials is not None:
            raise ValueError("materials are part of a reduced-order model; pass them to "
                             "build_rom, not to run_to_failure")
        from homog.sca.model import ReducedOrderModel

        if isinstance(model, ReducedOrderModel):
            options.setdefault("tol", ROM_TOL)
        response = model.run(loading, stop=stop, failure="truncate", **options)
    else:
        if materials is None:
            raise ValueError(
                "a full-field run to failure needs materials (label -> Material, or a TOML "
                "config); pass a ReducedOrderModel to run the ROM instead"
            )
        from homog.dns import dns

        response = dns(model, materials, loading, stop=stop, failure="truncate", **options)
    response.info["failure_measure"] = measure
    if response.info.get("stopped") == "diverged":
        values = stress_measure(response.stress, response.strain, measure)
        if values.argmax() == values.size - 1:
            raise PrePeakDivergence(
                f"the solver diverged before the stress peaked (last converged increment "
                f"{response.nsteps}, stress measure still rising at {values[-1]:.6g}): "
                f"{response.info.get('error', '')}; a numerical breakdown, or a brittle RVE "
                "snapping back at its peak: use smaller increments, a looser tolerance, or "
                f"{_softening_hint(getattr(model, 'materials', materials))}", response)
    return response


def _softening_hint(materials: Any) -> str:
    """The regularization parameter of the damage laws in ``materials`` to raise for a more
    ductile softening ("a larger fracture energy" or "a larger softening strain")."""
    from collections.abc import Mapping

    from homog.materials import from_config

    try:
        if not isinstance(materials, Mapping) or "phases" in materials:
            materials = from_config(materials)
    except (ValueError, OSError, TypeError):
        return "a more ductile softening law"
    hints = []
    for material in materials.values():
        if getattr(material, "fracture_energy", None) is not None:
            hints.append("a larger fracture energy")
        elif getattr(material, "softening_strain", None) is not None:
            hints.append("a larger softening strain")
    hints = sorted(set(hints))
    return " or ".join(hints) if hints else "a more ductile softening law"


def failure_metrics(
    response: Response,
    *,
    drop: float = 0.5,
    measure: int | str | None = None,
) -> FailureMetrics:
    """Toughness, peak stress, strain at peak, failure strain, initial stiffness of a history.

    ``measure`` defaults to the one :func:`run_to_failure` recorded in
    ``response.info["failure_measure"]``, else "auto" (the component with the largest final
    |strain|). ``drop`` must match the run's to find the same failure point.
    """
    if not isinstance(response, Response):
        raise ValueError(f"response must be a homog.response.Response, got "
                         f"{type(response).__name__}")
    drop = _check_drop(drop)
    if measure is None:
        measure = response.info.get("failure_measure", "auto")
    measure = _resolve_measure(measure, None, response.strain)
    if response.nsteps < 1:
        raise ValueError("the response has no increment: nothing to measure")
    m = stress_measure(response.stress, response.strain, measure)
    e = strain_measure(response.strain, measure)
    peak_row = int(m.argmax())
    peak = float(m[peak_row])
    if peak <= 0.0:
        raise ValueError(f"the stress measure never becomes positive (peak {peak:.3g}); check "
                         "the measure and the load direction")
    work = 0.5 * np.einsum("ki,ki->k", response.stress[1:] + response.stress[:-1],
                           np.diff(response.strain, axis=0))
    below = np.flatnonzero(m[peak_row + 1:] < drop * peak)
    if below.size:
        j = peak_row + 1 + int(below[0])
        t = float((m[j - 1] - drop * peak) / (m[j - 1] - m[j]))  # fraction of increment j
        failure_strain = float(e[j - 1] + t * (e[j] - e[j - 1]))
        # trapezoid over the part [0, t] of increment j, σ and ε linear in between
        sigma_t = response.stress[j - 1] + t * (response.stress[j] - response.stress[j - 1])
        partial = 0.5 * t * float((response.stress[j - 1] + sigma_t)
                                  @ (response.strain[j] - response.strain[j - 1]))
        toughness = float(work[: j - 1].sum()) + partial
        mode = "drop"
    elif response.info.get("stopped") == "diverged" and peak_row < response.nsteps:
        # diverged while softening: the last converged state is the failure point
        failure_strain, toughness, mode = float(e[-1]), float(work.sum()), "diverged"
    else:
        failure_strain, toughness, mode = float("nan"), float(work.sum()), "none"
    moved = np.flatnonzero(e[1:] != 0.0)
    if moved.size == 0:
        raise ValueError("the strain measure never leaves zero: the response holds no "
                         "deformation along the measure to take a stiffness or toughness from")
    first = int(moved[0]) + 1
    initial = float(m[first] / e[first])  # the secant to the first strained state
    toughness = float(toughness)
    return FailureMetrics(toughness=toughness, peak_stress=peak,
                          strain_at_peak=float(e[peak_row]), failure_strain=failure_strain,
                          initial_stiffness=initial, failed=mode != "none",
                          failure_mode=mode, drop=drop, measure=measure,
                          peaked=peak_row < response.nsteps)


def stress_measure(stress: np.ndarray, strain: np.ndarray, measure: int | str) -> np.ndarray:
    """Scalar stress m per row of Mandel histories ``(n, 6)`` (module docstring)."""
    if measure == "von_mises":
        return np.sqrt(1.5) * _deviator_norm(stress)
    return _sign(strain, measure) * stress[:, measure]


def strain_measure(strain: np.ndarray, measure: int | str) -> np.ndarray:
    """Scalar strain e per row, work-conjugate to :func:`stress_measure`."""
    if measure == "von_mises":
        return np.sqrt(2.0 / 3.0) * _deviator_norm(strain)
    return _sign(strain, measure) * strain[:, measure]


def _deviator_norm(a: np.ndarray) -> np.ndarray:
    dev = np.array(a, dtype=float)
    dev[:, :3] -= dev[:, :3].mean(axis=1, keepdims=True)
    return np.sqrt(np.einsum("ki,ki->k", dev, dev))


def _sign(strain: np.ndarray, component: int) -> float:
    return -1.0 if strain[-1, component] < 0.0 else 1.0


def _check_drop(drop: Any) -> float:
    if isinstance(drop, bool) or not isinstance(drop, int | float) or not 0.0 < drop < 1.0:
        raise ValueError(f"drop = {drop!r} must be a number in (0, 1): failure is the stress "
                         "falling below drop × peak (e.g. 0.5)")
    return float(drop)


def _check_monotonic(loading: LoadPath, measure: int) -> None:
    """ValueError when the path reverses the measured component: an unloading would pass for
    a failure (the stress falls while nothing fails)."""
    steps = np.diff(np.r_[0.0, loading.targets[:, measure]])
    moving = steps[steps != 0.0]
    if moving.size and np.any(np.sign(moving) != np.sign(moving[0])):
        first = int(np.flatnonzero(np.sign(steps) == -np.sign(moving[0]))[0]) + 1
        raise ValueError(
            f"the load path reverses component {MANDEL_NAMES[measure]} at increment {first}: a "
            "run to failure follows a monotonic load, where only failure makes the stress "
            "fall (an unloading would pass for one); load monotonically, e.g. "
            "homog.loading.uniaxial_stress")


def _resolve_measure(measure: Any, loading: LoadPath | None,
                     strain: np.ndarray | None = None) -> int | str:
    """A Mandel component index or "von_mises"; "auto" picks the loaded component."""
    if isinstance(measure, int | np.integer) and not isinstance(measure, bool):
        if not 0 <= measure < 6:
            raise ValueError(f"measure = {measure} is not a Mandel component index 0..5")
        return int(measure)
    if measure not in MEASURES:
        raise ValueError(f"measure = {measure!r}: use a Mandel component index 0..5 (11, 22, "
                         f"33, 23, 13, 12) or one of {list(MEASURES)}")
    if measure == "von_mises":
        return measure
    if loading is not None:
        targets = np.where(loading.strain_controlled, np.abs(loading.targets), 0.0)
        if targets.max() > 0.0:
            return int(targets.max(axis=0).argmax())
        raise ValueError("measure='auto' needs a strain-controlled component in the load path "
                         "(a pure stress path cannot be followed past its peak); give measure")
    return int(np.abs(strain[-1]).argmax())
