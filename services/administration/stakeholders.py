"""What Administration needs of Integration's stakeholder register, read through its client.

Every check here is a remote call: routes make it before their first database statement
(on SQLite a write transaction holds the file's lock for as long as it is open).
"""

from __future__ import annotations

from pentad.errors import FieldError, Invalid
from services.integration.client import IntegrationClient, StakeholderRef
from services.integration.schemas import PROVIDER_KINDS, StakeholderStatus

PROVIDER_KIND_NAMES = frozenset(k.value for k in PROVIDER_KINDS)


def _invalid(stakeholder_id: str, message: str, field: str) -> Invalid:
    return Invalid("The stakeholder does not fit.", errors=[FieldError(field=field, message=message,
                                                                       value=stakeholder_id)])


async def require_known(integration: IntegrationClient, stakeholder_id: str, *,
                        field: str = "stakeholder_id") -> StakeholderRef:
    """The stakeholder from the register; one it does not know is a 422 naming ``field``."""
    found = await integration.stakeholder(stakeholder_id)
    if found is None:
        raise _invalid(stakeholder_id, "not in the stakeholder register (see GET /integration/stakeholders)", field)
    return found


async def require_provider(integration: IntegrationClient, stakeholder_id: str, *,
                           field: str = "stakeholder_id") -> StakeholderRef:
    """Only providers (hospital, clinic, dental, rehab, wellness) hold accreditations."""
    found = await require_known(integration, stakeholder_id, field=field)
    if found.kind not in PROVIDER_KIND_NAMES:
        raise _invalid(stakeholder_id, f"a {found.kind} is not a provider "
                       f"(one of {', '.join(sorted(PROVIDER_KIND_NAMES))})", field)
    return found


def is_active_provider(stakeholder: StakeholderRef | None) -> bool:
    return (stakeholder is not None and stakeholder.kind in PROVIDER_KIND_NAMES
            and stakeholder.status == StakeholderStatus.active.value)


async def active_provider_ids(integration: IntegrationClient) -> frozenset[str]:
    """The providers a facilitator may see accreditations of."""
    active = await integration.stakeholders(status=StakeholderStatus.active.value)
    return frozenset(s.id for s in active if s.kind in PROVIDER_KIND_NAMES)


async def visible_providers(integration: IntegrationClient, stakeholder_id: str | None) -> frozenset[str]:
    """The active providers among ``stakeholder_id`` (one call) or the whole register."""
    if stakeholder_id is None:
        return await active_provider_ids(integration)
    return frozenset({stakeholder_id}) if is_active_provider(await integration.stakeholder(stakeholder_id)) \
        else frozenset()
