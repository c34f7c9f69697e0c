"""Standard codes, checked against the standards themselves (pycountry), not hand lists.

ISO 3166-1 alpha-2 countries (upper case), ISO 639-1 languages (lower case), ISO 4217
currencies (upper case). Input is case-folded first; an unknown code fails validation
with the field and the value, which the error handler turns into a 422, with a
``suggestion`` when the value is a well-known near miss (``UK`` for ``GB``, a name, an
alpha-3 code). The same types serve bodies and query filters, so both are checked alike.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Collection
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

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


# Codes people reach for that the standards spell otherwise.
_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR", "EN": "GB"}
_LANGUAGE_ALIASES = {"jp": "ja", "cz": "cs", "dk": "da", "se": "sv", "gr": "el", "ee": "et", "si": "sl",
                     "ua": "uk", "cn": "zh", "kr": "ko", "il": "he", "ir": "fa", "gb": "en", "us": "en",
                     "vn": "vi", "at": "de", "br": "pt", "mx": "es"}
_CURRENCY_ALIASES = {"UKP": "GBP", "STG": "GBP", "RMB": "CNY", "EURO": "EUR", "NIS": "ILS"}
_LOOKUP_MAX = 60  # characters: a longer value is no near miss worth a lookup


@functools.cache
def _index(database: Any, attribute: str) -> dict[str, str]:
    """Every name and code of ``database``'s entries, lower-cased, to the entry's ``attribute``:
    built once, so a suggestion costs a dict lookup (pycountry's own lookup scans them all, and
    a body may carry thousands of bad codes)."""
    index: dict[str, str] = {}
    for entry in database:
        code = getattr(entry, attribute, None)
        if code is None:
            continue
        for field in ("alpha_2", "alpha_3", "bibliographic", "numeric", "name", "official_name", "common_name"):
            if (value := getattr(entry, field, None)) is not None:
                index.setdefault(value.lower(), code)
    return index


def _lookup(database: Any, value: str, attribute: str, aliases: dict[str, str]) -> str | None:
    if value in aliases:
        return aliases[value]
    if len(value) > _LOOKUP_MAX:
        return None
    return _index(database, attribute).get(value.lower())


def suggest_country(value: str) -> str | None:
    return _lookup(pycountry.countries, value, "alpha_2", _COUNTRY_ALIASES)


def suggest_language(value: str) -> str | None:
    return _lookup(pycountry.languages, value, "alpha_2", _LANGUAGE_ALIASES)


def suggest_currency(value: str) -> str | None:
    return _lookup(pycountry.currencies, value, "alpha_3", _CURRENCY_ALIASES)


def suggest_code(value: str, known: Collection[str]) -> str | None:
    """The known code closest to ``value`` (``dental implantology`` → ``dental_implantology``)."""
    if len(value) > _LOOKUP_MAX * 2:
        return None
    folded = "_".join(value.strip().lower().replace("-", " ").split())
    if folded in known:
        return folded
    close = difflib.get_close_matches(folded, list(known), n=1, cutoff=0.8)
    return close[0] if close else None


def unknown_code_error(what: str, suggestion: str | None) -> PydanticCustomError:
    """The validation error of an unknown code; the error handler shows ``suggestion`` apart."""
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    return PydanticCustomError("unknown_code", "unknown {what} code{hint}",
                               {"what": what, "hint": hint, "suggestion": suggestion})


def _member(valid: frozenset[str], what: str, suggest: Callable[[str], str | None]):  # type: ignore[no-untyped-def]
    def check(value: str) -> str:
        if value not in valid:
            raise unknown_code_error(what, suggest(value))
        return value

    return check


# The shape of a specialty code; which codes exist is Segmentation's vocabulary (GET /specialties).
SpecialtyCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,48}$", examples=["orthopaedics"])]

CountryCode = Annotated[str, BeforeValidator(_fold("upper")), Field(examples=["GB"]),
                        AfterValidator(_member(COUNTRIES, "ISO 3166-1 alpha-2 country", suggest_country))]
LanguageCode = Annotated[str, BeforeValidator(_fold("lower")), Field(examples=["en"]),
                         AfterValidator(_member(LANGUAGES, "ISO 639-1 language", suggest_language))]
CurrencyCode = Annotated[str, BeforeValidator(_fold("upper")), Field(examples=["EUR"]),
                         AfterValidator(_member(CURRENCIES, "ISO 4217 currency", suggest_currency))]


def currency_param(value: str | None, field: str = "query.currency") -> str | None:
    """A currency given as a query parameter: folded, checked, 422 naming it when unknown."""
    if value is None:
        return None
    if value.strip().upper() not in CURRENCIES:
        suggestion = suggest_currency(value.strip().upper())
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise Invalid("Unknown currency.", errors=[FieldError(
            field=field, value=value, message=f"unknown ISO 4217 currency code{hint}", suggestion=suggestion)])
    return value.strip().upper()
