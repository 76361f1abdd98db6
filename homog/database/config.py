"""The database configuration (TOML): what varies, what is fixed, how many samples.

``load_config(path_or_dict) -> DatabaseConfig`` reads and validates the whole configuration
before any work starts: every error names the key, what is allowed and what to change;
this includes packing and voxelizing the RVE of the design centre once, so that generator
arguments, the grid and the cluster counts are known to work. The format is documented with
a complete example in ``docs/database.md``; in short::

    samples = 64                      # design points (a power of 2 suits Sobol)
    seed = 0                          # seeds the design, the RVE packings and the k-means

    [design]
    method = "sobol"                  # "sobol" (scrambled), "lhs", or "table" (+ table = "x.csv")

    [variables]                       # dotted path = [low, high] | {low, high, scale} | {choices}
    "microstructure.volume_fraction" = [0.2, 0.4]
    "materials.matrix.hardening.sigma_y0" = { low = 0.3, high = 0.9, scale = "log" }

    [microstructure]                  # rve_gen generator, its fixed arguments, the voxel grid
    generator = "circles"
    radius = 0.08
    shape = [64, 64]

    [materials.matrix]                # one homog.materials table per phase (name or label)
    ...
    [rom]
    clusters = { matrix = 8, phase1 = 4 }
    [loading]
    type = "uniaxial"
    max_strain = 0.2
    steps = 100
    [failure]
    drop = 0.5

The design follows the data-driven framework of Bessa et al., CMAME 320 (2017) 633–667:
design of experiments over microstructure and material descriptors, one RVE simulation per
design point, a database of responses to learn from.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import inspect
import json
import os
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rve_gen
from homog import loading as load_paths
from homog.database.variables import (
    Variable,
    check_path,
    set_path,
    unit_points,
    variable_from_config,
)
from homog.loading import LoadPath
from homog.materials import material_from_config
from homog.materials._validation import positive
from homog.sca.hierarchy import adaptive_phases
from rve_gen.microstructure import default_phase_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: rve_gen generators by name, with the dimension of the RVE they make (None: ``ndim`` arg).
GENERATORS: dict[str, tuple[Callable[..., Any], int | None]] = {
    "circles": (rve_gen.circles, 2),
    "ellipses": (rve_gen.ellipses, 2),
    "spheres": (rve_gen.spheres, 3),
    "ellipsoids": (rve_gen.ellipsoids, 3),
    "fibers": (rve_gen.fibers, 3),
    "long_fibers": (rve_gen.long_fibers, 3),
    "voronoi": (rve_gen.voronoi, None),
}
#: Designs of experiments (see :mod:`homog.database.design`).
DESIGNS = ("sobol", "lhs", "table")
#: Load types of the ``[loading]`` table.
LOAD_TYPES = ("uniaxial", "uniaxial_strain", "shear", "biaxial")
SECTIONS = ("samples", "seed", "replicates", "design", "variables", "microstructure",
            "materials", "rom", "loading", "failure", "store")
_LOADING_KEYS = ("type", "max_strain", "steps", "axis", "ratio")
_ROM_KEYS = ("clusters", "scs", "adaptive", "discretization", "labeller", "probe")
_FAILURE_KEYS = ("drop",)
_STORE_KEYS = ("microstructure",)
_DESIGN_KEYS = ("method", "table", "rows")
#: Most samples of one base design: the driver holds every sample's specification in memory.
MAX_SAMPLES = 100_000
#: Most voxels of one RVE (512³): every sample solves six elastic FFT problems on its grid and
#: keeps a (6, 6, voxels) strain concentration, about 300 bytes per voxel.
MAX_VOXELS = 512**3


@dataclass(frozen=True)
class DatabaseConfig:
    """A validated database configuration.

    ``data``: the normalized configuration (plain JSON types; a ``table`` design holds its rows
    under ``design.rows``), the form the store records and compares on resume.
    ``variables``: the design variables in column order; ``phases``: phase key -> label;
    ``ndim``: dimension of the RVEs.
    """

    data: dict[str, Any]
    variables: tuple[Variable, ...]
    phases: dict[str, int]
    ndim: int

    @property
    def samples(self) -> int:
        """Number of design points of the base design."""
        return int(self.data["samples"])

    @property
    def seed(self) -> int:
        """The master seed."""
        return int(self.data["seed"])

    @property
    def replicates(self) -> int:
        """RVE realizations per design point (their outputs averaged; default 1)."""
        return int(self.data.get("replicates", 1))

    @property
    def method(self) -> str:
        """The design of experiments: "sobol", "lhs" or "table"."""
        return str(self.data["design"]["method"])

    @property
    def names(self) -> list[str]:
        """Paths of the design variables, in column order."""
        return [v.path for v in self.variables]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the normalized configuration (what the store compares on resume)."""
        return hashlib.sha256(canonical_json(self.data).encode()).hexdigest()

    def table_points(self) -> np.ndarray:
        """Unit coordinates ``(samples, d)`` of a ``table`` design's rows."""
        return unit_points(self.variables, self.data["design"]["rows"])

    def inputs_at(self, point: Sequence[float]) -> dict[str, Any]:
        """Design-variable values (path -> value) at a unit point ``(d,)``."""
        return {v.path: v.from_unit(u) for v, u in zip(self.variables, point, strict=True)}

    def sample_spec(self, point: Sequence[float], origin: str, index: int) -> dict[str, Any]:
        """Everything one simulation needs, as plain JSON types (sent to a worker).

        Keys: ``id`` (``"{origin}-{index:06d}"``), ``origin``, ``index``, ``point`` (unit
        coordinates), ``inputs`` (path -> value), ``seed`` (from the master seed, origin and
        index), and the resolved ``microstructure``, ``materials``, ``rom``, ``loading``,
        ``failure`` and ``store`` tables.
        """
        inputs = self.inputs_at(point)
        tree = self._resolved(inputs)
        seed = sample_seed(self.seed, origin, index)
        return {"id": sample_id(origin, index), "origin": origin, "index": int(index),
                "point": [float(u) for u in point], "inputs": inputs, "seed": seed,
                "replicates": self.replicates, **tree}

    def _resolved(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        tree = {key: copy.deepcopy(self.data[key])
                for key in ("microstructure", "materials", "rom", "loading", "failure", "store")}
        for path, value in inputs.items():
            set_path(tree, path.split("."), value, path)
        tree["materials"] = {str(self.phases[key]): table
                             for key, table in tree["materials"].items()}
        tree["rom"]["clusters"] = {str(self.phases[key]): count
                                   for key, count in tree["rom"]["clusters"].items()}
        if isinstance(tree["rom"].get("adaptive"), dict):
            tree["rom"]["adaptive"] = {str(self.phases[key]): count
                                       for key, count in tree["rom"]["adaptive"].items()}
        return tree


def load_config(config: str | os.PathLike | Mapping[str, Any]) -> DatabaseConfig:
    """Read and validate a database configuration (TOML file or parsed dict).

    A ``table`` design's CSV is read relative to the TOML file's folder (or the working
    folder for a dict). Raises ValueError naming the first problem found. Besides the keys,
    the RVE of the design centre is packed and voxelized (:func:`check_rve`).
    """
    folder = Path.cwd()
    if isinstance(config, str | os.PathLike):
        path = Path(config)
        try:
            with path.open("rb") as file:
                raw = tomllib.load(file)
        except FileNotFoundError:
            raise ValueError(f"database configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not valid TOML: {err}") from err
        folder = path.resolve().parent
    elif isinstance(config, Mapping):
        raw = copy.deepcopy(dict(config))
    else:
        raise ValueError(f"config must be a TOML path or a dict, got {type(config).__name__}")
    config = _validate(raw, folder)
    check_rve(config)
    return config


def config_from_data(data: Mapping[str, Any],
                     variable_order: Sequence[str] | None = None) -> DatabaseConfig:
    """The configuration a store recorded (its normalized ``data``), validated again (its RVE
    was checked when the store was created). ``variable_order``: the paths of the design
    variables in column order, where the stored ``data`` may have lost it (JSON objects with
    sorted keys)."""
    data = copy.deepcopy(dict(data))
    if variable_order is not None:
        variables = data.get("variables", {})
        if sorted(variable_order) != sorted(variables):
            raise ValueError(f"the recorded variable order {list(variable_order)} does not "
                             f"match the recorded variables {sorted(variables)}")
        data["variables"] = {path: variables[path] for path in variable_order}
    return _validate(data, Path.cwd())


def canonical_json(data: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces) of ``data``."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def sample_id(origin: str, index: int) -> str:
    """Group name of a sample: ``"{origin}-{index:06d}"``, e.g. ``"doe-000003"``."""
    return f"{origin}-{int(index):06d}"


def sample_origin(name: str) -> str:
    """The origin of a sample from its group name (:func:`sample_id`): ``"doe-000003"`` ->
    ``"doe"``."""
    return name.rsplit("-", 1)[0]


def sample_seed(seed: int, origin: str, index: int) -> int:
    """Seed of one sample's RVE packing and k-means, from the master seed and its identity."""
    return _derived_seed(int(seed), zlib.crc32(origin.encode()), int(index))


def replicate_seed(seed: int, replicate: int) -> int:
    """Seed of a sample's replicate ≥ 1 (its own RVE packing and k-means), from the sample's."""
    return _derived_seed(int(seed), int(replicate))


def _derived_seed(*entropy: int) -> int:
    """A 32-bit seed from integers, through numpy's SeedSequence."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1, dtype=np.uint32)[0])


def loading_path(table: Mapping[str, Any]) -> LoadPath:
    """The monotonic load path of a resolved ``[loading]`` table, up to ``max_strain``."""
    kind, strain, steps = table["type"], table["max_strain"], table["steps"]
    if kind not in LOAD_TYPES:
        raise ValueError(f"loading.type = {kind!r}; allowed: {list(LOAD_TYPES)}")
    if isinstance(strain, int | float) and not isinstance(strain, bool):
        if strain == 0:
            raise ValueError("loading.max_strain = 0 loads nothing: give the largest strain of "
                             "the path (negative for compression)")
        load_paths.check_strain(strain, "loading.max_strain")
    if kind == "uniaxial":
        return load_paths.uniaxial_stress(strain, steps, table.get("axis", 0))
    if kind == "uniaxial_strain":
        return load_paths.uniaxial_strain(strain, steps, table.get("axis", 0))
    if kind == "shear":
        return load_paths.pure_shear(strain, steps)
    return load_paths.biaxial(strain, table.get("ratio", 1.0) * strain, steps)


def generator_arguments(table: Mapping[str, Any]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The rve_gen generator of a resolved ``[microstructure]`` table and its arguments."""
    function, _ = GENERATORS[table["generator"]]
    return function, {k: v for k, v in table.items() if k not in ("generator", "shape")}


# --------------------------------------------------------------------------- validation


def _validate(raw: dict[str, Any], folder: Path) -> DatabaseConfig:
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in the database configuration; allowed: "
                         f"{list(SECTIONS)}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r} must be a non-negative integer")
    replicates = raw.get("replicates", 1)
    _positive_int(replicates, "replicates")
    variables = _variables(raw.get("variables"))
    design = _design(raw.get("design", {}), variables, raw.get("samples"), folder)
    samples = len(design["rows"]) if design["method"] == "table" else raw.get("samples")
    _positive_int(samples, "samples")
    if samples > MAX_SAMPLES:
        raise ValueError(f"samples = {samples} is more than one store runs (at most "
                         f"{MAX_SAMPLES}: the driver keeps every sample's specification in "
                         "memory); split the study over several stores (other seeds), or grow "
                         "a Sobol design step by step")
    micro, ndim, nphases = _microstructure(raw.get("microstructure"))
    phases = _phase_keys(micro.get("phase_names"), nphases)
    materials = _keyed_by_phase(raw.get("materials"), phases, "materials",
                                'a [materials.matrix] table with model = "von_mises", ...')
    rom = _table(raw.get("rom"), "rom", _ROM_KEYS)
    if "clusters" not in rom:
        raise ValueError("[rom] needs clusters = { <phase> = <count>, ... }, e.g. "
                         "clusters = { matrix = 8, phase1 = 4 }")
    clusters = _keyed_by_phase(rom["clusters"], phases, "rom.clusters", "matrix = 8")
    for key, count in clusters.items():
        _positive_int(count, f"rom.clusters.{key}")
    if "adaptive" in rom:  # absent: static clusters (not recorded, so older stores resume)
        _adaptive(rom["adaptive"], phases, clusters)
    # absent: Willot's operator, the one stores had before build_rom's default became
    # "spectral" (not recorded, so older stores resume with the model they were built with)
    if rom.get("discretization", "willot") not in ("willot", "spectral", "auto"):
        raise ValueError(f"rom.discretization = {rom['discretization']!r}; allowed: 'spectral' "
                         "(the continuous Green operator), 'willot', 'auto' (build_rom's "
                         "choice by the phases' contrast)")
    # absent: the ROM labels the samples; "dns": the full-field solver, on the same RVEs, to
    # check a ROM store's labels (not recorded when absent, so older stores resume)
    if rom.get("labeller", "sca") not in ("sca", "dns"):
        raise ValueError(f"rom.labeller = {rom['labeller']!r}; allowed: 'sca' (the reduced-order "
                         "model, the default), 'dns' (the full-field FFT solver)")
    if "probe" in rom:  # absent: no plastic probe (not recorded, so older stores resume)
        loading_table = raw.get("loading")
        _probe(rom["probe"], loading_table.get("max_strain")
               if isinstance(loading_table, dict) else None)
    rom.setdefault("scs", "regression")
    if rom["scs"] not in ("regression", "projection"):
        raise ValueError(f"rom.scs = {rom['scs']!r}; allowed: 'regression', 'projection'")
    load = _table(raw.get("loading"), "loading", _LOADING_KEYS)
    load.setdefault("type", "uniaxial")
    load.setdefault("steps", 100)
    if "max_strain" not in load:
        raise ValueError("[loading] needs max_strain: the largest strain of the path (the run "
                         "stops earlier, at failure)")
    failure = _table(raw.get("failure", {}), "failure", _FAILURE_KEYS)
    failure.setdefault("drop", 0.5)
    drop = failure["drop"]
    if isinstance(drop, bool) or not isinstance(drop, int | float) or not 0 < drop < 1:
        raise ValueError(f"failure.drop = {drop!r} must lie in (0, 1): the run stops when the "
                         "stress falls below drop × peak")
    store = _table(raw.get("store", {}), "store", _STORE_KEYS)
    store.setdefault("microstructure", False)
    if not isinstance(store["microstructure"], bool):
        raise ValueError("store.microstructure must be true or false (keep the label images)")
    data = {"samples": int(samples), "seed": seed, "design": design,
            # absent: one realization (not recorded, so older stores resume)
            **({"replicates": int(replicates)} if "replicates" in raw else {}),
            "variables": {v.path: v.to_config() for v in variables}, "microstructure": micro,
            "materials": materials, "rom": rom, "loading": load, "failure": failure,
            "store": store}
    config = DatabaseConfig(data, tuple(variables), phases, ndim)
    for v in variables:
        _check_target(v, config)
    for u in (0.0, 0.5, 1.0):  # the corners and centre of the design box
        _check_sample(config, np.full(len(variables), u))
    return config


