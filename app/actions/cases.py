"""Cases as consumers meet them: search, similar-case suggestions, and opening a case with one's own claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.query.functions.aggregate import Count

from app import i18n
from app.actions.access import PUBLIC_CASE_STATES
from app.actions.base import staff_ids
from app.actions.directory import find_or_create_company
from app.actions.errors import Forbidden
from app.actions.notifications import N_, do_notify
from app.actions.reviews import do_schedule_review_reminders
from app.domain.accounts import FormErrors
from app.domain.cases import category_label, check_case, check_claim, check_company
from app.domain.lifecycle import CLAIM_STATES_ACTIVE, CaseStatus, ClaimStatus
from app.domain.search import fts5_query, index_text, query_terms, tsquery
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import AuditEvent, Case, Claim, Company, Role, User

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 20
MAX_OFFSET = 1000  # deeper than 50 pages, a narrower search is the answer
SIMILAR_LIMIT = 5
_PUBLIC_SQL = ", ".join(f"'{status.value}'" for status in sorted(PUBLIC_CASE_STATES))


def today() -> date:
    """Dates typed by consumers are French calendar dates."""
    return datetime.now(PARIS).date()


@dataclass
class CaseSummary:
    id: int
    title: str
    company_id: int
    company_name: str
    category: str
    status: str
    created_at: datetime
    claims: int = 0


@dataclass
class SearchResult:
    cases: list[CaseSummary]
    has_more: bool
    terms: list[str]


def _search_text(title: str, problem: str, demand: str, company_name: str, category: str) -> str:
    with i18n.language_of("fr"):  # category words in French too: "électricité" finds the energy cases
        label = category_label(category)
    return index_text([title, company_name, label, problem, demand])


async def _matching_ids(stems: list[str], *, any_term: bool, company_id: int | None, category: str | None,
                        limit: int, offset: int) -> list[int]:
    """Ids of listed cases whose search text has every stem (or any, for suggestions) as a word prefix.

    SQLite finds them with the FTS5 table `case_search`, PostgreSQL with the GIN index on
    to_tsvector('simple', search_text). Both order them the same way: most stems matched first, then
    newest. (ts_rank would recompute every matching row's tsvector: 40 ms for a few thousand rows.)
    """
    filters = ""
    args: list[object] = []
    if company_id is not None:
        filters += " AND c.company = {}"
        args.append(company_id)
    if category:
        filters += " AND c.category = {}"
        args.append(category)
    postgres = Case._meta.db.engine_type == "postgres"
    query = tsquery(stems, any_term=any_term) if postgres else fts5_query(stems, any_term=any_term)
    if not query:
        return []
    contains = "(CASE WHEN strpos(' ' || c.search_text, {}) > 0 THEN 1 ELSE 0 END)" if postgres \
        else "(instr(' ' || c.search_text, {}) > 0)"
    # Every stem matches in an all-words search: only "any word" suggestions need the count.
    rank = " + ".join([contains] * len(stems)) + " DESC, " if any_term else ""
    rank_args = [f" {term}" for term in stems] if any_term else []
    if postgres:
        match = "SELECT c.id FROM dispute_case c WHERE to_tsvector('simple', c.search_text) @@ to_tsquery('simple', {})"
    else:
        match = ("SELECT c.id FROM case_search JOIN dispute_case c ON c.id = case_search.rowid "
                 "WHERE case_search MATCH {}")
    sql = (match + " AND c.status IN (" + _PUBLIC_SQL + ")" + filters
           + " ORDER BY " + rank + "c.id DESC LIMIT {} OFFSET {}")
    rows = await Case.raw(sql, query, *args, *rank_args, limit, offset)
    return [row["id"] for row in rows]


async def _summaries(ids: list[int]) -> list[CaseSummary]:
    """The cases with these ids, in this order, with their company and number of active claims."""
    if not ids:
        return []
    rows = await Case.select(Case.id, Case.title, Case.company, Case.company.name.as_alias("company_name"),
                             Case.category, Case.status, Case.created_at).where(Case.id.is_in(ids))
    counts = await claim_counts(ids)
    by_id = {row["id"]: CaseSummary(id=row["id"], title=row["title"], company_id=row["company"],
                                    company_name=row["company_name"], category=row["category"],
                                    status=row["status"], created_at=row["created_at"],
                                    claims=counts.get(row["id"], 0)) for row in rows}
    return [by_id[case_id] for case_id in ids if case_id in by_id]


async def claim_counts(case_ids: list[int]) -> dict[int, int]:
    """Active claims (submitted, needing information or admitted) per case."""
    if not case_ids:
        return {}
    rows = await Claim.select(Claim.case, Count(Claim.id, alias="n")).where(
        Claim.case.is_in(case_ids), Claim.status.is_in([status.value for status in CLAIM_STATES_ACTIVE]),
    ).group_by(Claim.case)
    return {row["case"]: row["n"] for row in rows}


async def search_cases(query: str = "", *, company_id: int | None = None, category: str | None = None,
                       offset: int = 0) -> SearchResult:
    """Listed cases matching the words (accent-, case- and inflection-insensitive), newest first without words."""
    offset = max(0, min(offset, MAX_OFFSET))
    stems = query_terms(query)
    if stems:
        ids = await _matching_ids(stems, any_term=False, company_id=company_id, category=category,
                                  limit=PAGE_SIZE + 1, offset=offset)
    elif query.strip():
        ids = []  # only stop words or punctuation: nothing to look for
    else:
        select = Case.select(Case.id).where(Case.status.is_in(sorted(PUBLIC_CASE_STATES)))
        if company_id is not None:
            select = select.where(Case.company == company_id)
        if category:
            select = select.where(Case.category == category)
        rows = await select.order_by(Case.id, ascending=False).limit(PAGE_SIZE + 1).offset(offset)
        ids = [row["id"] for row in rows]
    return SearchResult(cases=await _summaries(ids[:PAGE_SIZE]), has_more=len(ids) > PAGE_SIZE, terms=stems)


async def similar_cases(text: str, *, company_id: int | None = None) -> list[CaseSummary]:
    """Listed cases sharing words with what is being typed, best first: identical grievances should gather."""
    stems = query_terms(text)
    if not stems:
        return []
    ids = await _matching_ids(stems, any_term=True, company_id=company_id, category=None, limit=SIMILAR_LIMIT,
                              offset=0)
    return await _summaries(ids)


@dataclass
class OpenCaseForm:
    """What the "open a case" form posts: the company (chosen or new), the case, and the opener's own claim."""

    company_id: int | None = None
    company_name: str = ""
    company_siren: str = ""
    company_website: str = ""
    company_contact_email: str = ""
    title: str = ""
    problem: str = ""
    category: str = ""
    demand: str = ""
    facts: str = ""
    amount: str = ""
    incident_date: str = ""
    complaint_date: str = ""
    confirm_new: bool = False


@dataclass
class OpenCaseResult:
    errors: FormErrors = field(default_factory=FormErrors)
    similar: list[CaseSummary] = field(default_factory=list)
    case_id: int | None = None
    claim_id: int | None = None


async def do_open_case(actor: User, form: OpenCaseForm) -> OpenCaseResult:
    """A consumer opens a case against a company and files their own claim in it, all or nothing.

    Unless the consumer confirmed that theirs is different, similar listed cases are shown first.
    """
    if actor.role != Role.consumer:
        raise Forbidden()
    result = OpenCaseResult()
    errors = result.errors
    company: Company | None = None
    if form.company_id is not None:
        company = await Company.objects().where(Company.id == form.company_id).first()
        if company is None:
            errors.add("company", _("This company is not in the directory. Please choose it again."))
        new_company = None
    else:
        new_company = check_company(form.company_name, form.company_siren, form.company_website,
                                    form.company_contact_email, errors)
    case = check_case(form.title, form.problem, form.category, form.demand, errors)
    claim = check_claim(form.facts, form.amount, form.incident_date, form.complaint_date, errors, today=today())
    if errors:
        return result
    if not form.confirm_new:
        text = case.title if company is not None else f"{case.title} {new_company.name if new_company else ''}"
        result.similar = await similar_cases(text, company_id=company.id if company else None)
        if result.similar:
            errors.add("confirm_new", _("Similar cases are already open. Join one of them if it is about your "
                                        "problem, or confirm that yours is different."))
            return result
    now = datetime.now(UTC)
    async with write_transaction():
        if company is None:
            assert new_company is not None
            company, created = await find_or_create_company(actor, new_company)
        row = (await Case.insert(Case(
            company=company.id, title=case.title, problem=case.problem, category=case.category,
            demand=case.demand, status=CaseStatus.open.value, created_by=actor.id, created_at=now,
            search_text=_search_text(case.title, case.problem, case.demand, company.name, case.category),
        )).returning(Case.id))[0]
        result.case_id = row["id"]
        claim_row = (await Claim.insert(Claim(
            case=result.case_id, consumer=actor.id, facts=claim.facts, amount_cents=claim.amount_cents,
            incident_date=claim.incident_date, complaint_date=claim.complaint_date,
            status=ClaimStatus.submitted.value, submitted_at=now, updated_at=now,
        )).returning(Claim.id))[0]
        result.claim_id = claim_row["id"]
        await AuditEvent.insert(
            AuditEvent(case=result.case_id, actor=actor.id, kind="case_opened",
                       details={"company": company.id, "title": case.title}),
            AuditEvent(case=result.case_id, actor=actor.id, kind="claim_submitted",
                       details={"claim": result.claim_id, "amount_cents": claim.amount_cents}),
        )
        await do_schedule_review_reminders(result.claim_id)  # L612-2: an answer within 3 weeks
        params: dict[str, Any] = {"title": case.title, "company": company.name}
        await do_notify(await staff_ids(), kind="case_opened", case_id=result.case_id, link=f"/cases/{result.case_id}",
                        title=N_("New case against %(company)s: %(title)s"),
                        body=N_("A consumer has opened a case. Check it and invite the company when ready."),
                        params=params)
        await do_notify([actor.id], kind="claim_submitted", case_id=result.case_id,
                        link=f"/claims/{result.claim_id}", title=N_("Your case “%(title)s” is open"),
                        body=N_("Your claim has been filed. Add your evidence and the proof of your written "
                                "complaint to the company; you will hear about its admissibility within 3 weeks."),
                        params=params)
    return result
