"""The coordinator's pure rules: accreditation status by date, the offer's window, the answer cache."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from pentad.errors import Invalid
from services.dmo.cache import AnswerCache
from services.dmo.models import RmAccreditation
from services.dmo.offer import counting, status_now, window_of
from services.dmo.readmodel import state_of

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
