"""Small pieces of input handling every service's schemas share."""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BeforeValidator, field_validator

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


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: object) -> object:
    # pydantic reads a number as a Unix time (`?from=1.5e9` would be a date in 2017): a date
    # given as text must be written as one.
    if isinstance(value, (int, float)) or (isinstance(value, str) and not _ISO_DATE.fullmatch(value)):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


# A calendar day written YYYY-MM-DD, and nothing else (as the OpenAPI `format: date` says).
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})")


def _iso_datetime_text(value: object) -> object:
    # As for dates: pydantic would read `?from=1795928911` as a Unix time. In a URL a `+` is a
    # space, so an offset like +01:00 must be sent as %2B01:00 (or the time given in Z).
    if isinstance(value, (int, float)) or (isinstance(value, str) and not _ISO_DATETIME.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date-time with its UTC offset, as 2026-12-01T09:30:00Z "
                         "(an offset's + written %2B in a URL)")
    return value


# A moment written as RFC 3339 / ISO 8601 text with its offset (`format: date-time`), nothing else.
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime_text)]
