"""The timeline of a mediation (R612-5): the default phases made at the start, the mediator's edits, the
extension of the limit with a reason and immediate notice to every party, the mediator's reminders before
the limit, the automatic end at the limit with certificates for all, the certificate of a consumer who
withdraws (R612-2), and "what I have to do next" for every party."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.actions.access import CaseAccess, case_for_party
from app.actions.base import mediation_party_ids, record, reminder_params
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_cancel_reminders, do_notify, do_schedule_reminder, reminder_handler
from app.domain.accounts import FormErrors
from app.domain.lifecycle import CaseAction, CaseStatus, ClaimStatus, TransitionError, next_case_status
from app.domain.timeline import (
    MAX_PHASES,
    PARIS,
    PhaseInfo,
    PhaseKind,
    ProposalInfo,
    Step,
    StepInputs,
    check_extension,
    check_phase_due,
    check_phase_title,
    clean_typed,
    default_phases,
    end_of_day,
    extended_ends_at,
    limit_reminders,
    next_steps,
    parse_day,
    phase_title,
    position,
)
from app.formatting import iso_day
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import (
    Agreement,
    Case,
    Certificate,
    Claim,
    ClaimReview,
    CollectiveRecord,
    DeadlineExtension,
    Decision,
    Phase,
    Proposal,
    Reminder,
    User,
    Vote,
)

logger = logging.getLogger("clf.timeline")
# Proposals whose finalization has begun: the case then ends through the agreements, not by expiry.
FINALIZING_STATES = ["locked", "finalized"]
# How long after the end the sweep still retries a certificate whose production failed.
CERTIFICATE_RETRY_WINDOW = timedelta(days=7)
FAILED_OUTCOMES = ("expired", "no_agreement")


def limit_reminder_prefix(case_id: int) -> str:
    return f"case-limit:{case_id}:"


# --- at the start -------------------------------------------------------------------------------------------


async def do_create_default_timeline(case_id: int, started_at: datetime, ends_at: datetime) -> None:
    """The default phases and the mediator's reminders; inside the start's transaction (idempotent)."""
    if not await Phase.exists().where(Phase.case == case_id):
        for draft in default_phases(started_at, ends_at):
            await Phase.insert(Phase(case=case_id, position=draft.position, kind=draft.kind.value, title="",
                                     due_at=draft.due_at))
    await schedule_limit_reminders(case_id, ends_at, started_at)


async def schedule_limit_reminders(case_id: int, ends_at: datetime, now: datetime) -> None:
    """D-14 and D-3 before this limit; the key names the limit, so a new limit gets new reminders."""
    stamp = int(ends_at.timestamp())
    for label, due in limit_reminders(ends_at, now):
        await do_schedule_reminder(f"{limit_reminder_prefix(case_id)}{stamp}:{label}", kind="mediation_limit",
                                   due_at=due, case_id=case_id, params={"ends_at": stamp, "label": label})


@reminder_handler("mediation_limit")
async def remind_mediator_of_limit(reminder: Reminder) -> None:
    """Tell the mediator the limit is near; nothing once the case ended or its limit moved."""
    case = await Case.objects().where(Case.id == reminder.case).first() if reminder.case else None
    params = reminder_params(reminder)
    if case is None or case.status != CaseStatus.in_mediation or case.mediator is None or case.ends_at is None:
        return
    if params.get("ends_at") != int(case.ends_at.timestamp()):
        return
    days = max(0, (case.ends_at - datetime.now(UTC)).days)
    await do_notify([case.mediator], kind="mediation_limit", case_id=case.id, link=f"/cases/{case.id}/timeline",
                    params={"title": case.title, "end": iso_day(case.ends_at), "days": days},
                    title=N_("The mediation of “%(title)s” must end by %(end)s"),
                    body=N_("%(days)s days are left before the limit (Code de la consommation R612-5). Conclude, "
                            "or extend the limit with a reason if the case is complex: every party is then told "
                            "at once."))


# --- reading ------------------------------------------------------------------------------------------------


async def case_phases(case_id: int) -> list[Phase]:
    return await Phase.objects().where(Phase.case == case_id).order_by(Phase.position).order_by(Phase.id)


async def current_proposal(case_id: int) -> Proposal | None:
    """The case's open proposal (the latest version), if any."""
    return await Proposal.objects().where(Proposal.case == case_id, Proposal.status == "open").order_by(
        Proposal.id, ascending=False).first()


