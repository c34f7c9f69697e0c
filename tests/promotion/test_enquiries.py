"""Enquiries: who files them and who sees them, the segment and campaign they carry, and the
funnel's steps by hand (illegal ones refused, every one audited)."""

from __future__ import annotations

from typing import Any

import httpx

from pentad.ids import new_id
from tests.pillars import unique
from tests.promotion.helpers import (
    PROBLEM,
    World,
    able_provider,
    enquiry_body,
    new_enquiry,
    routed_to,
    sent_quote,
    stakeholder,
)


async def test_a_facilitator_and_a_provider_see_only_their_own(world: World, prom: httpx.AsyncClient, agent: str,
                                                               specialty: str) -> None:
    other_agent = await stakeholder(world, "facilitator")
    able, other_provider = await able_provider(world, specialty), await stakeholder(world, specialties=[specialty])
    async with world.as_facilitator(agent) as fac, world.as_facilitator(other_agent) as other:
        mine = await new_enquiry(fac, specialty)
        theirs = await new_enquiry(other, specialty)
        assert mine["facilitator_id"] == agent and mine["contact"]["email"] == "ann.patient@example.org"
        assert mine["consent"]["recorded_by"] == f"key_fac_{agent}"
        listed = {e["id"] for e in (await fac.get("/enquiries", params={"limit": 500})).json()["items"]}
        assert mine["id"] in listed and theirs["id"] not in listed
        r = await fac.get(f"/enquiries/{theirs['id']}")
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert (await fac.delete(f"/enquiries/{theirs['id']}/contact")).status_code == 404
        assert (await fac.patch(f"/enquiries/{theirs['id']}", json={"status": "lost",
                                                                     "status_reason": "x"})).status_code == 404
    async with world.as_provider(able) as prov:
        seen = (await prov.get(f"/enquiries/{mine['id']}")).json()
        assert seen["contact"] is None and seen["consent"] is None and seen["facilitator_id"] is None
        assert [a["stakeholder_id"] for a in seen["assignments"]] == [able]
        listed = {e["id"] for e in (await prov.get("/enquiries", params={"limit": 500})).json()["items"]}
        assert {mine["id"], theirs["id"]} <= listed
        r = await prov.patch(f"/enquiries/{mine['id']}", json={"status": "lost", "status_reason": "x"})
        assert r.status_code == 403  # it reads the enquiry, the funnel is not its to move
    async with world.as_provider(other_provider) as stranger:
        assert (await stranger.get(f"/enquiries/{mine['id']}")).status_code == 404
        assert (await stranger.get("/enquiries")).json()["items"] == []
    everything = {e["id"] for e in (await prom.get("/enquiries", params={"limit": 500})).json()["items"]}
    assert {mine["id"], theirs["id"]} <= everything


async def test_a_provider_key_cannot_file_and_consent_is_required(world: World, agent: str, specialty: str) -> None:
    able = await able_provider(world, specialty)
    async with world.as_provider(able) as prov:
        assert (await prov.post("/enquiries", json=enquiry_body(specialty))).status_code == 403
    async with world.as_facilitator(agent) as fac:
        body = enquiry_body(specialty)
        del body["consent"]
        r = await fac.post("/enquiries", json=body)
        assert r.status_code == 422 and "consent" in {e["field"] for e in r.json()["errors"]}, r.text
        r = await fac.post("/enquiries", json=enquiry_body(specialty, contact={"name": "No Way To Reach"}))
        assert r.status_code == 422, r.text
        r = await fac.post("/enquiries", json=enquiry_body(specialty, facilitator_id=unique("stk")))
        assert r.status_code == 403, r.text
        assert (await fac.get("/enquiries")).json()["items"] == []  # nothing was filed


