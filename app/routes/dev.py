"""The local mailbox: in embedded mode, lets a newcomer read the mails the app would have sent."""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from app.http.web import RowId, page
from app.settings import settings_of
from app.tables import OutboxMail


def local_dev_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only when enabled, and only for a client on this machine; anyone else sees a 404."""
    host = connection.client.host if connection.client else ""
    try:
        is_local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_local = host == "testclient"  # Litestar's test client has no address
    if not (settings_of(connection).dev_mailbox and is_local):
        raise NotFoundException()


class DevMailboxController(Controller):
    path = "/dev/mailbox"
    guards = [local_dev_only]

    @get("/", name="list_mails")
    async def list_mails(self, request: Request[Any, Any, Any]) -> Response[str]:
        mails = await OutboxMail.select(
            OutboxMail.id, OutboxMail.to_address, OutboxMail.subject, OutboxMail.status, OutboxMail.created_at
        ).order_by(OutboxMail.id, ascending=False).limit(100)
        return await page(request, "dev/mailbox.html", mails=mails)

    @get("/{mail_id:int}", name="show_mail")
    async def show_mail(self, request: Request[Any, Any, Any], mail_id: RowId) -> Response[str]:
        mail = await OutboxMail.objects().where(OutboxMail.id == mail_id).first()
        if mail is None:
            raise NotFoundException()
        return await page(request, "dev/mail.html", mail=mail)
