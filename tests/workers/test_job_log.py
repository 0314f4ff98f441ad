"""JobLog: one clf.jobs line and one count per job run, with its outcome; a worker process's own metrics port.

A StubBroker of the test's own (with JobLog, installed as workers/broker.py does) and a real `dramatiq.Worker`; waiting
is joining the queue, never timing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import dramatiq
import httpx
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from prometheus_client import REGISTRY

from app.platform.observability import JOBS_LOGGER
from app.settings import get_settings
from tests.log_capture import captured_lines
from tests.workers.test_mail import free_port
from workers.broker import broker as app_broker
from workers.observability import JobLog, install_job_log


@pytest.fixture
def stub() -> Iterator[StubBroker]:
    broker = StubBroker()
    install_job_log(broker)
    yield broker
    broker.close()


def jobs_counted(actor: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("clf_jobs_total", {"actor": actor, "outcome": outcome}) or 0.0


def run_worker(broker: StubBroker, queue: str) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(queue, fail_fast=False, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_the_app_broker_logs_its_jobs_once_retries_are_decided() -> None:
    # (Dramatiq calls after_* hooks in reverse order: JobLog's runs after Retries' when it comes before it)
    kinds = [type(middleware) for middleware in app_broker.middleware]
    assert JobLog in kinds and kinds.index(JobLog) < kinds.index(Retries)


def test_a_job_that_succeeds_gives_one_done_line_and_count(stub: StubBroker) -> None:
    # Given an actor on the test's broker
    @dramatiq.actor(broker=stub, queue_name="jl_ok", actor_name="jl_succeeds")
    def succeeds(case_id: int) -> None:
        pass

    before = jobs_counted("jl_succeeds", "done")
    # When one message is processed
    with captured_lines(JOBS_LOGGER) as log:
        message = succeeds.send(424242)
        run_worker(stub, "jl_ok")
    # Then one line says which actor, which message, the outcome and the time, and never the arguments
    [line] = log.records()
    assert line["log"] == JOBS_LOGGER
    assert (line["actor"], line["message_id"], line["queue"]) == ("jl_succeeds", message.message_id, "jl_ok")
    assert (line["outcome"], line["retries"]) == ("done", 0)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert "424242" not in log.lines[0]
    assert jobs_counted("jl_succeeds", "done") == before + 1
    assert (REGISTRY.get_sample_value("clf_job_duration_seconds_count", {"actor": "jl_succeeds"}) or 0) >= 1


def test_a_failing_job_is_retried_then_failed(stub: StubBroker) -> None:
    # Given an actor that always fails, allowed one retry
    @dramatiq.actor(broker=stub, queue_name="jl_fail", actor_name="jl_fails", max_retries=1, min_backoff=10,
                    max_backoff=20)
    def fails() -> None:
        raise RuntimeError("always")

    retried, failed = jobs_counted("jl_fails", "retried"), jobs_counted("jl_fails", "failed")
    # When its message is processed until Dramatiq gives up
    with captured_lines(JOBS_LOGGER) as log:
        message = fails.send()
        run_worker(stub, "jl_fail")
    # Then the first run is retried, the second failed, each with its count of earlier retries
    lines = [line for line in log.records() if line.get("message_id") == message.message_id]
    assert [(line["outcome"], line["retries"]) for line in lines] == [("retried", 0), ("failed", 1)]
    assert jobs_counted("jl_fails", "retried") == retried + 1
    assert jobs_counted("jl_fails", "failed") == failed + 1


def test_a_separate_worker_serves_its_metrics_on_its_port() -> None:
    # Given a worker process's settings (not embedded) with a metrics port
    port = free_port()
    settings = dataclasses.replace(get_settings(), embedded_worker=False, metrics_port=port)
    broker = StubBroker()
    job_log = install_job_log(broker, settings)

    @dramatiq.actor(broker=broker, queue_name="jl_port", actor_name="jl_on_port")
    def counted() -> None:
        pass

    # When its worker boots and runs a job
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        counted.send()
        broker.join("jl_port", timeout=30_000)
        worker.join()
        # Then its jobs are on that port, in the Prometheus text format
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200
        assert 'clf_jobs_total{actor="jl_on_port",outcome="done"} 1.0' in response.text
    finally:
        worker.stop()
        broker.close()
    # And the port is closed with the worker
    assert job_log.metrics_server is None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_worker_inside_the_web_process_opens_no_port() -> None:
    port = free_port()
    settings = dataclasses.replace(get_settings(), embedded_worker=True, metrics_port=port)
    broker = StubBroker()
    job_log = install_job_log(broker, settings)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        assert job_log.metrics_server is None
    finally:
        worker.stop()
        broker.close()
