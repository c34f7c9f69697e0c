"""The Pentad scorecard: the five pillars side by side, the broad-brush index, and the six
attributes a destination must have (integrated, efficient, well-known, attractive, credible,
trusted), each a measured figure with its formula, its inputs and its trend.

Pure functions of what the pillars said (``Found``, fetched once from the pillars)
and of the snapshots kept so far, so every rule is testable without a server. Money is summed
in Decimal and converted once into Integration's FX base; a share is a fraction 0..1.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pentad.errors import Conflict
from pentad.money import MissingRate, Total, convert, format_amount, to_cents
from services.administration.client import AccreditationRef, ComplaintRef
from services.development.client import AssessmentPointRef, GapRef, InitiativeRef
from services.dmo.schemas import (
    AdministrationCard,
    Attribute,
    Attributes,
    DevelopmentCard,
    Direction,
    Figure,
    IntegrationCard,
    PromotionCard,
    Scorecard,
    SegmentationCard,
    Trend,
    TrendPoint,
)
from services.integration.client import PackageRef, StakeholderRef
from services.integration.schemas import PROVIDER_KINDS, Coverage, FxTable
from services.promotion.client import Attribution, CampaignRef, ProviderPerformance
from services.segmentation.client import AttractivenessRef, SegmentRef

COUNTING = frozenset({"valid", "expiring"})  # accreditation statuses that count now
EXPIRY_HORIZON_DAYS = 90
OPEN_INITIATIVES = ("proposed", "approved", "in_progress")
LIVE_CAMPAIGNS = ("active", "paused")  # drafts have no spend; ended campaigns' books are closed
CLOSED_COMPLAINTS = frozenset({"resolved", "dismissed"})
SPEND_UNIT = 1000  # well-known counts enquiries per this many units of spend
TREND_POINTS = 6
# Whether a rise of the attribute's figure is good news (response time and complaints are not).
HIGHER_IS_BETTER = {"integrated": True, "efficient": False, "well_known": True, "attractive": True,
                    "credible": True, "trusted": False}
_PROVIDER_KINDS = frozenset(k.value for k in PROVIDER_KINDS)


@dataclass(frozen=True, slots=True)
class Found:
    """What the pillars said, once per scorecard."""

    today: date
    segments: Sequence[SegmentRef]  # the active ones
    attractiveness: Mapping[str, AttractivenessRef]  # by segment id
    stakeholders: Sequence[StakeholderRef]  # the active register
    coverage: Sequence[Coverage]  # the active segments' specialties
    packages: Sequence[PackageRef]  # the published ones
    fx: FxTable
    accreditations: Sequence[AccreditationRef]  # valid or expiring now
    complaints: Sequence[ComplaintRef]
    gaps: Sequence[GapRef]
    ready: Mapping[str, bool]  # by segment id
    initiatives: Sequence[InitiativeRef]
    assessments: Sequence[AssessmentPointRef]  # oldest first
    campaigns: Sequence[CampaignRef]
    attribution: Attribution  # the whole funnel
    by_market: Mapping[str, Attribution]  # per source market the campaigns name
    performance: Sequence[ProviderPerformance]
    calls: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The attributes' figures (and the index) as the first scorecard of a day computed them."""

    taken_on: date
    values: Mapping[str, float | None]


def compute(found: Found, *, snapshots: Sequence[Snapshot], computed_at: datetime, readiness_source: str
            ) -> Scorecard:
    index, broad_brush = broad_brush_of(found)
    attributes = with_trends(attributes_of(found), found=found, snapshots=snapshots)
    return Scorecard(
        segmentation=segmentation(found), integration=integration(found), administration=administration(found),
        development=development(found), promotion=promotion(found), broad_brush_index=index,
        broad_brush=broad_brush, attributes=attributes, currency=found.fx.base, readiness_source=readiness_source,
        pillar_calls=found.calls, computed_at=computed_at)


def values_of(card: Scorecard) -> dict[str, float | None]:
    """What a snapshot keeps: each attribute's headline figure and the broad-brush index."""
    return {**{name: getattr(card.attributes, name).value for name in HIGHER_IS_BETTER},
            "broad_brush_index": card.broad_brush_index}


# -- helpers ------------------------------------------------------------------------------------

