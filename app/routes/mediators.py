"""The mediator and the start: the mediation panel of a case, the independence declaration, objections,
the start of the mediation, and a mediator's own list of cases."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from app.actions.access import case_for_party
from app.actions.mediation import do_start_mediation
from app.actions.mediation_panel import mediation_panel
from app.actions.mediators import (
    declaration_access,
    do_declare,
    do_object,
    independence_statement,
    my_mediations,
)
from app.actions.room import unread_by_case
from app.domain.accounts import FormErrors
from app.http.auth import logged_in_user, requires_login, requires_role
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to
from app.tables import Role


class MediationController(Controller):
    """The mediation side of a case page; only its parties, its mediator and staff (404 for anyone else)."""

    path = "/cases"
    guards = [requires_login]

    @get("/{case_id:int}/mediation", name="show_mediation")
    async def show_mediation(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        access = await case_for_party(await logged_in_user(request), case_id)
        return await page(request, "mediation/show.html", block="mediation_panel", **await mediation_panel(access))

    @get("/{case_id:int}/mediator/declaration", name="edit_declaration")
    async def edit_declaration(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        access, assignment = await declaration_access(await logged_in_user(request), case_id)
        return await page(request, "mediators/declaration.html", case=access.case, assignment=assignment,
                          statement=independence_statement(), errors=FormErrors(), values={})

    @post("/{case_id:int}/mediator/declaration", name="create_declaration")
    async def create_declaration(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        errors = await do_declare(user, case_id, form.text("statement") == "yes", form.text("conflicts"))
        if errors:
            access, assignment = await declaration_access(user, case_id)
            return await page(request, "mediators/declaration.html", block="declaration_form", status_code=422,
                              case=access.case, assignment=assignment, statement=independence_statement(),
                              errors=errors, values={"conflicts": form.text("conflicts")[:2000]})
        return redirect_to(request, "show_mediation", case_id=case_id, query="declared=1")

    @post("/{case_id:int}/mediator/objections", name="create_objection")
    async def create_objection(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        errors = await do_object(user, case_id, form.text("reason"))
        if errors:
            access = await case_for_party(user, case_id)
            return await page(request, "mediation/show.html", block="objection_form", status_code=422,
                              **await mediation_panel(access), objection_errors=errors,
                              objection_reason=form.text("reason")[:2000])
        return redirect_to(request, "show_mediation", case_id=case_id, query="objected=1")

    @post("/{case_id:int}/start", name="start_mediation")
    async def start_mediation(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        await do_start_mediation(await logged_in_user(request), case_id)
        return redirect_to(request, "show_mediation", case_id=case_id, query="started=1")


class MediatorController(Controller):
    """A mediator's own cases."""

    path = "/mediators"
    guards = [requires_role(Role.mediator)]

    @get("/cases", name="list_my_mediations")
    async def list_my_mediations(self, request: Request[Any, Any, Any]) -> Response[str]:
        user = await logged_in_user(request)
        return await page(request, "mediators/cases.html", cases=await my_mediations(user),
                          room_unread=await unread_by_case(user))
