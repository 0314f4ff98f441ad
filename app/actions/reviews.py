"""Admissibility review of claims (L612-2): the case's mediator, or staff before one is assigned, admits a
claim, asks for more, or rejects it with a reason; the consumer is told, within 3 weeks of a complete claim."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from app.actions.access import CaseAccess, case_access, claim_for_viewer
from app.actions.base import (
    current_assignment,
    record,
    refuse_transition,
    reminder_params,
    staff_ids,
)
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_cancel_reminders, do_notify, do_schedule_reminder, reminder_handler
from app.domain.accounts import FormErrors
from app.domain.admissibility import (
    DECISION_ACTIONS,
    DECISION_RECORDS,
    Decision,
    check_review,
    checklist,
    parse_decision,
)
from app.domain.deadlines import review_answer_due, review_reminders
from app.domain.lifecycle import (
    CASE_STATES_OPEN_TO_CLAIMS,
    ClaimStatus,
    TransitionError,
    next_claim_status,
)
from app.formatting import PARIS, iso_day
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import Case, Claim, ClaimReview, Evidence, Reminder, User

TO_REVIEW = [ClaimStatus.submitted.value, ClaimStatus.needs_info.value]


async def require_reviewer(access: CaseAccess) -> None:
    """The case's mediator, once they have declared independence (R613-1), or staff before one is assigned;
    404 for anyone else."""
    if not access.can_review_claims:
        raise NotFound()
    if access.is_mediator:
        assignment = await current_assignment(access.case)
        if assignment is None or assignment.declared_at is None:
            raise Refused(_("Please make your declaration of independence and impartiality first "
                            "(from the case's mediation page): then you can review the claims."), 409)


async def review_access(user: User, case_id: int) -> CaseAccess:
    """The reviewer's view of a case."""
    access = await case_access(user, case_id)
    await require_reviewer(access)
    return access


async def claims_of_case(case_id: int) -> list[dict[str, Any]]:
    """Every claim of the case with its consumer's name, those waiting first (oldest first)."""
    rows = await Claim.select(
        Claim.id, Claim.status, Claim.amount_cents, Claim.submitted_at, Claim.reviewed_at,
        Claim.consumer.display_name.as_alias("consumer_name"),
    ).where(Claim.case == case_id).order_by(Claim.submitted_at, Claim.id)
    waiting = [row for row in rows if row["status"] == ClaimStatus.submitted.value]
    others = [row for row in rows if row["status"] != ClaimStatus.submitted.value]
    return waiting + others


async def filed_on(claim: Claim) -> date:
    """The day the consumer brought the claim to the mediation (what the one-year rule counts to).

    Completing a claim after a request for more resets `submitted_at` (a new 3-week period), but the claim
    was brought before its first review: the earlier of the two counts.
    """
    moments = [claim.submitted_at or datetime.now(UTC)]
    first_review = await ClaimReview.select(ClaimReview.created_at).where(ClaimReview.claim == claim.id).order_by(
        ClaimReview.id).first()
    if first_review is not None:
        moments.append(first_review["created_at"])
    return min(moments).astimezone(PARIS).date()


async def claim_for_review(user: User, claim_id: int) -> dict[str, Any]:
    """A claim with what the reviewer needs: its evidence, earlier reviews, the computed one-year rule."""
    access, claim = await claim_for_viewer(user, claim_id)
    await require_reviewer(access)
    consumer = await User.select(User.display_name).where(User.id == claim.consumer).first()
    evidence = await Evidence.select(Evidence.id, Evidence.kind, Evidence.original_name, Evidence.size_bytes).where(
        Evidence.claim == claim.id).order_by(Evidence.id)
    reviews = await ClaimReview.select(
        ClaimReview.decision, ClaimReview.reason, ClaimReview.created_at,
        ClaimReview.reviewer.display_name.as_alias("reviewer_name"),
    ).where(ClaimReview.claim == claim.id).order_by(ClaimReview.id, ascending=False)
    items = checklist(set(), complaint_date=claim.complaint_date, filed_on=await filed_on(claim))
    return {"access": access, "case": access.case, "claim": claim, "consumer_name": consumer["display_name"]
            if consumer else "", "evidence": evidence, "reviews": reviews,
            "within_one_year": items["within_one_year"], "has_complaint_proof": any(
                row["kind"] == "complaint" for row in evidence)}


