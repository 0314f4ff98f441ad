"""The mediation panel of the case page: where the case stands, and what this viewer may do next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.actions.access import CaseAccess
from app.actions.base import claim_totals, current_assignment
from app.actions.mediation import start_readiness
from app.actions.room import room_link
from app.actions.timeline import timeline_summary
from app.domain.lifecycle import CLAIM_STATES_ACTIVE, CaseStatus, ClaimStatus
from app.tables import CaseInvitation, Claim, Company, MediatorObjection, User


def is_party(access: CaseAccess) -> bool:
    return access.is_staff or access.is_mediator or access.is_company or access.is_consumer_party


async def mediation_panel(access: CaseAccess) -> dict[str, Any]:
    """Everything the mediation panel shows to this viewer."""
    case = access.case
    company = await Company.objects().where(Company.id == case.company).first()
    assignment = await current_assignment(case)
    mediator = await User.objects().where(User.id == assignment.mediator).first() if assignment else None
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == case.id).order_by(
        CaseInvitation.id, ascending=False).first()
    own_claim = access.own_claim
    has_active_claim = own_claim is not None and own_claim.status in CLAIM_STATES_ACTIVE
    own_open_objection = False
    if assignment is not None:
        own_open_objection = await MediatorObjection.exists().where(
            MediatorObjection.assignment == assignment.id, MediatorObjection.objector == access.user.id,
            MediatorObjection.status == "open")
    to_review = 0
    if access.can_review_claims:
        to_review = await Claim.count().where(Claim.case == case.id,
                                              Claim.status == ClaimStatus.submitted.value)
    readiness = await start_readiness(case) if access.is_mediator else None
    count, total = await claim_totals(case.id)
    return {
        "case": case, "access": access, "company": company, "assignment": assignment, "mediator": mediator,
        "invitation": invitation, "own_claim": own_claim, "to_review": to_review, "readiness": readiness,
        "claims_count": count, "claims_total": total,
        "can_object": assignment is not None and not own_open_objection and (has_active_claim or access.is_company)
        and case.status not in (CaseStatus.refused, CaseStatus.closed),
        "objected": own_open_objection,
        "can_answer": access.is_company and case.status == CaseStatus.invited and invitation is not None
        and invitation.answer == "" and invitation.deadline > datetime.now(UTC),
        "can_escalate": case.status == CaseStatus.refused and has_active_claim,
        **await timeline_summary(access),
        **await room_link(access),
    }
