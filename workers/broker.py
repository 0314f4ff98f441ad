"""The one Dramatiq broker, imported before any actor: Redis with REDIS_URL, else in-process."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware
from dramatiq.middleware.asyncio import get_event_loop_thread

from app.settings import get_settings


class DatabasePool(Middleware):
    """Opens a PostgreSQL pool on the worker's own event loop (an asyncpg pool is bound to one loop)."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from app.db import engine

        db = engine()
        if hasattr(db, "start_connection_pool") and get_settings().uses_postgres:
            get_event_loop_thread().run_coroutine(db.start_connection_pool(min_size=1, max_size=4))  # type: ignore[union-attr]

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from app.db import engine

        async def close_pool() -> None:
            db = engine()
            if getattr(db, "pool", None) is not None:  # only if this loop opened one
                await db.close_connection_pool()  # type: ignore[union-attr]

        loop_thread = get_event_loop_thread()
        if loop_thread is not None and get_settings().uses_postgres:
            loop_thread.run_coroutine(close_pool())


def make_broker() -> dramatiq.Broker:
    settings = get_settings()
    broker: dramatiq.Broker
    if settings.redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}-dramatiq")
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(DatabasePool())
    return broker


broker = make_broker()
dramatiq.set_broker(broker)
