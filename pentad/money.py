"""Money as the contract writes it: ``{"amount": "1234.50", "currency": "EUR"}``.

Amounts are ``Decimal`` end to end (never float) and travel as decimal strings. Arithmetic
on them runs in ``CONTEXT``: the default 28 digits cannot even round a 28-digit total to
the cent (``quantize`` raises ``InvalidOperation``), and totals of 20 top-priced parts
converted across the widest FX rates reach 30 digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException, DivisionByZero, InvalidOperation, Overflow
from decimal import localcontext as _localcontext
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from pentad.codes import CurrencyCode

CENT = Decimal("0.01")
# 50 digits hold any total of prices within ``Amount`` converted at any rate a table could
# ever hold (even the 1e-10..1e10 the first bounds allowed: 38 digits); beyond, an error
# is raised (trapped), never a silently rounded figure.
CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


class Unconvertible(ArithmeticError):
    """An amount too large to compute or show (only rates beyond every write-time bound give one)."""

    def __init__(self, currency: str) -> None:
        super().__init__(f"an amount in {currency} beyond {CONTEXT.prec} digits")
        self.currency = currency


def to_cents(value: Decimal, currency: str = "") -> Decimal:
    """Rounded once, half-even, to the cent."""
    try:
        with _localcontext(CONTEXT):
            return value.quantize(CENT)
    except DecimalException:
        raise Unconvertible(currency) from None


def total(values: Iterable[Decimal], currency: str = "") -> Decimal:
    try:
        with _localcontext(CONTEXT):
            return sum(values, Decimal(0))
    except DecimalException:
        raise Unconvertible(currency) from None


def parse_rate(text: object) -> Decimal | None:
    """A stored rate as a positive finite ``Decimal``, or None when it is not one."""
    try:
        rate = Decimal(str(text))
    except DecimalException:
        return None
    return rate if rate.is_finite() and rate > 0 else None


def format_amount(value: Decimal) -> str:
    """At least two decimals, more only when the amount has them."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        try:
            value = to_cents(value)
        except Unconvertible:
            pass  # an integer too large for cents: shown as it is, never a failed response
    return format(value, "f")


def _no_float(value: Any) -> Any:
    # JSON numbers with a fraction arrive as float and may already be rounded: ask for strings.
    if isinstance(value, float):
        raise ValueError("send amounts as decimal strings, e.g. \"1234.50\"")
    return value


# The bounds come before the BeforeValidator so pydantic-core checks them itself; after it,
# they ran as Python validators (~5 us of ~7 an amount: the top of a segment list's profile).
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False, examples=["1234.50"]),
    BeforeValidator(_no_float),
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
    """``amount`` in ``source`` expressed in ``target``, to ``CONTEXT``'s 50 digits (round to the
    cent once, at the end, where an amount is shown: ``to_cents``).

    ``rates[c]`` is how many units of ``c`` one unit of ``base`` buys; ``base`` itself is 1.
    Raises ``MissingRate`` without a rate, ``Unconvertible`` past ``CONTEXT``.
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

    try:
        with _localcontext(CONTEXT):
            return amount / rate(source) * rate(target)
    except DecimalException:
        raise Unconvertible(target) from None
