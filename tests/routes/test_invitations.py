"""The company's invitation to mediation: the signed link, the answer, reminders, silence, escalation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.actions.notifications import do_claim_due_reminders, do_handle_reminder
from app.platform import signing
from app.settings import get_settings
from app.tables import AuditEvent, CaseInvitation, Claim, CompanyMember, Reminder, Role
from tests.factories import (
    PASSWORD,
    World,
    make_account,
    make_claim,
    make_due,
    make_world,
    notifications_of,
    reload,
    reload_claim,
    reminders,
    unique_email,
)
from tests.factories.mediation import make_case, make_company
from tests.fixtures import Browsers, link_in, mails_to, post_form

# --- the signature -----------------------------------------------------------------------------------


def test_a_signature_binds_purpose_value_and_expiry() -> None:
    expires = int(time.time()) + 60
    signature = signing.sign("case-invitation", "token", expires, "secret")
    assert len(signature) == signing.SIGNATURE_LENGTH
    assert signing.verify("case-invitation", "token", expires, signature, "secret")
    assert not signing.verify("case-invitation", "token", expires + 1, signature, "secret")
    assert not signing.verify("case-invitation", "tokem", expires, signature, "secret")
    assert not signing.verify("other-purpose", "token", expires, signature, "secret")
    assert not signing.verify("case-invitation", "token", expires, signature, "another secret")
    assert not signing.verify("case-invitation", "token", expires, signature[:-1] + "A", "secret") or \
        signature.endswith("A")
    assert not signing.verify("case-invitation", "token", expires, "", "secret")
    assert not signing.verify("case-invitation", "token", expires, "é" * 43, "secret")
    # Genuine but expired
    assert signing.signature_matches("case-invitation", "token", expires, signature, "secret")
    assert not signing.verify("case-invitation", "token", expires, signature, "secret", now=expires)


@pytest.mark.parametrize(("raw", "value"), [("1700000000", 1700000000), ("", None), (None, None), ("-5", None),
                                             ("1e9", None), ("9" * 13, None), ("١٢٣", None)])
def test_expiry_parsing(raw: str | None, value: int | None) -> None:
    assert signing.parse_expiry(raw) == value


# --- helpers -----------------------------------------------------------------------------------------


async def invite(world: World, browsers: Browsers, *, email: str | None = None, days: str = "21") -> str:
    """Staff invite the company; returns the path of the mailed link."""
    staff = await browsers.as_(world.staff)
    address = email or world.company.contact_email
    response = await post_form(staff, f"/staff/cases/{world.case.id}/invite", {"email": address, "days": days},
                               follow_redirects=False)
    assert response.status_code == 303, response.text
    return link_in((await mails_to(address))[-1], "/invitations/")


def tamper(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return parts.path + "?" + "&".join(f"{key}={value}" for key, value in query.items())


async def run_due(prefix: str) -> list[str]:
    """The scheduler's sweep and the actor, for the reminders under this prefix made due."""
    await make_due(prefix)
    claimed = await do_claim_due_reminders()
    ours = {reminder.id for reminder in await reminders(prefix)}
    return [await do_handle_reminder(reminder_id) for reminder_id in claimed if reminder_id in ours]


# --- inviting ----------------------------------------------------------------------------------------


async def test_staff_invite_the_company_with_a_signed_expiring_link(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers, days="30")
    case = await reload(world.case)
    assert case.status == "invited" and case.invited_at is not None
    [invitation] = await CaseInvitation.objects().where(CaseInvitation.case == case.id)
    assert invitation.email == world.company.contact_email
    assert abs((invitation.deadline - datetime.now(UTC)) - timedelta(days=30)) < timedelta(minutes=1)
    assert case.company_deadline == invitation.deadline
    # The token is random and stored as SHA-256 only; the link carries the expiry and an HMAC signature
    token = urlsplit(path).path.rsplit("/", 1)[-1]
    query = parse_qs(urlsplit(path).query)
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert int(query["expires"][0]) == int(invitation.deadline.timestamp())
    assert signing.verify("case-invitation", token, int(query["expires"][0]), query["sig"][0],
                          get_settings().secret_key)
    # Reminders at D-7 and D-2, and the deadline itself
    keys = sorted(reminder.key for reminder in await reminders(f"invitation:{invitation.id}:"))
    assert keys == sorted(f"invitation:{invitation.id}:{label}" for label in ("d2", "d7", "expire"))
    # The representatives and the consumers are told
    assert await notifications_of(world.member, "company_invited")
    assert await notifications_of(world.consumer_a, "company_invited")
    assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "company_invited")


