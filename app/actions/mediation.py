"""What the mediation actions share (who the parties are, the audit trail, refusals, display helpers),
the start of the mediation (R612-2, R612-5), the mediation panel of the case page, and the back office's
read-only queries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from piccolo.query.functions.aggregate import Count, Sum

from app import i18n
from app.actions.access import CaseAccess, case_access
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_notify
from app.db import write_transaction
from app.domain.deadlines import mediation_ends_at
from app.domain.lifecycle import (
    CLAIM_STATES_ACTIVE,
    CaseAction,
    CaseStatus,
    ClaimStatus,
    TransitionError,
    can_start_mediation,
    next_case_status,
)
from app.i18n import _
from app.tables import (
    AuditEvent,
    Case,
    CaseInvitation,
    Claim,
    Company,
    CompanyMember,
    MediatorAssignment,
    MediatorObjection,
    Reminder,
    Role,
    User,
)

PARIS = ZoneInfo("Europe/Paris")
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
ACTIVE_CLAIM_STATES = [status.value for status in CLAIM_STATES_ACTIVE]


def refuse_transition(error: TransitionError) -> Refused:
    return Refused(_("This is not possible at this stage of the case. Please reload the page to see where "
                     "it stands."), 409)


# --- display helpers (passed to templates) ---------------------------------------------------------


def euros(cents: int | None) -> str:
    locale = BABEL_LOCALES.get(i18n.current_language(), "fr_FR")
    return format_currency(Decimal(cents or 0) / 100, "EUR", locale=locale)


def day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return format_date(value, "long", locale=BABEL_LOCALES.get(i18n.current_language(), "fr_FR"))


def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    locale = BABEL_LOCALES.get(i18n.current_language(), "fr_FR")
    return format_datetime(value, "d MMMM y, HH:mm", tzinfo=PARIS, locale=locale)


def iso_day(value: datetime) -> str:
    """A date for notification texts, which are the same for every recipient: unambiguous ISO."""
    return value.astimezone(PARIS).date().isoformat()


# --- who is who ------------------------------------------------------------------------------------


def reminder_params(reminder: Reminder) -> dict[str, Any]:
    """A reminder's params as a dict (a JSON column comes back as text on some engines)."""
    params = reminder.params
    if isinstance(params, str):
        try:
            params = json.loads(params or "{}")
        except ValueError:
            return {}
    return params if isinstance(params, dict) else {}


async def record(case_id: int | None, actor_id: int | None, kind: str, **details: Any) -> None:
    """One line of the audit trail (inside the caller's transaction)."""
    await AuditEvent.insert(AuditEvent(case=case_id, actor=actor_id, kind=kind, details=details))


async def staff_ids() -> list[int]:
    rows = await User.select(User.id).where(User.role == Role.staff.value, User.is_active.eq(True))
    return [row["id"] for row in rows]


async def company_member_ids(company_id: int) -> list[int]:
    rows = await CompanyMember.select(CompanyMember.user).where(
        CompanyMember.company == company_id, CompanyMember.user.is_active.eq(True),
        CompanyMember.user.role == Role.company.value)
    return [row["user"] for row in rows]


async def consumer_ids(case_id: int, statuses: list[str]) -> list[int]:
    rows = await Claim.select(Claim.consumer).where(Claim.case == case_id, Claim.status.is_in(statuses))
    return [row["consumer"] for row in rows]


async def mediation_party_ids(case: Case, *, except_user: int | None = None) -> list[int]:
    """Every party of a running mediation — admitted consumers, the company's representatives, the mediator —
    but `except_user` (who acted, and need not be told)."""
    ids = await consumer_ids(case.id, [ClaimStatus.admitted.value]) + await company_member_ids(case.company)
    ids += [case.mediator] if case.mediator is not None else []
    return [user_id for user_id in ids if user_id != except_user]


async def active_consumer_ids(case_id: int) -> list[int]:
    return await consumer_ids(case_id, ACTIVE_CLAIM_STATES)


