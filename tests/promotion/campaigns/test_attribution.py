"""Attribution on a known fixture gives exact numbers: the funnel counted from the records, revenue
of treated patients and spend converted to the DMO's base currency, costs per booked and treated.

The enquiries and quotes of the fixture are written straight into Promotion's tables through its
models: the enquiry routes are built on another branch (prom-enquiries). Once both are merged,
this fixture can be made through those routes instead; the figures stay the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from pentad.db import create_engine
from services.promotion.models import Enquiry, EnquiryTransition, Quote
from tests.pillars import money, unique
from tests.promotion.campaigns.conftest import World
from tests.promotion.campaigns.helpers import new_campaign, new_segment, spend

IN_RANGE = datetime(2030, 3, 10, 9, 30, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, 9, 30, tzinfo=UTC)
RANGE = {"from": "2030-01-01", "to": "2030-12-31"}


@dataclass
class Fixture:
    segment_id: str
    campaign: dict[str, Any]
    other: dict[str, Any]  # a second campaign of the same segment, its budget in GBP


def _enquiry(*, segment_id: str, campaign: dict[str, Any] | None, status: str, path: list[str],
             created_at: datetime = IN_RANGE, market: str = "GB", by_code: bool = False) -> tuple[Enquiry, list[Any]]:
    """An enquiry at ``status`` with the transitions of ``path`` (the steps it went through)."""
    enquiry = Enquiry(
        id=unique("enq"), facilitator_id="stk_agent", created_by="key_agent", specialty="orthopaedics",
        source_market=market, segment_id=segment_id, segment_matched=False,
        campaign_id=None if by_code or campaign is None else campaign["id"],
        tracking_code=campaign["tracking_code"] if campaign else None, preferred_from=date(2030, 5, 1),
        preferred_to=date(2030, 6, 1), languages=["en"], status=status, contact={"email": "p@example.org"},
        consent={"given_at": "2030-03-10T09:00:00Z", "scope": "enquiry", "recorded_by": "key_agent"},
        created_at=created_at, updated_at=created_at)
    steps = ["new", *path]
    transitions = [EnquiryTransition(enquiry_id=enquiry.id, from_status=a, to_status=b, at=created_at,
                                     actor="key_agent") for a, b in zip([None, *steps], steps, strict=False)]
    return enquiry, transitions


def _quote(enquiry: Enquiry, amount: str, currency: str, status: str = "accepted") -> Quote:
    return Quote(id=unique("quo"), enquiry_id=enquiry.id, stakeholder_id="stk_clinic",
                 items=[{"description": "Knee replacement", "amount_minor": int(Decimal(amount) * 100),
                         "currency": currency}], total_amount=Decimal(amount), currency=currency, package_id=None,
                 valid_until=date(2030, 4, 30), status=status)


async def _insert(world: World, fixture: Fixture) -> None:
    s, a, b = fixture.segment_id, fixture.campaign, fixture.other
    rows: list[Any] = []
    quotes: list[Quote] = []

    def add(campaign: dict[str, Any] | None, status: str, path: list[str], **kw: Any) -> Enquiry:
        enquiry, transitions = _enquiry(segment_id=s, campaign=campaign, status=status, path=path, **kw)
        rows.extend([enquiry, *transitions])
        return enquiry

    add(a, "new", [])                                                          # e1
    add(a, "routed", ["routed"], by_code=True)                                 # e2: carries only the code
    add(a, "lost", ["routed", "lost"])                                         # e3: lost once routed
    add(a, "quoted", ["routed", "responded", "quoted"])                        # e4
    add(a, "lost", ["routed", "responded", "quoted", "lost"])                  # e5: lost once quoted
    e6 = add(a, "booked", ["routed", "responded", "quoted", "booked"])
    e7 = add(a, "treated", ["routed", "responded", "quoted", "booked", "treated"])
    e8 = add(a, "treated", ["routed", "quoted", "booked", "treated"], market="IE")  # skipped `responded`
    e9 = add(b, "treated", ["routed", "responded", "quoted", "booked", "treated"])  # the other campaign
    e10 = add(a, "treated", ["routed", "quoted", "booked", "treated"], created_at=LONG_AGO)  # out of range
    add(None, "routed", ["routed"], market="DE")                               # e11: no campaign
    quotes += [_quote(e6, "3000.00", "EUR"),                      # booked, not treated: no revenue yet
               _quote(e7, "4000.00", "EUR"), _quote(e7, "9999.00", "EUR", status="rejected"),
               _quote(e8, "1700.00", "GBP"),                      # 2000.00 EUR at 0.85
               _quote(e9, "850.00", "GBP"),                       # 1000.00 EUR
               _quote(e10, "5000.00", "EUR")]
    engine = create_engine(world.promotion_database)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            session.add_all([r for r in rows if isinstance(r, Enquiry)])
            await session.flush()
            session.add_all([r for r in rows if not isinstance(r, Enquiry)] + quotes)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def fixture(shared: World) -> AsyncIterator[Fixture]:
    async with shared.client("segmentation") as seg, shared.client("promotion") as pro, \
            shared.client("integration") as integ:
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.8500", "USD": "1.0800"}})
        assert r.status_code == 200, r.text
        segment = await new_segment(seg, source_markets=["GB", "IE", "DE"])
        a = await new_campaign(pro, [segment["id"]], source_markets=["GB", "IE"])
        b = await new_campaign(pro, [segment["id"]], source_markets=["GB"], budget=money("5000.00", "GBP"))
        for campaign, amount, currency, day in ((a, "1000.00", "EUR", "2030-03-05"), (a, "700.00", "EUR", "2030-04-01"),
                                                (a, "300.00", "EUR", "2020-01-01"),
                                                (b, "425.00", "GBP", "2030-03-20")):
            assert (await spend(pro, campaign["id"], amount, currency, spent_on=day)).status_code == 201
        fixture = Fixture(segment["id"], a, b)
        await _insert(shared, fixture)
        yield fixture


async def attribution(pro: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    r = await pro.get("/attribution", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_campaigns_attribution_is_exact(fixture: Fixture, pro: httpx.AsyncClient) -> None:
    got = await attribution(pro, campaign_id=fixture.campaign["id"], **RANGE)
    assert got == {
        "enquiries": 8, "routed": 7, "quoted": 5, "booked": 3, "treated": 2,
        "revenue": money("6000.00"),          # 4000 EUR + 1700 GBP at 0.85; the rejected quote not counted
        "spend": money("1700.00"),            # the 2020 entry is out of range
        "conversion": {"routed": 7 / 8, "quoted": 5 / 7, "booked": 3 / 5, "treated": 2 / 3},
        "cost_per_booked": money("566.67"), "cost_per_treated": money("850.00"),
        "fx_rates": {"GBP": "0.8500"}}


async def test_attribution_by_segment_and_market_and_over_all_time(fixture: Fixture, pro: httpx.AsyncClient) -> None:
    by_segment = await attribution(pro, segment_id=fixture.segment_id, **RANGE)
    assert {k: by_segment[k] for k in ("enquiries", "routed", "quoted", "booked", "treated", "revenue", "spend",
                                       "cost_per_treated")} == {
        "enquiries": 10, "routed": 9, "quoted": 6, "booked": 4, "treated": 3,
        "revenue": money("7000.00"),          # ... and 850 GBP of the other campaign
        "spend": money("2200.00"),            # 1700 EUR + 425 GBP (500 EUR)
        "cost_per_treated": money("733.33")}

    gb = await attribution(pro, segment_id=fixture.segment_id, source_market="gb", **RANGE)
    assert (gb["enquiries"], gb["treated"], gb["revenue"], gb["spend"]) == (8, 2, money("5000.00"), money("2200.00"))

    ever = await attribution(pro, campaign_id=fixture.campaign["id"])
    assert (ever["enquiries"], ever["treated"], ever["revenue"], ever["spend"]) == (
        9, 3, money("11000.00"), money("2000.00"))


async def test_empty_scopes_and_unknown_campaigns(fixture: Fixture, pro: httpx.AsyncClient) -> None:
    none = await attribution(pro, segment_id="seg_with_nothing")
    assert none == {"enquiries": 0, "routed": 0, "quoted": 0, "booked": 0, "treated": 0,
                    "revenue": money("0.00"), "spend": money("0.00"),
                    "conversion": {"routed": None, "quoted": None, "booked": None, "treated": None},
                    "cost_per_booked": None, "cost_per_treated": None, "fx_rates": {}}
    r = await pro.get("/attribution", params={"campaign_id": "cmp_nobody"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.campaign_id", r.text
    r = await pro.get("/attribution", params={"from": "2030-02-01", "to": "2030-01-01"})
    assert r.status_code == 422
    r = await pro.get("/attribution", params={"source_market": "XX"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.source_market"
