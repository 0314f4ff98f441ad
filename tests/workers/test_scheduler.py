"""The scheduler's sweep: lost mail jobs come back, expired tokens and sessions go away."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from app.http.sessions import DatabaseSessionStore
from app.tables import AccountToken, MailStatus, OutboxMail, TokenPurpose, WebSession
from tests.factories import make_account, unique_email
from tests.workers.test_mail import (  # noqa: F401  (fixtures are used by name)
    EnqueueRecorder,
    RecordingHandler,
    enqueued,
    join_mail_queue,
    row,
    smtp_server,
    wait_for_row,
)
from tests.workers.worker import running_worker
from workers.scheduler import sweep_once


async def insert_mail(to: str, *, status: MailStatus, age: timedelta) -> int:
    rows = await OutboxMail.insert(
        OutboxMail(to_address=to, subject="Courrier perdu", body_text="Bonjour,\nun courrier oublié.\n",
                   status=status.value, created_at=datetime.now(UTC) - age)
    ).returning(OutboxMail.id)
    return int(rows[0]["id"])


async def test_sweep_requeues_a_lost_mail_and_it_is_delivered_once(
    smtp_server, enqueued: EnqueueRecorder  # noqa: F811  (fixtures from test_mail)
) -> None:
    server = smtp_server(RecordingHandler())
    address = unique_email("lost")
    # A pending mail from 10 minutes ago whose job was lost (never enqueued, e.g. the in-memory broker restarted)
    lost_id = await insert_mail(address, status=MailStatus.pending, age=timedelta(minutes=10))
    # Controls: a pending mail from just now (its job may still be on the way) and an old held one
    fresh_id = await insert_mail(unique_email("fresh"), status=MailStatus.pending, age=timedelta(seconds=0))
    held_id = await insert_mail(unique_email("old-held"), status=MailStatus.held, age=timedelta(minutes=10))
    try:
        async with running_worker("mail"):
            # Without a sweep, nothing happens to it: the job really is lost
            await join_mail_queue()
            assert (await row(lost_id)).status == MailStatus.pending.value
            assert server.accepted_for(address) == []

            counts = await sweep_once()
            assert counts["mail_requeued"] >= 1
            assert enqueued.deliveries_of(lost_id) == 1
            assert enqueued.deliveries_of(fresh_id) == 0 and enqueued.deliveries_of(held_id) == 0
            await join_mail_queue()
            sent = await wait_for_row(lost_id, lambda r: r.status in (MailStatus.sent.value, MailStatus.failed.value))
            assert sent.status == MailStatus.sent.value and sent.attempts == 1, sent.last_error

            # A second sweep leaves the delivered mail alone
            await sweep_once()
            assert enqueued.deliveries_of(lost_id) == 1
            await join_mail_queue()

        [received] = server.accepted_for(address)
        assert received.message["Subject"] == "Courrier perdu"
        assert received.message["Message-ID"].startswith(f"<outbox-{lost_id}.")
        assert (await row(lost_id)).attempts == 1
        assert (await row(fresh_id)).status == MailStatus.pending.value
        assert (await row(held_id)).status == MailStatus.held.value
    finally:
        # The fresh pending row has no job: do not leave it for a later sweep
        await OutboxMail.delete().where(OutboxMail.id.is_in([fresh_id, held_id]))


async def test_sweep_deletes_expired_tokens_only() -> None:
    account = await make_account()
    now = datetime.now(UTC)

    async def token(expires_at: datetime) -> int:
        rows = await AccountToken.insert(
            AccountToken(user=account.user.id, purpose=TokenPurpose.reset_password.value,
                         token_hash=secrets.token_hex(32), expires_at=expires_at)
        ).returning(AccountToken.id)
        return int(rows[0]["id"])

    expired = [await token(now - timedelta(hours=1)), await token(now - timedelta(days=4))]
    live = await token(now + timedelta(hours=1))

    counts = await sweep_once()

    rows = await AccountToken.select(AccountToken.id).where(AccountToken.user == account.user.id)
    remaining = {r["id"] for r in rows}
    assert remaining == {live}
    assert counts["tokens_expired"] >= len(expired)


async def test_sweep_removes_expired_sessions_only() -> None:
    store = DatabaseSessionStore()
    prefix = secrets.token_hex(4)
    await store.set(f"{prefix}-expired", b"old", expires_in=timedelta(seconds=-1))
    await store.set(f"{prefix}-live", b"new", expires_in=timedelta(hours=1))
    await store.set(f"{prefix}-forever", b"kept")

    counts = await sweep_once()

    rows = await WebSession.select(WebSession.key).where(WebSession.key.like(f"{prefix}-%"))
    assert {row["key"] for row in rows} == {f"{prefix}-live", f"{prefix}-forever"}  # read from the table itself
    assert counts["sessions_expired"] >= 1
    assert await store.get(f"{prefix}-live") == b"new"
    assert await store.get(f"{prefix}-forever") == b"kept"
