"""Date-driven events: statuses are right before any sweep, and each event is published once,
however many passes run, one after the other or at the same time in two processes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.administration.helpers import Trio, day, register, submit, verified
from tests.pillars import feed, last_seq


def _of(events: list[dict[str, Any]], subject: str) -> list[str]:
    return [e["type"] for e in events if e["subject"] == subject]


async def _run_until_quiet(trio: Trio, name: str) -> None:
    """Passes until one acts on nothing: what earlier tests left is published too."""
    while await trio.sweep(name):
        pass


async def test_past_expires_on_reads_expired_before_the_sweep_and_is_published_once(
        trio: Trio, adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "accreditation-dates")
    seq = await last_seq(adm)
    lapsed = await verified(adm, await register(reg), issued_on=day(-1100), expires_on=day(-1))
    assert lapsed["status"] == "expired"  # no sweep has run since it was recorded
    assert (await adm.get(f"/accreditations/{lapsed['id']}")).json()["status"] == "expired"
    assert "accreditation.expired" not in _of(await feed(adm, seq), lapsed["id"])

    assert await trio.sweep() == 1
    assert await trio.sweep() == 0
    events = await feed(adm, seq)
    assert _of(events, lapsed["id"]) == ["accreditation.submitted", "accreditation.verified",
                                          "accreditation.expired"]
    expired = next(e for e in events if e["type"] == "accreditation.expired")
    assert expired["data"]["status"] == "expired" and expired["data"]["expires_on"] == day(-1)


async def test_two_concurrent_sweeps_publish_each_event_once(trio: Trio, adm: httpx.AsyncClient,
                                                             reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "accreditation-dates")
    seq = await last_seq(adm)
    hospital = await register(reg)
    expired = [await verified(adm, hospital, expires_on=day(-d)) for d in (1, 2, 30)]
    expiring = [await verified(adm, hospital, expires_on=day(d)) for d in (0, 45, 90)]
    untouched = [await verified(adm, hospital, expires_on=day(91)), await submit(adm, hospital, expires_on=day(-5))]

    results = await asyncio.gather(*(trio.sweep() for _ in range(4)))
    assert sum(r or 0 for r in results) == 6, results   # a pass that found another under way did nothing
    assert await trio.sweep() == 0
    events = await feed(adm, seq)
    for record in expired:
        assert _of(events, record["id"]).count("accreditation.expired") == 1
    for record in expiring:
        assert _of(events, record["id"]).count("accreditation.expiring") == 1
    for record in untouched:
        assert not {"accreditation.expired", "accreditation.expiring"} & set(_of(events, record["id"]))


async def test_an_expiring_accreditation_later_expires_and_a_renewal_is_announced_again(
        trio: Trio, adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "accreditation-dates")
    seq = await last_seq(adm)
    record = await verified(adm, await register(reg), expires_on=day(20))
    assert await trio.sweep() == 1
    # With no window at all it reads valid again, and it has not expired: nothing to announce.
    assert await trio.sweep(accreditation_expiring_days=0) == 0
    # Renewed with a new date inside the window: a new "expiring" for the new date.
    assert (await adm.patch(f"/accreditations/{record['id']}", json={"expires_on": day(40)})).status_code == 200
    assert await trio.sweep() == 1
    assert _of(await feed(adm, seq), record["id"]) == [
        "accreditation.submitted", "accreditation.verified", "accreditation.expiring", "accreditation.updated",
        "accreditation.expiring"]


async def test_the_expiring_window_is_a_setting(trio: Trio, adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "accreditation-dates")
    seq = await last_seq(adm)
    record = await verified(adm, await register(reg), expires_on=day(150))
    assert await trio.sweep() == 0
    assert await trio.sweep(accreditation_expiring_days=180) >= 1  # earlier tests' day-91 ones count too
    assert _of(await feed(adm, seq), record["id"])[-1] == "accreditation.expiring"
    assert (await adm.get(f"/accreditations/{record['id']}")).json()["status"] == "valid"  # the server's 90 days


async def test_a_sweep_leaves_an_audit_entry_per_event(trio: Trio, adm: httpx.AsyncClient,
                                                       reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "accreditation-dates")
    record = await verified(adm, await register(reg), expires_on=day(-1))
    assert await trio.sweep() == 1
    r = await adm.get("/audit", params={"entity": "accreditation", "entity_id": record["id"]})
    entries = r.json()["items"]
    assert [e["action"] for e in entries] == ["submitted", "verified", "expired"]
    assert entries[-1]["actor"] == "sweep:accreditation-dates" and entries[-1]["actor_role"] == "system"
    assert entries[-1]["after"] == {"status": "expired", "expires_on": day(-1)}
    assert entries[-1]["request_id"].startswith("sweep-")


async def test_a_lapsed_membership_is_announced_once(trio: Trio, adm: httpx.AsyncClient,
                                                     reg: httpx.AsyncClient) -> None:
    await _run_until_quiet(trio, "membership-lapses")
    seq = await last_seq(adm)
    stakeholder = await register(reg, kind="hotel")
    body = {"stakeholder_id": stakeholder, "tier": "standard", "dues": {"amount": "1200.00", "currency": "EUR"},
            "period_start": day(-365), "period_end": day(-1)}
    r = await adm.post("/memberships", json=body)
    assert r.status_code == 201 and r.json()["status"] == "lapsed"
    results = await asyncio.gather(trio.sweep("membership-lapses"), trio.sweep("membership-lapses"))
    assert sum(x or 0 for x in results) == 1
    assert await trio.sweep("membership-lapses") == 0
    changes = [e["data"]["change"] for e in await feed(adm, seq) if e["subject"] == r.json()["id"]]
    assert changes == ["created", "lapsed"]