def _variables(table: Any) -> list[Variable]:
    if not isinstance(table, dict) or not table:
        raise ValueError("the configuration needs a [variables] table with at least one design "
                         'variable, e.g. "microstructure.volume_fraction" = [0.2, 0.4]')
    return [variable_from_config(path, spec) for path, spec in table.items()]


def _design(table: Any, variables: list[Variable], samples: Any, folder: Path) -> dict:
    table = _table(table, "design", _DESIGN_KEYS)
    method = table.get("method", "sobol")
    if method not in DESIGNS:
        raise ValueError(f"design.method = {method!r} is not a design of experiments; allowed: "
                         f"{list(DESIGNS)}")
    if method != "table":
        if "table" in table or "rows" in table:
            raise ValueError(f"design.table and design.rows are only read with method = "
                             f"'table' (got {method!r})")
        return {"method": method}
    if ("table" in table) == ("rows" in table):
        raise ValueError("design.method = 'table' needs either table = \"points.csv\" (one "
                         "column per variable path, one row per sample) or rows = [{ ... }]")
    if "table" in table:
        rows = _read_table(folder / str(table["table"]), variables)
    else:
        rows = _inline_rows(table["rows"], variables)
    if samples is not None and samples != len(rows):
        raise ValueError(f"samples = {samples!r} but the design table has {len(rows)} rows; "
                         "leave samples out for a table design")
    return {"method": "table", "rows": rows}


