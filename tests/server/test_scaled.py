"""The scaled deployment as real processes: two web processes started the production way (`app.cli serve`), a
Dramatiq worker (`app.cli worker`) and one scheduler (`app.cli scheduler`) on the run's database and a Redis — and
the faults it must heal from: a worker killed in the middle of a finalization, Redis down or restarted empty.

Each fault test runs a redis-server of its own (the shared one is never stopped).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.actions.notifications import do_schedule_reminder
from app.settings import get_settings
from app.tables import Agreement, Claim, Notification, Proposal, Reminder
from bench.finalize import build_case
from tests.factories import assign, make_world
from tests.server.conftest import LiveRoom
from tests.server.harness import RedisProcess, SSEClient, post_message

pytestmark = pytest.mark.server

FINALIZATION_CONSUMERS = 1000
"""Enough consumers for the finalization to take seconds (~4 ms each), so the worker dies in its middle."""


def production_env(redis_url: str, **extra: str) -> dict[str, str]:
    """What every process of a scaled deployment shares (README, « Scaling out »)."""
    settings = get_settings()
    return {"REDIS_URL": redis_url, "SECRET_KEY": settings.secret_key, "BASE_URL": "http://127.0.0.1:8000",
            "EMBEDDED_WORKER": "0",
            "SCHEDULER_INTERVAL_SECONDS": "1", **extra}


def on(client: httpx.AsyncClient, base_url: str) -> httpx.AsyncClient:
    """The same browser (its cookies) talking to another web process."""
    return httpx.AsyncClient(base_url=base_url, cookies=client.cookies, timeout=15)


def job_lines(log: str) -> list[dict[str, object]]:
    """The JSON job lines (logger clf.jobs) of a worker's log."""
    jobs = []
    for line in log.splitlines():
        start = line.find('{"')
        if start >= 0 and '"clf.jobs"' in line:
            jobs.append(json.loads(line[start:]))
    return jobs


