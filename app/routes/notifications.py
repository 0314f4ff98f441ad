"""The notification centre: one's notifications (newest first), marking them read, the badge, e-mail settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import MediaType
from litestar.exceptions import ClientException
from litestar.params import FromQuery

from app.actions.access import notification_for_viewer
from app.actions.notifications import (
    NotifyMode,
    do_mark_read,
    do_set_notify_mode,
    notifications_page,
    unread_count,
)
from app.http.auth import current_user, requires_login
from app.http.forms import read_form
from app.http.web import RowId, page, path_for, redirect, redirect_to, safe_next, wants_fragment
from app.i18n import _
from app.platform.templating import environment
from app.tables import User

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,17})-(\d{1,10})")
# htmx stops polling on this status; the badge of a visitor whose session ended goes away.
STOP_POLLING = 286


def encode_cursor(position: tuple[datetime, int]) -> str:
    """The "older" link's position: microseconds since 1970 and the id, exact on both engines."""
    at, notification_id = position
    delta = at.astimezone(UTC) - EPOCH
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}-{notification_id}"


def decode_cursor(value: str | None) -> tuple[datetime, int] | None:
    """None for the first page; a malformed or forged cursor is a 400."""
    if not value:
        return None
    match = _CURSOR.fullmatch(value)
    if match is None:
        raise ClientException(detail="malformed cursor")
    micros, notification_id = int(match.group(1)), int(match.group(2))
    if not 0 < notification_id <= 2**31 - 1:  # 17 digits of microseconds stay before the year 5000
        raise ClientException(detail="malformed cursor")
    return EPOCH + timedelta(microseconds=micros), notification_id


def mode_choices() -> list[tuple[str, str, str]]:
    return [
        (NotifyMode.immediate, _("At once"), _("One e-mail for each new notification.")),
        (NotifyMode.digest, _("Daily digest"), _("At most one e-mail a day, listing what happened.")),
        (NotifyMode.off, _("Never"), _("Only the notification centre, except legal notices.")),
    ]


class NotificationController(Controller):
    """Every logged-in role has a notification centre; nobody sees another user's notifications.

    Guards are per handler: the badge, polled by htmx, answers a visitor whose session ended without a redirect.
    """

    path = "/notifications"

    async def _render(self, request: Request[Any, Any, Any], user: User, *, block: str | None = None,
                      before: tuple[datetime, int] | None = None, status_code: int = 200,
                      **context: Any) -> Response[str]:
        rows, older = await notifications_page(user.id, before=before)
        items = [row | {"link": safe_next(row["link"], "")} for row in rows]
        context = {"mode": user.notify_mode, "saved": False, "error": ""} | context
        return await page(request, "notifications/list_notifications.html", block=block, status_code=status_code,
                          notifications=items, older=encode_cursor(older) if older else "",
                          first_page=before is None, modes=mode_choices(), badge_oob=wants_fragment(request),
                          **context)

    @get("", name="list_notifications", guards=[requires_login])
    async def list_notifications(self, request: Request[Any, Any, Any], before: FromQuery[str | None] = None,
                                 saved: FromQuery[bool] = False) -> Response[str]:
        user = await current_user(request)
        assert user is not None  # guarded
        return await self._render(request, user, before=decode_cursor(before), saved=saved)

    @post("/{notification_id:int}/read", name="read_notification", guards=[requires_login])
    async def read_notification(self, request: Request[Any, Any, Any], notification_id: RowId) -> Response[Any]:
        """Mark it read, then go where it points (a local path only)."""
        user = await current_user(request)
        assert user is not None  # guarded
        notification = await notification_for_viewer(user, notification_id)
        await do_mark_read(user.id, notification.id)
        return redirect(request, safe_next(notification.link, path_for(request, "list_notifications")))

    @post("/read-all", name="read_all_notifications", guards=[requires_login])
    async def read_all_notifications(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await current_user(request)
        assert user is not None  # guarded
        await do_mark_read(user.id)
        if wants_fragment(request):
            return await self._render(request, user, block="notification_list")
        return redirect_to(request, "list_notifications")

    @post("/settings", name="update_notification_settings", guards=[requires_login])
    async def update_notification_settings(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await current_user(request)
        assert user is not None  # guarded
        form = await read_form(request)
        mode = form.text("mode")
        if not await do_set_notify_mode(user.id, mode):
            return await self._render(request, user, block="notification_settings", status_code=422,
                                      error=_("Please choose one of the options."))
        if wants_fragment(request):
            return await self._render(request, user, block="notification_settings", mode=mode, saved=True)
        return redirect_to(request, "list_notifications", query="saved=1")

    @get("/badge", name="notification_badge")
    async def notification_badge(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The header's badge alone, polled by htmx; polling is not activity, so it does not extend the session."""
        session = request.scope.get("session")
        seen_at = session.get("seen_at") if isinstance(session, dict) else None
        user = await current_user(request)
        headers = {"Cache-Control": "no-store", "Vary": "HX-Request"}
        if user is None:
            return Response("", media_type=MediaType.HTML, status_code=STOP_POLLING, headers=headers)
        if isinstance(session, dict) and isinstance(seen_at, int):
            session["seen_at"] = seen_at
        html = environment.get_template("notifications/_badge.html").render(
            request=request, user=user, unread_notifications=await unread_count(user.id))
        return Response(html, media_type=MediaType.HTML, headers=headers)
