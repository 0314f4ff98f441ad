"""Admissibility review (L612-2): who reviews, the checklist, the decisions, the consumer told, the 3 weeks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from app.actions.notifications import do_claim_due_reminders, do_handle_reminder
from app.actions.reviews import do_schedule_review_reminders
from app.tables import AuditEvent, Claim, ClaimReview, Evidence, Reminder, Role
from tests.factories import (
    assign,
    make_account,
    make_claim,
    make_due,
    make_world,
    notifications_of,
    reload_claim,
    reminders,
)
from tests.factories.mediation import make_case, make_company
from tests.fixtures import Browsers, csrf_token, mails_to

ALL_TICKED = ["prior_complaint", "not_before_court", "not_unfounded", "in_scope"]


def review_form(criteria: list[str], decision: str, reason: str = "") -> list[tuple[str, str]]:
    return [("criteria", value) for value in criteria] + [("decision", decision), ("reason", reason)]


async def post_review(browser, claim_id: int, criteria: list[str], decision: str, reason: str = "", **kwargs):
    """POST the review form as the browser does: repeated checkboxes, CSRF token included."""
    data = review_form(criteria, decision, reason) + [("_csrf_token", await csrf_token(browser))]
    headers = {"content-type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
    return await browser.post(f"/claims/{claim_id}/review", content=urlencode(data).encode(), headers=headers,
                              **kwargs)


async def test_who_may_review(browsers: Browsers) -> None:
    world = await make_world()
    other_case = await make_case(await make_company())
    other_mediator = await make_account(Role.mediator)
    await assign(other_case, other_mediator)
    pages = [f"/cases/{world.case.id}/review", f"/claims/{world.claim_a.id}/review"]
    # Staff review while no mediator is assigned
    staff = await browsers.as_(world.staff)
    for path in pages:
        assert (await staff.get(path)).status_code == 200, path
    # Nobody else: consumers (even of this case), the company, a mediator of another case
    for account in (world.consumer_a, world.consumer_b, world.member, other_mediator, world.mediator):
        browser = await browsers.as_(account)
        for path in pages:
            assert (await browser.get(path)).status_code == 404, (account.user.role, path)
        response = await post_review(browser, world.claim_a.id, ALL_TICKED, "admit")
        assert response.status_code == 404, account.user.role
    # Once a mediator is assigned, they review, and staff no longer do
    await assign(world.case, world.mediator)
    mediator = await browsers.as_(world.mediator)
    for path in pages:
        assert (await mediator.get(path)).status_code == 200, path
        assert (await staff.get(path)).status_code == 404, path
    visitor = await browsers.as_(None)
    assert (await visitor.get(pages[0], follow_redirects=False)).status_code == 303
    assert (await Claim.objects().where(Claim.id == world.claim_a.id).first()).status == "submitted"


async def test_a_mediator_declares_independence_before_reviewing(browsers: Browsers) -> None:
    world = await make_world()
    await assign(world.case, world.mediator, declared=False)
    mediator = await browsers.as_(world.mediator)
    for path in (f"/cases/{world.case.id}/review", f"/claims/{world.claim_a.id}/review"):
        response = await mediator.get(path)
        assert response.status_code == 409 and "declaration of independence" in response.text, path
    assert (await post_review(mediator, world.claim_a.id, ALL_TICKED, "admit")).status_code == 409
    assert (await reload_claim(world.claim_a)).status == "submitted"


async def test_the_review_page_shows_the_claim_and_its_evidence(browsers: Browsers) -> None:
    world = await make_world()
    await assign(world.case, world.mediator)
    evidence = Evidence(claim=world.claim_a.id, kind="complaint", original_name="lettre-recommandee.pdf",
                        stored_name="f" * 32, content_type="application/pdf", size_bytes=1000, sha256="0" * 64)
    await evidence.save()
    mediator = await browsers.as_(world.mediator)
    listing = await mediator.get(f"/cases/{world.case.id}/review")
    assert "Alice Durand" in listing.text and "Bruno Petit" in listing.text and "€100.00" in listing.text
    page = await mediator.get(f"/claims/{world.claim_a.id}/review")
    assert world.claim_a.facts in page.text
    assert f'href="/evidence/{evidence.id}"' in page.text and "lettre-recommandee.pdf" in page.text
    assert "The consumer first made a written complaint to the company" in page.text
    assert "yes (computed from the dates)" in page.text


async def test_admitting_a_claim(browsers: Browsers) -> None:
    world = await make_world()
    await assign(world.case, world.mediator)
    mediator = await browsers.as_(world.mediator)
    response = await post_review(mediator, world.claim_a.id, ALL_TICKED, "admit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{world.case.id}/review?reviewed={world.claim_a.id}"
    claim = await reload_claim(world.claim_a)
    assert claim.status == "admitted" and claim.reviewed_at is not None
    [review] = await ClaimReview.objects().where(ClaimReview.claim == claim.id)
    assert review.decision == "admitted" and review.reviewer == world.mediator.user.id
    checklist = review.checklist if isinstance(review.checklist, dict) else json.loads(review.checklist)
    assert checklist == {key: True for key in [*ALL_TICKED[:1], "within_one_year", *ALL_TICKED[1:]]}
    [notice] = await notifications_of(world.consumer_a, "claim_admitted")
    assert notice.is_legal and world.case.title in notice.title
    assert any("est recevable" in mail.subject for mail in await mails_to(world.consumer_a.email))
    assert await AuditEvent.exists().where(AuditEvent.case == world.case.id, AuditEvent.kind == "claim_reviewed")
    # An admitted claim cannot be reviewed again
    again = await post_review(mediator, world.claim_a.id, ALL_TICKED[:1], "reject", "Changement d'avis")
    assert again.status_code == 409
    assert (await reload_claim(world.claim_a)).status == "admitted"


async def test_rejecting_needs_a_reason_and_a_failed_item(browsers: Browsers) -> None:
    world = await make_world()
    staff = await browsers.as_(world.staff)
    # Every item holds: rejecting is refused, the form comes back as a fragment
    response = await post_review(staff, world.claim_b.id, ALL_TICKED, "reject", "Je n'y crois pas",
                                 headers={"HX-Request": "true"})
    assert response.status_code == 422 and 'id="review-form"' in response.text and "<html" not in response.text
    assert "untick the items that do not hold" in response.text
    # No reason: refused too
    response = await post_review(staff, world.claim_b.id, ALL_TICKED[1:], "reject", "")
    assert response.status_code == 422 and "the consumer will read it" in response.text
    # Admitting with a failed item is refused
    response = await post_review(staff, world.claim_b.id, ALL_TICKED[1:], "admit")
    assert response.status_code == 422 and "every item of the checklist holds" in response.text
    assert (await reload_claim(world.claim_b)).status == "submitted"
    assert await ClaimReview.count().where(ClaimReview.claim == world.claim_b.id) == 0
    # With a failed item and a reason, it is rejected and the consumer reads the reason
    reason = "Aucune réclamation écrite préalable auprès de la société."
    response = await post_review(staff, world.claim_b.id, ALL_TICKED[1:], "reject", reason, follow_redirects=False)
    assert response.status_code == 303
    claim = await reload_claim(world.claim_b)
    assert claim.status == "rejected" and claim.review_reason == reason
    [notice] = await notifications_of(world.consumer_b, "claim_rejected")
    assert reason in notice.body and notice.is_legal
    assert any(reason in mail.body_text for mail in await mails_to(world.consumer_b.email))


async def test_asking_for_more_then_only_reject_until_completed(browsers: Browsers) -> None:
    world = await make_world()
    staff = await browsers.as_(world.staff)
    message = "Merci de joindre la copie de votre courrier recommandé."
    response = await post_review(staff, world.claim_a.id, ALL_TICKED, "ask_for_more", message, follow_redirects=False)
    assert response.status_code == 303
    claim = await reload_claim(world.claim_a)
    assert claim.status == "needs_info" and claim.review_reason == message
    [notice] = await notifications_of(world.consumer_a, "claim_needs_info")
    assert message in notice.body and notice.link == f"/claims/{claim.id}/edit"
    # Until the consumer completes it, the reviewer may only reject it
    admit = await post_review(staff, world.claim_a.id, ALL_TICKED, "admit")
    assert admit.status_code == 409 and "has not completed this claim yet" in admit.text
    reject = await post_review(staff, world.claim_a.id, ALL_TICKED[1:], "reject", "Jamais complété.",
                               follow_redirects=False)
    assert reject.status_code == 303 and (await reload_claim(world.claim_a)).status == "rejected"


async def test_a_complaint_more_than_a_year_old_cannot_be_admitted(browsers: Browsers) -> None:
    world = await make_world()
    late = await make_claim(world.case, await make_account(Role.consumer),
                            complaint_date=date.today() - timedelta(days=500))
    staff = await browsers.as_(world.staff)
    page = await staff.get(f"/claims/{late.id}/review")
    assert "more than a year passed" in page.text
    response = await post_review(staff, late.id, ALL_TICKED, "admit")
    assert response.status_code == 422
    response = await post_review(staff, late.id, ALL_TICKED, "reject", "Réclamation écrite de plus d'un an.",
                                 follow_redirects=False)
    assert response.status_code == 303 and (await reload_claim(late)).status == "rejected"


async def test_the_year_counts_to_when_the_claim_was_first_brought(browsers: Browsers) -> None:
    # Given a claim brought 361 days after the complaint, sent back for more, and completed 9 days later
    world = await make_world()
    consumer = await make_account(Role.consumer)
    claim = await make_claim(world.case, consumer, complaint_date=date.today() - timedelta(days=370))
    await ClaimReview.insert(ClaimReview(claim=claim.id, reviewer=world.staff.user.id, decision="needs_info",
                                         reason="Pièce manquante", created_at=datetime.now(UTC) - timedelta(days=9)))
    staff = await browsers.as_(world.staff)
    # Then the year is counted to the first filing, not to the completion
    page = await staff.get(f"/claims/{claim.id}/review")
    assert "yes (computed from the dates)" in page.text
    response = await post_review(staff, claim.id, ALL_TICKED, "admit", follow_redirects=False)
    assert response.status_code == 303 and (await reload_claim(claim)).status == "admitted"


async def test_hostile_review_input(browsers: Browsers) -> None:
    world = await make_world()
    staff = await browsers.as_(world.staff)
    for criteria, decision, reason in ((["bogus"] * 50, "admit", ""), (ALL_TICKED, "drop table", ""),
                                       (ALL_TICKED[1:], "reject", "x" * 20_000)):
        response = await post_review(staff, world.claim_a.id, criteria, decision, reason)
        assert response.status_code == 422
    assert (await post_review(staff, 999_999, ALL_TICKED, "admit")).status_code == 404
    assert (await staff.get("/claims/99999999999/review")).status_code == 400
    assert (await reload_claim(world.claim_a)).status == "submitted"


async def test_review_reminders_are_sent_once_and_not_after_the_review(browsers: Browsers) -> None:
    world = await make_world()
    submitted = datetime.now(UTC) - timedelta(days=15)
    await Claim.update({Claim.submitted_at: submitted}).where(Claim.id.is_in([world.claim_a.id, world.claim_b.id]))
    assert await do_schedule_review_reminders(world.claim_a.id) == 2
    assert await do_schedule_review_reminders(world.claim_a.id) == 0  # same submission: once
    assert await do_schedule_review_reminders(world.claim_b.id) == 2
    prefix_a, prefix_b = f"claim-review:{world.claim_a.id}:", f"claim-review:{world.claim_b.id}:"
    # Claim B gets reviewed: its reminders are cancelled
    staff = await browsers.as_(world.staff)
    await post_review(staff, world.claim_b.id, ALL_TICKED, "admit")
    assert {r.status for r in await reminders(prefix_b)} == {"cancelled"}
    # The +14 days reminder of claim A is due: staff (no mediator yet) are reminded, once
    [first, _second] = await reminders(prefix_a)
    await Reminder.update({Reminder.due_at: datetime.now(UTC) - timedelta(minutes=1)}).where(Reminder.id == first.id)
    claimed = await do_claim_due_reminders()
    assert first.id in claimed
    assert await do_handle_reminder(first.id) == "done"
    assert await do_handle_reminder(first.id) == "skipped"
    [notice] = await notifications_of(world.staff, "claim_review_due")
    assert notice.link == f"/claims/{world.claim_a.id}/review"
    assert first.id not in await do_claim_due_reminders()
    # A reminder that comes due after the review does nothing
    await post_review(staff, world.claim_a.id, ALL_TICKED, "admit")
    await Reminder.update({Reminder.status: "pending"}).where(Reminder.key.like(prefix_a + "%"))
    await make_due(prefix_a)
    for reminder_id in await do_claim_due_reminders():
        await do_handle_reminder(reminder_id)
    assert len(await notifications_of(world.staff, "claim_review_due")) == 1


async def test_the_mediator_is_the_one_reminded_once_assigned() -> None:
    world = await make_world()
    await assign(world.case, world.mediator)
    await do_schedule_review_reminders(world.claim_a.id)
    prefix = f"claim-review:{world.claim_a.id}:"
    await make_due(prefix)
    for reminder_id in await do_claim_due_reminders():
        await do_handle_reminder(reminder_id)
    assert len(await notifications_of(world.mediator, "claim_review_due")) == 2
    assert await notifications_of(world.staff, "claim_review_due") == []
    # Nothing is scheduled for a claim that is not waiting for review
    await Claim.update({Claim.status: "withdrawn"}).where(Claim.id == world.claim_b.id)
    assert await do_schedule_review_reminders(world.claim_b.id) == 0
    assert await do_schedule_review_reminders(999_999) == 0
