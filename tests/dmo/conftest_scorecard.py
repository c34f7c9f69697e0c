"""Fixtures of the scorecard tests (beside, not in, tests/dmo/conftest.py, which the read-model
tests own).

``fixture_found`` is a small destination written out by hand, whose every figure is worked out
in tests/dmo/test_scorecard_units.py. ``FakePromotion`` stands in for the Promotion service
until its routes and this branch merge: it serves exactly what ``services/promotion/client.py``
reads for the scorecard (``GET /campaigns``, ``GET /attribution`` with ``source_market``,
``GET /performance/providers``; lists as ``{items, next_cursor}`` paged by ``limit`` and
``cursor``), behind the kit's identity check like any service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

from pentad.http import ASGIApp, RequestContext, VerifyIdentity
from pentad.money import Money, Total
from services.administration.client import AccreditationRef, ComplaintRef
from services.development.client import AssessmentPointRef, GapRef, InitiativeRef
from services.dmo.scorecard import Found
from services.integration.client import PackagePartRef, PackageRef, StakeholderRef
from services.integration.schemas import Coverage, FxTable
from services.promotion.client import Attribution, CampaignRef, ProviderPerformance
from services.segmentation.client import AttractivenessRef, DemandRef, SegmentRef, ThresholdRef
from tests.pillars import Pair, service_urls, start_pair
from tests.support import SECRET, STAFF, SignedAs, asgi_client, build, serving, settings_for

TODAY = date(2026, 12, 1)


def eur(amount: str, currency: str = "EUR") -> Total:
    return Total(amount=Decimal(amount), currency=currency)


def segment(segment_id: str, specialty: str, patients: int | None) -> SegmentRef:
    demand = None if patients is None else DemandRef(annual_patients=patients,
                                                      avg_spend=Money(amount=Decimal("9000.00"), currency="EUR"),
                                                      growth_rate=0.05)
    return SegmentRef(id=segment_id, name=segment_id, status="active", specialties=[specialty],
                      source_markets=["DE"], languages=["de"], demand=demand,
                      threshold=ThresholdRef(min_accredited_providers=1, min_weekly_capacity=10))


def gap(segment_id: str, **shortfalls: int) -> GapRef:
    full = {"accredited_providers": 0, "weekly_capacity": 0, "languages": 0, "supporting_stakeholders": 0,
            **shortfalls}
    return GapRef(segment_id=segment_id, met=not any(full.values()), threshold={}, current={}, shortfalls=full)


def stakeholder(stakeholder_id: str, kind: str) -> StakeholderRef:
    return StakeholderRef(id=stakeholder_id, kind=kind, name=stakeholder_id, status="active")


def accreditation(acc_id: str, stakeholder_id: str, status: str, expires_on: str) -> AccreditationRef:
    return AccreditationRef(id=acc_id, stakeholder_id=stakeholder_id, scheme_id="sch_jci", status=status,
                            issued_on=date(2024, 1, 1), expires_on=date.fromisoformat(expires_on))


def complaint(complaint_id: str, status: str, *, due: str, closed: str | None = None,
              overdue: bool = False) -> ComplaintRef:
    return ComplaintRef(id=complaint_id, stakeholder_id="hosp_a", status=status,
                        due_at=datetime.fromisoformat(due).replace(tzinfo=UTC), overdue=overdue,
                        closed_at=datetime.fromisoformat(closed).replace(tzinfo=UTC) if closed else None,
                        created_at=datetime(2026, 11, 1, tzinfo=UTC))


def cover(specialty: str, providers: int, fresh: int) -> Coverage:
    return Coverage(specialty=specialty, providers=providers, providers_with_fresh_capacity=fresh,
                    weekly_fresh_slots=10 * fresh)


def initiative(initiative_id: str, status: str, progress: float) -> InitiativeRef:
    return InitiativeRef(id=initiative_id, title=initiative_id, segment_id="seg_teeth", gap="weekly_capacity",
                         status=status, progress=progress)


def point(assessment_id: str, as_of: str, segment_id: str, met: bool) -> AssessmentPointRef:
    return AssessmentPointRef(assessment_id=assessment_id, as_of=date.fromisoformat(as_of), segment_id=segment_id,
                              met=met)


def campaign(campaign_id: str, status: str, segment_ids: list[str], spent: Total) -> CampaignRef:
    return CampaignRef(id=campaign_id, name=campaign_id, segment_ids=segment_ids, source_markets=["DE"],
                       channels=["search"], status=status, tracking_code=f"trk-{campaign_id}",
                       budget=Money(amount=Decimal("100000.00"), currency=spent.currency), spent=spent)


def attribution(enquiries: int, treated: int, spend: Total, **steps: int) -> Attribution:
    return Attribution(enquiries=enquiries, routed=steps.get("routed", 0), quoted=steps.get("quoted", 0),
                       booked=steps.get("booked", 0), treated=treated, revenue=eur("0"), spend=spend,
                       conversion={}, cost_per_booked=None, cost_per_treated=None)


def performance(stakeholder_id: str, assignments: int, breached: int, median: float | None) -> ProviderPerformance:
    return ProviderPerformance(stakeholder_id=stakeholder_id, assignments=assignments,
                               responded=assignments - breached, breached=breached,
                               breach_rate=breached / assignments if assignments else None,
                               median_response_seconds=median)


def fixture_found(**changes: Any) -> Found:
    """Three active segments (knee and eyes ready, teeth not), three providers and a hotel."""
    values: dict[str, Any] = dict(
        today=TODAY,
        segments=[segment("seg_knee", "orthopaedics", 1000), segment("seg_teeth", "dental_implants", 400),
                  segment("seg_eyes", "ophthalmology", None)],
        attractiveness={"seg_knee": AttractivenessRef(segment_id="seg_knee", score=0.8, complete=True),
                        "seg_teeth": AttractivenessRef(segment_id="seg_teeth", score=0.5, complete=False),
                        "seg_eyes": AttractivenessRef(segment_id="seg_eyes", score=0.6, complete=True)},
        stakeholders=[stakeholder("hosp_a", "hospital"), stakeholder("clinic_b", "clinic"),
                      stakeholder("dent_c", "dental"), stakeholder("hotel_h", "hotel")],
        coverage=[cover("orthopaedics", 2, 1), cover("dental_implants", 1, 1), cover("ophthalmology", 1, 0)],
        packages=[PackageRef(id="pkg_knee", name="Knee", specialty="orthopaedics", currency="EUR", status="published",
                             components=[PackagePartRef(kind="treatment", stakeholder_id="hosp_a"),
                                         PackagePartRef(kind="stay", stakeholder_id="hotel_h")]),
                  PackageRef(id="pkg_teeth", name="Teeth", specialty="dental_implants", currency="EUR",
                             status="published",
                             components=[PackagePartRef(kind="treatment", stakeholder_id="clinic_b")])],
        fx=FxTable(base="EUR", rates={"GBP": Decimal("0.8"), "USD": Decimal("1.25")}),
        accreditations=[accreditation("acc_1", "hosp_a", "valid", "2028-01-01"),
                        accreditation("acc_2", "dent_c", "expiring", "2027-01-15"),
                        accreditation("acc_3", "hosp_a", "valid", "2027-02-28")],
        complaints=[complaint("cmp_late_open", "open", due="2026-11-20T12:00:00", overdue=True),
                    complaint("cmp_on_time", "resolved", due="2026-11-20T12:00:00", closed="2026-11-19T09:00:00"),
                    complaint("cmp_late_closed", "resolved", due="2026-11-10T12:00:00",
                              closed="2026-11-12T09:00:00"),
                    complaint("cmp_fresh", "open", due="2026-12-05T12:00:00")],
        gaps=[gap("seg_knee"), gap("seg_teeth", accredited_providers=1, weekly_capacity=5), gap("seg_eyes")],
        ready={"seg_knee": True, "seg_teeth": False, "seg_eyes": True},
        initiatives=[initiative("ini_1", "in_progress", 0.5), initiative("ini_2", "approved", 0.0),
                     initiative("ini_3", "done", 1.0), initiative("ini_4", "proposed", 0.25)],
        assessments=[point("asm_1", "2026-10-01", "seg_knee", True), point("asm_1", "2026-10-01", "seg_teeth", False),
                     point("asm_2", "2026-11-01", "seg_eyes", True), point("asm_2", "2026-11-01", "seg_knee", True),
                     point("asm_2", "2026-11-01", "seg_teeth", False)],
        campaigns=[campaign("cmp_both", "active", ["seg_knee", "seg_teeth"], eur("1000.00")),
                   campaign("cmp_teeth", "paused", ["seg_teeth"], eur("400.00", "GBP")),
                   campaign("cmp_old", "ended", ["seg_teeth"], eur("1000.00")),
                   campaign("cmp_draft", "draft", ["seg_knee"], eur("0", "USD"))],
        attribution=attribution(50, 8, eur("2500.00"), routed=40, quoted=20, booked=10),
        by_market={"DE": attribution(30, 5, eur("1000.00")), "GB": attribution(20, 3, eur("1200.00", "GBP"))},
        performance=[performance("hosp_a", 10, 1, 3600.0), performance("clinic_b", 10, 3, 7200.0),
                     performance("dent_c", 0, 0, None)],
        calls=20)
    values.update(changes)
    return Found(**values)


# -- a fake Promotion service ---------------------------------------------------------------------

def _paged(rows: list[dict[str, Any]], limit: int, cursor: str | None) -> dict[str, Any]:
    start = int(cursor or 0)
    more = start + limit < len(rows)
    return {"items": rows[start:start + limit], "next_cursor": str(start + limit) if more else None}


@dataclass
class FakePromotion:
    """Campaigns, the funnel per source market and provider performance, as tests set them."""

    campaigns: list[dict[str, Any]] = field(default_factory=list)
    funnels: dict[str, dict[str, Any]] = field(default_factory=dict)  # source market ("" for all) → attribution
    performance: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False  # answer 500, as a broken service would
    asked: list[str] = field(default_factory=list)  # every path asked, with its query

    def add_campaign(self, campaign_id: str, *, segment_ids: list[str], spent: str, status: str = "active",
                     currency: str = "EUR", source_markets: list[str] | None = None) -> None:
        self.campaigns.append({
            "id": campaign_id, "name": campaign_id, "segment_ids": segment_ids,
            "source_markets": source_markets or ["DE"], "channels": ["search"], "status": status,
            "status_reason": None, "tracking_code": f"trk-{campaign_id}",
            "budget": {"amount": "50000.00", "currency": currency}, "spent": {"amount": spent, "currency": currency}})

    def set_funnel(self, market: str, *, enquiries: int, treated: int, spend: str) -> None:
        self.funnels[market] = {
            "enquiries": enquiries, "routed": enquiries, "quoted": treated, "booked": treated, "treated": treated,
            "revenue": {"amount": "0.00", "currency": "EUR"}, "spend": {"amount": spend, "currency": "EUR"},
            "conversion": {"treated": treated / enquiries if enquiries else None}, "cost_per_booked": None,
            "cost_per_treated": None}

    def app(self) -> ASGIApp:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Any, call_next: Any) -> Any:
            self.asked.append(str(request.url.path) + ("?" + request.url.query if request.url.query else ""))
            if self.failing:
                return JSONResponse({"title": "broken on purpose"}, status_code=500)
            return await call_next(request)

        @app.get("/campaigns")
        async def campaigns(limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
                            status: str | None = None, segment_id: str | None = None) -> dict[str, Any]:
            rows = [c for c in self.campaigns if status in (None, c["status"])
                    and (segment_id is None or segment_id in c["segment_ids"])]
            return _paged(rows, limit, cursor)

        @app.get("/attribution")
        async def attribution(source_market: str | None = None) -> dict[str, Any]:
            empty = {"enquiries": 0, "treated": 0, "spend": "0.00"}
            if (source_market or "") not in self.funnels:
                self.set_funnel(source_market or "", **empty)  # type: ignore[arg-type]
            return self.funnels[source_market or ""]

        @app.get("/performance/providers")
        async def performance(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                              cursor: str | None = None) -> dict[str, Any]:
            return _paged(self.performance, limit, cursor)

        return RequestContext(VerifyIdentity(app, secret=SECRET.encode(), max_age=300))


# -- the pillars running for real, Promotion faked ------------------------------------------------

SCORECARD_SERVICES = ("segmentation", "integration", "administration", "development", "dmo")


@dataclass
class ScorecardWorld:
    pair: Pair
    promotion: FakePromotion
    tmp: Path

    def client(self, service: str, caller: Any = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.pair.urls[service], auth=SignedAs(caller), timeout=60)

    def dmo_with(self, **urls: str) -> Any:
        """A second coordinator on the same database, some pillars at other URLs (down)."""
        settings = settings_for("dmo", self.pair.databases["dmo"], self.tmp,
                                service_urls={**self.pair.urls, **urls})
        return asgi_client(build("dmo", settings), STAFF)


@pytest.fixture
async def scorecard_world(databases: Any, tmp: Path) -> AsyncIterator[ScorecardWorld]:
    """A destination of this test alone: the scorecard counts the whole register and every segment."""
    async with AsyncExitStack() as stack:
        urls = service_urls()
        fake = FakePromotion()
        await stack.enter_async_context(serving(fake.app(), int(urls["promotion"].rsplit(":", 1)[1])))
        yield ScorecardWorld(await start_pair(stack, databases, tmp, urls, services=SCORECARD_SERVICES), fake, tmp)
