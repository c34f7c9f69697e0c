"""Packages (treatment + stay + transfer + aftercare) and the DMO's FX table.

A package is published only while every stakeholder in it is active; it is withdrawn
(with the reason) the moment one is not, and published again when all are back.
Totals are converted with the FX table in ``Decimal`` and rounded once, at the end. Rates
and prices are bounded where they are written (schemas.py) so that every total can be
given; a total that still cannot (a rate no bound ever allowed) is a 422 for that request.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from pentad.errors import Conflict, FieldError, Invalid, NotFound
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.money import MissingRate, Money, Total, Unconvertible, convert, parse_rate, to_cents
from pentad.money import total as sum_of
from pentad.pagination import PageParams, paginate
from pentad.present import presented
from services.integration import events
from services.integration.models import FxTableRecord, Package, PackageStakeholder, Stakeholder
from services.integration.schemas import (
    COMPONENT_KINDS,
    ComponentKind,
    FxRates,
    PackageIn,
    PackageOut,
    PackagePatch,
    PackageStatus,
    StakeholderStatus,
)


async def _stakeholders(session: AsyncSession, ids: set[str]) -> dict[str, Stakeholder]:
    found = (await session.scalars(sa.select(Stakeholder).where(Stakeholder.id.in_(ids)))).all()
    return {s.id: s for s in found}


def _check_components(package_in: PackageIn, parties: dict[str, Stakeholder]) -> None:
    errors = []
    for i, component in enumerate(package_in.components):
        who = parties.get(component.stakeholder_id)
        field = f"components.{i}.stakeholder_id"
        if who is None:
            errors.append(FieldError(field=field, message="unknown stakeholder", value=component.stakeholder_id))
        elif who.kind not in COMPONENT_KINDS[component.kind]:
            errors.append(FieldError(field=field, value=component.stakeholder_id,
                                     message=f"a {who.kind} cannot deliver a {component.kind.value} component"))
        elif component.kind == ComponentKind.treatment and package_in.specialty not in who.specialties:
            errors.append(FieldError(field=field, value=component.stakeholder_id,
                                     message=f"{who.name} does not offer {package_in.specialty}"))
    if errors:
        raise Invalid("Some components cannot be delivered as described.", errors=errors)


def _undeliverable(package: Package, parties: dict[str, Stakeholder]) -> str | None:
    """Why the package cannot be delivered as it stands, or None when it can."""
    inactive, unable = set(), set()
    for component in package.components:
        who = parties[component["stakeholder_id"]]
        if who.status != StakeholderStatus.active.value:
            inactive.add(who.name)
        elif who.kind not in COMPONENT_KINDS[ComponentKind(component["kind"])] or (
                component["kind"] == ComponentKind.treatment and package.specialty not in who.specialties):
            unable.add(f"{who.name} ({component['kind']})")
    reasons = [f"inactive stakeholders: {', '.join(sorted(inactive))}" if inactive else "",
               f"no longer able to deliver: {', '.join(sorted(unable))}" if unable else ""]
    return "; ".join(r for r in reasons if r) or None


async def create(session: AsyncSession, *, package_in: PackageIn) -> Package:
    parties = await _stakeholders(session, {c.stakeholder_id for c in package_in.components})
    _check_components(package_in, parties)
    currency = package_in.currency or next(c.price.currency for c in package_in.components
                                           if c.kind == ComponentKind.treatment)
    package = Package(id=new_id("pkg"), name=package_in.name, specialty=package_in.specialty, currency=currency,
                      components=[c.model_dump(mode="json") for c in package_in.components],
                      status=PackageStatus.withdrawn.value,
                      parties=[PackageStakeholder(stakeholder_id=s) for s in parties])
    await _settle_status(session, package, parties)
    session.add(package)
    await session.flush()
    return package


async def _settle_status(session: AsyncSession, package: Package, parties: dict[str, Stakeholder],
                         *, wanted: PackageStatus = PackageStatus.published) -> None:
    """Publish when wanted and possible, else withdraw with the reason; event on change only."""
    reason = _undeliverable(package, parties)
    status = PackageStatus.published if wanted == PackageStatus.published and reason is None \
        else PackageStatus.withdrawn
    if wanted == PackageStatus.withdrawn:
        reason = "withdrawn by the DMO"
    changed = status.value != package.status or package.status_reason != reason
    package.status, package.status_reason = status.value, reason
    if changed:
        await session.flush()
        (events.package_published if status == PackageStatus.published else events.package_withdrawn)(
            session, package)


async def follow_stakeholder(session: AsyncSession, *, stakeholder: Stakeholder) -> None:
    """A stakeholder's status, kind or specialties changed: withdraw the packages it can no
    longer deliver, republish those it can again (not those the DMO withdrew itself)."""
    affected = (await session.scalars(sa.select(Package).where(Package.id.in_(
        sa.select(PackageStakeholder.package_id).where(PackageStakeholder.stakeholder_id == stakeholder.id))))).all()
    for package in affected:
        if package.status_reason == "withdrawn by the DMO":
            continue
        parties = await _stakeholders(session, {p.stakeholder_id for p in package.parties})
        await _settle_status(session, package, parties)


async def get_or_raise(session: AsyncSession, *, package_id: str, caller: Caller,
                       for_update: bool = False) -> Package:
    package = await session.get(Package, package_id, with_for_update=for_update)
    if package is None or (not caller.is_staff and package.status != PackageStatus.published.value):
        raise NotFound(f"No package {package_id!r}.")
    return package


async def list_(session: AsyncSession, *, caller: Caller, paging: PageParams, specialty: str | None,
                stakeholder_id: str | None, status: str | None) -> tuple[Sequence[Package], str | None]:
    # A listed package is only presented: its parties (selectin by default, a second query
    # and ~5 objects a package) are not loaded, and touching them raises rather than load.
    stmt = sa.select(Package).options(raiseload(Package.parties))
    if not caller.is_staff:
        status = PackageStatus.published.value
    if status:
        stmt = stmt.where(Package.status == status)
    if specialty:
        stmt = stmt.where(Package.specialty == specialty)
    if stakeholder_id:
        stmt = stmt.where(Package.id.in_(sa.select(PackageStakeholder.package_id).where(
            PackageStakeholder.stakeholder_id == stakeholder_id)))
    return await paginate(session, stmt, Package.id, paging)


async def update(session: AsyncSession, *, package: Package, patch: PackagePatch) -> Package:
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes:
        package.name = changes["name"]
    if "status" in changes:
        parties = await _stakeholders(session, {p.stakeholder_id for p in package.parties})
        if changes["status"] == PackageStatus.published and (reason := _undeliverable(package, parties)):
            raise Conflict(f"The package cannot be published: {reason}.")
        await _settle_status(session, package, parties, wanted=changes["status"])
    await session.flush()
    return package


# -- FX and totals ------------------------------------------------------------------------------

async def fx_table(session: AsyncSession) -> FxTableRecord:
    table = await session.get(FxTableRecord, 1)
    assert table is not None, "the FX row is created by the migration"
    return table


async def replace_fx(session: AsyncSession, *, fx_in: FxRates) -> FxTableRecord:
    """Refused (409) if any package would be left with a currency the table lacks: every
    package must keep a total (a withdrawn one may be published again at any time)."""
    covered = {fx_in.base, *fx_in.rates}
    needed: dict[str, list[str]] = {}
    for package in await session.scalars(sa.select(Package)):
        for currency in {package.currency, *(c["price"]["currency"] for c in package.components)} - covered:
            needed.setdefault(currency, []).append(package.id)
    if needed:
        raise Conflict("Packages are priced in currencies this table leaves out: " + "; ".join(
            f"{c} ({', '.join(sorted(ids)[:5])}{'...' if len(ids) > 5 else ''})" for c, ids in sorted(needed.items())))
    table = await fx_table(session)
    table.base = fx_in.base
    table.rates = {c: format(r, "f") for c, r in sorted(fx_in.rates.items())}
    await session.flush()
    events.fx_rates_replaced(session, table)
    return table


def rates_of(table: FxTableRecord) -> dict[str, Decimal]:
    """The table's usable rates: one that is not a positive number counts as missing."""
    return {c: rate for c, r in table.rates.items() if (rate := parse_rate(r)) is not None}


