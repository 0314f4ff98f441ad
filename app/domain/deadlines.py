"""Deadlines of the mediation: the company's answer, the admissibility answer, the 90-day clock. No I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta

# R612-5: the outcome within 90 days of the start notification.
MEDIATION_DAYS = 90
# The company's time to accept or decline the invitation (staff may choose within the bounds).
INVITATION_DEFAULT_DAYS = 21
INVITATION_MIN_DAYS = 7
INVITATION_MAX_DAYS = 60
# Reminders before the company's deadline, as (label, days before the deadline).
INVITATION_REMINDERS = (("d7", 7), ("d2", 2))
# L612-2: each consumer is told within 3 weeks of a complete claim; the reviewer is reminded before that.
REVIEW_ANSWER_DAYS = 21
REVIEW_REMINDER_DAYS = (14, 20)
# A company representative's invitation link lives this long.
COMPANY_INVITE_DAYS = 14


def mediation_ends_at(started_at: datetime) -> datetime:
    """The 90-day limit of a mediation started at `started_at`."""
    return started_at + timedelta(days=MEDIATION_DAYS)


def parse_invitation_days(raw: str) -> int | None:
    """The number of days staff typed for the company's answer, or None when it is not a whole number
    between the bounds. An empty field means the default."""
    text = (raw or "").strip()
    if not text:
        return INVITATION_DEFAULT_DAYS
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    days = int(text)
    return days if INVITATION_MIN_DAYS <= days <= INVITATION_MAX_DAYS else None


def invitation_deadline(now: datetime, days: int = INVITATION_DEFAULT_DAYS) -> datetime:
    """The company's deadline, to the second (it is also the expiry signed into the link)."""
    return (now + timedelta(days=days)).replace(microsecond=0)


def invitation_reminders(deadline: datetime, now: datetime) -> list[tuple[str, datetime]]:
    """The reminders still ahead: D-7 and D-2 (a 7-day deadline has no D-7: it would be now)."""
    reminders = [(label, deadline - timedelta(days=days)) for label, days in INVITATION_REMINDERS]
    return [(label, due) for label, due in reminders if due > now + timedelta(minutes=1)]


def review_reminders(submitted_at: datetime) -> list[tuple[int, datetime]]:
    """When to remind the reviewer of a claim submitted (or completed) at `submitted_at`."""
    return [(days, submitted_at + timedelta(days=days)) for days in REVIEW_REMINDER_DAYS]


def review_answer_due(submitted_at: datetime) -> datetime:
    return submitted_at + timedelta(days=REVIEW_ANSWER_DAYS)


def one_year_after(day: date) -> date:
    """The same calendar day a year later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def within_one_year(complaint_date: date, filed_on: date) -> bool:
    """L612-2: the claim came to the mediator no more than one year after the written complaint
    (and not before it)."""
    return complaint_date <= filed_on <= one_year_after(complaint_date)
