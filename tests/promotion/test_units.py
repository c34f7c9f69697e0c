"""Fast unit tests of the pure parts: the funnel's rules, quote totals, performance figures,
and who ``eligible_providers`` finds (with stand-ins for the pillars' clients)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from pentad.errors import Conflict, Invalid
from services.promotion import funnel
from services.promotion.assignments import figures
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.enquiry_schemas import QuoteItem
from services.promotion.models import Assignment
from services.promotion.quotes import total_of
from services.promotion.routing import Need, Pillars, eligible_providers


def test_the_funnel_allows_only_its_steps() -> None:
    funnel.check("quoted", S.booked)
    funnel.check("booked", S.lost)
    for current, target in (("new", S.booked), ("treated", S.lost), ("lost", S.new), ("quoted", S.routed)):
        with pytest.raises(Conflict):
            funnel.check(current, target)
    assert funnel.advance_to("routed", S.quoted) == [S.responded, S.quoted]
    assert funnel.advance_to("quoted", S.responded) == [] and funnel.advance_to("lost", S.quoted) == []


def _item(amount_minor: int, currency: str) -> QuoteItem:
    return QuoteItem(description="x", amount_minor=amount_minor, currency=currency)


def test_a_quote_total_is_exact_in_the_currency_minor_unit() -> None:
    assert total_of([_item(500000, "EUR"), _item(90050, "EUR")]) == (Decimal("5900.50"), "EUR")
    assert total_of([_item(150000, "JPY")]) == (Decimal("150000"), "JPY")
    assert total_of([_item(1234, "KWD")]) == (Decimal("1.234"), "KWD")
    with pytest.raises(Invalid):
        total_of([_item(1, "EUR"), _item(1, "GBP")])


def test_performance_counts_answers_breaches_and_leaves_withdrawals_out() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    routed = now - timedelta(days=2)

    def a(status: str, answered_after: float | None = None, breached: bool = False) -> Assignment:
        return Assignment(enquiry_id="e", stakeholder_id="p", routed_at=routed, status=status,
                          respond_by=routed + timedelta(hours=24), breached_at=now if breached else None,
                          responded_at=routed + timedelta(hours=answered_after) if answered_after else None)

    got = figures("p", [a("responded", 2), a("responded", 6), a("declined", 10), a("pending"),
                        a("withdrawn")], now=now)
    assert (got.assignments, got.responded, got.breached) == (4, 2, 1)  # the pending one is past its deadline
    assert got.breach_rate == 0.25 and got.median_response_seconds == 6 * 3600
    assert figures("p", [], now=now).breach_rate is None


class _Integration:
    def __init__(self, stakeholders: list[Any], weeks: list[Any]) -> None:
        self._stakeholders, self._weeks = stakeholders, weeks

    async def stakeholders(self) -> list[Any]:
        return self._stakeholders

    async def weekly_capacity(self, specialties: list[str], *, from_: date, to: date) -> list[Any]:
        return [w for w in self._weeks if w.specialty in specialties]


class _Administration:
    def __init__(self, accredited: list[str]) -> None:
        self._accredited = accredited

    async def accreditations(self, *, status: tuple[str, ...]) -> list[Any]:
        return [SimpleNamespace(stakeholder_id=s) for s in self._accredited]


def _provider(sid: str, languages: list[str], kind: str = "hospital") -> Any:
    return SimpleNamespace(id=sid, kind=kind, specialties=["knees"], languages=languages)


async def test_eligible_providers_says_which_test_left_nobody() -> None:
    today = date(2026, 1, 5)
    need = Need("knees", ("en",), today, today + timedelta(days=10))

    async def ask(stakeholders: list[Any], accredited: list[str], slots: dict[str, int]) -> Any:
        weeks = [SimpleNamespace(stakeholder_id=s, specialty="knees", fresh_slots=n) for s, n in slots.items()]
        pillars = Pillars(_Integration(stakeholders, weeks), _Administration(accredited))  # type: ignore[arg-type]
        return await eligible_providers(pillars, need, today=today)

    assert "offers knees" in (await ask([], [], {})).reason
    assert "speaks en" in (await ask([_provider("a", ["de"])], ["a"], {"a": 3})).reason
    assert "accredited" in (await ask([_provider("a", ["en"])], [], {"a": 3})).reason
    assert "capacity" in (await ask([_provider("a", ["en"])], ["a"], {"a": 0})).reason
    found = await ask([_provider("a", ["en"]), _provider("b", ["en", "de"]), _provider("h", ["en"], kind="hotel")],
                      ["a", "b", "h"], {"a": 2, "b": 7, "h": 9})
    assert found.stakeholder_ids == ["b", "a"] and found.reason is None
