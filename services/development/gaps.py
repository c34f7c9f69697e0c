"""Gap analysis: a segment's critical threshold against what the destination has.

Pure functions of what the pillars said (``Found``, fetched once by ``sources.py``), so the
rules are testable without a server and an assessment stores exactly what they saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.administration.client import AccreditationRef
from services.development.schemas import (
    Current,
    CurrentIn,
    Gap,
    GapInputs,
    GapThreshold,
    ProviderInput,
    Shortfalls,
    SupportingInput,
    WeekInput,
)
from services.integration.client import StakeholderRef
from services.integration.schemas import PROVIDER_KINDS, WeeklyCapacity, iso_week
from services.segmentation.client import SegmentRef

WEEKS = 8
COUNTING = frozenset({"valid", "expiring"})  # accreditation statuses that count now
HOTELS, TRANSFER_FIRMS = 1, 1  # what a package (treatment + stay + transfer) needs at the least
_PROVIDER_KINDS = frozenset(k.value for k in PROVIDER_KINDS)

METHOD = (
    "Accredited providers: active stakeholders of a provider kind (hospital, clinic, dental, rehab, wellness) "
    "that offer at least one of the segment's specialties and hold an accreditation that is valid or expiring "
    "now (any scheme), against threshold.min_accredited_providers. "
    "Weekly capacity: for each of the 8 ISO weeks starting on the first Monday on or after today, the fresh "
    "available slots (rows re-confirmed within the staleness window) those accredited providers posted for the "
    "segment's specialties, summed; the weakest week is held against threshold.min_weekly_capacity. "
    "Languages: the segment's languages that no accredited provider speaks. "
    "Supporting stakeholders: a package needs at least 1 active hotel and 1 active transfer firm; the shortfall "
    "is how many of those are missing. Each shortfall is max(0, needed - have); `met` when all are 0."
)


@dataclass(frozen=True, slots=True)
class Found:
    """What the pillars said, once for every segment analysed."""

    stakeholders: Sequence[StakeholderRef]
    accreditations: Sequence[AccreditationRef]
    capacity: Sequence[WeeklyCapacity]
    weeks: Sequence[date]  # the Mondays of the weeks looked at


def weeks_from(today: date, count: int = WEEKS) -> list[date]:
    """The Mondays of the ``count`` whole ISO weeks from the first Monday on or after ``today``:
    whole weeks compare like with like, and the week under way is partly past."""
    first = today + timedelta(days=-today.weekday() % 7)
    return [first + timedelta(weeks=i) for i in range(count)]


def threshold_of(segment: SegmentRef) -> GapThreshold:
    return GapThreshold(min_accredited_providers=segment.threshold.min_accredited_providers,
                        min_weekly_capacity=segment.threshold.min_weekly_capacity,
                        languages=list(segment.languages), hotels=HOTELS, transfer_firms=TRANSFER_FIRMS)


def shortfalls_of(threshold: GapThreshold, current: Current) -> Shortfalls:
    return Shortfalls(
        accredited_providers=max(0, threshold.min_accredited_providers - current.accredited_providers),
        weekly_capacity=max(0, threshold.min_weekly_capacity - current.weekly_capacity),
        languages=len(current.languages_missing),
        supporting_stakeholders=max(0, threshold.hotels - current.hotels)
        + max(0, threshold.transfer_firms - current.transfer_firms))


def judge(segment: SegmentRef, current: Current, inputs: GapInputs | None = None) -> Gap:
    threshold = threshold_of(segment)
    shortfalls = shortfalls_of(threshold, current)
    return Gap(segment_id=segment.id, segment_name=segment.name, threshold=threshold, current=current,
               shortfalls=shortfalls, met=not any(shortfalls.model_dump().values()), inputs=inputs)


def analyse(segment: SegmentRef, found: Found) -> Gap:
    providers = _providers(segment, found)
    accredited = [p for p in providers if p.accredited]
    weeks = _weeks(segment, found, {p.stakeholder_id for p in accredited})
    supporting = [SupportingInput(stakeholder_id=s.id, name=s.name, kind=s.kind) for s in found.stakeholders
                  if s.status == "active" and s.kind in ("hotel", "transfer")]
    weakest = min(weeks, key=lambda w: (w.fresh_slots, w.starts_on))
    spoken = {lang for p in accredited for lang in p.languages}
    current = Current(
        accredited_providers=len(accredited), weekly_capacity=weakest.fresh_slots, weakest_week=weakest.week,
        languages_covered=[lang for lang in segment.languages if lang in spoken],
        languages_missing=[lang for lang in segment.languages if lang not in spoken],
        hotels=sum(s.kind == "hotel" for s in supporting), transfer_firms=sum(s.kind == "transfer" for s in supporting))
    return judge(segment, current, GapInputs(providers=providers, weeks=weeks, supporting=supporting))


def recorded(segment: SegmentRef, figures: CurrentIn) -> Gap:
    """A gap from figures measured earlier (no inputs to show): the same rules, the same shape."""
    covered = set(figures.languages_covered)
    current = Current(**figures.model_dump(exclude={"languages_covered"}),
                      languages_covered=[lang for lang in segment.languages if lang in covered],
                      languages_missing=[lang for lang in segment.languages if lang not in covered])
    return judge(segment, current)


def _providers(segment: SegmentRef, found: Found) -> list[ProviderInput]:
    held: dict[str, list[str]] = {}
    for accreditation in found.accreditations:
        if accreditation.status in COUNTING:
            held.setdefault(accreditation.stakeholder_id, []).append(accreditation.id)
    return [ProviderInput(stakeholder_id=s.id, name=s.name, kind=s.kind, specialties=offered,
                          languages=list(s.languages), accredited=s.id in held,
                          accreditation_ids=sorted(held.get(s.id, ())))
            for s in found.stakeholders
            if s.status == "active" and s.kind in _PROVIDER_KINDS
            and (offered := _common(segment.specialties, s.specialties))]


def _weeks(segment: SegmentRef, found: Found, accredited: set[str]) -> list[WeekInput]:
    specialties = set(segment.specialties)
    by_week: dict[str, dict[str, int]] = {iso_week(monday): {} for monday in found.weeks}
    for item in found.capacity:
        if item.stakeholder_id in accredited and item.specialty in specialties and item.week in by_week:
            slots = by_week[item.week]
            slots[item.stakeholder_id] = slots.get(item.stakeholder_id, 0) + item.fresh_slots
    return [WeekInput(week=iso_week(monday), starts_on=monday, fresh_slots=sum(by_week[iso_week(monday)].values()),
                      by_provider=by_week[iso_week(monday)]) for monday in found.weeks]


def _common(wanted: Sequence[str], offered: Iterable[str]) -> list[str]:
    have = set(offered)
    return [s for s in wanted if s in have]
