"""The action runner: a background loop in every coordinator process that takes unfinished
actions and drives each to its end, step by step.

Durability, step by step, each arrow a committed transaction of its own:
  step ``running`` (attempts + 1) → the pillar call (with the step's idempotency key)
  → step ``succeeded`` | ``failed`` (+ compensation) | still ``running`` (retry later).
A process that dies anywhere leaves the step ``running``: whoever resumes the action calls
the pillar again under the same key, and the pillar answers its first answer, so the record
is made once. A 4xx is a business failure: the steps done so far are undone newest first
(phase ``compensating``, each undo idempotent) and the action ends ``compensated`` (or
``failed`` when there was nothing to undo). An unreachable pillar or a 5xx is waited out:
the action sleeps with exponential backoff (``next_attempt_at``) and is taken up again.

One runner at a time per action, across processes and replicas: a runner owns an action
through a lease (``lease_owner`` until ``lease_expires_at``) taken by a compare-and-set
UPDATE (on PostgreSQL a concurrent taker re-checks the row after the winner commits and
finds it taken; SQLite has one writer), renewed before each step. A runner that dies lets
its lease lapse and another process resumes the action when it does. Were a step to
outlast the lease, two runners could make the same call: the idempotency key still makes
it one record.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.db import Database, write_intent
from pentad.http import current_request_id
from pentad.orm import utcnow
from services.dmo import feeds
from services.dmo.action_schemas import ActionStatus, StepStatus
from services.dmo.actions import step_def
from services.dmo.feeds import FEEDS
from services.dmo.feeds import Pillars as FeedPillars
from services.dmo.metrics import ACTIONS_FINISHED
from services.dmo.models import Action, ActionStep
from services.dmo.steps import Call, Done, Pillars, ReadModel, Refused, StepDef, outcome_of

log = structlog.get_logger("dmo.actions")
SOURCE = "dmo"


class ActionSettings(BaseSettings):
    """The runner's clock (environment ``PENTAD_DMO_ACTIONS_*``), read when the app is built."""

    model_config = SettingsConfigDict(env_prefix="PENTAD_DMO_ACTIONS_", extra="ignore")

    poll_seconds: float = 1.0  # how often a runner looks for actions to take up
    lease_seconds: float = 15.0  # how long an action stays with a runner that stopped renewing
    backoff_seconds: float = 0.5  # the first wait after an unavailable pillar; doubles each time
    backoff_max_seconds: float = 30.0
    parallel: int = 8  # actions one process runs at once
    # Tests only: a pause between a pillar's answer and its record, the window in which a
    # crash leaves a step done in the pillar but not yet in the coordinator.
    step_pause_seconds: float = 0.0
    # How long a launch waits for the read model to apply every event committed before the
    # action was made (a pillar's feed down holds it back); then it refuses, saying the lag.
    read_model_wait_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Move:
    """The next thing to do for an action: run a step or undo one."""

    undo: bool
    position: int
    step: StepDef
    call: Call


# -- leases ---------------------------------------------------------------------------------------

async def due(db: Database, *, limit: int) -> list[str]:
    """Unfinished actions no runner holds, whose next try is due."""
    now = utcnow()
    token = write_intent.set(False)  # a read: on SQLite, no write lock for it
    try:
        async with db.read_sessionmaker() as session:
            return list(await session.scalars(
                sa.select(Action.id).where(Action.status == ActionStatus.running, Action.next_attempt_at <= now,
                                           sa.or_(Action.lease_expires_at.is_(None), Action.lease_expires_at < now))
                .order_by(Action.next_attempt_at).limit(limit)))
    finally:
        write_intent.reset(token)


async def claim(db: Database, *, action_id: str, owner: str, lease: float) -> bool:
    """Take the action's lease if it is free (or lapsed); False if another runner has it."""
    now = utcnow()
    async with db.sessionmaker() as session:
        result = await session.execute(
            sa.update(Action).where(Action.id == action_id, Action.status == ActionStatus.running,
                                    Action.next_attempt_at <= now,
                                    sa.or_(Action.lease_expires_at.is_(None), Action.lease_expires_at < now))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease)))
        await session.commit()
    return getattr(result, "rowcount", 0) == 1


async def _held(session: AsyncSession, *, action_id: str, owner: str, lease: float) -> Action | None:
    """The action, its lease renewed, if this runner still holds it."""
    now = utcnow()
    result = await session.execute(
        sa.update(Action).where(Action.id == action_id, Action.lease_owner == owner,
                                Action.status == ActionStatus.running)
        .values(lease_expires_at=now + timedelta(seconds=lease), updated_at=now))
    if getattr(result, "rowcount", 0) != 1:
        return None
    return await session.get(Action, action_id, populate_existing=True)


# -- one action ------------------------------------------------------------------------------------

