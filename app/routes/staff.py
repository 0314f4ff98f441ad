"""The staff back office: companies to verify and their representatives, cases to invite, mediators to
assign, objections to decide, and an overview of every case."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from app.actions.backoffice import back_office_summary, case_invitations, case_overview, claim_status_counts
from app.actions.base import claim_totals, current_assignment
from app.actions.companies import (
    company_invites,
    company_members,
    company_or_404,
    do_invite_representative,
    do_verify_company,
    find_company,
    list_companies_for_staff,
)
from app.actions.invitations import do_invite_company
from app.actions.mediators import (
    ASSIGNABLE_STATES,
    case_assignments,
    case_objections,
    do_assign_mediator,
    do_resolve_objection,
    mediator_choices,
    open_objections,
)
from app.domain.accounts import FormErrors
from app.domain.deadlines import INVITATION_DEFAULT_DAYS, INVITATION_MAX_DAYS, INVITATION_MIN_DAYS
from app.domain.lifecycle import CaseStatus
from app.http.auth import current_user, requires_role
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to
from app.settings import settings_of
from app.tables import Case, Role, User

ShortText = Annotated[str | None, Parameter(max_length=200)]
Before = Annotated[int | None, Parameter(ge=1, le=2**31 - 1)]
INVITABLE_STATES = frozenset({CaseStatus.open, CaseStatus.invited})


async def _staff(request: Request[Any, Any, Any]) -> User:
    user = await current_user(request)
    assert user is not None  # guarded
    return user


async def staff_case_context(case_id: int) -> dict[str, Any]:
    """Everything the staff page of one case shows."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFoundException()
    company = await find_company(case.company)
    count, total = await claim_totals(case.id)
    return {
        "case": case, "company": company, "status_counts": await claim_status_counts(case.id),
        "claims_count": count, "claims_total": total, "invitations": await case_invitations(case.id),
        "assignments": await case_assignments(case.id), "objections": await case_objections(case.id),
        "assignment": await current_assignment(case),
        "mediators": await mediator_choices() if case.status in ASSIGNABLE_STATES else [],
        "can_invite": case.status in INVITABLE_STATES,
        "invite_errors": FormErrors(), "invite_values": {"email": company.contact_email if company else "",
                                                         "days": str(INVITATION_DEFAULT_DAYS)},
        "mediator_errors": FormErrors(), "days_range": (INVITATION_MIN_DAYS, INVITATION_MAX_DAYS),
    }


async def staff_company_context(company_id: int) -> dict[str, Any]:
    company = await company_or_404(company_id)
    return {"company": company, "members": await company_members(company.id),
            "invites": await company_invites(company.id), "invite_errors": FormErrors(), "invite_values": {}}


class StaffController(Controller):
    """Staff only (403 for other roles, the login page for visitors)."""

    path = "/staff"
    guards = [requires_role(Role.staff)]

    @get("/", name="show_staff_home")
    async def show_staff_home(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "staff/home.html", **await back_office_summary(),
                          objections=await open_objections(10))

    # --- companies ---

    @get("/companies", name="list_staff_companies")
    async def list_staff_companies(self, request: Request[Any, Any, Any], show: ShortText = None,
                                   q: ShortText = None) -> Response[str]:
        unverified_only = show != "all"
        companies = await list_companies_for_staff(unverified_only=unverified_only, name=(q or "")[:100])
        return await page(request, "staff/companies.html", block="company_list", companies=companies,
                          show="unverified" if unverified_only else "all", q=(q or "")[:100])

    @get("/companies/{company_id:int}", name="show_staff_company")
    async def show_staff_company(self, request: Request[Any, Any, Any], company_id: RowId) -> Response[str]:
        return await page(request, "staff/company.html", **await staff_company_context(company_id))

    @post("/companies/{company_id:int}/verify", name="verify_company")
    async def verify_company(self, request: Request[Any, Any, Any], company_id: RowId) -> Response[Any]:
        await do_verify_company(await _staff(request), company_id)
        return redirect_to(request, "show_staff_company", company_id=company_id, query="verified=1")

    @post("/companies/{company_id:int}/invites", name="create_company_invite")
    async def create_company_invite(self, request: Request[Any, Any, Any], company_id: RowId) -> Response[Any]:
        form = await read_form(request)
        errors = await do_invite_representative(await _staff(request), company_id, form.text("email"))
        if errors:
            context = await staff_company_context(company_id)
            context.update(invite_errors=errors, invite_values={"email": form.text("email")[:254]})
            return await page(request, "staff/company.html", block="invite_form", status_code=422, **context)
        return redirect_to(request, "show_staff_company", company_id=company_id, query="invited=1")

    # --- cases ---

    @get("/cases", name="list_staff_cases")
    async def list_staff_cases(self, request: Request[Any, Any, Any], status: ShortText = None,
                               company: ShortText = None, q: ShortText = None, before: Before = None
                               ) -> Response[str]:
        filters = {"status": (status or "")[:20], "company": (company or "")[:100], "q": (q or "")[:100]}
        overview = await case_overview(status=filters["status"], company=filters["company"], text=filters["q"],
                                       before=before)
        return await page(request, "staff/cases.html", block="case_table", filters=filters, **overview,
                          statuses=[state.value for state in CaseStatus])

    @get("/cases/{case_id:int}", name="show_staff_case")
    async def show_staff_case(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        return await page(request, "staff/case.html", **await staff_case_context(case_id))

    @post("/cases/{case_id:int}/invite", name="invite_company")
    async def invite_company(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        form = await read_form(request)
        errors = await do_invite_company(await _staff(request), case_id, form.text("email"), form.text("days"),
                                         secret=settings_of(request).secret_key)
        if errors:
            context = await staff_case_context(case_id)
            context.update(invite_errors=errors, invite_values={"email": form.text("email")[:254],
                                                                "days": form.text("days")[:4]})
            return await page(request, "staff/case.html", block="invite_form", status_code=422, **context)
        return redirect_to(request, "show_staff_case", case_id=case_id, query="invited=1")

    @post("/cases/{case_id:int}/mediator", name="assign_mediator")
    async def assign_mediator(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        form = await read_form(request)
        errors = await do_assign_mediator(await _staff(request), case_id, form.text("mediator"))
        if errors:
            context = await staff_case_context(case_id)
            context.update(mediator_errors=errors)
            return await page(request, "staff/case.html", block="mediator_form", status_code=422, **context)
        return redirect_to(request, "show_staff_case", case_id=case_id, query="assigned=1")

    @post("/objections/{objection_id:int}", name="resolve_objection")
    async def resolve_objection(self, request: Request[Any, Any, Any], objection_id: RowId) -> Response[Any]:
        form = await read_form(request)
        case_id = await do_resolve_objection(await _staff(request), objection_id, form.text("decision"),
                                             form.text("note"))
        return redirect_to(request, "show_staff_case", case_id=case_id, query="resolved=1")
