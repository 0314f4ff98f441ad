"""Reminders are created once, claimed once and handled exactly once, through the real parts.

The broker is the one the app selected (`workers.broker.broker`: the in-process StubBroker, or Redis with
REDIS_URL), the worker a real `dramatiq.Worker`, the sweeps the scheduler's own `sweep_once()`. A test handler
kind records each effect as an AuditEvent inside the reminder's transaction. Waiting is done by following the
reminder jobs through a broker middleware until each message is finished for good, never by timing.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest

from app.actions.notifications import (
    do_cancel_reminders,
    do_claim_due_reminders,
    do_handle_reminder,
    do_schedule_reminder,
    reminder_handler,
)
from app.tables import AuditEvent, Reminder
from tests.factories import make_account
from tests.workers.worker import running_worker
from workers.actors.reminders import send_reminder
from workers.broker import broker
from workers.scheduler import sweep_once

QUEUE = "reminders"
KIND = "test_effect"
EFFECT = "test_reminder_effect"
SETTLE_TIMEOUT_S = 60.0

CALLS: Counter[str] = Counter()  # reminder key → handler calls (committed or not)
FAILURES: dict[str, int] = {}  # reminder key → how many more calls must fail


@reminder_handler(KIND)
async def record_effect(reminder: Reminder) -> None:
    """The effect is written first, then the handler may fail: a rollback must take the effect away."""
    params = json.loads(reminder.params) if isinstance(reminder.params, str) else reminder.params
    CALLS[reminder.key] += 1
    await AuditEvent.insert(AuditEvent(actor=params["user_id"], kind=EFFECT, details={"key": reminder.key}))
    if FAILURES.get(reminder.key, 0) > 0:
        FAILURES[reminder.key] -= 1
        raise RuntimeError("handler failed on purpose")


# --- Following the jobs -------------------------------------------------------------------------------------

class ReminderJobs(dramatiq.Middleware):
    """Follows every send_reminder message, retries and moves out of the delay queue included.

    A message keeps its id through retries; it is finished once it succeeded, was skipped, or failed for good.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: dict[int, set[str]] = defaultdict(set)  # reminder id → message ids
        self.open: set[str] = set()
        self.attempts: Counter[int] = Counter()

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        if message.actor_name == send_reminder.actor_name:
            with self.lock:
                self.messages[int(message.args[0])].add(message.message_id)
                self.open.add(message.message_id)

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if message.actor_name != send_reminder.actor_name:
            return
        with self.lock:
            self.attempts[int(message.args[0])] += 1
            # The Retries middleware ran before this one: a failed message is either re-enqueued or given up
            if exception is None or getattr(message, "failed", False):
                self.open.discard(message.message_id)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self.lock:
            self.open.discard(message.message_id)

    def jobs_of(self, reminder_id: int) -> int:
        with self.lock:
            return len(self.messages[reminder_id])

    def settled(self, reminder_id: int) -> bool:
        with self.lock:
            ids = self.messages[reminder_id]
            return bool(ids) and not ids & self.open


@pytest.fixture
def jobs() -> Iterator[ReminderJobs]:
    recorder = ReminderJobs()
    broker.add_middleware(recorder)
    try:
        yield recorder
    finally:
        broker.middleware.remove(recorder)


async def settle(jobs: ReminderJobs, *reminder_ids: int) -> None:
    """Wait until every job for these reminders is finished for good."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not all(jobs.settled(reminder_id) for reminder_id in reminder_ids):
        if time.monotonic() > deadline:
            states = {rid: (await reminder_row(rid)).status for rid in reminder_ids}
            raise AssertionError(f"reminder jobs not settled: {states}, attempts={dict(jobs.attempts)}")
        await asyncio.sleep(0.05)


# --- Helpers ------------------------------------------------------------------------------------------------

@pytest.fixture
async def owner() -> int:
    """A user whose id marks this test's reminders and effects."""
    return int((await make_account()).user.id)


@pytest.fixture
async def cleanup(owner: int) -> AsyncIterator[None]:
    """Leave none of this test's reminders pending or claimed for a later sweep."""
    yield
    await do_cancel_reminders(f"test:{owner}:")


async def effects(owner: int) -> int:
    return await AuditEvent.count().where(AuditEvent.actor == owner, AuditEvent.kind == EFFECT)


async def reminder_row(reminder_id: int) -> Reminder:
    row = await Reminder.objects().where(Reminder.id == reminder_id).first()
    assert row is not None
    return row


async def id_of(key: str) -> int:
    row = await Reminder.select(Reminder.id).where(Reminder.key == key).first()
    assert row is not None, key
    return int(row["id"])


