"""Quotes: a routed provider's offer for an enquiry, draft → sent → accepted | rejected |
expired | withdrawn.

The provider writes and sends its own; the facilitator the enquiry belongs to sees the sent
ones and accepts or rejects them for the patient; staff may do either. At most one quote of an
enquiry is ever accepted: checked here, and held by the unique partial index
``uq_quotes_one_accepted`` when two acceptances race (the loser's flush fails: a 409).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.money import MissingRate, Total, convert, parse_rate, to_cents
from pentad.orm import utcnow
from pentad.pagination import PageParams, paginate
from pentad.settings import Settings
from services.integration.schemas import FxRatesOut
from services.promotion import enquiries, funnel
from services.promotion import enquiry_events as events
from services.promotion.assignments import advance
from services.promotion.enquiry_schemas import AssignmentStatus, QuoteIn, QuoteItem, QuoteOut, QuotePatch, QuoteStatus
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.models import Assignment, Enquiry, Quote

Q = QuoteStatus
# ISO 4217 minor units where they are not 2 (the currencies a quote may plausibly be in).
MINOR_UNITS = {**dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                "VND", "VUV", "XAF", "XOF", "XPF"), 0),
               **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3)}
NEXT: dict[Q, frozenset[Q]] = {
    Q.draft: frozenset({Q.sent, Q.withdrawn}),
    Q.sent: frozenset({Q.accepted, Q.rejected, Q.expired, Q.withdrawn}),
    **{final: frozenset() for final in (Q.accepted, Q.rejected, Q.expired, Q.withdrawn)},
}
PROVIDER_MOVES = frozenset({Q.sent, Q.withdrawn})
FACILITATOR_MOVES = frozenset({Q.accepted, Q.rejected})


def today() -> date:
    return datetime.now(UTC).date()


def total_of(items: Sequence[QuoteItem]) -> tuple[Decimal, str]:
    """The exact total of line items in minor units; all in one currency (422 otherwise)."""
    currency = items[0].currency
    for i, item in enumerate(items):
        if item.currency != currency:
            raise Invalid("A quote's items are all in one currency.", errors=[FieldError(
                field=f"items.{i}.currency", value=item.currency, message=f"the quote is in {currency}")])
    minor = sum(item.amount_minor for item in items)
    return Decimal(minor).scaleb(-MINOR_UNITS.get(currency, 2)), currency


# -- who may see what ---------------------------------------------------------------------------------

def visible_filter(caller: Caller) -> sa.ColumnElement[bool]:
    """A provider sees its own quotes; a facilitator those sent (never drafts); staff all."""
    if caller.role == Role.provider:
        return Quote.stakeholder_id == (caller.stakeholder_id or "")
    if caller.role == Role.facilitator:
        return Quote.sent_at.is_not(None)
    return sa.true()


async def get_visible_or_raise(session: AsyncSession, *, caller: Caller, quote_id: str,
                               for_update: bool = False) -> tuple[Quote, Enquiry]:
    quote = await orm.get_or_raise(session, Quote, quote_id, noun="quote", for_update=for_update)
    enquiry = await enquiries.get_or_raise(session, enquiry_id=quote.enquiry_id)
    mine = caller.is_staff or (caller.role == Role.provider and quote.stakeholder_id == caller.stakeholder_id) \
        or (enquiries.owns(caller, enquiry) and quote.sent_at is not None)
    if not mine:
        raise NotFound(f"No quote {quote_id!r}.")
    return quote, enquiry


async def list_(session: AsyncSession, *, caller: Caller, enquiry: Enquiry, paging: PageParams,
                statuses: Sequence[Q] = ()) -> tuple[Sequence[Quote], str | None]:
    stmt = sa.select(Quote).where(Quote.enquiry_id == enquiry.id, visible_filter(caller))
    if statuses:
        stmt = stmt.where(Quote.status.in_([s.value for s in statuses]))
    return await paginate(session, stmt, Quote.id, paging)


def present(quote: Quote, *, fx: FxRatesOut | None = None, currency: str | None = None) -> QuoteOut:
    shown = {k: getattr(quote, k) for k in ("id", "enquiry_id", "stakeholder_id", "items", "package_id",
                                            "valid_until", "status", "sent_at", "decided_at", "created_at",
                                            "updated_at")}
    total = Total(amount=to_cents(quote.total_amount), currency=quote.currency)
    out = QuoteOut.model_validate({**shown, "total": total})
    if fx is None or currency is None:
        return out
    rates = {c: rate for c, r in fx.rates.items() if (rate := parse_rate(r)) is not None}
    try:
        amount = convert(quote.total_amount, source=quote.currency, target=currency, base=fx.base, rates=rates)
    except MissingRate as exc:
        raise Invalid(f"No FX rate for {exc.currency} in Integration's table.", errors=[
            FieldError(field="query.currency", value=currency, message=f"no FX rate for {exc.currency}")]) from None
    used = sorted({quote.currency, currency} - {fx.base}) if quote.currency != currency else []
    return out.model_copy(update={"total_in": Total(amount=to_cents(amount, currency), currency=currency),
                                  "fx_rates": {c: format(rates[c], "f") for c in used}, "fx_base": fx.base})


# -- writing ------------------------------------------------------------------------------------------

def quoting_provider(caller: Caller, named: str | None) -> str:
    """Whose offer it is: a provider key's own stakeholder, or the provider staff name."""
    if caller.is_staff:
        if named is None:
            raise Invalid("Staff name the provider whose quote this is.", errors=[
                FieldError(field="stakeholder_id", message="required when staff enter a quote")])
        return named
    if caller.role != Role.provider or not caller.stakeholder_id or named not in (None, caller.stakeholder_id):
        raise Forbidden("A quote is a provider's own offer: issue it with the provider's key.")
    return caller.stakeholder_id