def ratio(part: float | Decimal, whole: float | Decimal, scale: float = 1.0) -> float | None:
    """part / whole (times ``scale``), rounded to 4 decimals; None when there is nothing to divide by."""
    return round(float(part) / float(whole) * scale, 4) if whole else None


def in_base(amount: Decimal, currency: str, fx: FxTable) -> Decimal:
    try:
        return convert(amount, source=currency, target=fx.base, base=fx.base, rates=dict(fx.rates))
    except MissingRate as exc:
        raise Conflict(f"Spend in {exc.currency} cannot be put in {fx.base}: Integration's FX table has no rate "
                       f"for it (PUT /integration/fx-rates). The scorecard adds no figure it cannot convert.") from None


def _money(amount: Decimal, fx: FxTable) -> Total:
    return Total(amount=to_cents(amount, fx.base), currency=fx.base)


def _shown(amount: Decimal) -> str:
    return format_amount(to_cents(amount))


def _providers(found: Found) -> list[StakeholderRef]:
    return [s for s in found.stakeholders if s.kind in _PROVIDER_KINDS]


def _accredited(found: Found) -> set[str]:
    return {a.stakeholder_id for a in found.accreditations if a.status in COUNTING}


def _ready_segments(found: Found) -> list[SegmentRef]:
    return [s for s in found.segments if found.ready.get(s.id) is True]


# -- the five pillars ---------------------------------------------------------------------------

def segmentation(found: Found) -> SegmentationCard:
    estimated = [s for s in found.segments if s.demand is not None]
    return SegmentationCard(
        segments=Figure(value=len(found.segments), unit="count", formula="Active segments in Segmentation.",
                        inputs={"segment_ids": [s.id for s in found.segments]}),
        demand=Figure(
            value=sum(s.demand.annual_patients for s in estimated if s.demand), unit="patients_per_year",
            formula="Sum of demand.annual_patients over the active segments that have a demand estimate "
                    "(segments without one add nothing and are listed).",
            inputs={"by_segment": {s.id: s.demand.annual_patients for s in estimated if s.demand},
                    "without_estimate": [s.id for s in found.segments if s.demand is None]}))


def integration(found: Found) -> IntegrationCard:
    providers = _providers(found)
    offered = sum(c.providers for c in found.coverage)
    fresh = sum(c.providers_with_fresh_capacity for c in found.coverage)
    return IntegrationCard(
        active_providers=Figure(
            value=len(providers), unit="count",
            formula="Active stakeholders of a provider kind (hospital, clinic, dental, rehab, wellness).",
            inputs={"by_kind": _count(p.kind for p in providers)}),
        fresh_capacity_share=Figure(
            value=ratio(fresh, offered), unit="share",
            formula="Over the active segments' specialties: (provider, specialty) pairs with fresh available slots "
                    "in the next 7 days / (provider, specialty) pairs offered by active providers "
                    "(Integration's coverage). Null when no active provider offers one.",
            inputs={"by_specialty": {c.specialty: {"providers": c.providers,
                                                   "with_fresh_capacity": c.providers_with_fresh_capacity}
                                     for c in found.coverage}}),
        published_packages=Figure(value=len(found.packages), unit="count", formula="Published packages.",
                                  inputs={"by_specialty": _count(p.specialty for p in found.packages)}))


def administration(found: Found) -> AdministrationCard:
    providers = _providers(found)
    accredited = _accredited(found)
    horizon = found.today + timedelta(days=EXPIRY_HORIZON_DAYS)
    expiring = sorted((a for a in found.accreditations if a.status in COUNTING and a.expires_on <= horizon),
                      key=lambda a: (a.expires_on, a.id))
    overdue = [c for c in found.complaints if c.overdue]
    return AdministrationCard(
        validly_accredited_share=Figure(
            value=ratio(sum(p.id in accredited for p in providers), len(providers)), unit="share",
            formula="Active providers holding at least one valid or expiring accreditation / active providers. "
                    "Null without active providers.",
            inputs={"active_providers": len(providers), "accredited": sorted(p.id for p in providers
                                                                            if p.id in accredited)}),
        expiring_within_90_days=Figure(
            value=len(expiring), unit="count",
            formula=f"Valid or expiring accreditations whose expires_on is on or before today + "
                    f"{EXPIRY_HORIZON_DAYS} days ({horizon.isoformat()}).",
            inputs={"accreditations": [{"id": a.id, "stakeholder_id": a.stakeholder_id,
                                        "expires_on": a.expires_on.isoformat()} for a in expiring]}),
        complaints_past_sla=Figure(
            value=len(overdue), unit="count", formula="Complaints still open or investigated past their due_at.",
            inputs={"complaint_ids": [c.id for c in overdue], "complaints": len(found.complaints)}))


