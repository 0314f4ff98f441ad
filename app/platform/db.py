"""Database engine chosen from the settings, and the few helpers every write path shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosqlite
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory

from app.settings import Settings

logger = logging.getLogger("clf.db")


class LoopLocalPostgresEngine(PostgresEngine):
    """A PostgreSQL engine with one connection pool per event loop.

    The web server and the in-process Dramatiq worker each run their own loop, and an asyncpg pool
    only works on the loop that created it.
    """

    @property
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


class _ConnectionPool:
    """A few open SQLite connections of one event loop, handed out one statement at a time."""

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.idle: list[aiosqlite.Connection] = []
        self.opened = 0

    async def acquire(self, open_connection: Callable[[], Any]) -> aiosqlite.Connection:
        await self.slots.acquire()
        if self.idle:
            return self.idle.pop()
        try:
            connection = await open_connection()
        except BaseException:
            self.slots.release()
            raise
        self.opened += 1
        return connection

    def release(self, connection: aiosqlite.Connection) -> None:
        self.idle.append(connection)
        self.slots.release()

    async def forget(self, connection: aiosqlite.Connection) -> None:
        """A connection in an unknown state (its statement failed or was interrupted): closed, not reused."""
        self.opened -= 1
        self.slots.release()
        closed = connection.stop()  # closes it in its thread once what is queued there has run
        if closed is not None:
            with contextlib.suppress(BaseException):  # the caller re-raises what interrupted it
                await asyncio.shield(closed)

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        self.opened -= len(idle)
        for connection in idle:
            await connection.close()


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, reusing open connections for statements outside a transaction.

    Piccolo opens a connection — and with aiosqlite a thread — for every such statement; starting that thread
    blocks the event loop until it runs, which under load delayed every other request and stream. Statements
    run in autocommit (isolation_level=None), so a reused connection carries no transaction from one to the
    next. Transactions keep their own connection (Piccolo's). One pool per event loop: the web server and the
    in-process worker run their own.
    """

    POOL_SIZE = 4

    def _pool(self) -> _ConnectionPool:
        pools = self.__dict__.setdefault("_pools", weakref.WeakKeyDictionary())
        loop = asyncio.get_running_loop()
        pool = pools.get(loop)
        if pool is None:
            pool = pools[loop] = _ConnectionPool(self.POOL_SIZE)
        return pool

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        thread = getattr(connection, "_thread", None)
        if thread is not None:
            thread.daemon = True  # an idle pooled connection never holds the process at exit
        await connection
        await connection.execute("PRAGMA foreign_keys = 1")
        connection.row_factory = dict_factory  # type: ignore[assignment]
        return connection

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: Any = None) -> Any:
        pool = self._pool()
        connection = await pool.acquire(self._open)
        try:
            async with connection.execute(query, args or []) as cursor:
                if query_type == "insert" and self.get_version_sync() < 3.35:  # no RETURNING before 3.35
                    assert table is not None
                    pk = await self._get_inserted_pk(cursor, table)
                    rows: Any = [{table._meta.primary_key._meta.db_column_name: pk}]
                else:
                    rows = await cursor.fetchall()
        except BaseException:
            await pool.forget(connection)
            raise
        pool.release(connection)
        return rows

    async def close_pool(self) -> None:
        """Close this event loop's idle connections (at shutdown)."""
        pool = self.__dict__.get("_pools", {}).get(asyncio.get_running_loop())
        if pool is not None:
            await pool.close()


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
    return PooledSQLiteEngine(path=str(settings.sqlite_path), timeout=30)


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
        _run_quietly(callback)
    else:
        pending.append(callback)


def _run_quietly(callback: Callable[[], Any]) -> None:
    """What runs after a commit only wakes something up or enqueues a job whose row is already committed: if it
    fails (Redis down), the committed state stands and a sweep picks it up, so the request still succeeds."""
    try:
        callback()
    except Exception:
        logger.warning("an after-commit step failed; the scheduler's sweep will catch up", exc_info=True)


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
        _run_quietly(callback)


async def open_pool(max_size: int) -> None:
    """This event loop's PostgreSQL pool (an asyncpg pool works only on the loop that opened it); nothing to open
    on SQLite, whose pooled connections open on first use."""
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=max_size)


async def close_pool() -> None:
    """Close what this event loop opened: its PostgreSQL pool, or its idle SQLite connections."""
    db = engine()
    if isinstance(db, PostgresEngine):
        if db.pool is not None:
            await db.close_connection_pool()
    elif isinstance(db, PooledSQLiteEngine):
        await db.close_pool()


async def prepare_sqlite(db: SQLiteEngine) -> None:
    """WAL lets readers go on while one writer writes; set once, it sticks to the file."""
    await db.run_ddl("PRAGMA journal_mode=WAL;")