async def ensure_may_quote(session: AsyncSession, *, caller: Caller, enquiry: Enquiry, named: str | None) -> str:
    """The provider quoting: routed to this enquiry, still holding it, and the enquiry still open to offers."""
    stakeholder_id = quoting_provider(caller, named)
    assignment = await session.get(Assignment, (enquiry.id, stakeholder_id))
    if assignment is None or assignment.status not in (AssignmentStatus.pending.value,
                                                       AssignmentStatus.responded.value):
        raise Conflict("The provider does not hold this enquiry (never routed to it, declined or withdrawn).")
    if enquiry.status not in funnel.WORKABLE:
        raise Conflict(f"The enquiry is {enquiry.status}: it takes no more quotes.")
    return stakeholder_id


async def create(session: AsyncSession, *, actor: Caller, enquiry: Enquiry, stakeholder_id: str,
                 quote_in: QuoteIn) -> Quote:
    if quote_in.status not in (Q.draft, Q.sent):
        raise Invalid("A new quote is a draft or sent at once.", errors=[
            FieldError(field="status", value=quote_in.status.value, message="draft or sent")])
    amount, currency = total_of(quote_in.items)
    quote = Quote(id=new_id("quo"), enquiry_id=enquiry.id, stakeholder_id=stakeholder_id,
                  items=[i.model_dump(mode="json") for i in quote_in.items], total_amount=amount, currency=currency,
                  package_id=quote_in.package_id, valid_until=quote_in.valid_until, status=Q.draft.value)
    session.add(quote)
    await session.flush()
    if quote_in.status == Q.sent:
        await _send(session, quote, enquiry, actor=actor)
    return quote


async def update(session: AsyncSession, *, actor: Caller, quote: Quote, enquiry: Enquiry, patch: QuotePatch) -> Quote:
    target = patch.status
    _check_role(actor, target, quote)
    edits = {k for k in patch.model_fields_set if k != "status"}
    if edits and actor.role == Role.facilitator:
        raise Forbidden("A quote's items, package and validity are the provider's to write.")
    if edits:
        _edit(quote, patch, edits)
    if target is None or target.value == quote.status:
        await session.flush()
        return quote
    if target not in NEXT[Q(quote.status)]:
        shown = ", ".join(sorted(NEXT[Q(quote.status)])) or f"none ({quote.status} is final)"
        raise Conflict(f"A {quote.status} quote cannot become {target}.", errors=[
            FieldError(field="status", value=target.value, message=f"from {quote.status}, allowed: {shown}")])
    if target == Q.sent:
        await _send(session, quote, enquiry, actor=actor)
    elif target == Q.accepted:
        await _accept(session, quote, enquiry)
    else:
        quote.status, quote.decided_at = target.value, utcnow()
        await session.flush()
    return quote


