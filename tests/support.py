"""Test helpers: databases per test (built by Alembic), signed callers, in-process apps."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from asgi_lifespan import LifespanManager

from pentad import migrate
from pentad.components import named
from pentad.http import new_request_id
from pentad.identity import Caller, Role, sign
from pentad.settings import Settings

SECRET = "test-secret"
PG_ADMIN_URL = os.environ.get("PENTAD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class SignedAs(httpx.Auth):
    """Signs each request as ``caller``, the way the gateway does."""

    def __init__(self, caller: Caller, secret: str = SECRET) -> None:
        self.caller = caller
        self.secret = secret.encode()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request_id = request.headers.get("x-request-id") or new_request_id()
        request.headers["x-request-id"] = request_id
        path = request.url.raw_path.decode()  # the target as sent: path and query
        for k, v in sign(self.secret, method=request.method, path=path, caller=self.caller,
                         request_id=request_id):
            request.headers[k] = v
        yield request


STAFF = Caller("key_staff", Role.staff)
ADMIN = Caller("key_admin", Role.admin)


def provider(stakeholder_id: str) -> Caller:
    return Caller(f"key_prov_{stakeholder_id}", Role.provider, stakeholder_id)


def facilitator(stakeholder_id: str) -> Caller:
    return Caller(f"key_fac_{stakeholder_id}", Role.facilitator, stakeholder_id)


class DatabaseFactory:
    """Migrates one template per component once, then hands each test a fresh copy."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.tmp = tmp
        self._templates: dict[str, str] = {}
        self._created: list[str] = []
        self.run_id = uuid.uuid4().hex[:8]

    async def _template(self, component: str) -> str:
        if component not in self._templates:
            if self.backend == "sqlite":
                path = self.tmp / f"template_{component}.db"
                await asyncio.to_thread(migrate.upgrade, component, f"sqlite+aiosqlite:///{path}")
                self._templates[component] = str(path)
            else:
                name = f"pentad_tpl_{component}_{self.run_id}"
                await self._pg(f'CREATE DATABASE "{name}"')
                self._created.append(name)
                await asyncio.to_thread(migrate.upgrade, component,
                                        f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
                self._templates[component] = name
        return self._templates[component]

    async def new(self, component: str) -> str:
        template = await self._template(component)
        if self.backend == "sqlite":
            path = self.tmp / f"{component}_{uuid.uuid4().hex[:10]}.db"
            shutil.copyfile(template, path)
            return f"sqlite+aiosqlite:///{path}"
        name = f"pentad_t_{component[:6]}_{uuid.uuid4().hex[:10]}"
        await self._pg(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._created.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    async def _pg(self, sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def drop_all(self) -> None:
        for name in reversed(self._created):
            await self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(component: str, url: str, tmp: Path, **overrides: Any) -> Settings:
    return Settings(service=component, database_url=url, secret=SECRET, data_dir=tmp,
                    log_format="json", **overrides)


@asynccontextmanager
async def asgi_client(app: Any, caller: Caller | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Drives an app in-process, lifespan included."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     auth=SignedAs(caller) if caller else None) as client:
            yield client


# Ports the kernel never hands out as the local end of an outgoing connection (Linux's
# ephemeral range starts at 32768): a port picked there stays free until we bind it,
# where one from the ephemeral range can be taken by any connect() in between.
_PORTS_FROM, _PORTS_TO = 20000, 32000


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Ports handed out in this process. A platform picks its services' ports before it starts any
# of them, so a port still free when picked can be picked again for the next one: two draws of
# 12,000 collided in a CI run (a module's fixture failed on "address already in use").
_GIVEN: set[int] = set()


def free_port_block(n: int = 1) -> int:
    """The first of ``n`` consecutive free ports (``pentad up`` takes the gateway's and six more),
    none handed out before in this process."""
    if len(_GIVEN) > (_PORTS_TO - _PORTS_FROM) // 2:
        _GIVEN.clear()  # those handed out long ago are closed again by now
    for _ in range(200):
        base = random.randrange(_PORTS_FROM, _PORTS_TO - n)
        block = range(base, base + n)
        if not _GIVEN.intersection(block) and all(_bindable(p) for p in block):
            _GIVEN.update(block)
            return base
    raise RuntimeError(f"no block of {n} free ports")


def free_port() -> int:
    return free_port_block(1)


async def _serve(server: uvicorn.Server, port: int) -> None:
    try:
        await server.serve()
    except SystemExit:  # uvicorn's way to fail a start: left alone, it would end the whole test run
        raise RuntimeError(f"uvicorn could not start on port {port} (taken meanwhile?)") from None


@asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Runs an ASGI app under a real uvicorn server in this loop; yields its URL."""
    port = port or free_port()
    # Keep-alive as launcher/serve.py sets it (75 s), above the gateway's idle pool (50 s): with
    # uvicorn's default 5 s a service closes a connection the gateway may still reuse, and a
    # POST or PATCH sent on it (never retried) comes back a 502.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on", timeout_keep_alive=75))
    task = asyncio.create_task(_serve(server, port))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def build(component: str, settings: Settings) -> Any:
    """The component's app, as ``pentad up`` builds it."""
    return named(component).create_app(settings)
