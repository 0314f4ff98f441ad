"""The mediator (L613-1, R613-1): staff assign one, who declares independence and impartiality and discloses
any conflict of interest; any party may object, and staff uphold the objection (the mediator is replaced)
or dismiss it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.actions.access import CaseAccess, case_access
from app.actions.base import (
    active_consumer_ids,
    company_member_ids,
    current_assignment,
    record,
    staff_ids,
)
from app.actions.companies import require_staff
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_notify
from app.domain.accounts import FormErrors
from app.domain.lifecycle import CLAIM_STATES_ACTIVE, CaseStatus
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import Case, MediatorAssignment, MediatorObjection, Role, User

TEXT_MAX_LENGTH = 2000
# A mediator can be assigned (or replaced) until the case ends.
ASSIGNABLE_STATES = frozenset({CaseStatus.open, CaseStatus.invited, CaseStatus.accepted, CaseStatus.in_mediation})


def independence_statement() -> str:
    """What the mediator declares (R613-1), in the current language."""
    return _("I declare that I am independent of the parties and impartial, that I have no interest in the outcome "
             "of this dispute, that I am paid whatever its outcome, and that I will disclose at once any circumstance "
             "that could affect my independence or impartiality or create a conflict of interest.")


async def mediator_choices() -> list[dict[str, Any]]:
    return await User.select(User.id, User.display_name, User.email).where(
        User.role == Role.mediator.value, User.is_active.eq(True), User.email_verified_at.is_not_null(),
    ).order_by(User.display_name).limit(500)


def parse_id(raw: str) -> int | None:
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= 2**31 - 1 else None


async def do_assign_mediator(actor: User, case_id: int, mediator_raw: str) -> FormErrors:
    """Staff assign a mediator (replacing the current one, if any), who is asked to declare independence."""
    require_staff(actor)
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound()
    if case.status not in ASSIGNABLE_STATES:
        raise Refused(_("A mediator can no longer be assigned: the case has ended."), 409)
    errors = FormErrors()
    mediator_id = parse_id(mediator_raw)
    mediator = await User.objects().where(
        User.id == mediator_id, User.role == Role.mediator.value, User.is_active.eq(True),
        User.email_verified_at.is_not_null()).first() if mediator_id else None
    if mediator is None:
        errors.add("mediator", _("Please choose a mediator from the list."))
        return errors
    if case.mediator == mediator.id:
        errors.add("mediator", _("This mediator is already assigned to the case."))
        return errors
    now = datetime.now(UTC)
    async with write_transaction():
        previous = await current_assignment(case)
        if previous is not None:
            await _end_assignment(previous, actor, now, "replaced")
        changed = await Case.update({Case.mediator: mediator.id}).where(
            Case.id == case.id, Case.status.is_in([state.value for state in ASSIGNABLE_STATES])).returning(Case.id)
        if not changed:
            raise Refused(_("The case changed meanwhile. Please reload the page."), 409)
        rows = await MediatorAssignment.insert(MediatorAssignment(
            case=case.id, mediator=mediator.id, assigned_by=actor.id, assigned_at=now)).returning(MediatorAssignment.id)
        await record(case.id, actor.id, "mediator_assigned", assignment_id=rows[0]["id"], mediator_id=mediator.id,
                     replaced=previous.mediator if previous else None)
        await do_notify([mediator.id], kind="mediator_assigned", case_id=case.id,
                        link=f"/cases/{case.id}/mediator/declaration", params={"title": case.title},
                        title=N_("You are asked to mediate “%(title)s”"),
                        body=N_("Before anything else, please declare your independence and impartiality and "
                                "disclose any conflict of interest."))
    return errors


async def _end_assignment(assignment: MediatorAssignment, actor: User, now: datetime, reason: str) -> None:
    """End an assignment (inside the caller's transaction): its open objections are closed as upheld."""
    await MediatorAssignment.update({MediatorAssignment.ended_at: now, MediatorAssignment.end_reason: reason}).where(
        MediatorAssignment.id == assignment.id, MediatorAssignment.ended_at.is_null())
    await MediatorObjection.update({MediatorObjection.status: "upheld", MediatorObjection.resolved_at: now,
                                    MediatorObjection.resolved_by: actor.id}).where(
        MediatorObjection.assignment == assignment.id, MediatorObjection.status == "open")
    await Case.update({Case.mediator: None}).where(Case.id == assignment.case, Case.mediator == assignment.mediator)
    await do_notify([assignment.mediator], kind="mediator_unassigned", case_id=assignment.case,
                    link="/mediators/cases", params={"case_id": assignment.case},
                    title=N_("You no longer mediate case no. %(case_id)s"))


# --- the declaration (R613-1) --------------------------------------------------------------------------


async def declaration_access(user: User, case_id: int) -> tuple[CaseAccess, MediatorAssignment]:
    """Only the case's current mediator; 404 for anyone else."""
    access = await case_access(user, case_id)
    if not access.is_mediator:
        raise NotFound()
    assignment = await current_assignment(access.case)
    if assignment is None:
        raise NotFound()
    return access, assignment


async def do_declare(user: User, case_id: int, statement_checked: bool, conflicts: str) -> FormErrors:
    access, assignment = await declaration_access(user, case_id)
    if assignment.declared_at is not None:
        raise Refused(_("You have already made your declaration for this case."), 409)
    errors = FormErrors()
    if not statement_checked:
        errors.add("statement", _("Please tick the declaration: you cannot mediate this case without it."))
    if not conflicts:
        errors.add("conflicts", _("Please disclose any conflict of interest, or write “none”."))
    elif len(conflicts) > TEXT_MAX_LENGTH:
        errors.add("conflicts", _("Please keep it under 2,000 characters."))
    if errors:
        return errors
    case = access.case
    now = datetime.now(UTC)
    async with write_transaction():
        declared = await MediatorAssignment.update({
            MediatorAssignment.declared_at: now, MediatorAssignment.independence_statement: independence_statement(),
            MediatorAssignment.conflicts_disclosed: conflicts,
        }).where(MediatorAssignment.id == assignment.id, MediatorAssignment.declared_at.is_null(),
                 MediatorAssignment.ended_at.is_null()).returning(MediatorAssignment.id)
        if not declared:
            raise Refused(_("You have already made your declaration for this case."), 409)
        await record(case.id, user.id, "mediator_declared", assignment_id=assignment.id, conflicts=conflicts)
        parties = await active_consumer_ids(case.id) + await company_member_ids(case.company)
        await do_notify(parties, kind="mediator_declared", case_id=case.id, link=f"/cases/{case.id}/mediation",
                        params={"title": case.title, "name": user.display_name, "conflicts": conflicts},
                        title=N_("Your mediator for “%(title)s”: %(name)s"),
                        body=N_("%(name)s declared to be independent and impartial. Conflicts of interest disclosed: "
                                "%(conflicts)s\n\nIf you have a serious reason to doubt this mediator's independence "
                                "or impartiality, you may object from the case page."))
        await do_notify(await staff_ids(), kind="mediator_declared", case_id=case.id,
                        link=f"/staff/cases/{case.id}", params={"title": case.title, "name": user.display_name},
                        title=N_("%(name)s declared independence for “%(title)s”"))
    return errors


# --- objections --------------------------------------------------------------------------------------


def may_object(access: CaseAccess) -> bool:
    """The parties: a consumer with an active claim, a representative of the company."""
    own = access.own_claim
    return access.is_company or (own is not None and own.status in CLAIM_STATES_ACTIVE)


async def do_object(user: User, case_id: int, reason: str) -> FormErrors:
    access = await case_access(user, case_id)
    if not may_object(access):
        raise NotFound()
    case = access.case
    if case.status in (CaseStatus.refused, CaseStatus.closed):
        raise Refused(_("The case has ended: there is no mediator to object to."), 409)
    assignment = await current_assignment(case)
    if assignment is None:
        raise Refused(_("No mediator is assigned to this case at the moment."), 409)
    errors = FormErrors()
    if not reason:
        errors.add("reason", _("Please explain why you object to this mediator."))
    elif len(reason) > TEXT_MAX_LENGTH:
        errors.add("reason", _("Please keep it under 2,000 characters."))
    if errors:
        return errors
    async with write_transaction():
        if await MediatorObjection.exists().where(MediatorObjection.assignment == assignment.id,
                                                  MediatorObjection.objector == user.id,
                                                  MediatorObjection.status == "open"):
            raise Refused(_("You have already objected to this mediator; staff will decide."), 409)
        rows = await MediatorObjection.insert(MediatorObjection(assignment=assignment.id, objector=user.id,
                                                                reason=reason)).returning(MediatorObjection.id)
        await record(case.id, user.id, "mediator_objection", objection_id=rows[0]["id"], assignment_id=assignment.id)
        await do_notify(await staff_ids(), kind="mediator_objection", case_id=case.id,
                        link=f"/staff/cases/{case.id}", params={"title": case.title},
                        title=N_("A party objects to the mediator of “%(title)s”"),
                        body=N_("Please uphold the objection (the mediator is replaced) or dismiss it."))
    return errors


async def do_resolve_objection(actor: User, objection_id: int, decision: str, note: str) -> int:
    """Staff uphold (the mediator is replaced) or dismiss an objection; returns the case id."""
    require_staff(actor)
    objection = await MediatorObjection.objects().where(MediatorObjection.id == objection_id).first()
    if objection is None:
        raise NotFound()
    assignment = await MediatorAssignment.objects().where(MediatorAssignment.id == objection.assignment).first()
    assert assignment is not None
    case = await Case.objects().where(Case.id == assignment.case).first()
    assert case is not None
    if decision not in ("uphold", "dismiss"):
        raise Refused(_("Please choose to uphold or to dismiss the objection."), 422)
    if len(note) > TEXT_MAX_LENGTH:
        raise Refused(_("Please keep it under 2,000 characters."), 422)
    now = datetime.now(UTC)
    upheld = decision == "uphold"
    async with write_transaction():
        resolved = await MediatorObjection.update({
            MediatorObjection.status: "upheld" if upheld else "dismissed", MediatorObjection.resolved_at: now,
            MediatorObjection.resolved_by: actor.id,
        }).where(MediatorObjection.id == objection.id, MediatorObjection.status == "open").returning(
            MediatorObjection.id)
        if not resolved:
            raise Refused(_("This objection has already been decided."), 409)
        params = {"title": case.title, "note": note or "—"}
        if upheld:
            objectors = await MediatorObjection.select(MediatorObjection.objector).where(
                MediatorObjection.assignment == assignment.id, MediatorObjection.status == "open")
            await _end_assignment(assignment, actor, now, "objection upheld" + (f": {note}" if note else ""))
            await record(case.id, actor.id, "objection_upheld", objection_id=objection.id, note=note)
            parties = await active_consumer_ids(case.id) + await company_member_ids(case.company)
            await do_notify(parties + [objection.objector] + [row["objector"] for row in objectors],
                            kind="objection_upheld", case_id=case.id, link=f"/cases/{case.id}/mediation",
                            params=params, title=N_("The mediator of “%(title)s” is replaced"),
                            body=N_("An objection to the mediator was upheld. A new mediator will be assigned and "
                                    "will declare their independence. Staff's note: %(note)s"))
        else:
            await record(case.id, actor.id, "objection_dismissed", objection_id=objection.id, note=note)
            await do_notify([objection.objector], kind="objection_dismissed", case_id=case.id,
                            link=f"/cases/{case.id}/mediation", params=params,
                            title=N_("Your objection to the mediator of “%(title)s” was dismissed"),
                            body=N_("Staff's note: %(note)s"))
    return case.id


# --- lists ---------------------------------------------------------------------------------------------


async def open_objections(limit: int = 50) -> list[dict[str, Any]]:
    return await MediatorObjection.select(
        MediatorObjection.id, MediatorObjection.reason, MediatorObjection.created_at,
        MediatorObjection.assignment.case.as_alias("case_id"),
        MediatorObjection.assignment.case.title.as_alias("case_title"),  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
        MediatorObjection.assignment.mediator.display_name.as_alias("mediator_name"),  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
        MediatorObjection.objector.display_name.as_alias("objector_name"),
    ).where(MediatorObjection.status == "open").order_by(MediatorObjection.id).limit(limit)


async def case_objections(case_id: int) -> list[dict[str, Any]]:
    return await MediatorObjection.select(
        MediatorObjection.id, MediatorObjection.reason, MediatorObjection.status, MediatorObjection.created_at,
        MediatorObjection.assignment.mediator.display_name.as_alias("mediator_name"),  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
        MediatorObjection.objector.display_name.as_alias("objector_name"),
    ).where(MediatorObjection.assignment.case == case_id).order_by(MediatorObjection.id, ascending=False)


async def case_assignments(case_id: int) -> list[dict[str, Any]]:
    return await MediatorAssignment.select(
        MediatorAssignment.id, MediatorAssignment.assigned_at, MediatorAssignment.declared_at,
        MediatorAssignment.conflicts_disclosed, MediatorAssignment.ended_at, MediatorAssignment.end_reason,
        MediatorAssignment.mediator.display_name.as_alias("mediator_name"),
    ).where(MediatorAssignment.case == case_id).order_by(MediatorAssignment.id, ascending=False)


async def my_mediations(user: User) -> list[Case]:
    if user.role != Role.mediator:
        return []
    return await Case.objects().where(Case.mediator == user.id).order_by(Case.id, ascending=False).limit(200)
