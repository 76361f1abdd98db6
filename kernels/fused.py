"""Fused element-wise evaluation: one expression, evaluated by numexpr on CPU or cupy on GPU.

Hot element-wise work (the Green operator, CG updates) is written once as an arithmetic
expression string over named arrays. On numpy arrays it runs through numexpr, which fuses the
whole expression into one multi-threaded pass without full-size temporaries; on cupy arrays the
same string is evaluated with the arrays' own operators. The expressions are fixed strings of
this package, never user input.
"""

from __future__ import annotations

from typing import Any

import numexpr

from kernels.arraymodule import array_module

_NO_BUILTINS: dict[str, Any] = {"__builtins__": {}}


def evaluate(expression: str, out: Any, **arrays: Any) -> Any:
    """Evaluate ``expression`` over ``arrays`` (and scalars) into ``out`` and return ``out``."""
    xp = array_module(out, *arrays.values())
    if xp.__name__ == "numpy":
        return numexpr.evaluate(expression, local_dict=arrays, out=out, casting="same_kind")
    names = {"real": xp.real, "conj": xp.conj, "sqrt": xp.sqrt, **arrays}
    out[...] = eval(expression, _NO_BUILTINS, names)  # noqa: S307 - internal constant strings
    return out


def set_threads(threads: int) -> None:
    """Number of threads numexpr uses for fused CPU expressions."""
    numexpr.set_num_threads(max(1, int(threads)))
