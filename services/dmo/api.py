"""Routes of the DMO coordinator service (thin: the logic lives in offer.py, reactions.py,
rebuild.py, scorecard.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response

from pentad.client import client_of
from pentad.codes import currency_param
from pentad.db import Database
from pentad.deps import CurrentCaller, CurrentSettings, RequireStaff, Session, require
from pentad.errors import PROBLEM_RESPONSES
from pentad.identity import Role
from pentad.pagination import Page, Paging, paginate
from pentad.schemas import IsoDate
from pentad.state import state_of
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient
from services.development.gaps import METHOD
from services.dmo import offer, reactions, scorecard, scorecard_snapshots, scorecard_sources, versions
from services.dmo.cache import AnswerCache
from services.dmo.feeds import Pillars
from services.dmo.models import Reaction, RmSegment
from services.dmo.models import Rebuild as RebuildRecord
from services.dmo.rebuild import rebuild
from services.dmo.schemas import Offer, Position, ReactionOut, ReactionPage, ReadinessOut, RebuildOut, Scorecard
from services.integration.client import IntegrationClient
from services.promotion.client import PromotionClient
from services.segmentation.client import SegmentationClient

router = APIRouter()

_READERS = "Facilitators, providers and staff may read it."


async def _segment(segment_id: str, session: Session, _: CurrentCaller) -> RmSegment:
    return await offer.segment_or_raise(session, segment_id)


Segment = Annotated[RmSegment, Depends(_segment)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/segments/{segment_id}/offer", response_model=Offer, response_model_exclude_none=False,
            tags=["offer"], summary="What facilitators see: the providers that can take the segment's patients now",
            description="Providers offering the segment's specialties that are accredited now (valid or expiring), "
                        "have fresh capacity in the window (`from`..`to`, default the next 8 weeks) and speak one "
                        "of its languages, with their capacity per ISO week and published packages (totals in "
                        "`currency` when asked); by name, `limit` a page (`next_cursor` for the next). "
                        "`explain=true` adds each provider left out and why. Read from the coordinator's read "
                        "model: `as_of` and `lag_seconds` say how current it is. " + _READERS)
async def get_offer(segment_id: str, settings: CurrentSettings, paging: Paging, request: Request,
                    _: CurrentCaller, from_: Annotated[IsoDate | None, Query(alias="from")] = None,
                    to: IsoDate | None = None, currency: Annotated[str | None, Query(examples=["GBP"])] = None,
                    explain: bool = False) -> Response:
    now = _now()
    clock = offer.Clock(now, settings.stale_after_days)
    db = state_of(request)["db"]
    # Sessions of its own, each given back at once: no request holds a connection while it
    # waits for a computation that needs one (16 misses would take the pool of 16 and wait).
    async with db.read_sessionmaker() as own:
        cursors, depends_on = await versions.keys_of(own, segment_id)
    position = offer.position_of(cursors, now)
    cache: AnswerCache[bytes] = state_of(request)["offer_cache"]  # type: ignore[typeddict-item]
    # Keyed by the versions of what this segment's offer reads (its row, its specialties, the
    # FX table): an event elsewhere leaves its answers usable. A hit is one statement (with
    # the feed positions every answer carries); a miss looks the segment up (404 there).
    # The window and currency as the answer reads them (``gbp`` and ``GBP`` are one answer).
    window, target = offer.window_of(from_, to, clock.today), currency_param(currency)
    key = (depends_on, segment_id, window, target, explain, paging.limit, paging.cursor, clock.today)

    async def compute() -> bytes:  # once per version of what it reads, not per request
        async with db.read_sessionmaker() as own:  # its own session: a computation ahead outlives the request
            segment = await offer.segment_or_raise(own, segment_id)
            return offer.encode(await offer.offer(own, segment, window=window, clock=clock, currency=target,
                                                  explain=explain, paging=paging))

    return Response(_with_position(position, await cache.get(key, compute)), media_type="application/json")


def _with_position(position: dict[str, Any], body: bytes) -> bytes:
    """The cached answer (a JSON object without its position) with this request's position first."""
    head = Position.model_validate(position).model_dump_json().encode()
    return head[:-1] + b"," + body[1:]


@router.get("/segments/{segment_id}/readiness", response_model=ReadinessOut, tags=["offer"],
            summary="The segment's threshold against the offer: ready or not, and every reason why not",
            description="Development's gap rules applied to the read model now. " + _READERS)
