"""Fixtures of the Administration tests: Segmentation, Integration and Administration running
(Administration checks stakeholders with Integration, which checks specialties with Segmentation).

Periodic sweeps are off in these servers (``sweep_interval_seconds=0``): the tests run
passes themselves, so they know exactly when one ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.administration.helpers import Trio
from tests.pillars import start_pair

SERVICES = ("segmentation", "integration", "administration")


@pytest.fixture(scope="module")
async def trio(databases, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Trio]:
    tmp = tmp_path_factory.mktemp("adm")
    async with AsyncExitStack() as stack:
        yield Trio(await start_pair(stack, databases, tmp, services=SERVICES, sweep_interval_seconds=0), tmp)


@pytest.fixture
async def adm(trio: Trio) -> AsyncIterator[httpx.AsyncClient]:
    async with trio.pair.client("administration") as c:
        yield c


@pytest.fixture
async def reg(trio: Trio) -> AsyncIterator[httpx.AsyncClient]:
    """Integration's register, as staff."""
    async with trio.pair.client("integration") as c:
        yield c
