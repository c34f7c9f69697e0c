"""The offer's packages: each provider's published packages of the segment's specialties,
priced as Integration prices them (``total`` in the package's own currency, ``total_in`` the
one asked), from the read model's copy of the FX table."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import dialect_of
from pentad.errors import FieldError, Invalid
from pentad.money import MissingRate, Unconvertible, convert, format_amount, parse_rate, to_cents, total
from services.dmo.binds import ids_in
from services.dmo.models import RmFxTable, RmPackage, RmPackageStakeholder


@dataclass(frozen=True, slots=True)
class Package:
    """A published package as the offer prices it (``rm_packages``' columns)."""

    id: str
    name: str
    specialty: str
    currency: str
    components: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Fx:
    base: str
    rates: dict[str, str]


@functools.cache
def _packages_of(dialect: str) -> sa.Select[Any]:
    p, ps = RmPackage, RmPackageStakeholder
    return (sa.select(ps.stakeholder_id, *(p.__table__.c[f.name] for f in dataclasses.fields(Package)),
                      RmFxTable.base, RmFxTable.rates)
            .select_from(ps).join(p, p.id == ps.package_id).outerjoin(RmFxTable, RmFxTable.id == 1)
            .where(ids_in(ps.stakeholder_id, "ids", dialect),
                   p.specialty.in_(sa.bindparam("specialties", expanding=True)))
            .order_by(p.name, p.id))


async def priced_packages(session: AsyncSession, offered: list[str], specialties: list[str],
                    currency: str | None) -> dict[str, list[dict[str, Any]]]:
    """The providers' packages of the segment's specialties, priced; the FX table comes on
    each row (components may be priced in other currencies), one round trip for both."""
    if not offered:
        return {}
    statement = _packages_of(dialect_of(session))
    rows = (await session.execute(statement, {"ids": offered, "specialties": specialties})).all()
    by: dict[str, list[dict[str, Any]]] = {}
    for sid, *columns, base, rates in rows:
        package, fx = Package(*columns), Fx(base, rates) if base is not None else None
        by.setdefault(sid, []).append({"id": package.id, "name": package.name, "specialty": package.specialty,
                                       **prices(package, currency, fx)})
    return by


def prices(package: Package, currency: str | None, fx: Fx | None) -> dict[str, Any]:
    """As Integration gives a package: ``total`` in its own currency, ``total_in`` the one asked
    (null when none is), and the ``fx_rates`` either took (units per one ``fx_base``)."""
    base = fx.base if fx else "EUR"
    used: set[str] = set()
    own = price(package, package.currency, fx, used)
    asked = price(package, currency, fx, used) if currency else None
    rates = fx.rates if fx else {}
    return {"total": own, "total_in": asked, "fx_rates": {c: rates[c] for c in sorted(used) if c in rates},
            "fx_base": base}


def price(package: Package, target: str, fx: Fx | None, used: set[str] | None = None) -> dict[str, str]:
    """The package's total in ``target``, as Integration computes it; the currencies whose
    rates it took are added to ``used``."""
    base = fx.base if fx else "EUR"
    rates = {c: r for c, text in (fx.rates if fx else {}).items() if (r := parse_rate(text)) is not None}
    try:
        parts = [convert(Decimal(c["price"]["amount"]), source=c["price"]["currency"], target=target, base=base,
                         rates=rates) for c in package.components]
        sources = {c["price"]["currency"] for c in package.components} - {target}
        if used is not None and sources:
            used.update((sources | {target}) - {base})
        amount = to_cents(total(parts, target), target)
    except (MissingRate, Unconvertible):
        raise Invalid(f"Package {package.id}'s total cannot be given in {target} with the FX table the "
                      "coordinator holds.", errors=[FieldError(field="query.currency", value=target,
                                                               message="no FX rate for this currency")]) from None
    return {"amount": format_amount(amount), "currency": target}