async def do_review_claim(user: User, claim_id: int, ticked: set[str], decision_raw: str, reason: str) -> FormErrors:
    """Record an admissibility decision on a claim and tell its consumer."""
    access, claim = await claim_for_viewer(user, claim_id)
    await require_reviewer(access)
    case = access.case
    if case.status not in CASE_STATES_OPEN_TO_CLAIMS:
        raise Refused(_("The claims of this case can no longer be reviewed: the case has ended."), 409)
    items = checklist(ticked, complaint_date=claim.complaint_date, filed_on=await filed_on(claim))
    decision = parse_decision(decision_raw)
    errors = check_review(items, decision, reason)
    if errors:
        return errors
    assert decision is not None
    try:
        new_status = next_claim_status(claim.status, DECISION_ACTIONS[decision])
    except TransitionError as error:
        if claim.status == ClaimStatus.needs_info and decision is not Decision.reject:
            raise Refused(_("The consumer has not completed this claim yet: you can only wait for them, or "
                            "reject it with a reason."), 409) from error
        raise refuse_transition(error) from error
    now = datetime.now(UTC)
    async with write_transaction():
        changed = await Claim.update({Claim.status: new_status.value, Claim.review_reason: reason,
                                      Claim.reviewed_at: now, Claim.updated_at: now}).where(
            Claim.id == claim.id, Claim.status == claim.status).returning(Claim.id)
        if not changed:
            raise Refused(_("This claim changed meanwhile (the consumer may have edited or withdrawn it). "
                            "Please reload the page."), 409)
        await ClaimReview.insert(ClaimReview(claim=claim.id, reviewer=user.id, decision=DECISION_RECORDS[decision],
                                             checklist=items, reason=reason))
        await do_cancel_reminders(f"claim-review:{claim.id}:")
        await record(case.id, user.id, "claim_reviewed", claim_id=claim.id, decision=DECISION_RECORDS[decision],
                     checklist=items)
        await _tell_consumer(claim, case, decision, reason)
    return errors


async def _tell_consumer(claim: Claim, case: Case, decision: Decision, reason: str) -> None:
    """L612-2: the consumer gets the answer (and the reason or the request), always by mail too."""
    params = {"title": case.title, "reason": reason}
    if decision is Decision.admit:
        title, body, link = (N_("Your claim in “%(title)s” is admitted"),
                             N_("The mediator's note: %(reason)s") if reason else "", f"/cases/{case.id}")
    elif decision is Decision.ask_for_more:
        title, body, link = (N_("Your claim in “%(title)s” needs more information"),
                             N_("What is missing: %(reason)s\n\nPlease complete your claim from the case page."),
                             f"/claims/{claim.id}/edit")
    else:
        title, body, link = (N_("Your claim in “%(title)s” is not admissible"),
                             N_("The reason: %(reason)s\n\nYou remain free to take the dispute to court."),
                             f"/cases/{case.id}")
    await do_notify([claim.consumer], kind=f"claim_{DECISION_RECORDS[decision]}", case_id=case.id, link=link,
                    params=params, title=title, body=body, legal=True)


# --- the 3-week promise ------------------------------------------------------------------------------


async def do_schedule_review_reminders(claim_id: int) -> int:
    """Call when a claim is submitted or completed: the reviewer is reminded at +14 and +20 days, so the
    consumer has an answer within 3 weeks. Returns how many reminders were created."""
    claim = await Claim.objects().where(Claim.id == claim_id).first()
    if claim is None or claim.status != ClaimStatus.submitted.value:
        return 0
    stamp = claim.submitted_at.isoformat()
    created = 0
    for days, due in review_reminders(claim.submitted_at):
        created += await do_schedule_reminder(
            f"claim-review:{claim.id}:{stamp}:{days}", kind="claim_review_due", due_at=due, case_id=claim.case,
            params={"claim_id": claim.id, "submitted_at": stamp})
    return created


@reminder_handler("claim_review_due")
async def remind_reviewer(reminder: Reminder) -> None:
    """Nothing if the claim was reviewed (or changed) meanwhile."""
    params = reminder_params(reminder)
    claim = await Claim.objects().where(Claim.id == params.get("claim_id")).first() if isinstance(
        params.get("claim_id"), int) else None
    if claim is None or claim.status != ClaimStatus.submitted.value or claim.submitted_at.isoformat() != params.get(
            "submitted_at"):
        return
    case = await Case.objects().where(Case.id == claim.case).first()
    if case is None or case.status not in CASE_STATES_OPEN_TO_CLAIMS:
        return
    reviewers = [case.mediator] if case.mediator else await staff_ids()
    await do_notify(reviewers, kind="claim_review_due", case_id=case.id, link=f"/claims/{claim.id}/review",
                    params={"title": case.title, "due": iso_day(review_answer_due(claim.submitted_at))},
                    title=N_("A claim in “%(title)s” awaits your review"),
                    body=N_("The consumer must have an answer by %(due)s (3 weeks after the complete claim, L612-2)."))
