"""GET /scorecard against the real Segmentation, Integration, Administration and Development
(and a fake Promotion, tests/dmo/conftest_scorecard.py): a destination built through their
APIs reads back as the figures the rules give, snapshots are kept once a day, trends run from
the last assessment, and a pillar that does not answer fails the request by name."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from pentad.db import create_engine
from services.dmo.models import ScorecardSnapshot
from tests.development.helpers import initiative_body, mondays, new_segment, new_specialty, post_capacity, register
from tests.dmo.conftest_scorecard import ScorecardWorld, scorecard_world  # noqa: F401 - the fixture
from tests.pillars import FAC, PROBLEM, unique
from tests.support import SignedAs, free_port, provider

TODAY = datetime.now(UTC).date()


async def ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.text)
    return dict(r.json())


async def snapshots(world: ScorecardWorld) -> dict[date, dict[str, Any]]:
    engine = create_engine(world.pair.databases["dmo"])
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(ScorecardSnapshot.taken_on, ScorecardSnapshot.figures))).all()
    finally:
        await engine.dispose()
    return {r.taken_on: dict(r.figures) for r in rows}


async def put_snapshot(world: ScorecardWorld, taken_on: date, figures: dict[str, float | None]) -> None:
    """A snapshot an earlier day's scorecard would have kept."""
    engine = create_engine(world.pair.databases["dmo"])
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(ScorecardSnapshot).values(
                taken_on=taken_on, taken_at=datetime.now(UTC), figures=figures))
    finally:
        await engine.dispose()


async def destination(world: ScorecardWorld) -> dict[str, Any]:
    """Two segments: `ready` (an accredited English-speaking hospital with capacity every week, a
    hotel, a transfer firm and a package) and `short` (one clinic, unaccredited, no capacity)."""
    async with world.client("segmentation") as seg, world.client("integration") as integ, \
            world.client("administration") as adm, world.client("development") as dev:
        ready_code, short_code = await new_specialty(seg), await new_specialty(seg)
        threshold = {"min_accredited_providers": 1, "min_weekly_capacity": 5}
        ready = await new_segment(seg, specialties=[ready_code], languages=["en"], threshold=threshold)
        short = await new_segment(seg, specialties=[short_code], languages=["en"], threshold=threshold)
        hospital = await register(integ, "hospital", [ready_code], ["en"])
        clinic = await register(integ, "clinic", [short_code], ["en"])
        hotel, transfer = await register(integ, "hotel"), await register(integ, "transfer")
        await post_capacity(integ, hospital, ready_code, {monday: 10 for monday in mondays()})
        await ok(await integ.post("/packages", json={"name": unique("Knee"), "specialty": ready_code, "components": [
            {"kind": "treatment", "stakeholder_id": hospital, "description": "Surgery",
             "price": {"amount": "5000.00", "currency": "EUR"}},
            {"kind": "stay", "stakeholder_id": hotel, "description": "Ten nights",
             "price": {"amount": "900.00", "currency": "EUR"}}]}))
        async with world.client("administration", provider(hospital)) as own:
            evidence = await ok(await own.post("/accreditations", json={
                "stakeholder_id": hospital, "scheme_id": "sch_jci", "certificate_no": unique("JCI"),
                "issued_on": "2026-01-05"}))
        await ok(await adm.patch(f"/accreditations/{evidence['id']}", json={"status": "valid"}), 200)
        await ok(await adm.post("/complaints", json={"stakeholder_id": hospital, "category": "service",
                                                     "severity": "low", "description": "Late pick-up."}))
        await ok(await dev.post("/initiatives", json=initiative_body(short["id"])))  # 1 of 3 milestones done
        await ok(await dev.post("/assessments", json={}))
    promotion = world.promotion
    promotion.add_campaign("cmp_both", segment_ids=[ready["id"], short["id"]], spent="800.00",
                           source_markets=["DE", "GB"])
    promotion.set_funnel("", enquiries=10, treated=2, spend="800.00")
    promotion.set_funnel("DE", enquiries=6, treated=1, spend="500.00")
    promotion.set_funnel("GB", enquiries=4, treated=1, spend="300.00")
    promotion.performance.append({"stakeholder_id": hospital, "assignments": 4, "responded": 3, "breached": 1,
                                  "breach_rate": 0.25, "median_response_seconds": 1800.0})
    made = {"ready": ready, "short": short, "hospital": hospital, "clinic": clinic, "transfer": transfer}
    await read_model_settled(world, {ready["id"]: True, short["id"]: False})
    return made


async def read_model_settled(world: ScorecardWorld, expected: dict[str, bool]) -> None:
    """The scorecard judges readiness on the coordinator's read model: wait until its consumer
    has applied the destination (as ``GET /segments/{id}/readiness`` says)."""
    async with world.client("dmo") as dmo:
        for _ in range(300):
            seen = {}
            for segment_id in expected:
                r = await dmo.get(f"/segments/{segment_id}/readiness")
                seen[segment_id] = r.json()["ready"] if r.status_code == 200 else None
            if seen == expected:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"the read model did not settle: {seen} != {expected}")


async def scorecard(world: ScorecardWorld) -> dict[str, Any]:
    async with world.client("dmo") as dmo:
        return await ok(await dmo.get("/scorecard"), 200)


