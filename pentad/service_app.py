"""``build_service_app``: what every pillar service has in common, wired once.

Lifespan-built database and HTTP client, request context, identity check, unit of work,
problem+json errors, health probes and the ordered event feed. The gateway builds its own
app on the same ``resources`` and ``health_router``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from pentad import metrics, outbox
from pentad.db import Database
from pentad.deps import CurrentCaller, RequireStaff, Session
from pentad.errors import PROBLEM_JSON, PROBLEM_RESPONSES, RETRY_LATER_SECONDS, install_error_handlers, problem_body
from pentad.http import PROBES, ASGIApp, HeadAsGet, RequestContext, VerifyIdentity
from pentad.idempotency import sweep_replays
from pentad.identity import Role
from pentad.openapi import ANY_KEY, install_openapi, operation_id
from pentad.query import strict_query
from pentad.settings import Settings
from pentad.state import RequestState, State, state_of
from pentad.sweeps import Sweep, run_forever
from pentad.uow import UnitOfWork

_FROZEN = False  # gc.freeze() done in this process (build_service_app's lifespan)


@asynccontextmanager
async def resources(settings: Settings, *, http_timeout: float | None = None) -> AsyncIterator[State]:
    """The database, the shared HTTP client and the replay sweeper, for the process's life."""
    db = Database.connect(settings.resolved_database_url(), schema=settings.database_schema,
                          pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                          pool_timeout=settings.db_pool_timeout, statement_timeout=settings.db_statement_timeout)
    http = httpx.AsyncClient(timeout=httpx.Timeout(http_timeout or settings.upstream_timeout_seconds))
    sweeper = asyncio.create_task(sweep_replays(db, retention=timedelta(hours=settings.idempotency_retention_hours)))
    metrics_server = None
    if settings.metrics_port:
        async def refresh() -> None:
            metrics.OUTBOX_HEAD.set(await outbox.head_seq(db))

        metrics_server = await metrics.serve(settings.host, settings.metrics_port, refresh=refresh)
    try:
        yield State(db=db, http=http, settings=settings)
    finally:
        if metrics_server is not None:
            metrics_server.close()
        sweeper.cancel()
        await http.aclose()
        await db.dispose()


class Liveness(BaseModel):
    status: str
    service: str
    instance: str = Field("", description="The run of `pentad up` that started this process (empty otherwise): "
                                         "its supervisor checks it reached its own process, not another on the port.")


class Readiness(Liveness):
    """``/health/ready``: a service may add figures of its own (the coordinator, its feed lag)."""

    model_config = ConfigDict(extra="allow")


# A service's own readiness figures, from the request's state (``build_service_app(ready=)``).
ReadyFigures = Callable[[RequestState], Awaitable[Mapping[str, Any]]]


def health_router(component: str, figures: ReadyFigures | None = None) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live", response_model=Liveness, summary="The process is up")
    async def live(request: Request) -> Liveness:
        return Liveness(status="ok", service=component, instance=state_of(request)["settings"].instance_id)

    @router.get("/health/ready", response_model=Readiness, summary="The process can reach its database",
                responses={503: PROBLEM_RESPONSES[422] | {"description": "Not ready"}})
    async def ready(request: Request) -> Any:
        try:
            await state_of(request)["db"].ping()
        except Exception as exc:  # any failure to reach the database means "not ready"
            return Response(problem_body(503, "not-ready", "Not ready", type(exc).__name__), status_code=503,
                            media_type=PROBLEM_JSON, headers={"Retry-After": str(RETRY_LATER_SECONDS)})
        own = await figures(state_of(request)) if figures else {}
        return Readiness(status="ok", service=component, instance=state_of(request)["settings"].instance_id, **own)

    return router


class WhoAmI(BaseModel):
    key_id: str
    role: Role
    stakeholder_id: str | None


def whoami_router() -> APIRouter:
    router = APIRouter(tags=["identity"])

    @router.get("/whoami", response_model=WhoAmI, summary="Who this service takes the caller to be",
                description="Lets a provider or facilitator system check what its key is bound to.",
                openapi_extra=ANY_KEY)
    async def whoami(caller: CurrentCaller) -> WhoAmI:
        return WhoAmI(key_id=caller.key_id, role=caller.role, stakeholder_id=caller.stakeholder_id)

    return router


