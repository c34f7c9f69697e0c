"""A short-lived cache of offer answers, per process.

Facilitators ask the same few offers over and over between two changes of the read model,
and an offer is the costliest read here (every provider of the segment's specialties is
checked to page them by name). An answer is given for ``dmo_offer_cache_seconds`` at most
and only for the versions of what it read (``versions.py``: its segment, its specialties,
the FX table): an event that changes one of them makes it unusable at once, an event
elsewhere leaves it. The offer keeps its answers encoded (JSON bytes without the
read model's position, which each request adds): a hit validates and encodes nothing. What
the clock alone changes (an accreditation past its date, capacity going stale) is therefore
at most that many seconds late. 0 turns it off.

An answer still asked for is computed again ahead of its end: the first request after a
random 50-100% of its time starts that computation in the background and is given the
current answer, as are the others until the new one is there. So expiry alone makes no
request wait (each that did was ~1% of requests at 16 clients and 24 segments, all of the
p99: ``bench/offer.py``), and answers computed together (every segment after a rebuild)
are not all computed again in the same instant. An answer nobody asked for until its end
is computed by the request that finds it gone, as an answer of new versions is.

Concurrent requests for an answer being computed wait for that one computation rather
than each running the statements again (16 facilitators asking at the same moment a
version changed would otherwise cost 16 offers). ``compute`` must not depend on the
request that calls it (its own session): a computation ahead may outlive that request.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger("dmo.cache")

MAX_ENTRIES = 1024
JITTER = 0.5  # an answer is computed again between (1 - JITTER) * ttl and ttl after its computation began
T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    made: float  # when its computation began: given until made + ttl, never after
    renew_at: float  # from when a request asking for it has it computed again in the background
    future: asyncio.Future[T]
    renewing: bool = False


class AnswerCache(Generic[T]):
    def __init__(self, *, ttl: float, jitter: float = JITTER, clock: Callable[[], float] = time.monotonic,
                 draw: Callable[[], float] = random.random) -> None:
        self.ttl, self.jitter, self.clock, self.draw = ttl, jitter, clock, draw
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._renewals: set[asyncio.Task[None]] = set()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await compute()
        now, found = self.clock(), self._entries.get(key)
        if found is None or now - found.made > self.ttl:
            return await self._compute(key, compute)
        if now >= found.renew_at and found.future.done() and not found.renewing:
            found.renewing = True
            task = asyncio.create_task(self._renew(key, found, compute))
            self._renewals.add(task)
            task.add_done_callback(self._renewals.discard)
        return await asyncio.shield(found.future)

    async def settled(self) -> None:
        """Once every computation ahead begun so far is done (tests)."""
        await asyncio.gather(*self._renewals)

    def _put(self, key: Hashable, made: float, future: asyncio.Future[T]) -> _Entry[T]:
        entry = _Entry(made, made + self.ttl * (1 - self.jitter * self.draw()), future)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        # Oldest first (each put goes to the end): answers past their end leave at once, not only
        # when 1,024 entries pile up (an answer of old versions is never asked again).
        while self._entries:
            first = next(iter(self._entries.values()))
            if len(self._entries) <= MAX_ENTRIES and not (first.future.done() and made - first.made > self.ttl):
                break
            self._entries.popitem(last=False)
        return entry

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """Computed in a task of its own: the request that started it may be cancelled (its
        client gone) while others wait for the same answer; they still get it."""
        entry = self._put(key, self.clock(), asyncio.get_running_loop().create_future())
        task = asyncio.create_task(self._fill(key, entry, compute))
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)
        return await asyncio.shield(entry.future)

    async def _fill(self, key: Hashable, entry: _Entry[T], compute: Callable[[], Awaitable[T]]) -> None:
        try:
            entry.future.set_result(await compute())
        except BaseException as exc:  # the waiters see the same failure; the next request tries again
            if self._entries.get(key) is entry:
                del self._entries[key]
            entry.future.set_exception(exc)
            entry.future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            if not isinstance(exc, Exception):
                raise

    async def _renew(self, key: Hashable, old: _Entry[T], compute: Callable[[], Awaitable[T]]) -> None:
        began = self.clock()
        try:
            answer = await compute()
        except Exception:  # the current answer stays until its end; a later request tries again
            old.renewing = False
            log.warning("offer_cache.renew_failed", exc_info=True)
            return
        if self._entries.get(key) is old:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            future.set_result(answer)
            self._put(key, began, future)
