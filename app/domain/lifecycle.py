"""The case and claim lifecycles: every state and every allowed transition, in one place. No I/O."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    open = "open"  # gathering claims; the company is not invited yet
    invited = "invited"  # invitation sent, the company has until its deadline to answer
    accepted = "accepted"  # the company accepted; waiting for a mediator and the start
    refused = "refused"  # the company declined or stayed silent: escalation path
    in_mediation = "in_mediation"  # started: the 90-day clock runs (R612-5)
    closed = "closed"  # ended (agreements, failure, expiry: the agreements issue)


class CaseAction(StrEnum):
    invite_company = "invite_company"
    company_accepts = "company_accepts"
    company_declines = "company_declines"
    invitation_expires = "invitation_expires"
    start_mediation = "start_mediation"
    close = "close"


CASE_TRANSITIONS: dict[tuple[CaseStatus, CaseAction], CaseStatus] = {
    (CaseStatus.open, CaseAction.invite_company): CaseStatus.invited,
    (CaseStatus.invited, CaseAction.invite_company): CaseStatus.invited,  # a new link replaces a lost one
    (CaseStatus.invited, CaseAction.company_accepts): CaseStatus.accepted,
    (CaseStatus.invited, CaseAction.company_declines): CaseStatus.refused,
    (CaseStatus.invited, CaseAction.invitation_expires): CaseStatus.refused,
    (CaseStatus.accepted, CaseAction.start_mediation): CaseStatus.in_mediation,
    (CaseStatus.in_mediation, CaseAction.close): CaseStatus.closed,
}


class ClaimStatus(StrEnum):
    submitted = "submitted"  # complete, waiting for the admissibility review
    needs_info = "needs_info"  # the reviewer asked for more; the consumer completes it
    admitted = "admitted"
    rejected = "rejected"
    withdrawn = "withdrawn"


class ClaimAction(StrEnum):
    admit = "admit"
    ask_for_more = "ask_for_more"
    reject = "reject"
    complete = "complete"  # the consumer edits a claim that needed more
    edit = "edit"  # the consumer edits a claim not yet reviewed
    withdraw = "withdraw"


CLAIM_TRANSITIONS: dict[tuple[ClaimStatus, ClaimAction], ClaimStatus] = {
    (ClaimStatus.submitted, ClaimAction.admit): ClaimStatus.admitted,
    (ClaimStatus.submitted, ClaimAction.ask_for_more): ClaimStatus.needs_info,
    (ClaimStatus.submitted, ClaimAction.reject): ClaimStatus.rejected,
    (ClaimStatus.submitted, ClaimAction.edit): ClaimStatus.submitted,
    (ClaimStatus.submitted, ClaimAction.withdraw): ClaimStatus.withdrawn,
    (ClaimStatus.needs_info, ClaimAction.complete): ClaimStatus.submitted,
    (ClaimStatus.needs_info, ClaimAction.reject): ClaimStatus.rejected,
    (ClaimStatus.needs_info, ClaimAction.withdraw): ClaimStatus.withdrawn,
    (ClaimStatus.admitted, ClaimAction.withdraw): ClaimStatus.withdrawn,  # R612-2: at any time
}

# Claims can be filed (and edited, withdrawn) while the case has not ended.
CASE_STATES_OPEN_TO_CLAIMS = frozenset({CaseStatus.open, CaseStatus.invited, CaseStatus.accepted,
                                        CaseStatus.in_mediation})
CLAIM_STATES_EDITABLE = frozenset({ClaimStatus.submitted, ClaimStatus.needs_info})
CLAIM_STATES_ACTIVE = frozenset({ClaimStatus.submitted, ClaimStatus.needs_info, ClaimStatus.admitted})


class TransitionError(ValueError):
    """An action that the current state does not allow."""

    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"{action} is not allowed in state {state}")
        self.state = state
        self.action = action


def next_case_status(current: str, action: CaseAction) -> CaseStatus:
    try:
        return CASE_TRANSITIONS[(CaseStatus(current), action)]
    except (KeyError, ValueError):
        raise TransitionError(current, action) from None


def next_claim_status(current: str, action: ClaimAction) -> ClaimStatus:
    try:
        return CLAIM_TRANSITIONS[(ClaimStatus(current), action)]
    except (KeyError, ValueError):
        raise TransitionError(current, action) from None


def can_start_mediation(*, case_status: str, mediator_declared: bool, admitted_claims: int,
                        open_objections: int) -> bool:
    """R612-2/R613-1: company accepted, a mediator who declared independence, unobjected, and one admitted claim."""
    return (case_status == CaseStatus.accepted and mediator_declared and admitted_claims > 0
            and open_objections == 0)
