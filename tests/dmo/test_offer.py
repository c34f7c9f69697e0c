"""The offer and readiness, read from the read model the consumer keeps from the real pillars."""

from __future__ import annotations

import pytest

from services.dmo.schemas import Offer
from tests.dmo.conftest import World
from tests.dmo.helpers import cluster, get, publish_package, set_accreditation
from tests.pillars import FAC, PROBLEM
from tests.support import provider


async def test_the_offer_lists_accredited_providers_with_fresh_capacity_and_packages(world: World) -> None:
    c = await cluster(world)
    package = await publish_package(world, c)
    async with world.client("integration") as integ:
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.8500"}})
        assert r.status_code == 200, r.text
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        offer = await get(fac, f"/segments/{c.segment['id']}/offer", currency="GBP")
    assert sorted(p["stakeholder_id"] for p in offer["providers"]) == sorted(c.providers)
    first = next(p for p in offer["providers"] if p["stakeholder_id"] == c.providers[0])
    assert [a["id"] for a in first["accreditations"]] == [c.accreditations[c.providers[0]]]
    assert len(first["capacity"]) == 8 and all(w["fresh_slots"] == 15 for w in first["capacity"])
    assert [p["id"] for p in first["packages"]] == [package["id"]]
    # The package keeps its own currency; the one asked comes apart, with the rate it took.
    assert {k: first["packages"][0][k] for k in ("total", "total_in", "fx_rates", "fx_base")} == {
        "total": {"amount": "5780.00", "currency": "EUR"}, "total_in": {"amount": "4913.00", "currency": "GBP"},
        "fx_rates": {"GBP": "0.8500"}, "fx_base": "EUR"}
    assert offer["as_of"] is not None and offer["lag_seconds"] >= 0
    assert offer["near_misses"] is None


async def test_the_offer_is_written_byte_for_byte_as_its_schema_writes_it(world: World) -> None:
    """The coordinator encodes the answer it built without validating it again (``offer.encode``)."""
    c = await cluster(world)
    await publish_package(world, c)
    async with world.client("integration") as integ:
        rates = {"GBP": "0.8500", "USD": "1.0800"}
        assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": rates})).status_code == 200
    await set_accreditation(world, c.accreditations[c.providers[1]], "revoked")
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        for params in ({}, {"currency": "GBP", "explain": "true"}, {"limit": "1", "currency": "USD"}):
            r = await fac.get(f"/segments/{c.segment['id']}/offer", params=params)
            assert r.status_code == 200, r.text
            assert Offer.model_validate_json(r.content).model_dump_json(by_alias=True).encode() == r.content


async def test_a_revoked_provider_leaves_the_offer_and_explain_says_why(world: World) -> None:
    c = await cluster(world)
    await world.catch_up()
    await set_accreditation(world, c.accreditations[c.providers[1]], "revoked")
    await world.catch_up()
    async with world.client("dmo", provider(c.providers[0])) as own:
        offer = await get(own, f"/segments/{c.segment['id']}/offer", explain="true")
    assert [p["stakeholder_id"] for p in offer["providers"]] == [c.providers[0]]
    (miss,) = offer["near_misses"]
    assert miss["stakeholder_id"] == c.providers[1]
    assert miss["reasons"] == ["no accreditation valid now (held: revoked)"]


async def test_a_retired_segment_offers_no_provider_and_is_not_ready(world: World) -> None:
    c = await cluster(world)
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        before = await get(fac, f"/segments/{c.segment['id']}/offer")
    assert len(before["providers"]) == 2 and before["retired"] is False
    async with world.client("segmentation") as seg:
        r = await seg.patch(f"/segments/{c.segment['id']}", json={"status": "retired"})
        assert r.status_code == 200, r.text
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        offer = await get(fac, f"/segments/{c.segment['id']}/offer", explain="true")
        found = await get(fac, f"/segments/{c.segment['id']}/readiness")
    assert offer["retired"] is True and offer["providers"] == [] and offer["near_misses"] == []
    assert offer["next_cursor"] is None and offer["as_of"] is not None
    assert found["ready"] is False
    assert [r["requirement"] for r in found["reasons"]] == ["segment_active"]
    assert found["reasons"][0]["have"] == "retired"


async def test_readiness_gives_every_failing_reason_with_its_numbers(world: World) -> None:
    c = await cluster(world, providers=1, threshold=2, capacity=20, per_week=15, languages=("de", "it"))
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        found = await get(fac, f"/segments/{c.segment['id']}/readiness")
    assert found["ready"] is False
    reasons = {r["requirement"]: r for r in found["reasons"]}
    assert set(reasons) == {"accredited_providers", "weekly_capacity", "languages"}
    assert (reasons["accredited_providers"]["needed"], reasons["accredited_providers"]["have"]) == (2, 1)
    assert (reasons["weekly_capacity"]["needed"], reasons["weekly_capacity"]["have"]) == (20, 15)
    assert reasons["languages"]["shortfall"] == 1 and "it" in reasons["languages"]["detail"]
    assert found["current"]["accredited_providers"] == 1 and found["threshold"]["min_weekly_capacity"] == 20


async def test_a_ready_segment_has_no_reasons(world: World) -> None:
    c = await cluster(world)
    await world.catch_up()
    async with world.client("dmo") as staff:
        found = await get(staff, f"/segments/{c.segment['id']}/readiness")
    assert found["ready"] is True and found["reasons"] == []
    assert found["current"]["weekly_capacity"] == 30


async def test_an_unknown_segment_is_a_404_problem(world: World) -> None:
    async with world.client("dmo", FAC.caller) as fac:
        r = await fac.get("/segments/seg_nope/offer")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


async def test_a_window_that_ends_before_it_starts_is_a_422(world: World) -> None:
    c = await cluster(world, providers=1)
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        r = await fac.get(f"/segments/{c.segment['id']}/offer", params={"from": "2030-02-01", "to": "2030-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.to"


@pytest.mark.parametrize(("params", "field"), [({"from": "0"}, "query.from"), ({"to": "1795910400"}, "query.to"),
                                               ({"from": "2030-01-01T00:00:00Z"}, "query.from")])
async def test_a_window_is_given_in_days_written_yyyy_mm_dd(world: World, params: dict[str, str], field: str) -> None:
    """pydantic would read a number as a Unix time (0 is 1970-01-01): only a written day is taken."""
    c = await cluster(world, providers=1)
    await world.catch_up()
    async with world.client("dmo", FAC.caller) as fac:
        r = await fac.get(f"/segments/{c.segment['id']}/offer", params=params)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field], r.text


async def test_health_ready_shows_the_feed_lag(world: World) -> None:
    await world.catch_up()
    async with world.client("dmo") as staff:
        ready = await get(staff, "/health/ready")
    assert ready["status"] == "ok" and ready["lag_seconds"] is not None
    assert set(ready["positions"]) == {"segmentation", "integration", "administration"}


async def test_the_offer_pages_its_providers_by_name(world: World) -> None:
    c = await cluster(world, providers=3)
    await world.catch_up()
    seen: list[str] = []
    cursor = None
    async with world.client("dmo", FAC.caller) as fac:
        for _ in range(3):
            page = await get(fac, f"/segments/{c.segment['id']}/offer", limit=1,
                             **({"cursor": cursor} if cursor else {}))
            seen += [p["name"] for p in page["providers"]]
            cursor = page["next_cursor"]
        assert cursor is None
        whole = await get(fac, f"/segments/{c.segment['id']}/offer")
    assert seen == [p["name"] for p in whole["providers"]] == sorted(seen) and len(seen) == 3
