"""Idempotency-Key: a creating POST's first answer, kept and replayed to every retry.

The unit of work (``pentad.uow``) stores the record in the same transaction as the change
it answers, so the change and its replay record exist together or not at all. A retry with
the same key and the same request gets the first answer back (``Idempotent-Replayed:
true``); the same key with another request is a 409. Keys are per API key, kept for the
retention window, then swept.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import Database, write_intent
from pentad.http import BufferedAnswer, Scope, Send, send_problem
from pentad.tables import idempotency_records

log = structlog.get_logger("pentad.idempotency")
_KEPT_HEADERS = (b"content-type", b"location", b"etag")


def digest(scope: Scope, body: bytes) -> str:
    """What makes two requests "the same": method, target and body."""
    return hashlib.sha256(b"\n".join((scope["method"].encode(), scope.get("raw_path") or b"",
                                      scope.get("query_string", b""), body))).hexdigest()


async def replay_if_known(send: Send, db: Database, *, key_id: str, idem_key: str, request_hash: str,
                          request_id: str, instance: str = "") -> bool:
    """Answer from the stored record (or 409 for another request under the same key); False if none.

    Read in a transaction of its own: the request's (on SQLite, the write lock) starts only
    when the route first touches the database."""
    token = write_intent.set(False)
    try:
        async with db.sessionmaker() as session:
            row: Any = (await session.execute(sa.select(idempotency_records).where(
                idempotency_records.c.key_id == key_id,
                idempotency_records.c.idem_key == idem_key))).mappings().first()
    finally:
        write_intent.reset(token)
    if row is None:
        return False
    if row["request_hash"] != request_hash:
        await send_problem(send, 409, "idempotency-key-reused", "Idempotency key reused",
                           "This Idempotency-Key was already used with a different request.", request_id=request_id,
                           instance=instance)
        return True
    stored = BufferedAnswer(row["status"], [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row["headers"]],
                            row["body"])
    await stored.replay_to(send, [(b"idempotent-replayed", b"true"),
                                  (b"content-length", str(len(stored.body)).encode())])
    return True


async def remember(session: AsyncSession, answer: BufferedAnswer, *, key_id: str, idem_key: str,
                   request_hash: str, body: bytes) -> None:
    """Add the replay record to the request's transaction (``body``: what of the answer to keep)."""
    await session.execute(idempotency_records.insert().values(
        key_id=key_id, idem_key=idem_key, request_hash=request_hash, status=answer.status,
        headers=[[k.decode("latin-1"), v.decode("latin-1")] for k, v in answer.headers if k.lower() in _KEPT_HEADERS],
        body=body, created_at=datetime.now(UTC)))


async def forget_old_replays(db: Database, *, older_than: timedelta) -> int:
    """Delete replay records past the retention window; returns how many went."""
    async with db.sessionmaker() as session:
        result = await session.execute(idempotency_records.delete().where(
            idempotency_records.c.created_at < datetime.now(UTC) - older_than))
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def sweep_replays(db: Database, *, retention: timedelta, every: float = 3600.0) -> None:
    """Run for the life of the process (every replica may: the delete is idempotent)."""
    while True:
        try:
            gone = await forget_old_replays(db, older_than=retention)
            if gone:
                log.info("idempotency.swept", records=gone)
        except Exception:
            log.exception("idempotency.sweep_failed")
        await asyncio.sleep(every)
