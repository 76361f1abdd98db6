"""Wording shared by the messages of the API and the command line."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """'1 increment', '2 increments': ``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
