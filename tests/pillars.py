"""Shared by the pillar tests: Segmentation and Integration (and the pillars that call them)
running and calling each other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pentad.components import SERVICE_NAMES
from tests.support import STAFF, SignedAs, build, facilitator, free_port, serving, settings_for

FAC = SignedAs(facilitator("stk_some_agent"))
PROBLEM = "application/problem+json"


@dataclass
class Pair:
    """Segmentation and Integration, running as uvicorn servers in this process."""

    urls: dict[str, str]
    databases: dict[str, str]

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.urls[service], auth=SignedAs(STAFF), timeout=60)


def service_urls() -> dict[str, str]:
    return {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}


async def start_pair(stack: AsyncExitStack, databases: Any, tmp: Path, urls: dict[str, str] | None = None,
                     services: tuple[str, ...] = ("segmentation", "integration"), **settings: Any) -> Pair:
    """``services`` in order (each may call those before it); ``settings`` apply to all of them."""
    urls = urls or service_urls()
    dbs: dict[str, str] = {}
    for name in services:
        dbs[name] = await databases.new(name)
        app = build(name, settings_for(name, dbs[name], tmp, service_urls=urls, **settings))
        await stack.enter_async_context(serving(app, int(urls[name].rsplit(":", 1)[1])))
    return Pair(urls, dbs)


@pytest.fixture(scope="module")
async def pair(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with AsyncExitStack() as stack:
        yield await start_pair(stack, databases, tmp_path_factory.mktemp("pair"))


@pytest.fixture
async def seg(pair: Pair) -> AsyncIterator[httpx.AsyncClient]:
    async with pair.client("segmentation") as c:
        yield c


@pytest.fixture
async def integ(pair: Pair) -> AsyncIterator[httpx.AsyncClient]:
    async with pair.client("integration") as c:
        yield c


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


async def feed(client: httpx.AsyncClient, after: int = 0) -> list[dict[str, Any]]:
    """Every event after ``after``, walking the feed's pages."""
    items: list[dict[str, Any]] = []
    cursor = after
    while True:
        r = await client.get("/events", params={"after": cursor, "limit": 500})
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = page["items"][-1]["seq"]


async def last_seq(client: httpx.AsyncClient) -> int:
    items = await feed(client)
    return items[-1]["seq"] if items else 0
