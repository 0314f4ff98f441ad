"""The company's invitation to mediation (the signed link, and the answer from the case page), and the
consumers' escalation opt-in once a case is refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from app import i18n
from app.actions.access import case_for_party
from app.actions.companies import do_signup_representative
from app.actions.invitations import (
    InvitationView,
    answer_refusal,
    case_invitation_view,
    check_invitation_link,
    do_answer_invitation,
    do_join_by_invitation,
    do_set_escalation,
)
from app.actions.mediation_panel import mediation_panel
from app.domain.accounts import FormErrors
from app.http.auth import current_user, logged_in_user, requires_login, start_session
from app.http.forms import read_form
from app.http.web import RowId, page, path_for, redirect, redirect_to
from app.routes.companies import signup_form, signup_values
from app.settings import settings_of

INVALID_STATUS = {"invalid": 400, "replaced": 400, "expired": 410, "answered": 410}


def parse_answer(raw: str) -> bool | None:
    return {"accept": True, "decline": False}.get(raw)


def link_of(request: Request[Any, Any, Any], token: str, expires: str, sig: str) -> str:
    return path_for(request, "show_invitation", token=token, query=f"expires={expires}&sig={sig}")


class InvitationController(Controller):
    """Anyone holding the link sees the summary; only a representative of the company answers."""

    path = "/invitations"

    async def _view(self, request: Request[Any, Any, Any], token: str, expires: str | None, sig: str | None
                    ) -> InvitationView:
        return await check_invitation_link(token, expires, sig, secret=settings_of(request).secret_key)

    async def _show(self, request: Request[Any, Any, Any], view: InvitationView, token: str, expires: str, sig: str,
                    *, block: str | None = None, status_code: int = 200, **extra: Any) -> Response[str]:
        if view.problem:
            return await page(request, "invitations/invalid.html", status_code=INVALID_STATUS[view.problem],
                              view=view)
        user = await current_user(request)
        context: dict[str, Any] = {
            "view": view, "token": token, "expires": expires, "sig": sig,
            "login_next": quote(link_of(request, token, expires, sig), safe=""),
            "refusal": await answer_refusal(user, view), "errors": FormErrors(), "values": {},
            "signup_errors": FormErrors(), "signup_values": {"email": view.invitation.email if view.invitation else ""},
        }
        return await page(request, "invitations/show.html", block=block, status_code=status_code,
                          **(context | extra))

    @get("/{token:str}", name="show_invitation")
    async def show_invitation(self, request: Request[Any, Any, Any], token: FromPath[str],
                              expires: FromQuery[str | None] = None, sig: FromQuery[str | None] = None
                              ) -> Response[str]:
        view = await self._view(request, token, expires, sig)
        return await self._show(request, view, token, expires or "", sig or "")

    @post("/{token:str}/answer", name="answer_invitation")
    async def answer_invitation(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        expires, sig = form.text("expires")[:20], form.text("sig")[:64]
        view = await self._view(request, token, expires, sig)
        if view.problem:
            return await self._show(request, view, token, expires, sig)
        user = await current_user(request)
        if user is None:
            next_path = quote(link_of(request, token, expires, sig), safe="")
            return redirect_to(request, "new_login", query=f"next={next_path}")
        answer, reason = parse_answer(form.text("answer")), form.text("reason")
        errors = await do_answer_invitation(user, view, answer, reason)
        if errors:
            return await self._show(request, view, token, expires, sig, block="answer_form", status_code=422,
                                    errors=errors, values={"answer": form.text("answer")[:10], "reason": reason[:2000]})
        if view.case is None:
            return redirect_to(request, "home")
        return redirect_to(request, "show_mediation", case_id=view.case.id, query="answered=1")

    @post("/{token:str}/signup", name="create_invitation_signup")
    async def create_invitation_signup(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        expires, sig = form.text("expires")[:20], form.text("sig")[:64]
        view = await self._view(request, token, expires, sig)
        if view.problem or view.invitation is None:
            return await self._show(request, view, token, expires, sig)
        outcome = await do_signup_representative(signup_form(form), invite_email=view.invitation.email,
                                                 language=i18n.current_language())
        if outcome.errors:
            return await self._show(request, view, token, expires, sig, block="signup_form", status_code=422,
                                    signup_errors=outcome.errors, signup_values=signup_values(form))
        if outcome.user is not None:
            start_session(request, outcome.user)
            await do_join_by_invitation(outcome.user, view)
            return redirect(request, link_of(request, token, expires, sig))
        return await page(request, "companies/signup_sent.html", back=link_of(request, token, expires, sig))



class CaseInvitationController(Controller):
    """Logged-in representatives answer from the case page; consumers of a refused case opt in to escalation."""

    guards = [requires_login]

    @post("/cases/{case_id:int}/invitation", name="answer_case_invitation")
    async def answer_case_invitation(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        access = await case_for_party(user, case_id)
        if not access.is_company:
            raise NotFoundException()
        form = await read_form(request)
        answer, reason = parse_answer(form.text("answer")), form.text("reason")
        errors = await do_answer_invitation(user, await case_invitation_view(case_id), answer, reason)
        if errors:
            return await page(request, "mediation/show.html", block="answer_form", status_code=422,
                              **await mediation_panel(access), answer_errors=errors,
                              answer_values={"answer": form.text("answer")[:10], "reason": reason[:2000]})
        return redirect_to(request, "show_mediation", case_id=case_id, query="answered=1")

    @post("/claims/{claim_id:int}/escalation", name="update_escalation")
    async def update_escalation(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        form = await read_form(request)
        claim = await do_set_escalation(await logged_in_user(request), claim_id, form.text("opt_in") == "1")
        return redirect_to(request, "show_mediation", case_id=claim.case)
