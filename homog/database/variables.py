"""Design variables: a dotted path into the sample inputs and the range it spans.

A variable maps a coordinate ``u`` of the unit design box ``[0, 1]`` to a physical value:

- continuous, linear scale: ``x = low + u (high − low)``;
- continuous, log scale: ``log x = log low + u (log high − log low)``;
- discrete (``choices``): ``x = choices[floor(u n)]`` for n choices, and back
  ``u = (index + 1/2) / n`` (the centre of the choice's slice of the unit interval).

The unit box is the common currency of the design of experiments, the store and the learning
(Bessa et al., CMAME 320 (2017) 633–667, §2: design of experiments over the normalized space of
microstructure and material descriptors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Sections of the configuration a design variable may point into.
VARIABLE_ROOTS = ("microstructure", "materials", "loading")
SCALES = ("linear", "log")


@dataclass(frozen=True)
class Variable:
    """One design variable.

    ``path``: dotted path of the input it sets, e.g. ``"microstructure.volume_fraction"`` or
    ``"materials.matrix.hardening.sigma_y0"`` (an integer segment indexes a list:
    ``"microstructure.semi_axes.0"``); ``low``/``high``/``scale`` for a continuous variable,
    ``choices`` for a discrete one.
    """

    path: str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    choices: tuple[Any, ...] | None = None

    @property
    def discrete(self) -> bool:
        """True for a variable with ``choices``."""
        return self.choices is not None

    def from_unit(self, u: float) -> Any:
        """Physical value at the unit coordinate ``u`` in [0, 1]."""
        u = min(max(float(u), 0.0), 1.0)
        if self.choices is not None:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.scale == "log":
            return float(math.exp(math.log(self.low) + u * math.log(self.high / self.low)))
        return float(self.low + u * (self.high - self.low))

    def to_unit(self, value: Any) -> float:
        """Unit coordinate of a physical value; ValueError outside the range or choices."""
        if self.choices is not None:
            for k, choice in enumerate(self.choices):
                if _same(choice, value):
                    return (k + 0.5) / len(self.choices)
            raise ValueError(f"{self.path} = {value!r} is not one of the choices "
                             f"{list(self.choices)}")
        x = _number(value, self.path)
        span = 1e-12 * (abs(self.low) + abs(self.high))
        if not self.low - span <= x <= self.high + span:
            raise ValueError(f"{self.path} = {x} is outside its range [{self.low}, {self.high}]")
        if self.scale == "log":
            return min(max(math.log(x / self.low) / math.log(self.high / self.low), 0.0), 1.0)
        return min(max((x - self.low) / (self.high - self.low), 0.0), 1.0)

    def to_config(self) -> Any:
        """The TOML/JSON form :func:`variable_from_config` reads back."""
        if self.choices is not None:
            return {"choices": list(self.choices)}
        if self.scale == "log":
            return {"low": self.low, "high": self.high, "scale": "log"}
        return [self.low, self.high]


def variable_from_config(path: str, spec: Any) -> Variable:
    """A :class:`Variable` from ``[low, high]``, ``{low, high, scale}`` or ``{choices}``."""
    where = f"variables.{path!r}"
    check_path(path)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"low", "high", "scale", "choices"})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; a variable is [low, high], "
                             "{ low = .., high = .., scale = \"log\" } or { choices = [..] }")
        if "choices" in spec:
            if set(spec) != {"choices"}:
                raise ValueError(f"{where}: give either choices or low/high, not both")
            return _discrete(path, spec["choices"], where)
        if "low" not in spec or "high" not in spec:
            raise ValueError(f"{where}: needs both low and high, e.g. {{ low = 0.1, high = 0.4 }}")
        low, high, scale = spec["low"], spec["high"], spec.get("scale", "linear")
    elif isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
        (low, high), scale = spec, "linear"
    else:
        raise ValueError(f"{where} = {spec!r}: a range is [low, high], e.g. [0.1, 0.4], or "
                         "{ choices = [...] } for a discrete variable")
    low, high = _number(low, f"{where} low"), _number(high, f"{where} high")
    if scale not in SCALES:
        raise ValueError(f"{where}: scale = {scale!r}; allowed: {list(SCALES)}")
    if low == high:
        raise ValueError(f"{where}: empty range [{low}, {high}]; a value that does not vary is "
                         "a fixed input: set it in its section instead")
    if low > high:
        raise ValueError(f"{where}: inverted bounds [{low}, {high}]; write [{high}, {low}]")
    if scale == "log" and low <= 0:
        raise ValueError(f"{where}: a log-scale range needs low > 0, got {low}")
    return Variable(path, low, high, scale)


def check_path(path: str) -> list[str]:
    """The segments of a dotted variable path, with a clear error for a malformed one."""
    if not isinstance(path, str):
        raise ValueError(f"variable name {path!r} must be a dotted path string")
    parts = path.split(".")
    if parts[0] not in VARIABLE_ROOTS or len(parts) < 2 or any(not p.strip() for p in parts):
        raise ValueError(f"unknown variable {path!r}: a design variable is a dotted path "
                         f"starting with one of {list(VARIABLE_ROOTS)}, e.g. "
                         "'microstructure.volume_fraction' or 'materials.matrix.E'")
    return parts


def set_path(tree: dict, parts: Sequence[str], value: Any, where: str) -> None:
    """Set ``tree[parts[0]][parts[1]]...`` = ``value``; missing tables are created.

    A segment that meets a list must be an index inside it (the list itself is a fixed input).
    """
    node: Any = tree
    for key, after in zip(parts[:-1], parts[1:]):
        node = _child(node, key, after, where)
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, where)] = value
    else:
        node[last] = value


def unit_points(variables: Sequence[Variable], rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """Unit coordinates ``(n, d)`` of rows of physical values keyed by variable path."""
    return np.array([[v.to_unit(row[v.path]) for v in variables] for row in rows], dtype=float)


def _child(node: Any, key: str, after: str, where: str) -> Any:
    if isinstance(node, list):
        node = node[_index(node, key, where)]
    elif key not in node:
        if after.isdigit():
            raise ValueError(f"unknown variable {where!r}: {key!r} must be given as a fixed "
                             "list for its index to vary")
        node[key] = {}
        node = node[key]
    else:
        node = node[key]
    if not isinstance(node, dict | list):
        raise ValueError(f"unknown variable {where!r}: {key!r} is a value, not a table")
    return node


def _index(node: list, key: str, where: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise ValueError(f"unknown variable {where!r}: {key!r} is not an index of the list "
                         f"{node!r} (0..{len(node) - 1})")
    return int(key)


def _discrete(path: str, choices: Any, where: str) -> Variable:
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"{where}: choices must be a non-empty list, got {choices!r}")
    if len(choices) == 1:
        raise ValueError(f"{where}: one choice is an empty range; set the fixed input instead")
    for k, choice in enumerate(choices):
        if any(_same(choice, other) for other in choices[:k]):
            raise ValueError(f"{where}: choice {choice!r} is listed twice")
        if isinstance(choice, dict | list):
            raise ValueError(f"{where}: choices must be numbers or strings, got {choice!r}")
    return Variable(path, choices=tuple(choices))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{where} = {value!r} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"{where} = {value} must be finite")
    return float(value)
