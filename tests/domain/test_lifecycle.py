"""Every (state, action) pair of both lifecycles: allowed ones lead where the table says, others are refused."""

from __future__ import annotations

import itertools

import pytest

from app.domain.lifecycle import (
    CASE_TRANSITIONS,
    CLAIM_TRANSITIONS,
    CaseAction,
    CaseStatus,
    ClaimAction,
    ClaimStatus,
    TransitionError,
    can_start_mediation,
    next_case_status,
    next_claim_status,
)

CASE_EXPECTED = {
    ("open", "invite_company"): "invited",
    ("invited", "invite_company"): "invited",
    ("invited", "company_accepts"): "accepted",
    ("invited", "company_declines"): "refused",
    ("invited", "invitation_expires"): "refused",
    ("accepted", "start_mediation"): "in_mediation",
    ("in_mediation", "close"): "closed",
}
CLAIM_EXPECTED = {
    ("submitted", "admit"): "admitted",
    ("submitted", "ask_for_more"): "needs_info",
    ("submitted", "reject"): "rejected",
    ("submitted", "edit"): "submitted",
    ("submitted", "withdraw"): "withdrawn",
    ("needs_info", "complete"): "submitted",
    ("needs_info", "reject"): "rejected",
    ("needs_info", "withdraw"): "withdrawn",
    ("admitted", "withdraw"): "withdrawn",
}


def test_tables_are_the_written_down_rules() -> None:
    assert {(s.value, a.value): t.value for (s, a), t in CASE_TRANSITIONS.items()} == CASE_EXPECTED
    assert {(s.value, a.value): t.value for (s, a), t in CLAIM_TRANSITIONS.items()} == CLAIM_EXPECTED


@pytest.mark.parametrize(("state", "action"), list(itertools.product(CaseStatus, CaseAction)))
def test_every_case_pair(state: CaseStatus, action: CaseAction) -> None:
    expected = CASE_EXPECTED.get((state.value, action.value))
    if expected is None:
        with pytest.raises(TransitionError):
            next_case_status(state.value, action)
    else:
        assert next_case_status(state.value, action) == expected


@pytest.mark.parametrize(("state", "action"), list(itertools.product(ClaimStatus, ClaimAction)))
def test_every_claim_pair(state: ClaimStatus, action: ClaimAction) -> None:
    expected = CLAIM_EXPECTED.get((state.value, action.value))
    if expected is None:
        with pytest.raises(TransitionError):
            next_claim_status(state.value, action)
    else:
        assert next_claim_status(state.value, action) == expected


def test_unknown_state_is_refused() -> None:
    with pytest.raises(TransitionError):
        next_case_status("bogus", CaseAction.close)
    with pytest.raises(TransitionError):
        next_claim_status("", ClaimAction.admit)


@pytest.mark.parametrize(("status", "declared", "admitted", "objections", "expected"), [
    ("accepted", True, 1, 0, True),
    ("accepted", True, 0, 0, False),
    ("accepted", False, 3, 0, False),
    ("accepted", True, 3, 1, False),
    ("invited", True, 3, 0, False),
    ("in_mediation", True, 3, 0, False),
])
def test_start_conditions(status: str, declared: bool, admitted: int, objections: int, expected: bool) -> None:
    assert can_start_mediation(case_status=status, mediator_declared=declared, admitted_claims=admitted,
                               open_objections=objections) is expected
