"""Launching a campaign: read it (Promotion), check that every segment it targets is ready,
and activate it (Promotion) only then.

A segment that is not ready refuses the launch with its reasons and their numbers; with
``open_initiatives`` the action also opens a development initiative per gap (one per
segment and shortfall, each under its own idempotency key), and those stay open: they are
the point of the refusal, not something to undo. Nothing here needs undoing: reading and
checking change nothing, and activation is the last step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.development.client import GapRef
from services.dmo.action_schemas import LaunchIn
from services.dmo.steps import Call, Done, Pillars, Refused, StepDef


@dataclass(frozen=True, slots=True)
class Readiness:
    segment_id: str
    ready: bool
    reasons: list[str] = field(default_factory=list)
    shortfalls: dict[str, int] = field(default_factory=dict)  # gap kind → how much is missing


async def segment_readiness(pillars: Pillars, *, segment_id: str) -> Readiness:
    """Is the segment ready, and if not, why, with the numbers.

    The one place launching asks: for now Development's gap (``GET /gaps?segment_id=``);
    the coordinator's own readiness (its read model) replaces it at merge."""
    gaps = await pillars.development.gaps(segment_id=segment_id)
    if not gaps:
        return Readiness(segment_id, False, [f"segment {segment_id}: Development reports no gap for it "
                                             "(not an active segment?)"])
    gap = gaps[0]
    return Readiness(segment_id, gap.met, [] if gap.met else _reasons(gap),
                     {k: n for k, n in gap.shortfalls.items() if n > 0})


def _reasons(gap: GapRef) -> list[str]:
    t, c, short, sid = gap.threshold, gap.current, gap.shortfalls, gap.segment_id
    said = {
        "accredited_providers": f"accredited providers: {c.get('accredited_providers')} of "
                                f"{t.get('min_accredited_providers')} needed",
        "weekly_capacity": f"fresh weekly capacity: {c.get('weekly_capacity')} slots in the weakest week "
                           f"({c.get('weakest_week')}) of {t.get('min_weekly_capacity')} needed",
        "languages": f"languages no accredited provider speaks: {', '.join(c.get('languages_missing') or [])}",
        "supporting_stakeholders": f"supporting stakeholders: {c.get('hotels')} of {t.get('hotels')} hotels "
                                   f"and {c.get('transfer_firms')} of {t.get('transfer_firms')} transfer firms",
    }
    return [f"segment {sid}: {said.get(kind, kind)} (short by {n})" for kind, n in short.items() if n > 0]


async def read_campaign(call: Call) -> Done:
    campaign = await call.pillars.promotion.campaign(call.input["campaign_id"])
    if campaign is None:
        raise Refused(f"campaign {call.input['campaign_id']} does not exist", status=404)
    facts = {"segment_ids": campaign.segment_ids, "currency": campaign.budget.currency}
    return Done({"status": campaign.status, **facts}, records=facts)


async def check_readiness(call: Call) -> Done:
    found = [await segment_readiness(call.pillars, segment_id=s) for s in call.records["segment_ids"]]
    segments = [{"segment_id": r.segment_id, "ready": r.ready, "reasons": r.reasons, "shortfalls": r.shortfalls}
                for r in found]
    return Done({"segments": segments}, records={"unready": [s for s in segments if not s["ready"]]},
                reasons=[reason for r in found for reason in r.reasons])


async def open_initiatives(call: Call) -> Done:
    opened: list[dict[str, Any]] = []
    for segment in call.records["unready"]:
        for gap, missing in segment["shortfalls"].items():
            body = _initiative(call, segment_id=segment["segment_id"], gap=gap, missing=missing)
            initiative = await call.pillars.development.create_initiative(
                body, idempotency_key=f"{call.key}-{segment['segment_id']}-{gap}")
            opened.append({"initiative_id": initiative.id, "segment_id": segment["segment_id"], "gap": gap})
    return Done({"initiatives": opened}, records={"initiatives": [o["initiative_id"] for o in opened]})


def _initiative(call: Call, *, segment_id: str, gap: str, missing: int) -> dict[str, Any]:
    return {"title": f"Close the {gap.replace('_', ' ')} gap of segment {segment_id}",
            "description": f"Opened by launch action {call.action_id} of campaign {call.input['campaign_id']}: "
                           f"short by {missing}.",
            "segment_id": segment_id, "gap": gap, "owner": "DMO coordinator",
            "budget": {"amount": "0.00", "currency": call.records.get("currency", "EUR")}}


async def activate(call: Call) -> Done:
    campaign = await call.pillars.promotion.activate(call.input["campaign_id"], action_id=call.action_id,
                                                     idempotency_key=call.key)
    return Done({"status": campaign.status})


READ, CHECK, INITIATIVES, ACTIVATE = (
    StepDef("read_campaign", read_campaign),
    StepDef("check_readiness", check_readiness),
    StepDef("open_initiatives", open_initiatives, on_refusal=True),
    StepDef("activate_campaign", activate),
)
STEPS = (READ, CHECK, INITIATIVES, ACTIVATE)


def plan(launch_in: LaunchIn) -> tuple[StepDef, ...]:
    return (READ, CHECK, INITIATIVES, ACTIVATE) if launch_in.open_initiatives else (READ, CHECK, ACTIVATE)
