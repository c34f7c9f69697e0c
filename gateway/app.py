"""Builds the gateway: the proxy in front, key management and docs behind it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources as package_files
from urllib.parse import urlsplit

import httpx
import structlog
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError

from gateway import api, console, keys, shared
from gateway.limits import KeyCache, RateLimiter
from gateway.proxy import GATEWAY_OPEN_PATHS, Gateway, GatewayProcessState, GatewayState
from gateway.upstream import UpstreamPool, Upstreams
from gateway.webhooks import api as webhooks_api
from gateway.webhooks import worker as webhooks
from pentad.components import SERVICE_NAMES
from pentad.db import Database
from pentad.errors import install_error_handlers
from pentad.http import ASGIApp, HeadAsGet, RequestContext
from pentad.openapi import install_openapi, operation_id
from pentad.query import strict_query
from pentad.service_app import health_router, resources
from pentad.settings import Settings
from pentad.uow import UnitOfWork

log = structlog.get_logger("pentad.gateway")


_SHOWN_ONCE = {"/gateway/keys": "key", "/gateway/webhooks": "secret"}


def _without_secret(path: str, body: bytes) -> bytes:
    # A new key's (or webhook subscription's) secret is shown once: its replay record must not keep it.
    field = _SHOWN_ONCE.get(path.rstrip("/"))
    if field is not None:
        data = json.loads(body)
        if isinstance(data, dict) and field in data:
            data[field] = None
            return json.dumps(data).encode()
    return body


def _pool(url: str, settings: Settings) -> UpstreamPool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise RuntimeError(f"service URL {url!r} must be http://host:port (TLS ends before the services)")
    return UpstreamPool(parts.hostname, parts.port or 80, timeout=settings.upstream_timeout_seconds,
                        max_connections=settings.upstream_max_connections)


async def check_health(http: httpx.AsyncClient, upstreams: dict[str, Upstreams], *, interval: float) -> None:
    """Marks each URL of a service with several healthy or not, by its /health/ready, forever.

    A service with one URL is not checked: its requests have nowhere else to go."""
    async def check(pool: UpstreamPool) -> None:
        try:
            ready = (await http.get(pool.url + "/health/ready", timeout=min(interval, 2.0))).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready != pool.healthy:
            log.warning("upstream.health", url=pool.url, healthy=ready)
        pool.healthy = ready

    pools = [pool for u in upstreams.values() if len(u.pools) > 1 for pool in u.pools]
    while pools:
        await asyncio.gather(*(check(pool) for pool in pools))
        await asyncio.sleep(interval)


def create_admin_app(settings: Settings) -> FastAPI:
    if not settings.secret:
        raise RuntimeError("PENTAD_SECRET is required to sign callers' identities")
    missing = [s for s in SERVICE_NAMES if s not in settings.service_urls]
    if missing:
        raise RuntimeError(f"PENTAD_SERVICE_URLS lacks: {', '.join(missing)}")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[GatewayProcessState]:
        # The shared client serves the typed service clients and the gateway's rare calls
        # (health, OpenAPI, key bindings); the proxy path has its own pools.
        async with resources(settings, http_timeout=10.0) as base:
            urls = {s: settings.urls_of(s) for s in SERVICE_NAMES}
            pools = {s: Upstreams([_pool(url, settings) for url in service_urls], name=s)
                     for s, service_urls in urls.items()}
            gw = GatewayState(db=base["db"], http=base["http"], upstreams=urls, pools=pools,
                              secret=settings.secret.encode(), keys=KeyCache(ttl=settings.key_cache_seconds),
                              limiter=RateLimiter(per_second=settings.rate_limit_per_second,
                                                  burst=settings.rate_limit_burst),
                              failures=RateLimiter(per_second=settings.auth_failures_per_minute / 60,
                                                   burst=settings.auth_failures_burst),
                              max_body=settings.max_body_bytes, max_own_body=settings.gateway_max_body_bytes)
            tasks = [asyncio.create_task(check_health(
                base["http"], pools, interval=settings.upstream_health_interval_seconds))]
            tasks += webhooks.start(base["db"], base["http"], settings)
            if settings.redis_url:
                gw.redis = shared.connect(settings.redis_url)
                gw.shared_limiter = shared.SharedRateLimiter(gw.redis, per_second=settings.rate_limit_per_second,
                                                             burst=settings.rate_limit_burst, fallback=gw.limiter)
                tasks.append(asyncio.create_task(shared.follow_revocations(gw.redis, gw.keys)))
            try:
                await _bootstrap(base["db"], settings)
                yield GatewayProcessState(**base, gw=gw)
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if gw.redis is not None:
                    await gw.redis.aclose()
                for upstream in pools.values():
                    upstream.close()

    app = FastAPI(title="Pentad", version="0.1.0", lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None, redirect_slashes=False, generate_unique_id_function=operation_id,
                  # Strict inputs on every route, the probes and documents too: an unknown query
                  # parameter is a 422 naming it, as on every service.
                  dependencies=[Depends(strict_query())],
                  description="Operations platform for health-tourism Destination Management "
                              "Organisations: the five pillars of the Health Tourism Pentad "
                              "and their coordination, behind one gateway.")
    install_error_handlers(app)
    install_openapi(app, keyless=GATEWAY_OPEN_PATHS, forwarded=False)
    app.include_router(health_router("gateway"))
    app.include_router(api.keys_router)
    app.include_router(webhooks_api.router)
    app.include_router(api.router)
    # Swagger UI 5 (OpenAPI 3.1) as shipped inside the fastapi-offline package.
    app.mount(api.DOCS_STATIC, StaticFiles(directory=str(package_files.files("fastapi_offline") / "static")),
              name="docs-static")
    console.install(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(UnitOfWork, source="gateway", keep_for_replay=_without_secret)
    return app


async def _bootstrap(db: Database, settings: Settings) -> None:
    key_file = settings.data_dir / "admin.key"
    try:
        async with db.sessionmaker() as session:
            created = await keys.ensure_bootstrap_admin(
                session, key_file=key_file, given_key=settings.bootstrap_admin_key or None)
            await session.commit()
    except IntegrityError:
        created = False  # another replica starting at the same moment made it first
    if created:
        log.info("gateway.bootstrap_admin_key", key_file=str(key_file))


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings(service="gateway")
    return RequestContext(Gateway(create_admin_app(settings)), access_log=settings.access_log)
