"""The demo destination: loaded once, into an empty destination, and never again.

DOMAIN.md: the demo is a starting point, never a source of truth; once a user has data,
nothing the platform does on start changes it. Each pillar's ``services/<x>/demo.py`` has
``async def load(client)`` (a client on the gateway, admin key set); this module decides
whether they run at all, the same way for every pillar:

- Only into an **empty** destination: every service's event feed is empty. Every change a
  service makes writes an event in the same transaction, so an empty feed is a service
  nobody has written to, whatever its tables.
- ``<data-dir>/demo.json`` says ``loading`` before the first request and ``loaded`` after
  the last. A loaded demo is never loaded again: not on a later day, not once the
  idempotency records of its requests are swept.
- A load cut short (Ctrl-C, a crash: the platform served nobody else meanwhile) is
  finished by running every loader again. Each create carries an ``Idempotency-Key``, so
  what was made is replayed, not made twice; that holds with the same admin key and while
  the replay records are kept (``PENTAD_IDEMPOTENCY_RETENTION_HOURS``), so past either
  the load is not resumed and says why.
- A load that fails while the platform keeps running records where each feed stood; the
  next start finishes it only if no feed has moved since (nobody added data meanwhile).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

from pentad.components import SERVICE_NAMES, SERVICES

log = structlog.get_logger("pentad.demo")

MARKER = "demo.json"
Loader = Callable[[httpx.AsyncClient], Awaitable[None]]
# Room left for the resumed load itself before a replay record could age out under it.
_RESUME_MARGIN = timedelta(minutes=10)


def pillar_loaders() -> list[tuple[str, Loader]]:
    """Every pillar that ships a ``demo.py``, in registry order (later pillars may use
    what earlier ones made)."""
    return [(c.name, c.module("demo").load) for c in SERVICES if c.has("demo")]


@dataclass(frozen=True)
class Outcome:
    loaded: bool
    line: str  # what `pentad up` prints after "Demo: "


async def load_once(client: httpx.AsyncClient, data_dir: Path, *, retention: timedelta,
                    loaders: Sequence[tuple[str, Loader]] | None = None, attempts: int = 3,
                    between_attempts: Callable[[], Awaitable[object]] | None = None) -> Outcome:
    """Load the demo through ``client`` unless that could touch a user's data."""
    path = data_dir / MARKER
    try:
        state = read_marker(path)
    except ValueError:
        return Outcome(False, f"not loaded: {path} is unreadable (remove it to let the next start decide again)")
    if state and state["state"] == "loaded":
        return Outcome(False, f"already loaded on {state['loaded_at'][:10]}; left as it is ({path})")
    key_id = (await _get(client, f"/{SERVICE_NAMES[0]}/whoami"))["key_id"]
    if state is None:
        if not await _empty(client):
            return Outcome(False, "not loaded: the destination already has data")
        state = {"state": "loading", "started_at": _now().isoformat(), "key_id": key_id}
        write_marker(path, state)
    elif why := await _cannot_resume(client, state, key_id=key_id, retention=retention):
        return Outcome(False, f"not loaded: {why}")
    return await _run(client, path, state, loaders or pillar_loaders(), attempts, between_attempts)


async def _run(client: httpx.AsyncClient, path: Path, state: dict[str, Any], loaders: Sequence[tuple[str, Loader]],
               attempts: int, between_attempts: Callable[[], Awaitable[object]] | None) -> Outcome:
    for attempt in range(1, attempts + 1):
        try:
            for pillar, load in loaders:
                await load(client)
                log.info("demo.loaded", pillar=pillar)
        except httpx.HTTPError as exc:
            log.warning("demo.retry", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
            if attempt < attempts and between_attempts:
                await between_attempts()
            continue
        write_marker(path, {**state, "state": "loaded", "loaded_at": _now().isoformat(),
                            "pillars": [p for p, _ in loaders]})
        return Outcome(True, "loaded: the Kvarner (Croatia) destination")
    await _record_failure(client, path, state)
    return Outcome(False, f"failed part-way after {attempts} attempts (see demo.retry above); "
                          "the next start finishes it if nothing changes meanwhile")


async def _record_failure(client: httpx.AsyncClient, path: Path, state: dict[str, Any]) -> None:
    """The platform keeps running: note where each feed stands, so a later start can tell
    whether anyone has written since."""
    try:
        feeds = {s: await _last_seq(client, s) for s in SERVICE_NAMES}
    except httpx.HTTPError:
        write_marker(path, {**state, "state": "failed"})  # unknown: never resumed
        return
    write_marker(path, {**state, "feeds": feeds})


async def _cannot_resume(client: httpx.AsyncClient, state: dict[str, Any], *, key_id: str,
                         retention: timedelta) -> str | None:
    started = datetime.fromisoformat(state["started_at"])
    if state["state"] == "failed":
        return f"a load that failed on {started:%Y-%m-%d} left part of it, and the destination may have changed since"
    if state.get("key_id") != key_id:
        return "a load cut short was started with another admin key, so finishing it could duplicate data"
    if _now() - started > retention - _RESUME_MARGIN:
        return (f"a load cut short on {started:%Y-%m-%d} is older than PENTAD_IDEMPOTENCY_RETENTION_HOURS, "
                "so finishing it could duplicate data")
    for service, seq in (state.get("feeds") or {}).items():
        if await _last_seq(client, service, after=seq) != seq:
            return f"the destination has changed since a load failed part-way on {started:%Y-%m-%d}"
    log.info("demo.resuming", started_at=state["started_at"])
    return None


async def _empty(client: httpx.AsyncClient) -> bool:
    for service in SERVICE_NAMES:
        if (await _get(client, f"/{service}/events", after=0, limit=1))["items"]:
            return False
    return True


async def _last_seq(client: httpx.AsyncClient, service: str, *, after: int = 0) -> int:
    while True:
        page = await _get(client, f"/{service}/events", after=after, limit=500)
        if page["items"]:
            after = page["items"][-1]["seq"]
        if page["next_cursor"] is None:
            return after


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params)
    r.raise_for_status()
    return r.json()


def _now() -> datetime:
    return datetime.now(UTC)


def read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def write_marker(path: Path, state: dict[str, Any]) -> None:
    """Atomically and durably: a crash leaves the old marker or the new, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        json.dump(state, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
