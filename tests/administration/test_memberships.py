"""Memberships: tier, dues, period; lapsing when the period ends; renewal and cancellation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.administration.helpers import as_facilitator, as_provider, assert_problem, day, listed, register
from tests.pillars import feed, last_seq


def membership_body(whose: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"stakeholder_id": whose, "tier": "standard",
                            "dues": {"amount": "1500.00", "currency": "EUR"}, "period_start": day(-30),
                            "period_end": day(335)}
    body.update(changes)
    return body


async def open_membership(adm: httpx.AsyncClient, stakeholder_id: str, **changes: Any) -> dict[str, Any]:
    r = await adm.post("/memberships", json=membership_body(stakeholder_id, **changes))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_membership_is_opened_and_announced(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hotel = await register(reg, kind="hotel")  # any stakeholder may be a member, not only providers
    seq = await last_seq(adm)
    body = membership_body(hotel, dues={"amount": "980.5", "currency": "gbp"})
    r = await adm.post("/memberships", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "active" and created["dues"] == {"amount": "980.50", "currency": "GBP"}
    assert r.headers["location"] == f"/memberships/{created['id']}"
    events = await feed(adm, seq)
    assert [(e["type"], e["data"]["change"], e["data"]["status"]) for e in events] == [
        ("membership.changed", "created", "active")]
    assert events[0]["data"]["dues"] == {"amount": "980.50", "currency": "GBP"}


async def test_status_follows_the_period(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg, kind="transfer")
    past = await open_membership(adm, stakeholder, period_start=day(-400), period_end=day(-36))
    last_day = await open_membership(adm, stakeholder, period_start=day(-35), period_end=day(0))
    assert (past["status"], last_day["status"]) == ("lapsed", "active")
    for status, expected in (("lapsed", {past["id"]}), ("active", {last_day["id"]}), ("cancelled", set())):
        found = await listed(adm, "/memberships", params=[("stakeholder_id", stakeholder), ("status", status)])
        assert {m["id"] for m in found} == expected


INVALID = {
    "period ends before it starts": ({"period_start": day(10), "period_end": day(5)}, "period_end"),
    "unknown currency": ({"dues": {"amount": "10", "currency": "XYZ"}}, "dues.currency"),
    "dues as a float": ({"dues": {"amount": 10.5, "currency": "EUR"}}, "dues.amount"),
    "negative dues": ({"dues": {"amount": "-1", "currency": "EUR"}}, "dues.amount"),
    "unknown tier": ({"tier": "platinum"}, "tier"),
    "unknown stakeholder": ({"stakeholder_id": "stk_nobody"}, "stakeholder_id"),
}


@pytest.mark.parametrize("case", INVALID)
async def test_bad_memberships_are_422_naming_the_field(adm: httpx.AsyncClient, reg: httpx.AsyncClient,
                                                        case: str) -> None:
    stakeholder = await register(reg)
    changes, field = INVALID[case]
    assert_problem(await adm.post("/memberships", json=membership_body(stakeholder, **changes)), 422, field)
    assert await listed(adm, "/memberships", params=[("stakeholder_id", stakeholder)]) == []


async def test_overlapping_periods_are_409(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg)
    first = await open_membership(adm, stakeholder, period_start=day(0), period_end=day(364))
    problem = assert_problem(await adm.post("/memberships", json=membership_body(
        stakeholder, period_start=day(364), period_end=day(700))), 409, "period_start")
    assert first["id"] in problem["detail"]
    nxt = await open_membership(adm, stakeholder, period_start=day(365), period_end=day(729))
    assert_problem(await adm.patch(f"/memberships/{first['id']}", json={"period_end": day(400)}), 409, "period_end")
    assert (await adm.patch(f"/memberships/{nxt['id']}", json={"status": "cancelled"})).status_code == 200
    r = await adm.patch(f"/memberships/{first['id']}", json={"period_end": day(400)})  # room again
    assert r.status_code == 200 and r.json()["period_end"] == day(400)


async def test_renewal_reactivates_and_cancellation_is_final(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    stakeholder = await register(reg)
    lapsed = await open_membership(adm, stakeholder, period_start=day(-365), period_end=day(-1))
    seq = await last_seq(adm)
    url = f"/memberships/{lapsed['id']}"
    r = await adm.patch(url, json={"period_end": day(364), "tier": "premium"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["tier"] == "premium"
    assert_problem(await adm.patch(url, json={"tier": "standard"}, headers={"If-Match": '"1"'}), 412)
    r = await adm.patch(url, json={"status": "cancelled"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancelled_at"]
    again = await adm.patch(url, json={"status": "cancelled"})
    assert again.status_code == 200 and again.headers["etag"] == r.headers["etag"]  # a no-op
    assert_problem(await adm.patch(url, json={"period_end": day(700)}), 409, "status")
    assert_problem(await adm.patch(url, json={"status": "active"}), 422, "status")
    assert_problem(await adm.patch(url, json={"period_end": day(-400)}), 409)
    changes = [(e["data"]["change"], e["data"]["changed"]) for e in await feed(adm, seq)]
    assert changes == [("updated", ["period_end", "tier"]), ("cancelled", ["cancelled_at"])]


async def test_a_patch_that_ends_before_the_start_is_422(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    created = await open_membership(adm, await register(reg))
    assert_problem(await adm.patch(f"/memberships/{created['id']}", json={"period_end": day(-31)}), 422,
                   "period_end")
    assert_problem(await adm.patch(f"/memberships/{created['id']}", json={"period_end": None}), 422, "period_end")


async def test_bound_keys_read_their_own_memberships_only(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    mine, theirs = await register(reg), await register(reg)
    agent = await register(reg, kind="facilitator")
    own, other = await open_membership(adm, mine), await open_membership(adm, theirs)
    agents = await open_membership(adm, agent, tier="associate")
    for auth, visible, hidden in ((as_provider(mine), own, other), (as_facilitator(agent), agents, own)):
        assert [m["id"] for m in await listed(adm, "/memberships", auth=auth)] == [visible["id"]]
        assert (await adm.get(f"/memberships/{visible['id']}", auth=auth)).status_code == 200
        assert_problem(await adm.get(f"/memberships/{hidden['id']}", auth=auth), 403)
        assert_problem(await adm.get("/memberships", params={"stakeholder_id": hidden["stakeholder_id"]},
                                     auth=auth), 403)
        assert_problem(await adm.post("/memberships", json=membership_body(visible["stakeholder_id"],
                                                                           period_start=day(400),
                                                                           period_end=day(700)), auth=auth), 403)
        assert_problem(await adm.patch(f"/memberships/{visible['id']}", json={"tier": "founding"}, auth=auth), 403)