async def certificate_of(claim_id: int) -> Certificate | None:
    return await Certificate.objects().where(Certificate.claim == claim_id).first()


def escalation_allowed(case: Case, claim: Claim, has_certificate: bool) -> bool:
    """A refused case (active claim), a failed case (admitted claim), or a consumer with a certificate."""
    if case.status == CaseStatus.refused:
        return claim.status in (ClaimStatus.submitted, ClaimStatus.needs_info, ClaimStatus.admitted)
    if has_certificate:
        return True
    return case.status == CaseStatus.closed and case.outcome in FAILED_OUTCOMES and claim.status == ClaimStatus.admitted


async def claim_outcome(case: Case, claim: Claim) -> dict[str, Any]:
    """For the owner's claim page: their certificate, and whether the escalation path is open to them."""
    certificate = await certificate_of(claim.id)
    return {"certificate": certificate, "escalation_open": escalation_allowed(case, claim, certificate is not None)}


async def steps_for(access: CaseAccess, phases: list[Phase], now: datetime) -> list[Step]:
    """The viewer's next steps, from what the tables say now."""
    case, user = access.case, access.user
    role = ("mediator" if access.is_mediator else "company" if access.is_company
            else "consumer" if access.own_claim is not None else "staff")
    proposal = await current_proposal(case.id)
    facts = StepInputs(
        role=role, case_id=case.id, case_status=case.status, now=now, ends_at=case.ends_at,
        phases=[PhaseInfo(phase.kind, phase.title, phase.due_at, phase.done_at is not None) for phase in phases],
        proposal=ProposalInfo(proposal.vote_closes_at, proposal.decide_by, proposal.vote_closed_at is not None)
        if proposal is not None else None,
    )
    if role == "consumer" and access.own_claim is not None:
        claim = access.own_claim
        facts.claim_id = claim.id
        if proposal is not None:
            facts.has_voted = await Vote.exists().where(Vote.proposal == proposal.id, Vote.consumer == user.id)
            facts.has_decided = await Decision.exists().where(Decision.proposal == proposal.id,
                                                              Decision.claim == claim.id)
        facts.agreement_to_sign = await Agreement.exists().where(Agreement.claim == claim.id,
                                                                 Agreement.signed_at.is_null())
        certificate = await certificate_of(claim.id)
        facts.certificate_id = certificate.id if certificate is not None else None
        facts.can_escalate = escalation_allowed(case, claim, certificate is not None) \
            and claim.escalation_opt_in_at is None
    elif role == "company":
        facts.agreements_to_countersign = await CollectiveRecord.count().where(
            CollectiveRecord.case == case.id, CollectiveRecord.countersigned_at.is_null())
        if not facts.agreements_to_countersign:
            facts.agreements_to_countersign = await Agreement.count().where(
                Agreement.case == case.id, Agreement.signed_at.is_not_null(), Agreement.countersigned_at.is_null())
    return next_steps(facts)


@dataclass
class TimelineView:
    access: CaseAccess
    phases: list[Phase]
    extensions: list[DeadlineExtension]
    steps: list[Step]
    percent: int | None
    days_left: int | None
    today: datetime

    @property
    def can_edit(self) -> bool:
        return self.access.is_mediator and self.access.case.status == CaseStatus.in_mediation

    def title(self, phase: Phase) -> str:
        return phase_title(phase.kind, phase.title)

    def date_value(self, value: datetime) -> str:
        """A date for an <input type=date>, in Paris time."""
        return value.astimezone(PARIS).date().isoformat()

    def is_late(self, phase: Phase) -> bool:
        return phase.done_at is None and phase.due_at < self.today


