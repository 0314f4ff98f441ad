"""The timeline of a mediation (R612-5): the default phases, the checks on due dates and extensions, the
mediator's reminders before the limit, where "today" stands, and what each party has to do next. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.i18n import _

PARIS = ZoneInfo("Europe/Paris")


class PhaseKind(StrEnum):
    statements = "statements"
    company_response = "company_response"
    negotiation = "negotiation"
    decision = "decision"
    custom = "custom"


# The default template: each phase ends at this share of the mediation's duration (90 days: day 20, 40, 65, 85),
# leaving a few days before the limit for the agreements to be finalized and signed.
DEFAULT_TEMPLATE: tuple[tuple[PhaseKind, float], ...] = (
    (PhaseKind.statements, 20 / 90),
    (PhaseKind.company_response, 40 / 90),
    (PhaseKind.negotiation, 65 / 90),
    (PhaseKind.decision, 85 / 90),
)
TITLE_MAX_CHARS = 120
REASON_MAX_CHARS = 2000
MAX_PHASES = 20
# An extension pushes the limit by at most this much at a time (a complex case, not an open-ended one).
MAX_EXTENSION_DAYS = 90
# The mediator is reminded this many days before the limit.
LIMIT_REMINDERS = (("d14", 14), ("d3", 3))
# From this many days before the limit, the mediator's next steps say to conclude or extend.
LIMIT_APPROACHING_DAYS = 14


def phase_kind_label(kind: str) -> str:
    labels: dict[str, str] = {
        PhaseKind.statements: _("Statements of the parties"),
        PhaseKind.company_response: _("The company's response"),
        PhaseKind.negotiation: _("Negotiation"),
        PhaseKind.decision: _("Proposal and decision"),
    }
    return labels.get(kind, _("Phase"))


def phase_title(kind: str, title: str) -> str:
    """A custom title, else the kind's translated name."""
    return title or phase_kind_label(kind)


@dataclass(frozen=True)
class PhaseDraft:
    position: int
    kind: PhaseKind
    due_at: datetime


def default_phases(started_at: datetime, ends_at: datetime) -> list[PhaseDraft]:
    """The default phases of a mediation running from `started_at` to `ends_at`: increasing due dates, all
    strictly inside the period (to the second)."""
    span = ends_at - started_at
    drafts = []
    for position, (kind, share) in enumerate(DEFAULT_TEMPLATE, start=1):
        due = (started_at + span * share).replace(microsecond=0)
        drafts.append(PhaseDraft(position, kind, due))
    return drafts


# --- parsing and checking what the mediator typed ---------------------------------------------------------


def parse_day(raw: str) -> date | None:
    """A date from an <input type=date> (YYYY-MM-DD); None when it is anything else."""
    text = (raw or "").strip()
    if len(text) != 10 or not text.isascii():
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def end_of_day(day: date, limit: datetime | None = None) -> datetime:
    """The moment a phase due on `day` ends: 23:59 in Paris, or the case's limit itself on the limit's day
    (choosing the last day must not fall a few hours past the limit)."""
    moment = datetime.combine(day, time(23, 59), tzinfo=PARIS)
    if limit is not None and day == limit.astimezone(PARIS).date():
        return min(moment, limit)
    return moment


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_typed(raw: str, *, one_line: bool = False) -> str:
    """A title or reason as typed, without control characters (PostgreSQL refuses NUL in text; a title keeps
    no line breaks), Windows line ends unified, trimmed."""
    text = _CONTROL.sub("", (raw or "").replace("\r\n", "\n").replace("\r", "\n"))
    return (" ".join(text.split()) if one_line else text).strip()


def check_phase_title(title: str) -> str:
    """"" when the title is fine, else why not (an empty title keeps the kind's name)."""
    if len(title) > TITLE_MAX_CHARS:
        return _("Please keep the title under 120 characters.")
    return ""