def _check_role(actor: Caller, target: Q | None, quote: Quote) -> None:
    if actor.is_staff or target is None or (target.value == quote.status and actor.role == Role.provider):
        return
    allowed = PROVIDER_MOVES if actor.role == Role.provider else FACILITATOR_MOVES
    if target not in allowed:
        raise Forbidden(f"A {actor.role} key may set a quote's status to {', '.join(sorted(allowed))} only.")


def _edit(quote: Quote, patch: QuotePatch, edits: set[str]) -> None:
    if quote.status != Q.draft.value:
        raise Conflict(f"A {quote.status} quote is not edited; send a new one.")
    if patch.items is not None:
        quote.total_amount, quote.currency = total_of(patch.items)
        quote.items = [i.model_dump(mode="json") for i in patch.items]
    if "package_id" in edits:
        quote.package_id = patch.package_id
    if patch.valid_until is not None:
        if patch.valid_until < today():
            raise Invalid("valid_until is in the past.", errors=[
                FieldError(field="valid_until", value=patch.valid_until.isoformat(), message="is in the past")])
        quote.valid_until = patch.valid_until


async def _send(session: AsyncSession, quote: Quote, enquiry: Enquiry, *, actor: Caller) -> None:
    if enquiry.status not in funnel.WORKABLE:
        raise Conflict(f"The enquiry is {enquiry.status}: it takes no more quotes.")
    quote.status, quote.sent_at = Q.sent.value, utcnow()
    assignment = await session.get(Assignment, (enquiry.id, quote.stakeholder_id))
    if assignment is not None and assignment.status == AssignmentStatus.pending.value:
        # A quote is an answer: the provider responded, and its response time stops here.
        assignment.status, assignment.responded_at = AssignmentStatus.responded.value, quote.sent_at
    await advance(session, enquiry, S.quoted, actor=actor.key_id)
    await session.flush()
    events.quote_changed(session, quote, enquiry)


async def _accept(session: AsyncSession, quote: Quote, enquiry: Enquiry) -> None:
    if quote.valid_until < today():
        raise Conflict(f"The quote expired on {quote.valid_until.isoformat()}.")
    if enquiry.status != S.quoted.value:
        raise Conflict(f"The enquiry is {enquiry.status}: a quote is accepted while it is quoted.")
    taken = await session.scalar(sa.select(Quote.id).where(Quote.enquiry_id == enquiry.id,
                                                           Quote.status == Q.accepted.value))
    if taken is not None:
        raise _one_accepted(taken)
    quote.status, quote.decided_at = Q.accepted.value, utcnow()
    try:
        await session.flush()  # a concurrent acceptance that committed first makes this fail
    except IntegrityError:
        raise _one_accepted(None) from None
    events.quote_changed(session, quote, enquiry)


def _one_accepted(quote_id: str | None) -> Conflict:
    which = f" ({quote_id})" if quote_id else ""
    return Conflict(f"Another quote of this enquiry is accepted already{which}: at most one is.",
                    errors=[FieldError(field="status", value="accepted", message="one accepted quote per enquiry")])


async def sweep_expiry(session: AsyncSession, settings: Settings) -> int:
    """Sent quotes past ``valid_until`` become expired (no event: nobody acted)."""
    due = (await session.scalars(sa.select(Quote).where(Quote.status == Q.sent.value, Quote.valid_until < today())
                                 .limit(1000).with_for_update(skip_locked=True))).all()
    for quote in due:
        quote.status, quote.decided_at = Q.expired.value, utcnow()
    await session.flush()
    return len(due)

