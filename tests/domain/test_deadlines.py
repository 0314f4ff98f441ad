"""Deadlines: the company's answer, the reminders, the 3-week review promise, the 90-day clock, one year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.deadlines import (
    invitation_deadline,
    invitation_reminders,
    mediation_ends_at,
    one_year_after,
    parse_invitation_days,
    review_answer_due,
    review_reminders,
    within_one_year,
)

NOW = datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=UTC)


def test_the_mediation_ends_90_days_after_its_start() -> None:
    assert mediation_ends_at(NOW) == NOW + timedelta(days=90)
    assert mediation_ends_at(NOW).date() == date(2026, 5, 30)


@pytest.mark.parametrize(("raw", "days"), [
    ("", 21), ("  ", 21), ("21", 21), ("7", 7), ("60", 60), (" 30 ", 30),
    ("6", None), ("61", None), ("0", None), ("-7", None), ("7.5", None), ("abc", None), ("１４", None),
    ("9" * 50, None), ("0021", None),
])
def test_invitation_days_typed_by_staff(raw: str, days: int | None) -> None:
    assert parse_invitation_days(raw) == days


def test_the_invitation_deadline_is_to_the_second() -> None:
    deadline = invitation_deadline(NOW, 21)
    assert deadline == datetime(2026, 3, 22, 10, 30, 15, tzinfo=UTC)
    assert invitation_deadline(NOW) == deadline  # 21 days by default


@pytest.mark.parametrize(("days", "labels"), [
    (21, ["d7", "d2"]), (8, ["d7", "d2"]), (7, ["d2"]), (60, ["d7", "d2"]),
])
def test_reminders_ahead_of_the_deadline(days: int, labels: list[str]) -> None:
    deadline = invitation_deadline(NOW, days)
    reminders = invitation_reminders(deadline, NOW)
    assert [label for label, _ in reminders] == labels
    for label, due in reminders:
        assert due == deadline - timedelta(days=7 if label == "d7" else 2)
        assert due > NOW


def test_review_reminders_come_before_the_three_weeks() -> None:
    assert review_reminders(NOW) == [(14, NOW + timedelta(days=14)), (20, NOW + timedelta(days=20))]
    assert review_answer_due(NOW) == NOW + timedelta(days=21)
    assert all(due < review_answer_due(NOW) for _, due in review_reminders(NOW))


@pytest.mark.parametrize(("day", "expected"), [
    (date(2025, 3, 1), date(2026, 3, 1)),
    (date(2024, 2, 29), date(2025, 2, 28)),
    (date(2025, 12, 31), date(2026, 12, 31)),
])
def test_one_year_after(day: date, expected: date) -> None:
    assert one_year_after(day) == expected


@pytest.mark.parametrize(("complaint", "filed", "expected"), [
    (date(2025, 3, 1), date(2025, 3, 1), True),  # the same day
    (date(2025, 3, 1), date(2026, 3, 1), True),  # exactly one year
    (date(2025, 3, 1), date(2026, 3, 2), False),  # a day too late
    (date(2024, 2, 29), date(2025, 2, 28), True),
    (date(2024, 2, 29), date(2025, 3, 1), False),
    (date(2025, 3, 2), date(2025, 3, 1), False),  # a complaint after the claim makes no sense
])
def test_within_one_year_of_the_written_complaint(complaint: date, filed: date, expected: bool) -> None:
    assert within_one_year(complaint, filed) is expected
