"""Onboarding a provider: register it (Integration), submit its accreditation evidence and
open its membership (Administration), as one action.

Undo, newest first, when a later step fails: the membership is cancelled, the accreditation
revoked with the reason (Administration allows pending → revoked) and the stakeholder
deactivated. Each undo first reads the record and leaves it if it is already undone, so an
undo that runs twice (after a crash) changes nothing the second time.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.dmo.action_schemas import OnboardIn
from services.dmo.steps import Call, Done, StepDef


def action_input(onboard_in: OnboardIn, *, today: date) -> dict[str, Any]:
    """The stored input; the membership's year is fixed now, so every retry asks the same."""
    body = onboard_in.model_dump(mode="json", exclude_none=True)
    body["membership"] |= {"period_start": today.isoformat(),
                           "period_end": (_next_year(today) - timedelta(days=1)).isoformat()}
    return body


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: the year ends on 28 February
        return day.replace(year=day.year + 1, month=3, day=1)


async def register(call: Call) -> Done:
    stakeholder = await call.pillars.integration.register(call.input["stakeholder"], idempotency_key=call.key)
    return Done({"stakeholder_id": stakeholder.id, "status": stakeholder.status},
                records={"stakeholder_id": stakeholder.id})


async def deactivate(call: Call) -> None:
    assert call.result is not None
    await call.pillars.integration.set_status(call.result["stakeholder_id"], "inactive")


async def submit_accreditation(call: Call) -> Done:
    evidence = {"stakeholder_id": call.records["stakeholder_id"], **call.input["accreditation"]}
    accreditation = await call.pillars.administration.submit_accreditation(evidence, idempotency_key=call.key)
    return Done({"accreditation_id": accreditation.id, "status": accreditation.status},
                records={"accreditation_id": accreditation.id})


async def withdraw_accreditation(call: Call) -> None:
    assert call.result is not None
    administration = call.pillars.administration
    accreditation = await administration.accreditation(call.result["accreditation_id"])
    if accreditation is None or accreditation.status == "revoked":
        return
    await administration.revoke_accreditation(
        accreditation.id, reason=f"Withdrawn: onboarding action {call.action_id} did not complete.")


async def open_membership(call: Call) -> Done:
    terms = {"stakeholder_id": call.records["stakeholder_id"], **call.input["membership"]}
    membership = await call.pillars.administration.open_membership(terms, idempotency_key=call.key)
    return Done({"membership_id": membership.id, "status": membership.status},
                records={"membership_id": membership.id})


async def cancel_membership(call: Call) -> None:
    assert call.result is not None
    administration = call.pillars.administration
    membership = await administration.membership(call.result["membership_id"])
    if membership is None or membership.status == "cancelled":
        return
    await administration.cancel_membership(membership.id)


STEPS = (
    StepDef("register_stakeholder", register, undo=deactivate),
    StepDef("submit_accreditation", submit_accreditation, undo=withdraw_accreditation),
    StepDef("open_membership", open_membership, undo=cancel_membership),
)
