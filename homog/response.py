"""The macroscopic response of a load path, shared by the full-field (DNS) solver and the ROM."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from homog.files import atomic_open, check_target
from kernels.arraymodule import to_numpy
from kernels.tensors import MANDEL_NAMES

#: Mandel components as the CSV columns hold them: shears carry the √2 of Mandel notation.
_COMPONENTS = ("11", "22", "33", "sqrt2_23", "sqrt2_13", "sqrt2_12")
_COLUMNS = (
    [f"strain_{name}" for name in _COMPONENTS]
    + [f"stress_{name}" for name in _COMPONENTS]
    + ["iterations"]
)
#: What the sidecar JSON says about the table.
_CONVENTION = (
    "macroscopic strain and stress in Mandel notation, components (11, 22, 33, sqrt2*23, "
    "sqrt2*13, sqrt2*12): a shear column holds sqrt(2) times the tensor component; row 0 is "
    "the initial state; iterations = Newton iterations of the increment ending at the row"
)
_SCHEMA = "homog.response"


#: Files of version 1 began with this comment, then ``# info: {json}``, then these columns.
_LEGACY_HEADER = "# homog Response"
_LEGACY_COLUMNS = (
    [f"strain_{name}" for name in MANDEL_NAMES]
    + [f"stress_{name}" for name in MANDEL_NAMES]
    + ["iterations"]
)


def sidecar(path: str | os.PathLike) -> Path:
    """The JSON file next to a response CSV holding its convention and ``info``:
    ``curve.csv`` -> ``curve.csv.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def plot_format(path: str | os.PathLike) -> str:
    """The matplotlib format a plot written to ``path`` takes from its extension ("png",
    "pdf", "svg"...); ValueError listing the formats for any other name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = FigureCanvasAgg.get_supported_filetypes()
    kind = Path(path).suffix.lower().removeprefix(".")
    if kind not in formats:
        raise ValueError(f"cannot tell the plot format from {Path(path).name!r}: end the name "
                         f"in one of {', '.join('.' + k for k in sorted(formats))}")
    return kind


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
        for name in ("strain", "stress"):
            bad = np.flatnonzero(~np.all(np.isfinite(getattr(self, name)), axis=1))
            if bad.size:
                raise ValueError(f"{name} holds NaN or inf at rows {bad[:10].tolist()}: a "
                                 "response is a history of converged states")
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
    def source(self) -> str:
        """What produced the response, from ``info["solver"]``: "DNS (FFT)", "ROM (SCA)" or
        "response" when unknown."""
        solver = str(self.info.get("solver", ""))
        if solver.startswith("dns"):
            return "DNS (FFT)"
        if solver.startswith("sca"):
            return "ROM (SCA)"
        return "response"

    @property
    def nsteps(self) -> int:
        """Number of increments."""
        return self.iterations.shape[0]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write strain, stress and iterations as a plain CSV (a header line, one row per
        state) that ``pandas.read_csv(path)`` reads without options, and the convention and
        ``info`` as JSON next to it (:func:`sidecar`; values that are not JSON types are
        written as strings). Values have 17 significant digits: :meth:`from_csv` reads them
        back exactly, as pandas 3 does by default (pandas 2 with ``float_precision=
        "round_trip"``). Both are written atomically; ``tangent`` and ``fields`` are not.
        """
        path = check_target(path)
        table = np.column_stack([self.strain, self.stress, np.r_[0, self.iterations]])
        meta = {"schema": _SCHEMA, "version": 2, "convention": _CONVENTION,
                "columns": _COLUMNS, "info": self.info}
        with atomic_open(sidecar(path), "w") as file:
            file.write(json.dumps(meta, indent=1, default=str) + "\n")
        with atomic_open(path, "w") as file:
            file.write(",".join(_COLUMNS) + "\n")
            np.savetxt(file, table, delimiter=",", fmt=["%.17g"] * 12 + ["%d"])

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> Response:
        """Read a file written by :meth:`to_csv` (``info`` from its sidecar JSON when present,
        else empty), or by homog's earlier version (comment lines above the table)."""
        path = Path(path)
        with path.open() as file:
            first = file.readline()
            if first.startswith(_LEGACY_HEADER):  # version 1: comment lines, info inline
                info = json.loads(file.readline().removeprefix("# info:"))
                first = file.readline()
                columns = _LEGACY_COLUMNS
            else:
                info, columns = {}, _COLUMNS
            if first.strip() != ",".join(columns):
                raise ValueError(
                    f"{path} is not a homog Response CSV (written by to_csv): its first line "
                    f"must be the header {','.join(_COLUMNS)}"
                )
            try:
                table = np.loadtxt(file, delimiter=",", ndmin=2)
            except ValueError as exc:
                raise ValueError(f"{path} is damaged (truncated or edited): its table does not "
                                 f"parse ({str(exc).split(';')[0]})") from None
        if table.shape[1] != len(columns):
            raise ValueError(f"{path} is damaged (truncated or edited): its rows have "
                             f"{table.shape[1]} values, the header {len(columns)}")
        if columns is _COLUMNS and sidecar(path).is_file():
            try:
                meta = json.loads(sidecar(path).read_text())
                info = meta["info"] if isinstance(meta, dict) else None
            except (json.JSONDecodeError, KeyError):
                info = None
            if not isinstance(info, dict):
                raise ValueError(f"{sidecar(path)} is not the JSON written by Response.to_csv "
                                 "(an object with an 'info' object): remove or rewrite it")
        return cls(table[:, :6], table[:, 6:12], table[1:, 12].astype(int), info=info)

    def plot(
        self,
        path: str | os.PathLike,
        component: int = 0,
        other: Response | None = None,
        label: str | None = None,
        other_label: str | None = None,
    ) -> None:
        """Plot the stress–strain curve of Mandel ``component`` to ``path``, optionally
        overlaying ``other``; the format follows the file's extension (.png, .pdf, .svg...,
        as matplotlib writes them).

        The legend names each curve ``label`` / ``other_label``, by default from the solver
        that produced it (:attr:`source`: "DNS (FFT)", "ROM (SCA)", else "response").
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if component not in range(6):
            raise ValueError(f"component = {component!r} must be a Mandel index 0..5")
        if other is not None and not isinstance(other, Response):
            raise ValueError(f"other must be a homog.response.Response to overlay, got "
                             f"{type(other).__name__}")
        path = check_target(path)
        kind = plot_format(path)
        figure = Figure(figsize=(5, 4), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.strain[:, component], self.stress[:, component], "-",
                  label=label or self.source)
        if other is not None:
            axes.plot(other.strain[:, component], other.stress[:, component], "--",
                      label=other_label or other.source)
        scale = "√2·" if component >= 3 else ""
        name = MANDEL_NAMES[component]
        axes.set_xlabel(f"macroscopic strain {scale}ε{name}")
        axes.set_ylabel(f"macroscopic stress {scale}σ{name}")
        axes.grid(alpha=0.3)
        axes.legend()
        with atomic_open(path, "wb") as file:
            figure.savefig(file, format=kind, dpi=120)