async def claim_totals(case_id: int) -> tuple[int, int]:
    """Number of active claims and their total amount in cents (what the company may know before accepting)."""
    rows = await Claim.select(Count(Claim.id, alias="n"), Sum(Claim.amount_cents, alias="total")).where(
        Claim.case == case_id, Claim.status.is_in(ACTIVE_CLAIM_STATES))
    row = rows[0] if rows else {}
    return int(row.get("n") or 0), int(row.get("total") or 0)


async def current_assignment(case: Case) -> MediatorAssignment | None:
    """The assignment of the case's current mediator."""
    if case.mediator is None:
        return None
    return await MediatorAssignment.objects().where(
        MediatorAssignment.case == case.id, MediatorAssignment.mediator == case.mediator,
        MediatorAssignment.ended_at.is_null()).order_by(MediatorAssignment.id, ascending=False).first()


async def open_objection_count(assignment_id: int) -> int:
    return await MediatorObjection.count().where(MediatorObjection.assignment == assignment_id,
                                                 MediatorObjection.status == "open")


# --- the start of the mediation ---------------------------------------------------------------------


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
        from app.actions.timeline import do_create_default_timeline  # (imports this module)

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


# --- the mediation panel of the case page -----------------------------------------------------------


def is_party(access: CaseAccess) -> bool:
    return access.is_staff or access.is_mediator or access.is_company or access.is_consumer_party


async def mediation_panel(access: CaseAccess) -> dict[str, Any]:
    """Everything the mediation panel shows to this viewer."""
    case = access.case
    company = await Company.objects().where(Company.id == case.company).first()
    assignment = await current_assignment(case)
    mediator = await User.objects().where(User.id == assignment.mediator).first() if assignment else None
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == case.id).order_by(
        CaseInvitation.id, ascending=False).first()
    own_claim = access.own_claim
    has_active_claim = own_claim is not None and own_claim.status in CLAIM_STATES_ACTIVE
    own_open_objection = False
    if assignment is not None:
        own_open_objection = await MediatorObjection.exists().where(
            MediatorObjection.assignment == assignment.id, MediatorObjection.objector == access.user.id,
            MediatorObjection.status == "open")
    to_review = 0
    if access.can_review_claims:
        to_review = await Claim.count().where(Claim.case == case.id,
                                              Claim.status == ClaimStatus.submitted.value)
    readiness = await start_readiness(case) if access.is_mediator else None
    count, total = await claim_totals(case.id)
    return {
        "case": case, "access": access, "company": company, "assignment": assignment, "mediator": mediator,
        "invitation": invitation, "own_claim": own_claim, "to_review": to_review, "readiness": readiness,
        "claims_count": count, "claims_total": total,
        "can_object": assignment is not None and not own_open_objection and (has_active_claim or access.is_company)
        and case.status not in (CaseStatus.refused, CaseStatus.closed),
        "objected": own_open_objection,
        "can_answer": access.is_company and case.status == CaseStatus.invited and invitation is not None
        and invitation.answer == "" and invitation.deadline > datetime.now(UTC),
        "can_escalate": case.status == CaseStatus.refused and has_active_claim,
        **await _timeline_summary(access),
        **await _room_link(access),
    }


async def _room_link(access: CaseAccess) -> dict[str, Any]:
    from app.actions.room import room_link  # (imports this module)

    return await room_link(access)


async def _timeline_summary(access: CaseAccess) -> dict[str, Any]:
    from app.actions.timeline import timeline_summary  # (imports this module)

    return await timeline_summary(access)


# --- back office (read-only) ------------------------------------------------------------------------


async def active_claim_counts(case_ids: list[int]) -> dict[int, int]:
    if not case_ids:
        return {}
    rows = await Claim.select(Claim.case, Count(Claim.id, alias="n")).where(
        Claim.case.is_in(case_ids), Claim.status.is_in(ACTIVE_CLAIM_STATES)).group_by(Claim.case)
    return {row["case"]: int(row["n"]) for row in rows}


async def companies_by_id(company_ids: list[int]) -> dict[int, Company]:
    if not company_ids:
        return {}
    companies = await Company.objects().where(Company.id.is_in(sorted(set(company_ids))))
    return {company.id: company for company in companies}


