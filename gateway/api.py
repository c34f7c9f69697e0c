"""The gateway's own routes: key management, health of every service, merged OpenAPI."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from gateway import keys, openapi
from gateway.proxy import gateway_state
from gateway.schemas import KeyCreated, KeyIn, KeyOut
from gateway.shared import publish_revocation
from pentad.client import client_of
from pentad.deps import RequireAdmin, Session
from pentad.errors import PROBLEM_RESPONSES
from pentad.pagination import Page, Paging
from services.integration.client import IntegrationClient

router = APIRouter()
keys_router = APIRouter()  # strict query strings: the gateway app's own dependency
Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]


# A bound key's stakeholder is checked in Integration's register, which may fail to answer.
_REGISTER_FAILED: dict[int | str, dict[str, Any]] = {
    status: PROBLEM_RESPONSES[422] | {"description": text} for status, text in {
        502: "The stakeholder register answered wrongly: retry after `Retry-After` seconds.",
        503: "The stakeholder register is unavailable: retry after `Retry-After` seconds."}.items()}


@keys_router.post("/gateway/keys", response_model=KeyCreated, status_code=201, tags=["keys"],
                  summary="Create an API key (shown once)", responses=_REGISTER_FAILED,
                  description="A `provider` or `facilitator` key is bound to the stakeholder it names, which "
                              "must be registered with a fitting kind; `staff` and `admin` keys are not bound.")
async def create_key(key_in: KeyIn, session: Session, _: RequireAdmin, integration: Integration) -> KeyCreated:
    if key_in.stakeholder_id:
        keys.check_binding(key_in, await integration.stakeholder(key_in.stakeholder_id))
    record, key = await keys.create(session, key_in=key_in)
    return KeyCreated.model_validate({**KeyOut.model_validate(record).model_dump(), "key": key})


@keys_router.get("/gateway/keys", response_model=Page[KeyOut], tags=["keys"], summary="Active API keys")
async def list_keys(session: Session, _: RequireAdmin, paging: Paging) -> Page[KeyOut]:
    rows, cursor = await keys.list_(session, paging=paging)
    return Page[KeyOut](items=[KeyOut.model_validate(r) for r in rows], next_cursor=cursor)


@keys_router.delete("/gateway/keys/{key_id}", status_code=204, tags=["keys"], summary="Revoke an API key")
async def revoke_key(key_id: str, request: Request, session: Session, _: RequireAdmin) -> Response:
    await keys.revoke(session, key_id=key_id)
    gw = gateway_state(request)
    gw.keys.forget_key_id(key_id)
    if gw.redis is not None:
        # The other replicas are told once it is true: one that looks the key up after the
        # message must find it revoked. (Nothing else is written here: no outbox event.)
        await session.commit()
        await publish_revocation(gw.redis, key_id)
    return Response(status_code=204)


class ServiceHealth(BaseModel):
    status: str
    url: str


class Health(BaseModel):
    status: str
    services: dict[str, ServiceHealth]


@router.get("/health", response_model=Health, tags=["health"], summary="Every service's health",
            responses={503: {"model": Health, "description": "Some service is not ready"}})
async def health(request: Request) -> Any:
    gw = gateway_state(request)

    async def probe(base: str) -> str:
        try:
            r = await gw.http.get(base + "/health/ready", timeout=2)
            return "ok" if r.status_code == 200 else f"unready ({r.status_code})"
        except httpx.HTTPError:
            return "down"

    async def service(urls: list[str]) -> str:
        # A service with several replicas is ok while one of them is.
        states = await asyncio.gather(*(probe(url) for url in urls))
        return "ok" if "ok" in states else states[0]

    results = await asyncio.gather(*(service(urls) for urls in gw.upstreams.values()))
    services = {n: ServiceHealth(status=s, url=urls[0])
                for (n, urls), s in zip(gw.upstreams.items(), results, strict=True)}
    body = Health(status="ok" if all(s == "ok" for s in results) else "degraded", services=services)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


_DOC_TTL = 30.0


@router.get("/openapi.json", include_in_schema=False)
async def merged_openapi(request: Request) -> JSONResponse:
    gw = gateway_state(request)
    cached = gw.openapi_cache
    if cached is not None and cached[0] > time.monotonic():
        return JSONResponse(cached[1])
    docs = await openapi.fetch_service_docs(gw.http, {name: urls[0] for name, urls in gw.upstreams.items()})
    doc = openapi.merge(request.app.openapi(), docs)
    if len(docs) == len(gw.upstreams):  # cache only a complete document
        gw.openapi_cache = (time.monotonic() + _DOC_TTL, doc)
    return JSONResponse(doc)


DOCS_STATIC = "/docs/static"


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    # Swagger UI's own files are served from here, not a CDN: consoles on closed networks work too.
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Pentad API",
                               swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_STATIC}/favicon.png")
