"""Fixtures of the Promotion tests: Segmentation, Integration, Administration and Promotion
running for real (uvicorn, in this process), each calling the others through its typed clients.

Periodic sweeps are off (``sweep_interval_seconds=0``): tests run passes themselves. Each test
makes providers of a specialty of its own, so routing never reaches another test's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tests.pillars import start_pair
from tests.promotion.helpers import World

SERVICES = ("segmentation", "integration", "administration", "promotion")


@pytest.fixture(scope="module")
async def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("promotion")
    async with AsyncExitStack() as stack:
        yield World(await start_pair(stack, databases, tmp, services=SERVICES, sweep_interval_seconds=0), tmp)


@pytest.fixture
async def prom(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with world.client() as c:
        yield c


@pytest.fixture
async def specialty(world: World) -> str:
    from tests.promotion.helpers import new_specialty

    return await new_specialty(world)


@pytest.fixture
async def agent(world: World) -> str:
    """A facilitator in the register."""
    from tests.promotion.helpers import stakeholder

    return await stakeholder(world, "facilitator")
