"""Routes of the Administration service (thin: the logic lives in schemes.py, accreditations.py,
memberships.py, complaints.py and audit.py; existence and ownership checks are dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from pentad.client import client_of
from pentad.deps import CurrentCaller, CurrentSettings, IfMatch, RequireStaff, Session, require
from pentad.etag import check_if_match, set_etag
from pentad.identity import Caller, Role
from pentad.pagination import Page, Paging
from pentad.schemas import IsoDateTime
from services.administration import accreditations, audit, complaints, lifecycle, memberships, schemes, stakeholders
from services.administration.lifecycle import AsOf
from services.administration.models import Accreditation, Complaint, Membership, Scheme
from services.administration.schemas import (
    AccreditationIn,
    AccreditationOut,
    AccreditationPatch,
    AccreditationStatus,
    AuditEntity,
    AuditEntryOut,
    ComplaintIn,
    ComplaintOut,
    ComplaintPatch,
    ComplaintStatus,
    Id,
    MembershipIn,
    MembershipOut,
    MembershipPatch,
    MembershipStatus,
    MembershipTier,
    SchemeIn,
    SchemeOut,
    Severity,
)
from services.integration.client import IntegrationClient

router = APIRouter()
Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]
StaffOrProvider = Annotated[Caller, Depends(require(Role.admin, Role.staff, Role.provider))]
StaffOrFacilitator = Annotated[Caller, Depends(require(Role.admin, Role.staff, Role.facilitator))]


async def _as_of(settings: CurrentSettings) -> AsOf:
    return AsOf(now=lifecycle.now(), expiring_days=settings.accreditation_expiring_days,
                sla_hours=settings.complaint_sla_hours)


Now = Annotated[AsOf, Depends(_as_of)]


# -- existence and ownership, as dependencies ------------------------------------------------------

async def _scheme(scheme_id: str, session: Session, _: CurrentCaller) -> Scheme:
    return await schemes.get_or_raise(session, scheme_id=scheme_id)


async def _visible_accreditation(accreditation_id: str, session: Session, caller: CurrentCaller,
                                 integration: Integration, as_of: Now) -> Accreditation:
    accreditation = await accreditations.get_or_raise(session, accreditation_id=accreditation_id)
    public = accreditations.status_of(accreditation, as_of) in accreditations.PUBLIC
    active = (caller.role == Role.facilitator and public
              and stakeholders.is_active_provider(await integration.stakeholder(accreditation.stakeholder_id)))
    accreditations.ensure_visible(caller, accreditation, as_of=as_of, active_provider=active)
    return accreditation


async def _changeable_accreditation(accreditation_id: str, session: Session, caller: StaffOrProvider
                                    ) -> Accreditation:
    accreditation = await accreditations.get_or_raise(session, accreditation_id=accreditation_id, for_update=True)
    accreditations.ensure_own(caller, accreditation)
    return accreditation


async def _accreditation_scope(caller: CurrentCaller, integration: Integration,
                               status: Annotated[list[AccreditationStatus], Query(
                                   description="Repeat to ask for several; computed from dates at read time.")] = [],  # noqa: B006
                               stakeholder_id: Id | None = None) -> accreditations.ReadScope:
    """The caller's view; for a facilitator, narrowed to the providers Integration lists as active."""
    scope = accreditations.read_scope(caller, statuses=status, stakeholder_id=stakeholder_id)
    if caller.role == Role.facilitator:
        scope = scope.among(await stakeholders.visible_providers(integration, stakeholder_id))
    return scope


async def _visible_membership(membership_id: str, session: Session, caller: CurrentCaller) -> Membership:
    membership = await memberships.get_or_raise(session, membership_id=membership_id)
    memberships.ensure_visible(caller, membership)
    return membership


async def _changeable_membership(membership_id: str, session: Session, _: RequireStaff) -> Membership:
    return await memberships.get_or_raise(session, membership_id=membership_id, for_update=True)


async def _visible_complaint(complaint_id: str, session: Session, caller: CurrentCaller) -> Complaint:
    complaint = await complaints.get_or_raise(session, complaint_id=complaint_id)
    complaints.ensure_visible(caller, complaint)
    return complaint


async def _changeable_complaint(complaint_id: str, session: Session, _: RequireStaff) -> Complaint:
    return await complaints.get_or_raise(session, complaint_id=complaint_id, for_update=True)


KnownScheme = Annotated[Scheme, Depends(_scheme)]
VisibleAccreditation = Annotated[Accreditation, Depends(_visible_accreditation)]
ChangeableAccreditation = Annotated[Accreditation, Depends(_changeable_accreditation)]
AccreditationScope = Annotated[accreditations.ReadScope, Depends(_accreditation_scope)]
VisibleMembership = Annotated[Membership, Depends(_visible_membership)]
ChangeableMembership = Annotated[Membership, Depends(_changeable_membership)]
VisibleComplaint = Annotated[Complaint, Depends(_visible_complaint)]
ChangeableComplaint = Annotated[Complaint, Depends(_changeable_complaint)]


def _created(response: Response, path: str, version: int) -> None:
    set_etag(response, version)
    response.headers["Location"] = path


