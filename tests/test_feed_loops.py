"""The loops that follow the services' event feeds wait a poll after each round, events or not.

Going round again at once whenever a round read events made both a busy loop under steady
writes (a position read, a feed page and a commit every few events): half the gateway's CPU
under a PATCH benchmark with no webhook subscription (bench/kit.py). A backlog is still read
at once: ``drain`` pages through it within the round.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.webhooks import worker
from pentad.settings import Settings
from services.dmo import consumer


class _Stop(Exception):
    pass


def _recording_sleep(waits: list[float], rounds: int) -> Any:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= rounds:
            raise _Stop

    return sleep


async def test_the_webhook_fan_out_waits_a_poll_after_a_round_that_read_events(monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    drained: list[str] = []

    async def drain(_db: Any, reader: Any, **_: Any) -> int:
        drained.append(reader.service)
        return 40  # events keep coming

    waits: list[float] = []
    monkeypatch.setattr(worker.fanout, "drain", drain)
    monkeypatch.setattr(worker.asyncio, "sleep", _recording_sleep(waits, 3))
    settings = Settings(service="gateway", webhooks_poll_seconds=0.7,
                        service_urls={"segmentation": "http://127.0.0.1:1", "integration": "http://127.0.0.1:2"})
    with pytest.raises(_Stop):
        await worker.fan_out_forever(None, None, settings)  # type: ignore[arg-type]
    assert waits == [0.7, 0.7, 0.7]
    assert drained == ["segmentation", "integration"] * 3  # every feed drained each round


async def test_the_coordinator_waits_a_poll_after_a_turn_that_applied_events(monkeypatch: pytest.MonkeyPatch
                                                                             ) -> None:
    turns = 0

    async def turn(*_: Any, **__: Any) -> int:
        nonlocal turns
        turns += 1
        return 25  # events keep coming

    async def no_lag(_db: Any) -> None:
        return None

    waits: list[float] = []
    monkeypatch.setattr(consumer, "turn", turn)
    monkeypatch.setattr(consumer, "_observe_lag", no_lag)
    monkeypatch.setattr(consumer, "hands_of", lambda _state: None)
    monkeypatch.setattr(consumer.asyncio, "sleep", _recording_sleep(waits, 3))
    urls: dict[str, str | list[str]] = {f: f"http://127.0.0.1:{i + 1}" for i, f in enumerate(consumer.FEEDS)}
    settings = Settings(service="dmo", dmo_feed_poll_seconds=0.4, service_urls=urls)
    with pytest.raises(_Stop):
        await consumer.consume({"settings": settings, "db": None, "http": None})  # type: ignore[typeddict-item]
    assert waits == [0.4, 0.4, 0.4]
    assert turns == 3
