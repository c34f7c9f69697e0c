"""Launching a campaign: read it (Promotion), check that every segment it targets is ready,
and activate it (Promotion) only then.

A segment that is not ready refuses the launch with its reasons and their numbers; with
``open_initiatives`` the action also opens a development initiative per gap (one per
segment and shortfall, each under its own idempotency key), and those stay open: they are
the point of the refusal, not something to undo. Nothing here needs undoing: reading and
checking change nothing, and activation is the last step.

Readiness is the coordinator's own (``offer.readiness`` on its read model), the same rules on
the same data as ``GET /segments/{id}/readiness``, the reactions and the scorecard's
broad-brush index. The check first reads the pillars' feeds to their end (as the consumer
does), then judges once the read model has applied every pillar event committed before the
action was made; until then (a pillar's feed unreadable) it is retried (``NotYet``), and it
refuses with the lag when that takes longer than ``PENTAD_DMO_ACTIONS_READ_MODEL_WAIT_SECONDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.client import UpstreamError
from services.development.schemas import Gap
from services.dmo import offer
from services.dmo.action_schemas import LaunchIn
from services.dmo.steps import Call, Done, NotYet, Refused, StepDef

log = structlog.get_logger("dmo.actions")
_GAP_KINDS = ("accredited_providers", "weekly_capacity", "languages", "supporting_stakeholders")


@dataclass(frozen=True, slots=True)
class Readiness:
    segment_id: str
    ready: bool
    reasons: list[str] = field(default_factory=list)
    shortfalls: dict[str, int] = field(default_factory=dict)  # gap kind → how much is missing


async def segment_readiness(session: AsyncSession, *, segment_id: str, clock: offer.Clock) -> Readiness:
    """Is the segment ready, and if not, why, with the numbers: the coordinator's own readiness
    (``offer.readiness``, its read model), the one ``GET /segments/{id}/readiness``, the
    reactions and the scorecard use."""
    try:
        found = await offer.readiness(session, segment_id, stale_after_days=clock.stale_after_days, now=clock.now)
    except offer.SegmentNotFound:
        return Readiness(segment_id, False, [f"segment {segment_id}: the coordinator knows no such segment"])
    shortfalls = {k: n for k in _GAP_KINDS if (n := getattr(found.gap.shortfalls, k)) > 0}
    retired = [f"segment {segment_id}: {r['detail']}" for r in found.reasons if r["requirement"] == "segment_active"]
    return Readiness(segment_id, found.ready, retired + _reasons(found.gap), shortfalls)


def _reasons(gap: Gap) -> list[str]:
    t, c, short, sid = gap.threshold, gap.current, gap.shortfalls, gap.segment_id
    said = {
        "accredited_providers": f"accredited providers: {c.accredited_providers} of "
                                f"{t.min_accredited_providers} needed",
        "weekly_capacity": f"fresh weekly capacity: {c.weekly_capacity} slots in the weakest week "
                           f"({c.weakest_week}) of {t.min_weekly_capacity} needed",
        "languages": f"languages no accredited provider speaks: {', '.join(c.languages_missing)}",
        "supporting_stakeholders": f"supporting stakeholders: {c.hotels} of {t.hotels} hotels "
                                   f"and {c.transfer_firms} of {t.transfer_firms} transfer firms",
    }
    return [f"segment {sid}: {said[kind]} (short by {n})" for kind in _GAP_KINDS if (n := getattr(short, kind)) > 0]


async def read_campaign(call: Call) -> Done:
    campaign = await call.pillars.promotion.campaign(call.input["campaign_id"])
    if campaign is None:
        raise Refused(f"campaign {call.input['campaign_id']} does not exist", status=404)
    facts = {"segment_ids": campaign.segment_ids, "currency": campaign.budget.currency}
    return Done({"status": campaign.status, **facts}, records=facts)


async def check_readiness(call: Call) -> Done:
    """Judged on the read model once it has applied every event committed before the action
    was made (so what staff saw when they asked counts); until then the step is tried again
    (``NotYet``), for ``wait_seconds`` at most, then the launch is refused saying how far
    behind the read model is (``lag_seconds``)."""
    read_model = call.pillars.read_model
    if read_model is None:
        raise NotYet("this process has no read model to judge readiness on")
    if read_model.catch_up is not None:
        try:
            await read_model.catch_up()
        except UpstreamError as exc:  # that pillar's feed lags: judged below by how far
            log.info("launch.catch_up_failed", action_id=call.action_id, detail=str(exc.detail)[:300])
    now = datetime.now(UTC)
    asked_at = call.created_at or now
    async with read_model.db.read_sessionmaker() as session:
        position = await offer.feed_position(session, now)
        as_of: datetime | None = position["as_of"]
        applied = as_of.isoformat() if as_of else "none"
        behind = as_of is None or as_of < asked_at
        if behind and now - asked_at < timedelta(seconds=read_model.wait_seconds):
            raise NotYet(f"the read model has applied the pillars' events up to {applied}, not yet up to "
                         f"{asked_at.isoformat()} when the launch was asked")
        clock = offer.Clock(now, read_model.stale_after_days)
        found = [await segment_readiness(session, segment_id=s, clock=clock) for s in call.records["segment_ids"]]
    segments = [{"segment_id": r.segment_id, "ready": r.ready, "reasons": r.reasons, "shortfalls": r.shortfalls}
                for r in found]
    reasons = [reason for r in found for reason in r.reasons]
    if behind:
        reasons.append(f"the coordinator's read model is behind: events up to {applied} applied, lag_seconds "
                       f"{position['lag_seconds']}; a pillar's feed is not being read (see /dmo/health/ready)")
    return Done({"segments": segments, "as_of": as_of.isoformat() if as_of else None,
                 "lag_seconds": position["lag_seconds"]},
                records={"unready": [s for s in segments if not s["ready"]]}, reasons=reasons)


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