def check_phase_due(day: date | None, *, started_at: datetime, ends_at: datetime) -> str:
    """"" when a phase may be due on `day`, else why not: every phase lies within the case's limit (R612-5)."""
    if day is None:
        return _("Please enter a date, as day/month/year.")
    if day < started_at.astimezone(PARIS).date():
        return _("The date cannot be before the start of the mediation.")
    if day > ends_at.astimezone(PARIS).date():
        return _("This date is after the limit of the mediation (%(date)s). Extend the limit first, with a reason, "
                 "if the case needs more time.") % {"date": day_text(ends_at)}
    return ""


def check_extension(new_day: date | None, reason: str, *, current_ends_at: datetime) -> dict[str, str]:
    """The errors of an extension form (R612-5: a later limit, within bounds, and a reason), by field."""
    errors: dict[str, str] = {}
    current_day = current_ends_at.astimezone(PARIS).date()
    if new_day is None:
        errors["ends_on"] = _("Please enter the new limit, as day/month/year.")
    elif new_day <= current_day:
        errors["ends_on"] = _("The new limit must be after the current one (%(date)s).") % {
            "date": day_text(current_ends_at)}
    elif new_day > current_day + timedelta(days=MAX_EXTENSION_DAYS):
        errors["ends_on"] = _("An extension may add at most 90 days at a time.")
    if not reason.strip():
        errors["reason"] = _("Please give the reason for the extension: every party will read it.")
    elif len(reason) > REASON_MAX_CHARS:
        errors["reason"] = _("Please keep it under 2,000 characters.")
    return errors


def extended_ends_at(new_day: date, current_ends_at: datetime) -> datetime:
    """The new limit: the same time of day as the current one, on the new day (Paris time)."""
    local = current_ends_at.astimezone(PARIS)
    return datetime.combine(new_day, local.timetz().replace(tzinfo=None), tzinfo=PARIS).astimezone(
        current_ends_at.tzinfo)


def day_text(value: datetime) -> str:
    """An unambiguous date (ISO) for messages built in the domain."""
    return value.astimezone(PARIS).date().isoformat()


def limit_reminders(ends_at: datetime, now: datetime) -> list[tuple[str, datetime]]:
    """The mediator's reminders still ahead: D-14 and D-3 before the limit."""
    reminders = [(label, ends_at - timedelta(days=days)) for label, days in LIMIT_REMINDERS]
    return [(label, due) for label, due in reminders if due > now]


# --- where today stands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    percent: int  # how far the period has run, 0..100
    days_left: int  # whole days until the limit (negative once past)


def position(started_at: datetime, ends_at: datetime, now: datetime) -> Position:
    total = (ends_at - started_at).total_seconds()
    ran = (now - started_at).total_seconds()
    percent = 100 if total <= 0 else max(0, min(100, round(100 * ran / total)))
    left = ends_at - now
    days_left = left.days if left >= timedelta(0) else -((-left).days + (1 if (-left).seconds else 0))
    return Position(percent=percent, days_left=days_left)


@dataclass(frozen=True)
class PhaseInfo:
    """A phase as the next steps see it."""

    kind: str
    title: str
    due_at: datetime
    done: bool


def current_phase(phases: list[PhaseInfo]) -> PhaseInfo | None:
    """The first phase not done yet, in timeline order."""
    return next((phase for phase in phases if not phase.done), None)


# --- what each party has to do next -------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalInfo:
    """The case's current open proposal, as the next steps see it."""

    vote_closes_at: datetime
    decide_by: datetime
    vote_closed: bool  # the mediator (or the deadline job) closed the vote


@dataclass
class StepInputs:
    """Plain facts about one viewer of one case."""

    role: str  # consumer, company, mediator, staff
    case_id: int
    case_status: str
    now: datetime
    ends_at: datetime | None = None
    phases: list[PhaseInfo] = field(default_factory=list)
    proposal: ProposalInfo | None = None
    has_voted: bool = False  # consumer
    has_decided: bool = False  # consumer
    agreement_to_sign: bool = False  # consumer
    certificate_id: int | None = None  # consumer
    can_escalate: bool = False  # consumer: a failed case, may pass their file to the litigation partner
    claim_id: int | None = None  # consumer: their own claim (its escalation page)
    agreements_to_countersign: int = 0  # company


