"""Agreements, certificates, the collective record and the invoice through the routes: who may see and
download what (404 for anyone else), the file fingerprints, signing, countersigning, the fee, closing."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.actions.agreements import do_countersign, do_finalize_proposal, do_sign_agreement
from app.actions.errors import Refused
from app.domain.accounts import FormErrors
from app.tables import Agreement, AuditEvent, Case, Certificate, CollectiveRecord, Decision, Fee, Proposal, Role
from tests.factories import (
    PASSWORD,
    ProposalWorld,
    make_account,
    make_member,
    make_proposal_world,
    reload_proposal,
    set_claim_status,
)
from tests.fixtures import Browsers, csrf_token
from workers.broker import broker

HTMX = {"HX-Request": "true"}


@dataclass
class Finalized:
    world: ProposalWorld
    agreements: list[Agreement]  # of consumers 0 and 1 (accepted), in order
    certificate: Certificate  # of consumer 2 (refused)


async def finalized_world(choices: tuple[str | None, ...] = ("accept", "accept", "refuse")) -> Finalized:
    """Three consumers decided (two accept, one refuses by default), and the proposal was finalized."""
    world = await make_proposal_world(len(choices), outsider=True)
    assert world.proposal is not None
    now = datetime.now(UTC)
    for claim, account, choice in zip(world.claims, world.consumers, choices, strict=True):
        if choice:
            await Decision.insert(Decision(proposal=world.proposal.id, claim=claim.id, consumer=account.user.id,
                                           choice=choice, amount_cents=8_000, notices_shown_at=now))
    await Proposal.update({Proposal.status: "locked", Proposal.locked_at: now}).where(Proposal.id == world.proposal.id)
    assert await do_finalize_proposal(world.proposal.id) == "finalized"
    agreements = await Agreement.objects().where(Agreement.proposal == world.proposal.id).order_by(Agreement.claim)
    certificate = await Certificate.objects().where(Certificate.case == world.case_id).order_by(Certificate.id).first()
    assert certificate is not None
    return Finalized(world, agreements, certificate)


async def post(client, path: str, data: dict[str, str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    return await client.post(path, data={**(data or {}), "_csrf_token": await csrf_token(client)},
                             follow_redirects=False, **kwargs)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def test_each_document_is_downloadable_only_by_those_entitled(browsers: Browsers) -> None:
    # Given a finalized proposal: two agreements, a certificate, a collective record
    done = await finalized_world()
    world = done.world
    agreement, certificate = done.agreements[0], done.certificate
    record = await CollectiveRecord.objects().where(CollectiveRecord.proposal == world.proposal.id).first()
    assert record is not None
    owner = await browsers.as_(world.consumers[0])
    other = await browsers.as_(world.consumers[1])
    refuser = await browsers.as_(world.consumers[2])
    company = await browsers.as_(world.member)
    mediator = await browsers.as_(world.mediator)
    staff = await browsers.as_(await make_account(Role.staff, name="Sam Staff"))
    outsider = await browsers.as_(world.outsider)
    other_member = await browsers.as_(await make_account(Role.company, name="Autre Entreprise"))

    # The agreement: its consumer, the mediator, the company and staff; the file is what its fingerprint says
    for client in (owner, mediator, company, staff):
        response = await client.get(f"/agreements/{agreement.id}/pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert "attachment" in response.headers["content-disposition"]
        assert sha(response.content) == agreement.sha256
    page = await owner.get(f"/agreements/{agreement.id}")
    assert page.status_code == 200 and agreement.sha256 in page.text and "Sign the agreement" in page.text
    for client in (other, refuser, outsider, other_member):
        assert (await client.get(f"/agreements/{agreement.id}/pdf")).status_code == 404
        assert (await client.get(f"/agreements/{agreement.id}")).status_code == 404

    # The certificate: its consumer, the mediator and staff; not the company, nor another consumer
    for client in (refuser, mediator, staff):
        response = await client.get(f"/certificates/{certificate.id}")
        assert response.status_code == 200 and sha(response.content) == certificate.sha256
    for client in (owner, company, outsider, other_member):
        assert (await client.get(f"/certificates/{certificate.id}")).status_code == 404

    # The collective record names every accepting consumer: the company, the mediator and staff only
    for client in (company, mediator, staff):
        response = await client.get(f"/cases/{world.case_id}/agreements/record")
        assert response.status_code == 200 and sha(response.content) == record.sha256
    for client in (owner, refuser, outsider, other_member):
        assert (await client.get(f"/cases/{world.case_id}/agreements/record")).status_code == 404

    # The agreements page: parties see it (a consumer only their own items), others get 404
    listing = await company.get(f"/cases/{world.case_id}/agreements")
    assert listing.status_code == 200 and "Alice Durand" in listing.text and "Bruno Petit" in listing.text
    own = await refuser.get(f"/cases/{world.case_id}/agreements")
    assert own.status_code == 200 and certificate.sha256 in own.text and "Alice Durand" not in own.text
    fragment = await owner.get(f"/cases/{world.case_id}/agreements", headers=HTMX)
    assert fragment.status_code == 200 and 'id="agreements-panel"' in fragment.text and "<html" not in fragment.text
    for client in (outsider, other_member):
        assert (await client.get(f"/cases/{world.case_id}/agreements")).status_code == 404

    # Tampered ids: unknown, zero, beyond 32 bits, not a number
    for path in ("/agreements/999999999", "/certificates/999999999", "/cases/999999999/agreements"):
        assert (await staff.get(path)).status_code == 404
    assert (await staff.get("/agreements/0/pdf")).status_code == 400
    assert (await staff.get("/agreements/99999999999")).status_code == 400
    assert (await staff.get("/certificates/abc")).status_code == 404


async def test_the_consumer_signs_once_after_entering_their_password(browsers: Browsers) -> None:
    done = await finalized_world()
    agreement = done.agreements[0]
    owner = await browsers.as_(done.world.consumers[0])

    # A wrong or missing password is a form error, and nothing is signed
    wrong = await post(owner, f"/agreements/{agreement.id}/sign", {"password": "not my password"})
    assert wrong.status_code == 422 and "This password is not correct." in wrong.text
    empty = await post(owner, f"/agreements/{agreement.id}/sign", {"password": ""}, headers=HTMX)
    assert empty.status_code == 422 and "Please enter your password to sign." in empty.text
    assert 'id="sign-form"' in empty.text and "<html" not in empty.text
    fresh = await Agreement.objects().where(Agreement.id == agreement.id).first()
    assert fresh is not None and fresh.signed_at is None

    # The right password signs it, with the time, address and browser
    signed = await post(owner, f"/agreements/{agreement.id}/sign", {"password": PASSWORD},
                        headers={"User-Agent": "TestBrowser/1.0 " + "x" * 600})
    assert signed.status_code == 303 and signed.headers["location"] == f"/agreements/{agreement.id}?signed=1"
    fresh = await Agreement.objects().where(Agreement.id == agreement.id).first()
    assert fresh is not None and fresh.signed_at is not None and fresh.signed_ip
    assert fresh.signed_user_agent.startswith("TestBrowser/1.0") and len(fresh.signed_user_agent) == 400
    page = await owner.get(f"/agreements/{agreement.id}?signed=1")
    assert "You signed your agreement." in page.text and "Sign the agreement" not in page.text

    # Signing twice is refused clearly, and changes nothing
    again = await post(owner, f"/agreements/{agreement.id}/sign", {"password": PASSWORD})
    assert again.status_code == 409 and "You have already signed this agreement." in again.text
    after = await Agreement.objects().where(Agreement.id == agreement.id).first()
    assert after is not None and after.signed_at == fresh.signed_at


async def test_another_consumers_agreement_cannot_be_signed(browsers: Browsers) -> None:
    done = await finalized_world()
    other = await browsers.as_(done.world.consumers[1])
    mediator = await browsers.as_(done.world.mediator)
    outsider = await browsers.as_(done.world.outsider)
    for client in (other, mediator, outsider):
        response = await post(client, f"/agreements/{done.agreements[0].id}/sign", {"password": PASSWORD})
        assert response.status_code == 404
    fresh = await Agreement.objects().where(Agreement.id == done.agreements[0].id).first()
    assert fresh is not None and fresh.signed_at is None


async def test_a_withdrawn_consumer_cannot_sign(browsers: Browsers) -> None:
    done = await finalized_world()
    await set_claim_status(done.world.claims[0], "withdrawn")
    owner = await browsers.as_(done.world.consumers[0])
    response = await post(owner, f"/agreements/{done.agreements[0].id}/sign", {"password": PASSWORD})
    assert response.status_code == 409 and "You withdrew from this mediation" in response.text


async def test_wrong_passwords_are_limited(browsers: Browsers) -> None:
    done = await finalized_world()
    owner = await browsers.as_(done.world.consumers[0])
    for _ in range(5):
        assert (await post(owner, f"/agreements/{done.agreements[0].id}/sign", {"password": "nope"})).status_code == 422
    blocked = await post(owner, f"/agreements/{done.agreements[0].id}/sign", {"password": PASSWORD})
    assert blocked.status_code == 429 and "Too many wrong passwords" in blocked.text
    fresh = await Agreement.objects().where(Agreement.id == done.agreements[0].id).first()
    assert fresh is not None and fresh.signed_at is None
    await AuditEvent.delete().where(AuditEvent.actor == done.world.consumers[0].user.id)


async def test_the_company_countersigns_once_all_signed_then_the_fee_and_the_case_close(browsers: Browsers) -> None:
    done = await finalized_world()
    world = done.world
    company = await browsers.as_(world.member)
    mediator = await browsers.as_(world.mediator)
    staff = await browsers.as_(await make_account(Role.staff, name="Sam Staff"))

    # Before every consumer has signed (and before the deadline), countersigning is refused
    early = await post(company, f"/cases/{world.case_id}/agreements/countersign")
    assert early.status_code == 409 and "once every consumer has signed" in early.text
    assert "Countersign the" not in (await company.get(f"/cases/{world.case_id}/agreements")).text
    # Only the company countersigns
    assert (await post(mediator, f"/cases/{world.case_id}/agreements/countersign")).status_code == 404

    # When both accepting consumers sign
    for index in (0, 1):
        client = await browsers.as_(world.consumers[index])
        response = await post(client, f"/agreements/{done.agreements[index].id}/sign", {"password": PASSWORD})
        assert response.status_code == 303
    listing = await company.get(f"/cases/{world.case_id}/agreements")
    assert "Countersign the signed agreements (2)" in listing.text

    # Then the company countersigns, once
    response = await post(company, f"/cases/{world.case_id}/agreements/countersign")
    assert response.status_code == 303
    again = await post(company, f"/cases/{world.case_id}/agreements/countersign")
    assert again.status_code == 409 and "already been countersigned" in again.text

    # The fee: 5 % of the signed amounts (80 € each by the fixed rule)
    fee = await Fee.objects().where(Fee.case == world.case_id).first()
    assert fee is not None and (fee.agreements, fee.basis_cents, fee.amount_cents) == (2, 16_000, 800)
    for client in (company, staff):
        invoice = await client.get(f"/cases/{world.case_id}/invoice")
        assert invoice.status_code == 200 and sha(invoice.content) == fee.sha256
    for client in (mediator, await browsers.as_(world.consumers[0]), await browsers.as_(world.outsider)):
        assert (await client.get(f"/cases/{world.case_id}/invoice")).status_code == 404
    case = await Case.objects().where(Case.id == world.case_id).first()
    assert case is not None and (case.status, case.outcome) == ("closed", "agreement") and case.closed_at
    rows = await Agreement.select(Agreement.countersigned_at, Agreement.countersigned_by).where(
        Agreement.proposal == world.proposal.id)
    assert all(row["countersigned_at"] and row["countersigned_by"] == world.member.user.id for row in rows)
    record = await CollectiveRecord.objects().where(CollectiveRecord.proposal == world.proposal.id).first()
    assert record is not None and record.countersigned_by == world.member.user.id and record.countersigned_ip


async def test_after_the_signing_deadline_the_unsigned_get_a_certificate(browsers: Browsers) -> None:
    done = await finalized_world()
    world = done.world
    owner = await browsers.as_(world.consumers[0])
    assert (await post(owner, f"/agreements/{done.agreements[0].id}/sign", {"password": PASSWORD})).status_code == 303
    await Proposal.update({Proposal.finalized_at: datetime.now(UTC) - timedelta(days=15)}).where(
        Proposal.id == world.proposal.id)
    company = await browsers.as_(world.member)

    assert (await post(company, f"/cases/{world.case_id}/agreements/countersign")).status_code == 303

    late = await Certificate.objects().where(Certificate.claim == world.claims[1].id).first()
    assert late is not None and late.reason == "unsigned"
    fee = await Fee.objects().where(Fee.case == world.case_id).first()
    assert fee is not None and fee.agreements == 1
    # The signatures are closed now
    bruno = await browsers.as_(world.consumers[1])
    refused = await post(bruno, f"/agreements/{done.agreements[1].id}/sign", {"password": PASSWORD})
    assert refused.status_code == 409


async def test_the_mediator_closes_the_decisions_now(browsers: Browsers) -> None:
    world = await make_proposal_world(2)
    assert world.proposal is not None
    consumer = await browsers.as_(world.consumers[0])
    mediator = await browsers.as_(world.mediator)
    try:
        assert (await post(consumer, f"/proposals/{world.proposal.id}/close-decisions")).status_code == 404
        response = await post(mediator, f"/proposals/{world.proposal.id}/close-decisions")
        assert response.status_code == 303
        assert response.headers["location"] == f"/cases/{world.case_id}/agreements?closing=1"
        proposal = await reload_proposal(world.proposal)
        assert proposal.status == "locked" and proposal.locked_at is not None
        again = await post(mediator, f"/proposals/{world.proposal.id}/close-decisions")
        assert again.status_code == 409 and "already closed" in again.text
        page = await mediator.get(f"/cases/{world.case_id}/agreements?closing=1")
        assert "being drawn up" in page.text
    finally:
        broker.flush("agreements")  # no worker in this test: the job it enqueued goes


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_the_agreements_page_speaks_the_viewers_language(browsers: Browsers, language: str) -> None:
    done = await finalized_world()
    client = await browsers.as_(done.world.consumers[0], language=language)
    response = await client.get(f"/cases/{done.world.case_id}/agreements")
    assert response.status_code == 200
    assert f'lang="{language}"' in response.text


async def test_two_signatures_at_once_make_one() -> None:
    # Given an agreement to sign
    done = await finalized_world()
    agreement, owner = done.agreements[0], done.world.consumers[0].user
    # When its consumer's two requests (a double click, two tabs) sign it at the same moment
    results = await asyncio.gather(*(do_sign_agreement(owner, agreement.id, PASSWORD, ip="192.0.2.1",
                                                       user_agent=f"tab {tab}") for tab in (1, 2)),
                                   return_exceptions=True)
    # Then one signs, the other is refused clearly, and one signature is recorded
    refused = [result for result in results if isinstance(result, Refused)]
    assert len(refused) == 1 and refused[0].status_code == 409, results
    assert [result for result in results if isinstance(result, FormErrors) and not result] != []
    fresh = await Agreement.objects().where(Agreement.id == agreement.id).first()
    assert fresh is not None and fresh.signed_at is not None
    assert await AuditEvent.count().where(AuditEvent.case == done.world.case_id,
                                          AuditEvent.kind == "agreement_signed") == 1


async def test_two_countersignatures_at_once_make_one_fee_and_one_closing() -> None:
    # Given both accepting consumers signed
    done = await finalized_world()
    world = done.world
    for agreement, account in zip(done.agreements, world.consumers, strict=False):
        assert not await do_sign_agreement(account.user, agreement.id, PASSWORD, ip="192.0.2.1", user_agent="t")
    other_member = await make_member(world.company)
    # When two representatives of the company countersign at the same moment
    results = await asyncio.gather(
        do_countersign(world.member.user, world.case_id, ip="192.0.2.2", user_agent="a"),
        do_countersign(other_member.user, world.case_id, ip="192.0.2.3", user_agent="b"), return_exceptions=True)
    # Then one countersigns, the other is told it is done, and there is one fee, one closing
    refused = [result for result in results if isinstance(result, Refused)]
    assert len(refused) == 1 and refused[0].status_code == 409, results
    assert await Fee.count().where(Fee.case == world.case_id) == 1
    assert await AuditEvent.count().where(AuditEvent.case == world.case_id, AuditEvent.kind == "case_closed") == 1
    certificates = await Certificate.count().where(Certificate.case == world.case_id)
    assert certificates == 1  # the refusing consumer's, no duplicate
