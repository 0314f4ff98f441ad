"""Accounts: sign-up, e-mail verification, login, logout, password reset and change."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from app import i18n
from app.actions.accounts import (
    SignupForm,
    check_reset_token,
    do_authenticate,
    do_change_password,
    do_request_password_reset,
    do_reset_password,
    do_signup,
    do_verify_email,
)
from app.domain.accounts import FormErrors
from app.http.auth import current_user, end_session, requires_login, start_session
from app.http.forms import read_form
from app.http.web import page, path_for, redirect, redirect_to, safe_next
from app.i18n import _

LOGIN_PATH = "/login"


class AccountController(Controller):
    """Everything about one's own account; the forms work with and without JavaScript."""

    @get("/signup", name="new_signup")
    async def new_signup(self, request: Request[Any, Any, Any]) -> Response[str]:
        if await current_user(request):
            return redirect_to(request, "show_account")
        return await page(request, "accounts/signup.html", errors=FormErrors(), values={})

    @post("/signup", name="create_signup")
    async def create_signup(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await read_form(request)
        signup = SignupForm(email=form.text("email"), display_name=form.text("display_name"),
                            password=form.text("password"), password_confirm=form.text("password_confirm"))
        errors = await do_signup(signup, language=i18n.current_language())
        if errors:
            return await page(request, "accounts/signup.html", block="signup_form", status_code=422, errors=errors,
                              values={"email": signup.email[:254], "display_name": signup.display_name[:80]})
        return redirect_to(request, "show_signup_sent")

    @get("/signup/sent", name="show_signup_sent")
    async def show_signup_sent(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "accounts/signup_sent.html")

    @get("/verify/{token:str}", name="show_verification")
    async def show_verification(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
        """Confirming needs a click (POST): mail scanners that open links must not spend the token."""
        return await page(request, "accounts/verify.html", token=token)

    @post("/verify/{token:str}", name="verify_email")
    async def verify_email(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        user = await do_verify_email(token)
        if user is None:
            return await page(request, "accounts/token_invalid.html", status_code=400)
        return await page(request, "accounts/verified.html")

    @get(LOGIN_PATH, name="new_login")
    async def new_login(self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[str]:
        return await page(request, "accounts/login.html", error="", email="", next=safe_next(next, ""))

    @post(LOGIN_PATH, name="create_login")
    async def create_login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await read_form(request)
        result = await do_authenticate(form.text("email"), form.text("password"))
        next_path = safe_next(form.text("next"), path_for(request, "show_account"))
        if result.user is None:
            error = (_("Please confirm your e-mail address first: we have just sent you a new link.")
                     if result.unverified else _("Wrong e-mail address or password."))
            return await page(request, "accounts/login.html", block="login_form", status_code=422 if not
                              result.unverified else 403, error=error, email=form.text("email")[:254],
                              next=next_path)
        start_session(request, result.user)
        return redirect(request, next_path)

    @post("/logout", name="logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        end_session(request)
        return redirect_to(request, "home")

    @get("/password/forgot", name="new_password_reset")
    async def new_password_reset(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "accounts/forgot.html", sent=False)

    @post("/password/forgot", name="create_password_reset")
    async def create_password_reset(self, request: Request[Any, Any, Any]) -> Response[str]:
        form = await read_form(request)
        await do_request_password_reset(form.text("email"))
        return await page(request, "accounts/forgot.html", block="forgot_form", sent=True)

    @get("/password/reset/{token:str}", name="edit_password_reset")
    async def edit_password_reset(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
        if await check_reset_token(token) is None:
            return await page(request, "accounts/token_invalid.html", status_code=400)
        return await page(request, "accounts/reset.html", token=token, errors=FormErrors())

    @post("/password/reset/{token:str}", name="update_password_reset")
    async def update_password_reset(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        errors, user = await do_reset_password(token, form.text("password"), form.text("password_confirm"))
        if user is None:
            if errors.get("token"):
                return await page(request, "accounts/token_invalid.html", status_code=400)
            return await page(request, "accounts/reset.html", block="reset_form", status_code=422, token=token,
                              errors=errors)
        start_session(request, user)
        return redirect_to(request, "show_account", query="changed=1")

    @get("/account", name="show_account", guards=[requires_login])
    async def show_account(self, request: Request[Any, Any, Any], changed: FromQuery[bool] = False) -> Response[str]:
        return await page(request, "accounts/account.html", changed=changed)

    @get("/account/password", name="edit_password", guards=[requires_login])
    async def edit_password(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "accounts/password.html", errors=FormErrors())

    @post("/account/password", name="update_password", guards=[requires_login])
    async def update_password(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await current_user(request)
        assert user is not None  # guarded
        form = await read_form(request)
        errors = await do_change_password(user, form.text("current_password"), form.text("password"),
                                          form.text("password_confirm"))
        if errors:
            return await page(request, "accounts/password.html", block="password_form", status_code=422,
                              errors=errors)
        start_session(request, user)  # new id and version: other sessions of this user end
        return redirect_to(request, "show_account", query="changed=1")