@dataclass(frozen=True)
class Step:
    text: str
    link: str
    due_at: datetime | None = None


def next_steps(facts: StepInputs) -> list[Step]:
    """What this viewer has to do next, most urgent first; a single "nothing for now" when nothing."""
    case_id, now = facts.case_id, facts.now
    proposals = f"/cases/{case_id}/proposals"
    agreements = f"/cases/{case_id}/agreements"
    timeline = f"/cases/{case_id}/timeline"
    room = f"/cases/{case_id}/room"
    steps: list[Step] = []
    proposal = facts.proposal
    vote_open = proposal is not None and not proposal.vote_closed and now < proposal.vote_closes_at
    decision_open = proposal is not None and now < proposal.decide_by
    phase = current_phase(facts.phases)

    if facts.role == "consumer":
        if facts.agreement_to_sign:
            steps.append(Step(_("Sign your agreement."), agreements))
        if facts.case_status == "in_mediation":
            if vote_open and not facts.has_voted:
                assert proposal is not None
                steps.append(Step(_("Give your opinion on the proposal (indicative vote)."), proposals,
                                  proposal.vote_closes_at))
            if decision_open and not facts.has_decided:
                assert proposal is not None
                steps.append(Step(_("Accept or refuse the proposal: your own decision."), proposals,
                                  proposal.decide_by))
            if not steps and phase is not None and phase.kind == PhaseKind.statements:
                steps.append(Step(_("Tell your side in the mediation room."), room, phase.due_at))
        if facts.certificate_id is not None:
            steps.append(Step(_("Download your certificate of non-agreement."),
                              f"/certificates/{facts.certificate_id}"))
        if facts.can_escalate and facts.claim_id is not None:
            steps.append(Step(_("You may pass your file to our litigation partner."),
                              f"/claims/{facts.claim_id}/escalate"))
    elif facts.role == "company":
        if facts.agreements_to_countersign:
            steps.append(Step(_("Countersign the signed agreements."), agreements))
        if facts.case_status == "in_mediation" and phase is not None:
            if phase.kind == PhaseKind.company_response:
                steps.append(Step(_("Answer the consumers' claims in the mediation room."), room, phase.due_at))
            elif phase.kind == PhaseKind.negotiation and proposal is None:
                steps.append(Step(_("Make an offer to the consumers."), proposals, phase.due_at))
    elif facts.role == "mediator" and facts.case_status == "in_mediation":
        if proposal is not None and not proposal.vote_closed and now >= proposal.vote_closes_at:
            steps.append(Step(_("Close the vote on the proposal: its deadline has passed."), proposals,
                              proposal.vote_closes_at))
        if proposal is not None and now >= proposal.decide_by:
            steps.append(Step(_("Finalize the proposal: the decision deadline has passed."), proposals,
                              proposal.decide_by))
        if facts.ends_at is not None and facts.ends_at - now <= timedelta(days=LIMIT_APPROACHING_DAYS):
            steps.append(Step(_("The limit of the mediation is near: conclude, or extend it with a reason."),
                              timeline, facts.ends_at))
        if phase is not None:
            if phase.due_at < now:
                steps.append(Step(_("“%(phase)s” is overdue: mark it done or change its date.")
                                  % {"phase": phase_title(phase.kind, phase.title)}, timeline, phase.due_at))
            else:
                steps.append(Step(_("Lead the current phase: “%(phase)s”.")
                                  % {"phase": phase_title(phase.kind, phase.title)}, timeline, phase.due_at))
    if not steps:
        steps.append(Step(_("Nothing to do for now: you will be notified when it is your turn."), ""))
    return steps
