"""The DMO console over real HTTP (issue 12): sign-in and out, who may, CSRF, cookie flags, and
every page rendering what the API says, escaped."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.app import create_app as create_gateway
from gateway.console import signouts
from gateway.console.session import SESSION_SECONDS, Sessions
from pentad.db import Database
from tests.console_support import PAGES, close_the_gap, csrf_of, draft_campaign, session_cookie, sign_in
from tests.platform import Seeded, day, seeded_platform
from tests.support import serving


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with seeded_platform(databases, tmp_path_factory.mktemp("console")) as seeded:
        yield seeded


def _set_cookie(r: Any, name: str) -> str:
    found = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(name + "=")]
    assert found, f"no Set-Cookie for {name}"
    return found[0]


async def test_sign_in_keeps_the_key_encrypted_in_a_secure_httponly_cookie(plat: Seeded) -> None:
    async with plat.client() as c:
        r = await sign_in(c, plat.keys["staff"])
        assert r.status_code == 303 and r.headers["location"] == "/console"
        header = _set_cookie(r, "pentad_console").lower()
        for flag in ("httponly", "secure", "samesite=strict", "path=/console"):
            assert flag in header, header
        value = r.cookies["pentad_console"]
        key = plat.keys["staff"]
        assert key not in value and base64.urlsafe_b64encode(key.encode()).decode()[:20] not in value
        assert Sessions(b"another secret").open(value) is None  # sealed under PENTAD_SECRET, nothing else
        page = await c.get("/console", headers={"cookie": "pentad_console=" + value})
        assert page.status_code == 200 and key not in page.text
        assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in \
            page.headers["content-security-policy"]


async def test_pages_without_a_valid_session_go_to_the_sign_in(plat: Seeded) -> None:
    async with plat.client() as c:
        good = (await session_cookie(c, plat.keys["staff"]))["cookie"].split("=", 1)[1]
        tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        for cookies in ({}, {"cookie": "pentad_console=" + tampered}, {"cookie": "pentad_console=x"}):
            for path in PAGES:
                r = await c.get(path, headers=cookies)
                assert r.status_code == 303 and r.headers["location"].startswith("/console/login"), (path, r)
        # The console's paths never answer the API's 401: it has its own sign-in.
        assert (await c.get("/console/login")).status_code == 200


@pytest.mark.parametrize("who", ["provider_a", "facilitator_a"])
async def test_provider_and_facilitator_keys_cannot_sign_in(plat: Seeded, who: str) -> None:
    async with plat.client() as c:
        r = await sign_in(c, plat.keys[who])
        assert r.status_code == 403
        assert "pentad_console=" not in " ".join(r.headers.get_list("set-cookie"))
        role = "provider" if who.startswith("provider") else "facilitator"
        assert f"a {role} key cannot sign in here" in r.text


async def test_unknown_or_revoked_keys_cannot_sign_in(plat: Seeded) -> None:
    async with plat.client() as c:
        for key in (plat.keys["revoked"], "pk_not_a_key", "<script>"):
            r = await sign_in(c, key)
            assert r.status_code == 401 and "not valid" in r.text
            assert "pentad_console=" not in " ".join(r.headers.get_list("set-cookie"))
            assert "<script>" not in r.text  # the key typed in is never echoed


async def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused(plat: Seeded) -> None:
    async with plat.client() as c:
        form = await c.get("/console/login")
        nonce = {"cookie": "pentad_console_login=" + form.cookies["pentad_console_login"]}
        for data, cookies in (({"key": plat.keys["admin"]}, nonce),
                              ({"key": plat.keys["admin"], "csrf": "0" * 64}, nonce),
                              ({"key": plat.keys["admin"], "csrf": csrf_of(form.text)}, {})):
            r = await c.post("/console/login", data=data, headers=cookies)
            assert r.status_code == 403, r.text
            assert "pentad_console=" not in " ".join(r.headers.get_list("set-cookie"))


async def test_forms_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing(plat: Seeded) -> None:
    campaign = await draft_campaign(plat, "Console CSRF campaign")
    async with plat.client() as c, plat.client("admin") as admin:
        cookies = await session_cookie(c, plat.keys["staff"])
        forms = (f"/console/campaigns/{campaign['id']}/launch", "/console/logout",
                 f"/console/approvals/proposals/{plat.hospital_b.id}")
        for path in forms:
            for data in ({"decision": "approve"}, {"decision": "approve", "csrf": "forged"}):
                r = await c.post(path, data=data, headers=cookies)
                assert r.status_code == 403 and "CSRF" in r.text, (path, r.status_code)
        # Nothing happened: no action was asked for, the campaign is still a draft.
        assert (await admin.get(f"/promotion/campaigns/{campaign['id']}")).json()["status"] == "draft"
        actions = (await admin.get("/dmo/actions", params={"kind": "launch-campaign"})).json()["items"]
        assert campaign["id"] not in [a["input"]["campaign_id"] for a in actions]
        # The session still works: the refused logout did not end it.
        assert (await c.get("/console", headers=cookies)).status_code == 200


async def test_sign_out_ends_the_session_for_every_copy_of_its_cookie_on_every_replica(plat: Seeded) -> None:
    assert plat.platform.settings is not None
    # A second gateway replica on the same database (and secret), as `pentad up` runs several.
    async with serving(create_gateway(plat.platform.settings)) as replica_url, plat.client() as c, \
            httpx.AsyncClient(base_url=replica_url, timeout=60) as replica:
        copied = await session_cookie(c, plat.keys["admin"])  # the cookie, as a thief would copy it
        other = await session_cookie(c, plat.keys["admin"])  # another session of the same key
        page = await c.get("/console/segments", headers=copied)
        assert page.status_code == 200 and (await replica.get("/console/segments", headers=copied)).status_code == 200
        r = await c.post("/console/logout", data={"csrf": csrf_of(page.text)}, headers=copied)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
        cleared = _set_cookie(r, "pentad_console").lower()
        assert "max-age=0" in cleared and "path=/console" in cleared
        # The copy taken before sign-out opens nothing any more, on this replica or the other.
        for client in (c, replica):
            for path in PAGES:
                r = await client.get(path, headers=copied)
                assert r.status_code == 303 and r.headers["location"].startswith("/console/login"), (path, r)
                assert "max-age=0" in _set_cookie(r, "pentad_console").lower()
            # Nor does it post a form, with the CSRF token it carried.
            r = await client.post(f"/console/approvals/proposals/{plat.hospital_b.id}",
                                  data={"decision": "approve", "csrf": csrf_of(page.text)}, headers=copied)
            assert r.status_code == 303 and r.headers["location"] == "/console/login"
        # Signing out again with the copy is refused like any other form of an ended session.
        again = await c.post("/console/logout", data={"csrf": csrf_of(page.text)}, headers=copied)
        assert again.status_code == 303 and again.headers["location"] == "/console/login"
        # Only that session ended: the key's other session, and the key itself, still work.
        assert (await c.get("/console/segments", headers=other)).status_code == 200
        assert (await replica.get("/console/segments", headers=other)).status_code == 200
        async with plat.client("admin") as admin:
            assert (await admin.get("/integration/whoami")).status_code == 200


async def test_sign_outs_are_kept_until_their_cookie_would_have_expired(databases: Any) -> None:
    db = Database.connect(await databases.new("gateway"))
    try:
        sessions, now = Sessions(b"unit-test-secret"), datetime.now(UTC)
        old = sessions.new(key="k", role="staff", now=now.timestamp() - SESSION_SECONDS - 60)  # cookie dead 1 min
        live = sessions.new(key="k", role="staff")
        await signouts.end(db, old, now=now - timedelta(hours=8))  # signed out while its cookie still opened
        assert await signouts.ended(db, old.id)
        await signouts.end(db, live, now=now)
        await signouts.end(db, live, now=now)  # twice (two tabs, a retry): no error, still ended
        assert await signouts.ended(db, live.id)
        assert not await signouts.ended(db, old.id)  # swept: its cookie no longer opens anyway
        assert not await signouts.ended(db, sessions.new(key="k", role="staff").id)
    finally:
        await db.dispose()


async def test_every_page_renders_what_the_api_says(plat: Seeded) -> None:
    campaign = await draft_campaign(plat, "Console pages campaign")
    async with plat.client() as c:
        cookies = await session_cookie(c, plat.keys["staff"])
        pages = {path: await c.get(path, headers=cookies) for path in PAGES}
        for path, r in pages.items():
            assert r.status_code == 200, (path, r.text[:2000])
            assert r.headers["content-type"].startswith("text/html")
            assert '<html lang="en">' in r.text and "<h1>" in r.text and 'name="viewport"' in r.text
        score = pages["/console"].text
        assert '<svg id="pillar-chart"' in score and "Broad-brush index" in score
        for pillar in ("Segmentation", "Integration", "Administration", "Development", "Promotion"):
            assert pillar in score
        segment = plat.segment
        assert segment["name"] in pages["/console/segments"].text
        assert f"/console/segments/{segment['id']}/offer" in pages["/console/segments"].text
        assert "not ready" in pages["/console/segments"].text or "ready" in pages["/console/segments"].text
        assert plat.hospital_a.name in pages["/console/providers"].text
        assert plat.specialty in pages["/console/capacity"].text and 'id="heatmap"' in pages["/console/capacity"].text
        assert campaign["name"] in pages["/console/campaigns"].text
        assert f"/console/campaigns/{campaign['id']}/launch" in pages["/console/campaigns"].text
        offer = await c.get(f"/console/segments/{segment['id']}/offer", headers=cookies)
        assert offer.status_code == 200 and segment["name"] in offer.text
        missing = await c.get("/console/segments/seg_nothing/offer", headers=cookies)
        assert missing.status_code == 404 and "The API refused" in missing.text


async def test_names_from_providers_are_escaped(plat: Seeded) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with plat.client("admin") as admin, plat.client() as c:
        r = await admin.post("/integration/stakeholders", json={
            "kind": "clinic", "name": f"Clinic {hostile}", "country": "HR", "city": "Rijeka",
            "specialties": [plat.specialty]})
        assert r.status_code == 201, r.text
        cookies = await session_cookie(c, plat.keys["staff"])
        page = (await c.get("/console/providers", headers=cookies)).text
        assert "&lt;script&gt;alert(" in page and "<script>" not in page and "<img src=x" not in page


async def test_launch_is_refused_with_reasons_then_succeeds_once_ready(plat: Seeded) -> None:
    campaign = await draft_campaign(plat, "Console launch campaign")
    async with plat.client() as c, plat.client("admin") as admin:
        cookies = await session_cookie(c, plat.keys["staff"])
        page = await c.get("/console/campaigns", headers=cookies)
        path = f"/console/campaigns/{campaign['id']}/launch"
        r = await c.post(path, data={"csrf": csrf_of(page.text)}, headers=cookies)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/actions/act_")
        shown = await c.get(r.headers["location"], headers=cookies)
        assert "failed" in shown.text and 'id="action-reasons"' in shown.text
        assert "accredited providers" in shown.text
        await close_the_gap(plat)
        r = await c.post(path, data={"csrf": csrf_of(page.text)}, headers=cookies)
        shown = await c.get(r.headers["location"], headers=cookies)
        assert "succeeded" in shown.text, shown.text
        assert (await admin.get(f"/promotion/campaigns/{campaign['id']}")).json()["status"] == "active"


async def test_approvals_are_decided_from_the_page(plat: Seeded) -> None:
    b = plat.hospital_b
    async with plat.client() as c, plat.client("admin") as admin, plat.client("provider_b") as provider:
        evidence = await provider.post("/administration/accreditations", json={
            "stakeholder_id": b.id, "scheme_id": "sch_jci", "certificate_no": "JCI-CONSOLE-1", "issued_on": day(-5)})
        assert evidence.status_code == 201, evidence.text
        proposal = await provider.patch(f"/integration/stakeholders/{b.id}",
                                        json={"specialties": [plat.specialty, "cardiology"]})
        assert proposal.status_code == 200, proposal.text
        cookies = await session_cookie(c, plat.keys["staff"])
        page = await c.get("/console/approvals", headers=cookies)
        assert "JCI-CONSOLE-1" in page.text and b.name in page.text and "cardiology" in page.text
        token = csrf_of(page.text)
        r = await c.post(f"/console/approvals/accreditations/{evidence.json()['id']}",
                         data={"csrf": token, "decision": "approve", "reason": "certificate checked"}, headers=cookies)
        assert r.status_code == 303 and "notice=" in r.headers["location"]
        shown = await c.get(r.headers["location"], headers=cookies)  # where the browser goes next
        assert shown.status_code == 200 and "certificate checked" not in shown.text, shown.text[:300]
        assert (await admin.get(f"/administration/accreditations/{evidence.json()['id']}")).json()["status"] == "valid"
        r = await c.post(f"/console/approvals/proposals/{b.id}", data={"csrf": token, "decision": "reject"},
                         headers=cookies)
        assert r.status_code == 422 and "reason" in r.text  # the API wants a reason to reject: shown
        r = await c.post(f"/console/approvals/proposals/{b.id}",
                         data={"csrf": token, "decision": "reject", "reason": "no cardiology licence"}, headers=cookies)
        assert r.status_code == 303
        decision = (await admin.get(f"/integration/stakeholders/{b.id}")).json()["proposal_decision"]
        assert decision["outcome"] == "rejected" and decision["reason"] == "no cardiology licence"
        after = await c.get("/console/approvals", headers=cookies)
        assert "JCI-CONSOLE-1" not in after.text and re.search(r"No proposal waits|No evidence waits", after.text)


async def test_console_routes_are_not_in_the_public_openapi(plat: Seeded) -> None:
    async with plat.client() as c:
        doc = (await c.get("/openapi.json")).json()
    assert not [p for p in doc["paths"] if p.startswith("/console")]


async def test_a_session_ends_when_its_key_is_revoked(plat: Seeded) -> None:
    async with plat.client("admin") as admin, plat.client() as c:
        made = await admin.post("/gateway/keys", json={"name": "console revoked soon", "role": "staff"})
        assert made.status_code == 201, made.text
        cookies = await session_cookie(c, made.json()["key"])
        assert (await c.get("/console/segments", headers=cookies)).status_code == 200
        assert (await admin.delete(f"/gateway/keys/{made.json()['id']}")).status_code == 204
        r = await c.get("/console/segments", headers=cookies)
        assert r.status_code == 303 and r.headers["location"] == "/console/login?next=%2Fconsole%2Fsegments"
        assert "max-age=0" in _set_cookie(r, "pentad_console").lower()
        login = await c.get(r.headers["location"])  # the sign-in page, taking the way back with it
        assert login.status_code == 200 and 'name="next"' in login.text and "/console/segments" in login.text
