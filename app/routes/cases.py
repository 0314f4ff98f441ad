"""Cases, claims and evidence files as consumers use them: find or open a case, join it, file and follow a claim."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, Parameter

from app.actions.access import PUBLIC_CASE_STATES, case_for_viewer, claim_for_viewer, evidence_for_viewer
from app.actions.cases import (
    MAX_OFFSET,
    PAGE_SIZE,
    OpenCaseForm,
    claim_counts,
    do_open_case,
    search_cases,
    similar_cases,
    today,
)
from app.actions.claims import (
    ClaimForm,
    claim_evidence,
    do_add_evidence,
    do_file_claim,
    do_remove_evidence,
    do_update_claim,
    do_withdraw_claim,
    evidence_path,
)
from app.actions.directory import list_companies
from app.actions.mediation import HELPERS, ActionRefused
from app.actions.room import room_link
from app.actions.timeline import claim_outcome
from app.auth import logged_in_user, requires_login, requires_role
from app.domain.accounts import FormErrors
from app.domain.cases import (
    CATEGORIES,
    case_status_label,
    category_label,
    claim_status_label,
    complaint_too_old,
    deadline_label,
    todo_label,
)
from app.domain.evidence import MAX_UPLOAD_REQUEST_BYTES, format_size
from app.domain.lifecycle import CASE_STATES_OPEN_TO_CLAIMS, CLAIM_STATES_EDITABLE, ClaimStatus
from app.forms import FormData, read_form
from app.i18n import _
from app.tables import Case, Claim, Company, Role, User
from app.web import RowId, page, redirect, stored_file

OptionalId = Annotated[int | None, Parameter(gt=0, le=2**31 - 1)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
ShortText = Annotated[str | None, Parameter(max_length=300)]

# Labels and formatters every page of this area uses.
VIEW_HELPERS: dict[str, Any] = {
    **HELPERS, "categories": CATEGORIES, "category_label": category_label, "case_status_label": case_status_label,
    "claim_status_label": claim_status_label, "format_size": format_size, "todo_label": todo_label,
    "deadline_label": deadline_label,
}


def _not_yours() -> str:
    return _("Only the consumer who filed this claim can change it.")


def _form_id(raw: str) -> int | None:
    """An id posted in a form: None when absent, 0 (which matches nothing) when forged."""
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) < 2**31 else 0


async def refused(request: Request[Any, Any, Any], error: ActionRefused, back: str) -> Response[str]:
    """Why an action is not possible now (409), with the way back."""
    return await page(request, "cases/refused.html", block="refusal", status_code=error.status_code,
                      message=error.message, back=back)


def _claim_values(form: FormData) -> dict[str, str]:
    return {name: form.text(name) for name in ("facts", "amount", "incident_date", "complaint_date")}


def _claim_form(values: dict[str, str]) -> ClaimForm:
    return ClaimForm(**values)


class CaseController(Controller):
    """Finding, opening and showing cases."""

    path = "/cases"
    guards = [requires_login]

    @get("/", name="list_cases", guards=[requires_role(Role.consumer, Role.staff)])
    async def list_cases(self, request: Request[Any, Any, Any], q: ShortText = None, company: OptionalId = None,
                         category: ShortText = None, offset: Offset = 0) -> Response[str]:
        category = category if category in CATEGORIES else None
        query = (q or "")[:200]
        result = await search_cases(query, company_id=company, category=category, offset=offset)
        company_row = await Company.objects().where(Company.id == company).first() if company else None
        return await page(request, "cases/index.html", block="case_results", q=query, category=category or "",
                          company=company_row, result=result, offset=offset, page_size=PAGE_SIZE, **VIEW_HELPERS)

    @get("/new", name="new_case", guards=[requires_role(Role.consumer)])
    async def new_case(self, request: Request[Any, Any, Any], company: OptionalId = None,
                       company_q: ShortText = None) -> Response[str]:
        company_row = await Company.objects().where(Company.id == company).first() if company else None
        companies, more = await list_companies(company_q or "") if company_q else ([], False)
        return await page(request, "cases/new.html", block="company_choices", company=company_row,
                          company_q=(company_q or "")[:100], companies=companies, more_companies=more,
                          values={}, errors=FormErrors(), similar=[], **VIEW_HELPERS)

    @get("/similar", name="similar_cases", guards=[requires_role(Role.consumer)])
    async def similar_cases(self, request: Request[Any, Any, Any], title: ShortText = None,
                            company_id: OptionalId = None, company_name: ShortText = None) -> Response[str]:
        """While a new case's title is typed: the open cases it resembles (the page itself without HTMX)."""
        text = (title or "")[:200]
        if company_id is None and company_name:
            text = f"{text} {company_name[:120]}"
        similar = await similar_cases(text, company_id=company_id) if (title or "").strip() else []
        company_row = await Company.objects().where(Company.id == company_id).first() if company_id else None
        return await page(request, "cases/new.html", block="similar_cases", company=company_row, company_q="",
                          companies=[], more_companies=False, similar=similar, errors=FormErrors(),
                          values={"title": (title or "")[:200], "company_name": (company_name or "")[:120]},
                          **VIEW_HELPERS)

    @post("/", name="create_case", guards=[requires_role(Role.consumer)])
    async def create_case(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        names = ("company_name", "company_siren", "company_website", "company_contact_email", "title", "problem",
                 "category", "demand", "facts", "amount", "incident_date", "complaint_date")
        values = {name: form.text(name) for name in names}
        company_id = _form_id(form.text("company_id"))
        confirmed = form.text("confirm_new") == "1"
        result = await do_open_case(user, OpenCaseForm(company_id=company_id, confirm_new=confirmed, **values))
        if result.errors:
            company_row = await Company.objects().where(Company.id == company_id).first() if company_id else None
            return await page(request, "cases/new.html", block="case_form", status_code=422, errors=result.errors,
                              values=values, company=company_row, similar=result.similar, company_q="",
                              companies=[], more_companies=False, **VIEW_HELPERS)
        return redirect(request, f"/claims/{result.claim_id}?new=1")

    @get("/{case_id:int}", name="show_case")
    async def show_case(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        user = await logged_in_user(request)
        access = await case_for_viewer(user, case_id)
        case = access.case
        company = await Company.objects().where(Company.id == case.company).first()
        counts = await claim_counts([case.id])
        can_join = (user.role == Role.consumer and access.own_claim is None
                    and case.status in CASE_STATES_OPEN_TO_CLAIMS)
        return await page(request, "cases/show.html", access=access, case=case, company=company,
                          participants=counts.get(case.id, 0), own_claim=access.own_claim, can_join=can_join,
                          is_listed=case.status in PUBLIC_CASE_STATES, **await room_link(access), **VIEW_HELPERS)


class ClaimController(Controller):
    """One consumer's claim: join a case with it, follow it, edit or complete it, withdraw it, attach files."""

    guards = [requires_login]

    async def _case_page_for_joining(self, request: Request[Any, Any, Any], user: User, case_id: int,
                                     errors: FormErrors, values: dict[str, str], status_code: int = 200
                                     ) -> Response[Any]:
        access = await case_for_viewer(user, case_id)
        if access.own_claim is not None:
            return redirect(request, f"/claims/{access.own_claim.id}")
        if access.case.status not in CASE_STATES_OPEN_TO_CLAIMS:
            return await refused(request, ActionRefused(
                _("This case has ended: claims can no longer be filed or changed.")), f"/cases/{case_id}")
        company = await Company.objects().where(Company.id == access.case.company).first()
        return await page(request, "claims/new.html", block="claim_form", status_code=status_code,
                          case=access.case, company=company, errors=errors, values=values, **VIEW_HELPERS)

    @get("/cases/{case_id:int}/claims/new", name="new_claim", guards=[requires_role(Role.consumer)])
    async def new_claim(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        return await self._case_page_for_joining(request, await logged_in_user(request), case_id, FormErrors(), {})

    @post("/cases/{case_id:int}/claims", name="create_claim", guards=[requires_role(Role.consumer)])
    async def create_claim(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        values = _claim_values(await read_form(request))
        try:
            result = await do_file_claim(user, case_id, _claim_form(values))
        except ActionRefused as error:
            return await refused(request, error, f"/cases/{case_id}")
        if result.errors:
            return await self._case_page_for_joining(request, user, case_id, result.errors, values, 422)
        return redirect(request, f"/claims/{result.claim_id}?new=1")

    @get("/claims/{claim_id:int}", name="show_claim")
    async def show_claim(self, request: Request[Any, Any, Any], claim_id: RowId, new: FromQuery[bool] = False,
                         saved: FromQuery[bool] = False, uploaded: FromQuery[bool] = False) -> Response[str]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        return await page(request, "claims/show.html", **await self._claim_context(user, access.case, claim),
                          new=new, saved=saved, uploaded=uploaded, upload_errors=FormErrors())

    async def _claim_context(self, user: User, case: Case, claim: Claim) -> dict[str, Any]:
        is_owner = claim.consumer == user.id
        editable = is_owner and claim.status in CLAIM_STATES_EDITABLE and case.status in CASE_STATES_OPEN_TO_CLAIMS
        company = await Company.objects().where(Company.id == case.company).first()
        return {
            "case": case, "claim": claim, "company": company, "evidence": await claim_evidence(claim.id),
            "is_owner": is_owner, "editable": editable,
            "can_withdraw": is_owner and claim.status != ClaimStatus.withdrawn and claim.status != ClaimStatus.rejected,
            "complaint_too_old": complaint_too_old(claim.complaint_date, today()),
            **(await claim_outcome(case, claim) if is_owner else {}),
            **VIEW_HELPERS,
        }

    @get("/claims/{claim_id:int}/edit", name="edit_claim", guards=[requires_role(Role.consumer)])
    async def edit_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        if claim.consumer != user.id:
            return await refused(request, ActionRefused(_not_yours(), 403), "/my/cases")
        if claim.status not in CLAIM_STATES_EDITABLE or access.case.status not in CASE_STATES_OPEN_TO_CLAIMS:
            return await refused(request, ActionRefused(_("This claim can no longer be changed: it has been "
                                                          "reviewed or withdrawn, or the case has ended.")),
                                 f"/claims/{claim_id}")
        values = {"facts": claim.facts, "amount": f"{claim.amount_cents // 100},{claim.amount_cents % 100:02d}",
                  "incident_date": claim.incident_date.isoformat(), "complaint_date": claim.complaint_date.isoformat()}
        return await page(request, "claims/edit.html", case=access.case, claim=claim, values=values,
                          errors=FormErrors(), **VIEW_HELPERS)

    @post("/claims/{claim_id:int}/edit", name="update_claim", guards=[requires_role(Role.consumer)])
    async def update_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        values = _claim_values(await read_form(request))
        try:
            result = await do_update_claim(user, claim_id, _claim_form(values))
        except ActionRefused as error:
            return await refused(request, error, f"/claims/{claim_id}")
        if result.errors:
            access, claim = await claim_for_viewer(user, claim_id)
            return await page(request, "claims/edit.html", block="claim_form", status_code=422, case=access.case,
                              claim=claim, values=values, errors=result.errors, **VIEW_HELPERS)
        return redirect(request, f"/claims/{claim_id}?saved=1")

    @get("/claims/{claim_id:int}/withdraw", name="confirm_withdraw_claim", guards=[requires_role(Role.consumer)])
    async def confirm_withdraw_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        if claim.consumer != user.id:
            return await refused(request, ActionRefused(_not_yours(), 403), "/my/cases")
        return await page(request, "claims/withdraw.html", case=access.case, claim=claim, **VIEW_HELPERS)

    @post("/claims/{claim_id:int}/withdraw", name="withdraw_claim", guards=[requires_role(Role.consumer)])
    async def withdraw_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        try:
            await do_withdraw_claim(user, claim_id)
        except ActionRefused as error:
            return await refused(request, error, f"/claims/{claim_id}")
        return redirect(request, f"/claims/{claim_id}")

    @post("/claims/{claim_id:int}/evidence", name="create_evidence", guards=[requires_role(Role.consumer)],
          request_max_body_size=MAX_UPLOAD_REQUEST_BYTES)
    async def create_evidence(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await request.form()
        uploads = [value for value in form.getall("file") if isinstance(value, UploadFile)] if "file" in form else []
        uploads = [upload for upload in uploads if upload.filename]  # an empty file input still sends a part
        kind = form.get("kind")
        try:
            errors = await do_add_evidence(user, claim_id, kind if isinstance(kind, str) else "", uploads)
        except ActionRefused as error:
            return await refused(request, error, f"/claims/{claim_id}")
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        if errors:
            access, claim = await claim_for_viewer(user, claim_id)
            return await page(request, "claims/show.html", block="claim_evidence", status_code=422,
                              **await self._claim_context(user, access.case, claim), new=False, upload_errors=errors)
        if request.htmx and not request.htmx.boosted:  # type: ignore[attr-defined]
            access, claim = await claim_for_viewer(user, claim_id)
            return await page(request, "claims/show.html", block="claim_evidence",
                              **await self._claim_context(user, access.case, claim), new=False,
                              upload_errors=FormErrors(), uploaded=True)
        return redirect(request, f"/claims/{claim_id}?uploaded=1#claim-evidence")


class EvidenceController(Controller):
    """Evidence files: sent only to those who may see the claim, always as a download."""

    path = "/evidence"
    guards = [requires_login]

    @get("/{evidence_id:int}", name="show_evidence")
    async def show_evidence(self, request: Request[Any, Any, Any], evidence_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        evidence = (await evidence_for_viewer(user, evidence_id))[2]
        return stored_file(evidence_path(evidence.stored_name), evidence.original_name, evidence.content_type)

    @post("/{evidence_id:int}/delete", name="delete_evidence", guards=[requires_role(Role.consumer)])
    async def delete_evidence(self, request: Request[Any, Any, Any], evidence_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        try:
            claim_id = await do_remove_evidence(user, evidence_id)
        except ActionRefused as error:
            return await refused(request, error, "/my/documents")
        return redirect(request, f"/claims/{claim_id}#claim-evidence")

