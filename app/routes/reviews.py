"""Admissibility review: the claims of a case to review, and one claim's checklist and decision."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ClientException

from app.actions.reviews import claim_for_review, claims_of_case, do_review_claim, review_access
from app.domain.accounts import FormErrors
from app.domain.admissibility import TICKED_CRITERIA, criterion_labels
from app.http.auth import logged_in_user, requires_login
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to


async def read_many(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes), each bounded; read_form keeps the first one only."""
    try:
        form = await request.form()
    except (UnicodeDecodeError, ValueError) as error:
        raise ClientException(detail="malformed form") from error
    return [value[:64] for key, value in form.multi_items() if key == name and isinstance(value, str)]



def _form_context() -> dict[str, Any]:
    return {"labels": criterion_labels(), "ticked_criteria": [criterion.value for criterion in TICKED_CRITERIA]}


class ReviewController(Controller):
    """Only the case's mediator, or staff while no mediator is assigned (404 for anyone else)."""

    guards = [requires_login]

    @get("/cases/{case_id:int}/review", name="list_reviews")
    async def list_reviews(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        access = await review_access(await logged_in_user(request), case_id)
        return await page(request, "reviews/list.html", case=access.case, claims=await claims_of_case(case_id))

    @get("/claims/{claim_id:int}/review", name="edit_review")
    async def edit_review(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[str]:
        detail = await claim_for_review(await logged_in_user(request), claim_id)
        return await page(request, "reviews/edit.html", **detail, **_form_context(), errors=FormErrors(),
                          values={"ticked": [], "decision": "", "reason": ""})

    @post("/claims/{claim_id:int}/review", name="create_review")
    async def create_review(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        ticked = set((await read_many(request, "criteria"))[:20])
        decision, reason = form.text("decision")[:32], form.text("reason")
        case_id = (await claim_for_review(user, claim_id))["case"].id
        errors = await do_review_claim(user, claim_id, ticked, decision, reason)
        if errors:
            return await page(request, "reviews/edit.html", block="review_form", status_code=422,
                              **await claim_for_review(user, claim_id), **_form_context(), errors=errors,
                              values={"ticked": sorted(ticked), "decision": decision, "reason": reason[:2000]})
        return redirect_to(request, "list_reviews", case_id=case_id, query=f"reviewed={claim_id}")