# -- schemes ---------------------------------------------------------------------------------------

@router.post("/schemes", response_model=SchemeOut, status_code=201, tags=["schemes"],
             summary="Add an accreditation scheme")
async def create_scheme(scheme_in: SchemeIn, session: Session, caller: RequireStaff, response: Response) -> SchemeOut:
    scheme = await schemes.create(session, actor=caller, scheme_in=scheme_in)
    _created(response, f"/schemes/{scheme.id}", scheme.version)
    return SchemeOut.model_validate(scheme)


@router.get("/schemes", response_model=Page[SchemeOut], tags=["schemes"],
            summary="Accreditation schemes (JCI, Temos, GHA, ISO 22525, national licence...) and their validity")
async def list_schemes(session: Session, _: CurrentCaller, paging: Paging,
                       code: str | None = None) -> Page[SchemeOut]:
    rows, cursor = await schemes.list_(session, paging=paging, code=code)
    return Page[SchemeOut](items=[SchemeOut.model_validate(s) for s in rows], next_cursor=cursor)


@router.get("/schemes/{scheme_id}", response_model=SchemeOut, tags=["schemes"], summary="One scheme")
async def get_scheme(scheme: KnownScheme) -> SchemeOut:
    return SchemeOut.model_validate(scheme)


# -- accreditations --------------------------------------------------------------------------------

@router.post("/accreditations", response_model=AccreditationOut, status_code=201, tags=["accreditations"],
             summary="Submit accreditation evidence (pending until staff verify it)",
             description="A provider key submits for its own stakeholder only. `expires_on` defaults to "
                         "`issued_on` plus the scheme's validity.")
async def submit_accreditation(accreditation_in: AccreditationIn, session: Session, caller: StaffOrProvider,
                               integration: Integration, as_of: Now, response: Response) -> AccreditationOut:
    accreditations.ensure_may_submit(caller, stakeholder_id=accreditation_in.stakeholder_id)
    await stakeholders.require_provider(integration, accreditation_in.stakeholder_id)  # before any statement
    accreditation = await accreditations.create(session, actor=caller, accreditation_in=accreditation_in,
                                                as_of=as_of)
    _created(response, f"/accreditations/{accreditation.id}", accreditation.version)
    return accreditations.present(accreditation, as_of=as_of, caller=caller)


@router.get("/accreditations", response_model=Page[AccreditationOut], tags=["accreditations"],
            summary="Accreditations (a provider sees its own; a facilitator the valid and expiring ones "
                    "of active providers)")
async def list_accreditations(session: Session, caller: CurrentCaller, scope: AccreditationScope, paging: Paging,
                              as_of: Now, scheme_id: Id | None = None) -> Page[AccreditationOut]:
    rows, cursor = await accreditations.list_(session, scope=scope, paging=paging, as_of=as_of, scheme_id=scheme_id)
    return Page[AccreditationOut](items=[accreditations.present(a, as_of=as_of, caller=caller) for a in rows],
                                  next_cursor=cursor)


@router.get("/accreditations/{accreditation_id}", response_model=AccreditationOut, tags=["accreditations"],
            summary="One accreditation, its status computed from today's date")
async def get_accreditation(accreditation: VisibleAccreditation, caller: CurrentCaller, as_of: Now,
                            response: Response) -> AccreditationOut:
    set_etag(response, accreditation.version)
    return accreditations.present(accreditation, as_of=as_of, caller=caller)


@router.patch("/accreditations/{accreditation_id}", response_model=AccreditationOut, tags=["accreditations"],
              summary="Verify, suspend or revoke (staff; with a reason for the last two), or correct "
                      "pending evidence (its provider); If-Match honoured")
async def update_accreditation(accreditation: ChangeableAccreditation, patch: AccreditationPatch, session: Session,
                               caller: StaffOrProvider, as_of: Now, response: Response,
                               if_match: IfMatch = None) -> AccreditationOut:
    check_if_match(if_match, accreditation.version)
    accreditation = await accreditations.update(session, actor=caller, accreditation=accreditation, patch=patch,
                                                as_of=as_of)
    set_etag(response, accreditation.version)
    return accreditations.present(accreditation, as_of=as_of, caller=caller)


# -- memberships -----------------------------------------------------------------------------------

@router.post("/memberships", response_model=MembershipOut, status_code=201, tags=["memberships"],
             summary="Open a membership of the DMO for a stakeholder")
async def create_membership(membership_in: MembershipIn, session: Session, caller: RequireStaff,
                            integration: Integration, as_of: Now, response: Response) -> MembershipOut:
    await stakeholders.require_known(integration, membership_in.stakeholder_id)  # before any statement
    membership = await memberships.create(session, actor=caller, membership_in=membership_in, as_of=as_of)
    _created(response, f"/memberships/{membership.id}", membership.version)
    return memberships.present(membership, as_of=as_of)


@router.get("/memberships", response_model=Page[MembershipOut], tags=["memberships"],
            summary="Memberships (a provider or facilitator key sees its own stakeholder's)")