async def timeline_view(access: CaseAccess) -> TimelineView:
    case = access.case
    now = datetime.now(UTC)
    phases = await case_phases(case.id) if case.started_at else []
    extensions = await DeadlineExtension.objects().where(DeadlineExtension.case == case.id).order_by(
        DeadlineExtension.id)
    where = position(case.started_at, case.ends_at, now) if case.started_at and case.ends_at else None
    return TimelineView(access=access, phases=phases, extensions=extensions,
                        steps=await steps_for(access, phases, now),
                        percent=where.percent if where else None, days_left=where.days_left if where else None,
                        today=now)


async def timeline_for_party(user: User, case_id: int) -> TimelineView:
    return await timeline_view(await case_for_party(user, case_id))


async def timeline_summary(access: CaseAccess) -> dict[str, Any]:
    """What the mediation panel shows of the timeline: the phases and the viewer's next steps."""
    if not access.case.started_at:
        return {"timeline": None}
    return {"timeline": await timeline_view(access)}


# --- the mediator's edits ---------------------------------------------------------------------------------


async def _mediator_case(actor: User, case_id: int) -> Case:
    """The case, for its mediator while the mediation runs; 404 for anyone else."""
    access = await case_for_party(actor, case_id)
    if not access.is_mediator:
        raise NotFound()
    if access.case.status != CaseStatus.in_mediation or access.case.started_at is None or access.case.ends_at is None:
        raise Refused(_("The timeline can be changed only while the mediation runs."), 409)
    return access.case


async def _phase_of(case_id: int, phase_id: int) -> Phase:
    phase = await Phase.objects().where(Phase.id == phase_id, Phase.case == case_id).first()
    if phase is None:
        raise NotFound()
    return phase


def _check_phase_form(case: Case, title: str, due_raw: str) -> tuple[FormErrors, datetime | None]:
    assert case.started_at is not None and case.ends_at is not None
    errors = FormErrors()
    problem = check_phase_title(title)
    if problem:
        errors.add("title", problem)
    day = parse_day(due_raw)
    problem = check_phase_due(day, started_at=case.started_at, ends_at=case.ends_at)
    if problem:
        errors.add("due_on", problem)
    return errors, (end_of_day(day, case.ends_at) if day is not None and not errors.get("due_on") else None)


async def do_update_phase(actor: User, case_id: int, phase_id: int, title: str, due_raw: str) -> FormErrors:
    """The mediator renames a phase or moves its due date, within the case's limit."""
    title = clean_typed(title, one_line=True)
    case = await _mediator_case(actor, case_id)
    phase = await _phase_of(case_id, phase_id)
    errors, due_at = _check_phase_form(case, title, due_raw)
    if errors:
        return errors
    async with write_transaction():
        changed = await Phase.update({Phase.title: title, Phase.due_at: due_at, Phase.updated_at: datetime.now(UTC)}
                                     ).where(Phase.id == phase.id, Phase.case == case_id).returning(Phase.id)
        if not changed:
            raise NotFound()
        await _check_case_unchanged(case)
        await record(case_id, actor.id, "phase_updated", phase_id=phase.id, title=title,
                     due_at=due_at.isoformat() if due_at else None, previous_due_at=phase.due_at.isoformat())
    return errors


