"""Admissibility of a claim (Code de la consommation, L612-2): the checklist and the decisions it allows. No I/O."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from app.domain.accounts import FormErrors
from app.domain.deadlines import within_one_year
from app.domain.lifecycle import ClaimAction, ClaimStatus
from app.i18n import _

REASON_MAX_LENGTH = 2000


class Criterion(StrEnum):
    prior_complaint = "prior_complaint"  # a prior written complaint was made to the company
    within_one_year = "within_one_year"  # the claim came within one year of that complaint (computed)
    not_before_court = "not_before_court"  # not already examined by a court or another mediator
    not_unfounded = "not_unfounded"  # not manifestly unfounded or abusive
    in_scope = "in_scope"  # within the mediator's scope (consumer dispute with this company)


# What the reviewer ticks; the one-year rule is computed from the dates, never typed.
TICKED_CRITERIA = (Criterion.prior_complaint, Criterion.not_before_court, Criterion.not_unfounded, Criterion.in_scope)


class Decision(StrEnum):
    admit = "admit"
    ask_for_more = "ask_for_more"
    reject = "reject"


DECISION_ACTIONS = {Decision.admit: ClaimAction.admit, Decision.ask_for_more: ClaimAction.ask_for_more,
                    Decision.reject: ClaimAction.reject}
# What ClaimReview.decision records (the claim status each decision leads to).
DECISION_RECORDS = {Decision.admit: ClaimStatus.admitted.value, Decision.ask_for_more: ClaimStatus.needs_info.value,
                    Decision.reject: ClaimStatus.rejected.value}


def criterion_labels() -> dict[Criterion, str]:
    """The checklist as the reviewer reads it, in the current language."""
    return {
        Criterion.prior_complaint: _("The consumer first made a written complaint to the company"),
        Criterion.within_one_year: _("The claim came within one year of that written complaint"),
        Criterion.not_before_court: _("The dispute is not being, or has not been, examined by a court or another "
                                      "mediator"),
        Criterion.not_unfounded: _("The claim is not manifestly unfounded or abusive"),
        Criterion.in_scope: _("The dispute is within the scope of this mediation"),
    }


def checklist(ticked: set[str], *, complaint_date: date, filed_on: date) -> dict[str, bool]:
    """The full checklist from the reviewer's ticks and the dates (unknown ticks are ignored)."""
    result = {criterion.value: criterion.value in ticked for criterion in TICKED_CRITERIA}
    result[Criterion.within_one_year.value] = within_one_year(complaint_date, filed_on)
    return {criterion.value: result[criterion.value] for criterion in Criterion}


def failed(items: dict[str, bool]) -> list[str]:
    return [criterion.value for criterion in Criterion if not items.get(criterion.value, False)]


def allowed_decisions(items: dict[str, bool]) -> set[Decision]:
    """Admit only when every item holds; reject only when one fails; asking for more is always possible."""
    allowed = {Decision.ask_for_more}
    allowed.add(Decision.reject if failed(items) else Decision.admit)
    return allowed


def parse_decision(raw: str) -> Decision | None:
    try:
        return Decision(raw)
    except ValueError:
        return None


def check_review(items: dict[str, bool], decision: Decision | None, reason: str) -> FormErrors:
    """The reviewer's form: a decision the checklist allows, with its reason or message."""
    errors = FormErrors()
    if decision is None:
        errors.add("decision", _("Please choose a decision."))
        return errors
    if len(reason) > REASON_MAX_LENGTH:
        errors.add("reason", _("Please keep it under 2,000 characters."))
    if decision is Decision.admit and failed(items):
        errors.add("decision", _("A claim can be admitted only when every item of the checklist holds."))
    elif decision is Decision.reject:
        if not failed(items):
            errors.add("decision", _("A claim can be rejected only when an item of the checklist fails: "
                                     "untick the items that do not hold."))
        if not reason:
            errors.add("reason", _("Please give the reason for the rejection: the consumer will read it."))
    elif decision is Decision.ask_for_more and not reason:
        errors.add("reason", _("Please tell the consumer what is missing."))
    return errors