async def advance(db: Database, pillars: Pillars, *, action_id: str, owner: str, config: ActionSettings) -> None:
    """Drive a claimed action until it ends, waits out a pillar, or its lease is lost."""
    token = current_request_id.set(f"action-{action_id}")
    try:
        while (move := await _next_move(db, pillars, action_id=action_id, owner=owner, lease=config.lease_seconds)):
            outcome = await _perform(move)
            if config.step_pause_seconds > 0:
                await asyncio.sleep(config.step_pause_seconds)
            if not await _record(db, move, outcome, owner=owner, config=config):
                return
    finally:
        current_request_id.reset(token)


async def _perform(move: Move) -> Done | Refused | Exception:
    try:
        if move.undo:
            assert move.step.undo is not None
            await move.step.undo(move.call)
            return Done({})
        return await move.step.run(move.call)
    except Exception as exc:  # any failure: a business one (4xx), or one to wait out
        refused = outcome_of(exc)
        if move.undo and refused is not None and refused.status == 404:
            return Done({})  # the record is gone: nothing left to undo
        if refused is None or move.undo:
            # An undo is never given up: it is what keeps the action from ending half done.
            log.warning("action.step_retry", action_id=move.call.action_id, step=move.step.name, undo=move.undo,
                        error=type(exc).__name__, detail=str(exc)[:300])
            return exc
        return refused


async def _next_move(db: Database, pillars: Pillars, *, action_id: str, owner: str, lease: float) -> Move | None:
    """Mark the next step running (or find the next undo), in a committed transaction; None
    when the action ended here or is no longer this runner's."""
    async with db.sessionmaker() as session:
        action = await _held(session, action_id=action_id, owner=owner, lease=lease)
        if action is None:
            await session.rollback()
            return None
        steps = list(await session.scalars(sa.select(ActionStep).where(ActionStep.action_id == action_id)
                                           .order_by(ActionStep.position)))
        found = _forward(action, steps) if action.phase == "forward" else _backward(action, steps)
        move: Move | None = None
        if found is None:
            _finish(session, action, steps)
        else:
            step = steps[found[0]]
            if not found[1]:
                step.status, step.attempts = StepStatus.running, step.attempts + 1
                step.started_at = step.started_at or utcnow()
            move = _move(action, step, undo=found[1], pillars=pillars)
        await outbox.flush(session, source=SOURCE)
        await session.commit()
    return move


def _forward(action: Action, steps: list[ActionStep]) -> tuple[int, bool] | None:
    refused = bool(action.reasons)
    for step in steps:
        if step.status not in (StepStatus.pending, StepStatus.running):
            continue
        if step_def(action.kind, step.name).on_refusal != refused:
            step.status, step.finished_at = StepStatus.skipped, utcnow()
            continue
        return step.position, False
    return None


def _backward(action: Action, steps: list[ActionStep]) -> tuple[int, bool] | None:
    for step in reversed(steps):
        if step.status == StepStatus.succeeded and step_def(action.kind, step.name).undo is not None:
            return step.position, True
    return None


def _move(action: Action, step: ActionStep, *, undo: bool, pillars: Pillars) -> Move:
    call = Call(action_id=action.id, step=step.name, key=step.idempotency_key + ("-undo" if undo else ""),
                input=action.input, records=dict(action.context), result=step.result, pillars=pillars,
                created_at=action.created_at)
    return Move(undo=undo, position=step.position, step=step_def(action.kind, step.name), call=call)


def _finish(session: AsyncSession, action: Action, steps: list[ActionStep]) -> None:
    if action.phase == "compensating":
        undone = any(s.status == StepStatus.compensated for s in steps)
        status = ActionStatus.compensated if undone else ActionStatus.failed
    else:
        status = ActionStatus.failed if action.reasons else ActionStatus.succeeded
    now = utcnow()
    for step in steps:
        if step.status == StepStatus.pending:  # never reached: the action failed before them
            step.status, step.finished_at = StepStatus.skipped, now
    action.status, action.phase, action.finished_at, action.updated_at = status, "done", now, now
    action.lease_owner, action.lease_expires_at = None, None
    outbox.record(session, type=f"action.{status}", subject=action.id,
                  data={"kind": action.kind, "reasons": list(action.reasons), "records": dict(action.context)})
    ACTIONS_FINISHED.labels(kind=action.kind, status=status).inc()
    log.info("action.finished", action_id=action.id, kind=action.kind, status=status)


async def _record(db: Database, move: Move, outcome: Done | Refused | Exception, *, owner: str,
                  config: ActionSettings) -> bool:
    """Write what the step did; True to go on with the next move, False to stop here."""
    async with db.sessionmaker() as session:
        action = await _held(session, action_id=move.call.action_id, owner=owner, lease=config.lease_seconds)
        if action is None:
            await session.rollback()
            return False  # another runner has it now; it will redo this step under the same key
        step = await session.get(ActionStep, (action.id, move.position), populate_existing=True)
        assert step is not None
        going_on = _apply(session, action, step, move, outcome, config=config)
        await session.commit()
    return going_on


