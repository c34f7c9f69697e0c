"""Fixtures of the Promotion tests: Segmentation, Integration and Promotion running for real
(uvicorn, in this process), each on its own database (SQLite or PostgreSQL).

The campaign tests have a directory of their own: the enquiry tests, built alongside, keep
theirs in ``tests/promotion/`` with fixtures of their own names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pentad.identity import Caller
from tests.pillars import Pair, start_pair
from tests.support import STAFF, SignedAs

PILLARS = ("segmentation", "integration", "promotion")


@dataclass
class World:
    pair: Pair

    def client(self, service: str, caller: Caller = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.pair.urls[service], auth=SignedAs(caller), timeout=60)

    @property
    def promotion_database(self) -> str:
        return self.pair.databases["promotion"]


@pytest.fixture(scope="module")
async def shared(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        yield World(await start_pair(stack, databases, tmp_path_factory.mktemp("promotion"), services=PILLARS))


@pytest.fixture
async def pro(shared: World) -> AsyncIterator[httpx.AsyncClient]:
    async with shared.client("promotion") as c:
        yield c


@pytest.fixture
async def seg(shared: World) -> AsyncIterator[httpx.AsyncClient]:
    async with shared.client("segmentation") as c:
        yield c


@pytest.fixture
async def integ(shared: World) -> AsyncIterator[httpx.AsyncClient]:
    async with shared.client("integration") as c:
        yield c
