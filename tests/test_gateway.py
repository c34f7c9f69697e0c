"""The gateway in front of real services (uvicorn servers in this process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import structlog

from gateway.app import create_app as create_gateway
from pentad.components import SERVICE_NAMES
from pentad.settings import Settings
from tests.support import build, free_port, serving, settings_for


@dataclass
class Platform:
    url: str
    admin_key: str
    service_urls: dict[str, str]
    settings: Settings | None = None  # the gateway's: a second replica on the same database starts with them

    def client(self, key: str | None = None, **kw) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10, **kw)

    async def register(self, kind: str) -> str:
        """A stakeholder in the register (through the gateway), for keys to be bound to."""
        async with self.client(self.admin_key) as admin:
            r = await admin.post("/integration/stakeholders", json={
                "kind": kind, "name": f"Test {kind} {uuid.uuid4().hex[:8]}", "country": "HR", "city": "Rijeka"})
            assert r.status_code == 201, r.text
            return r.json()["id"]

    async def new_key(self, role: str, stakeholder_id: str | None = None) -> str:
        async with self.client(self.admin_key) as admin:
            r = await admin.post("/gateway/keys", json={"name": f"test {role}", "role": role,
                                                       "stakeholder_id": stakeholder_id})
            assert r.status_code == 201, r.text
            return r.json()["key"]


async def start_platform(stack: AsyncExitStack, databases, tmp: Path, *, services=SERVICE_NAMES,
                         urls: dict[str, str] | None = None, **gateway_settings) -> Platform:
    urls = dict(urls or {})
    for name in SERVICE_NAMES:
        urls.setdefault(name, f"http://127.0.0.1:{free_port()}")
    for name in services:
        settings = settings_for(name, await databases.new(name), tmp, service_urls=urls)
        await stack.enter_async_context(serving(build(name, settings), int(urls[name].rsplit(":", 1)[1])))
    gw_settings = settings_for("gateway", await databases.new("gateway"), tmp, service_urls=urls,
                               **gateway_settings)
    url = await stack.enter_async_context(serving(create_gateway(gw_settings)))
    return Platform(url, (tmp / "admin.key").read_text().strip(), urls, gw_settings)


@pytest.fixture(scope="module")
async def platform(databases, tmp_path_factory) -> AsyncIterator[Platform]:
    async with AsyncExitStack() as stack:
        yield await start_platform(stack, databases, tmp_path_factory.mktemp("gw"))


async def test_health_lists_every_service(platform: Platform) -> None:
    async with platform.client() as c:
        r = await c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == set(SERVICE_NAMES)
    assert all(s == {"status": "ok", "url": platform.service_urls[n]} for n, s in body["services"].items())


async def test_service_liveness_is_reachable_without_a_key(platform: Platform) -> None:
    async with platform.client() as c:
        for name in SERVICE_NAMES:
            r = await c.get(f"/{name}/health/live")
            assert r.status_code == 200 and r.json()["service"] == name


@pytest.mark.parametrize("auth", [None, "Bearer pk_not_a_real_key", "Basic dXNlcjpwYXNz", "Bearer"])
async def test_missing_or_invalid_key_is_401_problem(platform: Platform, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with platform.client() as c:
        r = await c.get("/segmentation/events", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == 401 and r.json()["request_id"] == r.headers["x-request-id"]
    assert r.json()["instance"] == "/segmentation/events"


async def test_key_management_is_for_admins_only(platform: Platform) -> None:
    for role, kind in [("provider", "hospital"), ("facilitator", "facilitator"), ("staff", None)]:
        key = await platform.new_key(role, await platform.register(kind) if kind else None)
        async with platform.client(key) as c:
            assert (await c.get("/gateway/keys")).status_code == 403
            r = await c.post("/gateway/keys", json={"name": "x", "role": "admin"})
            assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_created_key_works_until_revoked(platform: Platform) -> None:
    hospital = await platform.register("hospital")
    async with platform.client(platform.admin_key) as admin:
        r = await admin.post("/gateway/keys", json={"name": "hospital system", "role": "provider",
                                                   "stakeholder_id": hospital})
        created = r.json()
        assert created["key"].startswith("pk_") and created["prefix"] == created["key"][:9]
        listed = (await admin.get("/gateway/keys", params={"limit": 500})).json()["items"]
        assert created["id"] in {k["id"] for k in listed}
        assert all("key" not in k for k in listed)
        async with platform.client(created["key"]) as c:
            who = (await c.get("/integration/whoami")).json()
            assert who == {"key_id": created["id"], "role": "provider", "stakeholder_id": hospital}
            assert (await admin.delete(f"/gateway/keys/{created['id']}")).status_code == 204
            assert (await c.get("/integration/whoami")).status_code == 401
        assert (await admin.delete(f"/gateway/keys/{created['id']}")).status_code == 404


async def test_bound_keys_must_name_a_registered_stakeholder_of_a_fitting_kind(platform: Platform) -> None:
    hotel, insurer = await platform.register("hotel"), await platform.register("insurer")
    async with platform.client(platform.admin_key) as admin:
        for role, stakeholder in [("provider", "stk_nobody"), ("facilitator", hotel), ("provider", insurer)]:
            r = await admin.post("/gateway/keys", json={"name": "x", "role": role, "stakeholder_id": stakeholder})
            assert r.status_code == 422, (role, r.text)
            assert r.json()["errors"][0]["field"] == "stakeholder_id"
        for role, stakeholder in [("provider", hotel), ("facilitator", insurer)]:
            r = await admin.post("/gateway/keys", json={"name": "x", "role": role, "stakeholder_id": stakeholder})
            assert r.status_code == 201, r.text


async def test_bound_roles_need_a_stakeholder(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as admin:
        r = await admin.post("/gateway/keys", json={"name": "agent", "role": "facilitator"})
        assert r.status_code == 422 and r.json()["errors"]
        r = await admin.post("/gateway/keys", json={"name": "x", "role": "emperor"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"


async def test_key_creation_replay_does_not_leak_or_duplicate(platform: Platform) -> None:
    body = {"name": "replayed", "role": "staff"}
    async with platform.client(platform.admin_key) as admin:
        first = await admin.post("/gateway/keys", json=body, headers={"Idempotency-Key": "mk-1"})
        again = await admin.post("/gateway/keys", json=body, headers={"Idempotency-Key": "mk-1"})
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"] and first.json()["key"]
        assert again.json()["key"] is None
        listed = (await admin.get("/gateway/keys", params={"limit": 500})).json()["items"]
        assert sum(k["name"] == "replayed" for k in listed) == 1


async def test_clients_cannot_forge_identity_headers(platform: Platform) -> None:
    agent = await platform.register("facilitator")
    key = await platform.new_key("facilitator", agent)
    forged = {"x-pentad-role": "admin", "x-pentad-key-id": "key_x", "x-pentad-stakeholder": "stk_other",
              "x-pentad-ts": "0", "x-pentad-signature": "00"}
    async with platform.client(key) as c:
        who = (await c.get("/promotion/whoami", headers=forged)).json()
    assert who["role"] == "facilitator" and who["stakeholder_id"] == agent


async def test_service_ports_refuse_calls_that_skip_the_gateway(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.service_urls["administration"]) as c:
        r = await c.get("/events", headers={"Authorization": f"Bearer {platform.admin_key}"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/events"


async def _access_lines(logs: list[dict], request_id: str, expected: int) -> list[dict]:
    # A service writes its access line just after it answers, so give it a moment.
    for _ in range(200):
        lines = [e for e in logs if e.get("event") == "request" and e.get("request_id") == request_id]
        if len(lines) >= expected:
            return lines
        await asyncio.sleep(0.01)
    return lines


async def test_request_id_and_traceparent_follow_the_request(platform: Platform) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with platform.client(platform.admin_key) as c:
            r = await c.get("/development/events", headers={"X-Request-ID": "trace-me-42",
                                                            "traceparent": traceparent})
        lines = await _access_lines(logs, "trace-me-42", 2)
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-me-42"
    assert {line["path"] for line in lines} == {"/development/events", "/events"}
    assert all(line.get("traceparent") == traceparent for line in lines)


async def test_generated_request_id_reaches_the_service(platform: Platform) -> None:
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with platform.client(platform.admin_key) as c:
            r = await c.get("/dmo/events")
        rid = r.headers["x-request-id"]
        lines = await _access_lines(logs, rid, 2)
    assert len(rid) == 32
    assert {e["path"] for e in lines} == {"/dmo/events", "/events"}


async def test_query_strings_and_problem_answers_pass_through(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        r = await c.get("/segmentation/events", params={"after": "-5"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after"


async def test_unknown_gateway_path_is_404_problem(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        r = await c.get("/nowhere/at/all", headers={"X-Forwarded-Prefix": "/forged"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/nowhere/at/all"  # the path the caller used, never a prefix it sent


async def test_oversized_body_is_413(databases, tmp: Path) -> None:
    async with AsyncExitStack() as stack:
        p = await start_platform(stack, databases, tmp, services=("integration",), max_body_bytes=1000)
        async with p.client(p.admin_key) as c:
            r = await c.post("/integration/whoami", content=b"x" * 5000)
    assert r.status_code == 413 and r.json()["type"].endswith("/payload-too-large")
    assert r.json()["instance"] == "/integration/whoami"


async def test_rate_limit_answers_429_with_retry_after(databases, tmp: Path) -> None:
    async with AsyncExitStack() as stack:
        p = await start_platform(stack, databases, tmp, services=("segmentation",),
                                 rate_limit_per_second=0.01, rate_limit_burst=3)
        async with p.client(p.admin_key) as c:
            codes = [(await c.get("/segmentation/whoami")).status_code for _ in range(3)]
            limited = await c.get("/segmentation/whoami")
    assert codes == [200, 200, 200]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["instance"] == "/segmentation/whoami"


async def test_down_service_is_503_and_degrades_health(databases, tmp: Path) -> None:
    async with AsyncExitStack() as stack:
        p = await start_platform(stack, databases, tmp, services=("segmentation",))
        async with p.client(p.admin_key) as c:
            r = await c.get("/promotion/events")
            health = await c.get("/health")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1 and r.json()["instance"] == "/promotion/events"
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["services"]["promotion"]["status"] == "down"
    assert health.json()["services"]["segmentation"]["status"] == "ok"


async def _slow_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (m := await receive())["type"] != "lifespan.shutdown":
            await send({"type": m["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await asyncio.sleep(5)


async def test_slow_service_is_504(databases, tmp: Path) -> None:
    async with AsyncExitStack() as stack:
        slow = await stack.enter_async_context(serving(_slow_app))
        p = await start_platform(stack, databases, tmp, services=(), urls={"dmo": slow},
                                 upstream_timeout_seconds=0.3)
        async with p.client(p.admin_key) as c:
            r = await c.get("/dmo/anything")
    assert r.status_code == 504 and r.json()["type"].endswith("/upstream-timeout")
    assert r.json()["instance"] == "/dmo/anything"
    assert int(r.headers["retry-after"]) >= 1


async def test_broken_service_is_502(databases, tmp: Path) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, AsyncExitStack() as stack:
        p = await start_platform(stack, databases, tmp, services=(),
                                 urls={"dmo": f"http://127.0.0.1:{port}"})
        async with p.client(p.admin_key) as c:
            r = await c.get("/dmo/anything")
    assert r.status_code == 502 and r.json()["type"].endswith("/bad-gateway")
    assert r.json()["instance"] == "/dmo/anything"
    assert int(r.headers["retry-after"]) >= 1


async def test_merged_openapi_and_docs(platform: Platform) -> None:
    async with platform.client() as c:
        doc = (await c.get("/openapi.json")).json()
        docs = await c.get("/docs")
    assert "/gateway/keys" in doc["paths"]
    for name in SERVICE_NAMES:
        assert f"/{name}/events" in doc["paths"]
        assert f"/{name}/health/live" in doc["paths"]
    assert doc["paths"]["/segmentation/events"]["get"]["security"] == [{"ApiKey": []}]
    assert "Problem" in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text and "/docs/static/swagger-ui-bundle.js" in docs.text
    async with platform.client() as c:
        js = await c.get("/docs/static/swagger-ui-bundle.js")
        css = await c.get("/docs/static/swagger-ui.css")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text[:2000]
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_location_headers_are_given_under_the_prefix(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        r = await c.post("/segmentation/specialties", json={"code": f"gw_loc_{uuid.uuid4().hex[:8]}",
                                                           "name": "Location check", "family": "medical"})
        assert r.status_code == 201
        segment = {"name": "Location check", "family": "medical", "specialties": [r.json()["code"]],
                   "source_markets": ["GB"], "payer_types": ["self_pay"], "motivation": "want_to",
                   "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}}
        r = await c.post("/segmentation/segments", json=segment)
        assert r.status_code == 201
        assert r.headers["location"] == f"/segmentation/segments/{r.json()['id']}"
        assert (await c.get(r.headers["location"])).json()["id"] == r.json()["id"]


async def test_expect_continue_never_crosses_answers_between_callers(platform: Platform) -> None:
    facilitator = await platform.new_key("facilitator", await platform.register("facilitator"))
    async with platform.client(platform.admin_key) as admin, platform.client(facilitator) as other:
        for _ in range(3):
            r = await admin.post("/integration/stakeholders", headers={"Expect": "100-continue"}, json={
                "kind": "hotel", "name": f"Expect {uuid.uuid4().hex[:6]}", "country": "HR", "city": "Rijeka"})
            assert r.status_code == 201 and r.json()["kind"] == "hotel", r.text
            who = await other.get("/integration/whoami")
            assert who.status_code == 200 and who.json()["role"] == "facilitator", who.text


@pytest.mark.parametrize("path", ["/%69ntegration/whoami", "/integration%2Fwhoami", "/integration%2fwhoami"])
async def test_encoded_prefixes_are_not_service_paths(platform: Platform, path: str) -> None:
    async with platform.client(platform.admin_key) as c:
        r = await c.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_nul_in_paths_and_queries_is_422(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        for path in ("/integration/stakeholders/%00", "/integration/stakeholders?city=%00",
                     "/segmentation/segments?specialty=a%00"):
            r = await c.get(path)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", path


async def test_malformed_traceparent_is_dropped(platform: Platform) -> None:
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with platform.client(platform.admin_key) as c:
            r = await c.get("/dmo/events", headers={"traceparent": "evil\"value", "X-Request-ID": "tp-bad"})
        lines = await _access_lines(logs, "tp-bad", 2)
    assert r.status_code == 200
    assert all(line.get("traceparent") is None for line in lines)


async def test_key_bindings_must_look_like_ids(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as admin:
        for bad in ("..", "../x", "a b", "x" * 65):
            r = await admin.post("/gateway/keys", json={"name": "x", "role": "provider", "stakeholder_id": bad})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stakeholder_id", bad


async def test_trailing_slashes_are_404_without_any_redirect(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        for path in ("/integration/stakeholders/", "/segmentation/segments/", "/gateway/keys/"):
            r = await c.get(path)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", path
            assert "location" not in r.headers, path


def _redirecting_app(location: bytes):
    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (m := await receive())["type"] != "lifespan.shutdown":
                await send({"type": m["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        target = location.replace(b"{host}", dict(scope["headers"])[b"host"])
        await send({"type": "http.response.start", "status": 307,
                    "headers": [(b"location", target), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.mark.parametrize(("location", "public"), [
    (b"http://{host}/stakeholders?x=1", "/dmo/stakeholders?x=1"),
    (b"http://{host}", "/dmo/"),
    (b"/stakeholders", "/dmo/stakeholders"),
    (b"https://example.org/elsewhere", "https://example.org/elsewhere"),
])
async def test_no_upstream_address_leaves_the_gateway_in_a_location(databases, tmp: Path, location: bytes,
                                                                    public: str) -> None:
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(serving(_redirecting_app(location)))
        p = await start_platform(stack, databases, tmp, services=(), urls={"dmo": upstream})
        async with p.client(p.admin_key) as c:
            r = await c.get("/dmo/stakeholders/")
    assert r.status_code == 307 and r.headers["location"] == public


async def test_head_answers_wherever_get_does_through_the_gateway(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        for path in ("/integration/stakeholders", "/segmentation/specialties", "/gateway/keys", "/health",
                     "/integration/health/live", "/openapi.json"):
            got, head = await c.get(path), await c.head(path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b"", path
            assert head.headers["content-length"] == str(len(got.content)), path
            assert head.headers["content-type"] == got.headers["content-type"], path
        assert (await c.head("/integration/stakeholders/stk_nobody")).status_code == 404


@pytest.mark.parametrize("raw", [
    b'{"name": [18446744073709551616]}', b'{"name": 18446744073709551616}', b'{"city": "\\ud800"}',
    b'{"name": ' + b"[" * 300 + b"]" * 300 + b"}",
])
async def test_hostile_values_in_a_provider_patch_are_422_naming_the_field(platform: Platform, raw: bytes) -> None:
    hospital = await platform.register("hospital")
    key = await platform.new_key("provider", hospital)
    async with platform.client(key) as c:
        r = await c.patch(f"/integration/stakeholders/{hospital}", content=raw,
                          headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] in {"name", "city"}
        assert (await c.get(f"/integration/stakeholders/{hospital}")).json()["name"].startswith("Test hospital")


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"name": 18446744073709551616, "role": "staff"}', None),
    (b'{"name": "\\udfff", "role": "staff"}', None),
    (b'{"name": "x", "role": "staff"', "not valid JSON"),
    (b'{"name": "\xc3\x28", "role": "staff"}', "UTF-8"),
    (b"[" * 30_000 + b"]" * 30_000, "nested"),  # within the gateway's 64 KiB, past the parser's depth
])
async def test_the_gateways_own_routes_render_hostile_bodies_as_422(platform: Platform, raw: bytes,
                                                                    why: str | None) -> None:
    async with platform.client(platform.admin_key) as c:
        r = await c.post("/gateway/keys", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == ("name" if why is None else "body")
    assert why is None or why in error["message"]


async def test_key_management_refuses_unknown_query_parameters(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as admin:
        r = await admin.get("/gateway/keys", params={"limit": 5, "colour": "red"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["query.colour"]
        assert (await admin.get("/gateway/keys", params={"limit": 5})).status_code == 200
