"""Finalization: one idempotent job, through the real parts (the app's broker — in-process, or Redis with
REDIS_URL — a real Dramatiq worker, the scheduler's own sweep). Run twice, or crashed mid-way and retried, it
ends with exactly one agreement per accepting consumer, one certificate per other consumer, one record."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest

import app.actions.agreements as agreements
from app.actions.agreements import do_finalize_proposal, do_sweep_finalizations
from app.platform.documents import read_document
from app.tables import Agreement, Case, Certificate, CollectiveRecord, Decision, Notification, Proposal, Reminder
from tests.factories import ProposalWorld, make_proposal_world, reload_proposal
from tests.workers.worker import running_worker
from workers.agreements import finalize_proposal
from workers.broker import broker

QUEUE = "agreements"
SETTLE_TIMEOUT_S = 60.0


async def decide(world: ProposalWorld, choices: list[str | None]) -> None:
    """Each consumer's decision on the world's proposal, in order (None: no answer)."""
    assert world.proposal is not None
    now = datetime.now(UTC)
    for claim, account, choice in zip(world.claims, world.consumers, choices, strict=True):
        if choice is not None:
            await Decision.insert(Decision(proposal=world.proposal.id, claim=claim.id, consumer=account.user.id,
                                           choice=choice, amount_cents=1, notices_shown_at=now))


async def counts(world: ProposalWorld) -> dict[str, Any]:
    assert world.proposal is not None
    rows = await Agreement.select(Agreement.claim).where(Agreement.proposal == world.proposal.id)
    certificates = await Certificate.select(Certificate.claim, Certificate.reason).where(
        Certificate.case == world.case_id)
    return {"agreements": sorted(row["claim"] for row in rows),
            "certificates": sorted((row["claim"], row["reason"]) for row in certificates),
            "records": await CollectiveRecord.count().where(CollectiveRecord.proposal == world.proposal.id)}


class FinalizeJobs(dramatiq.Middleware):
    """Follows finalize_proposal messages until each is finished for good (succeeded or given up)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: set[str] = set()
        self.attempts = 0
        self.failures = 0

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        if message.actor_name == finalize_proposal.actor_name:
            with self.lock:
                self.open.add(message.message_id)

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if message.actor_name != finalize_proposal.actor_name:
            return
        with self.lock:
            self.attempts += 1
            self.failures += exception is not None
            if exception is None or getattr(message, "failed", False):
                self.open.discard(message.message_id)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self.lock:
            self.open.discard(message.message_id)

    async def settle(self) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            with self.lock:
                if not self.open and self.attempts:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"finalization jobs not settled (attempts={self.attempts})")
            await asyncio.sleep(0.05)


@pytest.fixture
def jobs() -> Iterator[FinalizeJobs]:
    recorder = FinalizeJobs()
    broker.add_middleware(recorder)
    try:
        yield recorder
    finally:
        broker.middleware.remove(recorder)


async def test_finalizing_twice_makes_one_agreement_per_accepting_consumer() -> None:
    # Given four consumers: two accept, one refuses, one does not answer; the decisions are closed
    world = await make_proposal_world(4, rule_kind="share", share_basis_points=5_000)
    await decide(world, ["accept", "refuse", "accept", None])
    assert world.proposal is not None
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == world.proposal.id)

    # When the job runs twice (a duplicate delivery), and once more concurrently with itself
    assert await do_finalize_proposal(world.proposal.id) == "finalized"
    assert await do_finalize_proposal(world.proposal.id) == "done"

    # Then one agreement per accepting consumer, a certificate for each of the others, one record
    claims = [claim.id for claim in world.claims]
    assert await counts(world) == {"agreements": [claims[0], claims[2]],
                                   "certificates": sorted([(claims[1], "refused"), (claims[3], "silent")]),
                                   "records": 1}
    proposal = await reload_proposal(world.proposal)
    assert proposal.status == "finalized" and proposal.locked_at is not None and proposal.finalized_at is not None
    # The amount is recomputed from each claim: half of 100 € and of 400 €
    amounts = await Agreement.select(Agreement.amount_cents).where(Agreement.proposal == proposal.id).order_by(
        Agreement.claim)
    assert [row["amount_cents"] for row in amounts] == [5_000, 20_000]
    # The stored file is what the fingerprint says, and it is a PDF
    agreement = await Agreement.objects().where(Agreement.claim == claims[0]).first()
    assert agreement is not None
    content = read_document(agreement.stored_name)
    assert content.startswith(b"%PDF") and hashlib.sha256(content).hexdigest() == agreement.sha256
    # Each consumer was told once; the signing reminders are scheduled once
    ready = await Notification.count().where(Notification.case == world.case_id,
                                             Notification.kind == "agreement_ready")
    certified = await Notification.count().where(Notification.case == world.case_id,
                                                 Notification.kind == "certificate_issued")
    assert (ready, certified) == (2, 2)
    assert await Reminder.count().where(Reminder.key.like(f"agreements:{proposal.id}:%")) == 3
    case = await Case.objects().where(Case.id == world.case_id).first()
    assert case is not None and case.status == "in_mediation"