async def test_invitation_input_is_checked(browsers: Browsers) -> None:
    world = await make_world()
    staff = await browsers.as_(world.staff)
    for data, message in (({"email": "nope", "days": "21"}, "valid e-mail address"),
                          ({"email": "", "days": "90"}, "between 7 and 60"),
                          ({"email": "", "days": "-3"}, "between 7 and 60")):
        response = await post_form(staff, f"/staff/cases/{world.case.id}/invite", data,
                                   headers={"HX-Request": "true"})
        assert response.status_code == 422 and message in response.text and 'id="invite-form"' in response.text
    assert (await reload(world.case)).status == "open"
    assert await CaseInvitation.count().where(CaseInvitation.case == world.case.id) == 0
    # An unverified company, or a case without claims, cannot be invited
    unverified_case = await make_case(await make_company(verified=False))
    await make_claim(unverified_case, world.consumer_a)
    refused = await post_form(staff, f"/staff/cases/{unverified_case.id}/invite", {"email": "", "days": ""})
    assert refused.status_code == 409 and "verify the company" in refused.text
    empty_case = await make_case(world.company)
    refused = await post_form(staff, f"/staff/cases/{empty_case.id}/invite", {"email": "", "days": ""})
    assert refused.status_code == 409 and "no active claim" in refused.text
    assert (await post_form(staff, "/staff/cases/999999/invite", {"email": "", "days": ""})).status_code == 404


async def test_a_new_invitation_replaces_the_old_link(browsers: Browsers) -> None:
    world = await make_world()
    first = await invite(world, browsers)
    second = await invite(world, browsers, email=unique_email("legal"))
    visitor = await browsers.as_(None)
    old = await visitor.get(first)
    assert old.status_code == 400 and "newer link has replaced this one" in old.text
    assert (await visitor.get(second)).status_code == 200
    invitations = await CaseInvitation.objects().where(CaseInvitation.case == world.case.id).order_by(
        CaseInvitation.id)
    assert [invitation.answer for invitation in invitations] == ["replaced", ""]
    # The old invitation's reminders are cancelled
    assert {r.status for r in await reminders(f"invitation:{invitations[0].id}:")} == {"cancelled"}


# --- the company's page ------------------------------------------------------------------------------


