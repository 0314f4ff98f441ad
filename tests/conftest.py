"""Test configuration: the environment is set here, first, before anything imports the app.

Each run gets its own database (a SQLite file, or a throwaway PostgreSQL database when DATABASE_URL is
set), its own Redis key prefix, and its own var/ folder, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

RUN_ID = secrets.token_hex(4)
_VAR_DIR = Path(tempfile.mkdtemp(prefix=f"clf-test-{RUN_ID}-"))
_SERVER_DATABASE_URL = os.environ.get("DATABASE_URL", "")
TEST_DATABASE_NAME = f"clf_test_{RUN_ID}"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _postgres(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_with_database(_SERVER_DATABASE_URL, "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if _SERVER_DATABASE_URL:
    asyncio.run(_postgres(f'CREATE DATABASE "{TEST_DATABASE_NAME}"'))
    os.environ["DATABASE_URL"] = _with_database(_SERVER_DATABASE_URL, TEST_DATABASE_NAME)

os.environ.update({
    "VAR_DIR": str(_VAR_DIR),
    "REDIS_PREFIX": f"clf-test-{RUN_ID}",
    "EMBEDDED_WORKER": "0",  # tests start the workers they need
    "SMTP_URL": "",
    "BASE_URL": "http://testserver.local",
    "LOGIN_RATE_PER_MINUTE": "1000",
    "MAIL_RETRY_MIN_MS": "100",
    "MAIL_MAX_ATTEMPTS": "3",
})

import pytest  # noqa: E402

pytest_plugins = ["tests.fixtures"]


def _drop_redis_keys() -> None:
    """Dramatiq leaves heartbeat keys behind; this run's prefix is its own, so all of it can go."""
    if not os.environ.get("REDIS_URL"):
        return
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        for prefix in (os.environ["REDIS_PREFIX"], os.environ["REDIS_PREFIX"].upper()):
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        _drop_redis_keys()
    except Exception as error:  # leftover keys are harmless; say so rather than fail the run
        print(f"could not clean Redis keys: {error}")
    if _SERVER_DATABASE_URL:
        try:
            asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{TEST_DATABASE_NAME}" WITH (FORCE)'))
        except Exception as error:  # a leftover database is harmless; say so rather than fail the run
            print(f"could not drop {TEST_DATABASE_NAME}: {error}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    engine = "postgresql" if _SERVER_DATABASE_URL else "sqlite"
    broker = "redis" if os.environ.get("REDIS_URL") else "in-process (StubBroker)"
    return [f"cessez-le-feu: database={engine} ({TEST_DATABASE_NAME if _SERVER_DATABASE_URL else _VAR_DIR}), "
            f"broker={broker}, run={RUN_ID}"]
