"""Migrations at start, behind a lock: several processes starting together apply each migration once."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator

from app.settings import Settings

ADVISORY_LOCK_KEY = 0x636C665F6D6967  # "clf_mig": one lock number for this app's migrations


@contextlib.asynccontextmanager
async def migration_lock(settings: Settings) -> AsyncIterator[None]:
    """PostgreSQL: a session-level advisory lock on a connection of its own; SQLite: an exclusive lock on a file
    beside the database (processes sharing a SQLite file share its folder)."""
    if settings.uses_postgres:
        import asyncpg

        from app.platform.db import postgres_config

        connection = await asyncpg.connect(**postgres_config(settings.database_url))
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
            try:
                yield
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        finally:
            await connection.close()
        return
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    with (settings.var_dir / "migrate.lock").open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def migrate_under_lock(settings: Settings) -> None:
    """Apply every pending migration once the lock is ours (whoever waited finds nothing left to do)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    async with migration_lock(settings):
        result = await run_forwards(app_name="all", migration_id="all")
    if not result.success:
        raise SystemExit(f"migration failed: {result.message}")
