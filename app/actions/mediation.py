"""The start of the mediation (R612-2, R612-5): what it needs, and the mediator starting it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.actions.access import case_access
from app.actions.base import (
    current_assignment,
    mediation_party_ids,
    open_objection_count,
    record,
    refuse_transition,
)
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_notify
from app.actions.timeline import do_create_default_timeline
from app.domain.deadlines import mediation_ends_at
from app.domain.lifecycle import (
    CaseAction,
    CaseStatus,
    ClaimStatus,
    TransitionError,
    can_start_mediation,
    next_case_status,
)
from app.formatting import iso_day
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import Case, Claim, User


@dataclass
class StartReadiness:
    """What the start needs, and what is still missing (in the current language)."""

    can_start: bool
    missing: list[str] = field(default_factory=list)


async def start_readiness(case: Case) -> StartReadiness:
    assignment = await current_assignment(case)
    declared = assignment is not None and assignment.declared_at is not None
    objections = await open_objection_count(assignment.id) if assignment is not None else 0
    admitted = await Claim.count().where(Claim.case == case.id, Claim.status == ClaimStatus.admitted.value)
    missing = []
    if case.status in (CaseStatus.open, CaseStatus.invited):
        missing.append(_("The company has accepted the mediation."))
    if assignment is None:
        missing.append(_("A mediator is assigned."))
    elif not declared:
        missing.append(_("The mediator has declared independence and impartiality."))
    if objections:
        missing.append(_("Staff have decided on the objections to the mediator."))
    if admitted == 0:
        missing.append(_("At least one claim is admitted."))
    ready = can_start_mediation(case_status=case.status, mediator_declared=declared, admitted_claims=admitted,
                                open_objections=objections)
    return StartReadiness(can_start=ready, missing=[] if ready else missing)


async def do_start_mediation(actor: User, case_id: int) -> Case:
    """The mediator starts the mediation: the 90-day clock runs, and every party gets the legal notice."""
    access = await case_access(actor, case_id)
    if not access.is_mediator:
        raise NotFound()
    case = access.case
    if case.status == CaseStatus.in_mediation:
        raise Refused(_("The mediation has already started."), 409)
    if case.status in (CaseStatus.refused, CaseStatus.closed):
        raise Refused(_("The case has ended: the mediation cannot start."), 409)
    readiness = await start_readiness(case)
    if not readiness.can_start:
        raise Refused(_("The mediation cannot start yet: ") + " ".join(readiness.missing), 409)
    try:
        new_status = next_case_status(case.status, CaseAction.start_mediation)
    except TransitionError as error:
        raise refuse_transition(error) from error
    now = datetime.now(UTC).replace(microsecond=0)
    ends_at = mediation_ends_at(now)
    async with write_transaction():
        changed = await Case.update({Case.status: new_status.value, Case.started_at: now, Case.ends_at: ends_at}).where(
            Case.id == case.id, Case.status == case.status, Case.mediator == actor.id).returning(Case.id)
        if not changed:
            raise Refused(_("The case changed meanwhile. Please reload the page."), 409)
        await record(case.id, actor.id, "mediation_started", started_at=now.isoformat(), ends_at=ends_at.isoformat())
        await do_create_default_timeline(case.id, now, ends_at)  # the default phases, the mediator's reminders
        await do_notify(
            await mediation_party_ids(case), kind="mediation_started", legal=True, case_id=case.id,
            link=f"/cases/{case.id}",
            title=N_("The mediation of “%(title)s” has started"),
            body=N_("The mediation of the case “%(title)s” started on %(start)s. It must reach its outcome by "
                    "%(end)s (90 days, Code de la consommation R612-5), unless the mediator extends it for a "
                    "complex case. You may withdraw from the mediation at any time (R612-2)."),
            params={"title": case.title, "start": iso_day(now), "end": iso_day(ends_at)},
        )
    case.status, case.started_at, case.ends_at = new_status.value, now, ends_at
    return case