def _apply(session: AsyncSession, action: Action, step: ActionStep, move: Move, outcome: Done | Refused | Exception,
           *, config: ActionSettings) -> bool:
    now = utcnow()
    if isinstance(outcome, Done):
        if move.undo:
            step.status, step.compensated_at = StepStatus.compensated, now
        else:
            step.status, step.result, step.error, step.finished_at = StepStatus.succeeded, outcome.result, None, now
            action.context = {**action.context, **outcome.records}
            action.reasons = [*action.reasons, *outcome.reasons]
        action.retries = 0
        return True
    if isinstance(outcome, Refused):
        step.status, step.finished_at = StepStatus.failed, now
        step.error = {"reason": outcome.reason, "status": outcome.status, "problem": outcome.problem}
        action.reasons = [*action.reasons, f"{step.name}: {outcome.reason}"]
        action.phase = "compensating"  # with nothing to undo, the next move finds none and ends it failed
        action.retries = 0
        log.info("action.step_failed", action_id=action.id, step=step.name, reason=outcome.reason[:300])
        return True
    action.retries += 1
    wait = min(config.backoff_max_seconds, config.backoff_seconds * 2 ** (action.retries - 1))
    step.error = {"retrying": True, "undo": move.undo, "detail": str(outcome)[:500], "error": type(outcome).__name__}
    action.next_attempt_at = now + timedelta(seconds=wait * random.uniform(0.8, 1.2))
    action.lease_owner, action.lease_expires_at = None, None
    return False


# -- the loop --------------------------------------------------------------------------------------

class Runner:
    """Takes up due actions every ``poll_seconds`` (sooner when a route wakes it)."""

    def __init__(self, db: Database, pillars: Pillars, config: ActionSettings, wake: asyncio.Event) -> None:
        self.db, self.pillars, self.config, self.wake = db, pillars, config, wake
        self.owner = f"runner-{uuid.uuid4().hex[:16]}"
        self.running: dict[str, asyncio.Task[None]] = {}

    async def forever(self) -> None:
        token = write_intent.set(True)
        try:
            soon = False
            while True:
                try:
                    await self.take_up()
                except Exception:
                    log.exception("action.runner_failed")
                soon = await self._wait(soon)
        finally:
            held = list(self.running)
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)
            # A clean stop hands its actions back at once rather than when their leases lapse;
            # a step cut short stays `running` and is sent again under its key.
            for action_id in held:
                await self._release(action_id, after=0.0)
            write_intent.reset(token)

    async def _wait(self, soon: bool) -> bool:
        """Sleep until the next look; True when woken (a route's commit may land just after
        its wake-up, so the look after that one comes early too)."""
        try:
            await asyncio.wait_for(self.wake.wait(), timeout=0.3 if soon else self.config.poll_seconds)
        except TimeoutError:
            return False
        self.wake.clear()
        await asyncio.sleep(0.02)
        return True

    async def take_up(self) -> int:
        free = self.config.parallel - len(self.running)
        if free <= 0:
            return 0
        taken = 0
        for action_id in await due(self.db, limit=free + len(self.running)):
            if action_id in self.running or len(self.running) >= self.config.parallel:
                continue
            if await claim(self.db, action_id=action_id, owner=self.owner, lease=self.config.lease_seconds):
                task = asyncio.create_task(self._run(action_id), name=f"action:{action_id}")
                self.running[action_id] = task
                taken += 1
        return taken

    async def _run(self, action_id: str) -> None:
        try:
            await advance(self.db, self.pillars, action_id=action_id, owner=self.owner, config=self.config)
        except Exception:
            log.exception("action.advance_failed", action_id=action_id)
            await self._release(action_id)
        finally:
            self.running.pop(action_id, None)
            self.wake.set()  # a slot is free, and a retry may be due

    async def _release(self, action_id: str, *, after: float | None = None) -> None:
        """Let any runner resume the action (after an unexpected error, a database hiccup:
        ``poll_seconds`` later)."""
        wait = timedelta(seconds=self.config.poll_seconds if after is None else after)
        try:
            async with self.db.sessionmaker() as session:
                await session.execute(sa.update(Action).where(Action.id == action_id, Action.lease_owner == self.owner)
                                      .values(lease_owner=None, lease_expires_at=None, next_attempt_at=utcnow() + wait))
                await session.commit()
        except Exception:
            log.exception("action.release_failed", action_id=action_id)


def _catch_up(db: Database, pillars: FeedPillars) -> Callable[[], Awaitable[None]]:
    async def catch_up() -> None:
        for feed in FEEDS:
            await feeds.drain(db, pillars, feed)

    return catch_up


async def work(state: Mapping[str, Any], *, config: ActionSettings) -> None:
    """The worker ``build_service_app`` runs for the process's life."""
    try:
        settings = state["settings"]
        pillars = Pillars.of(state["http"], settings, read_model=ReadModel(
            state["db"], settings.stale_after_days, config.read_model_wait_seconds,
            catch_up=_catch_up(state["db"], FeedPillars.of(state["http"], settings))))
    except LookupError as exc:  # a process started without the pillars' addresses cannot act
        log.error("action.runner_off", reason=str(exc))
        return
    await Runner(state["db"], pillars, config, state["action_wake"]).forever()