async def schedule_due(owner: int, key: str, *, kind: str = KIND) -> int:
    assert await do_schedule_reminder(key, kind=kind, due_at=datetime.now(UTC) - timedelta(minutes=1),
                                      params={"user_id": owner})
    return await id_of(key)


async def insert_claimed(owner: int, key: str, *, claimed_ago: timedelta, kind: str = KIND) -> int:
    """A reminder some sweep claimed `claimed_ago` (its job may since have been lost)."""
    now = datetime.now(UTC)
    rows = await Reminder.insert(Reminder(key=key, kind=kind, due_at=now - claimed_ago - timedelta(minutes=1),
                                          status="claimed", claimed_at=now - claimed_ago,
                                          params={"user_id": owner})).returning(Reminder.id)
    return int(rows[0]["id"])


# --- Tests --------------------------------------------------------------------------------------------------

async def test_the_same_key_makes_one_reminder(owner: int, cleanup: None) -> None:
    key = f"test:{owner}:single"
    first_due = datetime.now(UTC) + timedelta(days=3)

    created = await do_schedule_reminder(key, kind=KIND, due_at=first_due, params={"user_id": owner})
    again = await do_schedule_reminder(key, kind=KIND, due_at=first_due + timedelta(days=1))
    racing = await asyncio.gather(*(do_schedule_reminder(f"test:{owner}:race", kind=KIND, due_at=first_due)
                                    for _ in range(5)))

    assert (created, again) == (True, False)
    rows = await Reminder.select(Reminder.due_at, Reminder.status).where(Reminder.key == key)
    assert rows == [{"due_at": first_due, "status": "pending"}]  # the first one stands
    assert sorted(racing) == [False, False, False, False, True]
    assert await Reminder.count().where(Reminder.key == f"test:{owner}:race") == 1


async def test_a_due_reminder_is_handled_exactly_once(owner: int, cleanup: None, jobs: ReminderJobs) -> None:
    # Given a due reminder, scheduled twice under the same key
    key = f"test:{owner}:once"
    reminder_id = await schedule_due(owner, key)
    assert not await do_schedule_reminder(key, kind=KIND, due_at=datetime.now(UTC) - timedelta(minutes=1))
    assert await Reminder.count().where(Reminder.key == key) == 1

    async with running_worker(QUEUE):
        # When two schedulers sweep at once, then one more time
        await asyncio.gather(sweep_once(), sweep_once())
        await sweep_once()
        await settle(jobs, reminder_id)
        # Then one sweep only enqueued it, and it ran once
        assert jobs.jobs_of(reminder_id) == 1
        # A duplicate delivery (at least once) finds it done and does nothing
        send_reminder.send(reminder_id)
        await settle(jobs, reminder_id)
        assert jobs.jobs_of(reminder_id) == 2 and jobs.attempts[reminder_id] == 2

    assert await effects(owner) == 1 and CALLS[key] == 1
    row = await reminder_row(reminder_id)
    assert row.status == "done" and row.done_at is not None and row.claimed_at is not None
    assert row.last_error == ""
    assert await do_handle_reminder(reminder_id) == "skipped"
    assert await effects(owner) == 1


async def test_a_failing_handler_leaves_nothing_and_the_retry_runs_it_once(owner: int, cleanup: None) -> None:
    # Given a claimed reminder whose handler fails once, after writing its effect
    key = f"test:{owner}:fails-once"
    reminder_id = await insert_claimed(owner, key, claimed_ago=timedelta(seconds=1))
    FAILURES[key] = 1

    # When the job runs: the error reaches the actor (for its retry) and everything is rolled back
    with pytest.raises(RuntimeError, match="on purpose"):
        await do_handle_reminder(reminder_id)
    row = await reminder_row(reminder_id)
    assert row.status == "claimed" and row.done_at is None
    assert "RuntimeError: handler failed on purpose" in row.last_error
    assert CALLS[key] == 1 and await effects(owner) == 0  # no half effect

    # Then the retry runs it, once
    assert await do_handle_reminder(reminder_id) == "done"
    assert await do_handle_reminder(reminder_id) == "skipped"
    row = await reminder_row(reminder_id)
    assert row.status == "done" and row.done_at is not None and row.last_error == ""
    assert CALLS[key] == 2 and await effects(owner) == 1


