"""Notifications and reminders: what every other action uses to tell people things, now or later.

A notification is written in its recipient's language when the event happens, shown in the in-app
centre, and mailed at once, in the daily digest, or not at all, as the recipient prefers; legal notices
are always mailed. A reminder is a row with a due time and a unique key: created once, claimed once by
the scheduler, handled once.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from app import i18n
from app.actions import jobs
from app.actions.mail import do_queue_mail
from app.platform.db import after_commit, write_transaction
from app.tables import AuditEvent, Notification, Reminder, User

PAGE_SIZE = 30
# A digest lists what was not mailed within this window: switching from "off" back to the digest
# must not mail weeks of backlog (the centre still shows it all).
DIGEST_WINDOW = timedelta(hours=48)
# A claimed reminder whose job was lost (in-memory broker restarted) is enqueued again after this long.
STALE_CLAIM = timedelta(minutes=10)


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    """Mark a msgid for extraction; it is translated when written for each recipient."""
    return message


class NotifyMode:
    immediate = "immediate"
    digest = "digest"
    off = "off"
    all = ("immediate", "digest", "off")


async def do_notify(
    user_ids: Iterable[int], *, kind: str, title: str, body: str = "", link: str = "",
    case_id: int | None = None, params: dict[str, Any] | None = None, legal: bool = False,
) -> int:
    """Notify each user; `title`/`body` are msgids (marked with N_) formatted with `params`. Returns the count."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    params = params or {}
    users = await User.select(User.id, User.email, User.locale, User.notify_mode).where(User.id.is_in(ids))
    now = datetime.now(UTC)
    async with write_transaction():
        for user in users:
            with i18n.language_of(user["locale"]):
                text_title = i18n.gettext(title) % params if params else i18n.gettext(title)
                text_body = (i18n.gettext(body) % params if params else i18n.gettext(body)) if body else ""
            mail_now = legal or user["notify_mode"] == NotifyMode.immediate
            await Notification.insert(Notification(
                user=user["id"], case=case_id, kind=kind, title=text_title[:300], body=text_body, link=link,
                params=params, is_legal=legal, mailed_at=now if mail_now else None,
            ))
            if mail_now:
                await do_queue_mail(to=user["email"], template="mail/notification.txt", language=user["locale"],
                                    title=text_title, body=text_body, link=link, legal=legal)
    return len(users)


async def unread_count(user_id: int) -> int:
    return await Notification.count().where(Notification.user == user_id, Notification.read_at.is_null())


async def notifications_page(user_id: int, *, before: tuple[datetime, int] | None = None,
                             limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], tuple[datetime, int] | None]:
    """One page of the user's notifications, newest first, and the cursor of the next (older) page.

    Keyset pagination on (created_at, id): the cost of a page does not grow with the history.
    """
    query = Notification.select(
        Notification.id, Notification.kind, Notification.title, Notification.body, Notification.link,
        Notification.is_legal, Notification.created_at, Notification.read_at,
    ).where(Notification.user == user_id)
    if before is not None:
        at, last_id = before
        query = query.where((Notification.created_at < at)
                            | ((Notification.created_at == at) & (Notification.id < last_id)))
    rows = await query.order_by(Notification.created_at, Notification.id, ascending=False).limit(limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1]["created_at"], rows[-1]["id"])


async def do_mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or every) notification of this user read; another user's id changes nothing."""
    query = Notification.update({Notification.read_at: datetime.now(UTC)}).where(
        Notification.user == user_id, Notification.read_at.is_null())
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return len(await query.returning(Notification.id))


async def do_set_notify_mode(user_id: int, mode: str) -> bool:
    """Save one's own e-mail preference; an unknown mode changes nothing and returns False."""
    if mode not in NotifyMode.all:
        return False
    async with write_transaction():
        before = await User.select(User.notify_mode).where(User.id == user_id).first()
        if before is None:
            return False
        if before["notify_mode"] != mode:
            await User.update({User.notify_mode: mode}).where(User.id == user_id)
            await AuditEvent.insert(AuditEvent(actor=user_id, kind="notify_mode_changed",
                                               details={"from": before["notify_mode"], "to": mode}))
    return True


async def do_send_digests(now: datetime | None = None) -> int:
    """Once a day per user in digest mode: one mail listing what was not mailed yet. Returns mails queued."""
    now = now or datetime.now(UTC)
    due_before = now - timedelta(hours=23)
    users = await User.select(User.id, User.email, User.locale, User.last_digest_at).where(
        User.notify_mode == NotifyMode.digest,
        User.last_digest_at.is_null() | (User.last_digest_at < due_before),
    )
    queued = 0
    for user in users:
        async with write_transaction():
            # Claim this user's digest first: a second scheduler finds nothing to do.
            claimed = await User.update({User.last_digest_at: now}).where(
                User.id == user["id"], User.notify_mode == NotifyMode.digest,
                User.last_digest_at.is_null() | (User.last_digest_at < due_before),
            ).returning(User.id)
            if not claimed:
                continue
            items = await Notification.update({Notification.mailed_at: now}).where(
                Notification.user == user["id"], Notification.mailed_at.is_null(),
                Notification.created_at >= now - DIGEST_WINDOW,
            ).returning(Notification.id, Notification.title, Notification.link)
            if items:
                items.sort(key=lambda item: item["id"])
                await do_queue_mail(to=user["email"], template="mail/digest.txt", language=user["locale"],
                                    items=items)
                queued += 1
    return queued


