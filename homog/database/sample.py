"""One sample of the database: RVE, reduced-order model, run to failure, outputs.

A *labeller* is any callable ``labeller(spec) -> dict`` taking a sample specification
(:meth:`homog.database.config.DatabaseConfig.sample_spec`) and returning

- ``outputs``: scalar results by name (floats), e.g. ``{"toughness": 0.31, ...}``;
- ``arrays`` (optional): numpy arrays by name, e.g. the macroscopic curve;
- ``info`` (optional): JSON-able notes (timings, counts).

:func:`simulate` is the labeller of the SCA framework (Bessa et al., CMAME 320 (2017)
633–667, §2: one reduced-order RVE simulation per design point); a synthetic labeller (an
analytic function of ``spec["inputs"]``) serves for tests and for studying the learning.
:func:`execute` runs a labeller on a worker and turns any exception into a failure record,
so the driver always receives a result to store.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from homog.database.config import generator_arguments, loading_path, replicate_seed

Labeller = Callable[[Mapping[str, Any]], Mapping[str, Any]]

#: Column names of the summary table that outputs may not take.
RESERVED = ("id", "origin", "index", "round", "status", "attempts", "error", "elapsed_s",
            "worker")
#: The outputs :func:`simulate` labels a sample with (the numbers of
#: :class:`homog.failure.FailureMetrics`, and the RVE's inclusion fraction).
OUTPUTS = ("toughness", "peak_stress", "strain_at_peak", "failure_strain",
           "initial_stiffness", "failed", "peaked", "rve_volume_fraction")


def simulate(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Label one design point with the reduced-order model, run until failure.

    Steps: pack the RVE with the ``[microstructure]`` generator (seeded by ``spec["seed"]``)
    and voxelize it; build the SCA model (:func:`homog.sca.model.build_rom`, k-means seeded alike),
    with static clusters unless ``rom.adaptive`` asks for adaptive ones ("auto" or fine
    clusters per phase, :mod:`homog.sca.adaptive`); run the ``[loading]`` path until the stress
    falls below ``failure.drop`` × peak (:func:`homog.failure.run_to_failure`); evaluate
    :func:`homog.failure.failure_metrics`.

    With ``rom.labeller = "dns"`` the full-field solver (:func:`homog.dns.dns`) labels the
    point instead, on the same RVE, materials, load path and failure rule: the reference that
    checks a store's reduced-order labels (the other ``[rom]`` keys are then unused and
    ``info["clusters"]`` is 0). Where the DNS's Newton-CG fails at an increment it switches
    to GMRES corrections (:class:`kernels.nonlinear.NewtonCG`; a softening tangent is not
    symmetric): ``info["krylov"] = "gmres"`` and ``info["krylov_switch"]`` the increment. A
    DNS that still diverges before its peak runs again with GMRES from the start
    (``info["krylov"] = "gmres"`` alone).

    Returns outputs (:class:`homog.failure.FailureMetrics`: ``toughness``, ``peak_stress``,
    ``strain_at_peak``, ``failure_strain`` (NaN if the run never failed), ``initial_stiffness``,
    ``failed`` and ``peaked`` (1.0 or 0.0), its text fields (``measure``,
    ``failure_mode``) going to ``info``; and ``rve_volume_fraction``, the inclusion fraction
    of the voxel image), arrays ``strain`` and ``stress`` (``(n + 1, 6)`` Mandel; plus ``labels``
    when ``store.microstructure``) and timings. ``spec["threads"]`` (default 1) caps the
    FFT, BLAS and numba threads of the sample.

    With ``replicates`` = n > 1 the point is labelled on n RVE realizations (the sample's seed,
    then :func:`~homog.database.config.replicate_seed` of it): every output is their mean,
    ``<output>_sd`` their sample standard deviation, ``failed`` is 1.0 only when every
    realization failed (so toughness is censored otherwise), ``peaked`` likewise, and
    ``failed_fraction`` the share that failed; the curves of realization r ≥ 1 are the arrays
    ``strain_r``, ``stress_r``.
    """
    return _label(spec, full_field=spec["rom"].get("labeller", "sca") == "dns")


def _label(spec: Mapping[str, Any], full_field: bool) -> dict[str, Any]:
    """Outputs of the sample's ``replicates`` RVE realizations (module docstring of
    :func:`simulate`): one realization as it is; several averaged."""
    from kernels.threads import use_threads

    n = int(spec.get("replicates", 1))
    seeds = [int(spec["seed"])] + [replicate_seed(spec["seed"], r) for r in range(1, n)]
    with use_threads(int(spec.get("threads", 1))):
        runs = [_realization(spec, seed, full_field) for seed in seeds]
    outputs, arrays, info = runs[0]
    if n == 1:
        return {"outputs": outputs, "arrays": arrays, "info": info}
    table = {k: np.array([run[0][k] for run in runs]) for k in outputs}
    mean = {k: float(np.mean(v)) for k, v in table.items()}
    flags = ("failed", "peaked")
    mean.update({f"{k}_sd": float(np.std(v, ddof=1)) for k, v in table.items() if k not in flags})
    mean["failed"] = float(np.all(table["failed"] == 1.0))  # censored unless every one failed
    if "peaked" in table:  # the mean peak bounds the material's unless every one peaked
        mean["peaked"] = float(np.all(table["peaked"] == 1.0))
    mean["failed_fraction"] = float(np.mean(table["failed"]))
    for r, run in enumerate(runs[1:], start=1):
        arrays.update({f"{k}_{r}": v for k, v in run[1].items()})
    info = {**info, "replicates": n, "seeds": seeds,
            "timings": {k: sum(run[2]["timings"][k] for run in runs) for k in info["timings"]}}
    return {"outputs": mean, "arrays": arrays, "info": info}


