"""Escalation: a consumer's own page to pass their file to the litigation partner and download it as a bundle;
staff's CSV of the opted-in consumers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from app.actions.escalation import escalation_bundle, escalation_view, escalations_csv
from app.actions.invitations import do_set_escalation
from app.http.auth import logged_in_user, requires_login, requires_role
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to
from app.tables import Role


class EscalationController(Controller):
    """/claims/{id}/escalate: the claim's owner only (404 for anyone else)."""

    path = "/claims/{claim_id:int}/escalate"
    guards = [requires_login]

    @get("/", name="show_escalation")
    async def show_escalation(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[str]:
        view = await escalation_view(await logged_in_user(request), claim_id)
        return await page(request, "escalation/show.html", view=view, case=view.case, claim=view.claim)

    @post("/", name="update_escalation_choice")
    async def update_escalation_choice(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[Any]:
        form = await read_form(request)
        await do_set_escalation(await logged_in_user(request), claim_id, form.text("opt_in") == "1")
        return redirect_to(request, "show_escalation", claim_id=claim_id)

    @get("/bundle.zip", name="download_escalation_bundle")
    async def download_escalation_bundle(self, request: Request[Any, Any, Any], claim_id: RowId) -> Response[bytes]:
        name, content = await escalation_bundle(await logged_in_user(request), claim_id)
        return Response(content, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})


class StaffEscalationController(Controller):
    path = "/staff"
    guards = [requires_role(Role.staff)]

    @get("/escalations.csv", name="export_escalations")
    async def export_escalations(self, request: Request[Any, Any, Any]) -> Response[str]:
        text = await escalations_csv(await logged_in_user(request))
        return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="escalations.csv"', "Cache-Control": "no-store"})