def _read_table(path: Path, variables: list[Variable]) -> list[dict[str, Any]]:
    try:
        with path.open(newline="") as file:
            reader = csv.DictReader(file)
            records = list(reader)
            columns = reader.fieldnames or []
    except FileNotFoundError:
        raise ValueError(f"design table {path} does not exist") from None
    names = [v.path for v in variables]
    missing, extra = sorted(set(names) - set(columns)), sorted(set(columns) - set(names))
    if missing or extra:
        raise ValueError(f"design table {path}: columns must be the variable paths {names}; "
                         f"missing {missing}, unknown {extra}")
    if not records:
        raise ValueError(f"design table {path} has no rows")
    return [{v.path: _cell(v, (record[v.path] or "").strip(), path, k)
             for v in variables} for k, record in enumerate(records)]


def _inline_rows(rows: Any, variables: list[Variable]) -> list[dict[str, Any]]:
    names = [v.path for v in variables]
    if not isinstance(rows, list) or not rows:
        raise ValueError("design.rows must be a non-empty list of { <variable path> = value }")
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or sorted(row) != sorted(names):
            raise ValueError(f"design.rows[{k}] must give exactly the variables {names}, got "
                             f"{row!r}")
        for v in variables:
            try:
                v.to_unit(row[v.path])
            except ValueError as err:
                raise ValueError(f"design.rows[{k}]: {err}") from None
    return [dict(row) for row in rows]