def _realization(spec: Mapping[str, Any], seed: int,
                 full_field: bool) -> tuple[dict, dict, dict]:
    """(outputs, arrays, info) of one RVE realization packed with ``seed``."""
    from homog.failure import PrePeakDivergence, failure_metrics, run_to_failure
    from homog.materials import from_config
    from homog.sca.model import build_rom

    t0 = time.perf_counter()
    generator, arguments = generator_arguments(spec["microstructure"])
    ms = generator(**arguments, seed=seed).voxelize(tuple(spec["microstructure"]["shape"]))
    t1 = time.perf_counter()
    materials = from_config({"phases": spec["materials"]})
    path, drop = loading_path(spec["loading"]), spec["failure"]["drop"]
    rerun = False
    if full_field:
        clusters, t2 = 0, time.perf_counter()
        try:
            response = run_to_failure(ms, path, drop=drop, materials=materials)
        except PrePeakDivergence:
            # diverged before the peak even after switching to GMRES at the stalled increment
            # (doe-000041 of the example, docs/database.md): GMRES from the start takes
            # another path through it; a second failure is the sample's error
            rerun = True
            response = run_to_failure(ms, path, drop=drop, materials=materials, krylov="gmres")
    else:
        counts = {int(k): int(v) for k, v in spec["rom"]["clusters"].items()}
        adaptive = spec["rom"].get("adaptive", False)
        if isinstance(adaptive, dict):
            adaptive = {int(k): int(v) for k, v in adaptive.items()}
        probe = spec["rom"].get("probe")
        if probe is not None:  # a short start of the sample's own path (build_rom's probe)
            probe = loading_path({**spec["loading"], "max_strain": probe["strain"],
                                  "steps": probe["steps"]})
        rom = build_rom(ms, materials, counts, seed=seed,
                        adaptive=adaptive if adaptive is not False else None,
                        discretization=spec["rom"].get("discretization", "willot"),
                        probe=probe)
        clusters, t2 = int(rom.K), time.perf_counter()
        response = run_to_failure(rom, path, drop=drop, scs=spec["rom"]["scs"])
    t3 = time.perf_counter()
    metrics = failure_metrics(response, drop=drop).to_dict()
    notes = {k: v for k, v in metrics.items() if k == "measure" or isinstance(v, str)}
    outputs = {k: float(v) for k, v in metrics.items() if k not in notes and k != "drop"}
    outputs["rve_volume_fraction"] = float(np.mean(ms.labels > 0))
    arrays = {"strain": response.strain, "stress": response.stress}
    if spec["store"]["microstructure"]:
        arrays["labels"] = ms.labels.astype(np.uint8 if ms.labels.max() < 256 else np.int32)
    switch = response.info.get("krylov_switch")  # the DNS's Newton-CG gave way to GMRES
    krylov = ({"krylov": "gmres"} if rerun else
              {"krylov": "gmres", "krylov_switch": int(switch)} if switch else {})
    info = {"increments": int(response.nsteps), "clusters": clusters, **krylov,
            **notes, "stopped": response.info.get("stopped", ""),
            "timings": {"rve_s": t1 - t0, "offline_s": t2 - t1, "online_s": t3 - t2}}
    return outputs, arrays, info


def execute(labeller: Labeller, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``labeller`` on ``spec``; a record for the store, never an exception.

    Record keys: ``id``, ``status`` ("complete" or "failed"), ``outputs``, ``arrays``,
    ``info`` (complete) or ``error`` and ``traceback`` (failed), ``elapsed_s`` (seconds in
    the labeller) and ``worker`` ("host:pid").
    """
    start = time.perf_counter()
    try:
        result = labeller(spec)
        record = {"status": "complete", **_checked(result)}
    except Exception as exc:  # recorded in the store, with its traceback
        record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=20)}
    record["id"] = spec["id"]
    record["elapsed_s"] = time.perf_counter() - start
    record["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def _checked(result: Any) -> dict[str, Any]:
    """The labeller's result with outputs as floats and arrays as numpy arrays."""
    if not isinstance(result, Mapping) or not isinstance(result.get("outputs"), Mapping):
        raise TypeError("a labeller must return a mapping with an 'outputs' mapping of scalars, "
                        f"got {type(result).__name__}")
    outputs = {}
    for name, value in result["outputs"].items():
        if name in RESERVED or "." in name:
            raise ValueError(f"output name {name!r} is reserved or dotted; rename it")
        outputs[str(name)] = float(value)
    arrays = {str(k): np.asarray(v) for k, v in (result.get("arrays") or {}).items()}
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise TypeError(f"array {name!r} has dtype {array.dtype}; store numbers only")
    return {"outputs": outputs, "arrays": arrays, "info": dict(result.get("info") or {})}
