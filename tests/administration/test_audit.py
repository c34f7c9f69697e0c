"""The audit trail: every change recorded with who, what, before and after; nothing can alter it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from pentad.db import Database
from pentad.identity import Caller, Role
from services.administration import accreditations, schemes
from services.administration.lifecycle import AsOf
from services.administration.models import AuditEntry
from services.administration.schemas import AccreditationPatch, SchemeIn
from tests.administration.helpers import (
    Trio,
    as_facilitator,
    as_provider,
    assert_problem,
    day,
    listed,
    register,
    submit,
)
from tests.pillars import unique
from tests.support import SignedAs


async def _trail(adm: httpx.AsyncClient, entity_id: str) -> list[dict[str, Any]]:
    return await listed(adm, "/audit", params=[("entity_id", entity_id)])


async def test_every_change_is_recorded_with_its_actor_and_request(adm: httpx.AsyncClient,
                                                                   reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    created = await submit(adm, hospital, auth=as_provider(hospital), expires_on=day(500))
    url = f"/accreditations/{created['id']}"
    await adm.patch(url, json={"status": "valid"}, headers={"X-Request-ID": "audit-verify-1"})
    await adm.patch(url, json={"expires_on": day(900)})
    await adm.patch(url, json={"status": "suspended", "reason": "Fire-safety inspection failed"})
    await adm.get(url)  # reads are not changes

    trail = await _trail(adm, created["id"])
    assert [(e["action"], e["actor"], e["actor_role"]) for e in trail] == [
        ("submitted", f"key_prov_{hospital}", "provider"), ("verified", "key_staff", "staff"),
        ("updated", "key_staff", "staff"), ("suspended", "key_staff", "staff")]
    assert trail[0]["actor_stakeholder_id"] == hospital and trail[0]["before"] is None
    assert trail[0]["after"]["state"] == "pending" and trail[0]["after"]["stakeholder_id"] == hospital
    assert trail[1]["request_id"] == "audit-verify-1"
    assert (trail[1]["before"]["state"], trail[1]["after"]["state"]) == ("pending", "valid")
    assert (trail[2]["before"]["expires_on"], trail[2]["after"]["expires_on"]) == (day(500), day(900))
    assert trail[3]["after"]["reason"] == "Fire-safety inspection failed"
    assert all(e["entity"] == "accreditation" for e in trail)


async def test_memberships_complaints_and_schemes_are_audited_too(adm: httpx.AsyncClient,
                                                                  reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg)
    r = await adm.post("/memberships", json={"stakeholder_id": stakeholder, "tier": "standard",
                                             "dues": {"amount": "100", "currency": "EUR"},
                                             "period_start": day(-1), "period_end": day(300)})
    membership = r.json()["id"]
    await adm.patch(f"/memberships/{membership}", json={"status": "cancelled"})
    r = await adm.post("/complaints", json={"stakeholder_id": stakeholder, "category": "service",
                                            "severity": "high", "description": "No interpreter was present."})
    complaint = r.json()["id"]
    await adm.patch(f"/complaints/{complaint}", json={"status": "investigating"})
    await adm.patch(f"/complaints/{complaint}", json={"status": "resolved", "resolution": "Interpreter rota fixed."})
    r = await adm.post("/schemes", json={"code": unique("sch").lower(), "name": "Regional quality mark",
                                         "issuing_body": "Kvarner County", "validity_years": 2,
                                         "covers": "Wellness providers"})
    scheme = r.json()["id"]
    assert [e["action"] for e in await _trail(adm, membership)] == ["created", "cancelled"]
    assert [e["action"] for e in await _trail(adm, complaint)] == ["opened", "investigating", "resolved"]
    assert [(e["entity"], e["action"]) for e in await _trail(adm, scheme)] == [("scheme", "created")]


async def test_filters_and_cursor_paging(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    start = datetime.now(UTC) - timedelta(seconds=1)
    ids = [(await submit(adm, hospital))["id"] for _ in range(3)]
    mine = await submit(adm, hospital, auth=as_provider(hospital))
    params = [("entity", "accreditation"), ("from", start.isoformat())]
    pages, cursor = [], None
    while True:
        r = await adm.get("/audit", params=[*params, ("limit", 2), *([("cursor", cursor)] if cursor else [])])
        assert r.status_code == 200, r.text
        pages.append([e["entity_id"] for e in r.json()["items"]])
        if (cursor := r.json()["next_cursor"]) is None:
            break
    assert [i for page in pages for i in page][-4:] == [*ids, mine["id"]] and all(len(p) <= 2 for p in pages)
    by_provider = await listed(adm, "/audit", params=[("actor", f"key_prov_{hospital}")])
    assert [e["entity_id"] for e in by_provider] == [mine["id"]]
    later = await listed(adm, "/audit", params=[("from", (datetime.now(UTC) + timedelta(hours=1)).isoformat())])
    earlier = await listed(adm, "/audit", params=[*params, ("to", start.isoformat())])
    assert later == [] and earlier == []


@pytest.mark.parametrize(("params", "field"), [
    ({"entity": "invoice"}, "query.entity"),
    ({"from": "2026-01-01T00:00:00"}, "query.from"),   # a time without its offset is ambiguous
    ({"from": "1795928911"}, "query.from"),            # a Unix time is not taken for a date-time
    ({"to": "1795928911.5"}, "query.to"),
    ({"from": "2026-01-01"}, "query.from"),            # nor a day for a moment
    ({"from": "2026-01-01 00:00:00+00:00"}, "query.from"),  # an unencoded + (a space): not read as an offset
    ({"cursor": "not-a-cursor"}, "query.cursor"),
    ({"who": "me"}, "query.who"),
])
async def test_bad_audit_queries_are_422(adm: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    assert_problem(await adm.get("/audit", params=params), 422, field)


async def test_only_staff_read_the_trail_and_no_route_changes_it(adm: httpx.AsyncClient,
                                                                 reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    for auth in (as_provider(hospital), as_facilitator(hospital)):
        assert_problem(await adm.get("/audit", auth=auth), 403)
    admin = SignedAs(Caller("key_admin", Role.admin))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_problem(await adm.request(method, "/audit", json={}, auth=admin), 405)
    entry = (await adm.get("/audit", params={"limit": 1})).json()["items"][0]
    for method in ("GET", "PATCH", "DELETE"):
        assert_problem(await adm.request(method, f"/audit/{entry['id']}", auth=admin), 404)


async def test_the_database_refuses_to_alter_the_trail(trio: Trio, adm: httpx.AsyncClient,
                                                       reg: httpx.AsyncClient) -> None:
    created = await submit(adm, await register(reg))
    before = await _trail(adm, created["id"])
    statements = [f"UPDATE audit_entries SET action = 'nothing' WHERE entity_id = '{created['id']}'",
                  f"DELETE FROM audit_entries WHERE entity_id = '{created['id']}'", "DELETE FROM audit_entries"]
    db = Database.connect(trio.url)
    try:
        if db.dialect == "postgresql":
            statements.append("TRUNCATE audit_entries")
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.engine.begin() as conn:
                    await conn.execute(sa.text(statement))
    finally:
        await db.dispose()
    assert await _trail(adm, created["id"]) == before


async def test_a_change_rolled_back_leaves_no_entry(trio: Trio, adm: httpx.AsyncClient,
                                                    reg: httpx.AsyncClient) -> None:
    created = await submit(adm, await register(reg))
    staff = Caller("key_staff", Role.staff)
    db = Database.connect(trio.url)
    try:
        async with db.sessionmaker() as session:
            accreditation = await accreditations.get_or_raise(session, accreditation_id=created["id"])
            await accreditations.update(session, actor=staff, accreditation=accreditation,
                                        patch=AccreditationPatch(status="valid"), as_of=AsOf(now=datetime.now(UTC)))
            await schemes.create(session, actor=staff, scheme_in=SchemeIn(
                code="rolled_back", name="x", issuing_body="x", validity_years=1, covers="x"))
            await session.flush()
            assert await session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.entity_id == created["id"])) == 2  # written in the change's transaction...
            await session.rollback()                          # ...and gone with it
    finally:
        await db.dispose()
    assert [e["action"] for e in await _trail(adm, created["id"])] == ["submitted"]
    assert (await adm.get("/schemes", params={"code": "rolled_back"})).json()["items"] == []
    # A refused request (409) writes nothing either.
    assert_problem(await adm.patch(f"/accreditations/{created['id']}", json={"status": "suspended", "reason": "x"}),
                   409)
    assert [e["action"] for e in await _trail(adm, created["id"])] == ["submitted"]
