"""deliver_mail: sends one outbox row over SMTP, retried with backoff by Dramatiq."""

from __future__ import annotations

import dramatiq

from app.actions.mail import MAX_BACKOFF_MS
from app.settings import get_settings
from workers import broker  # noqa: F401

_settings = get_settings()


@dramatiq.actor(
    queue_name="mail",
    max_retries=max(_settings.mail_max_attempts - 1, 0),
    min_backoff=_settings.mail_retry_min_ms,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=60_000,
)
async def deliver_mail(mail_id: int) -> None:
    """Idempotent: a mail already sent, or claimed by another worker, is skipped."""
    from app.actions.mail import do_deliver_mail

    await do_deliver_mail(mail_id)
