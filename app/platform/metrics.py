"""Prometheus metrics: what the process counts as it goes, and the backlog read from the database at scrape time.

Counted as it goes (prometheus_client's default registry, per process): HTTP requests and their latency
(app/platform/observability.py), open SSE streams (app/live/), jobs (workers/observability.py). Read at each
scrape of /metrics, never per request: the Dramatiq queues' depth, the outbox's pending and failed mails, and
the reminders that are due.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from dramatiq import Broker

logger = logging.getLogger("clf.metrics")

prometheus_client.disable_created_metrics()  # no `*_created` series beside every counter: nothing reads them

HTTP_REQUESTS = Counter("clf_http_requests", "HTTP requests answered, by route template, method and status.",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("clf_http_request_duration_seconds",
                         "Time to the response's headers, by route template (for a stream: until it opens).",
                         ["route"])
SSE_STREAMS_OPEN = Gauge("clf_sse_streams_open", "Server-sent event streams open in this process.")

MAIL_STATUSES = ("pending", "sending", "failed")
"""The outbox states worth watching (sent and held ones only grow)."""


@dataclass
class Backlog:
    """What waits, read at scrape time; a source that could not be read is left out (and logged)."""

    queues: dict[str, int] = field(default_factory=dict)
    mails: dict[str, int] = field(default_factory=dict)
    reminders: dict[str, int] = field(default_factory=dict)

    def collect(self) -> Iterator[Metric]:
        """prometheus_client's collector interface, so generate_latest() can render it."""
        queues = GaugeMetricFamily("clf_queue_depth", "Dramatiq messages waiting, by queue (`<queue>.DQ`: delayed).",
                                   labels=["queue"])
        for name, depth in sorted(self.queues.items()):
            queues.add_metric([name], depth)
        mails = GaugeMetricFamily("clf_outbox_mails", "Outbox mails not yet delivered, by status.", labels=["status"])
        for status, count in sorted(self.mails.items()):
            mails.add_metric([status], count)
        reminders = GaugeMetricFamily(
            "clf_reminders_due", "Reminders past their due time and not done: pending (not yet claimed by the "
            "scheduler) or claimed (its job not finished).", labels=["status"])
        for status, count in sorted(self.reminders.items()):
            reminders.add_metric([status], count)
        yield from (queues, mails, reminders)


def queue_depths(broker: Broker) -> dict[str, int]:
    """Messages waiting in each queue declared on the broker: LLEN on Redis, the in-memory queue's size with the
    StubBroker.

    Blocking (Redis): call it in a thread.
    """
    from dramatiq.brokers.stub import StubBroker

    names = sorted(broker.get_declared_queues() | broker.get_declared_delay_queues())
    if isinstance(broker, StubBroker):
        return {name: broker.queues[name].qsize() for name in names if name in broker.queues}
    pipeline = broker.client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for name in names:
        pipeline.llen(f"{broker.namespace}:{name}")  # type: ignore[attr-defined]
    return dict(zip(names, (int(depth) for depth in pipeline.execute()), strict=True))


async def read_backlog(broker: Broker) -> Backlog:
    """Queue depths, undelivered mails and due reminders: one Redis round trip and three small indexed queries.

    The broker is the caller's (the workers import this module: it cannot import them back)."""
    from piccolo.query.functions.aggregate import Count

    from app.tables import OutboxMail, Reminder

    backlog = Backlog()
    try:
        backlog.queues = await asyncio.to_thread(queue_depths, broker)
    except Exception:
        logger.warning("metrics: could not read the queue depths", exc_info=True)
    try:
        rows = await OutboxMail.select(OutboxMail.status, Count()).where(
            OutboxMail.status.is_in(list(MAIL_STATUSES))).group_by(OutboxMail.status)
        backlog.mails = dict.fromkeys(MAIL_STATUSES, 0) | {row["status"]: int(row["count"]) for row in rows}
        now = datetime.now(UTC)
        backlog.reminders = {
            "pending": await Reminder.count().where(Reminder.status == "pending", Reminder.due_at <= now),
            "claimed": await Reminder.count().where(Reminder.status == "claimed"),
        }
    except Exception:
        logger.warning("metrics: could not read the outbox and reminders", exc_info=True)
    return backlog


def exposition(backlog: Backlog) -> bytes:
    """The Prometheus text format: this process's counters, then the backlog."""
    return prometheus_client.generate_latest(prometheus_client.REGISTRY) + prometheus_client.generate_latest(backlog)


def is_loopback(host: str | None) -> bool:
    """A client on this machine (127.0.0.0/8 or ::1); behind a proxy, uvicorn's --proxy-headers gives the real one."""
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def may_scrape(authorization: str | None, client_host: str | None, token: str) -> bool:
    """With a token: `Authorization: Bearer <token>` (compared in constant time); without: loopback clients only."""
    if not token:
        return is_loopback(client_host)
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
