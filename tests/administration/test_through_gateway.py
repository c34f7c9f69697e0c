"""Administration behind the gateway, with real API keys: the roles as integrators meet them,
and the demo destination's part as `pentad up` loads it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.administration import demo as administration_demo
from services.integration import demo as integration_demo
from services.segmentation import demo as segmentation_demo
from tests.test_gateway import Platform, start_platform


@pytest.fixture(scope="module")
async def platform(databases, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    async with AsyncExitStack() as stack:
        yield await start_platform(stack, databases, tmp_path_factory.mktemp("adm-gw"),
                                   services=("segmentation", "integration", "administration"))


async def _all(c: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    r = await c.get(path, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def test_roles_with_real_keys(platform: Platform) -> None:
    hospital, agent_id = await platform.register("hospital"), await platform.register("facilitator")
    provider_key = await platform.new_key("provider", hospital)
    agent_key = await platform.new_key("facilitator", agent_id)
    body = {"stakeholder_id": hospital, "scheme_id": "sch_temos", "certificate_no": "TEMOS-GW-1",
            "issued_on": "2025-01-15"}
    async with platform.client(provider_key) as provider, platform.client(platform.admin_key) as admin, \
            platform.client(agent_key) as agent:
        r = await provider.post("/administration/accreditations", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        assert r.headers["location"] == f"/administration/accreditations/{created['id']}"
        assert created["status"] == "pending" and created["expires_on"] == "2028-01-15"
        url = f"/administration/accreditations/{created['id']}"
        assert (await provider.patch(url, json={"status": "valid"})).status_code == 403
        assert (await agent.get(url)).status_code == 404
        assert (await admin.patch(url, json={"status": "valid"})).json()["status"] == "valid"
        assert (await agent.get(url)).json()["status"] == "valid"
        assert (await provider.get("/administration/audit")).status_code == 403
        events = (await admin.get("/administration/events", params={"limit": 500})).json()["items"]
        assert [e["type"] for e in events if e["subject"] == created["id"]] == [
            "accreditation.submitted", "accreditation.verified"]
        assert events[0]["source"] == "/pentad/administration"


async def test_the_demo_destination_gains_its_administration(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        for demo in (segmentation_demo, integration_demo, administration_demo):
            await demo.load(c)
        demo_names = {body["name"] for _, body, _ in integration_demo.STAKEHOLDERS}
        names = {s["id"]: s["name"] for s in await _all(c, "/integration/stakeholders") if s["name"] in demo_names}
        accreditations = [a for a in await _all(c, "/administration/accreditations") if a["stakeholder_id"] in names]
        statuses = Counter(a["status"] for a in accreditations)
        assert statuses == {"valid": len(administration_demo.ACCREDITATIONS) - 2, "expiring": 1, "pending": 1}
        expiring = next(a for a in accreditations if a["status"] == "expiring")
        left = date.fromisoformat(expiring["expires_on"]) - datetime.now(UTC).date()
        assert names[expiring["stakeholder_id"]].startswith("Thalasso") and left <= timedelta(days=90)
        memberships = [m for m in await _all(c, "/administration/memberships") if m["stakeholder_id"] in names]
        assert Counter(m["status"] for m in memberships) == {"active": 8, "lapsed": 1}
        complaints = [x for x in await _all(c, "/administration/complaints") if x["stakeholder_id"] in names]
        assert sorted(x["status"] for x in complaints) == ["open", "resolved"]

        # A user's change since survives a second load, and nothing is created twice.
        pending = next(a for a in accreditations if a["status"] == "pending")
        r = await c.patch(f"/administration/accreditations/{pending['id']}",
                          json={"status": "revoked", "reason": "Evidence could not be verified with GHA"})
        assert r.status_code == 200
        await administration_demo.load(c)
        again = [a for a in await _all(c, "/administration/accreditations") if a["stakeholder_id"] in names]
        assert len(again) == len(accreditations)
        assert next(a for a in again if a["id"] == pending["id"])["status"] == "revoked"
        assert len([m for m in await _all(c, "/administration/memberships") if m["stakeholder_id"] in names]) == 9
        assert len([x for x in await _all(c, "/administration/complaints") if x["stakeholder_id"] in names]) == 2
