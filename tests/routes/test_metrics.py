"""/metrics: Prometheus text for the holder of METRICS_TOKEN (or, without one, this machine only), with the backlog
read from the database at scrape time."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from app.platform.metrics import is_loopback, may_scrape
from app.tables import MailStatus, OutboxMail, Reminder
from tests.factories import unique_email
from tests.fixtures import build_app

TOKEN = "metrics-" + secrets.token_hex(16)
SERIES = ["clf_http_requests_total", "clf_http_request_duration_seconds_bucket", "clf_sse_streams_open",
          "clf_jobs_total", "clf_job_duration_seconds", "clf_queue_depth", "clf_outbox_mails", "clf_reminders_due"]


@pytest.fixture
async def scraper() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=build_app(metrics_token=TOKEN), base_url="http://testserver.local") as client:
        yield client


def gauge(text: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = "^" + re.escape(name) + (re.escape("{" + wanted + "}") if labels else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name}{labels} not in the exposition"
    return float(found.group(1))


async def test_metrics_ask_for_the_token(scraper) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}, {"Authorization": "Bearer é".encode()}):
        response = await scraper.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "clf_" not in response.text


async def test_metrics_with_the_token_list_every_series(scraper) -> None:
    # Given a request answered before the scrape
    before = REGISTRY.get_sample_value("clf_http_requests_total",
                                       {"route": "/healthz", "method": "GET", "status": "200"}) or 0
    assert (await scraper.get("/healthz")).status_code == 200
    # When Prometheus scrapes with the token
    response = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    # Then it gets the text format with every series we define
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    for name in SERIES:
        assert f"# TYPE {name.removesuffix('_bucket')} " in response.text, name
    assert gauge(response.text, "clf_http_requests_total", route="/healthz", method="GET", status="200") == before + 1
    assert gauge(response.text, "clf_sse_streams_open") == REGISTRY.get_sample_value("clf_sse_streams_open")
    for queue in ("mail", "mail.DQ", "reminders"):
        assert gauge(response.text, "clf_queue_depth", queue=queue) >= 0
    assert "_created" not in response.text


async def test_the_mails_pending_gauge_counts_the_outbox(scraper) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = (await scraper.get("/metrics", headers=auth)).text
    mail = OutboxMail(to_address=unique_email("metrics"), subject="Sujet", body_text="Corps",
                      status=MailStatus.pending.value)
    await mail.save()
    failed = OutboxMail(to_address=unique_email("metrics"), subject="Sujet", body_text="Corps",
                        status=MailStatus.failed.value)
    await failed.save()
    reminder = Reminder(key=f"metrics-test:{secrets.token_hex(6)}", kind="metrics_test",
                        due_at=datetime.now(UTC) - timedelta(minutes=5))
    await reminder.save()
    try:
        after = (await scraper.get("/metrics", headers=auth)).text
    finally:
        await OutboxMail.delete().where(OutboxMail.id.is_in([mail.id, failed.id]))
        await Reminder.delete().where(Reminder.id == reminder.id)
    for status in ("pending", "failed"):
        assert gauge(after, "clf_outbox_mails", status=status) == gauge(before, "clf_outbox_mails", status=status) + 1
    assert gauge(after, "clf_outbox_mails", status="sending") == gauge(before, "clf_outbox_mails", status="sending")
    assert gauge(after, "clf_reminders_due", status="pending") == gauge(before, "clf_reminders_due",
                                                                         status="pending") + 1


async def test_without_a_token_only_this_machine_may_scrape() -> None:
    app = build_app(metrics_token="")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as remote:
        refused = await remote.get("/metrics")  # the test client's address is not a loopback one
        assert refused.status_code == 403 and "clf_" not in refused.text
        local = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
                                  base_url="http://testserver.local")
        async with local:
            response = await local.get("/metrics")
        assert response.status_code == 200 and "clf_outbox_mails" in response.text


def test_who_may_scrape() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1")
    assert not any(is_loopback(host) for host in ("10.0.0.1", "192.168.1.2", "2001:db8::1", "testclient", "", None))
    assert may_scrape(f"Bearer {TOKEN}", "203.0.113.9", TOKEN) and may_scrape(f"bearer  {TOKEN}", None, TOKEN)
    assert not may_scrape(f"Bearer {TOKEN}x", "127.0.0.1", TOKEN)  # with a token, loopback needs it too
    assert not may_scrape(None, "127.0.0.1", TOKEN) and not may_scrape("Bearer é", "127.0.0.1", TOKEN)
    assert may_scrape(None, "::1", "") and not may_scrape(f"Bearer {TOKEN}", "198.51.100.7", "")
