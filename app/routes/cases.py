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
    claim_is_editable,
    claim_is_withdrawable,
    do_add_evidence,
    do_file_claim,
    do_remove_evidence,
    do_update_claim,
    do_withdraw_claim,
    evidence_path,
    is_claim_owner,
)
from app.actions.companies import find_company
from app.actions.directory import list_companies
from app.actions.errors import Refused
from app.actions.room import room_link
from app.actions.timeline import claim_outcome
from app.domain.accounts import FormErrors
from app.domain.cases import CATEGORIES, complaint_too_old
from app.domain.evidence import MAX_UPLOAD_REQUEST_BYTES
from app.domain.lifecycle import CASE_STATES_OPEN_TO_CLAIMS
from app.http.auth import logged_in_user, requires_login, requires_role
from app.http.forms import FormData, read_form
from app.http.web import RowId, page, path_for, redirect_to, stored_file
from app.i18n import _
from app.tables import Case, Claim, Role, User

OptionalId = Annotated[int | None, Parameter(gt=0, le=2**31 - 1)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
ShortText = Annotated[str | None, Parameter(max_length=300)]


def _not_yours() -> str:
    return _("Only the consumer who filed this claim can change it.")


def _form_id(raw: str) -> int | None:
    """An id posted in a form: None when absent, 0 (which matches nothing) when forged."""
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) < 2**31 else 0