async def list_memberships(session: Session, caller: CurrentCaller, paging: Paging, as_of: Now,
                           stakeholder_id: Id | None = None, tier: MembershipTier | None = None,
                           status: Annotated[list[MembershipStatus], Query()] = [],  # noqa: B006
                           ) -> Page[MembershipOut]:
    rows, cursor = await memberships.list_(
        session, paging=paging, as_of=as_of, stakeholder_id=memberships.readable_stakeholder(caller, stakeholder_id),
        statuses=status, tier=tier)
    return Page[MembershipOut](items=[memberships.present(m, as_of=as_of) for m in rows], next_cursor=cursor)


@router.get("/memberships/{membership_id}", response_model=MembershipOut, tags=["memberships"],
            summary="One membership, its status computed from today's date")
async def get_membership(membership: VisibleMembership, as_of: Now, response: Response) -> MembershipOut:
    set_etag(response, membership.version)
    return memberships.present(membership, as_of=as_of)


@router.patch("/memberships/{membership_id}", response_model=MembershipOut, tags=["memberships"],
              summary="Renew, re-tier or cancel a membership (If-Match honoured)")
async def update_membership(membership: ChangeableMembership, patch: MembershipPatch, session: Session,
                            caller: RequireStaff, as_of: Now, response: Response,
                            if_match: IfMatch = None) -> MembershipOut:
    check_if_match(if_match, membership.version)
    membership = await memberships.update(session, actor=caller, membership=membership, patch=patch, as_of=as_of)
    set_etag(response, membership.version)
    return memberships.present(membership, as_of=as_of)


# -- complaints ------------------------------------------------------------------------------------

@router.post("/complaints", response_model=ComplaintOut, status_code=201, tags=["complaints"],
             summary="File a complaint about a stakeholder (staff, or a facilitator for its own clients)",
             description="`due_at` follows from the severity (`PENTAD_COMPLAINT_SLA_HOURS`).")
async def create_complaint(complaint_in: ComplaintIn, session: Session, caller: StaffOrFacilitator,
                           integration: Integration, as_of: Now, response: Response) -> ComplaintOut:
    await stakeholders.require_known(integration, complaint_in.stakeholder_id)  # before any statement
    complaint = await complaints.create(session, actor=caller, complaint_in=complaint_in, as_of=as_of)
    _created(response, f"/complaints/{complaint.id}", complaint.version)
    return complaints.present(complaint, as_of=as_of, caller=caller)


@router.get("/complaints", response_model=Page[ComplaintOut], tags=["complaints"],
            summary="Complaints (a facilitator sees those it filed; a provider those about itself)")
async def list_complaints(session: Session, caller: CurrentCaller, paging: Paging, as_of: Now,
                          stakeholder_id: Id | None = None, severity: Severity | None = None,
                          status: Annotated[list[ComplaintStatus], Query()] = [],  # noqa: B006
                          overdue: bool | None = None) -> Page[ComplaintOut]:
    rows, cursor = await complaints.list_(
        session, scope=complaints.read_scope(caller, stakeholder_id=stakeholder_id), paging=paging, as_of=as_of,
        statuses=status, severity=severity, overdue=overdue)
    return Page[ComplaintOut](items=[complaints.present(c, as_of=as_of, caller=caller) for c in rows],
                              next_cursor=cursor)


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, tags=["complaints"],
            summary="One complaint, flagged overdue past its SLA")
async def get_complaint(complaint: VisibleComplaint, caller: CurrentCaller, as_of: Now,
                        response: Response) -> ComplaintOut:
    set_etag(response, complaint.version)
    return complaints.present(complaint, as_of=as_of, caller=caller)


@router.patch("/complaints/{complaint_id}", response_model=ComplaintOut, tags=["complaints"],
              summary="Work a complaint: open → investigating → resolved | dismissed (with a resolution)")
async def update_complaint(complaint: ChangeableComplaint, patch: ComplaintPatch, session: Session,
                           caller: RequireStaff, as_of: Now, response: Response,
                           if_match: IfMatch = None) -> ComplaintOut:
    check_if_match(if_match, complaint.version)
    complaint = await complaints.update(session, actor=caller, complaint=complaint, patch=patch, as_of=as_of)
    set_etag(response, complaint.version)
    return complaints.present(complaint, as_of=as_of, caller=caller)


# -- audit -----------------------------------------------------------------------------------------

@router.get("/audit", response_model=Page[AuditEntryOut], tags=["audit"],
            summary="The append-only trail of every change (oldest first)",
            description="`from` is inclusive, `to` exclusive; times need their UTC offset.")
async def list_audit(session: Session, _: RequireStaff, paging: Paging, entity: AuditEntity | None = None,
                     entity_id: Id | None = None, actor: Annotated[str | None, Query(max_length=100)] = None,
                     from_: Annotated[IsoDateTime | None, Query(alias="from")] = None,
                     to: IsoDateTime | None = None) -> Page[AuditEntryOut]:
    rows, cursor = await audit.list_(session, paging=paging, entity=entity, entity_id=entity_id, actor=actor,
                                     from_=from_, to=to)
    return Page[AuditEntryOut](items=[AuditEntryOut.model_validate(e) for e in rows], next_cursor=cursor)