async def do_add_phase(actor: User, case_id: int, title: str, due_raw: str) -> FormErrors:
    """The mediator adds a custom phase at the end of the timeline."""
    title = clean_typed(title, one_line=True)
    case = await _mediator_case(actor, case_id)
    errors, due_at = _check_phase_form(case, title, due_raw)
    if not title.strip():
        errors.add("title", _("Please give the phase a title."))
    if errors:
        return errors
    async with write_transaction():
        phases = await case_phases(case_id)
        if len(phases) >= MAX_PHASES:
            raise Refused(_("A timeline has at most 20 phases."), 409)
        last = max((phase.position for phase in phases), default=0)
        rows = await Phase.insert(Phase(case=case_id, position=last + 1, kind=PhaseKind.custom.value, title=title,
                                        due_at=due_at)).returning(Phase.id)
        await _check_case_unchanged(case)
        await record(case_id, actor.id, "phase_added", phase_id=rows[0]["id"], title=title,
                     due_at=due_at.isoformat() if due_at else None)
    return errors


async def do_remove_phase(actor: User, case_id: int, phase_id: int) -> None:
    """The mediator removes a custom phase (the default ones are renamed or moved, not removed)."""
    await _mediator_case(actor, case_id)
    phase = await _phase_of(case_id, phase_id)
    if phase.kind != PhaseKind.custom:
        raise Refused(_("Only a phase you added can be removed; the others can be renamed or moved."), 409)
    async with write_transaction():
        await Phase.delete().where(Phase.id == phase.id, Phase.case == case_id)
        await _renumber(case_id)
        await record(case_id, actor.id, "phase_removed", phase_id=phase.id, title=phase.title)


async def do_move_phase(actor: User, case_id: int, phase_id: int, direction: str) -> None:
    """The mediator moves a phase one place up or down the timeline."""
    await _mediator_case(actor, case_id)
    await _phase_of(case_id, phase_id)
    if direction not in ("up", "down"):
        raise Refused(_("Please choose to move the phase up or down."), 400)
    async with write_transaction():
        ids = [phase.id for phase in await case_phases(case_id)]
        index = ids.index(phase_id)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ids):
            ids[index], ids[other] = ids[other], ids[index]
            await _renumber(case_id, ids)
            await record(case_id, actor.id, "phase_moved", phase_id=phase_id, direction=direction)


async def _renumber(case_id: int, ids: list[int] | None = None) -> None:
    if ids is None:
        ids = [phase.id for phase in await case_phases(case_id)]
    for number, phase_id in enumerate(ids, start=1):
        await Phase.update({Phase.position: number}).where(Phase.id == phase_id, Phase.case == case_id)


async def do_mark_phase(actor: User, case_id: int, phase_id: int, done: bool) -> None:
    """The mediator marks a phase done (or not done after all)."""
    await _mediator_case(actor, case_id)
    phase = await _phase_of(case_id, phase_id)
    now = datetime.now(UTC)
    async with write_transaction():
        await Phase.update({Phase.done_at: now if done else None, Phase.updated_at: now}).where(
            Phase.id == phase.id, Phase.case == case_id)
        await record(case_id, actor.id, "phase_done" if done else "phase_reopened", phase_id=phase.id)


async def _check_case_unchanged(case: Case) -> None:
    """Inside the write: the limit the form was checked against still holds (an extension or the end may have
    happened meanwhile)."""
    fresh = await Case.select(Case.status, Case.ends_at).where(Case.id == case.id).first()
    if fresh is None or fresh["status"] != CaseStatus.in_mediation or fresh["ends_at"] != case.ends_at:
        raise Refused(_("The case changed meanwhile. Please reload the page."), 409)


# --- the extension (R612-5) -------------------------------------------------------------------------------


