"""Unit of work: one session and one transaction per request, committed at the edge.

The middleware opens the session lazily (a route that never asks pays nothing), runs the
route, and commits only if the answer is a success (flushing the outbox first, so events
commit with their change); any error answer rolls back, so bad input changes nothing. A
creating POST with an ``Idempotency-Key`` also stores its answer for replays in that same
transaction (``pentad.idempotency``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import idempotency, outbox
from pentad.db import write_intent
from pentad.http import (
    JSON_NUL,
    ASGIApp,
    BufferedAnswer,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header,
    instance_of,
    read_body,
    refuse_nul,
    replaying,
    send_problem,
)
from pentad.state import state_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A write that lost a database race (deadlock, serialization failure: rolled back, nothing
# applied) runs again on a fresh session this many times before its 503 goes out.
RETRIES = 3


def session_of(scope: Scope) -> AsyncSession:
    """The request's session, opened on first use: a safe method's reads without a transaction
    (``Database.read_sessionmaker``; the unit of work never commits one anyway)."""
    state = state_of(scope)
    session = state.get("session")
    if session is None:
        db = state["db"]
        session = state["session"] = (db.sessionmaker if write_intent.get() else db.read_sessionmaker)()
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
        writes = scope["method"] not in SAFE_METHODS
        token = write_intent.set(writes)
        try:
            if writes:
                await self._write(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            session = state_of(scope).pop("session", None)
            if session is not None:
                await session.close()
            write_intent.reset(token)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Bodies are bounded by the gateway, so reading one whole costs a copy and buys one
        # place for the NUL rule and the idempotency digest.
        try:
            body = await read_body(receive) or b""
        except ClientDisconnected:
            return  # nobody to answer, and a cut body is not a request to act on
        if JSON_NUL in body:
            await refuse_nul(send, scope)
            return
        state = state_of(scope)
        caller = state.get("caller")
        idem_key = header(scope, b"idempotency-key") if scope["method"] == "POST" else None
        if idem_key is None or caller is None:
            answer = await self._run(scope, body, receive)
            await self._settle(scope, answer)
            await answer.replay_to(send)
            return
        if not 1 <= len(idem_key) <= 255:
            await send_problem(send, 422, "validation-error", "Validation error",
                               "Idempotency-Key must be 1 to 255 characters.", request_id=state.get("request_id", ""),
                               instance=instance_of(scope))
            return
        await self._idempotent(scope, receive, send, body, caller.key_id, idem_key)

    async def _run(self, scope: Scope, body: bytes, receive: Receive) -> BufferedAnswer:
        state = state_of(scope)
        for attempt in range(RETRIES + 1):
            answer = BufferedAnswer()
            await self.app(scope, replaying(body, receive), answer)
            if not state.pop("retryable", False) or attempt == RETRIES:
                return answer
            session = state.pop("session", None)
            if session is not None:
                await session.close()  # rolls back what the lost attempt began
            await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # let the winner commit
        raise AssertionError("unreachable")

    async def _settle(self, scope: Scope, answer: BufferedAnswer) -> None:
        """Commit a success, roll back anything else."""
        session = state_of(scope).get("session")
        if session is None:
            return  # the route never touched the database
        if answer.status < 400:
            await outbox.flush(session, source=self.source)
            await session.commit()
        else:
            await session.rollback()

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send, body: bytes,
                          key_id: str, idem_key: str) -> None:
        state = state_of(scope)
        request_id = state.get("request_id", "")
        request_hash = idempotency.digest(scope, body)
        known = dict(key_id=key_id, idem_key=idem_key, request_hash=request_hash, request_id=request_id,
                     instance=instance_of(scope))
        if await idempotency.replay_if_known(send, state["db"], **known):
            return
        answer = await self._run(scope, body, receive)
        if not 200 <= answer.status < 300:
            await self._settle(scope, answer)  # nothing to remember: a retry may try again
            await answer.replay_to(send)
            return
        session = session_of(scope)
        try:
            await idempotency.remember(session, answer, key_id=key_id, idem_key=idem_key, request_hash=request_hash,
                                       body=self.keep_for_replay(scope["path"], bytes(answer.body)))
            await self._settle(scope, answer)
        except IntegrityError:
            # Another request (or replica) committed the same key first: ours is rolled back.
            await session.rollback()
            if await idempotency.replay_if_known(send, state["db"], **known):
                return
            raise
        await answer.replay_to(send)