async def test_nobody_accepting_closes_the_case_without_agreement() -> None:
    world = await make_proposal_world(2)
    await decide(world, ["refuse", None])
    assert world.proposal is not None
    await Proposal.update({Proposal.status: "locked", Proposal.locked_at: datetime.now(UTC)}).where(
        Proposal.id == world.proposal.id)

    assert await do_finalize_proposal(world.proposal.id) == "finalized"

    found = await counts(world)
    assert found["agreements"] == [] and len(found["certificates"]) == 2 and found["records"] == 1
    case = await Case.objects().where(Case.id == world.case_id).first()
    assert case is not None and (case.status, case.outcome) == ("closed", "no_agreement")
    assert case.closed_at is not None
    assert await Notification.count().where(Notification.user == world.member.user.id,
                                            Notification.kind == "case_closed") == 1


async def test_an_open_proposal_is_not_finalized_before_its_deadline() -> None:
    world = await make_proposal_world(1)
    assert world.proposal is not None
    assert await do_finalize_proposal(world.proposal.id) == "not_due"
    assert (await reload_proposal(world.proposal)).status == "open"


async def test_a_worker_killed_mid_way_is_retried_to_exactly_one_of_each(
    jobs: FinalizeJobs, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given five consumers who all accept, written one by one, and a worker that dies after two agreements
    world = await make_proposal_world(5)
    await decide(world, ["accept"] * 5)
    assert world.proposal is not None
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == world.proposal.id)
    monkeypatch.setattr(agreements, "BATCH", 1)
    monkeypatch.setitem(finalize_proposal.options, "min_backoff", 20)
    monkeypatch.setitem(finalize_proposal.options, "max_backoff", 100)
    crashes: list[int] = []

    def crash_once(written: int) -> None:
        if written == 2 and not crashes:
            crashes.append(written)
            raise RuntimeError("worker killed on purpose")

    monkeypatch.setattr(agreements, "crash_hook", crash_once)

    # When the scheduler's sweep finds the deadline passed, and the job runs on a real worker (twice enqueued)
    async with running_worker(QUEUE, only_this_queue=True):
        enqueued = await do_sweep_finalizations()
        assert world.proposal.id in enqueued
        await jobs.settle()
        finalize_proposal.send(world.proposal.id)  # a duplicate delivery
        await jobs.settle()

    # Then it crashed once after two agreements, was retried, and everything exists exactly once
    assert crashes == [2] and jobs.failures == 1
    found = await counts(world)
    assert found == {"agreements": sorted(claim.id for claim in world.claims), "certificates": [], "records": 1}
    assert (await reload_proposal(world.proposal)).status == "finalized"
    assert await Notification.count().where(Notification.case == world.case_id,
                                            Notification.kind == "agreement_ready") == 5


async def test_the_sweep_locks_a_due_proposal_once() -> None:
    world = await make_proposal_world(1)
    assert world.proposal is not None
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == world.proposal.id)
    try:
        first, second = await asyncio.gather(do_sweep_finalizations(), do_sweep_finalizations())
        assert (world.proposal.id in first) != (world.proposal.id in second)
        assert world.proposal.id not in await do_sweep_finalizations()
        assert (await reload_proposal(world.proposal)).status == "locked"
    finally:
        broker.flush(QUEUE)
        await Proposal.update({Proposal.status: "withdrawn"}).where(Proposal.id == world.proposal.id)


def test_an_agreement_pdf_is_deterministic_and_its_fingerprint_covers_the_amount() -> None:
    from app.domain.notices import notice_texts
    from app.platform.pdfs import AgreementDoc, agreement_fingerprint, agreement_pdf

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    doc = AgreementDoc(
        agreement_ref="A-1-2-3", case_id=1, case_title="Frais cachés — l’œuvre", company_name="Société Générale",
        consumer_name="Zoë Lœwe", consumer_email="zoe@example.org", mediator_name="Maud Médiatrice",
        proposal_number=1, proposal_version=2, proposal_author_role="company", terms="Remboursement : 50 %.",
        rule_kind="share", amount_cents=123_456, item="", claimed_cents=246_912,
        notices=tuple(notice_texts(now, "fr")), mediation_started_at=now, proposed_at=now, decide_by=now,
        accepted_at=now, finalized_at=now)
    french, again, english = agreement_pdf(doc, "fr"), agreement_pdf(doc, "fr"), agreement_pdf(doc, "en")
    assert french.startswith(b"%PDF") and french == again and french != english
    fingerprint = agreement_fingerprint(doc)
    assert len(fingerprint) == 64 and agreement_fingerprint(replace(doc, consumer_name="Zoë Lœwe")) == fingerprint
    assert agreement_fingerprint(replace(doc, amount_cents=123_457)) != fingerprint
    assert agreement_fingerprint(replace(doc, terms="Remboursement : 60 %.")) != fingerprint
    assert agreement_pdf(replace(doc, amount_cents=123_457), "fr") != french


