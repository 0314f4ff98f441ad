"""The scheduler: once a minute, sweep due work from the database and hand it to the actors.

Embedded mode runs `run_forever()` as a task of the web process; scaled mode runs exactly one
`python -m workers.scheduler`. Every sweep is a set of conditional updates, so two schedulers at once
would still send nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from app.actions.accounts import do_forget_expired_sessions
from app.actions.agreements import do_sweep_finalizations
from app.actions.mail import do_requeue_stale_mail
from app.actions.notifications import do_claim_due_reminders, do_send_digests
from app.actions.stored_files import do_sweep_orphan_files
from app.actions.timeline import do_expire_cases
from app.settings import get_settings
from app.tables import AccountToken

logger = logging.getLogger("clf.scheduler")


async def sweep_once(*, resume_all: bool = False) -> dict[str, int]:
    """One pass over everything that may be due; returns counts for the log. `resume_all`: enqueue every
    unfinished finalization again, however recently locked (right after a single-process restart)."""
    counts = {
        "mail_requeued": await do_requeue_stale_mail(older_than_seconds=0 if resume_all else 300),
        "reminders_claimed": len(await do_claim_due_reminders()),
        "digests_queued": await do_send_digests(),
        "finalizations_enqueued": len(await do_sweep_finalizations(stale_after=timedelta(0) if resume_all else None)),
        "mediations_expired": await do_expire_cases(),
        "orphan_files_removed": await do_sweep_orphan_files(),  # walks at most once an hour
    }
    deleted = await AccountToken.delete().where(AccountToken.expires_at < datetime.now(UTC)).returning(AccountToken.id)
    counts["tokens_expired"] = len(deleted)
    counts["sessions_expired"] = await do_forget_expired_sessions()
    return counts


async def run_forever(interval: float | None = None, *, resume_now: bool = False) -> None:
    """Sweep every `interval` seconds (SCHEDULER_INTERVAL_SECONDS by default); `resume_now`: the first sweep
    resumes every unfinished finalization and mail at once."""
    interval = get_settings().scheduler_interval_seconds if interval is None else interval
    first = True
    while True:
        try:
            counts = await sweep_once(resume_all=resume_now and first)
            first = False
            if any(counts.values()):
                logger.info("sweep: %s", counts)
        except Exception:  # a failed sweep must not stop the next ones
            logger.exception("sweep failed")
        await asyncio.sleep(interval)


def main() -> None:
    """Scaled mode: the one scheduler process, beside `dramatiq workers.actors` processes."""
    import workers.actors  # noqa: F401  (register the actors on the Redis broker)
    from app.platform.db import open_pool

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        await open_pool(max_size=2)
        await run_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
