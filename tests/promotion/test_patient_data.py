"""The patient's contact data: stored in one column only, never in a log line or an event;
erased on request (staff or the owning facilitator) and after the retention period, with
the funnel figures kept."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pentad.logging import configure_logging
from tests.pillars import feed, last_seq
from tests.promotion.helpers import CONTACT, LONG_AGO, World, able_provider, new_enquiry, sent_quote


class _Stream(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def log_lines() -> Iterator[io.BytesIO]:
    """Every log line of the servers running in this process, at debug, while the test runs."""
    raw = io.BytesIO()
    stream = _Stream(raw, write_through=True)
    configure_logging(service="tests", fmt="json", level="debug", cache=False, stream=stream)
    yield raw
    configure_logging(service="tests", fmt="json", level="info", cache=False)  # as conftest left it


NEEDLES = ("Ann Patient", "ann.patient@example.org", "7946 0000")


def _row_has_contact(rows: list[dict[str, Any]]) -> bool:
    return any(needle in json.dumps(rows, default=str) for needle in NEEDLES)


async def test_erased_contact_is_gone_from_the_database_and_in_no_log_or_event(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str, log_lines: io.BytesIO) -> None:
    seq = await last_seq(prom)
    able = await able_provider(world, specialty)
    async with world.as_facilitator(agent) as fac:
        enquiry = await new_enquiry(fac, specialty)
        await sent_quote(world, enquiry["id"], able)
        url = f"/enquiries/{enquiry['id']}"
        assert (await fac.get(url)).json()["contact"] == CONTACT
        assert (await world.sql("SELECT contact FROM enquiries WHERE id = :e", e=enquiry["id"]))[0]["contact"]
        async with world.as_provider(able) as prov:
            assert (await prov.delete(f"{url}/contact")).status_code == 403
        r = await fac.delete(f"{url}/contact")
        assert r.status_code == 204, r.text
        assert (await fac.delete(f"{url}/contact")).status_code == 204  # again: nothing left to erase
        after = (await fac.get(url)).json()
    assert after["contact"] is None and after["contact_erased_at"] and after["status"] == "quoted"
    row = (await world.sql("SELECT * FROM enquiries WHERE id = :e", e=enquiry["id"]))[0]
    assert row["contact"] is None and row["contact_erased_at"] is not None and row["status"] == "quoted"
    everything = [*await world.sql("SELECT * FROM enquiries"), *await world.sql("SELECT * FROM enquiry_transitions"),
                  *await world.sql("SELECT * FROM outbox_events")]
    assert not _row_has_contact([r for r in everything if enquiry["id"] in json.dumps(r, default=str)])
    events = await feed(prom, seq)
    assert {"enquiry.created", "enquiry.routed", "enquiry.status_changed", "quote.sent"} <= {e["type"] for e in events}
    assert not _row_has_contact(events)
    logs = log_lines.getvalue().decode()
    assert f"{url}/contact" in logs  # the access log was captured: it names paths, never bodies
    for needle in NEEDLES:
        assert needle not in logs, needle


async def test_staff_erase_too_and_the_retention_sweep_erases_closed_enquiries(
        world: World, prom: httpx.AsyncClient, agent: str, specialty: str) -> None:
    async with world.as_facilitator(agent) as fac:
        by_staff, closed_long_ago, closed_lately, open_long = [await new_enquiry(fac, specialty) for _ in range(4)]
        for e in (closed_long_ago, closed_lately):
            r = await fac.patch(f"/enquiries/{e['id']}", json={"status": "lost", "status_reason": "went elsewhere"})
            assert r.status_code == 200, r.text
    assert (await prom.delete(f"/enquiries/{by_staff['id']}/contact")).status_code == 204
    await world.sql("UPDATE enquiries SET closed_at = :at WHERE id = :e", at=LONG_AGO,
                    e=closed_long_ago["id"])
    await world.sql("UPDATE enquiries SET created_at = :at WHERE id = :e", at=LONG_AGO,
                    e=open_long["id"])

    assert (await world.sweep("contact-retention", promotion_contact_retention_days=30) or 0) >= 1
    assert await world.sweep("contact-retention", promotion_contact_retention_days=30) == 0
    rows = {r["id"]: r for r in await world.sql("SELECT id, contact, contact_erased_at, status FROM enquiries")}
    assert rows[closed_long_ago["id"]]["contact"] is None and rows[closed_long_ago["id"]]["status"] == "lost"
    assert rows[by_staff["id"]]["contact"] is None
    assert rows[closed_lately["id"]]["contact"] is not None and rows[open_long["id"]]["contact"] is not None
