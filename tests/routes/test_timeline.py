"""The timeline (R612-5): default phases at the start, the mediator's edits, the extension with a reason and
notice to every party, the mediator's reminders, the automatic expiry, and the withdrawal's certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.actions.notifications import do_claim_due_reminders, do_handle_reminder
from app.actions.timeline import do_expire_cases, limit_reminder_prefix
from app.domain.timeline import PARIS
from app.tables import (
    Agreement,
    AuditEvent,
    Case,
    Certificate,
    Claim,
    DeadlineExtension,
    Phase,
    Proposal,
    Reminder,
    Role,
)
from tests.factories import (
    World,
    assign,
    make_account,
    make_due,
    make_world,
    notifications_of,
    reload,
    reload_claim,
    reminders,
)
from tests.fixtures import Browsers, post_form


async def started_world(browsers: Browsers) -> World:
    """Claim A admitted, B submitted; the mediator starts the mediation through the page."""
    world = await make_world(status="accepted")
    await assign(world.case, world.mediator, declared=True)
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == world.claim_a.id)
    mediator = await browsers.as_(world.mediator)
    response = await post_form(mediator, f"/cases/{world.case.id}/start", {}, follow_redirects=False)
    assert response.status_code == 303
    world.case = await reload(world.case)
    return world


def day_input(value: datetime) -> str:
    return value.astimezone(PARIS).date().isoformat()


async def phases_of(world: World) -> list[Phase]:
    return await Phase.objects().where(Phase.case == world.case.id).order_by(Phase.position)


async def test_the_start_makes_the_default_timeline_that_every_party_sees(browsers: Browsers) -> None:
    # Given a started mediation
    world = await started_world(browsers)
    # Then the default phases lie inside the 90 days, in order, and the mediator's reminders wait
    phases = await phases_of(world)
    assert [phase.kind for phase in phases] == ["statements", "company_response", "negotiation", "decision"]
    assert all(world.case.started_at < phase.due_at < world.case.ends_at for phase in phases)
    keys = sorted(reminder.key.rsplit(":", 1)[-1] for reminder in await reminders(limit_reminder_prefix(world.case.id)))
    assert keys == ["d14", "d3"]
    # Every party sees it, with the days left and their next step
    path = f"/cases/{world.case.id}/timeline"
    for account in (world.consumer_a, world.member, world.mediator, world.staff):
        page = await (await browsers.as_(account)).get(path)
        assert page.status_code == 200 and "Statements of the parties" in page.text, account.user.role
        assert "90 days left" in page.text or "89 days left" in page.text
        assert "What I have to do next" in page.text
    consumer_page = await (await browsers.as_(world.consumer_a)).get(path)
    assert "Tell your side in the mediation room" in consumer_page.text and "Edit the phases" not in consumer_page.text
    mediator_page = await (await browsers.as_(world.mediator)).get(path)
    assert "Edit the phases" in mediator_page.text and "Lead the current phase" in mediator_page.text
    # The mediation page shows the timeline and the next steps too
    panel = await (await browsers.as_(world.consumer_a)).get(f"/cases/{world.case.id}/mediation")
    assert panel.status_code == 200 and 'id="timeline-summary"' in panel.text and 'id="next-steps"' in panel.text
    # HTMX gets the panel only
    fragment = await (await browsers.as_(world.member)).get(path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'id="timeline-panel"' in fragment.text and "<html" not in fragment.text
    # Outsiders get 404: another consumer, another company's member, another mediator
    outsiders = [await make_account(Role.consumer), await make_account(Role.mediator)]
    for account in outsiders:
        assert (await (await browsers.as_(account)).get(path)).status_code == 404


async def test_the_mediator_edits_the_phases_within_the_limit(browsers: Browsers) -> None:
    world = await started_world(browsers)
    mediator = await browsers.as_(world.mediator)
    first, second, *_rest = await phases_of(world)
    path = f"/cases/{world.case.id}/timeline/phases/{first.id}"
    # A date past the limit is refused, with the way out
    late = day_input(world.case.ends_at + timedelta(days=1))
    refused = await post_form(mediator, path, {"title": "", "due_on": late}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "Extend the limit first" in refused.text and "<html" not in refused.text
    for bad in ("", "31/12/2026", "2026-02-30", "x" * 5000):
        response = await post_form(mediator, path, {"title": "", "due_on": bad})
        assert response.status_code == 422, bad
    too_long = await post_form(mediator, path, {"title": "t" * 121, "due_on": day_input(first.due_at)})
    assert too_long.status_code == 422 and "under 120 characters" in too_long.text
    assert (await phases_of(world))[0].due_at == first.due_at  # nothing half-saved
    # A good edit is saved and audited
    new_day = world.case.started_at + timedelta(days=10)
    response = await post_form(mediator, path, {"title": "Exposés écrits", "due_on": day_input(new_day)},
                               follow_redirects=False)
    assert response.status_code == 303
    edited = (await phases_of(world))[0]
    assert edited.title == "Exposés écrits" and edited.due_at.astimezone(PARIS).date() == new_day.astimezone(
        PARIS).date()
    # The limit's own day is accepted, and ends at the limit itself
    ok = await post_form(mediator, path, {"title": "", "due_on": day_input(world.case.ends_at)})
    assert ok.status_code == 200
    assert (await phases_of(world))[0].due_at <= world.case.ends_at
    # Add a custom phase, move it up, mark it done, remove it
    added = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases",
                            {"title": "Expertise", "due_on": day_input(world.case.started_at + timedelta(days=50))})
    assert added.status_code == 200
    custom = (await phases_of(world))[-1]
    assert custom.kind == "custom" and custom.position == 5
    no_title = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases", {"title": " ", "due_on": late})
    assert no_title.status_code == 422 and "give the phase a title" in no_title.text
    await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{custom.id}/move", {"direction": "up"})
    assert [phase.id for phase in await phases_of(world)][3] == custom.id
    bad_move = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{custom.id}/move",
                               {"direction": "sideways"})
    assert bad_move.status_code == 400
    await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{second.id}/done", {"done": "1"})
    assert (await Phase.objects().where(Phase.id == second.id).first()).done_at is not None
    default_removal = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{second.id}/delete", {})
    assert default_removal.status_code == 409
    await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{custom.id}/delete", {})
    assert [phase.position for phase in await phases_of(world)] == [1, 2, 3, 4]
    assert await AuditEvent.count().where(AuditEvent.case == world.case.id, AuditEvent.kind.like("phase_%")) >= 5
    # Only the mediator edits: the other parties and staff get 404, and a phase of another case is 404
    for account in (world.consumer_a, world.member, world.staff):
        browser = await browsers.as_(account)
        assert (await post_form(browser, path, {"title": "x", "due_on": day_input(new_day)})).status_code == 404
        assert (await post_form(browser, f"/cases/{world.case.id}/timeline/phases",
                                {"title": "x", "due_on": day_input(new_day)})).status_code == 404
    other = await started_world(browsers)
    other_phase = (await phases_of(other))[0]
    stolen = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{other_phase.id}",
                             {"title": "x", "due_on": day_input(new_day)})
    assert stolen.status_code == 404


async def test_an_extension_needs_a_reason_and_tells_every_party_at_once(browsers: Browsers) -> None:
    world = await started_world(browsers)
    mediator = await browsers.as_(world.mediator)
    path = f"/cases/{world.case.id}/extensions"
    old_end = world.case.ends_at
    new_end_day = day_input(old_end + timedelta(days=30))
    # No reason: refused with a clear message, nothing changed
    empty = await post_form(mediator, path, {"ends_on": new_end_day, "reason": "  "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "give the reason for the extension" in empty.text
    earlier = await post_form(mediator, path, {"ends_on": day_input(old_end), "reason": "Complexe"})
    assert earlier.status_code == 422 and "must be after the current one" in earlier.text
    too_far = await post_form(mediator, path, {"ends_on": day_input(old_end + timedelta(days=91)), "reason": "x"})
    assert too_far.status_code == 422 and "at most 90 days" in too_far.text
    assert (await reload(world.case)).ends_at == old_end and not await DeadlineExtension.exists()\
        .where(DeadlineExtension.case == world.case.id)
    # Only the mediator
    for account in (world.consumer_a, world.member, world.staff):
        response = await post_form(await browsers.as_(account), path, {"ends_on": new_end_day, "reason": "x"})
        assert response.status_code == 404
    # A good extension
    reason = "Une expertise technique des colis est en cours."
    response = await post_form(mediator, path, {"ends_on": new_end_day, "reason": reason}, follow_redirects=False)
    assert response.status_code == 303
    case = await reload(world.case)
    assert day_input(case.ends_at) == new_end_day
    [extension] = await DeadlineExtension.objects().where(DeadlineExtension.case == case.id)
    assert extension.reason == reason and extension.previous_ends_at == old_end
    assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "limit_extended")
    for account in (world.consumer_a, world.member, world.mediator):
        [notice] = await notifications_of(account, "mediation_extended")
        assert notice.is_legal and "expertise technique" in notice.body
    assert not await notifications_of(world.consumer_b, "mediation_extended")  # not admitted: not a party
    # The mediator's reminders follow the new limit
    limit_reminders = await reminders(limit_reminder_prefix(case.id))
    assert {reminder.status for reminder in limit_reminders if str(int(old_end.timestamp())) in reminder.key} == {
        "cancelled"}
    assert len([reminder for reminder in limit_reminders if reminder.status == "pending"
                and str(int(case.ends_at.timestamp())) in reminder.key]) == 2
    # A phase may now go past the old limit; the page shows the extension
    phase = (await phases_of(world))[-1]
    moved = await post_form(mediator, f"/cases/{case.id}/timeline/phases/{phase.id}",
                            {"title": "", "due_on": day_input(old_end + timedelta(days=10))})
    assert moved.status_code == 200
    page = await (await browsers.as_(world.consumer_a)).get(f"/cases/{case.id}/timeline")
    assert "Extensions" in page.text and reason in page.text


async def test_the_mediator_is_reminded_once_before_the_limit(browsers: Browsers) -> None:
    world = await started_world(browsers)
    prefix = limit_reminder_prefix(world.case.id)
    # When both reminders come due, then again
    await make_due(prefix)
    claimed = await do_claim_due_reminders()
    ours = {reminder.id for reminder in await reminders(prefix)}
    results = [await do_handle_reminder(reminder_id) for reminder_id in claimed if reminder_id in ours]
    assert results == ["done", "done"]
    assert not set(await do_claim_due_reminders()) & ours  # sent once each
    # Then the mediator got them, no one else did
    notices = await notifications_of(world.mediator, "mediation_limit")
    assert len(notices) == 2 and notices[0].link == f"/cases/{world.case.id}/timeline"
    assert not await notifications_of(world.consumer_a, "mediation_limit")


async def test_at_the_limit_the_case_ends_with_certificates_for_all_once(browsers: Browsers) -> None:
    world = await started_world(browsers)
    other = await started_world(browsers)  # a locked proposal: finalization, not expiry, ends it
    past = datetime.now(UTC) - timedelta(minutes=1)
    await Case.update({Case.ends_at: past}).where(Case.id.is_in([world.case.id, other.case.id]))
    await Proposal.insert(Proposal(case=other.case.id, number=1, author_role="company", terms="Remboursement",
                                   rule_kind="fixed", fixed_cents=1000, vote_closes_at=past, decide_by=past,
                                   status="locked"))
    # When the scheduler sweeps
    from workers.scheduler import sweep_once

    counts = await sweep_once()
    assert counts["mediations_expired"] >= 1
    # Then the case is closed as expired, with a certificate for the admitted consumer, everyone told
    case = await reload(world.case)
    assert case.status == "closed" and case.outcome == "expired" and case.closed_at is not None
    [certificate] = await Certificate.objects().where(Certificate.case == case.id)
    assert certificate.claim == world.claim_a.id and certificate.reason == "expired"
    for account in (world.consumer_a, world.member, world.mediator):
        [notice] = await notifications_of(account, "mediation_expired")
        assert notice.is_legal
    assert (await reload(other.case)).status == "in_mediation"
    # A second sweep does nothing more
    assert await do_expire_cases() == 0
    assert await Certificate.count().where(Certificate.case == case.id) == 1
    assert len(await notifications_of(world.consumer_a, "mediation_expired")) == 1
    # The consumer sees the certificate as a next step and may now pass the file on
    page = await (await browsers.as_(world.consumer_a)).get(f"/cases/{case.id}/timeline")
    assert f"/certificates/{certificate.id}" in page.text and f"/claims/{world.claim_a.id}/escalate" in page.text


async def test_a_consumer_who_withdraws_gets_a_certificate_unless_they_signed(browsers: Browsers) -> None:
    world = await started_world(browsers)
    consumer = await browsers.as_(world.consumer_a)
    # When the admitted consumer withdraws from the running mediation
    response = await post_form(consumer, f"/claims/{world.claim_a.id}/withdraw", {}, follow_redirects=False)
    assert response.status_code == 303
    assert (await reload_claim(world.claim_a)).status == "withdrawn"
    # Then their certificate is issued and linked from their claim page
    [certificate] = await Certificate.objects().where(Certificate.claim == world.claim_a.id)
    assert certificate.reason == "withdrawn"
    page = await consumer.get(f"/claims/{world.claim_a.id}")
    assert f"/certificates/{certificate.id}" in page.text and f"/claims/{world.claim_a.id}/escalate" in page.text
    # The timeline is no longer theirs
    assert (await consumer.get(f"/cases/{world.case.id}/timeline")).status_code == 404
    # Given a consumer who has signed their agreement, withdrawal is refused with a clear message
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == world.claim_b.id)
    proposal = (await Proposal.insert(Proposal(
        case=world.case.id, number=1, author_role="company", terms="Remboursement", rule_kind="fixed",
        fixed_cents=1000, vote_closes_at=datetime.now(UTC), decide_by=datetime.now(UTC), status="finalized",
    )).returning(Proposal.id))[0]["id"]
    await Agreement.insert(Agreement(case=world.case.id, proposal=proposal, claim=world.claim_b.id,
                                     consumer=world.consumer_b.user.id, amount_cents=1000,
                                     stored_name=f"test{world.claim_b.id}x", sha256="0" * 64,
                                     signed_at=datetime.now(UTC)))
    signed = await browsers.as_(world.consumer_b)
    refused = await post_form(signed, f"/claims/{world.claim_b.id}/withdraw", {})
    assert refused.status_code == 409 and "signed your agreement" in refused.text
    assert (await reload_claim(world.claim_b)).status == "admitted"
    assert not await Certificate.exists().where(Certificate.claim == world.claim_b.id)


async def test_a_withdrawal_before_the_start_gives_no_certificate(browsers: Browsers) -> None:
    world = await make_world(status="accepted")
    consumer = await browsers.as_(world.consumer_b)
    await post_form(consumer, f"/claims/{world.claim_b.id}/withdraw", {})
    assert (await reload_claim(world.claim_b)).status == "withdrawn"
    assert not await Certificate.exists().where(Certificate.claim == world.claim_b.id)
    assert not await Reminder.exists().where(Reminder.key.like(limit_reminder_prefix(world.case.id) + "%"))


async def test_control_characters_in_a_title_or_a_reason_are_dropped_not_a_crash(browsers: Browsers) -> None:
    # Given a started mediation
    world = await started_world(browsers)
    mediator = await browsers.as_(world.mediator)
    first = (await phases_of(world))[0]
    due = day_input(world.case.started_at + timedelta(days=10))
    # When the mediator's title and reason carry NUL and other control characters (PostgreSQL refuses NUL)
    renamed = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases/{first.id}",
                              {"title": "Exposés\x00 écrits\x1b\n", "due_on": due}, follow_redirects=False)
    added = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases",
                            {"title": "\x00Expertise\x07", "due_on": due}, follow_redirects=False)
    blank = await post_form(mediator, f"/cases/{world.case.id}/timeline/phases", {"title": "\x00\x01", "due_on": due})
    extended = await post_form(mediator, f"/cases/{world.case.id}/extensions", {
        "ends_on": day_input(world.case.ends_at + timedelta(days=20)), "reason": "Expertise\x00 technique\r\nlongue"},
        follow_redirects=False)
    # Then they are saved without them (a title of only control characters is no title)
    assert (renamed.status_code, added.status_code, blank.status_code, extended.status_code) == (303, 303, 422, 303)
    phases = await phases_of(world)
    assert phases[0].title == "Exposés écrits" and phases[-1].title == "Expertise"
    [extension] = await DeadlineExtension.objects().where(DeadlineExtension.case == world.case.id)
    assert extension.reason == "Expertise technique\nlongue"
    [notice] = await notifications_of(world.consumer_a, "mediation_extended")
    assert "\x00" not in notice.body