async def claim_status_counts(case_id: int) -> dict[str, int]:
    rows = await Claim.select(Claim.status, Count(Claim.id, alias="n")).where(Claim.case == case_id).group_by(
        Claim.status)
    return {row["status"]: int(row["n"]) for row in rows}


async def case_invitations(case_id: int) -> list[dict[str, Any]]:
    return await CaseInvitation.select(
        CaseInvitation.id, CaseInvitation.email, CaseInvitation.deadline, CaseInvitation.answer,
        CaseInvitation.answer_reason, CaseInvitation.answered_at, CaseInvitation.created_at,
    ).where(CaseInvitation.case == case_id).order_by(CaseInvitation.id, ascending=False)


def like_pattern(text: str) -> str:
    """A LIKE pattern for a typed filter; its own wildcards are dropped."""
    cleaned = " ".join(text.replace("%", " ").replace("_", " ").split())[:100]
    return f"%{cleaned}%"


def contains_ignoring_case(column: Any, text: str) -> Any:
    """ILIKE on PostgreSQL; SQLite's LIKE already ignores case (ASCII) and has no ILIKE."""
    pattern = like_pattern(text)
    return column.ilike(pattern) if Case._meta.db.engine_type == "postgres" else column.like(pattern)


async def back_office_summary(limit: int = 10) -> dict[str, Any]:
    """The staff home: what waits for staff, with counts."""
    to_verify = Company.objects().where(Company.verified_at.is_null())
    companies = await to_verify.order_by(Company.id).limit(limit)
    companies_count = await Company.count().where(Company.verified_at.is_null())
    invite_rows = await Claim.select(Claim.case, Count(Claim.id, alias="n")).where(
        Claim.case.status == CaseStatus.open.value, Claim.status.is_in(ACTIVE_CLAIM_STATES)).group_by(Claim.case)
    invite_ids = sorted(row["case"] for row in invite_rows)
    to_invite = await Case.objects().where(Case.id.is_in(invite_ids[:limit])).order_by(Case.id) if invite_ids else []
    without_mediator = Case.mediator.is_null() & Case.status.is_in(
        [CaseStatus.accepted.value, CaseStatus.in_mediation.value])
    to_assign = await Case.objects().where(without_mediator).order_by(Case.id).limit(limit)
    to_assign_count = await Case.count().where(without_mediator)
    objections_count = await MediatorObjection.count().where(MediatorObjection.status == "open")
    case_ids = [case.id for case in [*to_invite, *to_assign]]
    return {
        "companies": companies, "companies_count": companies_count,
        "to_invite": to_invite, "to_invite_count": len(invite_ids),
        "to_assign": to_assign, "to_assign_count": to_assign_count,
        "objections_count": objections_count,
        "claim_counts": {row["case"]: int(row["n"]) for row in invite_rows} | await active_claim_counts(case_ids),
        "company_names": {company_id: company.name for company_id, company in (
            await companies_by_id([case.company for case in [*to_invite, *to_assign]])).items()},
    }


async def case_overview(*, status: str, company: str, text: str, before: int | None, limit: int = 50
                        ) -> dict[str, Any]:
    """The staff overview of every case, filtered, newest first, by pages of `limit` (keyset on the id)."""
    query = Case.objects().order_by(Case.id, ascending=False).limit(limit + 1)
    if status in {state.value for state in CaseStatus}:
        query = query.where(Case.status == status)
    if company:
        query = query.where(contains_ignoring_case(Case.company.name, company))
    if text:
        query = query.where(contains_ignoring_case(Case.title, text))
    if before:
        query = query.where(Case.id < before)
    cases = await query
    more = len(cases) > limit
    cases = cases[:limit]
    ids = [case.id for case in cases]
    return {"cases": cases, "next_before": cases[-1].id if more and cases else None,
            "claim_counts": await active_claim_counts(ids),
            "company_names": {company_id: company.name for company_id, company in (
                await companies_by_id([case.company for case in cases])).items()}}