def _cell(v: Variable, text: str, path: Path, k: int) -> Any:
    where = f"design table {path}, row {k + 1}"
    if v.discrete:
        for choice in v.choices:
            if str(choice) == text or (not isinstance(choice, str) and _is_number(text)
                                       and float(choice) == float(text)):
                return choice
        raise ValueError(f"{where}: {v.path} = {text!r} is not one of the choices "
                         f"{list(v.choices)}")
    if not _is_number(text):
        raise ValueError(f"{where}: {v.path} = {text!r} is not a number")
    try:
        v.to_unit(float(text))
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    return float(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _microstructure(table: Any) -> tuple[dict[str, Any], int, int]:
    if not isinstance(table, dict):
        raise ValueError("the configuration needs a [microstructure] table with generator = "
                         f"one of {sorted(GENERATORS)} and shape = [n1, n2(, n3)]")
    table = copy.deepcopy(table)
    name = table.get("generator")
    if name not in GENERATORS:
        raise ValueError(f"microstructure.generator = {name!r}; allowed: {sorted(GENERATORS)}")
    function, ndim = GENERATORS[name]
    allowed = set(inspect.signature(function).parameters) - {"seed"}
    unknown = sorted(set(table) - allowed - {"generator", "shape"})
    if unknown:
        raise ValueError(f"microstructure: unknown key(s) {unknown} for generator {name!r}; "
                         f"allowed: {sorted(allowed | {'generator', 'shape'})} (the seed "
                         "comes from the database seed)")
    if ndim is None:
        ndim = table.get("ndim", 3)
    shape = table.get("shape")
    if (not isinstance(shape, list) or len(shape) != ndim
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 4
                       for n in shape)):
        raise ValueError(f"microstructure.shape = {shape!r} must be {ndim} integers >= 4 (the "
                         f"voxel grid of the {ndim}D RVEs generator {name!r} makes)")
    voxels = int(np.prod(shape))
    if voxels > MAX_VOXELS:
        raise ValueError(f"microstructure.shape = {shape} has {voxels} voxels, more than a "
                         f"database sample takes (at most {MAX_VOXELS} = 512³: each sample "
                         "solves six FFT problems and keeps about 300 bytes per voxel, "
                         f"{voxels * 300 / 2**30:.0f} GiB here); coarsen the grid")
    if name == "voronoi":
        nphases = len(table.get("phase_fractions") or [1.0])
    else:
        nphases = 1 + len(np.atleast_1d(table.get("volume_fraction", 0.0)))
    return table, ndim, nphases


