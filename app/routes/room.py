"""The mediation room: the charter at its door, its spaces and their history, posting, one-to-one threads,
attachments, and the mediator's moderation. Every route checks membership through app.actions.room."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Parameter

from app.actions.errors import Refused
from app.actions.room import (
    RoomEntry,
    SpaceView,
    attachment_for_member,
    attachment_path,
    do_accept_charter,
    do_handle_report,
    do_hide_message,
    do_lift_mute,
    do_mark_read,
    do_mute,
    do_open_direct,
    do_post_message,
    do_report_message,
    do_save_mark,
    ensure_spaces,
    history_page,
    mark_for_view,
    mediator_overview,
    member_spaces,
    message_at,
    mute_notice,
    new_marker,
    read_snapshot,
    room_entry,
    shared_space_id,
    space_for_member,
)
from app.domain.accounts import FormErrors
from app.domain.evidence import MAX_UPLOAD_REQUEST_BYTES
from app.domain.room import MAX_MESSAGE_CHARS, MAX_REASON_CHARS, MUTE_DURATIONS, SpaceKind, choose_window, parse_seq
from app.http.auth import logged_in_user, requires_login
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to, stored_file, wants_fragment
from app.i18n import _
from app.platform.templating import environment
from app.tables import User

Cursor = Annotated[str | None, Parameter(max_length=12)]
# What an overlong message gives back to its author to shorten (beyond, it is cut).
KEEP_TYPED = MAX_MESSAGE_CHARS * 5


def _form_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 10 and 0 < int(raw) < 2**31 else None


class RoomController(Controller):
    """The room of a case and its spaces, for their members only (404 for anyone else, staff included)."""

    guards = [requires_login]

    # --- the door: charter, then the plenary (and the mediator's overview) -------------------------

    @get("/cases/{case_id:int}/room", name="show_room")
    async def show_room(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        entry = await room_entry(user, case_id)
        if not entry.charter_accepted:
            return await page(request, "room/charter.html", case=entry.case, entry=entry)
        await ensure_spaces(case_id)
        plenary = await shared_space_id(case_id, SpaceKind.plenary)
        return await self._space_page(request, user, plenary, entry=entry)

    @post("/cases/{case_id:int}/room/charter", name="accept_charter")
    async def accept_charter(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        await do_accept_charter(await logged_in_user(request), case_id)
        return redirect_to(request, "show_room", case_id=case_id)

    @post("/cases/{case_id:int}/room/direct", name="open_direct")
    async def open_direct(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        form = await read_form(request)
        raw = form.text("participant")
        participant = _form_id(raw) if raw else None
        if raw and participant is None:
            raise NotFoundException()
        space_id = await do_open_direct(await logged_in_user(request), case_id, participant)
        return redirect_to(request, "show_space", space_id=space_id)

    # --- a space -------------------------------------------------------------------------------------

    @get("/spaces/{space_id:int}", name="show_space")
    async def show_space(self, request: Request[Any, Any, Any], space_id: RowId, before: Cursor = None,
                         after: Cursor = None) -> Response[Any]:
        user = await logged_in_user(request)
        return await self._space_page(request, user, space_id, before=parse_seq(before), after=parse_seq(after))

    async def _space_page(self, request: Request[Any, Any, Any], user: User, space_id: int, *,
                          entry: RoomEntry | None = None, before: int | None = None, after: int | None = None,
                          status_code: int = 200, block: str | None = None, **form: Any) -> Response[str]:
        """A space's page: every read in one snapshot, then the reader's mark is saved."""
        pending = None
        async with read_snapshot():
            space = await space_for_member(user, space_id)
            window = choose_window(space.last_seq, before, after)
            messages, shape = await history_page(space, user, window)
            marker = marker_label = None
            if window.is_latest and not form:
                visit_marker, pending = await mark_for_view(space, user.id)
                if after is not None:  # "newer messages": what came after the page the reader had
                    marker, marker_label = new_marker(messages, after), "newer"
                else:
                    marker, marker_label = new_marker(messages, visit_marker), "visit"
            spaces = await member_spaces(user, space.case, space.party)
            if window.is_latest:
                for item in spaces:
                    if item.id == space.id:
                        item.unread = 0  # being read now (the mark is saved just below)
            overview = await mediator_overview(entry) if entry is not None and space.party.is_mediator else None
            if block is None:
                block = "older_messages" if window.before is not None else "message_list"
            response = await page(
                request, "room/show_space.html", block=block, status_code=status_code, space=space, case=space.case,
                viewer=user, messages=messages, shape=shape, window=window, marker=marker, marker_label=marker_label,
                spaces=spaces, overview=overview,
                **await self._form_context(space, **form))
        await do_save_mark(pending)
        return response

    async def _form_context(self, space: SpaceView, *, values: dict[str, str] | None = None,
                            errors: FormErrors | None = None, refusal: str = "", refocus: bool = False
                            ) -> dict[str, Any]:
        return {"values": values or {}, "errors": errors or FormErrors(), "refusal": refusal, "refocus": refocus,
                "client_key": str(uuid.uuid4()), "mute_text": await mute_notice(space) if not space.read_only else "",
                "max_chars": MAX_MESSAGE_CHARS}

    async def _post_area(self, request: Request[Any, Any, Any], user: User, space: SpaceView, *, status_code: int,
                         **form: Any) -> Response[str]:
        """The post form again: alone for HTMX, within the whole page otherwise."""
        if wants_fragment(request):
            return await page(request, "room/show_space.html", block="post_form", status_code=status_code,
                              space=space, **await self._form_context(space, **form))
        return await self._space_page(request, user, space.id, status_code=status_code, **form)

    @post("/spaces/{space_id:int}/messages", name="create_message", request_max_body_size=MAX_UPLOAD_REQUEST_BYTES)
    async def create_message(self, request: Request[Any, Any, Any], space_id: RowId) -> Response[Any]:
        user = await logged_in_user(request)
        form = await request.form()
        try:
            body, key = form.get("body"), form.get("client_key")
            body = body if isinstance(body, str) else ""
            uploads = [value for value in form.getall("file") if isinstance(value, UploadFile) and value.filename] \
                if "file" in form else []
            try:
                result = await do_post_message(user, space_id, body, key if isinstance(key, str) else "",
                                               uploads[0] if uploads else None)
            except Refused as error:
                space = await space_for_member(user, space_id)
                return await self._post_area(request, user, space, status_code=error.status_code,
                                             refusal=error.message, values={"body": body[:KEEP_TYPED]})
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        if result.errors:
            space = await space_for_member(user, space_id)
            return await self._post_area(request, user, space, status_code=422, errors=result.errors,
                                         values={"body": body[:KEEP_TYPED]})
        if wants_fragment(request):  # the message itself comes through the stream, to the poster too
            space = await space_for_member(user, space_id)
            return await page(request, "room/show_space.html", block="post_form", space=space,
                              **await self._form_context(space, refocus=True))
        return redirect_to(request, "show_space", space_id=space_id, fragment=f"m-{result.seq}")

    @post("/spaces/{space_id:int}/read", name="mark_read", status_code=204)
    async def mark_read(self, request: Request[Any, Any, Any], space_id: RowId) -> Response[None]:
        """app.js: the reader saw the messages up to `seq` arrive live, on a visible page (204, nothing to show).

        Like any request it is activity for the session's idle limit (see app.live.stream_deadline)."""
        form = await read_form(request)
        seq = parse_seq(form.text("seq"))
        if seq is None:
            raise ClientException(detail="malformed seq")
        await do_mark_read(await logged_in_user(request), space_id, seq)
        return Response(None, status_code=204, headers={"Cache-Control": "no-store"})

    @get("/spaces/{space_id:int}/messages/{seq:int}", name="show_message")
    async def show_message(self, request: Request[Any, Any, Any], space_id: RowId, seq: RowId) -> Response[str]:
        """One message as a fragment (what the stream sends), e.g. to see it again after it was hidden."""
        user = await logged_in_user(request)
        space = await space_for_member(user, space_id)
        message = await message_at(space, user, seq)
        html = environment.get_template("room/_message.html").render(message=message, viewer=user)
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-store", "Vary": "HX-Request"})

    # --- reports and hiding ------------------------------------------------------------------------

    @get("/spaces/{space_id:int}/messages/{seq:int}/report", name="new_report")
    async def new_report(self, request: Request[Any, Any, Any], space_id: RowId, seq: RowId) -> Response[str]:
        return await self._moderation_page(request, space_id, seq, "report")

    @post("/spaces/{space_id:int}/messages/{seq:int}/report", name="create_report")
    async def create_report(self, request: Request[Any, Any, Any], space_id: RowId, seq: RowId) -> Response[Any]:
        form = await read_form(request)
        errors = await do_report_message(await logged_in_user(request), space_id, seq, form.text("reason"))
        if errors:
            return await self._moderation_page(request, space_id, seq, "report", errors=errors,
                                               reason=form.text("reason")[:MAX_REASON_CHARS * 2], status_code=422)
        return redirect_to(request, "show_space", space_id=space_id, query=f"reported={seq}", fragment=f"m-{seq}")

    @get("/spaces/{space_id:int}/messages/{seq:int}/hide", name="new_hiding")
    async def new_hiding(self, request: Request[Any, Any, Any], space_id: RowId, seq: RowId) -> Response[str]:
        return await self._moderation_page(request, space_id, seq, "hide")

    @post("/spaces/{space_id:int}/messages/{seq:int}/hide", name="hide_message")
    async def hide_message(self, request: Request[Any, Any, Any], space_id: RowId, seq: RowId) -> Response[Any]:
        form = await read_form(request)
        errors = await do_hide_message(await logged_in_user(request), space_id, seq, form.text("reason"))
        if errors:
            return await self._moderation_page(request, space_id, seq, "hide", errors=errors,
                                               reason=form.text("reason")[:MAX_REASON_CHARS * 2], status_code=422)
        return redirect_to(request, "show_space", space_id=space_id, fragment=f"m-{seq}")

    async def _moderation_page(self, request: Request[Any, Any, Any], space_id: int, seq: int, action: str, *,
                               errors: FormErrors | None = None, reason: str = "", status_code: int = 200
                               ) -> Response[str]:
        user = await logged_in_user(request)
        space = await space_for_member(user, space_id)
        message = await message_at(space, user, seq)
        allowed = message.can_moderate if action == "hide" else message.can_report
        if not allowed:
            raise Refused(_refusal(action), 403)
        return await page(request, "room/moderate.html", block="moderation_form", status_code=status_code,
                          space=space, message=message, viewer=user, action=action, errors=errors or FormErrors(),
                          reason=reason, max_reason=MAX_REASON_CHARS)

    # --- the mediator's controls -------------------------------------------------------------------

    @get("/cases/{case_id:int}/room/participants/{user_id:int}", name="show_participant")
    async def show_participant(self, request: Request[Any, Any, Any], case_id: RowId, user_id: RowId
                               ) -> Response[str]:
        return await self._participant_page(request, case_id, user_id)

    async def _participant_page(self, request: Request[Any, Any, Any], case_id: int, user_id: int, *,
                                errors: FormErrors | None = None, status_code: int = 200) -> Response[str]:
        user = await logged_in_user(request)
        entry = await room_entry(user, case_id)
        if not entry.party.is_mediator:
            raise NotFoundException()
        overview = await mediator_overview(entry)
        person = next((item for item in overview["participants"] if item.user_id == user_id), None)
        if person is None:
            raise NotFoundException()
        return await page(request, "room/participant.html", block="mute_form", status_code=status_code,
                          case=entry.case, person=person, errors=errors or FormErrors(),
                          durations=list(MUTE_DURATIONS))

    @post("/cases/{case_id:int}/room/mutes", name="create_mute")
    async def create_mute(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        form = await read_form(request)
        target = _form_id(form.text("user"))
        if target is None:
            raise NotFoundException()
        errors = await do_mute(await logged_in_user(request), case_id, target, form.text("duration"),
                               form.text("reason"))
        if errors:
            return await self._participant_page(request, case_id, target, errors=errors, status_code=422)
        return redirect_to(request, "show_participant", case_id=case_id, user_id=target)

    @post("/cases/{case_id:int}/room/mutes/{user_id:int}/lift", name="lift_mute")
    async def lift_mute(self, request: Request[Any, Any, Any], case_id: RowId, user_id: RowId) -> Response[Any]:
        await do_lift_mute(await logged_in_user(request), case_id, user_id)
        return redirect_to(request, "show_participant", case_id=case_id, user_id=user_id)

    @post("/cases/{case_id:int}/room/reports/{report_id:int}/handled", name="handle_report")
    async def handle_report(self, request: Request[Any, Any, Any], case_id: RowId, report_id: RowId
                            ) -> Response[Any]:
        await do_handle_report(await logged_in_user(request), case_id, report_id)
        return redirect_to(request, "show_room", case_id=case_id, fragment="reports")

    # --- files ---------------------------------------------------------------------------------------

    @get("/room/attachments/{attachment_id:int}", name="show_room_attachment")
    async def show_room_attachment(self, request: Request[Any, Any, Any], attachment_id: RowId) -> Response[Any]:
        attachment = await attachment_for_member(await logged_in_user(request), attachment_id)
        return stored_file(attachment_path(attachment.stored_name), attachment.original_name,
                           attachment.content_type)


def _refusal(action: str) -> str:
    if action == "hide":
        return _("Only the mediator can hide a message, and this one is already hidden.")
    return _("You cannot report this message (your own, or one already hidden).")

