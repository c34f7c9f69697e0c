"""Reading another service's event feed (``GET /events``), as this process's service identity.

Shared by the feeds' consumers: the coordinator's read model (``services/dmo/feeds.py``) and
the gateway's webhook fan-out (``gateway/webhooks/fanout.py``).
"""

from __future__ import annotations

import httpx

from pentad.client import ServiceClient
from pentad.identity import Caller, Role
from pentad.outbox import EventPage
from pentad.settings import Settings

PAGE_SIZE = 200


class FeedReader(ServiceClient):
    """Reads one service's feed as staff (``service:<this process's service>``)."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, feed: str) -> None:
        super().__init__(http, base_url=settings.url_of(feed), secret=settings.secret.encode(),
                         caller=Caller(f"service:{settings.service}", Role.staff))
        self.service = feed

    async def page(self, *, after: int, limit: int = PAGE_SIZE) -> EventPage:
        return await self.get_model("/events", EventPage, params={"after": after, "limit": limit})

    async def head(self) -> int:
        """The feed's last ``seq`` (0 when empty), walking its pages."""
        after = 0
        while True:
            page = await self.page(after=after, limit=500)
            if page.items:
                after = page.items[-1].seq
            if page.next_cursor is None:
                return after
