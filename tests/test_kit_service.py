"""The kit as every service uses it: identity, errors, unit of work, idempotency, outbox.

A probe router is mounted on a real service app (segmentation's migrations give it the
kit's tables), so these tests run the same middleware stack the pillars run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
import structlog
from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from pentad import outbox
from pentad.deps import CurrentCaller, RequireStaff, Session
from pentad.errors import Conflict
from pentad.etag import check_if_match
from pentad.ids import new_id
from pentad.service_app import build_service_app
from tests.support import ADMIN, STAFF, SignedAs, asgi_client, facilitator, settings_for

probe = APIRouter()


class ThingIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    size: int = Field(ge=0)


class ThingOut(BaseModel):
    id: str
    name: str


@probe.post("/things", status_code=201, response_model=ThingOut)
async def create_thing(thing: ThingIn, session: Session, caller: CurrentCaller) -> ThingOut:
    thing_id = new_id("thg")
    outbox.record(session, type="thing.created", subject=thing_id, data={"name": thing.name})
    if thing.name == "clash":
        raise Conflict("A thing called 'clash' always conflicts.")
    if thing.name == "boom":
        raise RuntimeError("unexpected failure after recording an event")
    return ThingOut(id=thing_id, name=thing.name)


@probe.patch("/things/{thing_id}")
async def patch_thing(thing_id: str, _: RequireStaff,
                      if_match: Annotated[str | None, Header()] = None) -> dict[str, str]:
    check_if_match(if_match, version=3)
    return {"id": thing_id}


@pytest.fixture
async def app_url(databases, tmp: Path) -> str:
    return await databases.new("segmentation")


@pytest.fixture
async def client(app_url: str, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = build_service_app(settings_for("segmentation", app_url, tmp), title="probe",
                            description="probe", routers=[probe])
    async with asgi_client(app, STAFF) as c:
        yield c


async def events(client: httpx.AsyncClient, after: int = 0) -> list[dict]:
    r = await client.get("/events", params={"after": after, "limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_health_probes_need_no_identity(client: httpx.AsyncClient) -> None:
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    assert (await bare.get("/health/live")).json()["status"] == "ok"
    ready = await bare.get("/health/ready")
    # No `pentad up` run started this app, so no instance id to report.
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "service": "segmentation", "instance": ""}


async def test_unsigned_or_forged_calls_are_refused(client: httpx.AsyncClient) -> None:
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    r = await bare.get("/whoami", headers={"x-pentad-role": "admin", "x-pentad-key-id": "me"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthenticated")
    wrong = httpx.AsyncClient(transport=client._transport, base_url="http://test",
                              auth=SignedAs(STAFF, secret="not-the-secret"))
    assert (await wrong.get("/whoami")).status_code == 401


async def test_signature_is_bound_to_the_path(client: httpx.AsyncClient) -> None:
    signed_for_whoami = httpx.Request("GET", "http://test/whoami")
    next(SignedAs(STAFF).auth_flow(signed_for_whoami))
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    r = await bare.get("/events", headers=dict(signed_for_whoami.headers))
    assert r.status_code == 401


async def test_whoami_reports_the_signed_caller(client: httpx.AsyncClient) -> None:
    client.auth = SignedAs(facilitator("stk_1"))
    assert (await client.get("/whoami")).json() == {
        "key_id": "key_fac_stk_1", "role": "facilitator", "stakeholder_id": "stk_1"}


async def test_request_id_is_kept_or_made(client: httpx.AsyncClient) -> None:
    assert (await client.get("/whoami", headers={"x-request-id": "abc-123"})).headers["x-request-id"] == "abc-123"
    made = (await client.get("/whoami", headers={"x-request-id": "bad id with spaces"})).headers["x-request-id"]
    assert made != "bad id with spaces" and len(made) == 32


async def test_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"name": "", "size": -1})
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in body["errors"]} == {"name", "size"}
    assert body["status"] == 422 and body["title"] and body["request_id"]
    r = await client.get("/events", params={"after": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after"
    r = await client.post("/things", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "errors" in r.json()
    assert await events(client) == []


async def test_unknown_paths_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = await client.delete("/events")
    assert r.status_code == 405 and r.json()["status"] == 405


async def test_success_commits_change_and_event_together(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"name": "hip", "size": 1})
    assert r.status_code == 201
    (event,) = await events(client)
    assert event["type"] == "thing.created" and event["subject"] == r.json()["id"]
    assert event["specversion"] == "1.0" and event["source"] == "/pentad/segmentation"
    assert event["data"] == {"name": "hip"} and event["seq"] >= 1 and event["time"].endswith("Z")


async def test_error_answers_roll_back_everything(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"name": "clash", "size": 1})
    assert r.status_code == 409 and r.json()["detail"].startswith("A thing called")
    assert await events(client) == []


async def test_unexpected_errors_are_500_problems_without_traces(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"name": "boom", "size": 1})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text and "RuntimeError" not in r.text
    assert await events(client) == []


async def test_idempotent_retry_returns_first_answer_and_creates_nothing(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "create-hip-1"}
    first = await client.post("/things", json={"name": "hip", "size": 1}, headers=headers)
    again = await client.post("/things", json={"name": "hip", "size": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await events(client)) == 1


async def test_same_key_other_body_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert (await client.post("/things", json={"name": "a", "size": 1}, headers=headers)).status_code == 201
    r = await client.post("/things", json={"name": "b", "size": 1}, headers=headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/idempotency-key-reused")
    assert len(await events(client)) == 1


async def test_idempotency_keys_are_per_caller(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "shared"}
    a = await client.post("/things", json={"name": "a", "size": 1}, headers=headers)
    client.auth = SignedAs(ADMIN)
    b = await client.post("/things", json={"name": "a", "size": 1}, headers=headers)
    assert a.json()["id"] != b.json()["id"]
    assert len(await events(client)) == 2


async def test_failed_first_attempt_does_not_poison_the_key(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "retry-after-error"}
    assert (await client.post("/things", json={"name": "clash", "size": 1}, headers=headers)).status_code == 409
    r = await client.post("/things", json={"name": "clash2", "size": 1}, headers=headers)
    assert r.status_code == 201


async def test_concurrent_retries_create_once(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(*(client.post("/things", json={"name": "r", "size": 1}, headers=headers)
                                     for _ in range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await events(client)) == 1


async def test_event_feed_is_ordered_and_resumable(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post("/things", json={"name": f"t{i}", "size": i})
    feed = await events(client)
    seqs = [e["seq"] for e in feed]
    assert seqs == sorted(seqs) and len(seqs) == 5
    rest = await events(client, after=seqs[1])
    assert [e["data"]["name"] for e in rest] == ["t2", "t3", "t4"]
    page = (await client.get("/events", params={"after": 0, "limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"] == str(seqs[1])


async def test_event_feed_is_for_staff_only(client: httpx.AsyncClient) -> None:
    client.auth = SignedAs(facilitator("stk_9"))
    r = await client.get("/events")
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")


async def test_stale_if_match_is_412(client: httpx.AsyncClient) -> None:
    assert (await client.patch("/things/x", headers={"If-Match": '"3"'})).status_code == 200
    assert (await client.patch("/things/x", headers={"If-Match": 'W/"3"'})).status_code == 200
    assert (await client.patch("/things/x")).status_code == 200
    r = await client.patch("/things/x", headers={"If-Match": '"2"'})
    assert r.status_code == 412 and r.json()["type"].endswith("/precondition-failed")


async def test_a_500_leaves_the_kept_connection_usable_and_its_log_line_has_the_request_id(
        app_url: str, tmp: Path) -> None:
    """Starlette re-raises after answering 500; uvicorn would then drop the connection that a
    gateway may hand to the next caller. The request context swallows it once answered."""
    from gateway.upstream import UpstreamPool
    from pentad.identity import sign
    from tests.support import free_port, serving

    app = build_service_app(settings_for("segmentation", app_url, tmp), title="probe", description="probe",
                            routers=[probe])
    port = free_port()

    def signed(path: str, request_id: str) -> list[tuple[bytes, bytes]]:
        headers = sign(b"test-secret", method="POST", path=path, caller=STAFF, request_id=request_id)
        return [(k.encode(), v.encode()) for k, v in [*headers, ("x-request-id", request_id),
                                                       ("content-type", "application/json")]]

    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with serving(app, port):
            pool = UpstreamPool("127.0.0.1", port, timeout=5)
            boom = await pool.request(b"POST", b"/things", signed("/things", "rid-boom"),
                                      b'{"name": "boom", "size": 1}')
            after = await pool.request(b"POST", b"/things", signed("/things", "rid-after"),
                                       b'{"name": "fine", "size": 1}')
            pool.close()
    assert boom.status == 500 and after.status == 201
    failed = [e for e in logs if e.get("event") == "request.failed"]
    assert failed and all(e.get("request_id") == "rid-boom" for e in failed)


async def test_json_nul_characters_are_refused_on_every_backend(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", content=b'{"name": "a\\u0000b", "size": 1}',
                          headers={"content-type": "application/json"})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    r = await client.post("/things", content=b'{"name": "a\\u0000b", "size": 1}',
                          headers={"content-type": "application/json", "Idempotency-Key": "nul"})
    assert r.status_code == 422
    assert await events(client) == []


async def test_signatures_cover_the_query(client: httpx.AsyncClient) -> None:
    request = httpx.Request("GET", "http://test/events?after=0")
    next(SignedAs(STAFF).auth_flow(request))
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    assert (await bare.get("/events?after=0", headers=dict(request.headers))).status_code == 200
    assert (await bare.get("/events?after=5", headers=dict(request.headers))).status_code == 401


async def test_feed_positions_beyond_64_bits_are_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/events", params={"after": 10**20})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after"


async def test_replays_are_kept_for_the_retention_window_then_forgotten(client: httpx.AsyncClient,
                                                                        app_url: str) -> None:
    from datetime import timedelta

    from pentad.db import Database
    from pentad.idempotency import forget_old_replays

    headers = {"Idempotency-Key": "kept-a-while"}
    first = await client.post("/things", json={"name": "k", "size": 1}, headers=headers)
    db = Database.connect(app_url)
    try:
        assert await forget_old_replays(db, older_than=timedelta(days=1)) == 0
        assert (await client.post("/things", json={"name": "k", "size": 1}, headers=headers)).json() == first.json()
        assert await forget_old_replays(db, older_than=timedelta(0)) == 1
    finally:
        await db.dispose()
    later = await client.post("/things", json={"name": "k", "size": 1}, headers=headers)
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in later.headers
