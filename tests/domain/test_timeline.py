"""The timeline rules: default phases, due-date and extension checks, reminders, position, next steps per role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from app import i18n
from app.domain.deadlines import mediation_ends_at
from app.domain.timeline import (
    PARIS,
    PhaseInfo,
    PhaseKind,
    ProposalInfo,
    StepInputs,
    check_extension,
    check_phase_due,
    default_phases,
    end_of_day,
    extended_ends_at,
    limit_reminders,
    next_steps,
    parse_day,
    position,
)

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
END = mediation_ends_at(START)


def phases_from(now: datetime, *, done: int = 0) -> list[PhaseInfo]:
    return [PhaseInfo(draft.kind, "", draft.due_at, index < done)
            for index, draft in enumerate(default_phases(START, END))]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.language_of("en"):
        yield


def test_default_phases_follow_the_template_inside_the_90_days_in_increasing_order() -> None:
    drafts = default_phases(START, END)
    assert [draft.kind for draft in drafts] == [PhaseKind.statements, PhaseKind.company_response,
                                                PhaseKind.negotiation, PhaseKind.decision]
    assert [draft.position for draft in drafts] == [1, 2, 3, 4]
    dues = [draft.due_at for draft in drafts]
    assert all(START < due < END for due in dues)
    assert dues == sorted(dues) and len(set(dues)) == len(dues)
    # Also for an extended or a very short period
    for end in (START + timedelta(days=180), START + timedelta(hours=1)):
        dues = [draft.due_at for draft in default_phases(START, end)]
        assert all(START < due < end for due in dues) and dues == sorted(dues)


def test_a_due_date_past_the_limit_is_refused_with_the_way_out() -> None:
    last_day = END.astimezone(PARIS).date()
    assert check_phase_due(last_day, started_at=START, ends_at=END) == ""
    assert "Extend the limit first" in check_phase_due(last_day + timedelta(days=1), started_at=START, ends_at=END)
    assert "before the start" in check_phase_due(date(2026, 3, 1), started_at=START, ends_at=END)
    assert "Please enter a date" in check_phase_due(None, started_at=START, ends_at=END)
    # The limit's own day ends at the limit, not at midnight after it
    assert end_of_day(last_day, END) == END
    assert end_of_day(date(2026, 4, 1), END).astimezone(PARIS).hour == 23


def test_only_well_formed_dates_are_read() -> None:
    assert parse_day("2026-04-01") == date(2026, 4, 1)
    for raw in ("", "01/04/2026", "2026-02-30", "2026-04-01x", "２０２６-04-01", "9" * 500):
        assert parse_day(raw) is None, raw


def test_an_extension_needs_a_later_limit_within_bounds_and_a_reason() -> None:
    current = END.astimezone(PARIS).date()
    assert check_extension(current + timedelta(days=30), "Expertise technique en cours", current_ends_at=END) == {}
    assert "reason" in check_extension(current + timedelta(days=30), "   ", current_ends_at=END)
    assert "ends_on" in check_extension(current, "Raison", current_ends_at=END)
    assert "ends_on" in check_extension(current + timedelta(days=91), "Raison", current_ends_at=END)
    assert "ends_on" in check_extension(None, "Raison", current_ends_at=END)
    assert "reason" in check_extension(current + timedelta(days=1), "x" * 2001, current_ends_at=END)
    new = extended_ends_at(current + timedelta(days=30), END)
    assert abs((new - END) - timedelta(days=30)) <= timedelta(hours=1)  # the same Paris time (DST may move it)


def test_the_mediator_is_reminded_14_and_3_days_before_the_limit_if_still_ahead() -> None:
    assert limit_reminders(END, START) == [("d14", END - timedelta(days=14)), ("d3", END - timedelta(days=3))]
    assert limit_reminders(END, END - timedelta(days=5)) == [("d3", END - timedelta(days=3))]
    assert limit_reminders(END, END) == []


def test_position_says_how_far_and_how_many_days_are_left() -> None:
    assert position(START, END, START).percent == 0 and position(START, END, START).days_left == 90
    middle = position(START, END, START + timedelta(days=45))
    assert middle.percent == 50 and middle.days_left == 45
    late = position(START, END, END + timedelta(hours=2))
    assert late.percent == 100 and late.days_left == -1


def texts(facts: StepInputs) -> list[str]:
    return [step.text for step in next_steps(facts)]


def test_a_consumer_is_asked_to_vote_then_decide_then_sign() -> None:
    now = START + timedelta(days=70)
    proposal = ProposalInfo(vote_closes_at=now + timedelta(days=3), decide_by=now + timedelta(days=10),
                            vote_closed=False)
    facts = StepInputs(role="consumer", case_id=7, case_status="in_mediation", now=now, ends_at=END,
                       phases=phases_from(now, done=3), proposal=proposal, claim_id=3)
    steps = next_steps(facts)
    assert [step.link for step in steps] == ["/cases/7/proposals", "/cases/7/proposals"]
    assert "indicative vote" in steps[0].text and steps[0].due_at == proposal.vote_closes_at
    assert "Accept or refuse" in steps[1].text and steps[1].due_at == proposal.decide_by
    facts.has_voted = True
    assert texts(facts) == ["Accept or refuse the proposal: your own decision."]
    facts.has_decided, facts.agreement_to_sign = True, True
    [sign] = next_steps(facts)
    assert sign.link == "/cases/7/agreements" and "Sign" in sign.text


def test_a_consumer_with_nothing_to_do_is_told_so_and_a_failed_case_offers_the_certificate() -> None:
    now = START + timedelta(days=1)
    facts = StepInputs(role="consumer", case_id=7, case_status="in_mediation", now=now, ends_at=END,
                       phases=phases_from(now), claim_id=3)
    [room] = next_steps(facts)
    assert room.link == "/cases/7/room"  # the statements phase: tell one's side
    facts.phases = phases_from(now, done=1)
    assert texts(facts) == ["Nothing to do for now: you will be notified when it is your turn."]
    closed = StepInputs(role="consumer", case_id=7, case_status="closed", now=now, certificate_id=12,
                        can_escalate=True, claim_id=3)
    assert [step.link for step in next_steps(closed)] == ["/certificates/12", "/claims/3/escalate"]


def test_the_company_answers_offers_and_countersigns() -> None:
    now = START + timedelta(days=25)
    facts = StepInputs(role="company", case_id=7, case_status="in_mediation", now=now, ends_at=END,
                       phases=phases_from(now, done=1))
    [answer] = next_steps(facts)
    assert answer.link == "/cases/7/room" and "Answer" in answer.text
    facts.phases = phases_from(now, done=2)
    [offer] = next_steps(facts)
    assert offer.link == "/cases/7/proposals" and "offer" in offer.text
    facts.agreements_to_countersign = 2
    assert next_steps(facts)[0].link == "/cases/7/agreements"
    # A consumer-only step never shows to the company
    facts.proposal = ProposalInfo(now + timedelta(days=1), now + timedelta(days=2), False)
    assert not any("vote" in text for text in texts(facts))


def test_the_mediator_closes_votes_finalizes_and_watches_the_limit() -> None:
    now = END - timedelta(days=4)
    proposal = ProposalInfo(vote_closes_at=now - timedelta(days=1), decide_by=now - timedelta(hours=1),
                            vote_closed=False)
    facts = StepInputs(role="mediator", case_id=7, case_status="in_mediation", now=now, ends_at=END,
                       phases=phases_from(now, done=3), proposal=proposal)
    found = texts(facts)
    assert any("Close the vote" in text for text in found)
    assert any("Finalize the proposal" in text for text in found)
    assert any("limit of the mediation is near" in text for text in found)
    assert any("overdue" in text for text in found)  # the decision phase's date (day 85) has passed
    early = StepInputs(role="mediator", case_id=7, case_status="in_mediation", now=START + timedelta(days=1),
                       ends_at=END, phases=phases_from(START))
    [lead] = next_steps(early)
    assert "Lead the current phase" in lead.text and lead.link == "/cases/7/timeline"
