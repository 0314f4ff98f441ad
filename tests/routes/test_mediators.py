"""The mediator (R613-1) and the start (R612-2, R612-5): assignment, declaration, objections, start."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.tables import AuditEvent, Case, Claim, MediatorAssignment, MediatorObjection, Role
from tests.factories import World, assign, make_account, make_claim, make_member, make_world, notifications_of, reload
from tests.factories.mediation import make_case, make_company
from tests.fixtures import Browsers, mails_to, post_form

PARIS = ZoneInfo("Europe/Paris")
NONE_DISCLOSED = "Aucun lien avec la société ni avec les consommateurs."


async def assignment_of(case: Case) -> MediatorAssignment:
    assignment = await MediatorAssignment.objects().where(MediatorAssignment.case == case.id).order_by(
        MediatorAssignment.id, ascending=False).first()
    assert assignment is not None
    return assignment


async def ready_to_start(world: World) -> None:
    """Accepted by the company, a declared mediator, claim A admitted."""
    await Case.update({Case.status: "accepted"}).where(Case.id == world.case.id)
    world.case.status = "accepted"
    await assign(world.case, world.mediator, declared=True)
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == world.claim_a.id)


async def test_staff_assign_a_mediator_who_is_asked_to_declare(browsers: Browsers) -> None:
    world = await make_world(status="accepted")
    staff = await browsers.as_(world.staff)
    response = await post_form(staff, f"/staff/cases/{world.case.id}/mediator",
                               {"mediator": str(world.mediator.user.id)}, follow_redirects=False)
    assert response.status_code == 303
    case = await reload(world.case)
    assert case.mediator == world.mediator.user.id
    assignment = await assignment_of(case)
    assert assignment.mediator == world.mediator.user.id and assignment.assigned_by == world.staff.user.id
    assert assignment.declared_at is None
    [notice] = await notifications_of(world.mediator, "mediator_assigned")
    assert notice.link == f"/cases/{case.id}/mediator/declaration"
    assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "mediator_assigned")
    # Anything but a mediator's id is refused with the form fragment
    for value in ("", "abc", str(world.consumer_a.user.id), "99999999999", str(world.mediator.user.id)):
        bad = await post_form(staff, f"/staff/cases/{case.id}/mediator", {"mediator": value},
                              headers={"HX-Request": "true"})
        assert bad.status_code == 422 and 'id="mediator-form"' in bad.text, value
    assert await MediatorAssignment.count().where(MediatorAssignment.case == case.id) == 1
    # A refused case takes no mediator
    refused = await make_case(world.company, status="refused")
    response = await post_form(staff, f"/staff/cases/{refused.id}/mediator", {"mediator": str(world.mediator.user.id)})
    assert response.status_code == 409


async def test_the_declaration_is_the_mediators_and_shown_to_the_parties(browsers: Browsers) -> None:
    world = await make_world(status="accepted")
    await assign(world.case, world.mediator, declared=False)
    path = f"/cases/{world.case.id}/mediator/declaration"
    # Only the case's mediator
    other_mediator = await make_account(Role.mediator)
    for account in (world.staff, world.consumer_a, world.member, other_mediator):
        browser = await browsers.as_(account)
        assert (await browser.get(path)).status_code == 404, account.user.role
        assert (await post_form(browser, path, {"statement": "yes", "conflicts": "none"})).status_code == 404
    mediator = await browsers.as_(world.mediator)
    page = await mediator.get(path)
    assert page.status_code == 200 and "I declare that I am independent" in page.text
    # Both the statement and the disclosure are needed
    missing = await post_form(mediator, path, {"conflicts": ""}, headers={"HX-Request": "true"})
    assert missing.status_code == 422 and 'id="declaration-form"' in missing.text
    assert "Please tick the declaration" in missing.text and "write “none”" in missing.text
    response = await post_form(mediator, path, {"statement": "yes", "conflicts": NONE_DISCLOSED},
                               follow_redirects=False)
    assert response.status_code == 303
    assignment = await assignment_of(world.case)
    assert assignment.declared_at is not None and assignment.conflicts_disclosed == NONE_DISCLOSED
    assert "independent" in assignment.independence_statement
    # The parties are told and see it on the mediation panel
    [notice] = await notifications_of(world.consumer_a, "mediator_declared")
    assert NONE_DISCLOSED in notice.body and "contester sa désignation" in notice.body
    assert await notifications_of(world.member, "mediator_declared")
    consumer = await browsers.as_(world.consumer_a)
    panel = await consumer.get(f"/cases/{world.case.id}/mediation")
    assert panel.status_code == 200 and NONE_DISCLOSED in panel.text and "Maud Médiatrice" in panel.text
    assert "Object to this mediator" in panel.text
    # Declaring twice is refused
    assert (await post_form(mediator, path, {"statement": "yes", "conflicts": "none"})).status_code == 409


async def test_a_party_objects_and_staff_uphold_then_reassign(browsers: Browsers) -> None:
    world = await make_world(status="accepted")
    await assign(world.case, world.mediator)
    path = f"/cases/{world.case.id}/mediator/objections"
    # Only parties: not a consumer without a claim here, not another company, not staff
    outsider_consumer = await make_account(Role.consumer)
    other_member = await make_member(await make_company())
    for account in (outsider_consumer, other_member, world.staff, world.mediator):
        browser = await browsers.as_(account)
        assert (await post_form(browser, path, {"reason": "Conflit"})).status_code == 404, account.user.role
    consumer = await browsers.as_(world.consumer_b)
    empty = await post_form(consumer, path, {"reason": " "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and 'id="objection-form"' in empty.text
    reason = "La médiatrice a travaillé pour la société l'an dernier."
    response = await post_form(consumer, path, {"reason": reason}, follow_redirects=False)
    assert response.status_code == 303
    assert "You have objected to this mediator" in (await consumer.get(f"/cases/{world.case.id}/mediation")).text
    twice = await post_form(consumer, path, {"reason": reason})
    assert twice.status_code == 409
    [objection] = await MediatorObjection.objects().where(MediatorObjection.objector == world.consumer_b.user.id)
    assert objection.status == "open"
    # The company may object too
    member = await browsers.as_(world.member)
    assert (await post_form(member, path, {"reason": "Nous doutons de son impartialité."},
                            follow_redirects=False)).status_code == 303
    # Staff are told, and see the open objections
    assert await notifications_of(world.staff, "mediator_objection")
    staff = await browsers.as_(world.staff)
    home = await staff.get("/staff")
    open_count = await MediatorObjection.count().where(MediatorObjection.status == "open")
    assert open_count >= 2 and f"Objections to decide ({open_count})" in home.text
    assert reason.replace("'", "&#39;") in (await staff.get(f"/staff/cases/{world.case.id}")).text
    # Only staff decide
    assert (await post_form(consumer, f"/staff/objections/{objection.id}", {"decision": "uphold"})).status_code == 403
    bad = await post_form(staff, f"/staff/objections/{objection.id}", {"decision": "maybe"})
    assert bad.status_code == 422
    # Upheld: the assignment ends, the case has no mediator, every open objection on it is closed
    response = await post_form(staff, f"/staff/objections/{objection.id}", {"decision": "uphold",
                                                                            "note": "Lien d'intérêt avéré."},
                               follow_redirects=False)
    assert response.status_code == 303
    case = await reload(world.case)
    assert case.mediator is None
    assignment = await assignment_of(case)
    assert assignment.ended_at is not None and "objection upheld" in assignment.end_reason
    statuses = await MediatorObjection.select(MediatorObjection.status).where(
        MediatorObjection.assignment == assignment.id)
    assert sorted(row["status"] for row in statuses) == ["upheld", "upheld"]
    assert await notifications_of(world.consumer_b, "objection_upheld")
    assert await notifications_of(world.mediator, "mediator_unassigned")
    # Deciding again is refused; staff re-assign another mediator
    assert (await post_form(staff, f"/staff/objections/{objection.id}", {"decision": "dismiss"})).status_code == 409
    replacement = await make_account(Role.mediator, name="Nadia Nouvelle")
    response = await post_form(staff, f"/staff/cases/{case.id}/mediator", {"mediator": str(replacement.user.id)},
                               follow_redirects=False)
    assert response.status_code == 303 and (await reload(case)).mediator == replacement.user.id
    # The former mediator lost access to the case's review and declaration
    former = await browsers.as_(world.mediator)
    assert (await former.get(f"/cases/{case.id}/review")).status_code == 404
    assert (await former.get(f"/cases/{case.id}/mediator/declaration")).status_code == 404


async def test_staff_dismiss_an_objection(browsers: Browsers) -> None:
    world = await make_world(status="accepted")
    assignment = await assign(world.case, world.mediator)
    consumer = await browsers.as_(world.consumer_a)
    await post_form(consumer, f"/cases/{world.case.id}/mediator/objections", {"reason": "Je ne la connais pas."})
    [objection] = await MediatorObjection.objects().where(MediatorObjection.assignment == assignment.id)
    staff = await browsers.as_(world.staff)
    response = await post_form(staff, f"/staff/objections/{objection.id}", {"decision": "dismiss",
                                                                            "note": "Aucun motif sérieux."},
                               follow_redirects=False)
    assert response.status_code == 303
    assert (await MediatorObjection.objects().where(MediatorObjection.id == objection.id).first()).status == \
        "dismissed"
    assert (await reload(world.case)).mediator == world.mediator.user.id
    [notice] = await notifications_of(world.consumer_a, "objection_dismissed")
    assert "Aucun motif sérieux." in notice.body
    # Deciding again, or an unknown objection
    assert (await post_form(staff, f"/staff/objections/{objection.id}", {"decision": "uphold"})).status_code == 409
    assert (await post_form(staff, "/staff/objections/999999", {"decision": "dismiss"})).status_code == 404
    assert (await reload(world.case)).mediator == world.mediator.user.id


async def test_the_mediator_starts_the_mediation_and_every_party_is_told(browsers: Browsers) -> None:
    world = await make_world()
    await ready_to_start(world)
    # Only the case's mediator may start it
    for account in (world.staff, world.consumer_a, world.member, await make_account(Role.mediator)):
        browser = await browsers.as_(account)
        assert (await post_form(browser, f"/cases/{world.case.id}/start", {})).status_code == 404
    mediator = await browsers.as_(world.mediator)
    panel = await mediator.get(f"/cases/{world.case.id}/mediation")
    assert "Start the mediation" in panel.text
    response = await post_form(mediator, f"/cases/{world.case.id}/start", {}, follow_redirects=False)
    assert response.status_code == 303
    case = await reload(world.case)
    assert case.status == "in_mediation" and case.started_at is not None
    assert case.ends_at - case.started_at == timedelta(days=90)
    # A legal notice, always mailed, to the parties: the consumer with an admitted claim, the company, the mediator
    for account in (world.consumer_a, world.member, world.mediator):
        [notice] = await notifications_of(account, "mediation_started")
        assert notice.is_legal and "vous retirer de la médiation à tout moment" in notice.body
        assert case.ends_at.astimezone(PARIS).date().isoformat() in notice.body
        assert any("a commencé" in mail.subject for mail in await mails_to(account.email))
    # Consumer B's claim is not admitted yet: not a party, not told
    assert await notifications_of(world.consumer_b, "mediation_started") == []
    assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "mediation_started")
    # Starting twice is refused
    again = await post_form(mediator, f"/cases/{world.case.id}/start", {})
    assert again.status_code == 409 and "already started" in again.text
    assert len(await notifications_of(world.consumer_a, "mediation_started")) == 1


async def test_the_start_waits_for_every_condition(browsers: Browsers) -> None:
    world = await make_world()
    await assign(world.case, world.mediator, declared=False)
    mediator = await browsers.as_(world.mediator)
    path = f"/cases/{world.case.id}/start"
    # Not accepted, not declared, no admitted claim
    response = await post_form(mediator, path, {})
    assert response.status_code == 409 and "cannot start yet" in response.text
    await Case.update({Case.status: "accepted"}).where(Case.id == world.case.id)
    await MediatorAssignment.update({MediatorAssignment.declared_at: MediatorAssignment.assigned_at}).where(
        MediatorAssignment.case == world.case.id)
    response = await post_form(mediator, path, {})
    assert response.status_code == 409 and "At least one claim is admitted" in response.text
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == world.claim_a.id)
    # An open objection blocks it too
    consumer = await browsers.as_(world.consumer_a)
    await post_form(consumer, f"/cases/{world.case.id}/mediator/objections", {"reason": "Un doute sérieux."})
    response = await post_form(mediator, path, {})
    assert response.status_code == 409 and "objections" in response.text
    assert (await reload(world.case)).status == "accepted"
    assert await notifications_of(world.consumer_a, "mediation_started") == []


async def test_the_mediation_panel_is_for_the_parties_only(browsers: Browsers) -> None:
    world = await make_world()
    other_case = await make_case(await make_company())
    await make_claim(other_case, world.consumer_a)
    path = f"/cases/{world.case.id}/mediation"
    for account in (await make_account(Role.consumer), await make_member(await make_company()),
                    await make_account(Role.mediator)):
        browser = await browsers.as_(account)
        assert (await browser.get(path)).status_code == 404, account.user.role
    for account in (world.consumer_a, world.consumer_b, world.member, world.staff):
        browser = await browsers.as_(account)
        response = await browser.get(path)
        assert response.status_code == 200, account.user.role
    fragment = await (await browsers.as_(world.staff)).get(path, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="mediation-panel"' in fragment.text
    visitor = await browsers.as_(None)
    assert (await visitor.get(path, follow_redirects=False)).status_code == 303
    # A mediator's own list
    await assign(world.case, world.mediator)
    mine = await (await browsers.as_(world.mediator)).get("/mediators/cases")
    assert mine.status_code == 200 and world.case.title in mine.text and other_case.title not in mine.text
    assert (await (await browsers.as_(world.consumer_a)).get("/mediators/cases")).status_code == 403


async def test_a_party_of_another_case_gets_404_for_everything_here(browsers: Browsers) -> None:
    # Given case X (the world's) and case Y with its own consumer and company
    world = await make_world(status="refused")
    await assign(world.case, world.mediator)
    other_company = await make_company()
    other_case = await make_case(other_company)
    other_consumer = await make_account(Role.consumer)
    await make_claim(other_case, other_consumer)
    other_member = await make_member(other_company)
    x = world.case.id
    for account in (other_consumer, other_member):
        browser = await browsers.as_(account)
        for path in (f"/cases/{x}/mediation", f"/cases/{x}/review", f"/claims/{world.claim_a.id}/review",
                     f"/cases/{x}/mediator/declaration"):
            assert (await browser.get(path)).status_code == 404, (account.user.role, path)
        for path, data in ((f"/cases/{x}/mediator/objections", {"reason": "Conflit"}), (f"/cases/{x}/start", {}),
                           (f"/cases/{x}/invitation", {"answer": "accept"}),
                           (f"/claims/{world.claim_a.id}/escalation", {"opt_in": "1"}),
                           (f"/claims/{world.claim_a.id}/review", {"decision": "admit"})):
            assert (await post_form(browser, path, data)).status_code == 404, (account.user.role, path)
    assert await MediatorObjection.count().where(MediatorObjection.objector.is_in(
        [other_consumer.user.id, other_member.user.id])) == 0
    assert (await reload(world.case)).status == "refused"
