"""``homog homogenize``: effective elastic stiffness of a voxel image by FFT.

    homog homogenize IMAGE --phase 0=100,0.3 --phase 1=500,0.19 [--backend auto] [--json]
    homog homogenize --example fibres      # a built-in 2D fibre RVE, no file needed
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from homog.cli._options import (
    add_microstructure_options,
    add_threads_option,
    microstructure_from_args,
)
from kernels import elastic_homogenization
from kernels.fft import BACKENDS
from kernels.lippmann_schwinger import MIN_TOL
from kernels.projection import check_tolerance
from kernels.tensors import engineering_constants, isotropic_stiffness

EXAMPLES = ("fibres", "spheres")
#: Reference materials of the built-in examples: (E, ν) of matrix and inclusions.
EXAMPLE_PHASES = {0: (100.0, 0.3), 1: (500.0, 0.19)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "homogenize",
        help="effective elastic stiffness of a voxel image (FFT, Mandel notation)",
        description="Compute the effective elastic stiffness C_eff (Mandel notation) of a "
        "periodic voxel RVE with the FFT conjugate-gradient solver, and its engineering "
        "constants. 2D images are solved in plane strain (C_eff is the 11, 22, 12 block).",
    )
    add_microstructure_options(p, required=False)
    p.add_argument("--example", choices=EXAMPLES,
                   help="use a built-in RVE instead of IMAGE: 30%% fibres (2D, 256²) or 20%% "
                   "spheres (3D, 64³), matrix E=100 nu=0.3, inclusions E=500 nu=0.19")
    p.add_argument("--phase", action="append", default=[], metavar="LABEL=E,NU",
                   help="isotropic material of a label, e.g. 0=100,0.3, or LABEL=void (zero "
                   "stiffness; --solver cg) (repeat per phase)")
    p.add_argument("--solver", choices=("cg", "basic"), default="cg",
                   help="conjugate gradient, or the basic fixed-point scheme (no voids)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="relative equilibrium residual of the FFT solves")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="FFT/array backend")
    add_threads_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def parse_phase(text: str) -> tuple[int, tuple[float, float] | None]:
    """'LABEL=E,NU' -> (label, (E, nu)), 'LABEL=void' -> (label, None), with a clear error
    for anything else."""
    try:
        label, values = text.split("=")
        if values.strip().lower() == "void":
            return int(label), None
        E, nu = (float(v) for v in values.split(","))
        return int(label), (E, nu)
    except ValueError:
        raise ValueError(f"--phase {text!r}: expected LABEL=E,NU, e.g. 0=100,0.3, or "
                         "LABEL=void") from None


def _microstructure(args: argparse.Namespace):
    import rve_gen

    if args.example and args.image:
        raise ValueError(f"give an IMAGE file or --example {args.example}, not both")
    if args.example and (args.lengths or args.threshold or args.phases):
        raise ValueError(f"--example {args.example} is a ready RVE: --lengths, --threshold and "
                         "--phases apply to an IMAGE file only")
    if args.example == "fibres":
        return rve_gen.circles(volume_fraction=0.3, radius=0.08, seed=0).voxelize((256, 256))
    if args.example == "spheres":
        return rve_gen.spheres(volume_fraction=0.2, radius=0.15, seed=0).voxelize((64, 64, 64))
    if not args.image:
        raise ValueError("give an IMAGE file or --example fibres|spheres")
    return microstructure_from_args(args)


def phases_for_labels(items: list[str],
                      present: np.ndarray) -> dict[int, tuple[float, float] | None]:
    """The ``--phase`` materials, checked against the labels present in the image: one per
    label, none for an absent label."""
    phases: dict[int, tuple[float, float] | None] = {}
    for item in items:
        label, values = parse_phase(item)
        if label in phases:
            raise ValueError(f"--phase {label}= is given twice: give one --phase per label")
        phases[label] = values
    labels = [int(k) for k in present]
    absent = sorted(set(phases) - set(labels))
    if absent:
        raise ValueError(
            f"--phase for label(s) {absent}, which the image does not contain; its labels are "
            f"{labels} (integer arrays keep their labels, images their grey levels): give "
            "--phase for those, or segment the image with --threshold / --phases VALUE=LABEL"
        )
    missing = [k for k in labels if k not in phases]
    if missing:
        raise ValueError(
            f"label(s) {missing} of the image have no material: add --phase LABEL=E,NU for "
            f"each of its labels {labels}, e.g. --phase {missing[0]}=100,0.3"
        )
    return phases


def run(args: argparse.Namespace) -> int:
    check_tolerance(args.tol, "--tol", MIN_TOL)
    ms = _microstructure(args)
    present = np.flatnonzero(ms.volume_fractions)
    phases = (dict(EXAMPLE_PHASES) if args.example and not args.phase
              else phases_for_labels(args.phase, present))
    stiffness = {}
    for label, constants in phases.items():
        if constants is None:  # a void
            stiffness[label] = np.zeros((6, 6))
            continue
        E, nu = constants
        try:
            stiffness[label] = isotropic_stiffness(E, nu)
        except ValueError as exc:
            hint = f"; a void is --phase {label}=void" if E == 0 else ""
            raise ValueError(f"--phase {label}={E:g},{nu:g}: {exc}{hint}") from None
    t0 = time.perf_counter()
    result = elastic_homogenization(ms.labels, stiffness, lengths=ms.lengths, solver=args.solver,
                                    tol=args.tol, backend=args.backend)
    wall = time.perf_counter() - t0
    constants = _constants(result.C_eff)
    fractions = {int(k): float(ms.volume_fractions[k]) for k in present}
    if args.json:
        print(json.dumps({"C_eff": result.C_eff.tolist(), "constants": constants,
                          "volume_fractions": fractions, "grid": list(ms.shape),
                          "iterations": result.iterations, "backend": result.info["backend"],
                          "wall_s": round(wall, 3)}))
        return 0
    plane = ("plane strain, components 11, 22, √2·12" if ms.ndim == 2
             else "Mandel, 11 22 33 √2·23 √2·13 √2·12")
    print(f"grid {'x'.join(map(str, ms.shape))}, volume fractions "
          + ", ".join(f"{k}: {v:.4f}" for k, v in fractions.items()))
    print(f"solver {args.solver} on {result.info['backend']}: iterations {result.iterations}, "
          f"{wall:.2f} s")
    print(f"C_eff ({plane}):")
    with np.printoptions(precision=5, suppress=True, linewidth=120):
        print(result.C_eff)
    print("engineering constants" + (" (plane-strain apparent moduli)" if ms.ndim == 2 else "")
          + ":")
    for key, value in constants.items():
        print(f"  {key:5s} {value:.6g}")
    return 0


def _constants(C: np.ndarray) -> dict[str, float]:
    """Engineering constants of a 3D C_eff, or plane-strain apparent ones of a 2D block."""
    if C.shape == (6, 6):
        return engineering_constants(C)
    S = np.linalg.inv(C)
    return {"E1": 1 / S[0, 0], "E2": 1 / S[1, 1], "nu12": -S[0, 1] / S[0, 0],
            "nu21": -S[0, 1] / S[1, 1], "G12": 1 / (2 * S[2, 2])}