def _phase_keys(names: Any, nphases: int) -> dict[str, int]:
    if names is None:
        names = list(default_phase_names(nphases))
    if not isinstance(names, list) or len(names) != nphases:
        raise ValueError(f"microstructure.phase_names = {names!r} must list {nphases} names, "
                         "the matrix first")
    keys = {str(label): label for label in range(nphases)}
    keys.update({str(name): label for label, name in enumerate(names)})
    return keys


def _keyed_by_phase(table: Any, phases: dict[str, int], where: str, example: str) -> dict:
    if not isinstance(table, dict) or not table:
        raise ValueError(f"the configuration needs {where} for every phase, e.g. {example}")
    seen: dict[int, str] = {}
    for key in table:
        if key not in phases:
            raise ValueError(f"{where}.{key}: no phase {key!r}; phases are "
                             f"{_phase_list(phases)} (names from microstructure.phase_names)")
        label = phases[key]
        if label in seen:
            raise ValueError(f"{where}: phase {label} is given twice ({seen[label]!r} and "
                             f"{key!r})")
        seen[label] = key
    missing = sorted(set(phases.values()) - set(seen))
    if missing:
        names = _phase_names(phases)
        raise ValueError(f"{where}: missing for phase(s) {[names.get(m, m) for m in missing]} "
                         f"(labels {missing}); every phase of the microstructure needs one")
    return copy.deepcopy(table)


