"""Who may see and do what on a case: the permissions of every case-related noun, in one place.

Every route that takes a case, claim or file id goes through these functions, which answer 404 (never
403) for anything the user may not see, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.actions.errors import NotFound
from app.domain.lifecycle import CaseStatus, ClaimStatus
from app.tables import Case, Claim, CompanyMember, Evidence, MediatorAssignment, Notification, Role, User

# A case is listed and searchable (to join it) while it gathers claims or runs.
PUBLIC_CASE_STATES = frozenset({CaseStatus.open, CaseStatus.invited, CaseStatus.accepted, CaseStatus.in_mediation})
# The company sees claims only once it has accepted the mediation.
COMPANY_SEES_CLAIMS_STATES = frozenset({CaseStatus.accepted, CaseStatus.in_mediation, CaseStatus.closed})


@dataclass
class CaseAccess:
    """What one user is to one case."""

    case: Case
    user: User
    own_claim: Claim | None  # the consumer's own claim, withdrawn ones included
    is_staff: bool
    is_mediator: bool  # the currently assigned mediator
    is_company: bool  # a representative of the case's company

    @property
    def is_consumer_party(self) -> bool:
        return self.own_claim is not None and self.own_claim.status != ClaimStatus.withdrawn

    @property
    def can_review_claims(self) -> bool:
        """L612-2 review: the mediator, or staff before one is assigned."""
        return self.is_mediator or (self.is_staff and self.case.mediator is None)

    @property
    def company_sees_claims(self) -> bool:
        return self.is_company and self.case.status in COMPANY_SEES_CLAIMS_STATES

    def can_see_claim(self, claim: Claim) -> bool:
        if claim.case != self.case.id:
            return False
        if self.is_staff or self.is_mediator:
            return True
        if self.own_claim is not None and claim.id == self.own_claim.id:
            return True
        return self.company_sees_claims and claim.status == ClaimStatus.admitted


async def is_company_member(user: User, company_id: int) -> bool:
    return user.role == Role.company and await CompanyMember.exists().where(
        CompanyMember.company == company_id, CompanyMember.user == user.id)


async def case_access(user: User, case_id: int) -> CaseAccess:
    """Load a case with the user's relation to it; 404 when the case does not exist."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound()
    own_claim = None
    if user.role == Role.consumer:
        own_claim = await Claim.objects().where(Claim.case == case_id, Claim.consumer == user.id).first()
    return CaseAccess(
        case=case, user=user, own_claim=own_claim,
        is_staff=user.role == Role.staff,
        is_mediator=user.role == Role.mediator and case.mediator == user.id,
        is_company=await is_company_member(user, case.company),
    )


async def case_for_viewer(user: User, case_id: int) -> CaseAccess:
    """The case page: any consumer may see a listed case (to join it); parties, staff and the mediator
    see theirs whatever its state; a company only its own company's cases."""
    access = await case_access(user, case_id)
    if access.is_staff or access.is_mediator or access.is_company or access.own_claim is not None:
        return access
    if user.role == Role.consumer and access.case.status in PUBLIC_CASE_STATES:
        return access
    # A mediator once assigned, or invited to declare, keeps access to the declaration page.
    if user.role == Role.mediator and await MediatorAssignment.exists().where(
            MediatorAssignment.case == case_id, MediatorAssignment.mediator == user.id,
            MediatorAssignment.ended_at.is_null()):
        return access
    raise NotFound()


async def case_for_party(user: User, case_id: int) -> CaseAccess:
    """The mediation side of a case (its invitation, mediator, objections, start): staff, the current
    mediator, the company's representatives and consumers with a claim in it; 404 for anyone else."""
    access = await case_access(user, case_id)
    if access.is_staff or access.is_mediator or access.is_company or access.is_consumer_party:
        return access
    raise NotFound()


async def claim_for_viewer(user: User, claim_id: int) -> tuple[CaseAccess, Claim]:
    claim = await Claim.objects().where(Claim.id == claim_id).first()
    if claim is None:
        raise NotFound()
    access = await case_access(user, claim.case)
    if not access.can_see_claim(claim):
        raise NotFound()
    return access, claim


async def evidence_for_viewer(user: User, evidence_id: int) -> tuple[CaseAccess, Claim, Evidence]:
    evidence = await Evidence.objects().where(Evidence.id == evidence_id).first()
    if evidence is None:
        raise NotFound()
    access, claim = await claim_for_viewer(user, evidence.claim)
    return access, claim, evidence


async def notification_for_viewer(user: User, notification_id: int) -> Notification:
    """One's own notification; anyone else's is 404, like one that does not exist."""
    notification = await Notification.objects().where(
        Notification.id == notification_id, Notification.user == user.id).first()
    if notification is None:
        raise NotFound()
    return notification
