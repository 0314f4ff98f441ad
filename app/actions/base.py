"""What the actions share — the refusal of an impossible transition, the audit trail, who the parties are, a
few small queries — importing nothing from `app.actions` but the errors."""

from __future__ import annotations

import json
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum

from app.actions.errors import Refused
from app.domain.lifecycle import CLAIM_STATES_ACTIVE, ClaimStatus, TransitionError
from app.i18n import _
from app.tables import (
    AuditEvent,
    Case,
    Claim,
    CompanyMember,
    MediatorAssignment,
    MediatorObjection,
    Reminder,
    Role,
    User,
)

ACTIVE_CLAIM_STATES = [status.value for status in CLAIM_STATES_ACTIVE]


def refuse_transition(error: TransitionError) -> Refused:
    return Refused(_("This is not possible at this stage of the case. Please reload the page to see where "
                     "it stands."), 409)


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


# --- who is who ------------------------------------------------------------------------------------


async def staff_ids() -> list[int]:
    rows = await User.select(User.id).where(User.role == Role.staff.value, User.is_active.eq(True))
    return [row["id"] for row in rows]


async def company_member_ids(company_id: int) -> list[int]:
    rows = await CompanyMember.select(CompanyMember.user).where(
        CompanyMember.company == company_id, CompanyMember.user.is_active.eq(True),  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
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


# --- small shared queries --------------------------------------------------------------------------


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


def like_pattern(text: str) -> str:
    """A LIKE pattern for a typed filter; its own wildcards are dropped."""
    cleaned = " ".join(text.replace("%", " ").replace("_", " ").split())[:100]
    return f"%{cleaned}%"
