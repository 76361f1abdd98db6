"""``homog rve``: generate periodic RVEs and inspect microstructure files.

    homog rve circles --volume-fraction 0.5 --radius 0.05 --shape 512 --seed 0 -o rve.npz
    homog rve spheres --volume-fraction 0.5 --radius 0.06 --shape 128 -o rve.tif --preview p.png
    homog rve fibers --volume-fraction 0.2 --radius 0.02 --aspect-ratio 8 -o rve.npz
    homog rve fibers --long --volume-fraction 0.6 --radius 0.05 -o ud.npz
    homog rve voronoi --grains 50 --phase-fractions 0.7 0.3 -o poly.npz
    homog rve info rve.npz
    homog rve info micrograph.png --threshold 128     # volume fractions of a segmentation
"""

from __future__ import annotations

import argparse
import json

from homog.cli._options import (
    add_microstructure_options,
    check_output,
    microstructure_from_args,
    option_error,
)
from homog.text import counted

GENERATORS = ("circles", "spheres", "ellipses", "ellipsoids", "fibers", "voronoi")
DIM = {"circles": 2, "ellipses": 2, "spheres": 3, "ellipsoids": 3, "fibers": 3}


def _common(p: argparse.ArgumentParser, dim: int | None) -> None:
    p.add_argument("-o", "--output", required=True,
                   help="output file: .npz .npy .tif .png .vtu .xdmf .inp")
    p.add_argument("--shape", type=int, nargs="+", default=[256 if dim == 2 else 64],
                   help="voxels per axis (one number for all axes)")
    p.add_argument("--lengths", type=float, nargs="+", help="RVE side lengths (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random state (same seed, same RVE)")
    p.add_argument("--preview", metavar="PNG", help="also write a PNG preview")
    p.add_argument("--phase-names", nargs="+", help="names of all phases, matrix first")