async def refused(request: Request[Any, Any, Any], error: Refused, back: str) -> Response[str]:
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
        return await page(request, "cases/index.html", block="case_results", q=query, category=category or "",
                          company=await find_company(company), result=result, offset=offset, page_size=PAGE_SIZE)

    @get("/new", name="new_case", guards=[requires_role(Role.consumer)])
    async def new_case(self, request: Request[Any, Any, Any], company: OptionalId = None,
                       company_q: ShortText = None) -> Response[str]:
        companies, more = await list_companies(company_q or "") if company_q else ([], False)
        return await page(request, "cases/new.html", block="company_choices", company=await find_company(company),
                          company_q=(company_q or "")[:100], companies=companies, more_companies=more,
                          values={}, errors=FormErrors(), similar=[])

    @get("/similar", name="similar_cases", guards=[requires_role(Role.consumer)])
    async def similar_cases(self, request: Request[Any, Any, Any], title: ShortText = None,
                            company_id: OptionalId = None, company_name: ShortText = None) -> Response[str]:
        """While a new case's title is typed: the open cases it resembles (the page itself without HTMX)."""
        text = (title or "")[:200]
        if company_id is None and company_name:
            text = f"{text} {company_name[:120]}"
        similar = await similar_cases(text, company_id=company_id) if (title or "").strip() else []
        return await page(request, "cases/new.html", block="similar_cases", company=await find_company(company_id),
                          company_q="", companies=[], more_companies=False, similar=similar, errors=FormErrors(),
                          values={"title": (title or "")[:200], "company_name": (company_name or "")[:120]})

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
            return await page(request, "cases/new.html", block="case_form", status_code=422, errors=result.errors,
                              values=values, company=await find_company(company_id), similar=result.similar,
                              company_q="", companies=[], more_companies=False)
        return redirect_to(request, "show_claim", claim_id=result.claim_id, query="new=1")

    @get("/{case_id:int}", name="show_case")
    async def show_case(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        user = await logged_in_user(request)
        access = await case_for_viewer(user, case_id)
        case = access.case
        company = await find_company(case.company)
        counts = await claim_counts([case.id])
        can_join = (user.role == Role.consumer and access.own_claim is None
                    and case.status in CASE_STATES_OPEN_TO_CLAIMS)
        return await page(request, "cases/show.html", access=access, case=case, company=company,
                          participants=counts.get(case.id, 0), own_claim=access.own_claim, can_join=can_join,
                          is_listed=case.status in PUBLIC_CASE_STATES, **await room_link(access))


class ClaimController(Controller):
    """One consumer's claim: join a case with it, follow it, edit or complete it, withdraw it, attach files."""

    guards = [requires_login]

    async def _case_page_for_joining(self, request: Request[Any, Any, Any], user: User, case_id: int,
                                     errors: FormErrors, values: dict[str, str], status_code: int = 200
                                     ) -> Response[Any]:
        access = await case_for_viewer(user, case_id)
        if access.own_claim is not None:
            return redirect_to(request, "show_claim", claim_id=access.own_claim.id)
        if access.case.status not in CASE_STATES_OPEN_TO_CLAIMS:
            return await refused(request, Refused(_("This case has ended: claims can no longer be filed or changed.")),
                                 path_for(request, "show_case", case_id=case_id))
        return await page(request, "claims/new.html", block="claim_form", status_code=status_code, case=access.case,
                          company=await find_company(access.case.company), errors=errors, values=values)

    @get("/cases/{case_id:int}/claims/new", name="new_claim", guards=[requires_role(Role.consumer)])
    async def new_claim(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        return await self._case_page_for_joining(request, await logged_in_user(request), case_id, FormErrors(), {})

    @post("/cases/{case_id:int}/claims", name="create_claim", guards=[requires_role(Role.consumer)])
    async def create_claim(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        values = _claim_values(await read_form(request))
        try:
            result = await do_file_claim(user, case_id, _claim_form(values))
        except Refused as error:
            return await refused(request, error, path_for(request, "show_case", case_id=case_id))
        if result.errors:
            return await self._case_page_for_joining(request, user, case_id, result.errors, values, 422)
        return redirect_to(request, "show_claim", claim_id=result.claim_id, query="new=1")

    @get("/claims/{claim_id:int}", name="show_claim")
    async def show_claim(self, request: Request[Any, Any, Any], claim_id: RowId, new: FromQuery[bool] = False,
                         saved: FromQuery[bool] = False, uploaded: FromQuery[bool] = False) -> Response[str]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        return await page(request, "claims/show.html", **await self._claim_context(user, access.case, claim),
                          new=new, saved=saved, uploaded=uploaded, upload_errors=FormErrors())

    async def _claim_context(self, user: User, case: Case, claim: Claim) -> dict[str, Any]:
        is_owner = is_claim_owner(user, claim)
        return {
            "case": case, "claim": claim, "company": await find_company(case.company),
            "evidence": await claim_evidence(claim.id), "is_owner": is_owner,
            "editable": is_owner and claim_is_editable(case, claim),
            "can_withdraw": is_owner and claim_is_withdrawable(claim),
            "complaint_too_old": complaint_too_old(claim.complaint_date, today()),
            **(await claim_outcome(case, claim) if is_owner else {}),
        }

    @get("/claims/{claim_id:int}/edit", name="edit_claim", guards=[requires_role(Role.consumer)])
    async def edit_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        if not is_claim_owner(user, claim):
            return await refused(request, Refused(_not_yours(), 403), path_for(request, "list_my_cases"))
        if not claim_is_editable(access.case, claim):
            return await refused(request, Refused(_("This claim can no longer be changed: it has been "
                                                    "reviewed or withdrawn, or the case has ended.")),
                                 path_for(request, "show_claim", claim_id=claim_id))
        values = {"facts": claim.facts, "amount": f"{claim.amount_cents // 100},{claim.amount_cents % 100:02d}",
                  "incident_date": claim.incident_date.isoformat(), "complaint_date": claim.complaint_date.isoformat()}
        return await page(request, "claims/edit.html", case=access.case, claim=claim, values=values,
                          errors=FormErrors())

    @post("/claims/{claim_id:int}/edit", name="update_claim", guards=[requires_role(Role.consumer)])
    async def update_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        values = _claim_values(await read_form(request))
        try:
            result = await do_update_claim(user, claim_id, _claim_form(values))
        except Refused as error:
            return await refused(request, error, path_for(request, "show_claim", claim_id=claim_id))
        if result.errors:
            access, claim = await claim_for_viewer(user, claim_id)
            return await page(request, "claims/edit.html", block="claim_form", status_code=422, case=access.case,
                              claim=claim, values=values, errors=result.errors)
        return redirect_to(request, "show_claim", claim_id=claim_id, query="saved=1")

    @get("/claims/{claim_id:int}/withdraw", name="confirm_withdraw_claim", guards=[requires_role(Role.consumer)])
    async def confirm_withdraw_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        access, claim = await claim_for_viewer(user, claim_id)
        if not is_claim_owner(user, claim):
            return await refused(request, Refused(_not_yours(), 403), path_for(request, "list_my_cases"))
        return await page(request, "claims/withdraw.html", case=access.case, claim=claim)

    @post("/claims/{claim_id:int}/withdraw", name="withdraw_claim", guards=[requires_role(Role.consumer)])
    async def withdraw_claim(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        try:
            await do_withdraw_claim(user, claim_id)
        except Refused as error:
            return await refused(request, error, path_for(request, "show_claim", claim_id=claim_id))
        return redirect_to(request, "show_claim", claim_id=claim_id)

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
        except Refused as error:
            return await refused(request, error, path_for(request, "show_claim", claim_id=claim_id))
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
        return redirect_to(request, "show_claim", claim_id=claim_id, query="uploaded=1", fragment="claim-evidence")


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
        except Refused as error:
            return await refused(request, error, path_for(request, "list_my_documents"))
        return redirect_to(request, "show_claim", claim_id=claim_id, fragment="claim-evidence")

