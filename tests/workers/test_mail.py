"""Mail delivery through the real parts: the app's Dramatiq broker, a real worker and a real SMTP server.

The SMTP server is aiosmtpd's `Controller`, in-process on a free port of 127.0.0.1; the broker is the one the
app selected (`workers.broker.broker`: a StubBroker without REDIS_URL, a RedisBroker with it); the worker is a
`dramatiq.Worker` started by the test and stopped after. Waiting is done by joining the queue and polling the
outbox row for its final state, never by timing.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import dramatiq
import pytest
from aiosmtpd.controller import Controller
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from app.actions.mail import do_deliver_mail, do_queue_mail
from app.settings import get_settings
from app.tables import MailStatus, OutboxMail
from tests.factories import unique_email
from tests.workers.worker import running_worker
from workers.actors.mail import deliver_mail
from workers.broker import broker

QUEUE = "mail"
JOIN_TIMEOUT_MS = 60_000
ROW_TIMEOUT_S = 60.0
FRENCH_SUBJECT = "Votre mot de passe Cessez-le-feu a été modifié"


# --- A real SMTP server -------------------------------------------------------------------------------------

@dataclass
class Received:
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that refuses the first `refuse_first` DATA commands with a 451, then accepts."""

    refuse_first: float = 0
    data_commands: int = 0
    accepted: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.data_commands += 1
            if self.data_commands <= self.refuse_first:
                return "451 4.3.0 Try again later"
            raw = envelope.original_content or envelope.content
            parsed = message_from_bytes(raw, policy=policy.default)
            self.accepted.append(Received(rcpt_tos=list(envelope.rcpt_tos), message=parsed))  # type: ignore[arg-type]
        return "250 OK"

    def accepted_for(self, address: str) -> list[Received]:
        with self.lock:
            return [item for item in self.accepted if address in item.rcpt_tos]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[[RecordingHandler], RecordingHandler]]:
    """Start an aiosmtpd server with a given handler and point SMTP_URL at it; everything is restored after."""
    controllers: list[Controller] = []
    patch = pytest.MonkeyPatch()

    def start(handler: RecordingHandler) -> RecordingHandler:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        patch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
        get_settings.cache_clear()
        assert get_settings().smtp_url == f"smtp://127.0.0.1:{port}"
        return handler

    get_settings.cache_clear()
    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
        patch.undo()
        get_settings.cache_clear()


# --- The real broker and worker -----------------------------------------------------------------------------

