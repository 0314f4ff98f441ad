"""Fixtures of the server tests: a room to talk in, app processes and redis-servers that the tests may kill.

Every process started here is stopped at the end of its test, whatever happened.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from tests.factories import Account
from tests.server.harness import AppProcess, BackgroundProcess, RedisProcess, login
from tests.server.room_world import LiveRoom, make_live_room


@pytest.fixture
async def live_room() -> LiveRoom:
    return await make_live_room()


@pytest.fixture
async def start_app() -> AsyncIterator[Callable[..., Awaitable[AppProcess]]]:
    """Factory: `await start_app(REDIS_URL=...)` starts one more app process (on the run's database)."""
    started: list[AppProcess] = []

    async def start(command: list[str] | None = None, **env: str) -> AppProcess:
        app = AppProcess(env, command=command)
        started.append(app)
        await app.start()
        return app

    yield start
    for app in started:
        app.kill()
        print(f"--- log of the app on port {app.port} (shown when the test fails) ---\n{app.log()}")
        app.close()


@pytest.fixture
def start_process() -> Iterator[Callable[..., BackgroundProcess]]:
    """Factory: `start_process(["-m", "app.cli", "worker"], REDIS_URL=...)` starts a process without a port."""
    started: list[BackgroundProcess] = []

    def start(args: list[str], **env: str) -> BackgroundProcess:
        process = BackgroundProcess(args, env)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.kill()
        print(f"--- log of {' '.join(process.args)} (shown when the test fails) ---\n{process.log()}")
        process.close()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test's own (the shared one is never stopped)."""
    server = RedisProcess()
    server.start()
    yield server
    server.close()


@pytest.fixture
def shared_or_own_redis_url() -> Iterator[str]:
    """REDIS_URL when the run has one (CI), else a redis-server of this test's own."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisProcess()
    server.start()
    yield server.url
    server.close()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """Factory: `await clients(app, account)` gives an httpx client logged in on that app process."""
    opened: list[httpx.AsyncClient] = []

    async def make(app: AppProcess, account: Account) -> httpx.AsyncClient:
        client = await login(app.base_url, account.email, account.password)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()
