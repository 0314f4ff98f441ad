"""The companies directory as consumers use it: find a company, or add one when opening a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from piccolo.query.functions.aggregate import Count

from app.actions.access import PUBLIC_CASE_STATES
from app.domain.cases import CompanyInput
from app.domain.search import fold, words
from app.platform.db import write_transaction
from app.tables import AuditEvent, Case, Company, User

DIRECTORY_PAGE = 30


@dataclass
class CompanyEntry:
    id: int
    name: str
    verified: bool
    open_cases: int = 0


def _name_key(name: str) -> str:
    """How two spellings of a company name are compared ("Électricité de France" = "electricite de france")."""
    return " ".join(words(name)) or fold(name).strip()


async def list_companies(query: str = "", *, offset: int = 0) -> tuple[list[CompanyEntry], bool]:
    """Companies whose name holds every word typed (accents and case ignored), by name; and whether more follow.

    Names are folded here rather than in SQL, which has no accent folding on SQLite: the directory holds
    companies, not cases, so a few thousand short names are read at most.
    """
    offset = max(0, min(offset, 3000))
    wanted = words(query[:100])
    rows = await Company.select(Company.id, Company.name, Company.verified_at).order_by(Company.name)
    if wanted:
        rows = [row for row in rows if all(word in fold(row["name"]) for word in wanted)]
    elif query.strip():
        rows = []
    page = rows[offset:offset + DIRECTORY_PAGE + 1]
    entries = [CompanyEntry(id=row["id"], name=row["name"], verified=row["verified_at"] is not None)
               for row in page[:DIRECTORY_PAGE]]
    counts = await open_case_counts([entry.id for entry in entries])
    for entry in entries:
        entry.open_cases = counts.get(entry.id, 0)
    return entries, len(page) > DIRECTORY_PAGE


async def open_case_counts(company_ids: list[int]) -> dict[int, int]:
    if not company_ids:
        return {}
    rows = await Case.select(Case.company, Count(Case.id, alias="n")).where(
        Case.company.is_in(company_ids), Case.status.is_in(sorted(PUBLIC_CASE_STATES))).group_by(Case.company)
    return {row["company"]: row["n"] for row in rows}


async def find_or_create_company(actor: User, data: CompanyInput) -> tuple[Company, bool]:
    """The directory's company with this SIREN or name, else a new, unverified one. Returns (company, created)."""
    async with write_transaction():
        if data.siren:
            existing = await Company.objects().where(Company.siren == data.siren).first()
            if existing is not None:
                return existing, False
        key = _name_key(data.name)
        for row in await Company.select(Company.id, Company.name):
            if _name_key(row["name"]) == key:
                found = await Company.objects().where(Company.id == row["id"]).first()
                assert found is not None
                return found, False
        company = Company(name=data.name, siren=data.siren, website=data.website,
                          contact_email=data.contact_email, created_by=actor.id, created_at=datetime.now(UTC))
        await company.save()
        await AuditEvent.insert(AuditEvent(actor=actor.id, kind="company_added",
                                           details={"company": company.id, "name": company.name}))
        return company, True
