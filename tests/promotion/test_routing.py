"""Routing: an enquiry reaches only providers that can take it now (accredited, fresh
capacity for the specialty in the window, speaking a needed language), at most N of them,
each with a response deadline; with none it stays new with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.promotion.helpers import (
    World,
    able_provider,
    accredit,
    capacity,
    enquiry_body,
    new_enquiry,
    routed_to,
    stakeholder,
)
from tests.support import asgi_client, build, facilitator, free_port, settings_for


async def test_an_enquiry_reaches_only_providers_that_can_take_it(world: World, agent: str, specialty: str) -> None:
    able = await able_provider(world, specialty)
    also_able = await able_provider(world, specialty, languages=["hr", "en"])
    unaccredited = await stakeholder(world, specialties=[specialty])
    await capacity(world, unaccredited, specialty, range(10, 13))
    pending = await stakeholder(world, specialties=[specialty])
    await accredit(world, pending, "pending")
    await capacity(world, pending, specialty, range(10, 13))
    suspended = await able_provider(world, specialty)
    await accredit(world, suspended, "suspended")  # a second, suspended one does not undo the valid one
    out_of_window = await able_provider(world, specialty, days=[30, 31])
    other_language = await able_provider(world, specialty, languages=["de"])

    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    assert enquiry["status"] == "routed"
    assert routed_to(enquiry) == {able, also_able, suspended}
    assert not routed_to(enquiry) & {unaccredited, pending, out_of_window, other_language}
    for a in enquiry["assignments"]:
        respond_by = datetime.fromisoformat(a["respond_by"]) - datetime.fromisoformat(a["routed_at"])
        assert respond_by == timedelta(hours=24) and a["status"] == "pending"


async def test_at_most_n_providers_and_the_most_capacity_first(world: World, agent: str, specialty: str) -> None:
    many = [await able_provider(world, specialty, slots=s) for s in (1, 2, 5, 9)]
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    assert routed_to(enquiry) == set(many[1:])  # N = 3 by default; the one with least capacity left out


async def test_no_provider_leaves_it_new_with_the_reason(world: World, prom: httpx.AsyncClient, agent: str,
                                                         specialty: str) -> None:
    german = await able_provider(world, specialty, languages=["de"])
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    assert enquiry["status"] == "new" and enquiry["assignments"] == []
    assert "speaks en" in enquiry["status_reason"], enquiry["status_reason"]

    # The provider learns English: a retry routes it.
    async with world.client("integration") as integ:
        assert (await integ.patch(f"/stakeholders/{german}", json={"languages": ["de", "en"]})).status_code == 200
    r = await prom.post("/routing/retry", json={})
    assert r.status_code == 200 and r.json()["routed"] >= 1, r.text
    again = (await prom.get(f"/enquiries/{enquiry['id']}")).json()
    assert again["status"] == "routed" and routed_to(again) == {german} and again["status_reason"] is None
    history = (await prom.get(f"/enquiries/{enquiry['id']}/history")).json()["items"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [(None, "new"), ("new", "routed")]


async def test_retry_withdraws_a_provider_that_can_no_longer_take_it_and_replaces_it(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str) -> None:
    first = await able_provider(world, specialty, slots=9)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    assert routed_to(enquiry) == {first}
    spare = await able_provider(world, specialty)
    async with world.client("administration") as adm:
        for acc in (await adm.get("/accreditations", params={"stakeholder_id": first})).json()["items"]:
            r = await adm.patch(f"/accreditations/{acc['id']}", json={"status": "suspended", "reason": "audit"})
            assert r.status_code == 200, r.text

    r = await prom.post("/routing/retry", json={"stakeholder_id": first})
    assert r.status_code == 200 and r.json()["withdrawn"] == 1, r.text
    after = (await prom.get(f"/enquiries/{enquiry['id']}")).json()
    statuses = {a["stakeholder_id"]: a["status"] for a in after["assignments"]}
    assert statuses == {first: "withdrawn", spare: "pending"} and after["status"] == "routed"
    async with world.as_provider(first) as withdrawn:
        assert (await withdrawn.get(f"/enquiries/{enquiry['id']}")).status_code == 404
    assert (await prom.post("/routing/retry", json={"stakeholder_id": first})).json()["withdrawn"] == 0


async def test_a_declined_place_is_offered_to_another_provider(world: World, agent: str, specialty: str) -> None:
    first = await able_provider(world, specialty, slots=9)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    spare = await able_provider(world, specialty)
    async with world.as_provider(first) as prov:
        r = await prov.patch(f"/enquiries/{enquiry['id']}/assignments/{first}", json={"status": "declined"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason", r.text
        r = await prov.patch(f"/enquiries/{enquiry['id']}/assignments/{first}",
                             json={"status": "declined", "reason": "surgeon away"})
        assert r.status_code == 200 and r.json()["status"] == "declined", r.text
        assert (await prov.get(f"/enquiries/{enquiry['id']}")).status_code == 200  # still routed to it, declined
    async with world.as_facilitator(agent) as fac:
        after = (await fac.get(f"/enquiries/{enquiry['id']}")).json()
    assert {a["stakeholder_id"]: a["status"] for a in after["assignments"]} == {first: "declined", spare: "pending"}


async def test_with_administration_down_the_enquiry_is_kept_new_and_routed_later(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str) -> None:
    able = await able_provider(world, specialty)
    settings = settings_for("promotion", world.url, world.tmp, sweep_interval_seconds=0, service_urls={
        **world.pair.urls, "administration": f"http://127.0.0.1:{free_port()}"})
    async with asgi_client(build("promotion", settings), facilitator(agent)) as cut_off:
        r = await cut_off.post("/enquiries", json=enquiry_body(specialty))
    assert r.status_code == 201 and r.json()["status"] == "new", r.text
    assert "could not be read" in r.json()["status_reason"]
    assert (await prom.post("/routing/retry", json={})).json()["routed"] >= 1
    assert routed_to((await prom.get(f"/enquiries/{r.json()['id']}")).json()) == {able}
