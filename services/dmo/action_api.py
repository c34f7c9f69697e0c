"""Routes of the coordinator's durable actions (thin: the logic lives in actions.py, runner.py,
launch.py, onboard.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from pentad.deps import RequireStaff, Session
from pentad.identity import Caller
from pentad.orm import utcnow
from pentad.pagination import Page, Paging
from services.dmo import actions, launch, onboard
from services.dmo.action_schemas import ActionKind, ActionOut, ActionStatus, LaunchIn, OnboardIn
from services.dmo.steps import StepDef

router = APIRouter()


# -- actions ---------------------------------------------------------------------------------------

ACCEPTED = ("Accepted: the action is stored and runs in the background (it may already have ended). "
            "Follow it at `GET /actions/{id}` (the `Location` header) until `status` is no longer `running`: "
            "`succeeded`, `failed` (refused, with `reasons`; nothing to undo) or `compensated` (a step failed "
            "and the ones before it were undone). A retry under the same `Idempotency-Key` answers this again "
            "and starts nothing new.")


async def _wake(request: Request) -> asyncio.Event:
    wake: asyncio.Event = request.scope["state"]["action_wake"]
    return wake


Wake = Annotated[asyncio.Event, Depends(_wake)]


async def _action(action_id: str, session: Session, _: RequireStaff) -> ActionOut:
    action = await actions.get_or_raise(session, action_id=action_id)
    return actions.present(action, (await actions.steps_of(session, [action.id]))[action.id])


async def _started(session: Session, response: Response, wake: Wake, caller: Caller, *, kind: ActionKind,
                   input: dict[str, Any], plan: Sequence[StepDef]) -> ActionOut:
    action, steps = await actions.create(session, kind=kind, input=input, plan=plan, caller=caller)
    response.headers["Location"] = f"/actions/{action.id}"
    wake.set()
    return actions.present(action, steps)


@router.post("/actions/launch-campaign", response_model=ActionOut, status_code=202, tags=["actions"],
             summary="Launch a campaign: activate it in Promotion only if every segment it targets is ready",
             description=ACCEPTED + " Steps: `read_campaign`, `check_readiness`, `open_initiatives` (only with "
                                    "`open_initiatives` and a segment not ready), `activate_campaign`.")
async def launch_campaign(launch_in: LaunchIn, session: Session, caller: RequireStaff, response: Response,
                          wake: Wake) -> ActionOut:
    return await _started(session, response, wake, caller, kind=ActionKind.launch_campaign,
                          input=launch_in.model_dump(mode="json"), plan=launch.plan(launch_in))


@router.post("/actions/onboard-provider", response_model=ActionOut, status_code=202, tags=["actions"],
             summary="Onboard a provider: register it, submit its accreditation evidence, open its membership",
             description=ACCEPTED + " Steps: `register_stakeholder` (Integration), `submit_accreditation` and "
                                    "`open_membership` (Administration). When one fails, the membership is "
                                    "cancelled, the accreditation revoked and the stakeholder deactivated.")
async def onboard_provider(onboard_in: OnboardIn, session: Session, caller: RequireStaff, response: Response,
                           wake: Wake) -> ActionOut:
    return await _started(session, response, wake, caller, kind=ActionKind.onboard_provider,
                          input=onboard.action_input(onboard_in, today=utcnow().date()), plan=onboard.STEPS)


@router.get("/actions/{action_id}", response_model=ActionOut, tags=["actions"],
            summary="One action and each of its steps")
async def get_action(action: Annotated[ActionOut, Depends(_action)]) -> ActionOut:
    return action


@router.get("/actions", response_model=Page[ActionOut], tags=["actions"], summary="Actions, oldest first")
async def list_actions(session: Session, _: RequireStaff, paging: Paging, kind: ActionKind | None = None,
                       status: ActionStatus | None = None) -> Page[ActionOut]:
    rows, cursor = await actions.list_(session, paging=paging, kind=kind, status=status)
    steps = await actions.steps_of(session, [a.id for a in rows])
    return Page(items=[actions.present(a, steps[a.id]) for a in rows], next_cursor=cursor)
