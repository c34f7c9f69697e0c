"""Unit of work: one session and one transaction per request, committed at the edge.

The middleware opens the session, runs the route, and commits only if the answer is a
success (flushing the outbox first, so events commit with their change); any error
answer rolls back, so bad input changes nothing. For a creating POST with an
``Idempotency-Key`` the stored first answer is written in that same transaction, so a
change and its replay record exist together or not at all: a retry gets the first
answer back and creates nothing, even across a crash or a race between two replicas.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.db import Database, write_intent
from pentad.http import ASGIApp, Message, Receive, Scope, Send, header, send_problem
from pentad.identity import Caller
from pentad.tables import idempotency_records

log = structlog.get_logger("pentad.uow")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEPT_HEADERS = (b"content-type", b"location", b"etag")


class _Buffered:
    """Holds the route's answer until the transaction is settled."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def replay_to(self, send: Send, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [*self.headers, *extra]})
        await send({"type": "http.response.body", "body": bytes(self.body)})


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


_JSON_NUL = b"\\u0000"


def _refusing_nul(receive: Receive) -> tuple[Receive, list[bool]]:
    """Watch a body for JSON's NUL escape: PostgreSQL text cannot hold U+0000, and SQLite
    should not hold what PostgreSQL refuses. (Raw NUL bytes are not valid JSON anyway.)"""
    seen = [False]
    tail = b""

    async def watch() -> Message:
        nonlocal tail
        message = await receive()
        chunk = tail + message.get("body", b"")
        if _JSON_NUL in chunk:
            seen[0] = True
        tail = chunk[-(len(_JSON_NUL) - 1):]
        return message

    return watch, seen


async def _refuse_nul(send: Send, scope: Scope) -> None:
    await send_problem(send, 422, "validation-error", "Validation error",
                       "Text with a NUL character (\\u0000) cannot be stored.",
                       request_id=scope["state"].get("request_id", ""))


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def session_of(scope: Scope) -> AsyncSession:
    """The request's session, opened on first use (a request that never asks pays nothing)."""
    state = scope["state"]
    session: AsyncSession | None = state.get("session")
    if session is None:
        session = state["session"] = state["db"].sessionmaker()
    return session


class UnitOfWork:
    def __init__(self, app: ASGIApp, *, source: str,
                 keep_for_replay: Callable[[str, bytes], bytes] | None = None) -> None:
        self.app = app
        self.source = source
        # What of a first answer is kept for replays (the gateway drops new API keys' secrets).
        self.keep_for_replay = keep_for_replay or (lambda _path, body: body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        writes = scope["method"] not in SAFE_METHODS
        token = write_intent.set(writes)
        try:
            idem_key = header(scope, b"idempotency-key") if scope["method"] == "POST" else None
            caller: Caller | None = state.get("caller")
            if not writes:
                await self.app(scope, receive, send)
            elif idem_key is not None and caller is not None:
                await self._idempotent(scope, receive, send, caller.key_id, idem_key)
            else:
                await self._transactional(scope, receive, send)
        finally:
            session: AsyncSession | None = state.pop("session", None)
            if session is not None:
                await session.close()
            write_intent.reset(token)

    async def _transactional(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _Buffered()
        watched, nul = _refusing_nul(receive)
        await self.app(scope, watched, answer)
        session = scope["state"].get("session")
        if nul[0]:
            if session is not None:
                await session.rollback()
            await _refuse_nul(send, scope)
            return
        if session is None:
            pass  # the route never touched the database
        elif answer.status < 400:
            await self._commit(session)
        else:
            await session.rollback()
        await answer.replay_to(send)

    async def _commit(self, session: AsyncSession) -> None:
        await outbox.flush(session, source=self.source)
        await session.commit()

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send,
                          key_id: str, idem_key: str) -> None:
        request_id = scope["state"].get("request_id", "")
        if not 1 <= len(idem_key) <= 255:
            await send_problem(send, 422, "validation-error", "Validation error",
                               "Idempotency-Key must be 1 to 255 characters.", request_id=request_id)
            return
        body = await _read_body(receive)
        if _JSON_NUL in body:
            await _refuse_nul(send, scope)
            return
        digest = hashlib.sha256(b"\n".join((scope["method"].encode(), scope.get("raw_path") or b"",
                                            scope.get("query_string", b""), body))).hexdigest()
        # Looked up in a read transaction of its own: the route's transaction (on SQLite, the
        # write lock) starts only when the route first touches the database.
        if await self._replay_if_known(send, scope["state"]["db"], key_id, idem_key, digest, request_id):
            return
        answer = _Buffered()
        await self.app(scope, _replaying(body, receive), answer)
        session = session_of(scope)
        if not 200 <= answer.status < 300:
            await session.rollback()
            await answer.replay_to(send)
            return
        try:
            await session.execute(idempotency_records.insert().values(
                key_id=key_id, idem_key=idem_key, request_hash=digest, status=answer.status,
                headers=[[k.decode("latin-1"), v.decode("latin-1")] for k, v in answer.headers
                         if k.lower() in _KEPT_HEADERS],
                body=self.keep_for_replay(scope["path"], bytes(answer.body)), created_at=datetime.now(UTC)))
            await self._commit(session)
        except IntegrityError:
            # Another request (or replica) committed the same key first: ours is rolled back.
            await session.rollback()
            if await self._replay_if_known(send, scope["state"]["db"], key_id, idem_key, digest, request_id):
                return
            raise
        await answer.replay_to(send)

    async def _replay_if_known(self, send: Send, db: Database, key_id: str,
                               idem_key: str, digest: str, request_id: str) -> bool:
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
        if row["request_hash"] != digest:
            await send_problem(send, 409, "idempotency-key-reused", "Idempotency key reused",
                               "This Idempotency-Key was already used with a different request.",
                               request_id=request_id)
            return True
        replay = _Buffered()
        replay.status = row["status"]
        replay.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row["headers"]]
        replay.body = bytearray(row["body"])
        await replay.replay_to(send, [(b"idempotent-replayed", b"true"),
                                      (b"content-length", str(len(replay.body)).encode())])
        return True


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