async def test_a_destination_reads_back_as_its_figures(scorecard_world: ScorecardWorld) -> None:  # noqa: F811
    made = await destination(scorecard_world)
    card = await scorecard(scorecard_world)
    value = lambda pillar, figure: card[pillar][figure]["value"]  # noqa: E731
    assert value("segmentation", "segments") == 2
    assert value("integration", "active_providers") == 2  # hospital and clinic; hotel and transfer support
    assert value("integration", "fresh_capacity_share") == 0.5  # the hospital has slots this week, the clinic none
    assert value("integration", "published_packages") == 1
    assert value("administration", "validly_accredited_share") == 0.5
    assert value("administration", "complaints_past_sla") == 0
    assert value("development", "open_gaps") == 3  # short: accredited providers, weekly capacity, languages
    assert value("development", "initiative_progress") == 0.3333
    assert value("development", "last_assessment") == 0.5
    assert value("promotion", "active_campaigns") == 1 and value("promotion", "spend") == 800.0
    assert value("promotion", "conversion") == 0.2
    assert card["broad_brush_index"] == 0.5  # 400 of the campaign's 800 EUR go to `short`
    attributes = {name: a["value"] for name, a in card["attributes"].items()}
    async with scorecard_world.client("segmentation") as seg:
        scores = [(await ok(await seg.get(f"/segments/{made[s]['id']}/attractiveness"), 200))["score"]
                  for s in ("ready", "short")]
    assert attributes == {"integrated": 1.0, "efficient": 1800.0, "well_known": 12.5,
                          "attractive": round(sum(scores) / 2, 4), "credible": 1.0, "trusted": 50.0}
    assert card["attributes"]["well_known"]["parts"]["market_GB"]["value"] == 13.3333
    assert card["readiness_source"].startswith("dmo") and card["currency"] == "EUR"
    assert card["pillar_calls"] == 12 + 2 + 1 + 2  # first wave, 2 segments, 1 coverage batch, 2 markets
    # What the scorecard asked (the consumer's reactions may also retry routing meanwhile).
    assert sorted(p for p in scorecard_world.promotion.asked if p != "/routing/retry") == [
        "/attribution", "/attribution?source_market=DE", "/attribution?source_market=GB", "/campaigns?limit=500",
        "/performance/providers?limit=500"]


async def test_the_first_scorecard_of_a_day_is_kept_and_trends_run_from_the_last_assessment(
        scorecard_world: ScorecardWorld) -> None:  # noqa: F811
    made = await destination(scorecard_world)
    first = await scorecard(scorecard_world)
    assert await snapshots(scorecard_world) == {TODAY: {**{n: a["value"] for n, a in first["attributes"].items()},
                                                        "broad_brush_index": 0.5}}
    assert first["attributes"]["integrated"]["trend"] is None  # no assessment before today yet

    scorecard_world.promotion.add_campaign("cmp_short", segment_ids=[made["short"]["id"]], spent="800.00")
    second = await scorecard(scorecard_world)
    assert second["broad_brush_index"] == 0.75  # (400 + 800) / 1600 now ...
    assert (await snapshots(scorecard_world))[TODAY]["broad_brush_index"] == 0.5  # ... the day's snapshot stays

    assessed_on, kept_on = TODAY - timedelta(days=10), TODAY - timedelta(days=12)
    async with scorecard_world.client("development") as dev:
        await ok(await dev.post("/assessments", json={"as_of": assessed_on.isoformat(), "segments": [
            {"segment_id": made["ready"]["id"], "current": {"accredited_providers": 0, "weekly_capacity": 0,
                                                            "hotels": 0, "transfer_firms": 0}}]}))
    await put_snapshot(scorecard_world, kept_on, {"integrated": 0.0, "efficient": 3600.0})
    trends = {name: a["trend"] for name, a in (await scorecard(scorecard_world))["attributes"].items()}
    assert trends["integrated"] == {
        "since": assessed_on.isoformat(), "baseline": 0.0, "change": 1.0, "direction": "up", "improved": True,
        "points": [{"assessed_on": assessed_on.isoformat(), "taken_on": kept_on.isoformat(), "value": 0.0}]}
    assert trends["efficient"]["change"] == -1800.0 and trends["efficient"]["improved"] is True
    assert trends["credible"]["baseline"] is None and trends["credible"]["direction"] is None


async def test_a_pillar_that_does_not_answer_fails_the_scorecard_by_name(
        scorecard_world: ScorecardWorld) -> None:  # noqa: F811
    scorecard_world.promotion.failing = True
    async with scorecard_world.client("dmo") as dmo:
        r = await dmo.get("/scorecard")
    assert r.status_code == 502 and r.headers["content-type"] == PROBLEM
    assert "none guessed" in r.json()["detail"] and "promotion answered 500" in r.json()["detail"]
    scorecard_world.promotion.failing = False
    async with scorecard_world.dmo_with(development=f"http://127.0.0.1:{free_port()}") as dmo:
        r = await dmo.get("/scorecard")
    assert r.status_code == 503 and "development did not answer" in r.json()["detail"]
    assert r.headers["retry-after"]
    assert await snapshots(scorecard_world) == {}  # a failed scorecard keeps nothing
    async with scorecard_world.client("dmo") as dmo:
        declared = (await dmo.get("/openapi.json")).json()["paths"]["/scorecard"]["get"]["responses"]
    assert {"502", "503"} <= declared.keys() and PROBLEM in declared["502"]["content"]


async def test_only_staff_read_the_scorecard_and_its_query_is_strict(
        scorecard_world: ScorecardWorld) -> None:  # noqa: F811
    for caller in (FAC, SignedAs(provider("stk_some_clinic"))):
        async with httpx.AsyncClient(base_url=scorecard_world.pair.urls["dmo"], auth=caller) as c:
            r = await c.get("/scorecard")
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    async with scorecard_world.client("dmo") as dmo:
        r = await dmo.get("/scorecard", params={"segment_id": "seg_x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.segment_id"
    assert scorecard_world.promotion.asked == []  # refused before any pillar was asked
