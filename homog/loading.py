"""Macroscopic load paths: per component, a prescribed strain or a prescribed stress.

A :class:`LoadPath` is a sequence of :class:`Segment`. A segment prescribes, for each of the
six Mandel components (11, 22, 33, √2·23, √2·13, √2·12), either the macroscopic strain
(``strain_controlled`` True) or the macroscopic stress (False), and the value that component
reaches at the end of the segment; the value is reached linearly from the end of the previous
segment (from zero for the first) in ``steps`` equal increments. Targets are absolute, not
incremental.

What every solver reads (DESIGN.md §3-4):

- ``path.targets``: ``(nsteps, 6)`` cumulative macroscopic value at the end of each increment;
- ``path.strain_controlled``: ``(nsteps, 6)`` bool, True where the strain is prescribed;
- ``path.for_dimension(ndim)``: the same restricted to the components a 2D (plane strain,
  :data:`~kernels.tensors.PLANE_INDICES`) or 3D solver uses.

Shear convention: the helpers and :meth:`Segment.from_components` take *tensor* components
(ε12, σ12, with engineering shear γ12 = 2ε12) and store Mandel values, √2·ε12 and √2·σ12.
A :class:`Segment` built directly takes Mandel values.

Pure stress control (all components stress-prescribed) is allowed: it is well posed for
hardening materials, and fails (no solution) past the limit load of a perfectly plastic or
softening RVE; prescribe a strain component there. A component keeps its control type along
the whole path: the stress at the moment a component would switch from strain to stress
control (or back) is only known after solving, so a path cannot state its starting value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kernels.memory import check_memory
from kernels.tensors import MANDEL_NAMES, PLANE_INDICES, SQRT2

#: Tensor component names accepted by the helpers, mapped to Mandel indices.
COMPONENTS = {name: k for k, name in enumerate(MANDEL_NAMES)} | {"32": 3, "31": 4, "21": 5}
_MANDEL_FACTOR = np.array([1.0, 1.0, 1.0, SQRT2, SQRT2, SQRT2])
#: Memory per increment of a path and of the response a solver returns for it (strain,
#: stress, tangent histories), estimated before allocating.
_BYTES_PER_INCREMENT = 1024
#: Magnitude of a macroscopic strain component (tensor, not engineering shear) from which a
#: path is refused: the solvers and materials are small-strain (infinitesimal kinematics).
MAX_STRAIN = 1.0


@dataclass(frozen=True)
class Segment:
    """One linear leg of a load path.

    ``target``: ``(6,)`` Mandel values at the end of the segment (strain where
    ``strain_controlled``, stress elsewhere); ``strain_controlled``: ``(6,)`` bool;
    ``steps``: number of equal increments (≥ 1).
    """

    target: np.ndarray
    strain_controlled: np.ndarray
    steps: int

    def __post_init__(self) -> None:
        target = np.array(self.target, dtype=float)
        flags = np.array(self.strain_controlled)
        if target.shape != (6,) or not np.all(np.isfinite(target)):
            raise ValueError(f"segment target must be 6 finite Mandel values, got {self.target!r}")
        if flags.shape != (6,) or flags.dtype != bool:
            raise ValueError(
                f"segment strain_controlled must be 6 booleans, got {self.strain_controlled!r}"
            )
        for k in np.flatnonzero(flags):
            check_strain(target[k] / _MANDEL_FACTOR[k], f"strain component {MANDEL_NAMES[k]}")
        _check_steps(self.steps)
        target.flags.writeable = flags.flags.writeable = False
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "strain_controlled", flags)

    @classmethod
    def from_components(
        cls,
        strain: Mapping[str, float] | None = None,
        stress: Mapping[str, float] | None = None,
        steps: int = 1,
    ) -> Segment:
        """Segment from tensor components, e.g. ``strain={"11": 0.02}, stress={"22": 5.0}``.

        Keys are "11", "22", "33", "23", "13", "12" (or "32", "31", "21"); values are tensor
        components (ε12, not γ12 = 2ε12). Components named in neither mapping are stress
        controlled with target zero (traction free).
        """
        target = np.zeros(6)
        flags = np.zeros(6, dtype=bool)
        seen: dict[int, str] = {}
        for kind, values in (("strain", strain or {}), ("stress", stress or {})):
            for name, value in values.items():
                if name not in COMPONENTS:
                    raise ValueError(
                        f"{kind} component {name!r} is not a tensor component; use one of "
                        f"{list(COMPONENTS)}"
                    )
                k = COMPONENTS[name]
                if k in seen:
                    raise ValueError(
                        f"component {MANDEL_NAMES[k]} is given twice ({seen[k]} and {kind} "
                        f"{name!r}); prescribe either its strain or its stress"
                    )
                seen[k] = f"{kind} {name!r}"
                target[k] = _finite(value, f"{kind} {name!r}") * _MANDEL_FACTOR[k]
                flags[k] = kind == "strain"
        return cls(target, flags, steps)


@dataclass(frozen=True)
class LoadSteps:
    """Increment-by-increment load data for the ``components`` a solver uses.

    ``targets``: ``(nsteps, ncomp)`` cumulative Mandel targets; ``strain_controlled``:
    ``(nsteps, ncomp)`` bool; ``components``: Mandel indices of the columns.
    Iterating yields ``(target, strain_controlled)`` rows, one per increment.
    """

    components: tuple[int, ...]
    targets: np.ndarray
    strain_controlled: np.ndarray

    def __len__(self) -> int:
        return self.targets.shape[0]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return zip(self.targets, self.strain_controlled, strict=True)


class LoadPath:
    """A sequence of :class:`Segment`; see the module docstring for the conventions."""

    def __init__(self, segments: Sequence[Segment]):
        segments = tuple(segments)
        if not segments or not all(isinstance(s, Segment) for s in segments):
            raise ValueError("a LoadPath needs at least one Segment (e.g. Segment.from_components)")
        for i in range(1, len(segments)):
            changed = segments[i].strain_controlled != segments[i - 1].strain_controlled
            if np.any(changed):
                names = [MANDEL_NAMES[k] for k in np.flatnonzero(changed)]
                raise ValueError(
                    f"segment {i} changes the control type (strain/stress) of component(s) "
                    f"{names}; a component keeps its control type along a path because the "
                    "starting value after a switch is only known after solving. Run the "
                    "second part as a separate analysis from the converged state"
                )
        self.segments = segments
        total = sum(s.steps for s in segments)
        check_memory(total * _BYTES_PER_INCREMENT, np,
                     f"a load path of {total} increments (with its response)", "use fewer steps")
        start = np.zeros(6)
        targets = []
        for segment in segments:
            fraction = np.arange(1, segment.steps + 1)[:, None] / segment.steps
            targets.append(start + fraction * (segment.target - start))
            start = segment.target
        self.targets = np.concatenate(targets)
        self.strain_controlled = np.repeat(
            np.stack([s.strain_controlled for s in segments]), [s.steps for s in segments], axis=0
        )
        self.targets.flags.writeable = self.strain_controlled.flags.writeable = False

    @classmethod
    def from_components(
        cls,
        strain: Mapping[str, float] | None = None,
        stress: Mapping[str, float] | None = None,
        steps: int = 1,
    ) -> LoadPath:
        """One-segment path from tensor components (see :meth:`Segment.from_components`)."""
        return cls([Segment.from_components(strain, stress, steps)])

    @property
    def nsteps(self) -> int:
        """Total number of increments."""
        return self.targets.shape[0]

    @property
    def segment_ends(self) -> np.ndarray:
        """Index of the last increment of each segment (reversal points of cyclic paths)."""
        return np.cumsum([s.steps for s in self.segments]) - 1

    def for_dimension(self, ndim: int) -> LoadSteps:
        """The components a ``ndim``-D solver uses: all six in 3D, (11, 22, √2·12) in 2D.

        2D is plane strain: ε33 = ε13 = ε23 = 0 and the out-of-plane stresses are reactions.
        Out-of-plane components must therefore have zero targets (a stress-free σ33 = 0 entry,
        as in :func:`uniaxial_stress`, is dropped); anything else raises ValueError.
        """
        if ndim == 3:
            components = tuple(range(6))
        elif ndim == 2:
            components = PLANE_INDICES
            out_of_plane = [k for k in range(6) if k not in components]
            bad = [k for k in out_of_plane if np.any(self.targets[:, k] != 0.0)]
            if bad:
                names = [MANDEL_NAMES[k] for k in bad]
                raise ValueError(
                    f"out-of-plane component(s) {names} have non-zero targets, which a 2D "
                    "(plane strain: eps33 = eps13 = eps23 = 0) solve cannot impose; use a 3D "
                    "RVE or set these targets to zero"
                )
        else:
            raise ValueError(f"ndim = {ndim!r} must be 2 (plane strain) or 3")
        return LoadSteps(
            components,
            self.targets[:, components],
            self.strain_controlled[:, components],
        )

    def __add__(self, other: LoadPath) -> LoadPath:
        """The segments of ``self`` followed by those of ``other`` (targets are absolute)."""
        if not isinstance(other, LoadPath):
            return NotImplemented
        return LoadPath(self.segments + other.segments)

    def __len__(self) -> int:
        return self.nsteps

    def __repr__(self) -> str:
        return f"LoadPath({len(self.segments)} segments, {self.nsteps} increments)"


def uniaxial_stress(strain: float = 0.05, steps: int = 200, axis: int = 0) -> LoadPath:
    """ε_axis,axis ramped to ``strain``; every other stress component zero."""
    name = _normal(axis)
    return LoadPath.from_components(strain={name: strain}, steps=steps)


def uniaxial_strain(strain: float = 0.05, steps: int = 200, axis: int = 0) -> LoadPath:
    """ε_axis,axis ramped to ``strain``; every other strain component held at zero."""
    name = _normal(axis)
    values = {other: 0.0 for other in MANDEL_NAMES} | {name: strain}
    return LoadPath.from_components(strain=values, steps=steps)


def pure_shear(strain: float = 0.05, steps: int = 200, plane: tuple[int, int] = (0, 1)) -> LoadPath:
    """Tensor shear strain ε_ij = ``strain`` (γ_ij = 2·strain) in ``plane`` = (i, j).

    Every other component is stress free, so an isotropic or orthotropic RVE is in a pure
    shear stress state σ_ij.
    """
    return LoadPath.from_components(strain={_shear(plane): strain}, steps=steps)


def biaxial(
    strain1: float, strain2: float, steps: int = 200, axes: tuple[int, int] = (0, 1)
) -> LoadPath:
    """Normal strains ε_aa = ``strain1``, ε_bb = ``strain2`` for ``axes`` = (a, b); other
    stresses zero."""
    if isinstance(axes, str) or np.ndim(axes) != 1 or len(axes) != 2:
        raise ValueError(f"biaxial axes = {axes!r} must be two different axes in 0..2, e.g. (0, 1)")
    a, b = (_normal(axis) for axis in axes)
    if a == b:
        raise ValueError(f"biaxial axes {axes} must be two different axes in 0..2")
    return LoadPath.from_components(strain={a: strain1, b: strain2}, steps=steps)


def cyclic(
    amplitude: float,
    cycles: int = 1,
    steps: int = 50,
    axis: int = 0,
    ratio: float = -1.0,
    lateral: str = "stress",
) -> LoadPath:
    """Strain-controlled tension–compression cycles along ``axis``.

    The axial strain goes 0 → ε_max → ε_min → ε_max … (``cycles`` times to ε_min) → 0 with
    ε_max = ``amplitude`` and ε_min = ``ratio``·``amplitude`` (ratio −1: fully reversed).
    ``steps`` increments take the strain from 0 to ε_max; every segment has the same strain
    increment size. ``lateral`` = "stress" keeps the other stresses zero (uniaxial stress),
    "strain" keeps the other strains zero (uniaxial strain). ``segment_ends`` are the
    reversal points.
    """
    amplitude = _finite(amplitude, "amplitude")
    ratio = _finite(ratio, "ratio")
    if amplitude == 0.0 or not -1.0 <= ratio < 1.0:
        raise ValueError(
            f"cyclic needs amplitude != 0 (got {amplitude}) and ratio in [-1, 1) (got {ratio})"
        )
    _check_steps(cycles, "cycles")
    _check_steps(steps)
    if lateral not in ("stress", "strain"):
        raise ValueError(f"lateral = {lateral!r} must be 'stress' or 'strain'")
    k = COMPONENTS[_normal(axis)]
    flags = np.full(6, lateral == "strain")
    flags[k] = True
    peaks = [amplitude] + [ratio * amplitude, amplitude] * cycles
    peaks = peaks[:-1] + ([0.0] if ratio != 0.0 else [])
    segments, previous = [], 0.0
    for peak in peaks:
        target = np.zeros(6)
        target[k] = peak
        n = max(1, round(steps * abs(peak - previous) / abs(amplitude)))
        segments.append(Segment(target, flags, n))
        previous = peak
    return LoadPath(segments)


def strain_path(
    waypoints: Sequence[Mapping[str, float]], steps: int | Sequence[int] = 50
) -> LoadPath:
    """Non-proportional path through macroscopic strain waypoints, other stresses zero.

    Each waypoint maps tensor components to strains (e.g. ``[{"11": 0.02}, {"11": 0.02,
    "12": 0.01}]``: tension, then shear at fixed ε11). The strain-controlled components are
    those named in any waypoint; a component a waypoint leaves out keeps its previous value
    (zero before it is first named). ``steps`` is per segment, one int or one per waypoint.
    """
    if isinstance(waypoints, Mapping | str) or not isinstance(waypoints, Iterable):
        raise ValueError(f"waypoints must be a list of mappings component -> strain, e.g. "
                         f"[{{'11': 0.02}}], got {waypoints!r}")
    waypoints = list(waypoints)
    if not waypoints:
        raise ValueError("strain_path needs at least one waypoint")
    bad = [point for point in waypoints if not isinstance(point, Mapping)]
    if bad:
        raise ValueError(f"waypoint {bad[0]!r} is not a mapping component -> strain, e.g. "
                         "{'11': 0.02}")
    if isinstance(steps, int | np.integer) and not isinstance(steps, bool):
        counts = [steps] * len(waypoints)
    elif isinstance(steps, Iterable) and not isinstance(steps, str | Mapping):
        counts = list(steps)
    else:
        raise ValueError(f"steps = {steps!r} must be an integer >= 1 or one per waypoint")
    if len(counts) != len(waypoints):
        raise ValueError(f"steps has {len(counts)} entries for {len(waypoints)} waypoints")
    names = {name for point in waypoints for name in point}
    current = dict.fromkeys(names, 0.0)
    segments = []
    for point, count in zip(waypoints, counts, strict=True):
        current |= point
        segments.append(Segment.from_components(strain=current, steps=count))
    return LoadPath(segments)


def check_strain(value: float, name: str) -> float:
    """``value``, a strain; ValueError naming ``name`` when its magnitude reaches
    :data:`MAX_STRAIN` (100 %), far beyond what small-strain models describe."""
    if abs(value) >= MAX_STRAIN:
        raise ValueError(f"{name} = {value:g} is a strain of {100 * abs(value):g} %, but the "
                         "models are small-strain (infinitesimal kinematics): give strains of "
                         f"magnitude below {MAX_STRAIN:g}, e.g. 0.05 for 5 %")
    return value


def _normal(axis: int) -> str:
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise ValueError(f"axis = {axis!r} must be 0, 1 or 2")
    return f"{axis + 1}{axis + 1}"


def _shear(plane: tuple[int, int]) -> str:
    pair = not isinstance(plane, str) and np.ndim(plane) == 1 and len(plane) == 2
    i, j = (int(k) for k in sorted(plane)) if pair else (0, 0)
    if i == j or i not in (0, 1, 2) or j not in (0, 1, 2):
        raise ValueError(f"plane = {plane!r} must be two different axes in 0..2, e.g. (0, 1)")
    return f"{i + 1}{j + 1}"


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} = {value!r} must be a real number")
    if not np.isfinite(value):
        raise ValueError(f"{name} = {value} must be finite")
    return float(value)


def _check_steps(steps: object, name: str = "steps") -> None:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"{name} = {steps!r} must be an integer >= 1")
