"""The kit as every service uses it: identity, errors, unit of work, idempotency, outbox.

A probe router is mounted on a real service app (segmentation's migrations give it the
kit's tables), so these tests run the same middleware stack the pillars run.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import pytest
import structlog
from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, Field

from pentad import outbox
from pentad.client import ServiceClient, client_of
from pentad.deps import CurrentCaller, RequireStaff, Session
from pentad.errors import Conflict
from pentad.etag import check_if_match
from pentad.ids import new_id
from pentad.pagination import Paging
from pentad.service_app import build_service_app
from tests.support import ADMIN, STAFF, SignedAs, asgi_client, facilitator, free_port, settings_for

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


class Elsewhere(ServiceClient):
    service = "integration"


@probe.get("/things/upstream")
async def read_elsewhere(elsewhere: Annotated[Elsewhere, Depends(client_of(Elsewhere))]) -> dict[str, int]:
    return {"status": (await elsewhere.request("GET", "/whoami")).status_code}


@probe.patch("/things/{thing_id}")
async def patch_thing(thing_id: str, _: RequireStaff,
                      if_match: Annotated[str | None, Header()] = None) -> dict[str, str]:
    check_if_match(if_match, version=3)
    return {"id": thing_id}


@probe.get("/things")
async def list_things(paging: Paging, _: CurrentCaller, kind: str | None = None,
                      from_: Annotated[str | None, Query(alias="from")] = None,
                      tag: Annotated[list[str] | None, Query()] = None) -> dict[str, object]:
    return {"limit": paging.limit, "kind": kind, "from": from_, "tag": tag}


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


async def test_an_unknown_query_parameter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    # What a route takes: its own parameters, aliases, those of its dependencies (paging), lists.
    r = await client.get("/things", params=[("kind", "a"), ("from", "x"), ("limit", "5"), ("cursor", ""),
                                            ("tag", "1"), ("tag", "2")])
    assert r.status_code == 200 and r.json() == {"limit": 5, "kind": "a", "from": "x", "tag": ["1", "2"]}
    r = await client.get("/things", params={"kind": "a", "knd": "b", "from_": "x"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert [(e["field"], e["value"]) for e in r.json()["errors"]] == [("query.knd", "b"), ("query.from_", "x")]
    assert "cursor, from, kind, limit, tag" in r.json()["errors"][0]["message"]
    for path in ("/whoami?verbose=1", "/health/live?x=", "/events?after=0&since=3"):
        r = await client.get(path)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("query."), (path, r.text)
    r = await client.post("/things?dry_run=1", json={"name": "hip", "size": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.dry_run"
    assert await events(client) == []  # and nothing was done


async def test_the_event_feed_pages_by_cursor_as_every_list(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        assert (await client.post("/things", json={"name": name, "size": 1})).status_code == 201
    first = (await client.get("/events", params={"limit": 2})).json()
    assert [e["data"]["name"] for e in first["items"]] == ["a", "b"] and first["next_cursor"]
    rest = (await client.get("/events", params={"cursor": first["next_cursor"]})).json()
    assert [e["data"]["name"] for e in rest["items"]] == ["c"] and rest["next_cursor"] is None
    after = (await client.get("/events", params={"after": first["items"][-1]["seq"]})).json()
    assert after == rest  # a stored seq resumes at the same place
    huge = base64.urlsafe_b64encode(b"9" * 20).decode()
    for params in ({"cursor": "abc"}, {"cursor": "-1"}, {"cursor": "9" * 19}, {"cursor": "1" * 20},
                   {"cursor": str(first["items"][-1]["seq"])}, {"cursor": huge},
                   {"cursor": first["next_cursor"], "after": "1"}):
        r = await client.get("/events", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor", (params, r.text)


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
    assert len(page["items"]) == 2 and page["next_cursor"] and page["next_cursor"] != str(seqs[1])
    after_cursor = (await client.get("/events", params={"cursor": page["next_cursor"]})).json()["items"]
    assert after_cursor == rest


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


# -- hostile input: the problem renderer itself must never fail ------------------------------------

DEEP = 300  # past orjson's 254-level limit, inside Python's json parser's


@pytest.mark.parametrize(("raw", "field", "echoed"), [
    (b'{"name": 18446744073709551616, "size": 1}', "name", "18446744073709551616"),
    (b'{"name": "x", "size": "\\ud800"}', "size", "\ufffd"),
    (b'{"name": "\\ud800", "size": 1}', "name", "\ufffd"),
    (b'{"name": ' + b"[" * DEEP + b"]" * DEEP + b', "size": 1}', "name", None),
    (b'{"name": "' + b"x" * 5000 + b'", "size": 1}', "name", None),
])
async def test_validation_errors_echo_only_what_can_be_rendered(client: httpx.AsyncClient, raw: bytes,
                                                                 field: str, echoed: str | None) -> None:
    r = await client.post("/things", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    (error,) = r.json()["errors"]
    assert error["field"] == field
    assert error.get("value") == echoed
    assert await events(client) == []


async def test_field_errors_raised_by_code_are_made_safe_too() -> None:
    from pentad.errors import FieldError, problem_body

    body = problem_body(422, "validation-error", "Validation error", "bad \ud800 detail", errors=[
        FieldError(field="codes.\udc00", message="unknown \ud800", value=[2**70, "\ud800", {"k": -(2**64)}])])
    assert orjson.loads(body)["errors"] == [
        {"field": "codes.\ufffd", "message": "unknown \ufffd", "value": [str(2**70), "\ufffd", {"k": str(-(2**64))}]}]
    assert orjson.loads(body)["detail"] == "bad \ufffd detail"


@pytest.mark.parametrize(("raw", "why"), [
    (b"{not json", "not valid JSON"),
    (b'{"name": "\xff\xfe", "size": 1}', "UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
    (b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b', "size": 1}', "nested"),
])
async def test_bodies_that_cannot_be_parsed_are_422_on_body(client: httpx.AsyncClient, raw: bytes, why: str) -> None:
    r = await client.post("/things", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    (error,) = r.json()["errors"]
    assert error["field"] == "body" and why in error["message"]


async def test_openapi_declares_problems_and_no_400(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    operation = doc["paths"]["/things"]["post"]
    assert "400" not in operation["responses"]
    problem = {"$ref": "#/components/schemas/Problem"}
    assert operation["responses"]["422"]["content"]["application/problem+json"]["schema"] == problem
    assert operation["responses"]["413"]["content"]["application/problem+json"]["schema"] == problem


async def test_head_answers_wherever_get_does(client: httpx.AsyncClient) -> None:
    for path in ("/whoami", "/events", "/health/live"):
        got, head = await client.get(path), await client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
        assert head.headers["content-type"] == got.headers["content-type"]
    assert (await client.head("/nothing-here")).status_code == 404
    assert (await client.head("/things/thg_1")).status_code == 405  # PATCH only there


async def test_trailing_slashes_are_not_redirected(client: httpx.AsyncClient) -> None:
    r = await client.get("/whoami/")
    assert r.status_code == 404 and "location" not in r.headers
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_database_that_cannot_be_reached_is_503_with_retry_after(tmp: Path) -> None:
    settings = settings_for("segmentation", "postgresql+asyncpg://postgres@127.0.0.1:9/none", tmp)
    app = build_service_app(settings, title="probe", description="probe", routers=[probe])
    async with asgi_client(app) as c:
        r = await c.get("/health/ready")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1


async def test_an_unreachable_service_behind_a_typed_client_is_503_with_retry_after(app_url: str,
                                                                                    tmp: Path) -> None:
    settings = settings_for("segmentation", app_url, tmp,
                            service_urls={"integration": f"http://127.0.0.1:{free_port()}"})
    app = build_service_app(settings, title="probe", description="probe", routers=[probe])
    async with asgi_client(app, STAFF) as c:
        r = await c.get("/things/upstream")
    assert r.status_code == 503 and r.json()["type"].endswith("/upstream-unavailable")
    assert int(r.headers["retry-after"]) >= 1
