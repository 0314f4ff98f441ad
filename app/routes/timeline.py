"""The timeline of a case: every party sees its phases, where today stands and what they have to do next; the
mediator edits the phases and extends the limit with a reason (R612-5)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from app.actions.access import case_for_party
from app.actions.timeline import (
    do_add_phase,
    do_extend_limit,
    do_mark_phase,
    do_move_phase,
    do_remove_phase,
    do_update_phase,
    timeline_view,
)
from app.domain.accounts import FormErrors
from app.http.auth import logged_in_user, requires_login
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to
from app.tables import User


class TimelineController(Controller):
    """/cases/{id}/timeline: GET for every party of the case (404 for anyone else); edits for its mediator."""

    path = "/cases/{case_id:int}"
    guards = [requires_login]

    async def _page(self, request: Request[Any, Any, Any], user: User, case_id: int, *, status_code: int = 200,
                    **form: Any) -> Response[str]:
        view = await timeline_view(await case_for_party(user, case_id))
        context = {"phase_errors": FormErrors(), "phase_values": {}, "phase_id": None, "new_errors": FormErrors(),
                   "new_values": {}, "extension_errors": FormErrors(), "extension_values": {}} | form
        return await page(request, "timeline/show.html", block="timeline_panel", status_code=status_code,
                          view=view, case=view.access.case, access=view.access, **context)

    @get("/timeline", name="show_timeline")
    async def show_timeline(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        return await self._page(request, await logged_in_user(request), case_id)

    @post("/timeline/phases", name="create_phase")
    async def create_phase(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        title, due = form.text("title"), form.text("due_on")
        errors = await do_add_phase(user, case_id, title, due)
        if errors:
            return await self._page(request, user, case_id, status_code=422, new_errors=errors,
                                    new_values={"title": title[:200], "due_on": due[:20]})
        return redirect_to(request, "show_timeline", case_id=case_id, query="saved=1")

    @post("/timeline/phases/{phase_id:int}", name="update_phase")
    async def update_phase(self, request: Request[Any, Any, Any], case_id: RowId, phase_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        title, due = form.text("title"), form.text("due_on")
        errors = await do_update_phase(user, case_id, phase_id, title, due)
        if errors:
            return await self._page(request, user, case_id, status_code=422, phase_errors=errors,
                                    phase_id=phase_id, phase_values={"title": title[:200], "due_on": due[:20]})
        return redirect_to(request, "show_timeline", case_id=case_id, query="saved=1")

    @post("/timeline/phases/{phase_id:int}/done", name="mark_phase")
    async def mark_phase(self, request: Request[Any, Any, Any], case_id: RowId, phase_id: RowId) -> Response[Any]:
        form = await read_form(request)
        await do_mark_phase(await logged_in_user(request), case_id, phase_id, form.text("done") != "0")
        return redirect_to(request, "show_timeline", case_id=case_id, query="saved=1")

    @post("/timeline/phases/{phase_id:int}/move", name="move_phase")
    async def move_phase(self, request: Request[Any, Any, Any], case_id: RowId, phase_id: RowId) -> Response[Any]:
        form = await read_form(request)
        await do_move_phase(await logged_in_user(request), case_id, phase_id, form.text("direction"))
        return redirect_to(request, "show_timeline", case_id=case_id, query="saved=1")

    @post("/timeline/phases/{phase_id:int}/delete", name="delete_phase")
    async def delete_phase(self, request: Request[Any, Any, Any], case_id: RowId, phase_id: RowId) -> Response[Any]:
        await do_remove_phase(await logged_in_user(request), case_id, phase_id)
        return redirect_to(request, "show_timeline", case_id=case_id, query="saved=1")

    @post("/extensions", name="create_extension")
    async def create_extension(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await read_form(request)
        ends_on, reason = form.text("ends_on"), form.text("reason")
        errors = await do_extend_limit(user, case_id, ends_on, reason)
        if errors:
            return await self._page(request, user, case_id, status_code=422, extension_errors=errors,
                                    extension_values={"ends_on": ends_on[:20], "reason": reason[:2000]})
        return redirect_to(request, "show_timeline", case_id=case_id, query="extended=1")
