"""Rules of proposals: amounts typed in French or English, shares, the threshold, the dates a proposal must keep,
the indicative vote's tally, the reminders ahead, and the signed time the decision form was shown."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.notices import notice_texts, recorded_notices, shown_notices
from app.domain.proposals import (
    AmountError,
    AmountProblem,
    DraftProblem,
    ProposalDraft,
    check_proposal,
    format_amount_input,
    format_share_input,
    parse_amount,
    parse_local_datetime,
    parse_share,
    parse_threshold,
    proposal_reminders,
    sign_shown_at,
    tally,
    verify_shown_at,
    vote_is_closed,
)
from app.tables import Proposal
from tests.factories import make_proposal_world

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "cents"), [
    ("1 234,50", 123_450), ("1234.50", 123_450), ("1234,5", 123_450), ("€1,234.50", 123_450),
    ("1.234,50 €", 123_450), ("1\u202f234,50\u00a0€", 123_450), ("80", 8_000), ("80 euros", 8_000),
    ("1,234", 123_400), ("1.000.000", 100_000_000), ("12.505", 1_250_500), ("0,99", 99),
    ("+12", 1_200), ("1'000", 100_000),
])
def test_amounts_are_read_in_french_and_english(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize(("typed", "problem"), [
    ("", AmountProblem.empty), ("  € ", AmountProblem.empty), ("-5", AmountProblem.negative),
    ("−5", AmountProblem.negative), ("0", AmountProblem.zero), ("0,00", AmountProblem.zero),
    ("1000001", AmountProblem.too_large), ("99999999999999999", AmountProblem.too_large),
    ("1e5", AmountProblem.malformed), ("12,345,6", AmountProblem.malformed), ("1,2,3", AmountProblem.malformed),
    ("12.5055", AmountProblem.malformed), ("0,125", AmountProblem.malformed), ("abc", AmountProblem.malformed),
    ("١٢", AmountProblem.malformed), ("12,34.5", AmountProblem.malformed), (".5.", AmountProblem.malformed),
    ("1" * 30, AmountProblem.malformed),
])
def test_negative_absurd_and_malformed_amounts_are_refused(typed: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as raised:
        parse_amount(typed)
    assert raised.value.problem is problem


def test_a_million_euros_is_the_most_one_consumer_can_be_offered() -> None:
    assert parse_amount("1 000 000") == 100_000_000
    with pytest.raises(AmountError):
        parse_amount("1 000 000,01")


@pytest.mark.parametrize(("typed", "points"), [("50", 5_000), ("33,5 %", 3_350), ("12.25", 1_225), ("100", 10_000)])
def test_shares_are_percentages_up_to_one_hundred(typed: str, points: int) -> None:
    assert parse_share(typed) == points


@pytest.mark.parametrize("typed", ["0", "100,01", "150", "-10", "", "a half"])
def test_a_share_outside_zero_to_one_hundred_is_refused(typed: str) -> None:
    with pytest.raises(AmountError):
        parse_share(typed)


def test_typed_values_go_back_into_the_form_in_the_users_language() -> None:
    assert format_amount_input(123_450, "fr") == "1234,50" and format_amount_input(123_450, "en") == "1234.50"
    assert format_share_input(3_350, "fr") == "33,5" and format_share_input(5_000, "en") == "50"
    assert parse_amount(format_amount_input(123_405, "fr")) == 123_405


@pytest.mark.parametrize(("typed", "threshold"), [("", 75), ("50", 50), ("100 %", 100), ("49", None), ("101", None),
                                                   ("75.5", None), ("x", None)])
def test_the_vote_threshold_is_a_whole_percentage_from_50_to_100(typed: str, threshold: int | None) -> None:
    assert parse_threshold(typed) == threshold


def test_a_typed_moment_is_paris_time() -> None:
    assert parse_local_datetime("2026-12-10T18:00", PARIS) == datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    assert parse_local_datetime("2026-07-10 18:00:30", PARIS) == datetime(2026, 7, 10, 16, 0, tzinfo=UTC)
    for bad in ("", "2026-12-10", "10/12/2026 18:00", "2026-13-10T18:00", "2026-12-10T18:00+05:00", "x" * 500):
        assert parse_local_datetime(bad, PARIS) is None


def draft(**values: str) -> ProposalDraft:
    typed = {"terms": "Refund and a voucher.", "rule_kind": "fixed", "amount": "80",
             "vote_closes_at": "2026-12-05T18:00", "decide_by": "2026-12-10T18:00", "threshold": ""}
    return ProposalDraft(**(typed | values))


def test_a_complete_proposal_is_checked_into_values() -> None:
    problems, checked = check_proposal(draft(), now=NOW, ends_at=NOW + timedelta(days=60), zone=PARIS)
    assert problems == {} and checked is not None
    assert checked.fixed_cents == 8_000 and checked.share_basis_points == 0 and checked.vote_threshold_pct == 75
    assert checked.decide_by == datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    _, share = check_proposal(draft(rule_kind="share", share="50", amount="-1"), now=NOW, ends_at=None, zone=PARIS)
    assert share is not None and share.share_basis_points == 5_000 and share.fixed_cents == 0
    _, item = check_proposal(draft(rule_kind="item", item=" A new device\x00 "), now=NOW, ends_at=None, zone=PARIS)
    assert item is not None and item.item == "A new device"


@pytest.mark.parametrize(("values", "field", "problem"), [
    ({"terms": "  "}, "terms", DraftProblem.terms_missing),
    ({"terms": "x" * 5_001}, "terms", DraftProblem.terms_too_long),
    ({"rule_kind": "bonus"}, "rule_kind", DraftProblem.rule_missing),
    ({"amount": "-80"}, "amount", AmountProblem.negative),
    ({"amount": "5000000"}, "amount", AmountProblem.too_large),
    ({"rule_kind": "item", "item": ""}, "item", DraftProblem.item_missing),
    ({"decide_by": ""}, "decide_by", DraftProblem.date_missing),
    ({"decide_by": "tomorrow"}, "decide_by", DraftProblem.date_malformed),
    ({"decide_by": "2026-11-30T18:00", "vote_closes_at": "2026-11-29T18:00"}, "decide_by", DraftProblem.decide_by_past),
    ({"decide_by": "2027-03-01T18:00"}, "decide_by", DraftProblem.decide_by_after_limit),
    ({"vote_closes_at": "2026-12-11T18:00"}, "vote_closes_at", DraftProblem.vote_after_decide_by),
    ({"vote_closes_at": "2026-12-01T09:30"}, "vote_closes_at", DraftProblem.vote_past),
    ({"threshold": "40"}, "threshold", DraftProblem.threshold_invalid),
])
def test_a_proposal_with_a_bad_field_is_refused(values: dict[str, str], field: str, problem: object) -> None:
    problems, checked = check_proposal(draft(**values), now=NOW, ends_at=NOW + timedelta(days=60), zone=PARIS)
    assert checked is None and problems[field] == problem


def test_only_the_mediator_sets_the_threshold() -> None:
    _, checked = check_proposal(draft(threshold="40"), now=NOW, ends_at=None, zone=PARIS, default_threshold=60,
                                may_set_threshold=False)
    assert checked is not None and checked.vote_threshold_pct == 60


def test_the_vote_counts_yes_among_expressed_votes() -> None:
    result = tally(["yes", "yes", "yes", "no", "abstain", "abstain"], 75)
    assert (result.yes, result.no, result.abstain, result.expressed, result.total) == (3, 1, 2, 4, 6)
    assert result.yes_pct == 75 and result.threshold_met
    assert not tally(["yes", "yes", "no"], 75).threshold_met and tally(["yes", "yes", "no"], 75).yes_pct == 66
    assert not tally(["abstain"], 50).threshold_met and tally([], 50).yes_pct == 0


def test_the_vote_closes_at_its_time_or_when_the_mediator_closes_it() -> None:
    assert not vote_is_closed(vote_closes_at=NOW + timedelta(hours=1), vote_closed_at=None, now=NOW)
    assert vote_is_closed(vote_closes_at=NOW, vote_closed_at=None, now=NOW)
    assert vote_is_closed(vote_closes_at=NOW + timedelta(hours=1), vote_closed_at=NOW, now=NOW)


def test_reminders_already_in_the_past_are_skipped() -> None:
    assert [label for label, _ in proposal_reminders(NOW + timedelta(days=5), NOW)] == ["d3", "d1"]
    assert [label for label, _ in proposal_reminders(NOW + timedelta(days=2), NOW)] == ["d1"]
    assert proposal_reminders(NOW + timedelta(hours=20), NOW) == []


def test_the_time_the_form_was_shown_cannot_be_forged() -> None:
    token = sign_shown_at("secret", proposal_id=4, version=2, user_id=9, shown_at=NOW)
    assert verify_shown_at("secret", token, proposal_id=4, version=2, user_id=9, now=NOW + timedelta(minutes=3)) == NOW
    for other in ({"proposal_id": 5, "version": 2, "user_id": 9}, {"proposal_id": 4, "version": 1, "user_id": 9},
                  {"proposal_id": 4, "version": 2, "user_id": 8}):
        assert verify_shown_at("secret", token, now=NOW, **other) is None
    assert verify_shown_at("other", token, proposal_id=4, version=2, user_id=9, now=NOW) is None
    future = sign_shown_at("secret", proposal_id=4, version=2, user_id=9, shown_at=NOW + timedelta(hours=1))
    assert verify_shown_at("secret", future, proposal_id=4, version=2, user_id=9, now=NOW) is None
    forged = f"{int((NOW + timedelta(hours=1)).timestamp())}.{token.split('.')[1]}"
    assert verify_shown_at("secret", forged, proposal_id=4, version=2, user_id=9, now=NOW) is None
    for junk in ("", "x", "1.2", "9" * 40 + "." + "a" * 32):
        assert verify_shown_at("secret", junk, proposal_id=4, version=2, user_id=9, now=NOW) is None


def test_the_notices_are_recorded_in_every_language_with_their_deadline() -> None:
    decide_by = datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    recorded = recorded_notices(decide_by)
    assert set(recorded) >= {"fr", "en", "decide_by", "keys"} and len(recorded["en"]) == 5
    assert "10 December 2026, 18:00" in recorded["en"][-1] and "10 décembre 2026" in recorded["fr"][-1]
    assert any("court" in text for text in recorded["en"]) and any("judge" in text for text in recorded["en"])
    assert shown_notices(recorded, "en", decide_by) == recorded["en"]
    assert shown_notices("not json", "en", decide_by) == notice_texts(decide_by, "en")


async def test_the_factory_makes_a_case_with_an_open_proposal() -> None:
    world = await make_proposal_world(3, outsider=True)
    assert world.proposal is not None and len(world.consumers) == 3 and world.outsider is not None
    row = await Proposal.objects().where(Proposal.id == world.proposal.id).first()
    assert row is not None and row.status == "open" and row.notices
