"""Claims: joining a case, one claim per consumer, editing until admitted, completing, withdrawing; who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.tables import AuditEvent, Claim, CompanyMember, Notification, Reminder, Role
from tests.factories import claim_values, make_account
from tests.factories.cases import make_case, make_company
from tests.fixtures import HTMX, is_fragment, logged_in, post_form, visible


async def claims_of(case_id: int) -> list[Claim]:
    return await Claim.objects().where(Claim.case == case_id).order_by(Claim.id)


async def test_a_consumer_joins_a_case_with_their_claim() -> None:
    # Given a case opened by A, and staff who review claims while no mediator is assigned
    opener = await make_account()
    staff = await make_account(Role.staff)
    case, _ = await make_case(opener)
    joiner = await make_account(name="Karim Benali")
    async with logged_in(joiner) as browser:
        page = await browser.get(f"/cases/{case.id}/claims/new")
        assert page.status_code == 200 and "Join the case" in page.text and 'id="claim-form"' in page.text
        # When B files their claim
        response = await post_form(browser, f"/cases/{case.id}/claims", claim_values(amount="89.5"),
                                   follow_redirects=False)
        # Then it is saved, awaiting review, and staff are told there is a claim to review
        assert response.status_code == 303 and response.headers["location"].endswith("?new=1")
        claim = (await claims_of(case.id))[-1]
        assert claim.consumer == joiner.user.id and claim.amount_cents == 8950 and claim.status == "submitted"
        assert await Notification.exists().where(Notification.user == staff.user.id,
                                                 Notification.kind == "claim_to_review", Notification.case == case.id)
        assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.actor == joiner.user.id,
                                               AuditEvent.kind == "claim_submitted")
        case_page = await browser.get(f"/cases/{case.id}")
        assert "You take part in this case" in case_page.text and "Join this case" not in case_page.text
        # The join form now leads to their claim
        again = await browser.get(f"/cases/{case.id}/claims/new", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == f"/claims/{claim.id}"


async def test_a_second_claim_by_the_same_consumer_is_refused() -> None:
    opener = await make_account()
    case, _ = await make_case(opener)
    async with logged_in(opener) as browser:
        response = await post_form(browser, f"/cases/{case.id}/claims", claim_values())
        assert response.status_code == 409 and "already have a claim in this case" in response.text
    assert len(await claims_of(case.id)) == 1


async def test_joining_with_bad_input_saves_nothing_and_answers_with_the_form() -> None:
    case, _ = await make_case(await make_account())
    async with logged_in(await make_account()) as browser:
        tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        for values, message in (
            (claim_values(amount="-20"), "cannot be negative"),
            (claim_values(amount="5000000"), "at most 1,000,000"),
            (claim_values(amount="abc"), "for example 149,90"),
            (claim_values(incident_date=tomorrow), "in the future"),
            (claim_values(complaint_date="2020-01-01", incident_date="2021-01-01"), "earlier than the purchase"),
            (claim_values(facts=""), "describe what happened"),
        ):
            response = await post_form(browser, f"/cases/{case.id}/claims", values, headers=HTMX)
            assert response.status_code == 422 and is_fragment(response.text, "claim-form"), message
            assert message in visible(response), message
    assert len(await claims_of(case.id)) == 1


async def test_a_claim_is_seen_only_by_its_consumer_staff_and_the_reviewer() -> None:
    # Given A's case and B's claim in it
    opener = await make_account()
    company = await make_company()
    case, opener_claim = await make_case(opener, company)
    other_case, _ = await make_case(await make_account())
    joiner = await make_account()
    async with logged_in(joiner) as browser:
        await post_form(browser, f"/cases/{case.id}/claims", claim_values(facts="Mon histoire à moi, bien privée."))
    claim = (await claims_of(case.id))[-1]
    paths = [f"/claims/{claim.id}", f"/claims/{claim.id}/edit", f"/claims/{claim.id}/withdraw"]
    # A never sees B's claim (nor B A's): 404 as if it did not exist, for reading and writing alike
    async with logged_in(opener) as browser:
        for path in paths:
            assert (await browser.get(path)).status_code == 404, path
        assert (await post_form(browser, f"/claims/{claim.id}/edit", claim_values())).status_code == 404
        assert (await post_form(browser, f"/claims/{claim.id}/withdraw", {})).status_code == 404
    async with logged_in(joiner) as browser:
        assert (await browser.get(f"/claims/{opener_claim.id}")).status_code == 404
        assert (await browser.get(f"/claims/{claim.id}")).status_code == 200
    # A consumer of another case gets 404 for anything of this one
    async with logged_in(await make_account()) as browser:
        await post_form(browser, f"/cases/{other_case.id}/claims", claim_values())
        for path in paths:
            assert (await browser.get(path)).status_code == 404, path
    # The company's representative sees no claim before accepting the mediation
    representative = await make_account(Role.company)
    await CompanyMember.insert(CompanyMember(company=company.id, user=representative.user.id))
    async with logged_in(representative) as browser:
        assert (await browser.get(f"/claims/{claim.id}")).status_code == 404
        assert (await browser.get(f"/cases/{case.id}")).status_code == 200
    # Staff see it, but cannot change it
    async with logged_in(await make_account(Role.staff)) as browser:
        page = await browser.get(f"/claims/{claim.id}")
        assert page.status_code == 200 and "Mon histoire à moi" in visible(page)
        assert (await browser.get(f"/claims/{claim.id}/edit")).status_code == 403
        assert (await post_form(browser, f"/claims/{claim.id}/edit", claim_values())).status_code == 403
        assert (await post_form(browser, f"/claims/{claim.id}/withdraw", {})).status_code == 403
    refreshed = await Claim.objects().where(Claim.id == claim.id).first()
    assert refreshed is not None and refreshed.status == "submitted"
    assert refreshed.facts == "Mon histoire à moi, bien privée."


async def test_a_claim_can_be_edited_until_it_is_admitted() -> None:
    consumer = await make_account()
    case, claim = await make_case(consumer)
    async with logged_in(consumer) as browser:
        form = await browser.get(f"/claims/{claim.id}/edit")
        assert form.status_code == 200 and 'value="320,00"' in form.text
        response = await post_form(browser, f"/claims/{claim.id}/edit", claim_values(amount="450"),
                                   follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/claims/{claim.id}?saved=1"
        assert (await Claim.objects().where(Claim.id == claim.id).first()).amount_cents == 45000
        assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "claim_edited")
        bad = await post_form(browser, f"/claims/{claim.id}/edit", claim_values(amount="0"), headers=HTMX)
        assert bad.status_code == 422 and is_fragment(bad.text, "claim-form") and "more than 0" in visible(bad)
        # Once admitted, it no longer changes
        await Claim.update({Claim.status: "admitted"}).where(Claim.id == claim.id)
        page = await browser.get(f"/claims/{claim.id}")
        assert "Change my claim" not in page.text and 'id="evidence-form"' not in page.text
        assert (await browser.get(f"/claims/{claim.id}/edit")).status_code == 409
        refused = await post_form(browser, f"/claims/{claim.id}/edit", claim_values(amount="999"))
        assert refused.status_code == 409 and "has been admitted" in refused.text
    assert (await Claim.objects().where(Claim.id == claim.id).first()).amount_cents == 45000


async def test_a_claim_needing_more_information_is_completed_and_goes_back_to_review() -> None:
    consumer = await make_account()
    mediator = await make_account(Role.mediator)
    case, claim = await make_case(consumer)
    from app.tables import Case

    await Case.update({Case.mediator: mediator.user.id}).where(Case.id == case.id)
    old_submitted = datetime.now(UTC) - timedelta(days=10)
    await Claim.update({Claim.status: "needs_info", Claim.review_reason: "Joignez la facture de mars.",
                        Claim.submitted_at: old_submitted}).where(Claim.id == claim.id)
    async with logged_in(consumer) as browser:
        page = await browser.get(f"/claims/{claim.id}")
        assert "Joignez la facture de mars." in page.text and "Complete my claim" in page.text
        response = await post_form(browser, f"/claims/{claim.id}/edit", claim_values(facts="Voici les précisions "
                                                                                     "demandées sur mars."),
                                   follow_redirects=False)
        assert response.status_code == 303
    completed = await Claim.objects().where(Claim.id == claim.id).first()
    assert completed.status == "submitted" and completed.submitted_at > old_submitted
    assert await Notification.exists().where(Notification.user == mediator.user.id,
                                             Notification.kind == "claim_completed")
    assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "claim_completed")


async def test_a_consumer_may_withdraw_at_any_time_but_only_once() -> None:
    consumer = await make_account()
    case, claim = await make_case(consumer)
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == claim.id)
    async with logged_in(consumer) as browser:
        confirm = await browser.get(f"/claims/{claim.id}/withdraw")
        assert confirm.status_code == 200 and "the courts remain open to you" in confirm.text
        response = await post_form(browser, f"/claims/{claim.id}/withdraw", {}, follow_redirects=False)
        assert response.status_code == 303
        withdrawn = await Claim.objects().where(Claim.id == claim.id).first()
        assert withdrawn.status == "withdrawn" and withdrawn.withdrawn_at is not None
        assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "claim_withdrawn")
        assert "You withdrew from this case" in (await browser.get(f"/cases/{case.id}")).text
        again = await post_form(browser, f"/claims/{claim.id}/withdraw", {})
        assert again.status_code == 409 and "withdrawn this claim" in again.text
        rejoin = await post_form(browser, f"/cases/{case.id}/claims", claim_values())
        assert rejoin.status_code == 409
    assert len(await claims_of(case.id)) == 1


async def test_an_ended_case_takes_no_claim() -> None:
    consumer = await make_account()
    case, _ = await make_case(await make_account(), status="closed")
    async with logged_in(consumer) as browser:
        assert (await browser.get(f"/cases/{case.id}/claims/new")).status_code == 404
        assert (await post_form(browser, f"/cases/{case.id}/claims", claim_values())).status_code == 404
    assert len(await claims_of(case.id)) == 1


async def reminders_of(claim_id: int) -> list[Reminder]:
    return await Reminder.objects().where(Reminder.key.like(f"claim-review:{claim_id}:%")).order_by(Reminder.id)


async def test_the_reviewer_is_reminded_after_each_complete_claim_until_the_consumer_withdraws() -> None:
    # Filing the claim schedules the reviewer's reminders (L612-2: an answer within 3 weeks)
    consumer = await make_account()
    case, _ = await make_case(await make_account())
    async with logged_in(consumer) as browser:
        await post_form(browser, f"/cases/{case.id}/claims", claim_values())
        claim = (await claims_of(case.id))[-1]
        first = await reminders_of(claim.id)
        assert len(first) == 2 and {reminder.status for reminder in first} == {"pending"}
        assert first[0].due_at - claim.submitted_at == timedelta(days=14)
        # Completed after a request for more: a new 3-week period, with its own reminders
        await Claim.update({Claim.status: "needs_info"}).where(Claim.id == claim.id)
        await post_form(browser, f"/claims/{claim.id}/edit", claim_values(amount="99"))
        assert len(await reminders_of(claim.id)) == 4
        # Withdrawn: nothing is left to remind
        await post_form(browser, f"/claims/{claim.id}/withdraw", {})
    assert {reminder.status for reminder in await reminders_of(claim.id)} == {"cancelled"}
