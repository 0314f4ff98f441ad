"""The scheduler: once a minute, sweep due work from the database and hand it to the actors.

Embedded mode runs `run_forever()` as a task of the web process; scaled mode runs exactly one
`python -m workers.scheduler`. Every sweep is a set of conditional updates, so two schedulers at once
would still send nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from litestar.stores.file import FileStore

from app.actions.agreements import do_sweep_finalizations
from app.actions.mail import do_requeue_stale_mail
from app.actions.notifications import do_claim_due_reminders, do_send_digests
from app.actions.timeline import do_expire_cases
from app.tables import AccountToken

logger = logging.getLogger("clf.scheduler")
SWEEP_SECONDS = 60


async def sweep_once(session_store: object | None = None) -> dict[str, int]:
    """One pass over everything that may be due; returns counts for the log."""
    counts = {
        "mail_requeued": await do_requeue_stale_mail(),
        "reminders_claimed": len(await do_claim_due_reminders()),
        "digests_queued": await do_send_digests(),
        "finalizations_enqueued": len(await do_sweep_finalizations()),
        "mediations_expired": await do_expire_cases(),
    }
    deleted = await AccountToken.delete().where(AccountToken.expires_at < datetime.now(UTC)).returning(AccountToken.id)
    counts["tokens_expired"] = len(deleted)
    if isinstance(session_store, FileStore):
        # File and memory stores expire lazily; Redis expires keys itself.
        await session_store.delete_expired()
    return counts


async def run_forever(session_store: object | None = None, interval: float = SWEEP_SECONDS) -> None:
    while True:
        try:
            counts = await sweep_once(session_store)
            if any(counts.values()):
                logger.info("sweep: %s", counts)
        except Exception:  # a failed sweep must not stop the next ones
            logger.exception("sweep failed")
        await asyncio.sleep(interval)


def main() -> None:
    """Scaled mode: the one scheduler process, beside `dramatiq workers.actors` processes."""
    import workers.actors  # noqa: F401  (register the actors on the Redis broker)
    from app.db import engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        db = engine()
        if hasattr(db, "start_connection_pool"):
            await db.start_connection_pool(min_size=1, max_size=2)
        await run_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
