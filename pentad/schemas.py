"""Small pieces of input handling every service's schemas share."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def unique(values: list[T] | None) -> list[T] | None:
    """The list without repeats, first occurrence kept (lists of codes are sets with an order)."""
    if values is None:
        return None
    seen: set[T] = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out
