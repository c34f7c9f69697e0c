"""Quotes: a routed provider's offer, seen by the facilitator once sent, converted on request
through Integration's FX table; at most one accepted per enquiry, even when two race."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx

from tests.promotion.helpers import (
    World,
    able_provider,
    new_enquiry,
    new_specialty,
    quote_body,
    sent_quote,
    stakeholder,
)


async def test_a_provider_quotes_only_what_was_routed_to_it(world: World, agent: str, specialty: str) -> None:
    able, stranger = await able_provider(world, specialty), await stakeholder(world, specialties=[specialty])
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
        assert (await fac.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body())).status_code == 403
    async with world.as_provider(stranger) as other:
        r = await other.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body())
        assert r.status_code == 404, r.text
    async with world.as_provider(able) as prov:
        r = await prov.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body(items=[
            {"description": "Knee", "amount_minor": 500000, "currency": "EUR"},
            {"description": "Stay", "amount_minor": 90050, "currency": "GBP"}]))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items.1.currency", r.text
        r = await prov.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body(items=[
            {"description": "Knee", "amount_minor": 500000, "currency": "EUR"},
            {"description": "Stay", "amount_minor": 90050, "currency": "EUR"}]))
        assert r.status_code == 201, r.text
        draft = r.json()
    assert draft["status"] == "draft" and draft["total"] == {"amount": "5900.50", "currency": "EUR"}


async def test_the_facilitator_sees_sent_quotes_only_and_converted_on_request(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str) -> None:
    async with world.client("integration") as integ:
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.8500", "USD": "1.1000"}})
        assert r.status_code == 200, r.text
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    async with world.as_provider(able) as prov:
        draft = (await prov.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body(300000))).json()
    sent = await sent_quote(world, enquiry["id"], able, amount_minor=170000, currency="GBP")
    async with world.as_facilitator(agent) as fac:
        listed = (await fac.get(f"/enquiries/{enquiry['id']}/quotes")).json()["items"]
        assert [q["id"] for q in listed] == [sent["id"]]
        assert (await fac.get(f"/quotes/{draft['id']}")).status_code == 404
        converted = (await fac.get(f"/quotes/{sent['id']}", params={"currency": "EUR"})).json()
        assert converted["total"] == {"amount": "1700.00", "currency": "GBP"}
        assert converted["total_in"] == {"amount": "2000.00", "currency": "EUR"}
        assert converted["fx_base"] == "EUR" and converted["fx_rates"] == {"GBP": "0.8500"}
        usd = (await fac.get(f"/enquiries/{enquiry['id']}/quotes", params={"currency": "usd"})).json()["items"][0]
        assert usd["total_in"] == {"amount": "2200.00", "currency": "USD"} and set(usd["fx_rates"]) == {"GBP", "USD"}
        r = await fac.get(f"/quotes/{sent['id']}", params={"currency": "XYZ"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.currency", r.text
    assert {q["id"] for q in (await prom.get(f"/enquiries/{enquiry['id']}/quotes")).json()["items"]} == \
        {draft["id"], sent["id"]}


async def test_another_facilitator_and_provider_see_none_of_the_quotes(world: World, agent: str,
                                                                       specialty: str) -> None:
    able, rival = await able_provider(world, specialty), await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    quote = await sent_quote(world, enquiry["id"], able)
    async with world.as_provider(rival) as other:
        assert (await other.get(f"/quotes/{quote['id']}")).status_code == 404
        assert (await other.get(f"/enquiries/{enquiry['id']}/quotes")).json()["items"] == []
    async with world.as_facilitator(await stakeholder(world, "facilitator")) as stranger:
        assert (await stranger.get(f"/quotes/{quote['id']}")).status_code == 404
        assert (await stranger.get(f"/enquiries/{enquiry['id']}/quotes")).status_code == 404
        assert (await stranger.patch(f"/quotes/{quote['id']}", json={"status": "accepted"})).status_code == 404


async def test_a_quote_moves_draft_sent_then_final_and_a_second_acceptance_is_refused(
        world: World, agent: str, specialty: str) -> None:
    able, rival = await able_provider(world, specialty), await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    async with world.as_provider(able) as prov:
        draft = (await prov.post(f"/enquiries/{enquiry['id']}/quotes", json=quote_body())).json()
        r = await prov.patch(f"/quotes/{draft['id']}", json={"items": [
            {"description": "Knee", "amount_minor": 480000, "currency": "EUR"}]})
        assert r.status_code == 200 and r.json()["total"]["amount"] == "4800.00", r.text
        r = await prov.patch(f"/quotes/{draft['id']}", json={"status": "accepted"})
        assert r.status_code == 403, r.text  # a provider does not accept its own offer
        r = await prov.patch(f"/quotes/{draft['id']}", json={"status": "sent"})
        assert r.status_code == 200 and r.json()["sent_at"], r.text
        r = await prov.patch(f"/quotes/{draft['id']}", json={"valid_until": "2099-01-01"})
        assert r.status_code == 409, r.text  # a sent quote is not edited
    second = await sent_quote(world, enquiry["id"], rival)
    async with world.as_facilitator(agent) as fac:
        r = await fac.patch(f"/quotes/{draft['id']}", json={"status": "sent"})
        assert r.status_code == 403, r.text
        assert (await fac.patch(f"/quotes/{draft['id']}", json={"status": "accepted"})).status_code == 200
        r = await fac.patch(f"/quotes/{second['id']}", json={"status": "accepted"})
        assert r.status_code == 409 and draft["id"] in r.json()["detail"], r.text
        assert (await fac.patch(f"/quotes/{second['id']}", json={"status": "rejected"})).json()["status"] == "rejected"


async def test_two_concurrent_acceptances_yield_exactly_one(world: World, agent: str) -> None:
    for _ in range(3):  # a race is a race: run it a few times
        specialty = await new_specialty(world)
        a, b = await able_provider(world, specialty), await able_provider(world, specialty)
        async with world.as_facilitator(agent) as fac:
            enquiry = await new_enquiry(fac, specialty)
        quotes = [await sent_quote(world, enquiry["id"], a), await sent_quote(world, enquiry["id"], b)]
        async with world.as_facilitator(agent) as one, world.as_facilitator(agent) as two:
            answers = await asyncio.gather(*(c.patch(f"/quotes/{q['id']}", json={"status": "accepted"})
                                             for c, q in zip((one, two), quotes, strict=True)))
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        rows = await world.sql("SELECT id FROM quotes WHERE enquiry_id = :e AND status = 'accepted'",
                               e=enquiry["id"])
        assert len(rows) == 1
        accepted = next(r for r in answers if r.status_code == 200).json()
        assert rows[0]["id"] == accepted["id"]


async def test_a_sent_quote_past_valid_until_expires_and_cannot_be_accepted(world: World, agent: str,
                                                                            specialty: str) -> None:
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
    quote = await sent_quote(world, enquiry["id"], able)
    await world.sql("UPDATE quotes SET valid_until = :d WHERE id = :q", d=date(2020, 1, 1), q=quote["id"])
    async with world.as_facilitator(agent) as fac:
        r = await fac.patch(f"/quotes/{quote['id']}", json={"status": "accepted"})
        assert r.status_code == 409 and "expired" in r.json()["detail"], r.text
    while await world.sweep("quote-expiry"):
        pass
    async with world.as_facilitator(agent) as fac:
        assert (await fac.get(f"/quotes/{quote['id']}")).json()["status"] == "expired"
        assert (await fac.patch(f"/quotes/{quote['id']}", json={"status": "accepted"})).status_code == 409