def pdf_text(content: bytes) -> str:
    """The text a PDF of ours draws (its compressed content streams' strings), in order, one line per string."""
    strings: list[str] = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", content, re.S):
        with contextlib.suppress(zlib.error):
            data = zlib.decompressobj().decompress(stream)
            for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", data, re.S):
                text = re.sub(rb"\\([0-7]{1,3})", lambda match: bytes([int(match.group(1), 8)]), raw)
                strings.append(re.sub(rb"\\(.)", rb"\1", text).decode("cp1252"))
    return "\n".join(strings)


def test_long_french_terms_with_markup_are_drawn_in_full_as_plain_text_across_pages() -> None:
    from app.domain.notices import notice_texts
    from app.platform.pdfs import AgreementDoc, CollectiveRecordDoc, RecordLine, agreement_pdf, collective_record_pdf

    # Given terms of over 4,000 characters: accents, €, markup reportlab's Paragraph would interpret, a long URL
    words = [f"mot{index:04d}" for index in range(480)]
    terms = ("Œuvre réparée à 100 € près <b>gras</b> <font color=red>&amp;</font> <para>x</para>\n"
             + " ".join(words) + "\nhttps://exemple.fr/" + "a" * 300)
    assert len(terms) > 4_000
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    doc = AgreementDoc(
        agreement_ref="A-1-2-3", case_id=1, case_title="Frais cachés", company_name="Société Générale",
        consumer_name="Zoë Lœwe", consumer_email="zoe@example.org", mediator_name="Maud Médiatrice",
        proposal_number=1, proposal_version=1, proposal_author_role="mediator", terms=terms, rule_kind="fixed",
        amount_cents=123_456, item="", claimed_cents=246_912, notices=tuple(notice_texts(now, "fr")),
        mediation_started_at=now, proposed_at=now, decide_by=now, accepted_at=now, finalized_at=now)
    record = CollectiveRecordDoc(
        case_id=1, case_title="Frais cachés", company_name="Société Générale", mediator_name="Maud Médiatrice",
        proposal_number=1, proposal_version=1, terms=terms, rule_kind="fixed", decide_by=now, finalized_at=now,
        accepting=1, refusing=0, silent=0, agreements=(RecordLine("Zoë Lœwe", 123_456, ""),))
    for content in (agreement_pdf(doc, "fr"), collective_record_pdf(record, "fr")):
        # When its text is read back
        text = pdf_text(content)
        # Then it spans pages, and every word is there, the markup as plain text, accents and € included
        assert len(re.findall(rb"/Type /Page\b", content)) >= 2
        assert all(word in text for word in words)
        assert "Œuvre réparée à 100 € près <b>gras</b> <font color=red>&amp;</font> <para>x</para>" in text
        assert text.replace("\n", "").count("a" * 300) == 1  # the URL is cut into lines, not off the page
        assert "Zoë Lœwe" in text and "1 234,56" in text.replace("\u00a0", " ")


async def test_a_decision_racing_the_lock_is_either_refused_or_in_the_agreements() -> None:
    from app.actions.agreements import do_close_decisions
    from app.actions.errors import Refused
    from app.actions.proposals import do_decide, shown_token

    for attempt in range(3):
        # Given an open proposal, and a consumer whose decision form was shown a moment ago
        world = await make_proposal_world(1)
        assert world.proposal is not None
        alice = world.consumers[0].user
        token = shown_token(world.proposal, alice.id, datetime.now(UTC) - timedelta(seconds=1))
        # When the mediator closes the decisions while the consumer accepts, at the same moment
        try:
            decided, closed = await asyncio.gather(
                do_decide(alice, world.proposal.id, version="1", choice="accept", amount="8000", shown=token),
                do_close_decisions(world.mediator.user, world.proposal.id), return_exceptions=True)
        finally:
            broker.flush(QUEUE)
        # Then the lock always wins its race, and the decision is either refused clearly, or in before the lock
        assert not isinstance(closed, BaseException), closed
        assert (await reload_proposal(world.proposal)).status == "locked"
        if isinstance(decided, Refused):
            assert decided.status_code == 409
            assert await Decision.count().where(Decision.proposal == world.proposal.id) == 0
        else:
            assert not isinstance(decided, BaseException), decided
        # and the finalization makes exactly what the stored decisions say
        assert await do_finalize_proposal(world.proposal.id) == "finalized"
        accepted = await Decision.count().where(Decision.proposal == world.proposal.id)
        assert len((await counts(world))["agreements"]) == accepted, attempt
