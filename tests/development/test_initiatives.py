"""Initiatives: creation checked against Segmentation, legal status steps only, progress and
overdue milestones worked out at read time, If-Match on changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.development.helpers import day, initiative_body, new_segment
from tests.pillars import FAC, PROBLEM, feed, last_seq, money
from tests.support import SignedAs, provider


async def create(dev: httpx.AsyncClient, segment_id: str, **changes: Any) -> dict[str, Any]:
    r = await dev.post("/initiatives", json=initiative_body(segment_id, **changes))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def patch(dev: httpx.AsyncClient, initiative: dict[str, Any], body: dict[str, Any],
                if_match: str | None = None) -> httpx.Response:
    headers = {"If-Match": if_match} if if_match else {}
    return await dev.patch(f"/initiatives/{initiative['id']}", json=body, headers=headers)


async def test_an_initiative_is_proposed_with_its_progress_and_overdue_milestones(
        dev: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    start = await last_seq(dev)
    body = initiative_body(segment["id"], description="Bring a third clinic to ISO 22525.")
    r = await dev.post("/initiatives", json=body, headers={"Idempotency-Key": f"ini-{segment['id']}"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/initiatives/{created['id']}" and r.headers["etag"] == '"1"'
    assert {k: created[k] for k in ("title", "segment_id", "gap", "owner", "description")} == {
        k: body[k] for k in ("title", "segment_id", "gap", "owner", "description")}
    assert created["budget"] == {"amount": "45000.00", "currency": "EUR"}
    assert created["status"] == "proposed" and created["status_reason"] is None
    assert [(m["title"], m["done"], m["overdue"]) for m in created["milestones"]] == [
        ("Shortlist candidates", True, False),           # past due, but done
        ("Gap audit against ISO 22525", False, True),     # past due and not done
        ("Certificate issued", False, False)]             # not due yet
    assert created["progress"] == pytest.approx(1 / 3, abs=1e-4) and created["overdue_milestones"] == 1

    replay = await dev.post("/initiatives", json=body, headers={"Idempotency-Key": f"ini-{segment['id']}"})
    assert replay.status_code == 201 and replay.json()["id"] == created["id"]
    listed = (await dev.get("/initiatives", params={"segment_id": segment["id"]})).json()["items"]
    assert listed == [created]
    read = await dev.get(f"/initiatives/{created['id']}")
    assert read.json() == created and read.headers["etag"] == '"1"'

    (event,) = await feed(dev, start)
    assert event["type"] == "initiative.created" and event["subject"] == created["id"]
    assert event["data"] == {"initiative_id": created["id"], "segment_id": segment["id"],
                             "gap": "accredited_providers", "title": body["title"], "status": "proposed",
                             "budget": {"amount": "45000.00", "currency": "EUR"}, "milestones": 3, "version": 1}
    assert "owner" not in event["data"]


async def test_status_moves_only_by_legal_steps(dev: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    initiative = await create(dev, segment["id"])
    start = await last_seq(dev)

    r = await patch(dev, initiative, {"status": "in_progress"})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "from proposed it may go to: approved, cancelled" in r.json()["detail"]
    steps = [("approved", '"2"'), ("in_progress", '"3"')]
    for status, etag in steps:
        r = await patch(dev, initiative, {"status": status, "status_reason": f"board says {status}"})
        assert r.status_code == 200 and r.json()["status"] == status and r.headers["etag"] == etag, r.text
    assert r.json()["status_reason"] == "board says in_progress"

    r = await patch(dev, initiative, {"status": "done"})
    assert r.status_code == 409 and "Gap audit against ISO 22525; Certificate issued" in r.json()["detail"]
    finished = [{**m, "done": True} for m in initiative_body(segment["id"])["milestones"]]
    r = await patch(dev, initiative, {"status": "done", "milestones": finished})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done" and done["progress"] == 1.0 and done["overdue_milestones"] == 0
    assert done["status_reason"] is None  # a new status, and no reason given for it

    for body in ({"status": "cancelled", "status_reason": "too late"}, {"title": "renamed"}, {"status": "done"}):
        r = await patch(dev, initiative, body)
        assert r.status_code == 409 and "from done it may go to: nothing" in r.json()["detail"], r.text
    assert (await dev.get(f"/initiatives/{initiative['id']}")).json() == done

    events = await feed(dev, start)
    assert [(e["type"], e["data"]["from"], e["data"]["to"]) for e in events] == [
        ("initiative.status_changed", "proposed", "approved"), ("initiative.status_changed", "approved", "in_progress"),
        ("initiative.status_changed", "in_progress", "done")]
    assert events[1]["data"]["reason"] == "board says in_progress"


async def test_cancelling_needs_a_reason_and_closes_the_initiative(dev: httpx.AsyncClient,
                                                                   seg: httpx.AsyncClient) -> None:
    initiative = await create(dev, (await new_segment(seg))["id"])
    r = await patch(dev, initiative, {"status": "cancelled"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status_reason"
    r = await patch(dev, initiative, {"status": "cancelled", "status_reason": "the clinic withdrew"})
    assert r.status_code == 200
    cancelled = r.json()
    assert cancelled["status"] == "cancelled" and cancelled["status_reason"] == "the clinic withdrew"
    # A closed initiative flags nothing as overdue: nobody is meant to act on it.
    assert cancelled["overdue_milestones"] == 0 and not any(m["overdue"] for m in cancelled["milestones"])
    r = await patch(dev, initiative, {"status": "approved"})
    assert r.status_code == 409 and "from cancelled it may go to: nothing" in r.json()["detail"]


async def test_changes_honour_if_match_and_replace_milestones_whole(dev: httpx.AsyncClient,
                                                                   seg: httpx.AsyncClient) -> None:
    initiative = await create(dev, (await new_segment(seg))["id"], milestones=[])
    assert initiative["progress"] == 0.0 and initiative["milestones"] == []
    r = await patch(dev, initiative, {"owner": "Head of development", "budget": money("52000", "GBP")}, '"1"')
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    assert r.json()["owner"] == "Head of development" and r.json()["budget"] == {"amount": "52000.00",
                                                                                 "currency": "GBP"}
    stale = await patch(dev, initiative, {"owner": "someone else"}, '"1"')
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    r = await patch(dev, initiative, {"milestones": [{"title": "Kick-off", "due_on": day(-2), "done": True},
                                                     {"title": "Site visit", "due_on": day(-1)}]}, '"2"')
    assert r.status_code == 200
    assert r.json()["progress"] == 0.5 and r.json()["overdue_milestones"] == 1
    assert r.json()["owner"] == "Head of development"
    # Left out, a field keeps its value; set to null, it is a 422.
    r = await patch(dev, initiative, {"milestones": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "milestones"
    assert (await dev.patch("/initiatives/ini_does_not_exist", json={"title": "x"})).status_code == 404


async def test_bad_initiatives_are_422_naming_the_field(dev: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    retired = await new_segment(seg)
    await seg.patch(f"/segments/{retired['id']}", json={"status": "retired"})
    start = await last_seq(dev)
    cases = [
        ({"segment_id": "seg_nope"}, "segment_id", "unknown segment"),
        ({"segment_id": retired["id"]}, "segment_id", "the segment is retired"),
        ({"gap": "vibes"}, "gap", None),
        ({"budget": money("100", "XYZ")}, "budget.currency", None),
        ({"budget": {"amount": 100.5, "currency": "EUR"}}, "budget.amount", None),
        ({"milestones": [{"title": "x", "due_on": "soon"}]}, "milestones.0.due_on", None),
        ({"title": ""}, "title", None),
        ({"status": "done"}, "status", None),
    ]
    for changes, field, message in cases:
        r = await dev.post("/initiatives", json={**initiative_body(segment["id"]), **changes})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (changes, r.text)
        assert r.json()["errors"][0]["field"] == field, (changes, r.json())
        if message:
            assert r.json()["errors"][0]["message"] == message
    assert await feed(dev, start) == []


async def test_lists_filter_and_page(dev: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    segment = await new_segment(seg)
    made = [await create(dev, segment["id"], gap=gap)
            for gap in ("accredited_providers", "languages", "accredited_providers")]
    await patch(dev, made[1], {"status": "approved"})
    ids = [i["id"] for i in made]

    async def listed(**params: Any) -> list[str]:
        r = await dev.get("/initiatives", params={"segment_id": segment["id"], **params})
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert await listed() == ids
    assert await listed(gap="accredited_providers") == [ids[0], ids[2]]
    assert await listed(status="approved") == [ids[1]]
    first = (await dev.get("/initiatives", params={"segment_id": segment["id"], "limit": 2})).json()
    rest = (await dev.get("/initiatives", params={"segment_id": segment["id"], "limit": 2,
                                                  "cursor": first["next_cursor"]})).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == ids and rest["next_cursor"] is None
    for params, field in (({"status": "paused"}, "query.status"), ({"gap": "x"}, "query.gap")):
        r = await dev.get("/initiatives", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


async def test_initiatives_are_for_staff_only(dev: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    initiative = await create(dev, (await new_segment(seg))["id"])
    for auth in (SignedAs(provider("stk_p")), FAC):
        for r in (await dev.get("/initiatives", auth=auth),
                  await dev.get(f"/initiatives/{initiative['id']}", auth=auth),
                  await dev.post("/initiatives", json=initiative_body(initiative["segment_id"]), auth=auth),
                  await dev.patch(f"/initiatives/{initiative['id']}", json={"status": "approved"}, auth=auth),
                  await dev.patch("/initiatives/ini_does_not_exist", json={}, auth=auth)):
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
    assert (await dev.get(f"/initiatives/{initiative['id']}")).json()["status"] == "proposed"