def _particles(p: argparse.ArgumentParser) -> None:
    p.add_argument("--volume-fraction", type=float, nargs="+", required=True,
                   help="volume fraction, or one per inclusion phase")
    p.add_argument("--distribution", choices=("fixed", "normal", "lognormal"), default="fixed",
                   help="size distribution of the particles")
    p.add_argument("--min-gap", type=float, default=0.0, help="minimum surface distance")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``homog rve`` and its sub-commands to ``sub``."""
    rve = sub.add_parser(
        "rve",
        help="generate periodic RVEs (particles, fibres, Voronoi) or inspect a file",
        description="Generate a periodic, seeded, non-overlapping RVE and write it as a voxel "
        "label image, or print a summary of a microstructure file.",
    )
    kinds = rve.add_subparsers(dest="generator", metavar="KIND")
    for name in ("circles", "spheres"):
        p = kinds.add_parser(name, help=f"random packing of {name} (overlap elimination)")
        _particles(p)
        p.add_argument("--radius", type=float, nargs="+", required=True,
                       help="mean radius (RVE length units), or one per inclusion phase")
        p.add_argument("--radius-std", type=float, nargs="+", default=[0.0],
                       help="standard deviation of the radius, or one per inclusion phase")
        _common(p, DIM[name])
        p.set_defaults(func=_generate, kind=name)
    for name in ("ellipses", "ellipsoids"):
        p = kinds.add_parser(name, help=f"random packing of {name} (Perram-Wertheim test)")
        _particles(p)
        p.add_argument("--semi-axes", type=float, nargs=DIM[name], required=True,
                       help="mean semi-axes (RVE length units)")
        p.add_argument("--size-std", type=float, default=0.0, help="relative size spread")
        p.add_argument("--orientation", default="random",
                       choices=("aligned", "random") + (("planar",) if DIM[name] == 3 else ()),
                       help="aligned with the axes, random, or random in the x1-x2 plane")
        _common(p, DIM[name])
        p.set_defaults(func=_generate, kind=name)
    p = kinds.add_parser("fibers", help="short fibres (spherocylinders) or long aligned fibres")
    _particles(p)
    p.add_argument("--radius", type=float, nargs="+", required=True,
                   help="fibre radius (RVE length units), or one per inclusion phase")
    p.add_argument("--radius-std", type=float, nargs="+", default=[0.0],
                   help="standard deviation of the radius, or one per inclusion phase")
    p.add_argument("--aspect-ratio", type=float, nargs="+", default=[5.0],
                   help="length over diameter of short fibres")
    p.add_argument("--orientation", choices=("aligned", "random", "planar"), default="random",
                   help="fibre directions: along x3, random in 3D, or random in the x1-x2 plane")
    p.add_argument("--long", action="store_true",
                   help="long fibres through the RVE (unidirectional composite)")
    p.add_argument("--axis", type=int, choices=(0, 1, 2), default=2,
                   help="direction of long fibres")
    _common(p, 3)
    p.set_defaults(func=_generate, kind="fibers")
    p = kinds.add_parser("voronoi", help="periodic Voronoi grains assigned to phases")
    p.add_argument("--grains", type=int, required=True, help="number of grains")
    p.add_argument("--phase-fractions", type=float, nargs="+", default=[1.0],
                   help="target volume fraction of each phase 0, 1, ... (summing to 1)")
    p.add_argument("--dim", type=int, choices=(2, 3), default=3, help="dimension of the RVE")
    _common(p, None)
    p.set_defaults(func=_generate, kind="voronoi")
    p = kinds.add_parser("info", help="summary of a microstructure file",
                         description="Shape, lengths and, per label present, the name, volume "
                         "fraction and particle count: the labels every command reads from "
                         "this file (or from its segmentation by --threshold / --phases).")
    add_microstructure_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_info)
    rve.set_defaults(func=lambda args: (rve.print_help(), 2)[1])


def _geometry(args: argparse.Namespace):
    """The generator call matching the parsed sub-command."""
    import rve_gen

    common = dict(lengths=args.lengths, seed=args.seed, phase_names=args.phase_names)
    if args.kind == "voronoi":
        return rve_gen.voronoi(args.grains, phase_fractions=args.phase_fractions,
                               ndim=args.dim, **common)
    common.update(distribution=args.distribution, min_gap=args.min_gap)
    fraction = args.volume_fraction
    if args.kind in ("circles", "spheres"):
        generator = getattr(rve_gen, args.kind)
        return generator(fraction, args.radius, radius_std=args.radius_std, **common)
    if args.kind in ("ellipses", "ellipsoids"):
        generator = getattr(rve_gen, args.kind)
        return generator(fraction, args.semi_axes, size_std=args.size_std,
                         orientation=args.orientation, **common)
    if args.long:
        return rve_gen.long_fibers(fraction, args.radius, axis=args.axis,
                                   radius_std=args.radius_std, **common)
    return rve_gen.fibers(fraction, args.radius, args.aspect_ratio, radius_std=args.radius_std,
                          orientation=args.orientation, **common)


def _generate(args: argparse.Namespace) -> int:
    import rve_gen
    from rve_gen.io import writer_for

    check_output(args.output)
    check_output(args.preview, "--preview")
    writer_for(args.output)
    ndim = args.dim if args.kind == "voronoi" else DIM[args.kind]
    if ndim == 3 and args.output.lower().endswith(".png"):
        raise ValueError(f"-o {args.output!r}: PNG holds 2D images and {args.kind} are 3D: use "
                         ".npz, .tif, .vtu, .xdmf or .inp (and --preview for a picture)")
    if args.preview and not args.preview.lower().endswith(".png"):
        raise ValueError(f"--preview {args.preview!r}: the preview is a PNG picture; give a "
                         "name ending in .png")
    try:
        geometry = _geometry(args)
    except rve_gen.ParameterError as exc:  # the API names its keywords; the CLI its options
        raise option_error(exc, args) from None
    ms = geometry.voxelize(tuple(args.shape) if len(args.shape) > 1 else args.shape[0])
    ms.save(args.output)
    if args.preview:
        ms.preview(args.preview)
    fractions = ", ".join(f"{p} {f:.4f}" for p, f in zip(ms.phases, ms.volume_fractions))
    noun = "grain" if args.kind == "voronoi" else "particle"
    print(f"{args.kind}: {counted(len(geometry), noun)}, "
          f"{'x'.join(map(str, ms.shape))} voxels, volume fractions {fractions} -> {args.output}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import rve_gen

    summary = rve_gen.statistics.describe(microstructure_from_args(args))
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{args.image}: {'x'.join(map(str, summary['shape']))} voxels, lengths "
          f"{', '.join(f'{x:g}' for x in summary['lengths'])}")
    for phase in summary["phases"]:
        count = ("" if phase["particles"] is None else
                 f", {counted(phase['particles'], 'particle')} (periodic connected regions: "
                 "touching particles count as one)")
        print(f"  {phase['label']} {phase['name']}: volume fraction "
              f"{phase['volume_fraction']:.4f}{count}")
    return 0
