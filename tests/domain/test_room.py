"""The room's pure rules: who enters which space, message text, pseudonym numbers, keyset windows, read marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.room import (
    MAX_MESSAGE_CHARS,
    VISIT_GAP,
    MessageProblem,
    Party,
    ReadMark,
    Window,
    check_message,
    choose_window,
    clean_client_key,
    clean_message,
    days_left,
    first_new_seq,
    mark_on_view,
    may_enter,
    mute_until,
    page_of,
    parse_seq,
    pseudonym_number,
    space_key,
    unread,
    visible_kinds,
)

MEDIATOR = Party(is_mediator=True)
COMPANY = Party(is_company=True)
CONSUMER = Party(is_admitted_consumer=True)
NOBODY = Party()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("party", "kind", "expected"), [
    (MEDIATOR, "plenary", True), (MEDIATOR, "consumers", True), (MEDIATOR, "company", True),
    (COMPANY, "plenary", True), (COMPANY, "consumers", False), (COMPANY, "company", True),
    (CONSUMER, "plenary", True), (CONSUMER, "consumers", True), (CONSUMER, "company", False),
    (NOBODY, "plenary", False), (NOBODY, "consumers", False), (NOBODY, "company", False),
    (CONSUMER, "nonsense", False),
])
def test_membership_of_shared_spaces(party: Party, kind: str, expected: bool) -> None:
    assert may_enter(party, kind, None, user_id=7) is expected


def test_a_direct_thread_is_the_mediator_and_one_participant() -> None:
    assert may_enter(MEDIATOR, "direct", 7, user_id=1)
    assert may_enter(CONSUMER, "direct", 7, user_id=7)
    assert may_enter(COMPANY, "direct", 7, user_id=7)
    assert not may_enter(CONSUMER, "direct", 7, user_id=8)
    assert not may_enter(COMPANY, "direct", 7, user_id=8)
    assert not may_enter(NOBODY, "direct", 7, user_id=7)  # no longer a participant (claim withdrawn)
    assert visible_kinds(COMPANY) == ("plenary", "company")
    assert visible_kinds(CONSUMER) == ("plenary", "consumers")
    assert visible_kinds(NOBODY) == ()
    assert space_key(3, "direct", 9) == "3:direct:9" and space_key(3, "plenary") == "3:plenary:0"


def test_message_text_is_cleaned_and_checked() -> None:
    assert clean_message("  Bonjour\r\n\r\nà tous\t!  \n") == "Bonjour\n\nà tous\t!"
    # control characters (but tab and line feed) and bidi overrides are stripped, not refused
    assert clean_message("a\x00b\x07c\x1bd\x7fe\x85f\u202eg\u2066h") == "abcdefgh"
    assert clean_message("e\u0301") == "é"  # NFC
    assert check_message("   \n\x00 ").problem == MessageProblem.empty
    assert check_message("", has_attachment=True).problem is None
    assert check_message("x" * MAX_MESSAGE_CHARS).problem is None
    too_long = check_message("x" * (MAX_MESSAGE_CHARS + 1))
    assert too_long.problem == MessageProblem.too_long and too_long.length == MAX_MESSAGE_CHARS + 1
    assert check_message("<script>alert(1)</script>").body == "<script>alert(1)</script>"  # escaped when shown


def test_client_keys() -> None:
    assert clean_client_key("5f1c2a9e-0b7d-4c1e-9a57-2f3b4c5d6e7f") == "5f1c2a9e-0b7d-4c1e-9a57-2f3b4c5d6e7f"
    for bad in ("", "short", "x" * 41, "a b c d e f g h", "<script>"):
        assert clean_client_key(bad) == ""


def test_pseudonym_numbers_are_stable_and_spread() -> None:
    assert pseudonym_number(1, 2, 0) == pseudonym_number(1, 2, 0)
    assert 100 <= pseudonym_number(1, 2, 0) <= 999
    assert len({pseudonym_number(1, user, 0) for user in range(200)}) > 150  # says nothing of the join order
    assert len({pseudonym_number(1, 2, attempt) for attempt in range(10)}) > 5  # a collision moves on


def test_cursors_from_the_query_string() -> None:
    assert parse_seq("42") == 42 and parse_seq(42) == 42
    for bad in (None, "", "0", "-3", "abc", "٣", "99999999999", str(2**31), "1e3"):
        assert parse_seq(bad) is None, bad


def test_windows_and_pages() -> None:
    assert choose_window(500, None, None).is_latest
    assert choose_window(500, 120, None) == Window(before=120)
    assert choose_window(500, 900, None).is_latest  # a cursor beyond the end: the latest page
    assert choose_window(500, None, 460).is_latest  # nearly caught up: the latest page (with a marker)
    assert choose_window(500, None, 400) == Window(after=400)
    # latest page of 120 messages: the query walked down from 120 and found 51
    latest = page_of(Window(), list(range(120, 69, -1)), 120)
    assert latest.seqs == tuple(range(71, 121)) and latest.has_older and not latest.has_newer
    # the first page of history holds the rest
    first = page_of(Window(before=71), list(range(70, 19, -1)), 120)
    assert first.seqs == tuple(range(21, 71)) and first.has_older and first.has_newer
    oldest = page_of(Window(before=21), list(range(20, 0, -1)), 120)
    assert oldest.seqs == tuple(range(1, 21)) and not oldest.has_older and oldest.has_newer
    forward = page_of(Window(after=10), list(range(11, 62)), 120)
    assert forward.seqs == tuple(range(11, 61)) and forward.has_older and forward.has_newer
    empty = page_of(Window(), [], 0)
    assert empty.seqs == () and not empty.has_older and not empty.has_newer


def test_read_marks_and_the_new_marker() -> None:
    # first visit: everything read, nothing marked as new
    first = mark_on_view(None, None, NOW, 30)
    assert first == ReadMark(read_seq=30, previous_visit_seq=30)
    # within the same visit the marker stays where the visit started
    same = mark_on_view(ReadMark(35, 30), NOW - timedelta(minutes=5), NOW, 40)
    assert same == ReadMark(read_seq=40, previous_visit_seq=30)
    # a new visit: the marker moves to where reading had stopped
    later = mark_on_view(ReadMark(40, 30), NOW - VISIT_GAP, NOW, 55)
    assert later == ReadMark(read_seq=55, previous_visit_seq=40)
    # a mark never goes back (a page rendered from an older snapshot)
    assert mark_on_view(ReadMark(60, 50), NOW - timedelta(hours=2), NOW, 55) == ReadMark(60, 55)
    assert unread(55, 40) == 15 and unread(55, None) == 55 and unread(40, 55) == 0
    assert first_new_seq([38, 39, 41, 42], 40) == 41
    assert first_new_seq([38, 39, 40], 40) is None


def test_mutes_and_deadlines() -> None:
    assert mute_until("1h", NOW) == NOW + timedelta(hours=1)
    assert mute_until("24h", NOW) == NOW + timedelta(hours=24)
    until_lifted = mute_until("until_lifted", NOW)
    assert until_lifted is not None and until_lifted - NOW > timedelta(days=3650)
    assert mute_until("forever!", NOW) is None
    assert days_left(NOW + timedelta(days=10, hours=3), NOW) == 10
    assert days_left(NOW - timedelta(hours=1), NOW) == -1
    assert days_left(None, NOW) is None
