"""Database engine chosen from the settings, and the few helpers every write path shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote, urlsplit

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from app.settings import Settings


class LoopLocalPostgresEngine(PostgresEngine):
    """A PostgreSQL engine with one connection pool per event loop.

    The web server and the in-process Dramatiq worker each run their own loop, and an asyncpg pool
    only works on the loop that created it.
    """

    @property  # type: ignore[override]
    def pool(self) -> Any:
        pools = self.__dict__.get("_pools", {})
        try:
            return pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    @pool.setter
    def pool(self, value: Any) -> None:
        pools = self.__dict__.setdefault("_pools", {})
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # only __init__ sets it outside a loop, to None
        if value is None:
            pools.pop(loop, None)
        else:
            pools[loop] = value


def postgres_config(url: str) -> dict[str, Any]:
    """asyncpg connection arguments from a postgres:// URL."""
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": unquote(parts.path.lstrip("/")) or "postgres",
        "user": unquote(parts.username or "postgres"),
    }
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def make_engine(settings: Settings) -> PostgresEngine | SQLiteEngine:
    """PostgreSQL when DATABASE_URL is set, else the embedded SQLite file."""
    if settings.uses_postgres:
        return LoopLocalPostgresEngine(config=postgres_config(settings.database_url))
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(path=str(settings.sqlite_path), timeout=30)


def engine() -> PostgresEngine | SQLiteEngine:
    """The engine the tables are bound to (piccolo_conf.DB)."""
    from app.tables import User

    return User._meta.db  # type: ignore[return-value]


_after_commit: ContextVar[list[Callable[[], Any]] | None] = ContextVar("after_commit", default=None)


def after_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current write_transaction commits (at once outside one).

    Jobs are enqueued this way, so a worker never looks for a row that is not committed yet.
    """
    pending = _after_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that takes the write lock at once on SQLite (DEFERRED fails under concurrent writers)."""
    if _after_commit.get() is not None:  # nested: the outer transaction commits, and runs the callbacks
        yield
        return
    db = engine()
    callbacks: list[Callable[[], Any]] = []
    token = _after_commit.set(callbacks)
    try:
        if isinstance(db, SQLiteEngine):
            async with db.transaction(transaction_type=TransactionType.immediate):
                yield
        else:
            async with db.transaction():
                yield
    finally:
        _after_commit.reset(token)
    for callback in callbacks:
        callback()


async def prepare_sqlite(db: SQLiteEngine) -> None:
    """WAL lets readers go on while one writer writes; set once, it sticks to the file."""
    await db.run_ddl("PRAGMA journal_mode=WAL;")
