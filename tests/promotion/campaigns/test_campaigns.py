"""Campaigns: never broad-brush, segments checked against Segmentation, active only through the
coordinator's launch action, paused with a reason, read-only once ended, public part only for
providers and facilitators."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.pillars import PROBLEM, feed, last_seq, money, unique
from tests.promotion.campaigns.conftest import World
from tests.promotion.campaigns.helpers import (
    COORDINATOR,
    activate,
    broad,
    campaign_body,
    new_campaign,
    new_segment,
)
from tests.support import ADMIN, facilitator, provider


async def patch(pro: httpx.AsyncClient, campaign: dict[str, Any], body: dict[str, Any],
                if_match: str | None = None) -> httpx.Response:
    return await pro.patch(f"/campaigns/{campaign['id']}", json=body,
                           headers={"If-Match": if_match} if if_match else {})


async def test_a_draft_campaign_is_created_for_segments_and_markets(pro: httpx.AsyncClient,
                                                                    seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    start = await last_seq(pro)
    body = campaign_body([segment["id"], segment["id"]], source_markets=["de", "AT"])
    r = await pro.post("/campaigns", json=body, headers={"Idempotency-Key": f"cmp-{segment['id']}"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/campaigns/{created['id']}" and r.headers["etag"] == '"1"'
    assert {k: created[k] for k in ("name", "channels", "starts_on", "ends_on")} == {
        k: body[k] for k in ("name", "channels", "starts_on", "ends_on")}
    assert created["segment_ids"] == [segment["id"]] and created["source_markets"] == ["DE", "AT"]
    assert created["budget"] == money("10000.00") and created["spent"] == money("0.00")
    assert created["status"] == "draft" and created["status_reason"] is None and created["version"] == 1
    assert re.fullmatch(r"PC-[2-9A-HJKMNP-Z]{8}", created["tracking_code"]), created["tracking_code"]

    replay = await pro.post("/campaigns", json=body, headers={"Idempotency-Key": f"cmp-{segment['id']}"})
    assert replay.status_code == 201 and replay.json() == created
    read = await pro.get(f"/campaigns/{created['id']}")
    assert read.json() == created and read.headers["etag"] == '"1"'
    assert (await pro.get("/campaigns", params={"segment_id": segment["id"]})).json()["items"] == [created]

    (event,) = await feed(pro, start)
    assert event["type"] == "campaign.created" and event["subject"] == created["id"]
    assert event["data"] == {"campaign_id": created["id"], "segment_ids": [segment["id"]],
                             "source_markets": ["DE", "AT"], "channels": ["digital", "trade_event"],
                             "status": "draft", "tracking_code": created["tracking_code"], "version": 1}


async def test_each_campaign_gets_its_own_tracking_code(pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    codes = {(await new_campaign(pro, [segment["id"]]))["tracking_code"] for _ in range(5)}
    assert len(codes) == 5


@pytest.mark.parametrize(("changes", "field"), [
    ({"segment_ids": []}, "segment_ids"),
    ({"source_markets": []}, "source_markets"),
])
async def test_a_broad_brush_campaign_is_refused_saying_why(pro: httpx.AsyncClient, seg: httpx.AsyncClient,
                                                            changes: dict[str, Any], field: str) -> None:
    segment = await new_segment(seg)
    start = await last_seq(pro)
    r = await pro.post("/campaigns", json=broad(segment["id"], **changes))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert "broad-brush" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await last_seq(pro) == start
    assert (await pro.get("/campaigns", params={"segment_id": segment["id"]})).json()["items"] == []


async def test_a_campaign_without_segments_at_all_is_refused(pro: httpx.AsyncClient) -> None:
    body = campaign_body([])
    del body["segment_ids"]
    r = await pro.post("/campaigns", json=body)
    assert r.status_code == 422 and "segment_ids" in {e["field"] for e in r.json()["errors"]}


async def test_unknown_or_retired_segments_are_named(pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    known, retired = await new_segment(seg), await new_segment(seg)
    r = await seg.patch(f"/segments/{retired['id']}", json={"status": "retired"})
    assert r.status_code == 200, r.text
    r = await pro.post("/campaigns", json=campaign_body([known["id"], "seg_nobody_knows", retired["id"]]))
    assert r.status_code == 422, r.text
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("segment_ids.1", "unknown segment"), ("segment_ids.2", "the segment is retired")]


@pytest.mark.parametrize(("changes", "field"), [
    ({"channels": ["billboards"]}, "channels.0"),
    ({"channels": []}, "channels"),
    ({"source_markets": ["XX"]}, "source_markets.0"),
    ({"budget": {"amount": 100.5, "currency": "EUR"}}, "budget.amount"),
    ({"starts_on": "2030-06-01", "ends_on": "2030-05-01"}, "body"),
    ({"colour": "red"}, "colour"),
    ({"segment_ids": ["."]}, "segment_ids.0"),  # a path step, never a segment
])
async def test_bad_campaign_fields_are_named(pro: httpx.AsyncClient, seg: httpx.AsyncClient,
                                             changes: dict[str, Any], field: str) -> None:
    segment = await new_segment(seg)
    r = await pro.post("/campaigns", json=broad(segment["id"], **changes))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}, r.json()


async def test_a_direct_activation_is_refused_naming_the_launch_action(pro: httpx.AsyncClient,
                                                                        seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    start = await last_seq(pro)
    r = await patch(pro, campaign, {"status": "active"})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "/dmo/actions/launch-campaign" in r.json()["detail"]
    read = (await pro.get(f"/campaigns/{campaign['id']}")).json()
    assert read["status"] == "draft" and read["version"] == 1 and await last_seq(pro) == start


async def test_only_the_coordinator_identity_may_activate(shared: World, pro: httpx.AsyncClient,
                                                          seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    start = await last_seq(pro)
    for caller in (ADMIN, facilitator("stk_agent"), provider("stk_clinic")):
        async with shared.client("promotion", caller) as other:
            r = await activate(other, campaign["id"])
        assert r.status_code == 403 and "/dmo/actions/launch-campaign" in r.json()["detail"], r.text
    r = await activate(pro, campaign["id"])  # staff too
    assert r.status_code == 403
    assert (await pro.get(f"/campaigns/{campaign['id']}")).json()["status"] == "draft"
    assert await last_seq(pro) == start

    async with shared.client("promotion", COORDINATOR) as coordinator:
        r = await activate(coordinator, campaign["id"], "act_launch_1")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "active" and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
        again = await activate(coordinator, campaign["id"], "act_launch_1")
        assert again.status_code == 200 and again.json() == r.json()
        other_action = await activate(coordinator, campaign["id"], "act_launch_2")
        assert other_action.status_code == 409 and "act_launch_1" in other_action.json()["detail"]
        missing = await activate(coordinator, "cmp_nobody")
        assert missing.status_code == 404

    (event,) = await feed(pro, start)
    assert event["type"] == "campaign.status_changed" and event["subject"] == campaign["id"]
    assert {k: event["data"][k] for k in ("from", "to", "reason", "action_id", "version")} == {
        "from": "draft", "to": "active", "reason": None, "action_id": "act_launch_1", "version": 2}


async def test_pausing_needs_a_reason_and_a_retried_pause_changes_nothing(
        shared: World, pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    r = await patch(pro, campaign, {"status": "paused", "status_reason": "not yet"})
    assert r.status_code == 409 and "Only an active campaign can be paused" in r.json()["detail"]
    async with shared.client("promotion", COORDINATOR) as coordinator:
        assert (await activate(coordinator, campaign["id"], "act_a")).status_code == 200
    start = await last_seq(pro)

    r = await patch(pro, campaign, {"status": "paused"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["status_reason"]
    reason = "segment fell below its threshold"
    async with shared.client("promotion", COORDINATOR) as coordinator:  # as PromotionClient.pause does
        paused = await patch(coordinator, campaign, {"status": "paused", "status_reason": reason})
        assert paused.status_code == 200, paused.text
        assert paused.json()["status"] == "paused" and paused.json()["status_reason"] == reason
        assert paused.json()["version"] == 3
        retried = await patch(coordinator, campaign, {"status": "paused", "status_reason": reason})
        assert retried.status_code == 200 and retried.json() == paused.json() and retried.headers["etag"] == '"3"'
    events = await feed(pro, start)
    assert [(e["type"], e["data"]["from"], e["data"]["to"], e["data"]["reason"]) for e in events] == [
        ("campaign.status_changed", "active", "paused", reason)]

    # A paused campaign is launched again the same way, by the coordinator.
    async with shared.client("promotion", COORDINATOR) as coordinator:
        r = await activate(coordinator, campaign["id"], "act_b")
        assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["status_reason"] is None


async def test_an_ended_campaign_is_read_only(shared: World, pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    ended = await patch(pro, campaign, {"status": "ended", "status_reason": "season over"})
    assert ended.status_code == 200 and ended.json()["status"] == "ended", ended.text
    start = await last_seq(pro)
    for body in ({"name": "Another name"}, {"status": "paused", "status_reason": "x"}, {"status": "draft"}):
        r = await patch(pro, campaign, body)
        assert r.status_code == 409 and "read-only" in r.json()["detail"], (body, r.text)
    retried = await patch(pro, campaign, {"status": "ended", "status_reason": "season over"})
    assert retried.status_code == 200 and retried.json() == ended.json()
    async with shared.client("promotion", COORDINATOR) as coordinator:
        r = await activate(coordinator, campaign["id"])
        assert r.status_code == 409 and "ended" in r.json()["detail"]
    assert await last_seq(pro) == start


async def test_drafts_are_edited_with_if_match_and_launched_ones_keep_their_segments(
        shared: World, pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    first, second = await new_segment(seg), await new_segment(seg)
    campaign = await new_campaign(pro, [first["id"]])
    r = await patch(pro, campaign, {"name": "Stale"}, if_match='"7"')
    assert r.status_code == 412
    r = await patch(pro, campaign, {"segment_ids": [first["id"], second["id"]], "channels": ["press"],
                                    "budget": money("12000.00")}, if_match='"1"')
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    assert r.json()["segment_ids"] == [first["id"], second["id"]] and r.json()["channels"] == ["press"]
    r = await patch(pro, campaign, {"segment_ids": []})
    assert r.status_code == 422 and "broad-brush" in r.json()["detail"]
    r = await patch(pro, campaign, {"segment_ids": ["seg_nobody"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "segment_ids.0"
    r = await patch(pro, campaign, {"ends_on": "2030-01-01"})  # before the stored starts_on
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_on"
    r = await patch(pro, campaign, {"name": None})
    assert r.status_code == 422

    async with shared.client("promotion", COORDINATOR) as coordinator:
        assert (await activate(coordinator, campaign["id"])).status_code == 200
    r = await patch(pro, campaign, {"segment_ids": [second["id"]]})
    assert r.status_code == 409 and "segment_ids" in r.json()["detail"]
    r = await patch(pro, campaign, {"name": "Knees and hips in Kvarner", "channels": ["press", "fam_trip"]})
    assert r.status_code == 200 and r.json()["name"] == "Knees and hips in Kvarner", r.text


async def test_providers_and_facilitators_read_only_active_campaigns_public_part(
        shared: World, pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    draft = await new_campaign(pro, [segment["id"]])
    live = await new_campaign(pro, [segment["id"]])
    async with shared.client("promotion", COORDINATOR) as coordinator:
        assert (await activate(coordinator, live["id"])).status_code == 200
    for caller in (facilitator(unique("stk")), provider(unique("stk"))):
        async with shared.client("promotion", caller) as c:
            listed = (await c.get("/campaigns", params={"segment_id": segment["id"]})).json()["items"]
            assert [i["id"] for i in listed] == [live["id"]]
            (seen,) = listed
            assert seen["tracking_code"] == live["tracking_code"] and seen["status"] == "active"
            assert seen["budget"] is None and seen["spent"] is None and seen["status_reason"] is None
            assert (await c.get(f"/campaigns/{live['id']}")).json() == seen
            hidden = await c.get(f"/campaigns/{draft['id']}")
            assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
            drafts = await c.get("/campaigns", params={"status": "draft", "segment_id": segment["id"]})
            assert drafts.json()["items"] == []
            for method, path in (("POST", "/campaigns"), ("PATCH", f"/campaigns/{live['id']}"),
                                 ("GET", "/attribution"), ("GET", f"/campaigns/{live['id']}/spend")):
                r = await c.request(method, path, json=campaign_body([segment["id"]]) if method == "POST" else
                                    ({"name": "x"} if method == "PATCH" else None))
                assert r.status_code == 403, (method, path, r.text)


async def test_campaigns_are_listed_by_status_segment_and_market(pro: httpx.AsyncClient,
                                                                 seg: httpx.AsyncClient) -> None:
    segment, other = await new_segment(seg), await new_segment(seg)
    a = await new_campaign(pro, [segment["id"]], source_markets=["GB"])
    b = await new_campaign(pro, [other["id"], segment["id"]], source_markets=["IE"])
    await new_campaign(pro, [other["id"]], source_markets=["GB"])
    ids = [c["id"] for c in (await pro.get("/campaigns", params={"segment_id": segment["id"]})).json()["items"]]
    assert ids == [a["id"], b["id"]]
    r = await pro.get("/campaigns", params={"segment_id": segment["id"], "source_market": "ie", "status": "draft"})
    assert [c["id"] for c in r.json()["items"]] == [b["id"]]
    r = await pro.get("/campaigns", params={"segment_id": segment["id"], "limit": 1})
    assert [c["id"] for c in r.json()["items"]] == [a["id"]] and r.json()["next_cursor"]
    r = await pro.get("/campaigns", params={"status": "launched"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.status"