def _phase_names(phases: dict[str, int]) -> dict[int, str]:
    """label -> name of the phases that have a name (keys of ``phases`` other than digits)."""
    return {v: k for k, v in phases.items() if not k.isdigit()}


def _phase_list(phases: dict[str, int]) -> str:
    return ", ".join(f"{k!r} (label {v})" for k, v in phases.items() if not k.isdigit())


def _adaptive(value: Any, phases: dict[str, int], clusters: dict[str, Any]) -> None:
    """Check ``rom.adaptive``: false, "auto", or fine clusters per phase (above its count)."""
    if value is False or value == "auto":
        return
    if not isinstance(value, dict) or not value:
        raise ValueError(f"rom.adaptive = {value!r}; allowed: false (static clusters, the "
                         "default), \"auto\" (the phases that can soften, 8 fine clusters per "
                         "cluster) or { <phase> = <fine clusters>, ... }")
    counts = {phases[key]: count for key, count in clusters.items()}
    for key, count in value.items():
        if key not in phases:
            raise ValueError(f"rom.adaptive.{key}: no phase {key!r}; phases are "
                             f"{_phase_list(phases)}")
        _positive_int(count, f"rom.adaptive.{key}")
        if count <= counts[phases[key]]:
            raise ValueError(f"rom.adaptive.{key} = {count} must exceed the phase's "
                             f"{counts[phases[key]]} initial clusters (rom.clusters): the fine "
                             "clusters the adaptive model splits into")


