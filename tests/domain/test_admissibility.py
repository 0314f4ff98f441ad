"""The admissibility checklist (L612-2) and the decisions it allows, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from app import i18n
from app.domain.admissibility import (
    DECISION_ACTIONS,
    DECISION_RECORDS,
    Criterion,
    Decision,
    allowed_decisions,
    check_review,
    checklist,
    criterion_labels,
    failed,
    parse_decision,
)
from app.domain.lifecycle import ClaimAction, ClaimStatus, next_claim_status

ALL_TICKED = {"prior_complaint", "not_before_court", "not_unfounded", "in_scope"}
RECENT = {"complaint_date": date(2026, 1, 10), "filed_on": date(2026, 2, 1)}
OLD = {"complaint_date": date(2024, 1, 10), "filed_on": date(2026, 2, 1)}


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.activate("en")


def test_the_checklist_has_every_criterion_and_computes_the_year() -> None:
    items = checklist(ALL_TICKED, **RECENT)
    assert list(items) == [criterion.value for criterion in Criterion]
    assert all(items.values())
    assert checklist(ALL_TICKED, **OLD)["within_one_year"] is False
    # The one-year item cannot be ticked by hand, and unknown ticks are ignored
    assert checklist(ALL_TICKED | {"within_one_year", "bogus"}, **OLD)["within_one_year"] is False
    assert "bogus" not in checklist({"bogus"}, **RECENT)


@pytest.mark.parametrize(("ticked", "dates", "allowed", "failing"), [
    (ALL_TICKED, RECENT, {Decision.admit, Decision.ask_for_more}, []),
    (ALL_TICKED, OLD, {Decision.reject, Decision.ask_for_more}, ["within_one_year"]),
    (ALL_TICKED - {"prior_complaint"}, RECENT, {Decision.reject, Decision.ask_for_more}, ["prior_complaint"]),
    (ALL_TICKED - {"not_before_court"}, RECENT, {Decision.reject, Decision.ask_for_more}, ["not_before_court"]),
    (ALL_TICKED - {"not_unfounded"}, RECENT, {Decision.reject, Decision.ask_for_more}, ["not_unfounded"]),
    (ALL_TICKED - {"in_scope"}, RECENT, {Decision.reject, Decision.ask_for_more}, ["in_scope"]),
    (set(), OLD, {Decision.reject, Decision.ask_for_more}, [c.value for c in Criterion]),
])
def test_allowed_decisions(ticked: set[str], dates: dict[str, date], allowed: set[Decision],
                           failing: list[str]) -> None:
    items = checklist(ticked, **dates)
    assert allowed_decisions(items) == allowed
    assert failed(items) == failing


@pytest.mark.parametrize(("ticked", "dates", "decision", "reason", "error_fields"), [
    (ALL_TICKED, RECENT, "admit", "", set()),
    (ALL_TICKED, RECENT, "admit", "Bien documenté.", set()),
    (ALL_TICKED, OLD, "admit", "", {"decision"}),
    (ALL_TICKED - {"in_scope"}, RECENT, "admit", "", {"decision"}),
    (ALL_TICKED - {"in_scope"}, RECENT, "reject", "Hors du champ de la médiation.", set()),
    (ALL_TICKED - {"in_scope"}, RECENT, "reject", "", {"reason"}),
    (ALL_TICKED, RECENT, "reject", "Pas de raison valable", {"decision"}),
    (ALL_TICKED, RECENT, "reject", "", {"decision", "reason"}),
    (ALL_TICKED, RECENT, "ask_for_more", "Merci de joindre la preuve de votre réclamation.", set()),
    (set(), OLD, "ask_for_more", "Merci de compléter.", set()),
    (ALL_TICKED, RECENT, "ask_for_more", "", {"reason"}),
    (ALL_TICKED, RECENT, "", "", {"decision"}),
    (ALL_TICKED, RECENT, "approve", "", {"decision"}),
    (ALL_TICKED - {"in_scope"}, RECENT, "reject", "x" * 2001, {"reason"}),
])
def test_check_review(ticked: set[str], dates: dict[str, date], decision: str, reason: str,
                      error_fields: set[str]) -> None:
    errors = check_review(checklist(ticked, **dates), parse_decision(decision), reason)
    assert set(errors.fields) == error_fields


def test_rejecting_says_what_to_do() -> None:
    errors = check_review(checklist(ALL_TICKED, **RECENT), Decision.reject, "")
    assert "untick the items that do not hold" in errors.get("decision")
    assert "the consumer will read it" in errors.get("reason")


@pytest.mark.parametrize("decision", list(Decision))
def test_each_decision_is_a_claim_transition_from_submitted(decision: Decision) -> None:
    status = next_claim_status(ClaimStatus.submitted, DECISION_ACTIONS[decision])
    assert status.value == DECISION_RECORDS[decision]


def test_decisions_map_to_the_lifecycle_actions() -> None:
    assert DECISION_ACTIONS == {Decision.admit: ClaimAction.admit, Decision.ask_for_more: ClaimAction.ask_for_more,
                                Decision.reject: ClaimAction.reject}


def test_every_criterion_has_a_label_in_both_languages() -> None:
    english = criterion_labels()
    assert set(english) == set(Criterion)
    assert all(english.values())
    with i18n.language_of("fr"):
        french = criterion_labels()
    assert set(french) == set(Criterion) and all(french.values())
