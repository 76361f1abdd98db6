"""Materials from a TOML table or a dict: ``from_config(path_or_dict) -> {label: Material}``.

Format (one table per phase label; other top-level tables are left to their readers)::

    [phases.0]
    model = "von_mises"
    E = 100.0
    nu = 0.3
    kinematic_modulus = 0.0          # optional
    hardening = { law = "piecewise_linear", eps_p = [0, 0.04, 2.0], sigma_y = [0.5, 0.7, 4.62] }

    [phases.1]
    model = "linear_elastic"
    E = 500.0
    nu = 0.19                        # or: stiffness = [[...6x6 Mandel...]]

    [phases.2]
    model = "von_mises_damage"       # von_mises keys, plus:
    onset = 0.02                     # ε̄p at damage onset
    fracture_energy = 0.05           # G_f (crack band), or softening_strain = s (local)
    # nonlocal_length = 0.05         # ℓ: non-local damage (with softening_strain)
    # over_nonlocal = 1.0            # m ≥ 1 of the over-non-local variable
    softening = "exponential"        # optional, or "linear"
    max_damage = 0.99                # optional

Every error names the phase and the key (``phases.0.hardening.sigma_y0``), the accepted values
and what to change. Each model's :meth:`~homog.materials.base.Material.to_config` writes a table
this function reads back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from homog.materials.base import Material
from homog.materials.damage import VonMisesDamage
from homog.materials.elastic import LinearElastic
from homog.materials.hardening import HARDENING_LAWS, HardeningLaw
from homog.materials.von_mises import VonMises

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Keys accepted by each model (``model`` itself included) and by each hardening law.
MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "linear_elastic": ("model", "E", "nu", "stiffness"),
    "von_mises": ("model", "E", "nu", "hardening", "kinematic_modulus"),
    "von_mises_damage": ("model", "E", "nu", "hardening", "kinematic_modulus", "onset",
                         "fracture_energy", "softening_strain", "softening", "max_damage",
                         "tangent", "nonlocal_length", "over_nonlocal"),
}
LAW_KEYS: dict[str, tuple[str, ...]] = {
    "linear": ("law", "sigma_y0", "H"),
    "piecewise_linear": ("law", "eps_p", "sigma_y"),
    "swift": ("law", "K", "sigma_y0", "eps0", "n"),
    "voce": ("law", "sigma_y0", "Q", "b"),
}
#: Materials by model name.
MODELS: dict[str, type[Material]] = {
    "linear_elastic": LinearElastic,
    "von_mises": VonMises,
    "von_mises_damage": VonMisesDamage,
}


def reference_materials_path() -> Path:
    """Path of the shipped TOML of the reference materials (a von Mises matrix, label 0, with
    piecewise-linear hardening; elastic inclusions, label 1): copy it to start your own."""
    from importlib import resources

    return Path(str(resources.files("homog.data").joinpath("reference_materials.toml")))


def reference_materials() -> dict[int, Material]:
    """The reference materials of homog's examples, ``{0: VonMises, 1: LinearElastic}``
    (:func:`reference_materials_path` is their TOML file)."""
    return from_config(reference_materials_path())


def from_config(config: dict[str, Any] | str | os.PathLike) -> dict[int, Material]:
    """Material of every phase label from a TOML file or an already parsed dict.

    ``config`` holds a ``phases`` table whose keys are non-negative integer labels (TOML keys
    are strings: ``[phases.0]``) and whose values are material tables (module docstring).
    """
    if isinstance(config, str | os.PathLike):
        path = Path(config)
        try:
            with path.open("rb") as file:
                config = tomllib.load(file)
        except FileNotFoundError:
            raise ValueError(f"material configuration file {path} does not exist") from None
        except IsADirectoryError:
            raise ValueError(f"material configuration {path} is a directory: give the TOML "
                             "file") from None
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not valid TOML: {err}") from err
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text (UTF-8) TOML file: give the materials as "
                             "[phases.LABEL] tables (see homog.materials.config)") from None
    if not isinstance(config, dict) or not isinstance(config.get("phases"), dict):
        raise ValueError(
            "material configuration needs a 'phases' table, e.g. [phases.0] model = "
            '"linear_elastic", E = 70e3, nu = 0.3'
        )
    if not config["phases"]:
        raise ValueError("the 'phases' table is empty; give at least one [phases.<label>]")
    return {
        _label(key): material_from_config(table, f"phases.{key}")
        for key, table in config["phases"].items()
    }


def material_from_config(table: dict[str, Any], where: str = "material") -> Material:
    """One material from its table (``model`` plus parameters); ``where`` prefixes errors."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table with a 'model' key, got {table!r}")
    model = table.get("model")
    if model not in MODELS:
        raise ValueError(
            f"{where}.model = {model!r} is not a known model; allowed: {sorted(MODELS)}"
        )
    _check_keys(table, MODEL_KEYS[model], where, f"model {model!r}")
    params = {key: value for key, value in table.items() if key != "model"}
    try:
        if model == "linear_elastic":
            return _linear_elastic(params, where)
        hardening = params.pop("hardening", None)
        if hardening is None:
            raise ValueError(
                "needs a 'hardening' table, e.g. hardening = { law = \"linear\", "
                "sigma_y0 = 250.0, H = 1000.0 }"
            )
        _require(params, ("E", "nu"), f"model {model!r}")
        return MODELS[model](
            hardening=hardening_from_config(hardening, f"{where}.hardening"), **params
        )
    except ValueError as err:
        if str(err).startswith(where):
            raise
        raise ValueError(f"{where}: {err}") from err


def hardening_from_config(table: dict[str, Any], where: str = "hardening") -> HardeningLaw:
    """One isotropic hardening law from its table (``law`` plus parameters)."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table with a 'law' key, got {table!r}")
    law = table.get("law")
    if law not in HARDENING_LAWS:
        raise ValueError(
            f"{where}.law = {law!r} is not a known hardening law; allowed: {sorted(HARDENING_LAWS)}"
        )
    _check_keys(table, LAW_KEYS[law], where, f"hardening law {law!r}")
    params = {key: value for key, value in table.items() if key != "law"}
    try:
        return HARDENING_LAWS[law](**params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err} (law {law!r} takes {list(LAW_KEYS[law][1:])})") from err


def _linear_elastic(params: dict[str, Any], where: str) -> LinearElastic:
    if "stiffness" in params:
        if "E" in params or "nu" in params:
            raise ValueError("give either E and nu (isotropic) or stiffness (6x6 Mandel), not both")
        try:
            return LinearElastic.from_stiffness(params["stiffness"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"stiffness: {err}") from err
    _require(params, ("E", "nu"), "model 'linear_elastic' (or give stiffness = [[...]])")
    return LinearElastic(**params)


def _check_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {what}; allowed: {list(allowed)}")


def _require(params: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    missing = [key for key in keys if key not in params]
    if missing:
        raise ValueError(f"missing key(s) {missing} for {what}")


def _label(key: object) -> int:
    try:
        label = int(key)
    except (TypeError, ValueError):
        label = -1
    if isinstance(key, bool) or label < 0 or str(label) != str(key).strip():
        raise ValueError(
            f"phase label {key!r} must be a non-negative integer matching the microstructure "
            "labels, e.g. [phases.0]"
        )
    return label
