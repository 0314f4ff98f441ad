"""The one Dramatiq broker, imported before any actor: Redis with REDIS_URL, else in-process."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware
from dramatiq.middleware.asyncio import get_event_loop_thread

from app.settings import get_settings
from workers.observability import install_job_log

HEARTBEAT_TIMEOUT_MS = 15_000
"""A worker process silent this long is dead: its unacknowledged messages go back to their queues.

A worker refreshes its heartbeat at every fetch and acknowledgement, on any queue (an idle queue is polled about
once a second even while another queue's jobs keep the threads busy), so 15 s is far from a false alarm.
Dramatiq's default, 60 s, with its rare maintenance left a killed worker's jobs stranded for ~10 minutes."""
MAINTENANCE_CHANCE = 200_000
"""Out of a million fetches, how many also requeue dead workers' messages: 20 %, so with each queue polled about
once a second a dead worker's messages are back within a few seconds of its heartbeat timing out (the check is a
ZRANGEBYSCORE on the small heartbeat set). Dramatiq's default, 1,000 (0.1 %), means about once in 15 minutes."""


class DatabasePool(Middleware):
    """Opens a PostgreSQL pool on the worker's own event loop (an asyncpg pool is bound to one loop)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Before the worker threads start (after_worker_boot comes once they already take jobs): a transaction
        # begun without a pool and ended with one released its connection to the wrong pool (asyncpg
        # InterfaceError, seen on the first jobs of a worker started with a backlog). AsyncIO, added first, has
        # started its event loop by now.
        from app.platform.db import open_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(open_pool(max_size=4))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from app.platform.db import close_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(close_pool())


def make_broker() -> dramatiq.Broker:
    settings = get_settings()
    broker: dramatiq.Broker
    if settings.redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}-dramatiq",
                             heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(DatabasePool())
    install_job_log(broker)  # one clf.jobs line and count per job
    return broker


broker = make_broker()
dramatiq.set_broker(broker)
