"""Readiness: can we reach the database and, when configured, Redis?"""

from __future__ import annotations

import asyncio
import logging

from app.settings import Settings

logger = logging.getLogger("clf.health")


async def _database_ok() -> bool:
    from app.tables import User

    try:
        await asyncio.wait_for(User.raw("SELECT 1"), timeout=3)
    except Exception:
        logger.warning("database not reachable", exc_info=True)
        return False
    return True


async def _redis_ok(url: str) -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        logger.warning("redis not reachable", exc_info=True)
        return False
    finally:
        await client.aclose()


async def check_readiness(settings: Settings) -> list[str]:
    """Names of the dependencies that do not answer; empty when all do."""
    problems = []
    if not await _database_ok():
        problems.append("database")
    if settings.redis_url and not await _redis_ok(settings.redis_url):
        problems.append("redis")
    return problems
