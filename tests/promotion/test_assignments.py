"""Assignments: the provider answers by its deadline or is flagged (once) by the sweep, and
its response performance is counted; staff see every provider's, a provider its own."""

from __future__ import annotations

import asyncio

import httpx

from tests.pillars import feed, last_seq
from tests.promotion.helpers import LONG_AGO, World, able_provider, new_enquiry, new_specialty, quote_body


async def test_a_breached_deadline_is_flagged_once(world: World, prom: httpx.AsyncClient, agent: str,
                                                   specialty: str) -> None:
    while await world.sweep("assignment-deadlines"):
        pass  # what earlier tests left
    late, prompt = await able_provider(world, specialty), await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    seq = await last_seq(prom)
    await world.sql("UPDATE assignments SET respond_by = :at WHERE enquiry_id = :e",
                    at=LONG_AGO, e=enquiry["id"])
    async with world.as_provider(prompt) as prov:
        r = await prov.patch(f"/enquiries/{enquiry['id']}/assignments/{prompt}", json={"status": "responded"})
        assert r.status_code == 200 and r.json()["breached"] is False, r.text
        r = await prov.patch(f"/enquiries/{enquiry['id']}/assignments/{late}", json={"status": "responded"})
        assert r.status_code == 403, r.text  # another provider's place

    results = await asyncio.gather(*(world.sweep("assignment-deadlines") for _ in range(3)))
    assert sum(r or 0 for r in results) == 1, results
    assert await world.sweep("assignment-deadlines") == 0
    breached = [e for e in await feed(prom, seq) if e["type"] == "assignment.breached"]
    assert [(e["data"]["enquiry_id"], e["data"]["stakeholder_id"]) for e in breached] == [(enquiry["id"], late)]
    after = (await prom.get(f"/enquiries/{enquiry['id']}")).json()
    assert {a["stakeholder_id"]: a["breached"] for a in after["assignments"]} == {late: True, prompt: False}
    assert after["status"] == "responded"

    performance = {p["stakeholder_id"]: p for p in (await prom.get("/performance/providers",
                                                                    params={"limit": 500})).json()["items"]}
    assert performance[late] | {} == {"stakeholder_id": late, "assignments": 1, "responded": 0, "breached": 1,
                                      "breach_rate": 1.0, "median_response_seconds": None}
    assert performance[prompt]["breach_rate"] == 0.0 and performance[prompt]["median_response_seconds"] > 0
    async with world.as_provider(late) as own:
        mine = (await own.get("/performance/providers")).json()["items"]
    assert [p["stakeholder_id"] for p in mine] == [late]
    async with world.as_facilitator(agent) as fac:
        assert (await fac.get("/performance/providers")).status_code == 403


async def test_an_answer_is_given_once(world: World, agent: str) -> None:
    specialty = await new_specialty(world)
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    url = f"/enquiries/{enquiry['id']}/assignments/{able}"
    async with world.as_provider(able) as prov:
        assert (await prov.patch(url, json={"status": "responded"})).status_code == 200
        assert (await prov.patch(url, json={"status": "responded"})).status_code == 200  # the same again: nothing
        r = await prov.patch(url, json={"status": "declined", "reason": "too late to change"})
        assert r.status_code == 409, r.text
        r = await prov.patch(url, json={"status": "withdrawn"})
        assert r.status_code == 422, r.text


async def test_staff_move_a_deadline_and_one_passed_reads_breached_at_once(world: World, prom: httpx.AsyncClient,
                                                                          agent: str) -> None:
    specialty = await new_specialty(world)
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    url = f"/enquiries/{enquiry['id']}/assignments/{able}"
    async with world.as_provider(able) as prov:
        r = await prov.patch(url, json={"respond_by": "2020-01-01T00:00:00Z"})
        assert r.status_code == 403, r.text
    r = await prom.patch(url, json={"respond_by": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["breached"] is True and r.json()["status"] == "pending", r.text
    seen = (await prom.get(f"/enquiries/{enquiry['id']}")).json()["assignments"]
    assert [a["breached"] for a in seen] == [True]  # before any sweep has run


async def test_staff_enter_a_quote_for_the_routed_provider_only(world: World, prom: httpx.AsyncClient,
                                                                agent: str) -> None:
    specialty = await new_specialty(world)
    able, stranger = await able_provider(world, specialty), await able_provider(world, await new_specialty(world))
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    url = f"/enquiries/{enquiry['id']}/quotes"
    r = await prom.post(url, json=quote_body())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stakeholder_id", r.text
    assert (await prom.post(url, json=quote_body(stakeholder_id=stranger))).status_code == 409
    r = await prom.post(url, json=quote_body(stakeholder_id=able, status="sent"))
    assert r.status_code == 201 and r.json()["stakeholder_id"] == able, r.text
    async with world.as_provider(able) as prov:
        r = await prov.post(url, json=quote_body(stakeholder_id=stranger))
        assert r.status_code == 403, r.text
