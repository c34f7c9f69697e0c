"""Durable actions: how they are stored, listed and shown (the runner is ``runner.py``).

A POST writes the action and all its planned steps (``pending``) in the request's own
transaction, with its ``Idempotency-Key`` record, and answers 202: the action runs after
the commit, in the background runner of whichever coordinator process leases it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.errors import NotFound
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.orm import utcnow
from pentad.pagination import PageParams, paginate
from services.dmo import launch, onboard
from services.dmo.action_schemas import ActionKind, ActionOut, ActionStatus, StepOut, StepStatus
from services.dmo.models import Action, ActionStep
from services.dmo.steps import StepDef, key_of

STEPS: dict[str, tuple[StepDef, ...]] = {ActionKind.launch_campaign: launch.STEPS,
                                         ActionKind.onboard_provider: onboard.STEPS}


def step_def(kind: str, name: str) -> StepDef:
    return next(s for s in STEPS[kind] if s.name == name)


async def create(session: AsyncSession, *, kind: ActionKind, input: dict[str, Any], plan: Sequence[StepDef],
                 caller: Caller) -> tuple[Action, list[ActionStep]]:
    now = utcnow()
    action = Action(id=new_id("act"), kind=kind, status=ActionStatus.running, phase="forward", input=input,
                    context={}, reasons=[], created_by=caller.key_id, created_at=now, updated_at=now,
                    next_attempt_at=now, retries=0)
    steps = [ActionStep(action_id=action.id, position=i, name=s.name, status=StepStatus.pending,
                        idempotency_key=key_of(action.id, s.name), attempts=0) for i, s in enumerate(plan)]
    session.add(action)
    await session.flush()  # the parent row first: PostgreSQL checks the steps' foreign key at once
    session.add_all(steps)
    await session.flush()
    outbox.record(session, type="action.started", subject=action.id, data={"kind": kind, "input": _ids(input)})
    return action, steps


def _ids(input: dict[str, Any]) -> dict[str, Any]:
    """What an event may say of an action's input: ids and names, not a whole body."""
    if "campaign_id" in input:
        return {"campaign_id": input["campaign_id"]}
    return {"stakeholder_name": input["stakeholder"]["name"], "scheme_id": input["accreditation"]["scheme_id"]}


async def get_or_raise(session: AsyncSession, *, action_id: str) -> Action:
    action = await session.get(Action, action_id)
    if action is None:
        raise NotFound(f"No action {action_id}.")
    return action


async def steps_of(session: AsyncSession, action_ids: Sequence[str]) -> dict[str, list[ActionStep]]:
    found: dict[str, list[ActionStep]] = {a: [] for a in action_ids}
    if action_ids:
        rows = await session.scalars(sa.select(ActionStep).where(ActionStep.action_id.in_(action_ids))
                                     .order_by(ActionStep.action_id, ActionStep.position))
        for step in rows:
            found[step.action_id].append(step)
    return found


async def list_(session: AsyncSession, *, paging: PageParams, kind: ActionKind | None,
                status: ActionStatus | None) -> tuple[Sequence[Action], str | None]:
    stmt = sa.select(Action)
    if kind is not None:
        stmt = stmt.where(Action.kind == kind)
    if status is not None:
        stmt = stmt.where(Action.status == status)
    return await paginate(session, stmt, Action.id, paging)


def present(action: Action, steps: Sequence[ActionStep]) -> ActionOut:
    waiting: datetime | None = action.next_attempt_at if action.status == "running" and action.retries else None
    return ActionOut(
        id=action.id, kind=ActionKind(action.kind), status=ActionStatus(action.status),
        steps=[StepOut(name=s.name, status=StepStatus(s.status), idempotency_key=s.idempotency_key,
                       attempts=s.attempts, result=s.result, error=s.error, started_at=s.started_at,
                       finished_at=s.finished_at, compensated_at=s.compensated_at) for s in steps],
        reasons=list(action.reasons), records=dict(action.context), input=action.input,
        created_by=action.created_by, created_at=action.created_at, updated_at=action.updated_at,
        finished_at=action.finished_at, next_attempt_at=waiting)