async def test_anyone_with_the_link_sees_the_summary_but_no_claim(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    visitor = await browsers.as_(None)
    page = await visitor.get(path)
    assert page.status_code == 200
    for text in (world.company.name, world.case.title, world.case.problem, world.case.demand, "€350.50",
                 "Active claims"):
        assert text in page.text, text
    # No claim: neither facts nor names
    assert world.claim_a.facts not in page.text and "Alice Durand" not in page.text
    # To answer, log in (back to this very link) or sign up
    assert "/login?next=%2Finvitations%2F" in page.text and 'id="signup-form"' in page.text
    # A representative of the company sees the claims neither, before accepting
    member = await browsers.as_(world.member)
    for path_ in (f"/claims/{world.claim_a.id}", f"/cases/{world.case.id}/review",
                  f"/claims/{world.claim_a.id}/review"):
        assert (await member.get(path_)).status_code == 404, path_
    mediation = await member.get(f"/cases/{world.case.id}/mediation")
    assert mediation.status_code == 200 and world.claim_a.facts not in mediation.text
    assert "Alice Durand" not in mediation.text


async def test_tampered_forged_and_expired_links_get_a_clear_page(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    query = parse_qs(urlsplit(path).query)
    token = urlsplit(path).path.rsplit("/", 1)[-1]
    visitor = await browsers.as_(world.member)
    bad_links = [
        tamper(path, sig=query["sig"][0][:-2] + ("AA" if not query["sig"][0].endswith("AA") else "BB")),
        tamper(path, expires=str(int(query["expires"][0]) + 86400)),  # a later deadline, same signature
        tamper(path, sig=""),
        tamper(path, expires="abc"),
        urlsplit(path).path,  # no signature at all
        "/invitations/" + "f" * 43 + "?expires=" + query["expires"][0] + "&sig=" + query["sig"][0],
        "/invitations/x?expires=1&sig=y",
        "/invitations/" + token + "?expires=" + "9" * 40 + "&sig=" + query["sig"][0],
    ]
    for link in bad_links:
        response = await visitor.get(link)
        assert response.status_code == 400, link
        assert "no longer valid" in response.text and "Traceback" not in response.text
        answer = await post_form(visitor, urlsplit(link).path + "/answer",
                                 {"answer": "accept", **{k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}})
        assert answer.status_code == 400, link
    # A genuine link signed for a past time is "expired"
    past = int(time.time()) - 10
    expired = f"/invitations/{token}?expires={past}&sig=" + signing.sign("case-invitation", token, past,
                                                                          get_settings().secret_key)
    response = await visitor.get(expired)
    assert response.status_code == 410 and "deadline to answer this invitation has passed" in response.text
    assert (await reload(world.case)).status == "invited"


async def test_a_representative_accepts_once(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    member = await browsers.as_(world.member)
    page = await member.get(path)
    assert page.status_code == 200 and "Accept the mediation" in page.text
    data = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    response = await post_form(member, urlsplit(path).path + "/answer", {**data, "answer": "accept"},
                               follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{world.case.id}/mediation?answered=1"
    case = await reload(world.case)
    assert case.status == "accepted" and case.accepted_at is not None
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == case.id).first()
    assert invitation.answer == "accepted" and invitation.answered_by == world.member.user.id
    # Consumers and staff are told; the pending reminders are cancelled
    [notice] = await notifications_of(world.consumer_b, "company_accepted")
    assert world.company.name in notice.title
    assert await notifications_of(world.staff, "company_accepted")
    assert {r.status for r in await reminders(f"invitation:{invitation.id}:")} == {"cancelled"}
    # Answering twice, or opening the link again: "no longer valid", nothing changes
    again = await post_form(member, urlsplit(path).path + "/answer", {**data, "answer": "decline", "reason": "Non"})
    assert again.status_code == 410 and "accepted this invitation" in again.text
    assert (await member.get(path)).status_code == 410
    assert (await reload(world.case)).status == "accepted"
    # Now the company sees the admitted claims only (none yet), never the others
    assert (await member.get(f"/claims/{world.claim_a.id}")).status_code == 404


async def test_declining_needs_a_reason_and_opens_the_escalation_path(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    member = await browsers.as_(world.member)
    data = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    answer_path = urlsplit(path).path + "/answer"
    missing = await post_form(member, answer_path, {**data, "answer": "decline", "reason": "  "},
                              headers={"HX-Request": "true"})
    assert missing.status_code == 422 and "give the reason" in missing.text and "<html" not in missing.text
    assert (await reload(world.case)).status == "invited"
    nonsense = await post_form(member, answer_path, {**data, "answer": "maybe"})
    assert nonsense.status_code == 422 and "accept or to decline" in nonsense.text
    response = await post_form(member, answer_path, {**data, "answer": "decline",
                                                     "reason": "Nous avons déjà remboursé tout le monde."},
                               follow_redirects=False)
    assert response.status_code == 303
    case = await reload(world.case)
    assert case.status == "refused" and case.refusal_reason == "Nous avons déjà remboursé tout le monde."
    # Each consumer with an active claim is told, with the reason and the escalation path
    [notice] = await notifications_of(world.consumer_a, "company_refused")
    assert "déjà remboursé" in notice.body and "partenaire contentieux" in notice.body
    assert notice.link == f"/cases/{case.id}/mediation"
    # The consumer opts in, then back out (revocable)
    consumer = await browsers.as_(world.consumer_a)
    panel = await consumer.get(f"/cases/{case.id}/mediation")
    assert panel.status_code == 200 and "Pass my file to the litigation partner" in panel.text
    response = await post_form(consumer, f"/claims/{world.claim_a.id}/escalation", {"opt_in": "1"},
                               follow_redirects=False)
    assert response.status_code == 303
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is not None
    assert "Withdraw my request" in (await consumer.get(f"/cases/{case.id}/mediation")).text
    await post_form(consumer, f"/claims/{world.claim_a.id}/escalation", {"opt_in": "0"})
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is None
    assert await AuditEvent.count().where(AuditEvent.case == case.id,
                                          AuditEvent.kind.is_in(["escalation_opt_in", "escalation_opt_out"])) == 2
    # Nobody else may touch that claim's choice
    other = await browsers.as_(world.consumer_b)
    assert (await post_form(other, f"/claims/{world.claim_a.id}/escalation", {"opt_in": "1"})).status_code == 404
    assert (await post_form(member, f"/claims/{world.claim_a.id}/escalation", {"opt_in": "1"})).status_code == 404
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is None


async def test_escalation_only_for_a_refused_case(browsers: Browsers) -> None:
    world = await make_world()
    consumer = await browsers.as_(world.consumer_a)
    response = await post_form(consumer, f"/claims/{world.claim_a.id}/escalation", {"opt_in": "1"})
    assert response.status_code == 409 and "only when the company refuses" in response.text
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is None


async def test_who_may_answer(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    data = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    answer_path = urlsplit(path).path + "/answer"
    # A consumer, and a representative of another company, may look but not answer
    consumer = await browsers.as_(world.consumer_a)
    assert "not a company representative" in (await consumer.get(path)).text
    refused = await post_form(consumer, answer_path, {**data, "answer": "accept"})
    assert refused.status_code == 403
    stranger_company = await make_company()
    stranger = await make_account(Role.company)
    await CompanyMember.insert(CompanyMember(company=stranger_company.id, user=stranger.user.id))
    outsider = await browsers.as_(stranger)
    assert "does not represent" in (await outsider.get(path)).text
    assert (await post_form(outsider, answer_path, {**data, "answer": "accept"})).status_code == 403
    # A visitor is sent to log in, back to the link
    visitor = await browsers.as_(None)
    response = await post_form(visitor, answer_path, {**data, "answer": "accept"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2Finvitations")
    # The other company's representative gets 404 for this case's pages
    assert (await outsider.get(f"/cases/{world.case.id}/mediation")).status_code == 404
    assert (await post_form(outsider, f"/cases/{world.case.id}/invitation", {"answer": "accept"})).status_code == 404
    assert (await reload(world.case)).status == "invited"


async def test_the_invited_address_joins_the_company_by_answering(browsers: Browsers) -> None:
    world = await make_world()
    contact = await make_account(Role.company, name="Léa Contact")
    path = await invite(world, browsers, email=contact.email)
    browser = await browsers.as_(contact)
    assert "Accept the mediation" in (await browser.get(path)).text
    data = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    response = await post_form(browser, urlsplit(path).path + "/answer", {**data, "answer": "accept"},
                               follow_redirects=False)
    assert response.status_code == 303
    assert await CompanyMember.exists().where(CompanyMember.company == world.company.id,
                                              CompanyMember.user == contact.user.id)
    assert (await reload(world.case)).status == "accepted"


async def test_signing_up_from_the_invitation_then_accepting(browsers: Browsers) -> None:
    world = await make_world()
    address = unique_email("juridique")
    path = await invite(world, browsers, email=address)
    visitor = await browsers.as_(None)
    data = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    response = await post_form(visitor, urlsplit(path).path + "/signup",
                               {**data, "email": address, "display_name": "Service juridique",
                                "password": PASSWORD, "password_confirm": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == path
    page = await visitor.get(path)
    assert "Accept the mediation" in page.text
    await post_form(visitor, urlsplit(path).path + "/answer", {**data, "answer": "accept"})
    assert (await reload(world.case)).status == "accepted"


async def test_representatives_answer_from_the_case_page(browsers: Browsers) -> None:
    world = await make_world()
    await invite(world, browsers)
    member = await browsers.as_(world.member)
    panel = await member.get(f"/cases/{world.case.id}/mediation")
    assert panel.status_code == 200 and "Decline the mediation" in panel.text
    missing = await post_form(member, f"/cases/{world.case.id}/invitation", {"answer": "decline"},
                              headers={"HX-Request": "true"})
    assert missing.status_code == 422 and 'id="answer-form"' in missing.text and "<html" not in missing.text
    response = await post_form(member, f"/cases/{world.case.id}/invitation", {"answer": "accept"},
                               follow_redirects=False)
    assert response.status_code == 303
    assert (await reload(world.case)).status == "accepted"
    again = await post_form(member, f"/cases/{world.case.id}/invitation", {"answer": "accept"})
    assert again.status_code == 410
    # Consumers may not answer for the company
    consumer = await browsers.as_(world.consumer_a)
    assert (await post_form(consumer, f"/cases/{world.case.id}/invitation", {"answer": "decline",
                                                                             "reason": "x"})).status_code == 404


async def test_the_deadline_passed_means_no_answer(browsers: Browsers) -> None:
    world = await make_world()
    path = await invite(world, browsers)
    await CaseInvitation.update({CaseInvitation.deadline: datetime.now(UTC) - timedelta(seconds=1)}).where(
        CaseInvitation.case == world.case.id)
    member = await browsers.as_(world.member)
    # The signed expiry no longer matches the stored deadline, and the deadline has passed anyway
    assert (await member.get(path)).status_code in (400, 410)
    late = await post_form(member, f"/cases/{world.case.id}/invitation", {"answer": "accept"})
    assert late.status_code == 410 and "no longer valid" in late.text
    assert (await reload(world.case)).status == "invited"


# --- reminders ---------------------------------------------------------------------------------------


async def test_d7_reminder_mails_a_fresh_link_and_notifies_members_once(browsers: Browsers) -> None:
    world = await make_world()
    first = await invite(world, browsers)
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == world.case.id).first()
    prefix = f"invitation:{invitation.id}:d7"
    assert await run_due(prefix) == ["done"]
    mails = await mails_to(world.company.contact_email)
    assert len(mails) == 2 and "Rappel" in mails[-1].subject
    fresh = link_in(mails[-1], "/invitations/")
    visitor = await browsers.as_(None)
    assert (await visitor.get(fresh)).status_code == 200
    assert (await visitor.get(first)).status_code == 400  # replaced by the fresh one
    [notice] = await notifications_of(world.member, "invitation_reminder")
    assert world.company.name in notice.title
    # Handled exactly once: another sweep or a duplicate delivery does nothing
    assert await run_due(prefix) == []
    [reminder] = await reminders(prefix)
    assert await do_handle_reminder(reminder.id) == "skipped"
    assert len(await mails_to(world.company.contact_email)) == 2
    assert len(await notifications_of(world.member, "invitation_reminder")) == 1


async def test_silence_until_the_deadline_means_refused(browsers: Browsers) -> None:
    world = await make_world()
    await invite(world, browsers)
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == world.case.id).first()
    prefix = f"invitation:{invitation.id}:expire"
    # Not before the deadline: the handler leaves a live invitation alone
    assert await run_due(prefix) == ["done"]
    assert (await reload(world.case)).status == "invited"
    # At the deadline, the case is refused and consumers are offered the escalation path
    await CaseInvitation.update({CaseInvitation.deadline: datetime.now(UTC) - timedelta(seconds=1)}).where(
        CaseInvitation.id == invitation.id)
    await Reminder.update({Reminder.status: "pending"}).where(Reminder.key == prefix)
    assert await run_due(prefix) == ["done"]
    case = await reload(world.case)
    assert case.status == "refused" and case.refused_at is not None and case.refusal_reason == ""
    assert (await CaseInvitation.objects().where(CaseInvitation.id == invitation.id).first()).answer == "expired"
    [notice] = await notifications_of(world.consumer_b, "company_refused")
    assert "n'a pas répondu avant la date limite" in notice.body
    # Running the handler again (another delivery) changes nothing and tells nobody twice
    await Reminder.update({Reminder.status: "claimed"}).where(Reminder.key == prefix)
    [reminder] = await reminders(prefix)
    assert await do_handle_reminder(reminder.id) == "done"
    assert len(await notifications_of(world.consumer_b, "company_refused")) == 1
    assert await AuditEvent.count().where(AuditEvent.case == case.id, AuditEvent.kind == "invitation_expired") == 1


async def test_reminders_do_nothing_once_answered(browsers: Browsers) -> None:
    world = await make_world()
    await invite(world, browsers)
    member = await browsers.as_(world.member)
    await post_form(member, f"/cases/{world.case.id}/invitation", {"answer": "accept"})
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == world.case.id).first()
    prefix = f"invitation:{invitation.id}:"
    # Even if a reminder was already claimed before the answer cancelled it
    await Reminder.update({Reminder.status: "claimed"}).where(Reminder.key.like(prefix + "%"))
    for reminder in await reminders(prefix):
        assert await do_handle_reminder(reminder.id) == "done"
    assert (await reload(world.case)).status == "accepted"
    assert len(await mails_to(world.company.contact_email)) == 1
    assert await notifications_of(world.member, "invitation_reminder") == []


async def test_a_claim_withdrawn_is_not_counted_nor_told(browsers: Browsers) -> None:
    world = await make_world()
    await Claim.update({Claim.status: "withdrawn"}).where(Claim.id == world.claim_b.id)
    path = await invite(world, browsers)
    page = await (await browsers.as_(None)).get(path)
    assert "€100.00" in page.text
    assert await notifications_of(world.consumer_b, "company_invited") == []
