"""Proposals through the routes: making one with its R612-4 notices, bad input, one open at a time, amending into a
new version, the indicative vote hidden until it closes, each consumer's own decision (tampered amount, outdated
version, forged ids, after the deadline), the mediator's live tally, what the company sees, who gets 404, and the
reminders to those who have not answered, sent once."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.actions.notifications import do_claim_due_reminders, do_handle_reminder, do_schedule_reminder
from app.actions.proposals import do_schedule_proposal_reminders
from app.domain.proposals import sign_shown_at
from app.settings import get_settings
from app.tables import CharterAcceptance, Claim, Decision, Phase, Proposal, Reminder, Role, Vote
from tests.factories import (
    ProposalWorld,
    make_account,
    make_claim,
    make_due,
    make_proposal,
    make_proposal_world,
    notifications_of,
    reload_proposal,
    reminders,
)
from tests.fixtures import Browsers, post_form

PARIS = ZoneInfo("Europe/Paris")
Client = AsyncTestClient[Litestar]


def local(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def offer(**values: str) -> dict[str, str]:
    form = {"terms": "Remboursement intégral sous 30 jours.", "rule_kind": "fixed", "amount": "1 234,50",
            "share": "", "item": "", "vote_closes_at": local(timedelta(days=5)),
            "decide_by": local(timedelta(days=10)), "threshold": ""}
    return form | values


def shown_of(html: str) -> str:
    found = re.search(r'name="shown" value="([^"]+)"', html)
    assert found, "no decision form on the page"
    return found.group(1)


async def decide(client: Client, proposal: Proposal, choice: str, *, amount: int, version: int | None = None,
                 shown: str | None = None) -> Any:
    if shown is None:
        shown = shown_of((await client.get(f"/proposals/{proposal.id}")).text)
    return await post_form(client, f"/proposals/{proposal.id}/decisions", {
        "version": str(version if version is not None else proposal.version), "choice": choice,
        "amount": str(amount), "shown": shown}, follow_redirects=False)


async def vote(client: Client, proposal: Proposal, choice: str, comment: str = "", version: int | None = None) -> Any:
    return await post_form(client, f"/proposals/{proposal.id}/votes", {
        "version": str(version if version is not None else proposal.version), "choice": choice, "comment": comment},
        follow_redirects=False)


async def world_with_browsers(browsers: Browsers, **values: Any) -> tuple[ProposalWorld, list[Client], Client, Client]:
    world = await make_proposal_world(**values)
    consumers = [await browsers.as_(account) for account in world.consumers]
    return world, consumers, await browsers.as_(world.member), await browsers.as_(world.mediator)


# --- making a proposal ------------------------------------------------------------------------------------------


async def test_the_company_makes_an_offer_shown_with_the_notices_and_every_party_is_told(browsers: Browsers) -> None:
    # Given a case in mediation without a proposal
    world, [alice, *_], company, mediator = await world_with_browsers(browsers, proposal=False)
    listing = await company.get(f"/cases/{world.case_id}/proposals")
    assert listing.status_code == 200 and "Make an offer" in listing.text and "No proposal is open" in listing.text
    # When the company makes an offer typed the French way
    response = await post_form(company, f"/cases/{world.case_id}/proposals", offer(), follow_redirects=False)
    # Then it is stored, open, with the notices recorded in both languages
    assert response.status_code == 303
    proposal = await Proposal.objects().where(Proposal.case == world.case_id).first()
    assert proposal is not None and response.headers["location"] == f"/proposals/{proposal.id}?made=1"
    assert (proposal.status, proposal.number, proposal.version, proposal.author_role) == ("open", 1, 1, "company")
    assert proposal.fixed_cents == 123_450 and proposal.vote_threshold_pct == 75
    notices = proposal.notices if isinstance(proposal.notices, dict) else json.loads(proposal.notices)
    assert len(notices["en"]) == 5 and len(notices["fr"]) == 5
    # every party is told (the author is not), with a legal notice
    for account in (*world.consumers, world.mediator):
        [notice] = await notifications_of(account, "proposal_made")
        assert notice.link == f"/proposals/{proposal.id}" and notice.is_legal
    assert await notifications_of(world.member, "proposal_made") == []
    # a consumer reads it with the notices and their own amount
    page = await alice.get(f"/proposals/{proposal.id}")
    assert page.status_code == 200
    for text in ("free to accept or to refuse", "take your dispute to court", "differ from the decision a judge",
                 "binding agreement", "homologation", "Your amount", "1,234.50", "binds no one"):
        assert text in page.text, text
    # reminders are scheduled: D-3 and D-1 before the vote and before the decisions
    assert len(await reminders(f"proposal:{proposal.id}:")) == 4
    # the mediation page links to the proposals
    assert f"/cases/{world.case_id}/proposals" in (await alice.get(f"/cases/{world.case_id}/mediation")).text


async def test_the_mediator_proposes_a_share_with_a_threshold_of_their_choice(browsers: Browsers) -> None:
    world, [alice, bruno, _], _company, mediator = await world_with_browsers(browsers, proposal=False)
    response = await post_form(mediator, f"/cases/{world.case_id}/proposals",
                               offer(rule_kind="share", share="50", amount="", threshold="60"),
                               follow_redirects=False)
    assert response.status_code == 303
    proposal = await Proposal.objects().where(Proposal.case == world.case_id).first()
    assert proposal is not None and proposal.author_role == "mediator"
    assert (proposal.rule_kind, proposal.share_basis_points, proposal.vote_threshold_pct) == ("share", 5_000, 60)
    # each consumer sees their own amount: half of 100 € and of 250.50 €
    assert "€50.00" in (await alice.get(f"/proposals/{proposal.id}")).text
    bruno_page = (await bruno.get(f"/proposals/{proposal.id}")).text
    assert "€125.25" in bruno_page and "€50.00" not in bruno_page


async def test_bad_proposals_are_refused_with_a_clear_message_and_nothing_stored(browsers: Browsers) -> None:
    world, _consumers, company, mediator = await world_with_browsers(browsers, proposal=False)
    beyond = world.case.ends_at + timedelta(days=2)
    cases = [
        (offer(terms="   "), "Describe the terms of the proposal."),
        (offer(amount="5 000 000"), "This amount is too large"),
        (offer(amount="-100"), "An amount cannot be negative."),
        (offer(amount="douze"), "Enter an amount in euros"),
        (offer(rule_kind="share", share="150"), "at most 100 (percent)"),
        (offer(rule_kind="item", item=""), "Describe what each consumer receives."),
        (offer(decide_by=beyond.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")), "cannot be after the mediation"),
        (offer(decide_by=local(-timedelta(days=1))), "at least an hour from now"),
        (offer(vote_closes_at=local(timedelta(days=11))), "no later than the decision deadline"),
        (offer(decide_by="31/12/2026"), "Enter a date and time such as"),
        (offer(terms="x" * 20_000), "Describe the terms"),  # beyond the form's hard limit: cut, then too long
    ]
    for form, message in cases[:-1]:
        response = await post_form(company, f"/cases/{world.case_id}/proposals", form)
        assert response.status_code == 422, form
        assert message in response.text, message
    too_long = await post_form(company, f"/cases/{world.case_id}/proposals", offer(terms="x" * 6_000))
    assert too_long.status_code == 422 and "The terms are too long" in too_long.text
    # the company cannot set the threshold: its field is ignored; the mediator's is checked
    bad_threshold = await post_form(mediator, f"/cases/{world.case_id}/proposals", offer(threshold="30"))
    assert bad_threshold.status_code == 422 and "from 50 to 100" in bad_threshold.text
    assert await Proposal.count().where(Proposal.case == world.case_id) == 0
    assert await Reminder.count().where(Reminder.case == world.case_id) == 0


async def test_one_proposal_is_open_at_a_time(browsers: Browsers) -> None:
    world, [alice, *_], company, mediator = await world_with_browsers(browsers)
    assert world.proposal is not None
    listing = await mediator.get(f"/cases/{world.case_id}/proposals")
    assert "Propose a solution" not in listing.text and "once the current one is withdrawn" in listing.text
    refused = await post_form(mediator, f"/cases/{world.case_id}/proposals", offer())
    assert refused.status_code == 409 and "A proposal is already open" in refused.text
    assert await Proposal.count().where(Proposal.case == world.case_id) == 1
    # once withdrawn (by its author's side), a new one can be made, with the next number
    withdrawn = await post_form(company, f"/proposals/{world.proposal.id}/withdraw", {}, follow_redirects=False)
    assert withdrawn.status_code == 303
    assert (await reload_proposal(world.proposal)).status == "withdrawn"
    assert {r.status for r in await reminders(f"proposal:{world.proposal.id}:")} <= {"cancelled"}
    assert await notifications_of(world.consumers[0], "proposal_withdrawn")
    made = await post_form(mediator, f"/cases/{world.case_id}/proposals", offer(), follow_redirects=False)
    assert made.status_code == 303
    assert await Proposal.count().where(Proposal.case == world.case_id, Proposal.number == 2) == 1
    # a consumer makes nothing
    assert (await post_form(alice, f"/cases/{world.case_id}/proposals", offer())).status_code == 404


# --- amending ------------------------------------------------------------------------------------------------


async def test_amending_makes_a_new_version_and_votes_and_decisions_start_afresh(browsers: Browsers) -> None:
    world, [alice, bruno, _], company, mediator = await world_with_browsers(browsers)
    first = world.proposal
    assert first is not None
    await do_schedule_proposal_reminders(first)
    assert (await vote(alice, first, "no")).status_code == 303
    assert (await decide(bruno, first, "refuse", amount=8_000)).status_code == 303
    edit = await company.get(f"/proposals/{first.id}/edit")
    assert edit.status_code == 200 and "Publish version 2" in edit.text and "80.00" in edit.text
    # When the company amends its offer
    response = await post_form(company, f"/proposals/{first.id}/versions",
                               {"version": "1", **offer(amount="95")}, follow_redirects=False)
    assert response.status_code == 303
    second = await Proposal.objects().where(Proposal.case == world.case_id, Proposal.version == 2).first()
    assert second is not None and response.headers["location"] == f"/proposals/{second.id}?amended=1"
    # Then the old version is superseded and stays readable, with a link to the new one
    assert (await reload_proposal(first)).status == "superseded"
    assert (second.number, second.fixed_cents, second.status) == (1, 9_500, "open")
    old_page = await alice.get(f"/proposals/{first.id}")
    assert old_page.status_code == 200 and "This version is no longer current." in old_page.text
    assert f'href="/proposals/{second.id}"' in old_page.text and 'name="shown"' not in old_page.text
    # votes and decisions start afresh
    assert await Vote.count().where(Vote.proposal == second.id) == 0
    assert await Decision.count().where(Decision.proposal == second.id) == 0
    assert "no answer yet" in (await bruno.get(f"/proposals/{second.id}")).text
    # the old reminders are cancelled, new ones scheduled; every party is told
    assert {r.status for r in await reminders(f"proposal:{first.id}:")} == {"cancelled"}
    assert len(await reminders(f"proposal:{second.id}:")) == 4
    for account in (*world.consumers, world.mediator):
        assert len(await notifications_of(account, "proposal_amended")) == 1
    # an answer to the old version is refused, and nothing stored
    outdated = await vote(alice, first, "yes")
    assert outdated.status_code == 409 and "no longer the current one" in outdated.text
    stale = await decide(bruno, second, "accept", amount=9_500, version=1)
    assert stale.status_code == 409 and "no longer the current one" in stale.text
    amended_twice = await post_form(mediator, f"/proposals/{first.id}/versions", {"version": "1", **offer()})
    assert amended_twice.status_code == 409
    assert await Decision.count().where(Decision.proposal == second.id) == 0
    # the mediator may amend, a consumer may not
    assert (await alice.get(f"/proposals/{second.id}/edit")).status_code == 404
    by_mediator = await post_form(mediator, f"/proposals/{second.id}/versions",
                                  {"version": "2", **offer(threshold="80")}, follow_redirects=False)
    assert by_mediator.status_code == 303
    third = await Proposal.objects().where(Proposal.case == world.case_id, Proposal.version == 3).first()
    assert third is not None and third.vote_threshold_pct == 80 and third.author_role == "company"
    assert "Version 1" in (await alice.get(f"/proposals/{third.id}")).text


# --- the vote ------------------------------------------------------------------------------------------------


async def test_the_vote_is_indicative_and_hidden_until_it_closes(browsers: Browsers) -> None:
    world, [alice, bruno, chloe], company, mediator = await world_with_browsers(browsers)
    proposal = world.proposal
    assert proposal is not None
    await do_schedule_proposal_reminders(proposal)
    assert (await vote(alice, proposal, "yes", "Correct")).status_code == 303
    assert (await vote(bruno, proposal, "yes")).status_code == 303
    assert (await vote(chloe, proposal, "abstain")).status_code == 303
    # a vote can be changed: one row per consumer
    assert (await vote(bruno, proposal, "no")).status_code == 303
    assert await Vote.count().where(Vote.proposal == proposal.id) == 3
    assert (await Vote.objects().where(Vote.consumer == world.consumers[0].user.id).first()).comment == "Correct"
    # the results are hidden from consumers and the company until it closes
    for client in (alice, company):
        page = (await client.get(f"/proposals/{proposal.id}")).text
        assert "The results are shown to everyone when the vote closes" in page and "Yes: " not in page
    live = (await mediator.get(f"/proposals/{proposal.id}")).text
    assert "Yes: 1 · No: 1 · Abstain: 1" in live and "Only you see these results" in live
    # the company, a bad choice, an overlong comment are refused
    company_vote = await vote(company, proposal, "yes")
    assert company_vote.status_code == 403 and "Only the consumers vote" in company_vote.text
    assert (await vote(alice, proposal, "maybe")).status_code == 422
    long_comment = await vote(alice, proposal, "yes", "x" * 1_500)
    assert long_comment.status_code == 422 and "at most 1000 characters" in long_comment.text
    # the mediator closes it early: everyone sees the result
    assert (await post_form(company, f"/proposals/{proposal.id}/vote/close", {})).status_code == 404
    closed = await post_form(mediator, f"/proposals/{proposal.id}/vote/close", {}, follow_redirects=False)
    assert closed.status_code == 303 and (await reload_proposal(proposal)).vote_closed_at is not None
    for client in (alice, company):
        page = (await client.get(f"/proposals/{proposal.id}")).text
        assert "Yes: 1 · No: 1 · Abstain: 1" in page and "50 % yes among the expressed votes" in page
        assert "threshold not met" in page and "binds no one" in page
    late = await vote(alice, proposal, "no")
    assert late.status_code == 409 and "The vote on this proposal is closed" in late.text
    assert (await Vote.objects().where(Vote.consumer == world.consumers[0].user.id).first()).choice == "yes"
    assert {r.status for r in await reminders(f"proposal:{proposal.id}:vote:")} == {"cancelled"}


async def test_the_vote_closes_by_itself_at_its_time(browsers: Browsers) -> None:
    world, [alice, *_], company, _mediator = await world_with_browsers(browsers)
    proposal = world.proposal
    assert proposal is not None
    await vote(alice, proposal, "yes")
    await Proposal.update({Proposal.vote_closes_at: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == proposal.id)
    page = (await company.get(f"/proposals/{proposal.id}")).text
    assert "Yes: 1 · No: 0 · Abstain: 0" in page and "threshold met" in page
    assert (await vote(alice, proposal, "no")).status_code == 409


# --- the individual decision -------------------------------------------------------------------------------


async def test_each_consumer_accepts_or_refuses_their_own_amount(browsers: Browsers) -> None:
    world, [alice, bruno, _], _company, _mediator = await world_with_browsers(
        browsers, rule_kind="share", share_basis_points=5_000)
    proposal = world.proposal
    assert proposal is not None
    before = datetime.now(UTC).replace(microsecond=0)
    assert (await decide(alice, proposal, "accept", amount=5_000)).status_code == 303
    decision = await Decision.objects().where(Decision.consumer == world.consumers[0].user.id).first()
    assert decision is not None and (decision.choice, decision.amount_cents) == ("accept", 5_000)
    assert decision.claim == world.claims[0].id and before <= decision.notices_shown_at <= datetime.now(UTC)
    page = (await alice.get(f"/proposals/{proposal.id}?decided=1")).text
    assert "Your decision has been recorded" in page and "accepted" in page
    # changeable until the deadline: still one row
    assert (await decide(alice, proposal, "refuse", amount=5_000)).status_code == 303
    assert await Decision.count().where(Decision.proposal == proposal.id) == 1
    # Bruno's amount is his own: Alice's amount in his form is a tampered one
    tampered = await decide(bruno, proposal, "accept", amount=5_000)
    assert tampered.status_code == 409 and "not the one this proposal gives you" in tampered.text
    # a forged or foreign display time is refused
    alice_token = shown_of((await alice.get(f"/proposals/{proposal.id}")).text)
    forged = await decide(bruno, proposal, "accept", amount=12_525, shown=alice_token)
    assert forged.status_code == 409 and "This form is out of date" in forged.text
    future = str(int(datetime.now(UTC).timestamp()) + 3_600) + "." + alice_token.split(".")[1]
    assert (await decide(bruno, proposal, "accept", amount=12_525, shown=future)).status_code == 409
    assert (await decide(bruno, proposal, "maybe", amount=12_525)).status_code == 422
    assert await Decision.count().where(Decision.consumer == world.consumers[1].user.id) == 0
    # forged proposal ids
    assert (await decide(bruno, Proposal(id=2**31 - 1, version=1), "accept", amount=1, shown="x")).status_code == 404
    assert (await bruno.get("/proposals/99999999999")).status_code in (400, 404)
    # After the deadline: refused, nothing stored
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(seconds=1)}).where(
        Proposal.id == proposal.id)
    assert 'name="shown"' not in (await bruno.get(f"/proposals/{proposal.id}")).text  # no form any more
    fresh = sign_shown_at(get_settings().secret_key, proposal_id=proposal.id, version=1,
                          user_id=world.consumers[1].user.id, shown_at=datetime.now(UTC))
    after = await decide(bruno, proposal, "accept", amount=12_525, shown=fresh)
    assert after.status_code == 409 and "The deadline to decide on this proposal has passed" in after.text
    assert await Decision.count().where(Decision.consumer == world.consumers[1].user.id) == 0


async def test_a_locked_or_finalized_proposal_takes_no_more_decisions_nor_amendments(browsers: Browsers) -> None:
    world, [alice, *_], company, mediator = await world_with_browsers(browsers)
    proposal = world.proposal
    assert proposal is not None
    token = shown_of((await alice.get(f"/proposals/{proposal.id}")).text)
    for status in ("locked", "finalized"):
        await Proposal.update({Proposal.status: status}).where(Proposal.id == proposal.id)
        refused = await decide(alice, proposal, "accept", amount=8_000, shown=token)
        assert refused.status_code == 409 and "it is being finalized" in refused.text
        assert (await vote(alice, proposal, "yes")).status_code == 409
        assert (await post_form(company, f"/proposals/{proposal.id}/versions", {"version": "1", **offer()})
                ).status_code == 409
        assert (await company.get(f"/proposals/{proposal.id}/edit")).status_code == 409
        assert (await post_form(mediator, f"/proposals/{proposal.id}/withdraw", {})).status_code == 409
    assert await Decision.count().where(Decision.proposal == proposal.id) == 0


# --- who sees what -------------------------------------------------------------------------------------------


async def test_the_mediator_follows_a_live_tally_by_name_others_do_not(browsers: Browsers) -> None:
    world, [alice, *_], company, mediator = await world_with_browsers(browsers)
    proposal = world.proposal
    assert proposal is not None
    await vote(alice, proposal, "yes")
    await decide(alice, proposal, "accept", amount=8_000)
    page = (await mediator.get(f"/proposals/{proposal.id}")).text
    assert 'hx-trigger="every 5s"' in page and "Bruno Petit" in page and "Chloé Bernard" in page
    fragment = await mediator.get(f"/proposals/{proposal.id}/tally", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="live-tally"')
    assert "<html" not in fragment.text and "1 yes, 0 no, 0 abstain; 2 not voted" in fragment.text
    assert "1 accepted, 0 refused; 2 not decided" in fragment.text and "Alice Durand" in fragment.text
    for client in (alice, company):
        assert (await client.get(f"/proposals/{proposal.id}/tally")).status_code == 404
        assert "Bruno Petit" not in (await client.get(f"/proposals/{proposal.id}")).text


async def test_the_company_sees_how_many_accepted_after_the_deadline_but_not_who(browsers: Browsers) -> None:
    world, [alice, bruno, _], company, _mediator = await world_with_browsers(browsers)
    proposal = world.proposal
    assert proposal is not None
    await decide(alice, proposal, "accept", amount=8_000)
    await decide(bruno, proposal, "refuse", amount=8_000)
    before = (await company.get(f"/proposals/{proposal.id}")).text
    assert "Accepted: " not in before and "shown to every party after the deadline" in before
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == proposal.id)
    after = (await company.get(f"/proposals/{proposal.id}")).text
    assert "Accepted: 1 · Refused: 1 · No answer: 1" in after
    assert "Alice Durand" not in after and "Bruno Petit" not in after


async def test_only_the_parties_of_the_case_see_its_proposals(browsers: Browsers) -> None:
    world = await make_proposal_world(outsider=True)
    proposal = world.proposal
    assert proposal is not None and world.outsider is not None
    pending = await make_account(Role.consumer, name="Paul Attente")
    await make_claim(world.case, pending, status="submitted")
    withdrawn = world.consumers[2]
    await Claim.update({Claim.status: "withdrawn"}).where(Claim.id == world.claims[2].id)
    strangers = [world.outsider, pending, withdrawn, await make_account(Role.staff),
                 await make_account(Role.mediator), await make_account(Role.company)]
    paths = [f"/cases/{world.case_id}/proposals", f"/proposals/{proposal.id}", f"/proposals/{proposal.id}/edit",
             f"/proposals/{proposal.id}/tally"]
    for account in strangers:
        client = await browsers.as_(account)
        for path in paths:
            assert (await client.get(path)).status_code == 404, (account.user.role, path)
        assert (await vote(client, proposal, "yes")).status_code == 404
        assert (await decide(client, proposal, "accept", amount=8_000, shown="x")).status_code == 404
        assert (await post_form(client, f"/cases/{world.case_id}/proposals", offer())).status_code == 404
    assert await Vote.count().where(Vote.proposal == proposal.id) == 0
    # a party who has not accepted the charter is sent to the room's door first
    await CharterAcceptance.delete().where(CharterAcceptance.user == world.consumers[0].user.id)
    alice = await browsers.as_(world.consumers[0])
    door = await alice.get(f"/proposals/{proposal.id}", follow_redirects=False)
    assert door.status_code == 303 and door.headers["location"] == f"/cases/{world.case_id}/room"


# --- reminders -----------------------------------------------------------------------------------------------


async def sweep() -> None:
    """What the scheduler and the worker do: claim due reminders, handle each."""
    for reminder_id in await do_claim_due_reminders():
        await do_handle_reminder(reminder_id)


async def test_reminders_go_once_to_the_consumers_who_have_not_answered(browsers: Browsers) -> None:
    world, [alice, bruno, _], _company, _mediator = await world_with_browsers(browsers, proposal=False)
    now = datetime.now(UTC)
    # a proposal whose vote closes in 2 days (its D-3 is past: skipped) and decisions in 6
    company = await browsers.as_(world.member)
    await post_form(company, f"/cases/{world.case_id}/proposals",
                    offer(vote_closes_at=local(timedelta(days=2)), decide_by=local(timedelta(days=6))))
    proposal = await Proposal.objects().where(Proposal.case == world.case_id).first()
    assert proposal is not None
    keys = sorted(r.key.rsplit(":", 2)[-2] + ":" + r.key.rsplit(":", 1)[-1]
                  for r in await reminders(f"proposal:{proposal.id}:"))
    assert keys == ["decision:d1", "decision:d3", "vote:d1"]
    await vote(alice, proposal, "yes")
    await decide(bruno, proposal, "refuse", amount=123_450)
    # When every reminder comes due and the sweep runs twice
    await make_due(f"proposal:{proposal.id}:")
    await sweep()
    await sweep()
    # Then each one went once, only to those who still had to answer
    vote_reminded = {n.user for n in await notifications_of(world.consumers[1], "proposal_vote_due")} | {
        n.user for n in await notifications_of(world.consumers[2], "proposal_vote_due")}
    assert vote_reminded == {world.consumers[1].user.id, world.consumers[2].user.id}
    assert await notifications_of(world.consumers[0], "proposal_vote_due") == []
    assert len(await notifications_of(world.consumers[2], "proposal_vote_due")) == 1
    assert len(await notifications_of(world.consumers[0], "proposal_decision_due")) == 2  # D-3 and D-1
    assert await notifications_of(world.consumers[1], "proposal_decision_due") == []
    assert {r.status for r in await reminders(f"proposal:{proposal.id}:")} == {"done"}
    assert now  # the clock only placed the dates


async def test_a_reminder_due_after_a_withdrawal_sends_nothing() -> None:
    world = await make_proposal_world(proposal=False)
    proposal = await make_proposal(world.case, world.member, status="withdrawn")
    await do_schedule_reminder(f"proposal:{proposal.id}:vote:d1", kind="proposal_vote_due",
                               due_at=datetime.now(UTC) - timedelta(minutes=1), case_id=world.case_id,
                               params={"proposal_id": proposal.id})
    await sweep()
    assert await notifications_of(world.consumers[0], "proposal_vote_due") == []


# --- hostile input ---------------------------------------------------------------------------------------------

HOSTILE = ("x" * 20_000, "<script>alert(1)</script>", "-1", "99999999999999999999999", "9999-12-31T23:59",
           "0001-01-01T00:00", "9999-12-31", "0001-01-01", "2026-02-30", "abc", "", "a\x00b\x1f")


async def test_impossible_dates_are_form_errors_and_nothing_is_stored(browsers: Browsers) -> None:
    # Given a case whose proposal the company may amend, and a case without a proposal
    world, _consumers, company, _mediator = await world_with_browsers(browsers)
    empty, _c, company_b, _m = await world_with_browsers(browsers, proposal=False)
    assert world.proposal is not None
    # When dates out of the calendar's ends, or impossible ones, are typed in either field
    for moment_ in ("0001-01-01T00:00", "0001-01-01T00:09", "9999-12-31T23:59", "2026-02-30T10:00"):
        for name in ("vote_closes_at", "decide_by"):
            made = await post_form(company_b, f"/cases/{empty.case_id}/proposals", offer(**{name: moment_}),
                                   follow_redirects=False)
            amended = await post_form(company, f"/proposals/{world.proposal.id}/versions",
                                      offer(version="1", **{name: moment_}), follow_redirects=False)
            # Then each is a form error, never a crash
            for response in (made, amended):
                assert response.status_code == 422, (moment_, name, response.status_code)
                assert "Please correct the fields marked below." in response.text
    # and nothing was stored
    assert await Proposal.count().where(Proposal.case == empty.case_id) == 0
    assert await Proposal.count().where(Proposal.case == world.case_id) == 1


async def test_what_all_consumers_would_receive_together_must_fit_one_case(browsers: Browsers) -> None:
    # Given three consumers who each claim ten million euros
    world = await make_proposal_world(amounts=[1_000_000_000] * 3, proposal=False)
    mediator = await browsers.as_(world.mediator)
    # When the mediator proposes the whole claimed amounts (30 M€, beyond what a case's fee can be counted on)
    response = await post_form(mediator, f"/cases/{world.case_id}/proposals",
                               offer(rule_kind="share", share="100", amount=""), follow_redirects=False)
    # Then it is a form error, and nothing is stored
    assert response.status_code == 422 and "this is too large for one case" in response.text
    assert await Proposal.count().where(Proposal.case == world.case_id) == 0
    # while a third of it is fine
    response = await post_form(mediator, f"/cases/{world.case_id}/proposals",
                               offer(rule_kind="share", share="33", amount=""), follow_redirects=False)
    assert response.status_code == 303


async def test_html_in_terms_and_comments_is_shown_inert_and_the_mediator_reads_the_comments(
        browsers: Browsers) -> None:
    # Given a proposal whose terms carry markup, and a consumer's vote comment with markup too
    world, [alice, *_], company, mediator = await world_with_browsers(
        browsers, terms='Remboursement <script>alert("t")</script> <b>gras</b> & 100 €')
    assert world.proposal is not None
    assert (await vote(alice, world.proposal, "no", comment="<img src=x onerror=alert(1)> trop peu")).status_code == 303
    # When the parties read the proposal
    seen = await mediator.get(f"/proposals/{world.proposal.id}")
    tally = await mediator.get(f"/proposals/{world.proposal.id}/tally", headers={"HX-Request": "true"})
    # Then the markup is escaped text, and the mediator reads the comment (by name, as the vote form promises)
    for page in (seen, tally):
        assert "&lt;img src=x onerror=alert(1)&gt; trop peu" in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &lt;b&gt;gras&lt;/b&gt; &amp; 100 €" in seen.text
    assert "<script>alert" not in seen.text
    # the company reads the terms, never the consumers' comments
    offer_page = await company.get(f"/proposals/{world.proposal.id}")
    assert "&lt;b&gt;gras" in offer_page.text and "trop peu" not in offer_page.text


ROUTE_GROUPS = ("authors", "answers", "timeline", "documents")


@pytest.mark.parametrize("group", ROUTE_GROUPS)
async def test_hostile_input_at_every_issue_5_post_route_is_a_clear_4xx_never_a_5xx(
        browsers: Browsers, group: str) -> None:
    # Given the parties of a case with an open proposal, a started timeline, a finalized proposal, a failed case
    routes: list[tuple[Client, str, dict[str, str]]] = []  # (who, path, a valid form the payload goes into)
    if group in ("authors", "answers", "timeline"):
        world, [alice, *_], company, mediator = await world_with_browsers(browsers)
        assert world.proposal is not None
        pid, cid = world.proposal.id, world.case_id
        dates = {"vote_closes_at": local(timedelta(days=3)), "decide_by": local(timedelta(days=6))}
        if group == "authors":
            routes = [(mediator, f"/cases/{cid}/proposals", offer(**dates)),
                      (company, f"/proposals/{pid}/versions", offer(version="1", **dates))]
            routes += [(mediator, f"/proposals/{pid}/{action}", {}) for action in ("vote/close", "close-decisions")]
            routes += [(company, f"/proposals/{pid}/withdraw", {})]
        elif group == "answers":
            shown = sign_shown_at(get_settings().secret_key, proposal_id=pid, version=1,
                                  user_id=world.consumers[0].user.id, shown_at=datetime.now(UTC))
            routes = [(alice, f"/proposals/{pid}/votes", {"version": "1", "choice": "yes", "comment": "ok"}),
                      (alice, f"/proposals/{pid}/decisions", {"version": "1", "choice": "accept", "amount": "8000",
                                                              "shown": shown})]
        else:
            from app.actions.timeline import do_create_default_timeline

            now = datetime.now(UTC)
            await do_create_default_timeline(cid, now, now + timedelta(days=90))
            phase = await Phase.objects().where(Phase.case == cid).first()
            assert phase is not None
            day_ = (now + timedelta(days=5)).astimezone(PARIS).date().isoformat()
            base = f"/cases/{cid}/timeline/phases"
            routes = [(mediator, base, {"title": "Expertise", "due_on": day_}),
                      (mediator, f"{base}/{phase.id}", {"title": "Échanges", "due_on": day_}),
                      (mediator, f"{base}/{phase.id}/done", {"done": "1"}),
                      (mediator, f"{base}/{phase.id}/move", {"direction": "down"}),
                      (mediator, f"/cases/{cid}/extensions", {
                          "ends_on": (now + timedelta(days=100)).astimezone(PARIS).date().isoformat(),
                          "reason": "Expertise technique"})]
    else:
        from tests.routes.test_agreements import finalized_world
        from tests.routes.test_escalation import failed_world

        done, failed = await finalized_world(), await failed_world()
        signer, company = await browsers.as_(done.world.consumers[0]), await browsers.as_(done.world.member)
        routes = [(signer, f"/agreements/{done.agreements[0].id}/sign", {"password": "wrong"}),
                  (company, f"/cases/{done.world.case_id}/agreements/countersign", {}),
                  (await browsers.as_(failed.consumer_a), f"/claims/{failed.claim_a.id}/escalate", {"opt_in": "1"})]
    # When each field in turn (and every field at once, and unknown ones) carries a hostile value
    problems = []
    for client, path, valid in routes:
        for payload in HOSTILE:
            forms = [valid | {name: payload} for name in valid] + [{name: payload for name in (*valid, "x", "id")}]
            if payload == HOSTILE[0]:  # and a megabyte in every field
                forms.append({name: "é" * 1_000_000 for name in (*valid, "x")})
            for form in forms:
                response = await post_form(client, path, form, follow_redirects=False)
                if response.status_code >= 500:
                    problems.append((path, sorted(name for name in form if form[name] == payload), payload[:20]))
        # and the path's ids are forged
        for forged in ("abc", "-1", "0", "99999999999", "2147483647"):
            response = await post_form(client, re.sub(r"/\d+", f"/{forged}", path, count=1), valid,
                                       follow_redirects=False)
            if response.status_code >= 500 or response.status_code < 400:
                problems.append((path, "forged id", forged, response.status_code))
    # Then every answer is a page or a redirect, never a server error
    assert problems == []


async def test_a_logged_out_visitor_is_sent_to_log_in(browsers: Browsers) -> None:
    world = await make_proposal_world()
    assert world.proposal is not None
    visitor = await browsers.as_(None)
    for path in (f"/cases/{world.case_id}/proposals", f"/proposals/{world.proposal.id}",
                 f"/proposals/{world.proposal.id}/tally", f"/cases/{world.case_id}/timeline",
                 f"/cases/{world.case_id}/agreements", f"/cases/{world.case_id}/agreements/record",
                 f"/cases/{world.case_id}/invoice", "/agreements/1", "/agreements/1/pdf", "/certificates/1",
                 f"/claims/{world.claims[0].id}/escalate", f"/claims/{world.claims[0].id}/escalate/bundle.zip"):
        response = await visitor.get(path, follow_redirects=False)
        assert response.status_code in (302, 303) and "/login" in response.headers["location"], (path, response)
    response = await post_form(visitor, f"/proposals/{world.proposal.id}/votes", {"choice": "yes"},
                               follow_redirects=False)
    assert response.status_code in (302, 303, 401, 403)
    assert await Vote.count().where(Vote.proposal == world.proposal.id) == 0
