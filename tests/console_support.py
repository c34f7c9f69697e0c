"""Signing in to the console as a browser would, over real HTTP (shared by the console's tests)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.platform import Seeded, day

CSRF = re.compile(r'name="csrf" value="([^"]*)"')
PAGES = ("/console", "/console/segments", "/console/providers", "/console/capacity", "/console/campaigns",
         "/console/enquiries", "/console/approvals", "/console/actions")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(c: httpx.AsyncClient, key: str) -> httpx.Response:
    """The sign-in form fetched and posted; the answer (303 and a session cookie when accepted).

    Cookies are carried by hand: they are Secure, and the test server is plain HTTP on loopback
    (browsers send Secure cookies to localhost; httpx's cookie jar does not)."""
    form = await c.get("/console/login")
    assert form.status_code == 200, form.text
    return await c.post("/console/login", data={"key": key, "csrf": csrf_of(form.text)},
                        headers={"cookie": "pentad_console_login=" + form.cookies["pentad_console_login"]})


async def session_cookie(c: httpx.AsyncClient, key: str) -> dict[str, str]:
    """The Cookie header of a signed-in session."""
    r = await sign_in(c, key)
    assert r.status_code == 303, r.text
    return {"cookie": "pentad_console=" + r.cookies["pentad_console"]}


async def draft_campaign(plat: Seeded, name: str) -> dict[str, Any]:
    async with plat.client("admin") as admin:
        r = await admin.post("/promotion/campaigns", json={
            "name": name, "segment_ids": [plat.segment["id"]], "source_markets": ["GB"], "channels": ["digital"],
            "budget": {"amount": "10000.00", "currency": "EUR"}})
        assert r.status_code == 201, r.text
        return r.json()


async def close_the_gap(plat: Seeded) -> None:
    """The seeded segment made ready through the API: hospital A accredited (verified) and with
    fresh capacity every day of the offer's window; waits until the coordinator says ready."""
    a = plat.hospital_a
    async with plat.client("admin") as admin:
        r = await admin.post("/administration/accreditations", json={
            "stakeholder_id": a.id, "scheme_id": "sch_jci", "certificate_no": f"JCI-{a.id[-6:]}",
            "issued_on": day(-30)})
        assert r.status_code == 201, r.text
        r = await admin.patch(f"/administration/accreditations/{r.json()['id']}", json={"status": "valid"})
        assert r.status_code == 200, r.text
        r = await admin.post(f"/integration/stakeholders/{a.id}/capacity", json={"rows": [
            {"specialty": plat.specialty, "date": day(d), "slots_total": 10, "slots_available": 8}
            for d in range(0, 90)]})
        assert r.status_code == 200, r.text
        for _ in range(600):
            r = await admin.get(f"/dmo/segments/{plat.segment['id']}/readiness")
            if r.status_code == 200 and r.json()["ready"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the seeded segment never became ready: {r.text}")
