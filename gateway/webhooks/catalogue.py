"""Which event types exist, and what of each event a subscriber's key may read.

The types are those the services declare next to their emitters (``TYPES`` in each
``events`` module). What a key receives follows what that key reads through the API:

- ``admin`` and ``staff`` read everything, so they receive every event as published;
- a ``provider`` key reads its own stakeholder record, capacity, accreditations,
  memberships, complaints about it, the packages it is a party to, the enquiries routed to
  it (with its own assignment only, and not the facilitator) and its own quotes;
- a ``facilitator`` key reads its own stakeholder record and memberships, its own enquiries
  and the quotes sent on them, the complaints it filed, and the public offer: segments,
  specialties and published packages ("offer changes"; a package withdrawn, by its id only).

Everything else (campaigns, initiatives, assessments, FX, the coordinator's actions, other
tenants' records) is staff work: a bound key never receives it. A rule only ever narrows:
an event type without a rule for a role is not delivered to that role. The services' events
name the ids these rules need (``services/promotion/enquiry_events.py``), never contact data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pentad.identity import Caller, Role
from services.administration import events as administration
from services.development import events as development
from services.dmo import events as dmo
from services.integration import events as integration
from services.promotion import enquiry_events
from services.promotion import events as promotion
from services.segmentation import events as segmentation

KNOWN: frozenset[str] = frozenset().union(
    segmentation.TYPES, integration.TYPES, administration.TYPES, development.TYPES, promotion.TYPES,
    enquiry_events.TYPES, dmo.TYPES)

Data = dict[str, Any]
# A rule: the event's data as this stakeholder may read it, or None when it may not.
Rule = Callable[[str, Data], Data | None]


def _own(field: str) -> Rule:
    return lambda me, data: data if data.get(field) == me else None


def _party(field: str) -> Rule:
    return lambda me, data: data if me in (data.get(field) or ()) else None


def _public(_: str, data: Data) -> Data | None:
    return data


def _gone(rule: Rule) -> Rule:
    """A withdrawn package is no longer readable by partners (a 404): they learn only that it
    went, by id, not what it was or who else was in it."""
    def gone(me: str, data: Data) -> Data | None:
        return {"package_id": data.get("package_id"), "status": data.get("status")} if rule(me, data) else None
    return gone


def _routed_enquiry(me: str, data: Data) -> Data | None:
    """A provider reads an enquiry routed to it, seeing its own assignment, not the others' or
    the facilitator (as ``GET /promotion/enquiries/{id}`` shows it)."""
    if me not in (data.get("stakeholder_ids") or ()):
        return None
    return {**{k: v for k, v in data.items() if k != "facilitator_id"}, "stakeholder_ids": [me]}


def _own_without(hidden: str) -> Rule:
    """Its own record, without who else is involved (a provider is not told which
    facilitator filed a complaint or owns an enquiry)."""
    return lambda me, data: {k: v for k, v in data.items() if k != hidden} if data.get("stakeholder_id") == me \
        else None


_PROVIDER: dict[str, Rule] = {
    **{t: _own("stakeholder_id") for t in integration.TYPES if t.startswith("stakeholder.")},
    "capacity.updated": _own("stakeholder_id"),
    "package.published": _party("stakeholder_ids"),
    "package.withdrawn": _gone(_party("stakeholder_ids")),
    **{t: _own("stakeholder_id") for t in administration.TYPES},  # accreditations, memberships
    "complaint.opened": _own_without("filed_by"),
    "complaint.closed": _own_without("filed_by"),
    "enquiry.routed": _routed_enquiry,
    "enquiry.status_changed": _routed_enquiry,
    "assignment.breached": _own_without("facilitator_id"),
    "quote.sent": _own_without("facilitator_id"),
    "quote.accepted": _own_without("facilitator_id"),
}

_FACILITATOR: dict[str, Rule] = {
    "stakeholder.registered": _own("stakeholder_id"),
    "stakeholder.updated": _own("stakeholder_id"),
    "membership.changed": _own("stakeholder_id"),
    "complaint.opened": _own("filed_by"),
    "complaint.closed": _own("filed_by"),
    **{t: _own("facilitator_id") for t in enquiry_events.TYPES},
    **{t: _public for t in segmentation.TYPES},
    "package.published": _public,
    "package.withdrawn": _gone(_public),
}

RULES: Mapping[Role, Mapping[str, Rule]] = {Role.provider: _PROVIDER, Role.facilitator: _FACILITATOR}


def view(caller: Caller, event_type: str, data: Data) -> Data | None:
    """The event's data as ``caller`` may read it through the API; None: not delivered to it."""
    if caller.is_staff:
        return data
    rule = RULES.get(caller.role, {}).get(event_type)
    if rule is None or not caller.stakeholder_id:
        return None
    return rule(caller.stakeholder_id, data)


def unknown(types: list[str]) -> list[tuple[int, str]]:
    """(index, type) of each type no service publishes."""
    return [(i, t) for i, t in enumerate(types) if t not in KNOWN]