class EnqueueRecorder(dramatiq.Middleware):
    """Notes every message the broker enqueues (the worker's retries included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, tuple[Any, ...]]] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        with self.lock:
            self.messages.append((message.actor_name, tuple(message.args)))

    def deliveries_of(self, mail_id: int) -> int:
        with self.lock:
            return sum(1 for name, args in self.messages if name == "deliver_mail" and args == (mail_id,))


@pytest.fixture
def enqueued() -> Iterator[EnqueueRecorder]:
    recorder = EnqueueRecorder()
    broker.add_middleware(recorder)
    try:
        yield recorder
    finally:
        broker.middleware.remove(recorder)


async def join_mail_queue() -> None:
    await asyncio.to_thread(broker.join, QUEUE, timeout=JOIN_TIMEOUT_MS)


async def wait_for_row(mail_id: int, done: Callable[[OutboxMail], bool]) -> OutboxMail:
    """Poll the outbox row until `done(row)`; fail with its last state after a generous timeout."""
    deadline = time.monotonic() + ROW_TIMEOUT_S
    while True:
        row = await OutboxMail.objects().where(OutboxMail.id == mail_id).first()
        assert row is not None, f"outbox row {mail_id} vanished"
        if done(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox row {mail_id} stuck: status={row.status} attempts={row.attempts} "
                                 f"last_error={row.last_error!r}")
        await asyncio.sleep(0.05)


async def queue_password_changed(to: str, name: str = "Camille Test", language: str = "fr") -> int:
    return await do_queue_mail(to=to, template="mail/password_changed.txt", language=language, name=name)


async def row(mail_id: int) -> OutboxMail:
    found = await OutboxMail.objects().where(OutboxMail.id == mail_id).first()
    assert found is not None
    return found


# --- Tests --------------------------------------------------------------------------------------------------

def test_actor_options_come_from_the_settings() -> None:
    settings = get_settings()
    assert (settings.mail_max_attempts, settings.mail_retry_min_ms) == (3, 100)  # set by conftest
    assert deliver_mail.queue_name == QUEUE
    assert deliver_mail.options["max_retries"] == settings.mail_max_attempts - 1
    assert deliver_mail.options["min_backoff"] == settings.mail_retry_min_ms
    assert deliver_mail.broker is broker
    # The broker is the one the app selected: Redis when REDIS_URL is set, else the in-process StubBroker
    assert isinstance(broker, RedisBroker if settings.redis_url else StubBroker)


async def test_a_queued_mail_is_delivered_once(smtp_server, enqueued: EnqueueRecorder) -> None:
    server = smtp_server(RecordingHandler())
    address = unique_email("delivery")
    async with running_worker(QUEUE):
        mail_id = await queue_password_changed(address, name="Camille Durand")
        assert enqueued.deliveries_of(mail_id) == 1
        await join_mail_queue()
        sent = await wait_for_row(mail_id, lambda r: r.status != MailStatus.pending.value
                                  and r.status != MailStatus.sending.value)

    assert sent.status == MailStatus.sent.value and sent.attempts == 1, (sent.status, sent.last_error)
    assert sent.sent_at is not None and sent.claimed_until is None and sent.last_error == ""
    [received] = server.accepted_for(address)
    assert server.data_commands == 1
    assert received.rcpt_tos == [address]
    message = received.message
    assert message["To"] == address
    assert message["Subject"] == FRENCH_SUBJECT
    assert message["Message-ID"].startswith(f"<outbox-{mail_id}.")
    assert "Bonjour Camille Durand" in message.get_content()
    assert "http://testserver.local/password/forgot" in message.get_content()


async def test_a_mail_sent_again_after_a_crash_keeps_its_message_id(smtp_server) -> None:
    # Given a mail delivered once, whose "sent" mark was lost (the worker died between the SMTP answer and the update)
    from app.actions.mail import do_deliver_mail

    server = smtp_server(RecordingHandler())
    address = unique_email("crash")
    mail_id = await queue_password_changed(address)
    assert await do_deliver_mail(mail_id) == "sent"
    await OutboxMail.update({OutboxMail.status: MailStatus.pending.value}).where(OutboxMail.id == mail_id)
    # When it is delivered again
    assert await do_deliver_mail(mail_id) == "sent"
    # Then the recipient gets two copies with one and the same Message-ID, so mail clients see one mail
    first, second = server.accepted_for(address)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["Message-ID"].startswith(f"<outbox-{mail_id}.")
    # And another row gets another one
    other_id = await queue_password_changed(address)
    assert await do_deliver_mail(other_id) == "sent"
    assert server.accepted_for(address)[2].message["Message-ID"] != first.message["Message-ID"]


async def test_a_refused_mail_is_retried_by_the_worker(smtp_server) -> None:
    server = smtp_server(RecordingHandler(refuse_first=1))
    address = unique_email("retry")
    async with running_worker(QUEUE):
        mail_id = await queue_password_changed(address)
        sent = await wait_for_row(mail_id, lambda r: r.status in (MailStatus.sent.value, MailStatus.failed.value))
        await join_mail_queue()

    assert sent.status == MailStatus.sent.value, sent.last_error
    assert sent.attempts == 2
    assert sent.last_error == "" and sent.claimed_until is None
    assert server.data_commands == 2
    assert len(server.accepted_for(address)) == 1
    assert len(server.accepted) == 1


async def test_the_worker_gives_up_after_the_last_attempt(smtp_server) -> None:
    server = smtp_server(RecordingHandler(refuse_first=math.inf))
    address = unique_email("giveup")
    max_attempts = get_settings().mail_max_attempts
    async with running_worker(QUEUE):
        mail_id = await queue_password_changed(address)
        failed = await wait_for_row(mail_id, lambda r: r.status in (MailStatus.sent.value, MailStatus.failed.value))
        await join_mail_queue()

    assert failed.status == MailStatus.failed.value
    assert failed.attempts == max_attempts == 3
    assert "451" in failed.last_error and "Try again later" in failed.last_error
    assert failed.claimed_until is None and failed.sent_at is None
    assert server.data_commands == max_attempts
    assert server.accepted == []
    # Nothing comes back for it afterwards: the row stays failed
    assert (await row(mail_id)).status == MailStatus.failed.value


async def test_delivery_is_idempotent(smtp_server, enqueued: EnqueueRecorder) -> None:
    server = smtp_server(RecordingHandler())
    address = unique_email("idempotent")
    # Two jobs for the same mail are waiting before any worker runs (do_queue_mail's own, plus a duplicate)
    mail_id = await queue_password_changed(address)
    deliver_mail.send(mail_id)
    assert enqueued.deliveries_of(mail_id) == 2
    async with running_worker(QUEUE):
        await join_mail_queue()
        sent = await wait_for_row(mail_id, lambda r: r.status == MailStatus.sent.value)

    assert sent.attempts == 1
    assert len(server.accepted_for(address)) == 1
    assert server.data_commands == 1

    # Delivering a sent mail again, directly, sends nothing and changes nothing
    assert await do_deliver_mail(mail_id) == "skipped"
    after = await row(mail_id)
    assert (after.status, after.attempts, after.sent_at) == (MailStatus.sent.value, 1, sent.sent_at)
    assert len(server.accepted_for(address)) == 1 and server.data_commands == 1


async def test_without_smtp_the_mail_is_held_and_nothing_is_enqueued(enqueued: EnqueueRecorder) -> None:
    get_settings.cache_clear()
    assert get_settings().smtp_url == ""
    address = unique_email("held")
    mail_id = await queue_password_changed(address, name="Léa Martin")
    english_id = await queue_password_changed(unique_email("held-en"), name="Lea Martin", language="en")

    held = await row(mail_id)
    assert held.status == MailStatus.held.value and held.attempts == 0 and held.to_address == address
    assert held.subject == FRENCH_SUBJECT and "Bonjour Léa Martin" in held.body_text
    assert (await row(english_id)).subject == "Your Cessez-le-feu password has been changed"
    assert enqueued.messages == []
    # A held mail is not the actor's to send, even if a job for it turned up
    assert await do_deliver_mail(mail_id) == "skipped"
    assert (await row(mail_id)).status == MailStatus.held.value
