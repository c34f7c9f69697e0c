"""A short-lived cache of offer answers, per process.

Facilitators ask the same few offers over and over between two changes of the read model,
and an offer is the costliest read here (every provider of the segment's specialties is
checked to page them by name). An answer is kept for ``dmo_offer_cache_seconds`` at most
and only for the read model's position it was computed at: any event applied from any
feed makes it unusable at once. The offer keeps its answers encoded (JSON bytes without the
read model's position, which each request adds): a hit validates and encodes nothing. What
the clock alone changes (an accreditation past its date, capacity going stale) is therefore
at most that many seconds late. 0 turns it off.

Concurrent requests for an answer being computed wait for that one computation rather
than each running the statements again (16 facilitators asking at the same moment the
entry expired would otherwise cost 16 offers).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

MAX_ENTRIES = 1024
T = TypeVar("T")


class AnswerCache(Generic[T]):
    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[T]]] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await compute()
        found = self._entries.get(key)
        if found is not None and time.monotonic() - found[0] <= self.ttl:
            return await asyncio.shield(found[1])
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._entries[key] = (time.monotonic(), future)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        try:
            future.set_result(await compute())
        except BaseException as exc:  # the waiters see the same failure; the next request tries again
            self._entries.pop(key, None)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        return future.result()