def development(found: Found) -> DevelopmentCard:
    shortfalls = [(g.segment_id, kind) for g in found.gaps for kind, n in g.shortfalls.items() if n > 0]
    live = [i for i in found.initiatives if i.status in OPEN_INITIATIVES]
    return DevelopmentCard(
        open_gaps=Figure(
            value=len(shortfalls), unit="count",
            formula="(active segment, requirement) pairs with a shortfall above 0 in Development's gap analysis "
                    "(requirements: accredited providers, weekly capacity, languages, supporting stakeholders).",
            inputs={"by_requirement": _count(kind for _, kind in shortfalls),
                    "segments_not_met": sorted({g.segment_id for g in found.gaps if not g.met}),
                    "segments": len(found.gaps)}),
        initiative_progress=Figure(
            value=round(statistics.fmean(i.progress for i in live), 4) if live else None, unit="share",
            formula="Mean progress (done milestones / milestones) of the initiatives proposed, approved or in "
                    "progress. Null when none is.",
            inputs={"by_status": _count(i.status for i in found.initiatives),
                    "progress": {i.id: i.progress for i in live}}),
        last_assessment=_last_assessment(found.assessments))


def _last_assessment(points: Sequence[AssessmentPointRef]) -> Figure:
    formula = ("Share of the segments in the latest Development assessment (by as_of, then the order recorded) "
               "that had crossed their threshold. Null before the first assessment.")
    if not points:
        return Figure(value=None, unit="share", formula=formula, inputs={})
    last = points[-1].assessment_id
    mine = [p for p in points if p.assessment_id == last]
    return Figure(value=ratio(sum(p.met for p in mine), len(mine)), unit="share", formula=formula,
                  inputs={"assessment_id": last, "as_of": mine[0].as_of.isoformat(), "segments": len(mine),
                          "met": sorted(p.segment_id for p in mine if p.met)})


def promotion(found: Found) -> PromotionCard:
    spent = {c.id: in_base(c.spent.amount, c.spent.currency, found.fx) for c in found.campaigns}
    total = sum(spent.values(), Decimal(0))
    funnel = found.attribution
    return PromotionCard(
        active_campaigns=Figure(value=sum(c.status == "active" for c in found.campaigns), unit="count",
                                formula="Campaigns in status active.",
                                inputs={"by_status": _count(c.status for c in found.campaigns)}),
        spend=Figure(value=float(to_cents(total)), unit=found.fx.base, money=_money(total, found.fx),
                     formula=f"Sum of every campaign's spend ledger (any status), each converted into "
                             f"{found.fx.base} at Integration's FX table.",
                     inputs={"by_campaign": {k: _shown(v) for k, v in spent.items()}}),
        conversion=Figure(
            value=ratio(funnel.treated, funnel.enquiries), unit="share",
            formula="Treated patients / enquiries, over Promotion's whole funnel. Null without enquiries.",
            inputs={"enquiries": funnel.enquiries, "routed": funnel.routed, "quoted": funnel.quoted,
                    "booked": funnel.booked, "treated": funnel.treated, "by_step": funnel.conversion}))


# -- the broad-brush index ----------------------------------------------------------------------

