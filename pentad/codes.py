"""Standard codes, checked against the standards themselves (pycountry), not hand lists.

ISO 3166-1 alpha-2 countries (upper case), ISO 639-1 languages (lower case), ISO 4217
currencies (upper case). Input is case-folded first; an unknown code fails validation
with the field and the value, which the error handler turns into a 422.
"""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field

from pentad.errors import FieldError, Invalid

COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
LANGUAGES = frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)


def _fold(case: str):  # type: ignore[no-untyped-def]
    def fold(value: object) -> object:
        if isinstance(value, str):
            return value.strip().upper() if case == "upper" else value.strip().lower()
        return value

    return fold


def _member(valid: frozenset[str], what: str):  # type: ignore[no-untyped-def]
    def check(value: str) -> str:
        if value not in valid:
            raise ValueError(f"unknown {what} code {value!r}")
        return value

    return check


# The shape of a specialty code; which codes exist is Segmentation's vocabulary (GET /specialties).
SpecialtyCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,48}$", examples=["orthopaedics"])]

CountryCode = Annotated[str, BeforeValidator(_fold("upper")), Field(examples=["GB"]),
                        AfterValidator(_member(COUNTRIES, "ISO 3166-1 alpha-2 country"))]
LanguageCode = Annotated[str, BeforeValidator(_fold("lower")), Field(examples=["en"]),
                         AfterValidator(_member(LANGUAGES, "ISO 639-1 language"))]
CurrencyCode = Annotated[str, BeforeValidator(_fold("upper")), Field(examples=["EUR"]),
                         AfterValidator(_member(CURRENCIES, "ISO 4217 currency"))]


def currency_param(value: str | None, field: str = "query.currency") -> str | None:
    """A currency given as a query parameter: folded, checked, 422 naming it when unknown."""
    if value is None:
        return None
    if value.strip().upper() not in CURRENCIES:
        raise Invalid("Unknown currency.", errors=[FieldError(field=field, value=value,
                                                              message="unknown ISO 4217 currency code")])
    return value.strip().upper()