def present(package: Package, table: FxTableRecord, currency: str | None = None) -> PackageOut:
    """The package with its total in its own currency and, when ``currency`` is asked, in that
    one too (``total_in``), with every rate either used. Kept for repeated reads of the same
    package version, FX table and currency (``pentad.present``): the table by its content,
    not its version, so rates edited by hand in the database are taken at once too."""
    return presented(package, lambda: _present(package, table, currency), model=PackageOut,
                     depends_on=(table.base, tuple(sorted(table.rates.items())), currency))


def _present(package: Package, table: FxTableRecord, currency: str | None) -> PackageOut:
    rates = rates_of(table)
    used: set[str] = set()
    total = _total(package, package.currency, table, rates, used)
    total_in = total if currency in (None, package.currency) else _total(package, currency, table, rates, used)
    return PackageOut.model_validate({
        **{k: getattr(package, k) for k in ("id", "name", "specialty", "currency", "components", "status",
                                            "status_reason", "created_at", "updated_at")},
        "total": total, "total_in": total_in if currency else None,
        "fx_rates": {c: rates[c] for c in sorted(used)}, "fx_base": table.base})


def _total(package: Package, target: str, table: FxTableRecord, rates: dict[str, Decimal], used: set[str]) -> Total:
    """The components' sum in ``target``; the currencies whose rates it took are added to ``used``."""
    parts = []
    errors = []
    for i, component in enumerate(package.components):
        price = Money.model_validate(component["price"])
        try:
            parts.append(convert(price.amount, source=price.currency, target=target, base=table.base, rates=rates))
        except MissingRate as exc:
            errors.append(FieldError(field=f"components.{i}.price.currency", value=exc.currency,
                                     message="no FX rate for this currency (PUT /integration/fx-rates)"))
        except Unconvertible:
            raise _too_large(package, target) from None
        if price.currency != target:
            used.update({price.currency, target} - {table.base})
    if errors:
        raise Invalid(f"The total cannot be given in {target}.", errors=errors)
    return Total(amount=_rounded_total(package, parts, target), currency=target)


def _rounded_total(package: Package, parts: list[Decimal], target: str) -> Decimal:
    try:
        return to_cents(sum_of(parts, target), target)
    except Unconvertible:
        raise _too_large(package, target) from None


def _too_large(package: Package, target: str) -> Invalid:
    """Only rates beyond every write-time bound lead here: the one request is refused, never a 500."""
    return Invalid(f"Package {package.id}'s total is too large to give in {target} with the FX table as it "
                   "stands (PUT /fx-rates).", errors=[FieldError(
                       field="query.currency", value=target,
                       message=f"package {package.id}: total beyond what can be shown in this currency")])
