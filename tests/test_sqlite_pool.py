"""The SQLite engine's reused connections (app/platform/db.py PooledSQLiteEngine), on a database file of its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from piccolo.querystring import QueryString

from app.platform.db import PooledSQLiteEngine


@pytest.fixture
async def pooled(tmp_path: Path) -> PooledSQLiteEngine:
    db = PooledSQLiteEngine(path=str(tmp_path / "pool.sqlite"), timeout=30)
    await db.run_ddl("PRAGMA journal_mode=WAL;")
    await db.run_ddl("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    yield db
    await db.close_pool()


async def test_many_concurrent_statements_share_a_few_connections(pooled: PooledSQLiteEngine) -> None:
    threads_before = threading.active_count()
    names = [f"n{i}" for i in range(60)]
    await asyncio.gather(*(pooled.run_querystring(QueryString("INSERT INTO item (name) VALUES ({})", name))
                           for name in names))
    rows = await asyncio.gather(*(pooled.run_querystring(QueryString("SELECT count(*) AS n FROM item"))
                                  for _ in range(60)))
    assert {row[0]["n"] for row in rows} == {60}  # every insert committed, seen by every connection
    assert threading.active_count() - threads_before <= PooledSQLiteEngine.POOL_SIZE
    pool = pooled._pool()
    assert pool.opened == len(pool.idle) <= PooledSQLiteEngine.POOL_SIZE


async def test_a_failed_statement_loses_its_connection_not_the_pool(pooled: PooledSQLiteEngine) -> None:
    await pooled.run_querystring(QueryString("INSERT INTO item (name) VALUES ({})", "same"))
    with pytest.raises(sqlite3.IntegrityError):
        await pooled.run_querystring(QueryString("INSERT INTO item (name) VALUES ({})", "same"))
    rows = await pooled.run_querystring(QueryString("SELECT name FROM item"))
    assert rows == [{"name": "same"}]
    pool = pooled._pool()
    assert pool.opened == len(pool.idle)  # nothing leaked


async def test_a_cancelled_statement_frees_its_place(pooled: PooledSQLiteEngine) -> None:
    slow = QueryString("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) "
                       "SELECT count(*) AS n FROM c")
    tasks = [asyncio.create_task(pooled.run_querystring(slow)) for _ in range(PooledSQLiteEngine.POOL_SIZE)]
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    rows = await asyncio.wait_for(pooled.run_querystring(QueryString("SELECT 1 AS one")), 30)
    assert rows == [{"one": 1}]


async def test_pooled_connections_enforce_foreign_keys(pooled: PooledSQLiteEngine) -> None:
    await pooled.run_ddl("CREATE TABLE child (id INTEGER PRIMARY KEY, item INTEGER REFERENCES item(id))")
    with pytest.raises(sqlite3.IntegrityError):
        await pooled.run_querystring(QueryString("INSERT INTO child (item) VALUES ({})", 999))
