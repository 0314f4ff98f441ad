"""JobLog: one JSON line per Dramatiq job (logger clf.jobs) and the jobs counter; a worker's own metrics port.

Outcomes: `done`; `retried` (it raised and the Retries middleware enqueued it again); `failed` (it raised and
will not run again); `skipped` (a middleware skipped it, e.g. too old). `retries` is how many times this message
had already been retried before this run. Only the actor's name and the message id are logged, never arguments.

Jobs are counted in the process that runs them. The web process exports them on /metrics when it runs the worker
itself (EMBEDDED_WORKER=1); a separate `dramatiq workers.actors` process (EMBEDDED_WORKER=0) serves them on
METRICS_PORT when set (prometheus_client's own small HTTP server, on METRICS_HOST, loopback by default, no token).
With `--processes N`, each process takes the first free port from METRICS_PORT on (METRICS_PORT, +1, …).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, Retries
from prometheus_client import Counter, Histogram, start_http_server

from app.platform.observability import JOBS_LOGGER, ensure_json_handler, json_line
from app.settings import Settings, get_settings

JOBS = Counter("clf_jobs", "Dramatiq jobs run, by actor and outcome (done, retried, failed, skipped).",
               ["actor", "outcome"])
JOB_DURATION = Histogram("clf_job_duration_seconds", "Time a job ran, by actor.", ["actor"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
PORTS_TRIED = 16
"""How many ports from METRICS_PORT on a worker process tries (one per process of `dramatiq --processes N`)."""

logger = logging.getLogger(JOBS_LOGGER)


class JobLog(Middleware):
    """Times each message, then logs and counts its outcome; added with `install_job_log`."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._runs: dict[str, tuple[float, int]] = {}  # message id → (start, retries before this run)
        self.metrics_server: Any = None
        ensure_json_handler(JOBS_LOGGER)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        settings = self._settings or get_settings()
        if settings.metrics_port and not settings.embedded_worker and self.metrics_server is None:
            self.metrics_server = serve_metrics(settings.metrics_host, settings.metrics_port)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
            self.metrics_server = None

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._runs[message.message_id] = (time.perf_counter(), int(message.options.get("retries", 0)))

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            outcome = "done"
        else:
            outcome = "failed" if getattr(message, "failed", False) else "retried"
        self._record(message, outcome)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._record(message, "skipped")

    def _record(self, message: MessageProxy | dramatiq.Message[Any], outcome: str) -> None:
        started, retries = self._runs.pop(message.message_id, (None, int(message.options.get("retries", 0))))
        duration = time.perf_counter() - started if started is not None else 0.0
        JOBS.labels(message.actor_name, outcome).inc()
        if started is not None:
            JOB_DURATION.labels(message.actor_name).observe(duration)
        logger.info(json_line(JOBS_LOGGER, {
            "actor": message.actor_name, "message_id": message.message_id, "queue": message.queue_name,
            "outcome": outcome, "duration_ms": round(duration * 1000, 2), "retries": retries,
        }))


def install_job_log(broker: dramatiq.Broker, settings: Settings | None = None) -> JobLog:
    """Add JobLog just before Retries: Dramatiq runs `after_*` hooks in reverse order, so JobLog's comes after
    Retries has decided between retrying and failing the message."""
    job_log = JobLog(settings)
    broker.add_middleware(job_log, before=Retries)
    return job_log


def serve_metrics(host: str, first_port: int) -> Any:
    """Start prometheus_client's HTTP server on the first free port from `first_port`; the server, or None."""
    for port in range(first_port, first_port + PORTS_TRIED):
        try:
            server, _thread = start_http_server(port, addr=host)
        except OSError:
            continue
        logger.info(json_line(JOBS_LOGGER, {"event": "metrics_port", "host": host, "port": port}))
        return server
    logger.warning(json_line(JOBS_LOGGER, {"event": "metrics_port_unavailable", "host": host,
                                           "ports": f"{first_port}-{first_port + PORTS_TRIED - 1}"}))
    return None