def _probe(value: Any, max_strain: Any) -> None:
    """Check ``rom.probe``: { strain = <probe's largest strain>, steps = <increments> }."""
    table = _table(value, "rom.probe", ("strain", "steps"))
    if "strain" not in table or "steps" not in table:
        raise ValueError("rom.probe needs strain and steps, e.g. probe = { strain = 0.01, "
                         "steps = 6 }: a short full-field solve along the sample's load, "
                         "to about the strain where damage starts (docs/adaptive.md)")
    strain = positive(table["strain"], "rom.probe.strain")
    if isinstance(max_strain, int | float) and strain >= max_strain:
        raise ValueError(f"rom.probe.strain = {strain} must be below loading.max_strain = "
                         f"{max_strain}: the probe is a short start of the sample's path")
    _positive_int(table["steps"], "rom.probe.steps")


def _check_target(v: Variable, config: DatabaseConfig) -> None:
    """Reject a variable that names nothing the simulation reads."""
    parts = check_path(v.path)
    root, key = parts[0], parts[1]
    if root == "microstructure":
        micro = config.data["microstructure"]
        allowed = set(inspect.signature(GENERATORS[micro["generator"]][0]).parameters)
        allowed -= {"seed", "phase_names", "ndim"}
        if key not in allowed:
            raise ValueError(f"unknown variable {v.path!r}: generator "
                             f"{micro['generator']!r} takes {sorted(allowed)}")
        if key == "volume_fraction" and not v.discrete and not 0 < v.low < v.high < 1:
            raise ValueError(f"variable {v.path!r}: the range [{v.low}, {v.high}] must lie "
                             "inside (0, 1)")
    elif root == "materials":
        if key not in config.data["materials"]:
            raise ValueError(f"unknown variable {v.path!r}: no [materials.{key}] table; tables "
                             f"are {sorted(config.data['materials'])}")
        if len(parts) < 3:
            raise ValueError(f"unknown variable {v.path!r}: name a parameter of the material, "
                             f"e.g. 'materials.{key}.E'")
    elif key not in _LOADING_KEYS or len(parts) != 2:
        raise ValueError(f"unknown variable {v.path!r}: loading variables are "
                         f"{['loading.' + k for k in _LOADING_KEYS]}")


def check_rve(config: DatabaseConfig) -> None:
    """Check the RVEs of the design before any sample runs.

    Every design point: the expected voxels of each phase (from ``volume_fraction`` or
    ``phase_fractions``) against its cluster count. The first design point: its RVE packed
    and voxelized exactly as sample ``doe-000000`` will (same seed), and each phase's voxels
    counted. Catches what would fail in every sample: generator arguments the generator
    refuses, a grid too coarse for the inclusions, more clusters than a phase has voxels
    (k-means needs one voxel per cluster at least).
    """
    from homog.database.design import design_points

    names = {config.phases[key]: key for key in config.data["rom"]["clusters"]}
    clusters = {config.phases[key]: count
                for key, count in config.data["rom"]["clusters"].items()}
    shape = config.data["microstructure"]["shape"]
    voxels = int(np.prod(shape))
    points = design_points(config)
    varied = any(v.path.split(".")[1] in ("volume_fraction", "phase_fractions")
                 for v in config.variables if v.path.startswith("microstructure."))
    for k, point in enumerate(points if varied else points[:1]):
        micro = config._resolved(config.inputs_at(point))["microstructure"]
        for label, fraction in _expected_fractions(micro).items():
            if label in clusters and clusters[label] > fraction * voxels:
                raise ValueError(
                    f"rom.clusters.{names[label]} = {clusters[label]} but phase "
                    f"{names[label]!r} holds about {fraction * voxels:.0f} of the {voxels} "
                    f"voxels of sample {sample_id('doe', k)} ({_values(config, point)}); "
                    "k-means needs a voxel per cluster at least: lower the count, refine "
                    "microstructure.shape or narrow the range")
    spec = config.sample_spec(points[0], "doe", 0)
    where = f"sample {spec['id']} ({_values(config, points[0])})"
    function, arguments = generator_arguments(spec["microstructure"])
    try:
        labels = function(**arguments, seed=spec["seed"]).voxelize(tuple(shape)).labels
    except (ValueError, TypeError, ArithmeticError) as err:
        raise ValueError(f"microstructure: generator {spec['microstructure']['generator']!r} "
                         f"cannot make the RVE of {where}: {err}; fix the [microstructure] "
                         "arguments or the variable ranges") from None
    counts = np.bincount(np.asarray(labels).ravel(), minlength=max(clusters) + 1)
    for label, count in clusters.items():
        if counts[label] < count:
            raise ValueError(
                f"rom.clusters.{names[label]} = {count} but phase {names[label]!r} (label "
                f"{label}) has {counts[label]} voxels in the RVE of {where} on the {shape} "
                "grid; k-means needs a voxel per cluster at least: lower the count or refine "
                "microstructure.shape (inclusions smaller than a voxel vanish)")