async def get_readiness(segment: Segment, session: Session, settings: CurrentSettings) -> dict[str, Any]:
    now = _now()
    found = await offer.readiness_of(session, segment, clock=offer.Clock(now, settings.stale_after_days))
    return {"segment_id": segment.id, "ready": found.ready, "reasons": found.reasons,
            "threshold": found.gap.threshold, "current": found.gap.current, "method": METHOD,
            **await offer.feed_position(session, now)}


ReactionKind = Literal["provider.left_offer", "provider.joined_offer", "segment.not_ready", "segment.ready_again",
                       "segment.retired"]


@router.get("/reactions", response_model=ReactionPage, tags=["reactions"],
            summary="What the coordinator did on its own, why, and from which event (staff)")
async def list_reactions(session: Session, _: RequireStaff, paging: Paging, segment_id: str | None = None,
                         kind: ReactionKind | None = None) -> ReactionPage:
    rows, cursor = await paginate(session, reactions.listing(segment_id=segment_id, kind=kind),
                                  (Reaction.created_at, Reaction.id), paging)
    return ReactionPage(items=[ReactionOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post("/rebuilds", response_model=RebuildOut, status_code=201, tags=["read model"],
             summary="Rebuild the read model from the pillars' APIs (staff)",
             description="Replaces the read model with what Segmentation, Integration and Administration answer "
                         "now, and resumes their feeds from their heads. Done on its own when the model is empty.")
async def post_rebuild(request: Request, caller: RequireStaff, response: Response) -> RebuildRecord:
    state = state_of(request)
    done = await rebuild(state["db"], Pillars.of(state["http"], state["settings"]), reason="requested",
                         requested_by=caller.key_id)
    response.headers["Location"] = f"/rebuilds/{done.id}"
    return done


@router.get("/rebuilds", response_model=Page[RebuildOut], tags=["read model"],
            summary="The rebuilds of the read model, oldest first (staff)")
async def list_rebuilds(session: Session, _: RequireStaff, paging: Paging) -> Page[RebuildOut]:
    rows, cursor = await paginate(session, sa.select(RebuildRecord), RebuildRecord.id, paging)
    return Page[RebuildOut](items=[RebuildOut.model_validate(r) for r in rows], next_cursor=cursor)


# -- scorecard ----------------------------------------------------------------------------------
# Staff and admin only, facilitators and providers included in nothing: the figures name
# providers' accreditation lapses and complaints, and the DMO's spend (its own working
# knowledge, as Development's gaps are); what facilitators may read is the offer.

async def _scorecard_pillars(
        segmentation: Annotated[SegmentationClient, Depends(client_of(SegmentationClient))],
        integration: Annotated[IntegrationClient, Depends(client_of(IntegrationClient))],
        administration: Annotated[AdministrationClient, Depends(client_of(AdministrationClient))],
        development: Annotated[DevelopmentClient, Depends(client_of(DevelopmentClient))],
        promotion: Annotated[PromotionClient, Depends(client_of(PromotionClient))]) -> scorecard_sources.Pillars:
    return scorecard_sources.Pillars(segmentation=segmentation, integration=integration,
                                     administration=administration, development=development, promotion=promotion)


async def _database(request: Request) -> Database:
    return state_of(request)["db"]


@router.get("/scorecard", response_model=Scorecard, tags=["scorecard"],
            dependencies=[Depends(require(Role.admin, Role.staff))],
            responses={502: PROBLEM_RESPONSES[409] | {"description": "A pillar answered an error (named)"},
                       503: PROBLEM_RESPONSES[409] | {"description": "A pillar did not answer (named)"}},
            summary="The five pillars side by side, the broad-brush index and the six attributes, with trends",
            description=scorecard.__doc__ + "\n\n" + scorecard_sources.__doc__ + "\n\n"
            + scorecard_snapshots.__doc__)
async def get_scorecard(pillars: Annotated[scorecard_sources.Pillars, Depends(_scorecard_pillars)],
                        session: Session, settings: CurrentSettings,
                        db: Annotated[Database, Depends(_database)]) -> Scorecard:
    now = datetime.now(UTC)
    clock = offer.Clock(now, settings.stale_after_days)

    async def ready_of(segment_ids: Sequence[str]) -> dict[str, bool]:
        return await scorecard_sources.readiness(session, segment_ids, clock=clock)

    found = await scorecard_sources.gather(pillars, today=now.date(), ready_of=ready_of)
    card = scorecard.compute(found, snapshots=await scorecard_snapshots.history(session), computed_at=now,
                             readiness_source=scorecard_sources.READINESS_SOURCE)
    await scorecard_snapshots.keep(db, on=found.today, values=scorecard.values_of(card))
    return card
