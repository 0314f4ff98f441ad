"""Company representatives: joining a company through a staff invitation link, and one's own companies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from app import i18n
from app.actions.accounts import SignupForm
from app.actions.companies import (
    check_company_invite,
    companies_of,
    company_cases,
    do_join_company,
    do_signup_representative,
)
from app.actions.room import unread_by_case
from app.domain.accounts import FormErrors
from app.http.auth import current_user, requires_role, start_session
from app.http.forms import FormData, read_form
from app.http.web import page, path_for, redirect_to
from app.tables import Role


def signup_form(form: FormData) -> SignupForm:
    return SignupForm(email=form.text("email"), display_name=form.text("display_name"),
                      password=form.text("password"), password_confirm=form.text("password_confirm"))


def signup_values(form: FormData) -> dict[str, str]:
    return {"email": form.text("email")[:254], "display_name": form.text("display_name")[:80]}


def join_link(request: Request[Any, Any, Any], token: str) -> str:
    """The invitation link's page, where logging in or confirming one's address comes back to."""
    return path_for(request, "show_company_join", token=token)


class CompanyJoinController(Controller):
    path = "/companies"

    @get("/join/{token:str}", name="show_company_join")
    async def show_company_join(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
        live = await check_company_invite(token)
        if live is None:
            return await page(request, "companies/join_invalid.html", status_code=400)
        return await page(request, "companies/join.html", live=live, token=token,
                          login_next=quote(join_link(request, token), safe=""),
                          signup_errors=FormErrors(), signup_values={"email": live.invite.email})

    @post("/join/{token:str}", name="join_company")
    async def join_company(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        user = await current_user(request)
        if user is None:
            return redirect_to(request, "new_login", query="next=" + quote(join_link(request, token), safe=""))
        company = await do_join_company(user, token)
        return redirect_to(request, "show_company", company_id=company.id)

    @post("/join/{token:str}/signup", name="create_company_join_signup")
    async def create_company_join_signup(self, request: Request[Any, Any, Any], token: FromPath[str]
                                         ) -> Response[Any]:
        live = await check_company_invite(token)
        if live is None:
            return await page(request, "companies/join_invalid.html", status_code=400)
        form = await read_form(request)
        outcome = await do_signup_representative(signup_form(form), invite_email=live.invite.email,
                                                 language=i18n.current_language())
        if outcome.errors:
            return await page(request, "companies/join.html", block="signup_form", status_code=422, live=live,
                              token=token, login_next=quote(join_link(request, token), safe=""),
                              signup_errors=outcome.errors, signup_values=signup_values(form))
        if outcome.user is not None:
            start_session(request, outcome.user)
            company = await do_join_company(outcome.user, token)
            return redirect_to(request, "show_company", company_id=company.id)
        return await page(request, "companies/signup_sent.html", back=join_link(request, token))

    @get("/mine", name="list_my_companies", guards=[requires_role(Role.company)])
    async def list_my_companies(self, request: Request[Any, Any, Any]) -> Response[str]:
        user = await current_user(request)
        assert user is not None  # guarded
        companies = await companies_of(user)
        cases = {company.id: await company_cases(company.id) for company in companies[:20]}
        return await page(request, "companies/mine.html", companies=companies, cases=cases,
                          room_unread=await unread_by_case(user))
