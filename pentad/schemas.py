"""Small pieces of input handling every service's schemas share."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

from pydantic import field_validator

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


def not_null(*fields: str) -> Any:
    """A PATCH validator: these fields may be left out but not set to null (the 422 names each)."""

    def check(cls: type, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value

    return field_validator(*fields, mode="after")(classmethod(check))  # type: ignore[arg-type]
