"""A short-lived cache of offer answers, per process.

Facilitators ask the same few offers over and over between two changes of the read model,
and an offer is the costliest read here (every provider of the segment's specialties is
checked to page them by name). An answer is kept for ``dmo_offer_cache_seconds`` at most
and only for the read model's position it was computed at: any event applied from any
feed makes it unusable at once. The offer keeps its answers encoded (JSON bytes without the
read model's position, which each request adds): a hit validates and encodes nothing. What
the clock alone changes (an accreditation past its date, capacity going stale) is therefore
at most that many seconds late, plus one computation: when an answer's time is up, the
request that finds it computes it again while the others meanwhile still get the expired
one (for the same position only), so expiry costs one request a computation, not every
request arriving until it is done (at 16 clients and 24 segments expiring together that
was the whole p99: 211 ms against 41 ms p90, ``bench/offer.py``). And each answer is kept
for between half and all of that time, at random: answers computed together (every segment
after a change of position) then expire spread out, not all in the same instant. 0 turns
it off.

Concurrent requests for an answer being computed wait for that one computation rather
than each running the statements again (16 facilitators asking at the same moment a
position changed would otherwise cost 16 offers).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_ENTRIES = 1024
JITTER = 0.5  # an answer lives between (1 - JITTER) * ttl and ttl
T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    expires: float  # monotonic time after which it is computed again
    future: asyncio.Future[T]
    expired: tuple[T] | None = None  # the answer it replaces, given while it is computed


class AnswerCache(Generic[T]):
    def __init__(self, *, ttl: float, jitter: float = JITTER, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.jitter, self.clock = ttl, jitter, clock
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await compute()
        found = self._entries.get(key)
        if found is not None and self.clock() <= found.expires:
            if found.expired is not None and not found.future.done():
                return found.expired[0]
            return await asyncio.shield(found.future)
        return await self._compute(key, compute, _last_answer(found))

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]], expired: tuple[T] | None) -> T:
        lifetime = self.ttl * (1 - self.jitter * random.random())
        entry = _Entry[T](self.clock() + lifetime, asyncio.get_running_loop().create_future(), expired)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        try:
            entry.future.set_result(await compute())
        except BaseException as exc:  # the waiters see the same failure; the next request tries again
            if self._entries.get(key) is entry:
                del self._entries[key]
            entry.future.set_exception(exc)
            entry.future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        entry.expired = None
        return entry.future.result()


def _last_answer(entry: _Entry[T] | None) -> tuple[T] | None:
    """The answer an expired entry holds (none if its computation failed or is still running)."""
    if entry is None or not entry.future.done() or entry.future.exception() is not None:
        return None
    return (entry.future.result(),)
