"""Fast unit tests of Integration's pure functions: row checks, deliverability, totals, money edges."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation, localcontext
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from pentad import money
from pentad.errors import Invalid
from pentad.money import CENT
from services.integration import capacity, packages
from services.integration.capacity import Row, check_rows, parse_batch
from services.integration.schemas import RATE_MAX, RATE_MIN, FxRates

TODAY = date(2026, 6, 1)
VOCABULARY = frozenset({"orthopaedics", "cardiology", "oncology"})
OFFERED = frozenset({"orthopaedics", "cardiology"})


def _row(specialty: object = "orthopaedics", day: object = "2026-06-02", total: object = 5, available: object = 3
         ) -> dict[str, object]:
    return {"specialty": specialty, "date": day, "slots_total": total, "slots_available": available}


@pytest.mark.parametrize(("raw", "reason"), [
    ("not an object", "a row must be an object"),
    ({"specialty": "orthopaedics"}, "missing date, slots_available, slots_total"),
    ({**_row(), "extra": 1}, "unexpected extra"),
    (_row(specialty="no_such"), "unknown specialty 'no_such'"),
    (_row(specialty="oncology"), "the stakeholder does not offer 'oncology' (not among its approved specialties)"),
    (_row(day=20260602), "date must be YYYY-MM-DD"),
    (_row(day="2026-W23-1"), "date must be YYYY-MM-DD"),
    (_row(day="2026-02-30"), "date must be YYYY-MM-DD"),
    (_row(day="2026-05-30"), "date out of range (2026-05-31 to 2028-05-31)"),
    (_row(total=1.5), "slots_total and slots_available must be whole numbers"),
    (_row(total=True), "slots_total and slots_available must be whole numbers"),
    (_row(total=-1), "slots cannot be negative"),
    (_row(total=1_000_001, available=0), "slots_total above 1,000,000 a day"),
    (_row(total=2, available=3), "slots_available exceeds slots_total"),
])
def test_each_bad_row_has_its_reason(raw: object, reason: str) -> None:
    good, rejected = check_rows([raw], vocabulary=VOCABULARY, offered=OFFERED, today=TODAY)
    assert good == []
    assert [(r.index, r.reason) for r in rejected] == [(0, reason)]


def test_good_rows_pass_and_duplicates_name_the_first() -> None:
    rows = [_row(), _row(specialty="cardiology"), _row(total=9, available=9), _row(day="2026-05-31")]
    good, rejected = check_rows(rows, vocabulary=VOCABULARY, offered=OFFERED, today=TODAY)
    assert good == [Row("orthopaedics", date(2026, 6, 2), 5, 3), Row("cardiology", date(2026, 6, 2), 5, 3),
                    Row("orthopaedics", date(2026, 5, 31), 5, 3)]
    assert [(r.index, r.reason) for r in rejected] == [(2, "duplicate of row 0 (same specialty and date)")]


def test_without_the_vocabulary_rows_are_still_checked_against_what_is_offered() -> None:
    good, rejected = check_rows([_row(specialty="oncology"), _row()], vocabulary=None, offered=OFFERED, today=TODAY)
    assert len(good) == 1 and rejected[0].index == 0 and "does not offer" in rejected[0].reason


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"rows": {}}', b'{"rows": [], "more": 1}'])
def test_a_batch_must_be_an_object_with_rows(body: bytes) -> None:
    with pytest.raises(Invalid):
        parse_batch(body)


def test_a_batch_of_more_than_ten_thousand_rows_is_refused() -> None:
    with pytest.raises(Invalid):
        parse_batch(b'{"rows": [' + b",".join([b"{}"] * 10_001) + b"]}")


def test_fresh_since_is_the_window_before_now() -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    assert capacity.fresh_since(14, now) == datetime(2026, 6, 1, 12, tzinfo=UTC)


def _party(name: str, kind: str, status: str = "active", specialties: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(name=name, kind=kind, status=status, specialties=list(specialties))


def _package(*components: tuple[str, str]) -> SimpleNamespace:
    return SimpleNamespace(specialty="orthopaedics",
                           components=[{"kind": kind, "stakeholder_id": sid} for kind, sid in components])


def test_a_package_is_deliverable_when_every_party_can_deliver_its_part() -> None:
    parties = {"h": _party("Hospital", "hospital", specialties=("orthopaedics",)), "o": _party("Hotel", "hotel")}
    assert packages._undeliverable(_package(("treatment", "h"), ("stay", "o")), parties) is None


def test_undeliverable_names_inactive_parties_and_those_that_cannot_deliver() -> None:
    parties = {"h": _party("Hospital", "hospital", specialties=("cardiology",)),
               "o": _party("Hotel", "hotel", status="inactive"), "t": _party("Taxi", "transfer")}
    reason = packages._undeliverable(_package(("treatment", "h"), ("stay", "o"), ("aftercare", "t")), parties)
    assert reason == ("inactive stakeholders: Hotel; "
                      "no longer able to deliver: Hospital (treatment), Taxi (aftercare)")


def test_package_totals_convert_through_the_base_and_round_once() -> None:
    package = SimpleNamespace(id="pkg_1", name="p", specialty="orthopaedics", status="published", status_reason=None,
                              created_at=datetime.now(UTC), updated_at=datetime.now(UTC), currency="EUR", components=[
                                  {"kind": "treatment", "stakeholder_id": "h", "description": "d",
                                   "price": {"amount": "100.00", "currency": "EUR"}},
                                  {"kind": "stay", "stakeholder_id": "o", "description": "d",
                                   "price": {"amount": "10.00", "currency": "GBP"}}])
    table = SimpleNamespace(base="EUR", rates={"GBP": "0.8", "USD": "1.1"})
    out = packages.present(package, table, "USD")  # type: ignore[arg-type]
    # 100 EUR -> 110 USD; 10 GBP -> 12.5 EUR -> 13.75 USD
    assert out.total_in is not None
    assert out.total_in.amount == Decimal("123.75") and out.total_in.currency == "USD"
    assert (out.currency, out.total.amount) == ("EUR", Decimal("112.50"))  # its own: 100 EUR + 12.5 EUR
    assert out.fx_rates == {"GBP": Decimal("0.8"), "USD": Decimal("1.1")}
    with pytest.raises(Invalid):
        packages.present(package, table, "JPY")  # type: ignore[arg-type]


# -- money arithmetic at the edges -----------------------------------------------------------------

TOP = Decimal("99999999999999.9999")  # the largest amount a price may have (18 digits, 4 decimals)


def _priced(*prices: tuple[str, str], currency: str = "EUR") -> SimpleNamespace:
    return SimpleNamespace(id="pkg_1", name="p", specialty="orthopaedics", status="published", status_reason=None,
                           created_at=datetime.now(UTC), updated_at=datetime.now(UTC), currency=currency,
                           components=[{"kind": "treatment", "stakeholder_id": "h", "description": "d",
                                        "price": {"amount": amount, "currency": c}} for amount, c in prices])


def test_the_default_decimal_context_cannot_round_a_large_total() -> None:
    # Why money has its own context: 28 digits do not hold a 28-digit amount and its cents.
    huge = Decimal(20) * TOP * Decimal(10) ** 12
    with localcontext() as default:
        default.prec = 28
        with pytest.raises(InvalidOperation):
            huge.quantize(CENT)
    assert money.to_cents(huge) == Decimal("1999999999999999998000000000.00")


def test_the_largest_total_the_write_bounds_allow_is_exact() -> None:
    # 20 components at the top amount, from the cheapest currency into the dearest.
    table = SimpleNamespace(base="EUR", rates={"XAU": str(RATE_MIN), "JPY": str(RATE_MAX)})
    out = packages.present(_priced(*[(str(TOP), "XAU")] * 20), table, "JPY")  # type: ignore[arg-type]
    assert out.total_in is not None
    assert out.total_in.amount == Decimal("1999999999999999998000000000.00")
    assert out.total_in.model_dump(mode="json") == {"amount": "1999999999999999998000000000.00",
                                                    "currency": "JPY"}


def test_a_conversion_beyond_any_bound_is_a_422_naming_the_currency() -> None:
    table = SimpleNamespace(base="EUR", rates={"XAU": "1E-80", "JPY": "1E+80"})
    with pytest.raises(Invalid) as caught:
        # Its own total needs no rate; the one asked for is beyond what can be shown.
        packages.present(_priced((str(TOP), "XAU"), currency="XAU"), table, "JPY")  # type: ignore[arg-type]
    assert [(e.field, e.value) for e in caught.value.errors or []] == [("query.currency", "JPY")]


@pytest.mark.parametrize("stored", ["0", "-1.5", "NaN", "Infinity", "lots", ""])
def test_a_stored_rate_that_is_not_a_rate_counts_as_missing(stored: str) -> None:
    table = SimpleNamespace(base="EUR", rates={"GBP": stored})
    assert packages.rates_of(table) == {}  # type: ignore[arg-type]
    with pytest.raises(Invalid) as caught:
        packages.present(_priced(("10", "GBP")), table)  # type: ignore[arg-type]
    assert caught.value.errors and caught.value.errors[0].field == "components.0.price.currency"


@pytest.mark.parametrize(("rate", "ok"), [
    (str(RATE_MIN), True), (str(RATE_MAX), True), ("1.0812", True), ("0.1234567891", True),
    ("0.0000009999", False), ("1000000.0000000001", False), ("0.12345678901", False), ("0", False),
])
def test_rates_are_bounded_at_write_time(rate: str, ok: bool) -> None:
    if ok:
        assert FxRates(base="EUR", rates={"USD": rate}).rates == {"USD": Decimal(rate)}
    else:
        with pytest.raises(ValidationError):
            FxRates(base="EUR", rates={"USD": rate})


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("1E+40"), "1" + "0" * 40 + ".00"), (Decimal("5"), "5.00"), (Decimal("1.2345"), "1.2345"),
])
def test_amounts_are_shown_with_cents_however_large(value: Decimal, shown: str) -> None:
    assert money.format_amount(value) == shown



_EDGES: dict[str, list[object]] = {
    "specialty": ["orthopaedics", "cardiology", "oncology", "no_such", 5, None, ["orthopaedics"]],
    "date": ["2026-06-02", "2026-05-31", "2028-05-31", "2028-06-01", "2026-05-30", "2026-02-30", "2026-W23-1",
             20260602, None],
    "slots_total": [0, 1, 5, 999_999, 1_000_000, 1_000_001, -1, True, 1.5, "5", None],
    "slots_available": [0, 1, 3, 5, 1_000_000, 1_000_001, -1, False, 2.0, None],
}
_SHAPES: list[object] = ["a row", 4, None, [1, 2, 3, 4], "abcd", {}, {"specialty": "orthopaedics"},
                         {**_row(), "extra": 1}, {k: v for k, v in _row().items() if k != "date"} | {"day": "x"}]


def test_the_fast_path_for_good_rows_accepts_exactly_what_the_full_check_accepts() -> None:
    """Every combination of each field's edge values, and rows of other shapes."""
    earliest, latest = date(2026, 5, 31), date(2028, 5, 31)
    rows = [dict(zip(_EDGES, values, strict=True)) for values in itertools.product(*_EDGES.values())] + _SHAPES
    accepted = 0
    for vocabulary in (VOCABULARY, None):
        allowed = OFFERED if vocabulary is None else OFFERED & vocabulary
        for raw in rows:
            fast = capacity._good(raw, allowed, {}, earliest, latest)
            full = capacity._check(raw, vocabulary, OFFERED, {}, earliest, latest)
            assert fast == (full if isinstance(full, Row) else None), raw
            accepted += fast is not None
    assert accepted > 100  # the good combinations are there too
