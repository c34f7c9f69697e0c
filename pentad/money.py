"""Money as the contract writes it: ``{"amount": "1234.50", "currency": "EUR"}``.

Amounts are ``Decimal`` end to end (never float) and travel as decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from pentad.codes import CurrencyCode

CENT = Decimal("0.01")


def format_amount(value: Decimal) -> str:
    """At least two decimals, more only when the amount has them."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(CENT)
    return format(value, "f")


def _no_float(value: Any) -> Any:
    # JSON numbers with a fraction arrive as float and may already be rounded: ask for strings.
    if isinstance(value, float):
        raise ValueError("send amounts as decimal strings, e.g. \"1234.50\"")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False, examples=["1234.50"]),
    PlainSerializer(format_amount, return_type=str, when_used="json"),
]


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Amount
    currency: CurrencyCode


class Total(BaseModel):
    """Money computed here (sums, conversions): the same shape, without the input bounds."""

    model_config = ConfigDict(frozen=True)

    amount: Annotated[Decimal, PlainSerializer(format_amount, return_type=str, when_used="json"),
                      Field(examples=["10650.00"])]
    currency: str


class MissingRate(LookupError):
    def __init__(self, currency: str) -> None:
        super().__init__(f"no FX rate for {currency}")
        self.currency = currency


def convert(amount: Decimal, *, source: str, target: str, base: str, rates: dict[str, Decimal]) -> Decimal:
    """``amount`` in ``source`` expressed in ``target``, exactly (no rounding here).

    ``rates[c]`` is how many units of ``c`` one unit of ``base`` buys; ``base`` itself is 1.
    Round once, at the end, where an amount is shown.
    """
    if source == target:
        return amount

    def rate(currency: str) -> Decimal:
        if currency == base:
            return Decimal(1)
        try:
            return rates[currency]
        except KeyError:
            raise MissingRate(currency) from None

    return amount / rate(source) * rate(target)
