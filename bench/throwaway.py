"""A benchmark's own world: a temporary VAR_DIR, a fresh PostgreSQL database when DATABASE_URL is set, its own
Redis prefix; all removed afterwards. Set up before anything imports the app (the settings read the
environment once)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from urllib.parse import urlsplit, urlunsplit

RUN = secrets.token_hex(4)
SERVER_DATABASE_URL = os.environ.get("DATABASE_URL", "")
BENCH_DATABASE = f"clf_bench_{RUN}"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _postgres(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(with_database(SERVER_DATABASE_URL, "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def prepare(**settings: str) -> None:
    """This run's folder, database and Redis prefix, plus `settings` (more environment variables)."""
    if SERVER_DATABASE_URL:
        asyncio.run(_postgres(f'CREATE DATABASE "{BENCH_DATABASE}"'))
        os.environ["DATABASE_URL"] = with_database(SERVER_DATABASE_URL, BENCH_DATABASE)
    os.environ.update({"VAR_DIR": tempfile.mkdtemp(prefix=f"clf-bench-{RUN}-"), "REDIS_PREFIX": f"clf-bench-{RUN}",
                       "SMTP_URL": "", **settings})


def cleanup() -> None:
    shutil.rmtree(os.environ["VAR_DIR"], ignore_errors=True)
    if SERVER_DATABASE_URL:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
    if os.environ.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        try:
            prefix = os.environ["REDIS_PREFIX"]
            for pattern in (f"{prefix}*", f"{prefix.upper()}*"):
                keys = list(client.scan_iter(match=pattern, count=500))
                if keys:
                    client.delete(*keys)
        finally:
            client.close()