async def test_a_reminder_of_an_unknown_kind_stays_claimed_with_the_reason(owner: int, cleanup: None) -> None:
    reminder_id = await insert_claimed(owner, f"test:{owner}:unknown", claimed_ago=timedelta(seconds=1),
                                       kind="no_such_kind")
    with pytest.raises(LookupError):
        await do_handle_reminder(reminder_id)
    row = await reminder_row(reminder_id)
    assert row.status == "claimed" and "no handler for reminder kind 'no_such_kind'" in row.last_error


async def test_the_actor_retries_a_failing_reminder_until_it_is_done(
    owner: int, cleanup: None, jobs: ReminderJobs, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Short backoffs for this test only (the actor's own are 5 s to 5 min)
    monkeypatch.setitem(send_reminder.options, "min_backoff", 20)
    monkeypatch.setitem(send_reminder.options, "max_backoff", 100)
    key = f"test:{owner}:retried"
    reminder_id = await schedule_due(owner, key)
    FAILURES[key] = 2

    async with running_worker(QUEUE):
        await sweep_once()
        await settle(jobs, reminder_id)

    assert jobs.jobs_of(reminder_id) == 1 and jobs.attempts[reminder_id] == 3
    assert CALLS[key] == 3 and await effects(owner) == 1
    row = await reminder_row(reminder_id)
    assert row.status == "done" and row.last_error == ""


async def test_cancelled_reminders_are_not_sent(owner: int, cleanup: None, jobs: ReminderJobs) -> None:
    # Given an invitation's reminders, one of them already claimed, and look-alike keys of something else
    prefix = f"test:{owner}:in_vite:"
    cancelled = [await schedule_due(owner, prefix + "d7"), await schedule_due(owner, prefix + "d2"),
                 await insert_claimed(owner, prefix + "expire", claimed_ago=timedelta(seconds=1))]
    kept = [await schedule_due(owner, f"test:{owner}:inXvite:d7"),  # `_` is a LIKE wildcard
            await schedule_due(owner, f"TEST:{owner}:in_vite:d7")]  # SQLite's LIKE ignores case

    # When the invitation is answered, its reminders are cancelled
    assert await do_cancel_reminders(prefix) == 3
    assert await do_cancel_reminders(prefix) == 0

    async with running_worker(QUEUE):
        await sweep_once()
        await settle(jobs, *kept)
        # The claimed one's job (if it was already on its way) finds it cancelled
        send_reminder.send(cancelled[2])
        await settle(jobs, cancelled[2])

    assert [jobs.jobs_of(reminder_id) for reminder_id in cancelled[:2]] == [0, 0]
    assert [(await reminder_row(reminder_id)).status for reminder_id in cancelled] == ["cancelled"] * 3
    assert [(await reminder_row(reminder_id)).status for reminder_id in kept] == ["done", "done"]
    assert await effects(owner) == 2  # the two look-alikes only
    assert CALLS[prefix + "d7"] == CALLS[prefix + "d2"] == CALLS[prefix + "expire"] == 0
    await Reminder.update({Reminder.status: "cancelled"}).where(Reminder.id == kept[1])  # not under `cleanup`


async def test_a_stale_claimed_reminder_is_enqueued_again_and_handled_once(
    owner: int, cleanup: None, jobs: ReminderJobs,
) -> None:
    # Given a reminder claimed 11 minutes ago whose job was lost, and one claimed a minute ago (job on its way)
    stale = await insert_claimed(owner, f"test:{owner}:stale", claimed_ago=timedelta(minutes=11))
    recent = await insert_claimed(owner, f"test:{owner}:recent", claimed_ago=timedelta(minutes=1))

    async with running_worker(QUEUE):
        await asyncio.gather(sweep_once(), sweep_once())
        await sweep_once()
        await settle(jobs, stale)

    assert jobs.jobs_of(stale) == 1  # one sweep took it up again, not each of them
    assert jobs.jobs_of(recent) == 0
    assert (await reminder_row(stale)).status == "done" and await effects(owner) == 1
    assert (await reminder_row(recent)).status == "claimed"


async def test_claiming_is_a_conditional_update(owner: int, cleanup: None) -> None:
    """Claiming directly (as two schedulers would): a due reminder is claimed by one call only."""
    reminder_id = await schedule_due(owner, f"test:{owner}:claim")
    try:
        first, second = await asyncio.gather(do_claim_due_reminders(), do_claim_due_reminders())
        assert (reminder_id in first) != (reminder_id in second)
        assert reminder_id not in await do_claim_due_reminders()
        row = await reminder_row(reminder_id)
        assert row.status == "claimed" and row.claimed_at is not None
    finally:
        broker.flush(QUEUE)  # no worker here: drop the jobs the claims enqueued
