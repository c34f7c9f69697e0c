"""Complaints: SLA by severity, the workflow, overdue on read, who files and who reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pentad.db import Database
from tests.administration.helpers import as_facilitator, as_provider, assert_problem, listed, register
from tests.pillars import feed, last_seq

SLA_HOURS = {"low": 720, "medium": 168, "high": 72, "critical": 24}  # the defaults


def complaint_body(whose: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"stakeholder_id": whose, "category": "transfer", "severity": "medium",
                            "description": "The driver was 90 minutes late at Rijeka airport."}
    body.update(changes)
    return body


async def file(adm: httpx.AsyncClient, stakeholder_id: str, auth: Any = None, **changes: Any) -> dict[str, Any]:
    r = await adm.post("/complaints", json=complaint_body(stakeholder_id, **changes),
                       **({"auth": auth} if auth else {}))
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize("severity", SLA_HOURS)
async def test_the_due_date_follows_the_severity(adm: httpx.AsyncClient, reg: httpx.AsyncClient,
                                                 severity: str) -> None:
    created = await file(adm, await register(reg, kind="transfer"), severity=severity)
    opened = datetime.fromisoformat(created["created_at"])
    assert datetime.fromisoformat(created["due_at"]) - opened == timedelta(hours=SLA_HOURS[severity])
    assert created["status"] == "open" and created["overdue"] is False and created["filed_by"] is None


async def test_the_workflow_opens_investigates_and_closes_with_a_resolution(
        adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg, kind="transfer")
    seq = await last_seq(adm)
    created = await file(adm, stakeholder, enquiry_id="enq_123")
    url = f"/complaints/{created['id']}"
    assert_problem(await adm.patch(url, json={"status": "resolved", "resolution": "Refunded"}), 409, "status")
    assert (await adm.patch(url, json={"status": "investigating"})).json()["status"] == "investigating"
    assert_problem(await adm.patch(url, json={"status": "resolved"}), 422, "resolution")
    assert_problem(await adm.patch(url, json={"resolution": "Refunded"}), 422, "resolution")
    r = await adm.patch(url, json={"status": "resolved", "resolution": "Transfer refunded; driver retrained."})
    assert r.status_code == 200
    closed = r.json()
    assert closed["status"] == "resolved" and closed["closed_at"] and closed["resolution"].startswith("Transfer")
    problem = assert_problem(await adm.patch(url, json={"status": "investigating"}), 409, "status")
    assert "resolved is final" in problem["errors"][0]["message"]
    assert_problem(await adm.patch(url, json={"severity": "high"}), 409, "status")
    events = await feed(adm, seq)
    assert [e["type"] for e in events] == ["complaint.opened", "complaint.closed"]
    assert events[0]["data"]["enquiry_id"] == "enq_123" and events[1]["data"]["status"] == "resolved"
    assert "description" not in events[0]["data"] and "resolution" not in events[1]["data"]


async def test_a_complaint_can_be_dismissed_after_investigation(adm: httpx.AsyncClient,
                                                                reg: httpx.AsyncClient) -> None:
    created = await file(adm, await register(reg), category="billing", severity="low")
    url = f"/complaints/{created['id']}"
    await adm.patch(url, json={"status": "investigating"})
    r = await adm.patch(url, json={"status": "dismissed", "resolution": "Invoice matched the signed quote."})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"


async def test_overdue_is_flagged_on_read_and_in_filters(trio: Any, adm: httpx.AsyncClient,
                                                         reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg)
    created = await file(adm, stakeholder, severity="critical")
    closed = await file(adm, stakeholder, severity="critical")
    db = Database.connect(trio.url)
    try:
        async with db.engine.begin() as conn:  # as if both had been opened two days ago
            await conn.execute(sa.text("UPDATE complaints SET created_at = :t, due_at = :t WHERE stakeholder_id = :s"),
                               {"t": datetime.fromisoformat(created["created_at"]) - timedelta(days=2),
                                "s": stakeholder})
    finally:
        await db.dispose()
    await adm.patch(f"/complaints/{closed['id']}", json={"status": "investigating"})
    await adm.patch(f"/complaints/{closed['id']}", json={"status": "resolved", "resolution": "Apologised."})
    assert (await adm.get(f"/complaints/{created['id']}")).json()["overdue"] is True
    assert (await adm.get(f"/complaints/{closed['id']}")).json()["overdue"] is False  # closed ones never are
    overdue = await listed(adm, "/complaints", params=[("stakeholder_id", stakeholder), ("overdue", "true")])
    on_time = await listed(adm, "/complaints", params=[("stakeholder_id", stakeholder), ("overdue", "false")])
    assert [c["id"] for c in overdue] == [created["id"]] and [c["id"] for c in on_time] == [closed["id"]]
    # Re-triaged to low, its SLA (720 h from opening) is not yet spent.
    r = await adm.patch(f"/complaints/{created['id']}", json={"severity": "low"})
    assert r.json()["overdue"] is False


INVALID = {
    "unknown severity": ({"severity": "urgent"}, "severity"),
    "unknown category": ({"category": "weather"}, "category"),
    "empty description": ({"description": ""}, "description"),
    "unknown stakeholder": ({"stakeholder_id": "stk_nobody"}, "stakeholder_id"),
    "unknown field": ({"patient_email": "a@b.c"}, "patient_email"),
}


@pytest.mark.parametrize("case", INVALID)
async def test_bad_complaints_are_422_naming_the_field(adm: httpx.AsyncClient, reg: httpx.AsyncClient,
                                                       case: str) -> None:
    stakeholder = await register(reg)
    changes, field = INVALID[case]
    assert_problem(await adm.post("/complaints", json=complaint_body(stakeholder, **changes)), 422, field)
    assert await listed(adm, "/complaints", params=[("stakeholder_id", stakeholder)]) == []


async def test_facilitators_follow_what_they_filed_and_providers_what_is_about_them(
        adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    provider, other = await register(reg), await register(reg)
    agent = as_facilitator(await register(reg, kind="facilitator"))
    rival = as_facilitator(await register(reg, kind="facilitator"))
    filed = await file(adm, provider, auth=agent)
    assert filed["filed_by"] == agent.caller.stakeholder_id
    by_staff = await file(adm, provider)
    elsewhere = await file(adm, other, auth=rival)

    assert [c["id"] for c in await listed(adm, "/complaints", auth=agent)] == [filed["id"]]
    assert (await adm.get(f"/complaints/{filed['id']}", auth=agent)).status_code == 200
    for hidden in (by_staff, elsewhere):
        assert_problem(await adm.get(f"/complaints/{hidden['id']}", auth=agent), 404)
    mine = as_provider(provider)
    assert {c["id"] for c in await listed(adm, "/complaints", auth=mine)} == {filed["id"], by_staff["id"]}
    assert_problem(await adm.get(f"/complaints/{elsewhere['id']}", auth=mine), 404)
    assert_problem(await adm.get("/complaints", params={"stakeholder_id": other}, auth=mine), 403)
    assert_problem(await adm.post("/complaints", json=complaint_body(other), auth=mine), 403)
    for auth in (agent, mine):
        assert_problem(await adm.patch(f"/complaints/{filed['id']}", json={"status": "investigating"}, auth=auth),
                       403)
    assert (await adm.get(f"/complaints/{filed['id']}")).json()["status"] == "open"
