"""Attribution: what a campaign, segment or source market brought, counted from the records.

Counts are SQL over the enquiries and their audited transitions, never estimates. An enquiry
counts at a step when it reached that step or a later one, whatever became of it after (a
quoted enquiry later lost still counts as quoted): its status says how far it got unless it
was lost, and its transitions say how far a lost one got.

Scope: ``campaign_id`` takes enquiries that name the campaign or carry its tracking code,
and that campaign's spend; ``segment_id`` and ``source_market`` take enquiries of that
segment or market, and the spend of every campaign naming it (a campaign naming several
counts in full for each: spend is not split by guess); given together, all must hold.
``from``/``to`` bound the day an enquiry was made and the day money was spent.

Revenue is the accepted quotes of treated patients. Money is summed per currency in SQL,
converted to the DMO's base currency (Integration's FX table) and rounded to the cent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import Conflict, FieldError, Invalid
from pentad.money import CONTEXT, MissingRate, Total, Unconvertible, convert, to_cents
from services.integration.schemas import FxTable
from services.promotion.campaigns import names_segment
from services.promotion.models import Campaign, Enquiry, EnquiryTransition, Quote, SpendEntry
from services.promotion.schemas import AttributionOut, Conversion

# The funnel in order; ``lost`` ends it from any step and is not a step itself.
STEPS = ("new", "routed", "responded", "quoted", "booked", "treated")
COUNTED = ("routed", "quoted", "booked", "treated")


@dataclass(frozen=True, slots=True)
class Scope:
    campaign_id: str | None = None
    segment_id: str | None = None
    source_market: str | None = None
    from_: date | None = None
    to: date | None = None


def _at_or_after(step: str) -> tuple[str, ...]:
    return STEPS[STEPS.index(step):]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def _enquiry_filter(session: AsyncSession, scope: Scope) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if scope.campaign_id:
        code = await session.scalar(sa.select(Campaign.tracking_code).where(Campaign.id == scope.campaign_id))
        if code is None:
            # A filter naming nothing is a bad input (422 naming it), as an unknown code in any filter is.
            raise Invalid("No campaign has this id.", errors=[
                FieldError(field="query.campaign_id", message="unknown campaign", value=scope.campaign_id)])
        where.append(sa.or_(Enquiry.campaign_id == scope.campaign_id, Enquiry.tracking_code == code))
    if scope.segment_id:
        where.append(Enquiry.segment_id == scope.segment_id)
    if scope.source_market:
        where.append(Enquiry.source_market == scope.source_market)
    if scope.from_:
        where.append(Enquiry.created_at >= _start_of(scope.from_))
    if scope.to:
        where.append(Enquiry.created_at < _start_of(scope.to + timedelta(days=1)))
    return where


def _reached(step: str) -> sa.ColumnElement[bool]:
    later = _at_or_after(step)
    went = sa.exists(sa.select(1).where(EnquiryTransition.enquiry_id == Enquiry.id,
                                        EnquiryTransition.to_status.in_(later)))
    return sa.or_(Enquiry.status.in_(later), went)


async def _counts(session: AsyncSession, where: list[sa.ColumnElement[bool]]) -> dict[str, int]:
    columns = [sa.func.count().label("enquiries"),
               *(sa.func.count(sa.case((_reached(step), 1))).label(step) for step in COUNTED)]
    row = (await session.execute(sa.select(*columns).select_from(Enquiry).where(*where))).one()
    return {name: int(value) for name, value in row._mapping.items()}


async def _revenue(session: AsyncSession, where: list[sa.ColumnElement[bool]]) -> dict[str, Decimal]:
    stmt = (sa.select(Quote.currency, sa.func.sum(Quote.total_amount)).join(Enquiry, Enquiry.id == Quote.enquiry_id)
            .where(*where, Enquiry.status == "treated", Quote.status == "accepted").group_by(Quote.currency))
    return {currency: Decimal(amount) for currency, amount in (await session.execute(stmt)).all()}


async def _spend(session: AsyncSession, scope: Scope) -> dict[str, Decimal]:
    stmt = sa.select(SpendEntry.currency, sa.func.sum(SpendEntry.amount)).join(
        Campaign, Campaign.id == SpendEntry.campaign_id).group_by(SpendEntry.currency)
    if scope.campaign_id:
        stmt = stmt.where(SpendEntry.campaign_id == scope.campaign_id)
    if scope.segment_id:
        stmt = stmt.where(names_segment(session, Campaign.segment_ids, scope.segment_id))
    if scope.source_market:
        stmt = stmt.where(names_segment(session, Campaign.source_markets, scope.source_market))
    if scope.from_:
        stmt = stmt.where(SpendEntry.spent_on >= scope.from_)
    if scope.to:
        stmt = stmt.where(SpendEntry.spent_on <= scope.to)
    return {currency: Decimal(amount) for currency, amount in (await session.execute(stmt)).all()}


class _Converter:
    def __init__(self, fx: FxTable) -> None:
        self.base = fx.base
        self.rates: dict[str, Decimal] = dict(fx.rates)
        self.used: set[str] = set()

    def __call__(self, amounts: dict[str, Decimal]) -> Decimal:
        try:
            parts = [convert(a, source=c, target=self.base, base=self.base, rates=self.rates)
                     for c, a in amounts.items()]
        except MissingRate as exc:
            raise Conflict(f"Integration's FX table has no rate for {exc.currency}, so figures in it cannot be "
                           f"given in {self.base}; set one with PUT /integration/fx-rates.") from None
        except Unconvertible as exc:
            raise Conflict(f"An amount is too large to convert to {exc.currency} with the FX table as it "
                           "stands.") from None
        self.used.update(c for c in amounts if c != self.base)
        with localcontext(CONTEXT):
            return sum(parts, Decimal(0))

    def total(self, amount: Decimal) -> Total:
        return Total(amount=to_cents(amount, self.base), currency=self.base)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _per(spend: Decimal, count: int, money: _Converter) -> Total | None:
    if not count:
        return None
    with localcontext(CONTEXT):
        return money.total(spend / count)


async def attribute(session: AsyncSession, *, scope: Scope, fx: FxTable) -> AttributionOut:
    where = await _enquiry_filter(session, scope)
    counts = await _counts(session, where)
    money = _Converter(fx)
    revenue, spend = money(await _revenue(session, where)), money(await _spend(session, scope))
    return AttributionOut(
        **counts, revenue=money.total(revenue), spend=money.total(spend),
        conversion=Conversion(routed=_share(counts["routed"], counts["enquiries"]),
                              quoted=_share(counts["quoted"], counts["routed"]),
                              booked=_share(counts["booked"], counts["quoted"]),
                              treated=_share(counts["treated"], counts["booked"])),
        cost_per_booked=_per(spend, counts["booked"], money), cost_per_treated=_per(spend, counts["treated"], money),
        fx_rates={c: format(money.rates[c], "f") for c in sorted(money.used)})
