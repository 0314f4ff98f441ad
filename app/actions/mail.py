"""Mail: every mail is written to the outbox in the recipient's language, then handed to the actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app import i18n
from app.actions import jobs
from app.platform.db import after_commit
from app.platform.mailer import build_message, send_mail
from app.platform.templating import render
from app.settings import get_settings
from app.tables import MailStatus, OutboxMail

CLAIM_SECONDS = 60  # a send takes seconds (SMTP timeout 15 s per step); after a crash the mail is retried this soon
MAX_BACKOFF_MS = 15 * 60 * 1000


async def do_queue_mail(*, to: str, template: str, language: str, **context: object) -> int:
    """Write one mail to the outbox and enqueue its delivery; returns the outbox id.

    `template` is a mail template whose first line is the subject.
    """
    settings = get_settings()
    with i18n.language_of(language):
        text = render(template, base_url=settings.base_url, **context)
    subject, _, body = text.partition("\n")
    status = MailStatus.pending if settings.smtp_url else MailStatus.held
    rows = await OutboxMail.insert(
        OutboxMail(to_address=to, subject=subject.strip()[:200], body_text=body.strip() + "\n", status=status.value)
    ).returning(OutboxMail.id)
    mail_id = rows[0]["id"]
    if status is MailStatus.pending:
        deliver_mail = jobs.actor("deliver_mail")
        after_commit(lambda: deliver_mail.send(mail_id))
    return mail_id


async def do_deliver_mail(mail_id: int) -> str:
    """Deliver one outbox mail once: claim it, send it, mark it. Safe to call twice (at-least-once jobs).

    Returns what happened: "sent", "skipped" (not ours to send now), or raises to let the actor retry.
    """
    settings = get_settings()
    if not settings.smtp_url:  # a process without SMTP (e.g. embedded) never spends an attempt on a mail
        return "skipped"
    now = datetime.now(UTC)
    claimed = await OutboxMail.update(
        {OutboxMail.status: MailStatus.sending.value, OutboxMail.claimed_until: now + timedelta(seconds=CLAIM_SECONDS),
         OutboxMail.attempts: OutboxMail.attempts + 1},
    ).where(
        OutboxMail.id == mail_id,
        (OutboxMail.status == MailStatus.pending.value)
        | ((OutboxMail.status == MailStatus.sending.value) & (OutboxMail.claimed_until < now)),
    ).returning(OutboxMail.id, OutboxMail.to_address, OutboxMail.subject, OutboxMail.body_text, OutboxMail.attempts,
                 OutboxMail.created_at)
    if not claimed:
        return "skipped"
    mail = claimed[0]
    message = build_message(sender=settings.mail_from, to=mail["to_address"], subject=mail["subject"],
                            body=mail["body_text"], message_key=f"outbox-{mail_id}.{mail['created_at']:%Y%m%d%H%M%S}")
    try:
        await send_mail(settings.smtp_url, message)
    except Exception as error:
        gave_up = mail["attempts"] >= settings.mail_max_attempts
        # Until the actor's own retry is due, the sweeper leaves the mail alone.
        retry_ms = min(settings.mail_retry_min_ms * 2 ** mail["attempts"], MAX_BACKOFF_MS)
        await OutboxMail.update(
            {OutboxMail.status: (MailStatus.failed if gave_up else MailStatus.pending).value,
             OutboxMail.last_error: f"{type(error).__name__}: {error}"[:2000],
             OutboxMail.claimed_until: None if gave_up else now + timedelta(milliseconds=retry_ms, minutes=2)},
        ).where(OutboxMail.id == mail_id)
        if gave_up:
            return "failed"
        raise
    await OutboxMail.update(
        {OutboxMail.status: MailStatus.sent.value, OutboxMail.sent_at: datetime.now(UTC),
         OutboxMail.claimed_until: None, OutboxMail.last_error: ""},
    ).where(OutboxMail.id == mail_id)
    return "sent"


async def do_requeue_stale_mail(older_than_seconds: int = 300) -> int:
    """Re-enqueue pending mails whose job may have been lost (in-memory broker restarted); returns how many."""
    if not get_settings().smtp_url:
        return 0
    deliver_mail = jobs.actor("deliver_mail")
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=older_than_seconds)
    rows = await OutboxMail.select(OutboxMail.id).where(
        ((OutboxMail.status == MailStatus.pending.value) & OutboxMail.claimed_until.is_null()
         & (OutboxMail.created_at < cutoff))
        | (OutboxMail.status.is_in([MailStatus.pending.value, MailStatus.sending.value])
           & (OutboxMail.claimed_until < now))
    ).limit(500)
    for row in rows:
        deliver_mail.send(row["id"])
    return len(rows)