# --- reminders ---------------------------------------------------------------------------------------

ReminderHandler = Callable[[Reminder], Awaitable[None]]
REMINDER_HANDLERS: dict[str, ReminderHandler] = {}


def reminder_handler(kind: str) -> Callable[[ReminderHandler], ReminderHandler]:
    """Register what to do when a reminder of this kind is due (the module must be imported by
    `app.actions.reminder_kinds`, which the reminder actor imports: this module cannot, they import it)."""

    def register(handler: ReminderHandler) -> ReminderHandler:
        REMINDER_HANDLERS[kind] = handler
        return handler

    return register


async def do_schedule_reminder(key: str, *, kind: str, due_at: datetime, case_id: int | None = None,
                               params: dict[str, Any] | None = None) -> bool:
    """Create the reminder unless one with this key exists; returns whether it was created.

    ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a failed insert would
    abort the caller's whole transaction.
    """
    created = await Reminder.insert(
        Reminder(key=key, kind=kind, due_at=due_at, case=case_id, params=params or {}),
    ).on_conflict(target=Reminder.key, action="DO NOTHING").returning(Reminder.id)
    return bool(created)


async def do_cancel_reminders(key_prefix: str) -> int:
    """Cancel the reminders not yet handled whose key starts with the prefix (e.g. the case's invitation ones).

    A claimed one is cancelled too: its job then finds it no longer claimed and does nothing.
    """
    if not key_prefix:
        return 0
    # LIKE is only a coarse filter (`_` is a wildcard, SQLite ignores case): the prefix is checked exactly here.
    coarse = key_prefix.replace("%", "_") + "%"
    candidates = await Reminder.select(Reminder.id, Reminder.key).where(
        Reminder.key.like(coarse), Reminder.status.is_in(["pending", "claimed"]))
    ids = [row["id"] for row in candidates if row["key"].startswith(key_prefix)]
    if not ids:
        return 0
    rows = await Reminder.update({Reminder.status: "cancelled"}).where(
        Reminder.id.is_in(ids), Reminder.status.is_in(["pending", "claimed"]),
    ).returning(Reminder.id)
    return len(rows)


async def do_claim_due_reminders(now: datetime | None = None, limit: int = 200) -> list[int]:
    """The scheduler's part: claim due reminders (pending → claimed) and enqueue each once."""
    now = now or datetime.now(UTC)
    due = await Reminder.select(Reminder.id).where(Reminder.status == "pending", Reminder.due_at <= now).limit(limit)
    claimed: list[int] = []
    for row in due:
        got = await Reminder.update({Reminder.status: "claimed", Reminder.claimed_at: now}).where(
            Reminder.id == row["id"], Reminder.status == "pending").returning(Reminder.id)
        if got:
            claimed.append(row["id"])
    # A claimed reminder whose job was lost (in-memory broker restarted) is enqueued again after STALE_CLAIM.
    # Claiming it anew (claimed_at moves on) makes one sweep, not every concurrent one, enqueue it, and
    # spaces the retries of one that keeps failing.
    stale = await Reminder.select(Reminder.id).where(
        Reminder.status == "claimed", Reminder.claimed_at < now - STALE_CLAIM).limit(limit)
    reclaimed: list[int] = []
    for row in stale:
        got = await Reminder.update({Reminder.claimed_at: now}).where(
            Reminder.id == row["id"], Reminder.status == "claimed", Reminder.claimed_at < now - STALE_CLAIM,
        ).returning(Reminder.id)
        if got:
            reclaimed.append(row["id"])
    send_reminder = jobs.actor("send_reminder")
    for reminder_id in claimed + reclaimed:
        after_commit(functools.partial(send_reminder.send, reminder_id))
    return claimed


async def do_handle_reminder(reminder_id: int) -> str:
    """The actor's part: mark done and run the handler in one transaction, so it happens exactly once (the
    handlers are registered by whoever runs it: `app.actions.reminder_kinds`, imported by the actor)."""
    try:
        async with write_transaction():
            done = await Reminder.update(
                {Reminder.status: "done", Reminder.done_at: datetime.now(UTC), Reminder.last_error: ""},
            ).where(Reminder.id == reminder_id, Reminder.status == "claimed").returning(Reminder.id)
            if not done:
                return "skipped"
            reminder = await Reminder.objects().where(Reminder.id == reminder_id).first()
            assert reminder is not None
            handler = REMINDER_HANDLERS.get(reminder.kind)
            if handler is None:
                raise LookupError(f"no handler for reminder kind {reminder.kind!r}")
            await handler(reminder)
    except Exception as error:
        # Everything above rolled back (the row is "claimed" again, for the actor's retry); keep the reason.
        await Reminder.update({Reminder.last_error: f"{type(error).__name__}: {error}"[:2000]}).where(
            Reminder.id == reminder_id, Reminder.status == "claimed")
        raise
    return "done"
