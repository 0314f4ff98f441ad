"""A real Dramatiq worker on the app's broker, for the tests that follow jobs through the real parts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import dramatiq

from workers.broker import broker


@contextlib.asynccontextmanager
async def running_worker(queue: str, *, only_this_queue: bool = False) -> AsyncIterator[dramatiq.Worker]:
    """A worker for the block, on every queue (or on `queue` alone); `queue` is left empty after, so that jobs of
    a failed test, or of other tests' due work, do not linger for the next one."""
    worker = dramatiq.Worker(broker, worker_timeout=100, queues={queue} if only_this_queue else None)
    await asyncio.to_thread(worker.start)
    try:
        yield worker
    finally:
        await asyncio.to_thread(worker.stop, 10_000)
        broker.flush(queue)