async def do_extend_limit(actor: User, case_id: int, new_day_raw: str, reason: str) -> FormErrors:
    """The mediator pushes the limit of a complex case, with a reason; every party is told at once."""
    reason = clean_typed(reason)
    case = await _mediator_case(actor, case_id)
    assert case.ends_at is not None
    new_day = parse_day(new_day_raw)
    errors = FormErrors()
    for name, message in check_extension(new_day, reason, current_ends_at=case.ends_at).items():
        errors.add(name, message)
    if errors:
        return errors
    assert new_day is not None
    new_ends_at = extended_ends_at(new_day, case.ends_at)
    now = datetime.now(UTC)
    async with write_transaction():
        changed = await Case.update({Case.ends_at: new_ends_at}).where(
            Case.id == case.id, Case.status == CaseStatus.in_mediation.value, Case.ends_at == case.ends_at,
            Case.mediator == actor.id).returning(Case.id)
        if not changed:
            raise Refused(_("The case changed meanwhile. Please reload the page."), 409)
        await DeadlineExtension.insert(DeadlineExtension(case=case.id, previous_ends_at=case.ends_at,
                                                         new_ends_at=new_ends_at, reason=reason, decided_by=actor.id))
        await record(case.id, actor.id, "limit_extended", previous_ends_at=case.ends_at.isoformat(),
                     new_ends_at=new_ends_at.isoformat(), reason=reason)
        await do_cancel_reminders(limit_reminder_prefix(case.id))
        await schedule_limit_reminders(case.id, new_ends_at, now)
        await do_notify(
            await mediation_party_ids(case), kind="mediation_extended", legal=True, case_id=case.id,
            link=f"/cases/{case.id}/timeline",
            params={"title": case.title, "previous": iso_day(case.ends_at), "end": iso_day(new_ends_at),
                    "reason": reason},
            title=N_("The mediation of “%(title)s” is extended to %(end)s"),
            body=N_("The mediator has extended the limit of the mediation from %(previous)s to %(end)s, as the "
                    "Code de la consommation allows for a complex case (R612-5). The mediator's reason: "
                    "%(reason)s\n\nYou may still withdraw from the mediation at any time."),
        )
    return errors


# --- certificates (another module produces them) ----------------------------------------------------------


async def issue_certificate(claim_id: int, reason: str, ended_at: datetime) -> bool:
    """Produce a claim's certificate of non-agreement, outside any write (it renders a PDF); False on failure,
    which the sweep retries."""
    try:
        from app.actions.certificates import do_issue_certificate
    except ImportError:  # not deployed yet: the sweep retries later
        logger.warning("certificates are not available: claim %s waits for its certificate", claim_id)
        return False
    try:
        await do_issue_certificate(claim_id, reason, ended_at=ended_at)
    except Exception:  # the state change is committed; the certificate comes with the next sweep
        logger.exception("certificate of claim %s (%s) failed", claim_id, reason)
        return False
    return True


async def do_certify_withdrawal(claim_id: int, case_id: int, previous_status: str, withdrawn_at: datetime) -> None:
    """After a consumer withdrew from a running mediation (committed): their certificate (R612-2)."""
    case = await Case.select(Case.status, Case.started_at).where(Case.id == case_id).first()
    if case is None or case["started_at"] is None or previous_status != ClaimStatus.admitted:
        return  # not a party of a mediation (not started, or not admitted): nothing to certify
    if case["status"] not in (CaseStatus.in_mediation, CaseStatus.closed):
        return
    await issue_certificate(claim_id, "withdrawn", withdrawn_at)


async def check_may_withdraw(claim_id: int) -> None:
    """A consumer who has signed an agreement is bound by it: no more withdrawal."""
    if await Agreement.exists().where(Agreement.claim == claim_id, Agreement.signed_at.is_not_null()):
        raise Refused(_("You have signed your agreement: you can no longer withdraw from this mediation. "
                        "The agreement binds you and the company."), 409)


# --- expiry (R612-5) ----------------------------------------------------------------------------------------


async def do_expire_cases(now: datetime | None = None) -> int:
    """The sweep: end every running mediation past its limit without a proposal being finalized, then issue the
    certificates still missing. Idempotent (conditional update; certificates are one per claim)."""
    now = now or datetime.now(UTC)
    due = await Case.select(Case.id).where(Case.status == CaseStatus.in_mediation.value, Case.ends_at.is_not_null(),
                                           Case.ends_at <= now)
    ended = 0
    for row in due:
        if await Proposal.exists().where(Proposal.case == row["id"], Proposal.status.is_in(FINALIZING_STATES)):
            continue  # the agreements' finalization ends this case
        if await _expire_case(row["id"], now):
            ended += 1
    await _certify_failed(now)
    return ended


