"""pentad/client.py: an id that is a dot segment never reaches another resource."""

from __future__ import annotations

import httpx
import pytest

from pentad.identity import Caller, Role
from services.segmentation.client import SegmentationClient


@pytest.mark.parametrize("segment_id", [".", ".."])
async def test_a_dot_segment_id_is_no_record_and_nothing_is_sent(segment_id: str) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)  # Segmentation would answer its list here, which no lookup can read
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = SegmentationClient(http, base_url="http://segmentation", secret=b"s",
                                    caller=Caller("service:test", Role.staff))
        assert await client.segment(segment_id) is None
    assert sent == []
