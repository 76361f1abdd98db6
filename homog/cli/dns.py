"""``homog dns``: the full-field FFT reference solution of an RVE on a load path.

    homog dns IMAGE --materials mats.toml --load uniaxial --strain 0.05 --steps 200 -o dns.csv
    homog dns IMAGE --krylov gmres --fields final.vtu      # damage; fields for ParaView
"""

from __future__ import annotations

import argparse
import time

from homog.cli._options import (
    add_loading_options,
    add_microstructure_options,
    add_output_options,
    add_threads_option,
    check_output,
    check_output_options,
    loading_from_args,
    materials_from_args,
    microstructure_from_args,
    progress_bar,
    write_outputs,
)
from homog.dns import dns
from kernels.fft import BACKENDS
from kernels.projection import check_tolerance


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dns", help="full-field nonlinear FFT simulation (the reference)",
                       description="Newton-CG FFT solution of the RVE on a load path.")
    add_microstructure_options(p)
    p.add_argument("--materials", help="TOML materials (default: the reference materials)")
    add_loading_options(p)
    add_output_options(p)
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="FFT/array backend")
    add_threads_option(p)
    p.add_argument("--tol", type=float, default=1e-6,
                   help="relative equilibrium residual of the Newton iterations")
    p.add_argument("--krylov", choices=KRYLOV, default="cg",
                   help="solver of the Newton corrections: conjugate gradient, or GMRES for "
                   "non-symmetric tangents (damage while softening, where CG breaks down)")
    p.add_argument("--fields", metavar="VTU",
                   help="ParaView file (.vtu) of the final fields: phase, strain and stress "
                   "(Mandel components), equivalent plastic strain")
    p.set_defaults(func=run)


#: Krylov solvers of homog.dns (its ``krylov`` argument).
KRYLOV = ("cg", "gmres")


def write_fields(path: str, ms, response) -> None:
    """The final strain, stress and equivalent plastic strain of a DNS as a .vtu voxel mesh."""
    from rve_gen.io import write

    names = ("11", "22", "33", "sqrt2_23", "sqrt2_13", "sqrt2_12")
    cell_data = {"eqps": response.fields["eqps"][-1]}
    for kind in ("strain", "stress"):
        field = response.fields[kind][-1]
        cell_data.update({f"{kind}_{name}": field[k] for k, name in enumerate(names)})
    write(path, ms, cell_data=cell_data)


def run(args: argparse.Namespace) -> int:
    check_tolerance(args.tol, "--tol")
    check_output_options(args)
    check_output(args.fields, "--fields")
    if args.fields and not args.fields.lower().endswith(".vtu"):
        raise ValueError(f"--fields {args.fields!r}: fields are written as a ParaView .vtu "
                         "file; give a name ending in .vtu")
    path = loading_from_args(args)
    ms = microstructure_from_args(args)
    materials = materials_from_args(args, ms)
    t0 = time.perf_counter()
    response = dns(ms, materials, path, backend=args.backend, tol=args.tol, krylov=args.krylov,
                   save_fields="last" if args.fields else None, progress=progress_bar("DNS"))
    print(f"full-field solve: {time.perf_counter() - t0:.2f} s on a "
          f"{'x'.join(map(str, ms.shape))} grid")
    write_outputs(response, args, "DNS")
    if args.fields:
        write_fields(args.fields, ms, response)
        print(f"fields written to {args.fields}")
    return 0