async def wait_until(condition, *, within: float, what: str, every: float = 0.2) -> float:  # type: ignore[no-untyped-def]
    """Poll the async `condition` until it holds; returns how long it took."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < within, f"{what}: not within {within} s"
        await asyncio.sleep(every)
    return time.monotonic() - started


async def test_two_web_processes_a_worker_and_a_scheduler_work_as_one(
        live_room: LiveRoom, start_app, start_process, clients, shared_or_own_redis_url: str) -> None:
    # Given the scaled deployment: two web processes started for production, a worker and the scheduler
    env = production_env(shared_or_own_redis_url, CLF_TEST_HEARTBEAT_S="60")
    first = await start_app(["serve"], **env)
    second = await start_app(["serve"], **env)
    worker = start_process(["-m", "app.cli", "worker", "--threads", "2"], **env)
    scheduler = start_process(["-m", "app.cli", "scheduler"], **env)

    # When consumer A logs in on the first web process
    a_first = await clients(first, live_room.world.consumer_a)
    # Then the same session works on the second: the room page, not the login page
    async with on(a_first, second.base_url) as a_second:
        page = await a_second.get(f"/spaces/{live_room.plenary}")
        assert page.status_code == 200, page.text
        assert "Plenary" in page.text and "/login" not in str(page.url)

        # And a message posted through the first process reaches A's stream on the second at once (the heartbeat is
        # a minute away: only the Redis wake-up can bring it)
        reads = SSEClient(a_second, f"/spaces/{live_room.plenary}/stream?after=0")
        assert await reads.open() == 200
        b_first = await clients(first, live_room.world.consumer_b)
        seq = await post_message(b_first, live_room.plenary, "Posté sur le premier, lu sur le second")
        event = await reads.next()
        assert int(event.id) == seq and "lu sur le second" in event.data
        await reads.close()

    # And a due reminder is handled by the worker exactly once, however many sweeps the scheduler makes
    world = await make_world(status="open")
    await assign(world.case, world.mediator)
    claim = await Claim.objects().where(Claim.id == world.claim_a.id).first()
    assert claim is not None
    key = f"claim-review:{claim.id}:scaled-test"
    assert await do_schedule_reminder(key, kind="claim_review_due", due_at=datetime.now(UTC) - timedelta(minutes=1),
                                      case_id=world.case.id,
                                      params={"claim_id": claim.id, "submitted_at": claim.submitted_at.isoformat()})

    async def reminded() -> bool:
        return await Notification.count().where(Notification.user == world.mediator.user.id,
                                                Notification.kind == "claim_review_due") > 0

    await wait_until(reminded, within=30, what="the reminder's notification")
    await asyncio.sleep(3)  # three more sweeps
    assert await Notification.count().where(Notification.user == world.mediator.user.id,
                                            Notification.kind == "claim_review_due") == 1
    reminder = await Reminder.objects().where(Reminder.key == key).first()
    assert reminder is not None and reminder.status == "done"
    # And our worker is the one that handles reminders (its job log; the shared Redis of a CI run may hold other
    # tests' reminder jobs too, so ours is one of them), without a failure
    outcomes = [job["outcome"] for job in job_lines(worker.log()) if job["actor"] == "send_reminder"]
    assert "done" in outcomes and "failed" not in outcomes, outcomes
    assert worker.process is not None and worker.process.poll() is None, worker.log()
    assert scheduler.process is not None and scheduler.process.poll() is None, scheduler.log()


async def test_a_worker_killed_during_a_finalization_resumes_it_exactly_once(
        start_process, own_redis: RedisProcess) -> None:
    # Given a case whose 1,000 consumers all accepted an offer whose decision time has passed, the scheduler and a
    # worker on our own Redis
    proposal_id = await build_case(FINALIZATION_CONSUMERS)
    env = production_env(own_redis.url)
    start_process(["-m", "app.cli", "scheduler"], **env)
    worker = start_process(["-m", "app.cli", "worker", "--threads", "1"], **env)

    async def count() -> int:
        return await Agreement.count().where(Agreement.proposal == proposal_id)

    # When the worker is killed -9 in the middle of the finalization
    async def started() -> bool:
        return await count() > 0

    await wait_until(started, within=60, what="the finalization's start", every=0.02)
    worker.kill()
    at_kill = await count()
    assert 0 < at_kill < FINALIZATION_CONSUMERS, f"killed too late: {at_kill} agreements already"
    await asyncio.sleep(2)
    assert await count() == at_kill  # nothing works on it any more

    # And a worker starts again
    restarted = start_process(["-m", "app.cli", "worker", "--threads", "1"], **env)

    async def finalized() -> bool:
        row = await Proposal.select(Proposal.status).where(Proposal.id == proposal_id).first()
        return row is not None and row["status"] == "finalized"

    # Then the finalization resumes and ends within 90 s of the restart
    took = await wait_until(finalized, within=90, what="the resumed finalization")
    print(f"killed at {at_kill}/{FINALIZATION_CONSUMERS} agreements; finalized {took:.1f} s after the restart")
    # And every consumer has exactly one agreement and was told once
    rows = await Agreement.select(Agreement.claim, Agreement.consumer).where(Agreement.proposal == proposal_id)
    assert len(rows) == FINALIZATION_CONSUMERS == len({row["claim"] for row in rows})
    told = await Notification.select(Notification.user).where(
        Notification.kind == "agreement_ready", Notification.user.is_in([row["consumer"] for row in rows]))
    assert len(told) == FINALIZATION_CONSUMERS == len({row["user"] for row in told})
    assert restarted.process is not None and restarted.process.poll() is None, restarted.log()


async def test_a_post_while_redis_is_down_is_saved_and_delivered_when_it_returns(
        live_room: LiveRoom, start_app, clients, own_redis: RedisProcess) -> None:
    # Given a web process on our own Redis and consumer A reading the plenary (heartbeats a minute away)
    app = await start_app(["serve"], **production_env(own_redis.url, CLF_TEST_HEARTBEAT_S="60"))
    reads = SSEClient(await clients(app, live_room.world.consumer_a), f"/spaces/{live_room.plenary}/stream?after=0")
    assert await reads.open() == 200
    poster = await clients(app, live_room.world.consumer_b)
    # When Redis dies (no save) and B posts meanwhile
    await asyncio.to_thread(own_redis.stop, keep_data=False)
    seq = await post_message(poster, live_room.plenary, "Écrit pendant la panne de Redis")  # asserts the 303
    # Then the post is answered normally, and B still sees their page
    assert (await poster.get(f"/spaces/{live_room.plenary}")).status_code == 200
    # And a login, whose rate-limit counter lives in Redis, gets a clear 503 in French rather than a 500
    async with httpx.AsyncClient(base_url=app.base_url, timeout=15) as visitor:
        form = await visitor.get("/login")
        refused = await visitor.post("/login", data={"email": "x@example.org", "password": "not this one",
                                                     "_csrf_token": visitor.cookies["csrftoken"]})
        assert form.status_code == 200 and refused.status_code == 503
        assert "Temporairement indisponible" in refused.text and refused.headers["retry-after"] == "10"
    # And once Redis is back (empty), A receives it without reloading
    await asyncio.to_thread(own_redis.start)
    event = await reads.next(within=30)
    assert int(event.id) == seq and "pendant la panne" in event.data
    await reads.close()


async def test_a_redis_restart_logs_nobody_out(live_room: LiveRoom, start_app, clients,
                                               own_redis: RedisProcess) -> None:
    # Given a logged-in reader on a web process using our own Redis
    app = await start_app(["serve"], **production_env(own_redis.url))
    reader = await clients(app, live_room.world.consumer_a)
    assert (await reader.get(f"/spaces/{live_room.plenary}")).status_code == 200
    # When Redis is killed and comes back with nothing (worse than the compose file's Redis, which persists)
    await asyncio.to_thread(own_redis.stop, keep_data=False)
    await asyncio.to_thread(own_redis.start)
    # Then the reader is still logged in: the room page, not a redirect to the login page
    page = await reader.get(f"/spaces/{live_room.plenary}")
    assert page.status_code == 200 and "Plenary" in page.text
    # And can still post
    await post_message(reader, live_room.plenary, "Toujours connecté après le redémarrage de Redis")
