"""Fixtures of the Integration tests (the module-wide ``pair`` comes from tests/pillars.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from tests.pillars import Pair, start_pair


@pytest.fixture
async def own_integ(databases, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Integration on databases of this test alone: for the one FX table, which tests would share."""
    async with AsyncExitStack() as stack:
        own = await start_pair(stack, databases, tmp)
        async with own.client("integration") as c:
            yield c


@pytest.fixture
async def own_pair(databases, tmp: Path) -> AsyncIterator[Pair]:
    """Segmentation and Integration on databases of this test alone: for exact destination-wide
    figures (coverage) and for rows a test writes to the database itself."""
    async with AsyncExitStack() as stack:
        yield await start_pair(stack, databases, tmp)