def events_router() -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/events", response_model=outbox.EventPage, summary="This service's ordered event feed",
                description="CloudEvents 1.0, each with its position `seq`, oldest first. Page it as every "
                            "list: `cursor` = the last page's `next_cursor`. To resume later (after a restart, "
                            "say), store the last `seq` you handled and ask with `after` = that seq; give "
                            "`cursor` or `after`, not both.")
    async def events(session: Session, _: RequireStaff,
                     after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description=(
                         "Resume after this `seq` (one you stored); 0 is the start of the feed."))] = None,
                     cursor: Annotated[str | None, Query(max_length=64, description=(
                         "The `next_cursor` of the last page."))] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> outbox.EventPage:
        return await outbox.read_feed(session, after=outbox.resume_after(after=after, cursor=cursor), limit=limit)

    return router


@asynccontextmanager
async def running(db: Database, sweeps: Sequence[Sweep], settings: Settings) -> AsyncIterator[None]:
    """Each sweep on its clock for as long as the block lasts (none when the interval is 0)."""
    tasks = [asyncio.create_task(run_forever(db, sweep, settings=settings), name=f"sweep:{sweep.name}")
             for sweep in sweeps if sweep.interval(settings) > 0]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def looping(state: State, loops: Sequence[Callable[[State], Coroutine[Any, Any, None]]]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(loop(state), name=f"loop:{getattr(loop, '__name__', 'loop')}") for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def build_service_app(settings: Settings, *, title: str, description: str,
                      routers: Sequence[APIRouter], version: str = "0.1.0",
                      state: Callable[[Settings], Mapping[str, Any]] | None = None,
                      sweeps: Sequence[Sweep] = (),
                      background: Sequence[Callable[[State], Coroutine[Any, Any, None]]] = (),
                      ready: ReadyFigures | None = None) -> ASGIApp:
    """``state`` adds a service's own per-process objects (caches...) to the lifespan state;
    ``sweeps`` run periodically in every process (``pentad.sweeps``); ``background`` are
    long-running loops (a feed consumer) started with the process and cancelled at its end;
    ``ready`` adds a service's own figures to ``/health/ready``."""
    if not settings.secret:
        raise RuntimeError("PENTAD_SECRET is required: services only accept calls the gateway signs")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        async with resources(settings) as base, running(base["db"], sweeps, settings):
            full: State = {**base, **(state(settings) if state else {})}  # type: ignore[typeddict-item]
            async with looping(full, background):
                # What startup built (modules, routes, schemas, mappers) lives as long as the
                # process: frozen, the periodic full collections stop walking it. Each took
                # 75-100 ms with every request waiting (the DMO offer's p99, bench/offer.py).
                global _FROZEN
                if not _FROZEN:  # once a process (tests start many apps in one)
                    gc.collect()
                    gc.freeze()
                    _FROZEN = True
                yield full

    # No slash redirects: a redirect would name this service's own address, which only the
    # gateway should know; /x/ is simply a 404. strict_query: an unknown query parameter is a
    # 422 on every route, present and future.
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  redirect_slashes=False, dependencies=[Depends(strict_query())],
                  generate_unique_id_function=operation_id)
    install_error_handlers(app)
    install_openapi(app, keyless=PROBES, forwarded=True)
    app.include_router(health_router(settings.service, ready))
    app.include_router(events_router())
    app.include_router(whoami_router())
    for router in routers:
        app.include_router(router)
    # Added innermost first: VerifyIdentity wraps UnitOfWork, which wraps HeadAsGet (so the
    # identity is checked for the method signed: HEAD). RequestContext goes outside
    # FastAPI altogether, so even the server-error handler's log line has the request id.
    app.add_middleware(HeadAsGet)
    app.add_middleware(UnitOfWork, source=settings.service)
    app.add_middleware(VerifyIdentity, secret=settings.secret.encode(),
                       max_age=settings.signature_max_age_seconds)
    return RequestContext(app, access_log=settings.access_log)
