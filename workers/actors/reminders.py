"""send_reminder: handles one claimed reminder, exactly once (see app.actions.notifications)."""

from __future__ import annotations

import dramatiq

from workers import broker  # noqa: F401


@dramatiq.actor(queue_name="reminders", max_retries=5, min_backoff=5_000, max_backoff=300_000, time_limit=120_000)
async def send_reminder(reminder_id: int) -> None:
    import app.actions.reminder_kinds  # noqa: F401  (registers every handler)
    from app.actions.notifications import do_handle_reminder

    await do_handle_reminder(reminder_id)
