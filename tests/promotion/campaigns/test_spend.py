"""The spend ledger: entries in the budget's currency whose total never silently exceeds the
budget, not even when entries race; staff override only by saying why, and it stays on the entry."""

from __future__ import annotations

import asyncio

import httpx

from tests.pillars import PROBLEM, feed, last_seq, money
from tests.promotion.campaigns.conftest import World
from tests.promotion.campaigns.helpers import new_campaign, new_segment, spend


async def test_spend_is_recorded_and_totalled_on_the_campaign(pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]], budget=money("1000.00"))
    start = await last_seq(pro)
    r = await spend(pro, campaign["id"], "400.00", note="Trade fair stand, Munich")
    assert r.status_code == 201, r.text
    entry = r.json()
    assert {k: entry[k] for k in ("campaign_id", "amount", "spent_on", "channel", "note", "over_budget",
                                  "override_reason", "recorded_by")} == {
        "campaign_id": campaign["id"], "amount": money("400.00"), "spent_on": "2030-03-05", "channel": "digital",
        "note": "Trade fair stand, Munich", "over_budget": False, "override_reason": None,
        "recorded_by": "key_staff"}
    assert (await spend(pro, campaign["id"], "250.50", channel="press")).status_code == 201

    read = (await pro.get(f"/campaigns/{campaign['id']}")).json()
    assert read["spent"] == money("650.50") and read["version"] == 1  # spend does not change the campaign
    ledger = (await pro.get(f"/campaigns/{campaign['id']}/spend")).json()["items"]
    assert [(e["amount"]["amount"], e["channel"]) for e in ledger] == [("400.00", "digital"), ("250.50", "press")]

    events = await feed(pro, start)
    assert [(e["type"], e["data"]["amount"], e["data"]["total"], e["data"]["over_budget"]) for e in events] == [
        ("campaign.spend_recorded", "400.00", "400.00", False), ("campaign.spend_recorded", "250.50", "650.50", False)]


async def test_spend_over_the_budget_is_refused_without_an_override(pro: httpx.AsyncClient,
                                                                    seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]], budget=money("1000.00"))
    assert (await spend(pro, campaign["id"], "900.00")).status_code == 201
    start = await last_seq(pro)

    r = await spend(pro, campaign["id"], "100.01")
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "1000.01 EUR, over the budget of 1000.00 EUR" in r.json()["detail"]
    r = await spend(pro, campaign["id"], "150.00", override_budget=True)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["override_reason"]
    assert await last_seq(pro) == start
    assert (await pro.get(f"/campaigns/{campaign['id']}")).json()["spent"] == money("900.00")

    assert (await spend(pro, campaign["id"], "100.00")).status_code == 201  # exactly the budget is fine
    r = await spend(pro, campaign["id"], "150.00", override_budget=True,
                    override_reason="Board approved the extra press trip on 4 March")
    assert r.status_code == 201, r.text
    assert r.json()["over_budget"] is True
    assert r.json()["override_reason"] == "Board approved the extra press trip on 4 March"
    assert (await pro.get(f"/campaigns/{campaign['id']}")).json()["spent"] == money("1150.00")
    r = await pro.patch(f"/campaigns/{campaign['id']}", json={"budget": money("1100.00")})
    assert r.status_code == 409 and "already spent" in r.json()["detail"]


async def test_bad_entries_are_named(pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    for amount, currency, field in (("10.00", "GBP", "amount.currency"), ("0", "EUR", "amount.amount")):
        r = await spend(pro, campaign["id"], amount, currency)
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field], r.text
    r = await spend(pro, campaign["id"], "10.00", channel="billboard")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"
    assert (await spend(pro, "cmp_nobody", "10.00")).status_code == 404
    assert (await pro.get(f"/campaigns/{campaign['id']}/spend")).json()["items"] == []


async def test_an_ended_campaigns_ledger_is_closed(pro: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    campaign = await new_campaign(pro, [(await new_segment(seg))["id"]])
    assert (await pro.patch(f"/campaigns/{campaign['id']}", json={"status": "ended"})).status_code == 200
    r = await spend(pro, campaign["id"], "10.00")
    assert r.status_code == 409 and "read-only" in r.json()["detail"]


async def test_concurrent_entries_never_together_pass_the_budget(shared: World, seg: httpx.AsyncClient) -> None:
    async with shared.client("promotion") as pro:
        campaign = await new_campaign(pro, [(await new_segment(seg))["id"]], budget=money("1000.00"))

    async def one() -> int:
        async with shared.client("promotion") as c:
            return (await spend(c, campaign["id"], "150.00")).status_code

    statuses = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(statuses) == [201] * 6 + [409] * 4, statuses
    async with shared.client("promotion") as pro:
        assert (await pro.get(f"/campaigns/{campaign['id']}")).json()["spent"] == money("900.00")
        assert len((await pro.get(f"/campaigns/{campaign['id']}/spend")).json()["items"]) == 6