def _expected_fractions(micro: Mapping[str, Any]) -> dict[int, float]:
    """Phase label -> expected volume fraction of a resolved ``[microstructure]`` table, from
    its ``volume_fraction`` (inclusions) or ``phase_fractions`` (Voronoi); {} if neither."""
    try:
        if "phase_fractions" in micro:
            fractions = np.atleast_1d(np.asarray(micro["phase_fractions"], dtype=float))
            return {k: float(f) / float(fractions.sum()) for k, f in enumerate(fractions)}
        if "volume_fraction" in micro:
            fractions = np.atleast_1d(np.asarray(micro["volume_fraction"], dtype=float))
            return {0: 1.0 - float(fractions.sum()),
                    **{k + 1: float(f) for k, f in enumerate(fractions)}}
    except (ValueError, TypeError):  # not numbers: the generator itself says so below
        pass
    return {}


def _values(config: DatabaseConfig, point: np.ndarray) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in config.inputs_at(point).items())


def _check_sample(config: DatabaseConfig, point: np.ndarray) -> None:
    """Build what a sample at ``point`` would use, without packing or solving anything."""
    values = _values(config, point)
    try:
        tree = config._resolved(config.inputs_at(point))
        materials = {int(label): material_from_config(table, f"materials (phase {label})")
                     for label, table in tree["materials"].items()}
        fine = tree["rom"].get("adaptive")
        if isinstance(fine, dict):  # build_rom refuses to refine a phase without eqps
            inelastic, names = adaptive_phases(materials), _phase_names(config.phases)
            elastic = [names.get(int(label), int(label)) for label in fine
                       if int(label) not in inelastic]
            if elastic:
                raise ValueError(f"rom.adaptive names {elastic}, whose material has no plastic "
                                 "strain (eqps) to refine on: adapt inelastic phases only")
        loading_path(tree["loading"]).for_dimension(config.ndim)
    except ValueError as err:
        raise ValueError(f"{err} (at the design point {values})") from None
    except (KeyError, TypeError) as err:
        raise ValueError(f"invalid input {err} at the design point {values}") from None


def _table(table: Any, where: str, allowed: Sequence[str]) -> dict[str, Any]:
    if table is None:
        raise ValueError(f"the configuration needs a [{where}] table (keys {list(allowed)})")
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table, got {table!r}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {list(allowed)}")
    return copy.deepcopy(table)


def _positive_int(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"{where} = {value!r} must be a positive integer; TOML reads a number "
                         "with a decimal point or an exponent (64.0, 1e3) as a float: write "
                         "the digits (64, 1000)")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} = {value!r} must be a positive integer")
