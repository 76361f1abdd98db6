"""``homog dns``: the full-field FFT reference solution of an RVE on a load path.

    homog dns IMAGE --materials mats.toml --load uniaxial --strain 0.05 --steps 200 -o dns.csv
"""

from __future__ import annotations

import argparse
import time

from homog.cli._options import (
    add_loading_options,
    add_microstructure_options,
    add_output_options,
    add_threads_option,
    check_output_options,
    loading_from_args,
    microstructure_from_args,
    progress_bar,
    write_outputs,
)
from homog.dns import dns
from homog.materials import reference_materials_path
from kernels.fft import BACKENDS


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_options(args)
    path = loading_from_args(args)
    ms = microstructure_from_args(args)
    t0 = time.perf_counter()
    response = dns(ms, args.materials or reference_materials_path(), path,
                   backend=args.backend, tol=args.tol, progress=progress_bar("DNS"))
    print(f"full-field solve: {time.perf_counter() - t0:.2f} s on a "
          f"{'x'.join(map(str, ms.shape))} grid")
    write_outputs(response, args, "DNS")
    return 0
