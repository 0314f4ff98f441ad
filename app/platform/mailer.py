"""Sending one mail over SMTP, as SMTP_URL says (smtp://, smtp://…?starttls=1, smtps://)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit


class MailConfigError(ValueError):
    pass


def message_id(message_key: str, domain: str) -> str:
    """The same Message-ID every time for one key (make_msgid adds a time and a random part): a mail sent again
    after a crash between the SMTP answer and our record of it is recognisable as the same mail."""
    safe_key = "".join(char for char in message_key if char.isalnum() or char in ".-_") or "mail"
    safe_domain = "".join(char for char in domain if char.isalnum() or char in ".-") or "cessez-le-feu.local"
    return f"<{safe_key}@{safe_domain}>"


def build_message(*, sender: str, to: str, subject: str, body: str, message_key: str) -> EmailMessage:
    """A plain-text mail; its Message-ID is stable per outbox row, so a repeat is recognisable as one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "cessez-le-feu.local"
    message["Message-ID"] = message_id(message_key, domain)
    message.set_content(body)
    return message


def _send(smtp_url: str, message: EmailMessage) -> None:
    parts = urlsplit(smtp_url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise MailConfigError("SMTP_URL must look like smtp://user:password@host:port")
    options = parse_qs(parts.query)
    timeout = 15
    client: smtplib.SMTP
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
    with client:
        if parts.scheme == "smtp" and options.get("starttls", ["0"])[0] in {"1", "true", "yes"}:
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


async def send_mail(smtp_url: str, message: EmailMessage) -> None:
    """Send in a thread; raises smtplib/OSError errors for the caller to retry."""
    await asyncio.to_thread(_send, smtp_url, message)
