"""The back office's read-only queries: what waits for staff, and the overview of every case."""

from __future__ import annotations

from typing import Any

from piccolo.query.functions.aggregate import Count

from app.actions.base import ACTIVE_CLAIM_STATES, like_pattern
from app.domain.lifecycle import CaseStatus
from app.tables import Case, CaseInvitation, Claim, Company, MediatorObjection


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