async def _expire_case(case_id: int, now: datetime) -> bool:
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        return False
    try:
        new_status = next_case_status(case.status, CaseAction.close)
    except TransitionError:
        return False
    try:
        await _close_expired(case, new_status.value, now)
    except _Abort:
        return False
    return True


async def _close_expired(case: Case, new_status: str, now: datetime) -> None:
    async with write_transaction():
        changed = await Case.update({Case.status: new_status, Case.closed_at: now, Case.outcome: "expired"}
                                    ).where(Case.id == case.id, Case.status == CaseStatus.in_mediation.value,
                                            Case.ends_at <= now).returning(Case.id)
        if not changed:
            raise _Abort()
        # A proposal locked meanwhile wins: the case then ends through its agreements.
        if await Proposal.exists().where(Proposal.case == case.id, Proposal.status.is_in(FINALIZING_STATES)):
            raise _Abort()
        await record(case.id, None, "mediation_expired", ends_at=case.ends_at.isoformat() if case.ends_at else None)
        await do_cancel_reminders(limit_reminder_prefix(case.id))
        await do_notify(
            await mediation_party_ids(case), kind="mediation_expired", legal=True, case_id=case.id,
            link=f"/cases/{case.id}/mediation",
            params={"title": case.title, "end": iso_day(case.ends_at or now)},
            title=N_("The mediation of “%(title)s” has ended without agreement"),
            body=N_("The limit of the mediation (%(end)s) has passed without an agreement (Code de la consommation "
                    "R612-5). Each consumer receives a certificate of non-agreement, with the dates that matter "
                    "for limitation periods. The courts remain open to you, and you may pass your file to our "
                    "litigation partner."),
        )


class _Abort(Exception):  # noqa: N818  (rolls the expiry back; not an error)
    """The case is not to expire after all."""


async def _certify_failed(now: datetime) -> None:
    """Certificates still missing: admitted claims of recently expired cases, consumers who withdrew from a
    running mediation recently (their certificate failed at the time)."""
    since = now - CERTIFICATE_RETRY_WINDOW
    cases = await Case.select(Case.id, Case.ends_at, Case.closed_at).where(
        Case.status == CaseStatus.closed.value, Case.outcome == "expired", Case.closed_at >= since)
    for case in cases:
        claims = await Claim.select(Claim.id).where(Claim.case == case["id"],
                                                    Claim.status == ClaimStatus.admitted.value)
        missing = await _without_certificate([claim["id"] for claim in claims])
        for claim_id in missing:
            await issue_certificate(claim_id, "expired", case["ends_at"] or case["closed_at"])
    withdrawn = await Claim.select(Claim.id, Claim.withdrawn_at, Claim.case.started_at).where(
        Claim.status == ClaimStatus.withdrawn.value, Claim.withdrawn_at >= since, Claim.case.started_at.is_not_null())
    candidates = [row for row in withdrawn if row["withdrawn_at"] >= row["case.started_at"]]
    uncertified = set(await _without_certificate([row["id"] for row in candidates]))
    for row in candidates:
        if row["id"] in uncertified and await _was_admitted(row["id"]):
            await issue_certificate(row["id"], "withdrawn", row["withdrawn_at"])


async def _without_certificate(claim_ids: list[int]) -> list[int]:
    if not claim_ids:
        return []
    have = await Certificate.select(Certificate.claim).where(Certificate.claim.is_in(claim_ids))
    done = {row["claim"] for row in have}
    return [claim_id for claim_id in claim_ids if claim_id not in done]


async def _was_admitted(claim_id: int) -> bool:
    latest = await ClaimReview.select(ClaimReview.decision).where(ClaimReview.claim == claim_id).order_by(
        ClaimReview.id, ascending=False).first()
    return latest is not None and latest["decision"] == ClaimStatus.admitted.value