def broad_brush_of(found: Found) -> tuple[float, Figure]:
    """Share of the live campaigns' spend that goes to segments that are not ready.

    A campaign's spend is split equally across its (distinct) segments: nothing says which of
    them a euro reached, and an equal split neither flatters nor blames any of them.
    """
    total, unready = Decimal(0), Decimal(0)
    campaigns: list[dict[str, Any]] = []
    for campaign in (c for c in found.campaigns if c.status in LIVE_CAMPAIGNS):
        spent = in_base(campaign.spent.amount, campaign.spent.currency, found.fx)
        # Promotion refuses a campaign without a segment; were there one, all its spend would be broad-brush.
        segments = list(dict.fromkeys(campaign.segment_ids)) or ["(no segment)"]
        ready = {s: found.ready.get(s) is True for s in segments}
        share = spent / len(segments)
        total += spent
        unready += share * sum(not r for r in ready.values())
        campaigns.append({"campaign_id": campaign.id, "status": campaign.status, "spend": _shown(spent),
                          "per_segment": _shown(share), "ready": ready})
    index = round(float(unready / total), 4) if total else 0.0
    return index, Figure(
        value=index, unit="share",
        formula=f"Sum over active and paused campaigns of (spend in {found.fx.base} / number of its segments) x "
                f"(number of its segments not ready now), divided by those campaigns' total spend; 0 when they "
                f"have spent nothing. A segment is ready when its gap is met; a retired or unknown one is not.",
        inputs={"spend": _shown(total), "not_ready_spend": _shown(unready), "campaigns": campaigns})


# -- the six attributes -------------------------------------------------------------------------

def attributes_of(found: Found) -> Attributes:
    return Attributes(integrated=integrated(found), efficient=efficient(found), well_known=well_known(found),
                      attractive=attractive(found), credible=credible(found), trusted=trusted(found))


def integrated(found: Found) -> Attribute:
    ready = _ready_segments(found)
    packaged = {p.specialty for p in found.packages}
    covered = [s.id for s in ready if packaged.intersection(s.specialties)]
    return Attribute(value=ratio(len(covered), len(ready)), unit="share", trend=None,
                     formula="Ready active segments with at least one published package for one of their "
                             "specialties / ready active segments. Null when no segment is ready.",
                     inputs={"ready": [s.id for s in ready], "with_package": covered})


def efficient(found: Found) -> Attribute:
    medians = sorted(p.median_response_seconds for p in found.performance if p.median_response_seconds is not None)
    assignments = sum(p.assignments for p in found.performance)
    breached = sum(p.breached for p in found.performance)
    breach = Figure(value=ratio(breached, assignments), unit="share",
                    formula="Assignments answered late or never (breached) / assignments routed, all providers. "
                            "Null before any routing.",
                    inputs={"assignments": assignments, "breached": breached})
    return Attribute(value=round(statistics.median(medians), 1) if medians else None, unit="seconds", trend=None,
                     formula="Median over providers of each provider's median response time to a routed enquiry "
                             "(Promotion's provider performance). Null before any response.",
                     inputs={"providers": len(found.performance), "medians": medians},
                     parts={"breach_rate": breach})


def well_known(found: Found) -> Attribute:
    def per_spend(funnel: Attribution) -> float | None:
        spend = in_base(funnel.spend.amount, funnel.spend.currency, found.fx)
        return ratio(funnel.enquiries, spend, SPEND_UNIT)

    formula = (f"Enquiries / spend in {found.fx.base} x {SPEND_UNIT} (Promotion's attribution){{}}. "
               f"Null when nothing was spent.")
    market_note = (" Promotion counts a campaign naming several markets in full in each (it does not split spend "
                   "by guess), so a market's figure is a floor.")
    parts = {f"market_{market}": Figure(
        value=per_spend(funnel), unit=f"per_{SPEND_UNIT}_{found.fx.base}",
        formula=formula.format(f", source market {market}") + market_note,
        inputs={"enquiries": funnel.enquiries, "spend": _shown(funnel.spend.amount),
                "currency": funnel.spend.currency}) for market, funnel in sorted(found.by_market.items())}
    funnel = found.attribution
    return Attribute(value=per_spend(funnel), unit=f"per_{SPEND_UNIT}_{found.fx.base}", trend=None,
                     formula=formula.format(", all markets"),
                     inputs={"enquiries": funnel.enquiries, "spend": _shown(funnel.spend.amount),
                             "currency": funnel.spend.currency}, parts=parts)


