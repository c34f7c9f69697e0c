"""Secrets and logs (issue 6): a full run of `pentad up` (real processes, demo loaded, logs at
``debug``, the most an operator can turn on) with every line of output kept, then scanned.

The run issues keys of every role, calls as provider and facilitator, fails authentication
with made-up and revoked keys, posts capacity, provokes errors (422, 403, 404, 409), and
even sends a key where it does not belong (the query string, a body field). No API key, no
bootstrap admin key and not the signing secret may appear in any log line or event; a
key's SHA-256 hash may (that is what is stored and compared).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pentad.components import SERVICE_NAMES
from tests.conftest import pg_or_skip
from tests.test_e2e_up import _pg
from tests.test_faults import SPECIALTY, Tree, _healthy, _until

pytestmark = pytest.mark.e2e


@dataclass
class Secrets:
    """Everything that must never be written to a log or an event."""

    values: dict[str, str] = field(default_factory=dict)
    log_only: set[str] = field(default_factory=set)  # data an event may carry, a log line may not

    def add(self, label: str, value: str) -> None:
        self.values[label] = value

    def needles(self) -> dict[str, str]:
        """The full value, and for keys also the random part alone and its last 16 characters
        (a key cut short is still a leak; the stored 6-character prefix is not)."""
        found = {}
        for label, value in self.values.items():
            found[label] = value
            if value.startswith("pk_"):
                found[f"{label} (without prefix)"] = value[3:]
                found[f"{label} (tail)"] = value[-16:]
        return found


async def record_contents(admin: httpx.AsyncClient, kept: Secrets) -> None:
    """A value written to a database is data, not a log: a stakeholder's name with a random
    token stands for the free text a record holds (at ``debug``, SQL drivers log parameters)."""
    canary = f"Canary clinic {secrets.token_hex(12)}"
    await _ok(await admin.post("/integration/stakeholders", json={
        "kind": "clinic", "name": canary, "country": "HR", "city": "Zadar"}))
    kept.add("a record's contents (stakeholder name)", canary.split()[-1])
    kept.log_only.add(canary.split()[-1])


async def patient_contact_data(url: str, keys: dict[str, str], kept: Secrets) -> None:
    """A patient's contact data (name, e-mail, phone) filed with an enquiry through the
    facilitator's key, read back, refused once in a bad request, then erased: each field is
    kept, so the scan below proves they reach neither logs nor events."""
    token = secrets.token_hex(6)
    contact = {"name": f"Patient {token}", "email": f"patient.{token}@example.org",
               "phone": f"+44 20 {int(token[:6], 16) % 10**8:08d}"}
    for field_name, value in contact.items():
        kept.add(f"patient contact ({field_name})", value)
    body = {"specialty": SPECIALTY, "source_market": "GB", "preferred_from": "2099-01-01",
            "preferred_to": "2099-01-10", "languages": ["en"], "contact": contact,
            "consent": {"given_at": "2026-01-01T09:00:00Z", "scope": ["routing", "quotes"]}}
    async with _as(url, keys["facilitator"]) as facilitator:
        enquiry = await _ok(await facilitator.post("/promotion/enquiries", json=body))
        await _ok(await facilitator.get(f"/promotion/enquiries/{enquiry['id']}"))
        await _ok(await facilitator.post("/promotion/enquiries", json={**body, "languages": ["xx"]}), 422)
        await _ok(await facilitator.delete(f"/promotion/enquiries/{enquiry['id']}/contact"), 204)


@pytest.fixture(params=["sqlite", "postgresql"])
async def noisy_tree(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Tree, str]]:
    signing_secret = secrets.token_urlsafe(32)
    env = {"PENTAD_SECRET": signing_secret, "PENTAD_LOG_LEVEL": "debug"}
    dbs: list[str] = []
    if request.param == "postgresql":
        await pg_or_skip()
        from pentad.components import COMPONENT_NAMES

        run = uuid.uuid4().hex[:8]
        dbs = [f"pentad_logs_{run}_{c}" for c in COMPONENT_NAMES]
        await asyncio.to_thread(_pg, *(f'CREATE DATABASE "{d}"' for d in dbs))
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_logs_{run}_{{service}}"
    up = Tree(tmp_path, env, backend=request.param, demo=True)
    up.start()
    yield up, signing_secret
    if up.proc is not None and up.proc.poll() is None:
        up.kill_tree()
    if dbs:
        await asyncio.to_thread(_pg, *(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in dbs))


async def _ok(r: httpx.Response, *status: int) -> dict[str, Any]:
    assert r.status_code in (status or (200, 201)), (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


def _as(url: str, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30)


async def _issue_keys(admin: httpx.AsyncClient, kept: Secrets, tag: str) -> dict[str, str]:
    async def stakeholder(kind: str, specialties: list[str]) -> str:
        return (await _ok(await admin.post("/integration/stakeholders", json={
            "kind": kind, "name": f"Hygiene {kind} {tag}", "country": "HR", "city": "Split",
            "specialties": specialties})))["id"]

    hospital, other = await stakeholder("hospital", [SPECIALTY]), await stakeholder("clinic", [SPECIALTY])
    agent = await stakeholder("facilitator", [])
    issued = {"hospital": hospital, "other": other}
    for role, bound in (("staff", None), ("provider", hospital), ("facilitator", agent), ("admin", None),
                        ("staff", None)):
        made = await _ok(await admin.post("/gateway/keys", json={
            "name": f"hygiene {role}", "role": role, "stakeholder_id": bound}))
        label = role if role not in issued else "revoked"
        issued[label], issued[f"{label}_id"] = made["key"], made["id"]
        kept.add(f"{label} key", made["key"])
    await _ok(await admin.delete(f"/gateway/keys/{issued['revoked_id']}"), 204)
    return issued


async def _traffic(url: str, keys: dict[str, str], kept: Secrets) -> None:
    """Every kind of caller, successes and failures."""
    day = "2099-01-01"
    async with _as(url, keys["provider"]) as provider:
        rows = {"rows": [{"specialty": SPECIALTY, "date": day, "slots_total": 4, "slots_available": 2}]}
        await _ok(await provider.post(f"/integration/stakeholders/{keys['hospital']}/capacity", json={"rows": [
            {"specialty": SPECIALTY, "date": "2030-01-0" + str(d), "slots_total": 4, "slots_available": 2}
            for d in range(1, 4)]}, headers={"Idempotency-Key": "hygiene-1"}))
        await _ok(await provider.post(f"/integration/stakeholders/{keys['hospital']}/capacity", json=rows,
                                      headers={"Idempotency-Key": "hygiene-1"}), 409, 422)
        await _ok(await provider.post(f"/integration/stakeholders/{keys['other']}/capacity", json=rows), 403)
        await _ok(await provider.get(f"/integration/stakeholders/{keys['hospital']}"))
        await _ok(await provider.patch(f"/integration/stakeholders/{keys['hospital']}",
                                       json={"specialties": [SPECIALTY, "cardiology"]}), 200, 422)
    async with _as(url, keys["facilitator"]) as facilitator:
        for path in ("/segmentation/segments", "/integration/packages", "/integration/stakeholders",
                     "/development/initiatives"):
            await _ok(await facilitator.get(path), 200, 403)
        await _ok(await facilitator.post("/integration/stakeholders", json={"name": "x"}), 403, 422)
        # A webhook secret is shown once: never logged (nor kept for an Idempotency-Key replay).
        hook = {"url": "https://93.184.216.34/hygiene-hook", "events": ["enquiry.created", "enquiry.routed"]}
        for _ in range(2):
            made = await _ok(await facilitator.post("/gateway/webhooks", json=hook,
                                                    headers={"Idempotency-Key": "hygiene-hook"}), 201)
            if made["secret"]:
                kept.add("webhook secret", made["secret"])
                kept.add("webhook secret (without prefix)", made["secret"].removeprefix("whsec_"))
    async with _as(url, keys["staff"]) as staff:
        await _ok(await staff.post("/segmentation/segments", json={"name": "", "family": "nope"}), 422)
        await _ok(await staff.get("/integration/stakeholders/does-not-exist"), 404)
        # A key where it does not belong: in the query string and in a body field.
        await _ok(await staff.get("/integration/stakeholders", params={"api_key": keys["admin"]}), 422)
        await _ok(await staff.post("/segmentation/segments", json={"name": keys["admin"]}), 422)
    made_up = "pk_" + secrets.token_urlsafe(32)
    kept.add("made-up key", made_up)
    for bad in (made_up, keys["revoked"], "not-even-a-key-" + made_up[3:]):
        async with _as(url, bad) as stranger:
            await _ok(await stranger.get("/integration/stakeholders"), 401)
    await _console(url, keys, made_up, kept)


async def _console(url: str, keys: dict[str, str], made_up: str, kept: Secrets) -> None:
    """The console: keys typed into its sign-in form (good, made-up, a provider's), its session cookie."""
    from tests.console_support import csrf_of, sign_in

    async with _as(url, None) as browser:
        for key, status in ((made_up, 401), (keys["provider"], 403), (keys["staff"], 303)):
            r = await sign_in(browser, key)
            assert r.status_code == status, r.text
        cookie = r.cookies["pentad_console"]
        kept.add("console session cookie", cookie)
        page = await browser.get("/console/campaigns", headers={"cookie": "pentad_console=" + cookie})
        assert page.status_code == 200, page.text
        kept.add("console CSRF token", csrf_of(page.text))


async def _event_text(admin: httpx.AsyncClient) -> str:
    pages = []
    for prefix in SERVICE_NAMES:
        after = 0
        while True:
            page = await _ok(await admin.get(f"/{prefix}/events", params={"after": after, "limit": 500}))
            pages.append(str(page["items"]))
            if page["next_cursor"] is None:
                break
            after = page["items"][-1]["seq"]
    return "\n".join(pages)


async def test_no_key_or_secret_reaches_a_log_line_or_an_event(noisy_tree: tuple[Tree, str]) -> None:
    tree, signing_secret = noisy_tree
    kept = Secrets({"signing secret (PENTAD_SECRET)": signing_secret})
    async with _as(tree.url, None) as probe:
        await _until(lambda: _healthy(probe), 60, "health", tree)
    await _until(lambda: _async(lambda: "Pentad is up" in tree.log_path.read_text()), 60, "demo loaded", tree)
    bootstrap = (tree.data / "admin.key").read_text().strip()
    kept.add("bootstrap admin key", bootstrap)
    async with _as(tree.url, bootstrap) as admin:
        keys = await _issue_keys(admin, kept, uuid.uuid4().hex[:8])
        await _traffic(tree.url, keys, kept)
        await record_contents(admin, kept)
        await patient_contact_data(tree.url, keys, kept)
        events = await _event_text(admin)
    tree.kill_tree()
    logs = tree.log_path.read_text(errors="replace")
    assert logs.count("\n") > 100 and '"event":"request"' in logs.replace(" ", ""), "the run logged too little"
    for label, needle in kept.needles().items():
        assert needle not in logs, f"{label} appears in the logs: {_line_with(logs, needle)}"
        assert needle in kept.log_only or needle not in events, f"{label} appears in an event"


async def _async(predicate: Any) -> bool:
    return bool(predicate())


def _line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")[:500]
