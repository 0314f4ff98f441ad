"""Moderation in the room — the mediator hides a message with a reason, mutes a participant for a time, handles
reports — and the mediator's one screen (spaces, participants, deadlines, reports)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.tables import AuditEvent, MessageAttachment, MessageReport, Mute, Notification, Role
from tests.factories import make_account, make_claim, pdf_bytes
from tests.fixtures import Browsers, post_form
from tests.routes.test_room import FakeUpload, make_room, post, seed


async def test_the_mediator_hides_a_message_with_a_reason(browsers: Browsers) -> None:
    room = await make_room()
    seq = await seed(room.world.consumer_a, room.plenary, "you are all crooks", file=FakeUpload("x.pdf", pdf_bytes()))
    attachment = await MessageAttachment.select(MessageAttachment.id).where(
        MessageAttachment.message.space == room.plenary).first()
    path = f"/spaces/{room.plenary}/messages/{seq}/hide"
    # nobody else may hide
    for account in (room.world.consumer_b, room.world.member, room.world.consumer_a):
        client = await browsers.as_(account)
        assert (await client.get(path)).status_code == 403
        assert (await post_form(client, path, {"reason": "no"})).status_code == 403
    mediator = await browsers.as_(room.world.mediator)
    page = await mediator.get(f"/spaces/{room.plenary}")
    assert f'href="{path}">Hide</a>' in page.text
    form = await mediator.get(path)
    assert form.status_code == 200 and "you are all crooks" in form.text
    refused = await post_form(mediator, path, {"reason": "  "}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "Please give a reason." in refused.text and "<html" not in refused.text
    done = await post_form(mediator, path, {"reason": "insults"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/spaces/{room.plenary}#m-{seq}"
    # the others see that it was hidden, and why — not the text, not the file
    bruno = await browsers.as_(room.world.consumer_b)
    for html in ((await bruno.get(f"/spaces/{room.plenary}")).text,
                 (await bruno.get(f"/spaces/{room.plenary}/messages/{seq}")).text):
        assert "Message hidden by the mediator: insults" in html
        assert "crooks" not in html and "x.pdf" not in html
    assert (await bruno.get(f"/room/attachments/{attachment['id']}")).status_code == 404
    assert (await bruno.get(f"/spaces/{room.plenary}/messages/{seq}/report")).status_code == 403
    # the mediator still reads it
    html = (await mediator.get(f"/spaces/{room.plenary}")).text
    assert "you are all crooks" in html and "Hidden from the participants: insults" in html
    assert (await mediator.get(f"/room/attachments/{attachment['id']}")).status_code == 200
    assert await AuditEvent.exists().where(AuditEvent.case == room.case_id, AuditEvent.kind == "room_message_hidden")
    assert (await mediator.get(path)).status_code == 403  # already hidden


async def test_a_member_reports_a_message_to_the_mediator(browsers: Browsers) -> None:
    room = await make_room()
    seq = await seed(room.world.consumer_a, room.plenary, "call me at 06 12 34 56 78, Bruno's number is …")
    path = f"/spaces/{room.plenary}/messages/{seq}/report"
    bruno = await browsers.as_(room.world.consumer_b)
    page = await bruno.get(f"/spaces/{room.plenary}")
    assert f'href="{path}">Report</a>' in page.text
    form = await bruno.get(path)
    assert form.status_code == 200 and "Only the mediator will know that you reported it." in form.text
    for _ in range(2):  # reporting again changes nothing
        done = await post_form(bruno, path, {"reason": "personal data"}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/spaces/{room.plenary}?reported={seq}#m-{seq}"
    thanks = await bruno.get(f"/spaces/{room.plenary}?reported={seq}")
    assert "the mediator has been told" in thanks.text
    [report] = await MessageReport.select().where(MessageReport.message.space == room.plenary)
    assert report["reason"] == "personal data" and report["reporter"] == room.world.consumer_b.user.id
    [notice] = await Notification.select().where(Notification.user == room.world.mediator.user.id,
                                                 Notification.kind == "room_message_reported")
    assert notice["link"] == f"/spaces/{room.plenary}#m-{seq}"
    # one's own message, and the mediator: no reporting
    alice = await browsers.as_(room.world.consumer_a)
    assert (await alice.get(path)).status_code == 403
    assert (await post_form(alice, path, {})).status_code == 403
    mediator = await browsers.as_(room.world.mediator)
    assert (await mediator.get(path)).status_code == 403
    # the mediator's screen lists it; keeping the message closes the report
    overview = await mediator.get(f"/cases/{room.case_id}/room")
    assert "Reported messages" in overview.text and "call me at 06 12 34 56 78" in overview.text
    assert "reported by Bruno Petit" in overview.text and "Reason given: personal data" in overview.text
    handled = await post_form(mediator, f"/cases/{room.case_id}/room/reports/{report['id']}/handled", {},
                              follow_redirects=False)
    assert handled.status_code == 303
    assert (await MessageReport.select(MessageReport.handled_at).where(MessageReport.id == report["id"]).first()
            )["handled_at"] is not None
    assert "call me at 06 12 34 56 78" not in (await mediator.get(f"/cases/{room.case_id}/room")).text.split(
        'id="message-list"')[0]
    # nobody else can mark a report handled, and not from another case
    other = await make_room()
    other_mediator = await browsers.as_(other.world.mediator)
    response = await post_form(other_mediator, f"/cases/{other.case_id}/room/reports/{report['id']}/handled", {})
    assert response.status_code == 404
    assert (await post_form(bruno, f"/cases/{room.case_id}/room/reports/{report['id']}/handled", {})).status_code == 404


async def test_the_mediator_mutes_and_lets_speak_again(browsers: Browsers) -> None:
    room = await make_room()
    world = room.world
    target = world.consumer_a.user.id
    path = f"/cases/{room.case_id}/room/participants/{target}"
    # only the mediator
    for account in (world.consumer_b, world.member, world.staff):
        client = await browsers.as_(account)
        assert (await client.get(path)).status_code in (403, 404)
        response = await post_form(client, f"/cases/{room.case_id}/room/mutes",
                                   {"user": str(target), "duration": "1h"})
        assert response.status_code in (403, 404)
    assert not await Mute.exists().where(Mute.case == room.case_id)
    mediator = await browsers.as_(world.mediator)
    page = await mediator.get(path)
    assert page.status_code == 200 and "Alice Durand" in page.text and "may write" in page.text
    bad = await post_form(mediator, f"/cases/{room.case_id}/room/mutes", {"user": str(target), "duration": "1y"})
    assert bad.status_code == 422 and "Please choose for how long." in bad.text
    for user in (str(world.staff.user.id), "999999", "x"):
        response = await post_form(mediator, f"/cases/{room.case_id}/room/mutes", {"user": user, "duration": "1h"})
        assert response.status_code == 404, user
    done = await post_form(mediator, f"/cases/{room.case_id}/room/mutes",
                           {"user": str(target), "duration": "24h", "reason": "calm down"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == path
    [mute] = await Mute.select().where(Mute.case == room.case_id)
    assert timedelta(hours=23) < mute["until"] - datetime.now(UTC) <= timedelta(hours=24)
    assert mute["reason"] == "calm down" and mute["muted_by"] == world.mediator.user.id
    assert "muted until" in (await mediator.get(path)).text
    assert await Notification.exists().where(Notification.user == target, Notification.kind == "room_muted")
    alice = await browsers.as_(world.consumer_a)
    response = await post(alice, room.plenary, "let me talk")
    assert response.status_code == 403 and "Reason: calm down" in response.text
    # the mediator's screen shows it
    assert re.search(r"Alice Durand</a>\s*<span class=\"muted\">Admitted · <strong>muted</strong>",
                     (await mediator.get(f"/cases/{room.case_id}/room")).text)
    lifted = await post_form(mediator, f"/cases/{room.case_id}/room/mutes/{target}/lift", {}, follow_redirects=False)
    assert lifted.status_code == 303
    assert (await post(alice, room.plenary, "thank you")).status_code == 303
    assert "may write" in (await mediator.get(path)).text
    # until lifted
    await post_form(mediator, f"/cases/{room.case_id}/room/mutes", {"user": str(target), "duration": "until_lifted"})
    assert "muted until you lift it" in (await mediator.get(path)).text
    response = await post(alice, room.plenary, "again?")
    assert response.status_code == 403 and "until further notice" in response.text
    kinds = [row["kind"] for row in await AuditEvent.select(AuditEvent.kind).where(
        AuditEvent.case == room.case_id, AuditEvent.kind.like("room_%"))]
    assert kinds.count("room_participant_muted") == 2 and kinds.count("room_mute_lifted") == 1


async def test_the_mediators_screen(browsers: Browsers) -> None:
    room = await make_room()
    world = room.world
    waiting = await make_account(Role.consumer, name="Chloé Attente")
    await make_claim(world.case, waiting, status="submitted")
    alice = await browsers.as_(world.consumer_a)
    opened = await post_form(alice, f"/cases/{room.case_id}/room/direct", {}, follow_redirects=False)
    direct = int(opened.headers["location"].rsplit("/", 1)[1])
    await seed(world.consumer_a, direct, "a word in private")
    await seed(world.consumer_b, room.consumers, "in the caucus")
    mediator = await browsers.as_(world.mediator)
    page = await mediator.get(f"/cases/{room.case_id}/room")
    assert page.status_code == 200
    html = page.text
    # every space with its unread count, the caucuses included
    for label in ("Plenary", "Consumers&#39; caucus", "Company caucus", "Private: Alice Durand"):
        assert label in html, label
    assert re.search(r"Consumers&#39; caucus <span class=\"badge\" aria-hidden=\"true\">1</span>", html)
    # the deadlines
    assert "Outcome due by" in html and re.search(r"(89|90) days left", html)
    # the participants by their real names, with their claim status and what can be done
    participants = html.split('id="participants"')[1].split("</details>")[0]
    for name in ("Alice Durand", "Bruno Petit", "Chloé Attente", "Camille Martin"):
        assert name in participants, name
    assert f'href="/spaces/{direct}">Private thread <span class="badge" aria-hidden="true">1</span>' in participants
    bruno_row = participants.split("Bruno Petit")[1].split("</li>")[0]
    assert f'name="participant" value="{world.consumer_b.user.id}"' in bruno_row and "Write privately" in bruno_row
    chloe_row = participants.split("Chloé Attente")[1].split("</li>")[0]
    assert "Waiting for review" in chloe_row and "Write privately" not in chloe_row  # not admitted: not in the room
    assert "No message is waiting for your decision." in html
    # a report from a private thread names the thread
    answer = await seed(world.mediator, direct, "my private answer")
    await post_form(alice, f"/spaces/{direct}/messages/{answer}/report", {"reason": ""})
    reports = (await mediator.get(f"/cases/{room.case_id}/room")).text.split('id="reports"')[1].split("</details>")[0]
    assert f'href="/spaces/{direct}#m-{answer}">Private: Alice Durand · #{answer}</a>' in reports
    assert "my private answer" in reports and "reported by Alice Durand" in reports
    # the plenary below it, and the overview only for the mediator
    assert 'id="message-list"' in html and "Plenary</h1>" in html
    for account in (world.consumer_a, world.member):
        assert "Reported messages" not in (await (await browsers.as_(account)).get(f"/cases/{room.case_id}/room")).text
