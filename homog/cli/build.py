"""``homog build``: the SCA offline stage, from an image (or saved microstructure) to a ROM file.

    homog build IMAGE --materials mats.toml --clusters 0=12,1=6 -o rom.npz
"""

from __future__ import annotations

import argparse
import time

from homog.cli._options import (
    LOADS,
    add_microstructure_options,
    add_threads_option,
    check_output,
    loading_from_args,
    materials_from_args,
    microstructure_from_args,
)
from homog.loading import LoadPath
from homog.sca.model import build_rom
from homog.text import counted
from kernels.fft import BACKENDS

#: The probe's settings when --probe-strain is given without them.
PROBE_DEFAULTS = {"steps": 6, "load": "uniaxial", "axis": 0}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build an SCA reduced-order model (offline stage)",
                       description="Elastic FFT strain concentration, k-means clustering per "
                       "phase and interaction tensors of an RVE image; writes one .npz file.")
    add_microstructure_options(p)
    p.add_argument("--materials", help="TOML file with a [phases.LABEL] table per phase "
                   "(default: the reference von Mises matrix / elastic inclusion materials)")
    p.add_argument("--clusters", required=True, metavar="LABEL=K,...",
                   help="clusters per phase, e.g. 0=12,1=6")
    p.add_argument("--seed", type=int, default=0, help="k-means random state")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="FFT/array backend")
    p.add_argument("--static", action="store_true",
                   help="static clusters only (no hierarchy of fine clusters for adaptive SCA, "
                   "which inelastic phases get by default): a faster build and a smaller file; "
                   "the UMAT runs the static clusters either way")
    probe = p.add_argument_group(
        "plastic probe", "a short full-field solve whose plastic strain joins the clustering "
        "features of the inelastic phases (build_rom's probe, docs/adaptive.md): for softening "
        "RVEs, run along the load the model will see, to about the strain where damage starts")
    probe.add_argument("--probe-strain", type=float, metavar="STRAIN",
                       help="strain amplitude of the probe (no probe without it)")
    probe.add_argument("--probe-steps", type=int,
                       help=f"increments of the probe (default {PROBE_DEFAULTS['steps']})")
    probe.add_argument("--probe-load", choices=[k for k in LOADS if k != "cyclic"],
                       help="load type of the probe, as homog run's --load (default "
                       f"{PROBE_DEFAULTS['load']})")
    probe.add_argument("--probe-axis", type=int, choices=(0, 1, 2),
                       help=f"loading axis of the probe (default {PROBE_DEFAULTS['axis']})")
    add_threads_option(p)
    p.add_argument("-o", "--output", required=True, help="ROM file (.npz)")
    p.set_defaults(func=run)


def probe_from_args(args: argparse.Namespace) -> LoadPath | None:
    """The probe's LoadPath of the --probe-* options, None without --probe-strain (then the
    other --probe-* options, which would do nothing, are refused)."""
    given = {key: getattr(args, f"probe_{key}") for key in PROBE_DEFAULTS}
    if args.probe_strain is None:
        extra = [f"--probe-{key}" for key, value in given.items() if value is not None]
        if extra:
            names = ", ".join(extra)
            what = "is an option" if len(extra) == 1 else "are options"
            raise ValueError(f"{names} {what} of the plastic probe, which --probe-strain turns "
                             f"on: give --probe-strain STRAIN too, or drop {names}")
        return None
    settings = {key: PROBE_DEFAULTS[key] if value is None else value
                for key, value in given.items()}
    return loading_from_args(argparse.Namespace(
        load=settings["load"], strain=args.probe_strain, steps=settings["steps"],
        axis=settings["axis"], cycles=1), "--probe-")


def parse_clusters(text: str) -> dict[int, int]:
    """'0=12,1=6' -> {0: 12, 1: 6}, with a clear error otherwise."""
    out: dict[int, int] = {}
    for item in text.split(","):
        try:
            label, count = (int(v) for v in item.split("="))
        except ValueError:
            raise ValueError(f"--clusters {text!r}: expected LABEL=COUNT,... with one positive "
                             "count per phase label, e.g. 0=12,1=6") from None
        if label in out:
            raise ValueError(f"--clusters {text!r}: label {label} is given twice: give one "
                             "count per phase label, e.g. 0=12,1=6")
        out[label] = count
    return out


def run(args: argparse.Namespace) -> int:
    clusters = parse_clusters(args.clusters)
    probe = probe_from_args(args)
    check_output(args.output)
    if not args.output.lower().endswith(".npz"):
        raise ValueError(f"-o {args.output!r}: a reduced-order model is saved as one .npz "
                         "file; give a name ending in .npz")
    ms = microstructure_from_args(args)
    materials = materials_from_args(args, ms)
    t0 = time.perf_counter()
    rom = build_rom(ms, materials, clusters, backend=args.backend,
                    seed=args.seed, adaptive=None if args.static else "auto", probe=probe,
                    progress=lambda stage: print(f"... {stage}", flush=True))
    rom.save(args.output)
    timings = ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in rom.info["timings"].items())
    fine = "" if rom.hierarchy is None else f", {rom.hierarchy.n_fine} fine clusters to refine into"
    operator = "Willot's" if rom.info["discretization"] == "willot" else "spectral"
    print(f"ROM with {counted(rom.K, 'cluster')} {rom.n_clusters}{fine}, {operator} Green "
          f"operator, written to {args.output} ({time.perf_counter() - t0:.2f} s: {timings})")
    return 0
