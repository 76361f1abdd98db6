"""The macroscopic response of a load path, shared by the full-field (DNS) solver and the ROM."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from homog.files import atomic_open
from kernels.arraymodule import to_numpy
from kernels.tensors import MANDEL_NAMES

_HEADER = (
    "# homog Response: macroscopic strain and stress in Mandel notation, components "
    "(11, 22, 33, sqrt2*23, sqrt2*13, sqrt2*12); row 0 is the initial state; iterations = "
    "Newton iterations of the increment ending at the row"
)
_COLUMNS = (
    [f"strain_{name}" for name in MANDEL_NAMES]
    + [f"stress_{name}" for name in MANDEL_NAMES]
    + ["iterations"]
)


@dataclass
class Response:
    """Macroscopic history of one load path.

    ``strain``, ``stress``: ``(nsteps + 1, 6)`` Mandel, row 0 the initial (zero) state;
    ``iterations``: ``(nsteps,)`` Newton iterations per increment; ``tangent``: optional
    ``(nsteps + 1, 6, 6)`` homogenized algorithmic tangent; ``fields``: optional snapshots
    (name -> array); ``info``: solver name, timings and other JSON-able notes.
    Arrays are stored as numpy (cupy inputs are copied to the host).
    """

    strain: np.ndarray
    stress: np.ndarray
    iterations: np.ndarray
    tangent: np.ndarray | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.strain = np.asarray(to_numpy(self.strain), dtype=float)
        self.stress = np.asarray(to_numpy(self.stress), dtype=float)
        self.iterations = np.asarray(to_numpy(self.iterations), dtype=int)
        rows = self.strain.shape[0] if self.strain.ndim == 2 else -1
        if self.strain.shape != (rows, 6) or self.stress.shape != (rows, 6) or rows < 1:
            raise ValueError(
                f"strain {self.strain.shape} and stress {self.stress.shape} must both be "
                "(nsteps + 1, 6) Mandel histories with row 0 the initial state"
            )
        if self.iterations.shape != (rows - 1,):
            raise ValueError(
                f"iterations has shape {self.iterations.shape}, expected ({rows - 1},): one "
                "entry per increment"
            )
        if self.tangent is not None:
            self.tangent = np.asarray(to_numpy(self.tangent), dtype=float)
            if self.tangent.shape != (rows, 6, 6):
                raise ValueError(f"tangent has shape {self.tangent.shape}, expected ({rows}, 6, 6)")

    @property
    def nsteps(self) -> int:
        """Number of increments."""
        return self.iterations.shape[0]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write strain, stress and iterations as CSV (one row per state), atomically.

        The first line is a comment naming the convention, the second holds ``info`` as JSON
        (values that are not JSON types are written as strings); ``tangent`` and ``fields``
        are not written.
        """
        path = Path(path)
        table = np.column_stack([self.strain, self.stress, np.r_[0, self.iterations]])
        header = "\n".join(
            [_HEADER, "# info: " + json.dumps(self.info, default=str), ",".join(_COLUMNS)]
        )
        with atomic_open(path, "w") as file:
            file.write(header + "\n")
            np.savetxt(file, table, delimiter=",", fmt=["%.17g"] * 12 + ["%d"])

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> Response:
        """Read a file written by :meth:`to_csv`."""
        path = Path(path)
        with path.open() as file:
            lines = [file.readline() for _ in range(3)]
            if not lines[0].startswith("# homog Response") or lines[2].strip() != ",".join(
                _COLUMNS
            ):
                raise ValueError(f"{path} is not a homog Response CSV (written by to_csv)")
            info = json.loads(lines[1].removeprefix("# info:"))
            table = np.loadtxt(file, delimiter=",", ndmin=2)
        return cls(table[:, :6], table[:, 6:12], table[1:, 12].astype(int), info=info)

    def plot(
        self,
        path: str | os.PathLike,
        component: int = 0,
        other: Response | None = None,
        label: str = "DNS",
        other_label: str = "ROM",
    ) -> None:
        """Write a stress–strain PNG of Mandel ``component``, optionally overlaying ``other``."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if component not in range(6):
            raise ValueError(f"component = {component!r} must be a Mandel index 0..5")
        figure = Figure(figsize=(5, 4), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.strain[:, component], self.stress[:, component], "-", label=label)
        if other is not None:
            axes.plot(
                other.strain[:, component], other.stress[:, component], "--", label=other_label
            )
        scale = "√2·" if component >= 3 else ""
        name = MANDEL_NAMES[component]
        axes.set_xlabel(f"macroscopic strain {scale}ε{name}")
        axes.set_ylabel(f"macroscopic stress {scale}σ{name}")
        axes.grid(alpha=0.3)
        axes.legend()
        path = Path(path)
        with atomic_open(path, "wb") as file:
            figure.savefig(file, format="png", dpi=120)