def attractive(found: Found) -> Attribute:
    scores = {s.id: found.attractiveness[s.id] for s in found.segments if s.id in found.attractiveness}
    return Attribute(
        value=round(statistics.fmean(a.score for a in scores.values()), 4) if scores else None, unit="score",
        trend=None,
        formula="Mean of Segmentation's attractiveness score (0..1) over the active segments. Null without one.",
        inputs={"scores": {k: a.score for k, a in scores.items()},
                "incomplete": sorted(k for k, a in scores.items() if not a.complete)})


def credible(found: Found) -> Attribute:
    active = {p.id for p in _providers(found)}
    offered = sorted({c.stakeholder_id for p in found.packages for c in p.components
                      if c.kind == "treatment" and c.stakeholder_id in active})
    accredited = _accredited(found)
    return Attribute(
        value=ratio(sum(s in accredited for s in offered), len(offered)), unit="share", trend=None,
        formula="Active providers offered to patients (the treatment provider of a published package) holding a "
                "valid or expiring accreditation / those providers. Null when no package is published.",
        inputs={"offered": offered, "accredited": [s for s in offered if s in accredited]})


def trusted(found: Found) -> Attribute:
    treated = found.attribution.treated
    closed = [c for c in found.complaints if c.status in CLOSED_COMPLAINTS and c.closed_at is not None]
    on_time = [c for c in closed if c.closed_at is not None and c.closed_at <= c.due_at]
    late_open = [c for c in found.complaints if c.overdue and c.status not in CLOSED_COMPLAINTS]
    within = Figure(value=ratio(len(on_time), len(closed) + len(late_open)), unit="share",
                    formula="Complaints closed (resolved or dismissed) by their due_at / complaints whose outcome "
                            "is known: closed, or still open past due_at. Null when there is none.",
                    inputs={"closed": len(closed), "closed_on_time": len(on_time), "open_past_due": len(late_open)})
    return Attribute(value=ratio(len(found.complaints), treated, 100), unit="per_100_treated", trend=None,
                     formula="Complaints filed (all time) / patients treated (Promotion's funnel, all time) x 100. "
                             "Null before the first treated patient.",
                     inputs={"complaints": len(found.complaints), "treated": treated},
                     parts={"resolved_within_sla": within})


# -- trends -------------------------------------------------------------------------------------

def with_trends(attributes: Attributes, *, found: Found, snapshots: Sequence[Snapshot]) -> Attributes:
    assessed = sorted({p.as_of for p in found.assessments if p.as_of < found.today})
    if not assessed:
        return attributes
    taken = sorted((s for s in snapshots if s.taken_on < found.today), key=lambda s: s.taken_on)
    return Attributes(**{name: getattr(attributes, name).model_copy(update={"trend": trend(
        name, getattr(attributes, name).value, assessed=assessed, snapshots=taken, today=found.today)})
        for name in HIGHER_IS_BETTER})


def standing_for(assessed_on: date, snapshots: Sequence[Snapshot], *, until: date) -> Snapshot | None:
    """The snapshot that stands for an assessment: the latest taken on or before its date, else the
    first taken after it and before ``until`` (the next assessment, or today); ``snapshots`` oldest first."""
    before = [s for s in snapshots if s.taken_on <= assessed_on]
    if before:
        return before[-1]
    return next((s for s in snapshots if s.taken_on < until), None)


def trend(name: str, now: float | None, *, assessed: Sequence[date], snapshots: Sequence[Snapshot],
          today: date) -> Trend:
    """``now`` against the figure at the last assessment before today (``assessed``: those dates, sorted)."""
    ends = [*assessed[1:], today]
    standing = [(day, standing_for(day, snapshots, until=end)) for day, end in zip(assessed, ends, strict=True)]
    points = [TrendPoint(assessed_on=day, taken_on=s.taken_on, value=s.values.get(name))
              for day, s in standing[-TREND_POINTS:] if s is not None]
    base = standing[-1][1]
    baseline = base.values.get(name) if base is not None else None
    change = round(now - baseline, 4) if now is not None and baseline is not None else None
    direction = None if change is None else Direction.flat if change == 0 else \
        Direction.up if change > 0 else Direction.down
    improved = None if change is None or change == 0 else (change > 0) == HIGHER_IS_BETTER[name]
    return Trend(since=assessed[-1], baseline=baseline, change=change, direction=direction, improved=improved,
                 points=points)


def _count(values: Iterable[str]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return dict(sorted(counted.items()))

