"""The coordinator's pure rules: accreditation status by date, the offer's window, the answer cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from pentad.errors import Invalid
from pentad.pagination import PageParams
from services.dmo.cache import AnswerCache
from services.dmo.models import RmAccreditation, RmSegment
from services.dmo.offer import Clock as OfferClock
from services.dmo.offer import counting, encode, offer, status_now, window_of
from services.dmo.readmodel import state_of
from services.dmo.schemas import Offer, Position

TODAY = date(2026, 12, 2)


def accreditation(state: str, expires_in: int) -> RmAccreditation:
    return RmAccreditation(id="acc_1", stakeholder_id="stk_1", scheme_id="sch_jci", scheme_code="jci", state=state,
                           expires_on=TODAY + timedelta(days=expires_in))


@pytest.mark.parametrize(("state", "expires_in", "status", "counts"), [
    ("valid", 400, "valid", True), ("valid", 30, "expiring", True), ("valid", 0, "expiring", True),
    ("valid", -1, "expired", False), ("suspended", 400, "suspended", False), ("revoked", 400, "revoked", False),
    ("pending", 400, "pending", False)])
def test_status_is_judged_at_read_time_as_administration_does(state: str, expires_in: int, status: str,
                                                              counts: bool) -> None:
    a = accreditation(state, expires_in)
    assert status_now(a, TODAY) == status
    assert bool(counting([a], TODAY)) is counts


def test_an_event_status_is_stored_as_the_decision_behind_it() -> None:
    assert [state_of(s) for s in ("valid", "expiring", "expired", "suspended", "revoked", "pending")] == [
        "valid", "valid", "valid", "suspended", "revoked", "pending"]


def test_the_window_defaults_to_the_next_8_weeks_and_is_at_most_a_year() -> None:
    window = window_of(None, None, TODAY)
    assert (window.from_, window.to) == (TODAY, TODAY + timedelta(days=55))
    with pytest.raises(Invalid):
        window_of(TODAY, TODAY + timedelta(days=367), TODAY)


async def test_concurrent_misses_compute_once_and_ttl_zero_never_keeps() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    cache: AnswerCache[int] = AnswerCache(ttl=60)
    assert await asyncio.gather(*(cache.get("k", compute) for _ in range(16))) == [1] * 16
    off: AnswerCache[int] = AnswerCache(ttl=0)
    assert [await off.get("k", compute) for _ in range(2)] == [2, 3]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_answer_still_asked_for_is_computed_again_ahead_while_it_is_given() -> None:
    clock, release, calls = Clock(), asyncio.Event(), 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            await release.wait()
        return calls

    cache: AnswerCache[int] = AnswerCache(ttl=4, clock=clock, draw=lambda: 1.0)  # ahead from half its time
    assert await cache.get("position 1", compute) == 1
    clock.now = 1.9
    assert await cache.get("position 1", compute) == 1 and calls == 1
    clock.now = 2.0
    assert await cache.get("position 1", compute) == 1  # given at once, computed again behind
    await asyncio.sleep(0)
    assert calls == 2 and await cache.get("position 1", compute) == 1  # one computation ahead, not two
    release.set()
    await cache.settled()
    assert await cache.get("position 1", compute) == 2
    assert await cache.get("position 2", compute) == 3  # never another position's answer


async def test_an_answer_is_never_given_after_its_time() -> None:
    clock, calls = Clock(), 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        return calls

    cache: AnswerCache[int] = AnswerCache(ttl=4, clock=clock)
    assert await cache.get("k", compute) == 1
    clock.now = 4.01  # nobody asked in between: the request that finds it gone waits for the new one
    assert await cache.get("k", compute) == 2


async def test_a_failed_computation_ahead_keeps_the_answer_until_its_time() -> None:
    clock, calls = Clock(), 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return calls

    cache: AnswerCache[int] = AnswerCache(ttl=4, clock=clock, draw=lambda: 1.0)
    assert await cache.get("k", compute) == 1
    clock.now = 2.5
    assert await cache.get("k", compute) == 1
    await cache.settled()
    assert calls == 2 and await cache.get("k", compute) == 1  # kept; this request began another
    await cache.settled()
    assert await cache.get("k", compute) == 3


async def test_a_computation_outlives_the_request_that_began_it_for_those_waiting() -> None:
    release, calls = asyncio.Event(), 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    cache: AnswerCache[int] = AnswerCache(ttl=60)
    first = asyncio.create_task(cache.get("k", compute))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get("k", compute))
    await asyncio.sleep(0)
    first.cancel()  # its client went away
    release.set()
    assert await second == 1 and calls == 1
    assert await cache.get("k", compute) == 1


async def test_answers_past_their_time_leave_the_cache_as_others_come() -> None:
    clock = Clock()

    async def compute() -> int:
        return 1

    cache: AnswerCache[int] = AnswerCache(ttl=4, clock=clock)
    for version in range(3):
        await cache.get(("segment", version), compute)
    clock.now = 4.5
    await cache.get(("segment", 3), compute)
    assert list(cache._entries) == [("segment", 3)]


@pytest.mark.parametrize("explain", [False, True])
async def test_a_retired_segments_answer_is_written_as_its_schema_writes_it(explain: bool) -> None:
    segment = RmSegment(id="seg_1", name="Knees", status="retired", specialties=["orthopaedics"], languages=["en"],
                        min_accredited_providers=1, min_weekly_capacity=1)
    answer = await offer(None, segment, window=window_of(None, None, TODAY),  # type: ignore[arg-type]
                         clock=OfferClock(datetime(2026, 12, 2, tzinfo=UTC), 14), currency="GBP", explain=explain,
                         paging=PageParams(limit=50, cursor=None))
    position = {"as_of": None, "lag_seconds": None, "positions": {}}
    schema = Offer.model_validate({**answer, **position}).model_dump_json(by_alias=True,
                                                                          exclude=set(Position.model_fields))
    assert encode(answer) == schema.encode()
