"""Segmentation logic: the specialty vocabulary, segments and their attractiveness."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, unknown_codes
from pentad.ids import new_id
from pentad.money import MissingRate, Unconvertible, convert, to_cents
from pentad.pagination import PageParams, paginate
from services.integration.schemas import Coverage, FxTable
from services.segmentation import events
from services.segmentation.models import Segment, SegmentTag, Specialty
from services.segmentation.schemas import (
    Attractiveness,
    Component,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    SegmentStatus,
    SpecialtyIn,
)

# Which list field feeds which filter tag.
_TAGGED = {"specialties": "specialty", "source_markets": "market", "payer_types": "payer_type",
           "languages": "language"}


# -- specialties -------------------------------------------------------------------------------

async def list_specialties(session: AsyncSession, *, paging: PageParams, family: str | None = None
                           ) -> tuple[Sequence[Specialty], str | None]:
    stmt = sa.select(Specialty)
    if family:
        stmt = stmt.where(Specialty.family == family)
    return await paginate(session, stmt, Specialty.code, paging)


async def create_specialty(session: AsyncSession, *, specialty_in: SpecialtyIn) -> Specialty:
    if await session.get(Specialty, specialty_in.code) is not None:
        raise Conflict(f"Specialty {specialty_in.code!r} already exists.")
    specialty = Specialty(**specialty_in.model_dump())
    session.add(specialty)
    await session.flush()
    events.specialty_created(session, specialty)
    return specialty


async def _check_specialties(session: AsyncSession, codes: list[str], field: str = "specialties") -> None:
    known = set((await session.scalars(sa.select(Specialty.code).where(Specialty.code.in_(codes)))).all())
    if not set(codes) <= known:  # only then the whole vocabulary, for a suggestion
        known = set((await session.scalars(sa.select(Specialty.code))).all())
    unknown_codes(codes, known, field=field, message="unknown specialty code (see GET /segmentation/specialties)")


async def check_specialty_filter(session: AsyncSession, specialty: str) -> None:
    """``?specialty=`` checked like a specialty in a body: unknown is a 422, not an empty list."""
    if await session.get(Specialty, specialty) is None:
        known = set((await session.scalars(sa.select(Specialty.code))).all())
        unknown_codes([specialty], known, field="query.specialty", indexed=False,
                      message="unknown specialty code (see GET /segmentation/specialties)")


# -- segments ----------------------------------------------------------------------------------

def _tags(values: dict[str, Any]) -> list[SegmentTag]:
    return [SegmentTag(kind=kind, value=str(v)) for field, kind in _TAGGED.items() for v in values[field]]


async def create(session: AsyncSession, *, segment_in: SegmentIn) -> Segment:
    await _check_specialties(session, segment_in.specialties)
    values = segment_in.model_dump(mode="json")
    segment = Segment(id=new_id("seg"), status=SegmentStatus.active.value, tags=_tags(values), **values)
    session.add(segment)
    await session.flush()
    events.segment_created(session, segment)
    return segment


async def get_or_raise(session: AsyncSession, *, segment_id: str, for_update: bool = False) -> Segment:
    return await orm.get_or_raise(session, Segment, segment_id, noun="segment", for_update=for_update)


async def list_(session: AsyncSession, *, paging: PageParams, family: str | None = None,
                status: str | None = SegmentStatus.active.value,
                **tags: str | None) -> tuple[Sequence[Segment], str | None]:
    """Filters: ``family``, ``status`` and any of the tags (``market``, ``specialty``...)."""
    stmt = sa.select(Segment)
    if family:
        stmt = stmt.where(Segment.family == family)
    if status:
        stmt = stmt.where(Segment.status == status)
    for kind, value in tags.items():
        if value:
            stmt = stmt.where(Segment.id.in_(sa.select(SegmentTag.segment_id).where(
                SegmentTag.kind == kind, SegmentTag.value == value)))
    return await paginate(session, stmt, Segment.id, paging)


async def update(session: AsyncSession, *, segment: Segment, patch: SegmentPatch) -> Segment:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if "specialties" in changes:
        await _check_specialties(session, changes["specialties"])
    retiring = changes.get("status") == SegmentStatus.retired.value != segment.status
    if _TAGGED.keys() & changes.keys():
        await session.refresh(segment, attribute_names=["tags"])  # the old ones, to replace below
        for field, value in changes.items():
            setattr(segment, field, value)
        segment.tags = _tags({f: getattr(segment, f) for f in _TAGGED})
        await session.flush()
    else:
        await orm.update_columns(session, segment, changes)
    (events.segment_retired if retiring else events.segment_updated)(session, segment, sorted(changes))
    return segment


# -- attractiveness ----------------------------------------------------------------------------

WEIGHTS = {"size": 0.25, "value": 0.25, "growth": 0.20, "fit": 0.30}
SIZE_SATURATION = 100_000       # patients a year at which size scores 1
VALUE_SATURATION = Decimal(15_000)  # EUR per patient at which value scores 1
METHOD = (
    "score = 0.25*size + 0.25*value + 0.20*growth + 0.30*fit. "
    "size = log10(1+annual_patients)/log10(1+100000), capped at 1; "
    "value = avg_spend in EUR / 15000, capped at 1; "
    "growth = (growth_rate + 0.05)/0.25 clamped to 0..1 (-5%/yr scores 0, +20%/yr scores 1); "
    "fit = share of the segment's specialties for which at least one active provider has "
    "fresh (recently confirmed) capacity now, from the Integration service. "
    "A component without data counts 0 and makes the score incomplete."
)


def _component(name: str, raw: str | None, normalised: float | None, explanation: str) -> Component:
    weight = WEIGHTS[name]
    value = None if normalised is None else round(min(1.0, max(0.0, normalised)), 4)
    return Component(name=name, raw=raw, normalised=value, weight=weight,
                     contribution=round((value or 0.0) * weight, 4), explanation=explanation)


def attractiveness(segment: SegmentOut, *, fx: FxTable, coverage: Sequence[Coverage]) -> Attractiveness:
    demand = segment.demand
    components = [
        _size(demand.annual_patients if demand else None),
        _value(demand.avg_spend if demand else None, fx),
        _growth(demand.growth_rate if demand else None),
        _fit(segment.specialties, coverage),
    ]
    return Attractiveness(
        segment_id=segment.id, score=round(sum(c.contribution for c in components), 4),
        complete=all(c.normalised is not None for c in components), components=components,
        method=METHOD, computed_at=datetime.now(UTC))


def _size(patients: int | None) -> Component:
    if patients is None:
        return _component("size", None, None, "no demand estimate for the segment")
    return _component("size", str(patients), math.log10(1 + patients) / math.log10(1 + SIZE_SATURATION),
                      "patients a year; 100,000 or more scores 1")


def _value(avg_spend: Any, fx: FxTable) -> Component:
    if avg_spend is None:
        return _component("value", None, None, "no average spend in the demand estimate")
    try:
        eur = to_cents(convert(avg_spend.amount, source=avg_spend.currency, target="EUR", base=fx.base,
                               rates=fx.rates))
    except MissingRate as exc:
        return _component("value", f"{avg_spend.amount} {avg_spend.currency}", None,
                          f"no FX rate for {exc.currency} in the DMO's table (PUT /integration/fx-rates)")
    except Unconvertible:
        return _component("value", f"{avg_spend.amount} {avg_spend.currency}", None,
                          "too large in EUR with the DMO's FX table as it stands (PUT /integration/fx-rates)")
    return _component("value", f"{eur} EUR", float(eur / VALUE_SATURATION),
                      "average spend per patient in EUR; 15,000 or more scores 1")


def _growth(rate: Decimal | None) -> Component:
    if rate is None:
        return _component("growth", None, None, "no growth rate in the demand estimate")
    return _component("growth", format(rate, "f"), float((rate + Decimal("0.05")) / Decimal("0.25")),
                      "yearly growth as a fraction; -0.05 or less scores 0, 0.20 or more scores 1")


def _fit(specialties: list[str], coverage: Sequence[Coverage]) -> Component:
    served = {c.specialty for c in coverage if c.providers_with_fresh_capacity > 0}
    share = sum(s in served for s in specialties) / len(specialties)
    missing = [s for s in specialties if s not in served]
    note = "all specialties served now" if not missing else f"not served now: {', '.join(missing)}"
    return _component("fit", f"{len(specialties) - len(missing)}/{len(specialties)}", share, note)