async def test_the_segment_is_matched_when_left_out(world: World, agent: str, specialty: str) -> None:
    async with world.client("segmentation") as seg:
        r = await seg.post("/segments", json={
            "name": unique("segment"), "family": "medical", "specialties": [specialty], "source_markets": ["IE"],
            "payer_types": ["self_pay"], "motivation": "have_to", "languages": ["en"],
            "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}})
        assert r.status_code == 201, r.text
        segment = r.json()
    async with world.as_facilitator(agent) as fac:
        matched = await new_enquiry(fac, specialty, source_market="IE")
        assert (matched["segment_id"], matched["segment_matched"]) == (segment["id"], True)
        unmatched = await new_enquiry(fac, specialty, source_market="US")
        assert (unmatched["segment_id"], unmatched["segment_matched"]) == (None, False)
        given = await new_enquiry(fac, specialty, segment_id=segment["id"])
        assert (given["segment_id"], given["segment_matched"]) == (segment["id"], False)
        r = await fac.post("/enquiries", json=enquiry_body(specialty, segment_id="seg_nope"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "segment_id", r.text


async def _campaign(world: World) -> dict[str, Any]:
    """A campaign row as the campaign routes would write it (they are another part of the service)."""
    row = {"id": new_id("cmp"), "code": unique("TRK")[:20]}
    await world.sql(
        "INSERT INTO campaigns (id, name, segment_ids, source_markets, channels, budget, status, tracking_code, "
        "version, created_at, updated_at) VALUES (:id, 'Knees GB', '[\"seg_x\"]', '[\"GB\"]', '[\"digital\"]', "
        "'{\"amount\": \"1000.00\", \"currency\": \"EUR\"}', 'active', :code, 1, CURRENT_TIMESTAMP, "
        "CURRENT_TIMESTAMP)", **row)
    return row


async def test_a_campaign_by_id_or_tracking_code_and_unknown_ones_refused(world: World, agent: str,
                                                                          specialty: str) -> None:
    campaign = await _campaign(world)
    async with world.as_facilitator(agent) as fac:
        by_code = await new_enquiry(fac, specialty, tracking_code=campaign["code"])
        assert (by_code["campaign_id"], by_code["tracking_code"]) == (campaign["id"], campaign["code"])
        by_id = await new_enquiry(fac, specialty, campaign_id=campaign["id"])
        assert (by_id["campaign_id"], by_id["tracking_code"]) == (campaign["id"], campaign["code"])
        r = await fac.post("/enquiries", json=enquiry_body(specialty, campaign_id=campaign["id"],
                                                           tracking_code="OTHER"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tracking_code", r.text
        for field, value in (("tracking_code", "NOPE-1"), ("campaign_id", "cmp_nope")):
            r = await fac.post("/enquiries", json=enquiry_body(specialty, **{field: value}))
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        listed = (await fac.get("/enquiries", params={"campaign_id": campaign["id"]})).json()["items"]
        assert {e["id"] for e in listed} == {by_code["id"], by_id["id"]}


async def test_the_funnel_by_hand_refuses_illegal_steps_and_audits_every_one(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str) -> None:
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
        url = f"/enquiries/{enquiry['id']}"
        for status in ("treated", "booked"):
            r = await fac.patch(url, json={"status": status, "booked_quote_id": "quo_x"})
            assert r.status_code in (409, 422), r.text
        r = await fac.patch(url, json={"status": "quoted"})
        assert r.status_code == 409 and "not by hand" in r.json()["detail"], r.text
        quote = await sent_quote(world, enquiry["id"], able)
        assert (await fac.get(url)).json()["status"] == "quoted"
        r = await fac.patch(url, json={"status": "booked", "booked_quote_id": quote["id"]})
        assert r.status_code == 409, r.text  # the quote is sent, not accepted
        assert (await fac.patch(f"/quotes/{quote['id']}", json={"status": "accepted"})).status_code == 200
        r = await fac.patch(url, json={"status": "booked", "booked_quote_id": quote["id"]},
                            headers={"If-Match": '"999"'})
        assert r.status_code == 412, r.text
        r = await fac.patch(url, json={"status": "booked", "booked_quote_id": quote["id"]})
        assert r.status_code == 200 and r.json()["booked_quote_id"] == quote["id"], r.text
        r = await fac.patch(url, json={"status": "treated"})
        assert r.status_code == 200 and r.json()["closed_at"] is not None, r.text
        r = await fac.patch(url, json={"status": "lost", "status_reason": "changed their mind"})
        assert r.status_code == 409 and "final" in r.json()["errors"][0]["message"], r.text
        history = (await fac.get(f"{url}/history")).json()["items"]
    assert [h["to_status"] for h in history] == ["new", "routed", "responded", "quoted", "booked", "treated"]
    assert history[1]["actor"] == "service:promotion" and history[4]["actor"] == f"key_fac_{agent}"
    assert routed_to(enquiry) == {able}


async def test_lost_needs_its_reason(world: World, agent: str, specialty: str) -> None:
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
        url = f"/enquiries/{enquiry['id']}"
        r = await fac.patch(url, json={"status": "lost"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status_reason", r.text
        r = await fac.patch(url, json={"status": "lost", "status_reason": "went elsewhere"})
        assert r.status_code == 200 and (r.json()["status"], r.json()["status_reason"]) == ("lost", "went elsewhere")
