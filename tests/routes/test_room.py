"""The mediation room's door and walls: the charter gate, and who may enter which space — every role against
every space, for the page, history, a posted message, one message's fragment and an attachment (404 for anyone
who is not a member, so ids cannot be probed); one-to-one threads; unread counts outside the room."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.actions.room import do_post_message, ensure_spaces
from app.domain.room import space_key
from app.tables import AuditEvent, Case, CharterAcceptance, Claim, Message, MessageAttachment, Role, Space
from tests.factories import Account, World, assign, make_account, make_claim, make_member, make_world, pdf_bytes
from tests.factories.mediation import make_company
from tests.fixtures import Browsers, post_form


@dataclass
class Room:
    """A case in mediation: both claims admitted, a declared mediator, the three shared spaces."""

    world: World
    plenary: int
    consumers: int
    company: int

    @property
    def case_id(self) -> int:
        return int(self.world.case.id)


async def make_room(*, accepted: bool = True, status: str = "in_mediation") -> Room:
    world = await make_world(status=status)
    await assign(world.case, world.mediator)
    now = datetime.now(UTC)
    await Case.update({Case.started_at: now, Case.ends_at: now + timedelta(days=90)}).where(Case.id == world.case.id)
    await Claim.update({Claim.status: "admitted"}).where(Claim.case == world.case.id)
    if accepted:
        for account in (world.consumer_a, world.consumer_b, world.member, world.mediator):
            await accept(world, account)
    await ensure_spaces(world.case.id)
    ids = {row["kind"]: row["id"] for row in await Space.select(Space.id, Space.kind).where(
        Space.case == world.case.id)}
    return Room(world, ids["plenary"], ids["consumers"], ids["company"])


async def accept(world: World, account: Account) -> None:
    await CharterAcceptance.insert(CharterAcceptance(case=world.case.id, user=account.user.id))


@dataclass
class FakeUpload:
    """What the route hands to do_post_message for a file."""

    filename: str
    data: bytes

    async def read(self, size: int = -1) -> bytes:
        return self.data if size < 0 else self.data[:size]


async def seed(account: Account, space_id: int, body: str, *, file: FakeUpload | None = None) -> int:
    """A message posted through the action (as the route would), returning its seq."""
    result = await do_post_message(account.user, space_id, body, str(uuid.uuid4()), file)
    assert not result.errors and result.seq is not None, result.errors.fields
    return result.seq


async def post(client: AsyncTestClient[Litestar], space_id: int, body: str, *, key: str | None = None,
               htmx: bool = False, files: dict[str, Any] | None = None) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"body": body, "client_key": key if key is not None else str(uuid.uuid4())}
    return await post_form(client, f"/spaces/{space_id}/messages", data, headers=headers, files=files,
                           follow_redirects=False)


def message_seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'<article id="m-(\d+)"', html)]


# --- the charter -------------------------------------------------------------------------------------------


async def test_the_charter_is_accepted_once_before_entering(browsers: Browsers) -> None:
    room = await make_room(accepted=False)
    alice = await browsers.as_(room.world.consumer_a)
    door = await alice.get(f"/cases/{room.case_id}/room")
    assert door.status_code == 200
    assert "Before you enter the mediation room" in door.text and "L612-3" in door.text
    assert "What is said in the room stays in the room." in door.text and 'id="message-list"' not in door.text
    # every space, and the actions inside, send her back to the charter
    for path in (f"/spaces/{room.plenary}", f"/spaces/{room.consumers}?before=3"):
        response = await alice.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/cases/{room.case_id}/room"
    response = await post(alice, room.plenary, "Bonjour")
    assert response.status_code == 303 and response.headers["location"] == f"/cases/{room.case_id}/room"
    assert not await Message.exists().where(Message.author == room.world.consumer_a.user.id)
    # accepting (twice: a double click) records one acceptance with its time, and an audit line
    for _ in range(2):
        accepted = await post_form(alice, f"/cases/{room.case_id}/room/charter", {}, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == f"/cases/{room.case_id}/room"
    rows = await CharterAcceptance.select().where(CharterAcceptance.case == room.case_id,
                                                  CharterAcceptance.user == room.world.consumer_a.user.id)
    assert len(rows) == 1 and rows[0]["accepted_at"] is not None
    assert await AuditEvent.count().where(AuditEvent.case == room.case_id, AuditEvent.kind == "charter_accepted") == 1
    inside = await alice.get(f"/cases/{room.case_id}/room")
    assert inside.status_code == 200 and 'id="message-list"' in inside.text
    assert "<h1 id=\"space-title\">Plenary</h1>" in inside.text
    # the others have not accepted yet: still at the door
    bruno = await browsers.as_(room.world.consumer_b)
    assert "Before you enter the mediation room" in (await bruno.get(f"/cases/{room.case_id}/room")).text


async def test_the_room_is_for_the_parties_of_a_started_mediation(browsers: Browsers) -> None:
    room = await make_room(accepted=False)
    path = f"/cases/{room.case_id}/room"
    # staff are no party; an outsider, another mediator, another company's representative: 404, even to the
    # charter
    outsiders = [room.world.staff, await make_account(Role.consumer), await make_account(Role.mediator),
                 await make_member(await make_company())]
    for account in outsiders:
        client = await browsers.as_(account)
        assert (await client.get(path)).status_code == 404, account.user.role
        assert (await post_form(client, f"{path}/charter", {})).status_code == 404, account.user.role
    # a consumer whose claim is not admitted is told why
    waiting = await make_account(Role.consumer)
    await make_claim(room.world.case, waiting, status="submitted")
    client = await browsers.as_(waiting)
    response = await client.get(path)
    assert response.status_code == 403 and "claim has been admitted" in response.text
    assert (await post_form(client, f"{path}/charter", {})).status_code == 403
    # before the start, the room is not open
    world = await make_world(status="accepted")
    member = await browsers.as_(world.member)
    response = await member.get(f"/cases/{world.case.id}/room")
    assert response.status_code == 409 and "opens when the mediation starts" in response.text
    assert (await member.get("/cases/999999/room")).status_code == 404


# --- the walls: every role against every space --------------------------------------------------------------


async def test_each_space_is_seen_only_by_its_members(browsers: Browsers) -> None:
    room = await make_room()
    world = room.world
    direct_a = (await Space.select(Space.id).where(Space.key == space_key(room.case_id, "direct", 0)).first())
    assert direct_a is None
    mediator = await browsers.as_(world.mediator)
    opened = await post_form(mediator, f"/cases/{room.case_id}/room/direct", {"participant": str(
        world.consumer_a.user.id)}, follow_redirects=False)
    assert opened.status_code == 303
    direct = int(opened.headers["location"].rsplit("/", 1)[1])
    pdf = pdf_bytes()
    secrets_by_space = {}
    for space_id, author, text in ((room.plenary, world.member, "plenary words"),
                                   (room.consumers, world.consumer_b, "caucus secret of the consumers"),
                                   (room.company, world.member, "caucus secret of the company"),
                                   (direct, world.mediator, "private to Alice")):
        await seed(author, space_id, text, file=FakeUpload(f"doc-{space_id}.pdf", pdf))
        await seed(author, space_id, text + " (second)")
        attachment = await MessageAttachment.select(MessageAttachment.id).where(
            MessageAttachment.message.space == space_id).first()
        secrets_by_space[space_id] = (text, attachment["id"])
    other_case_room = await make_room()
    members = {
        "consumer_a": (world.consumer_a, {room.plenary, room.consumers, direct}),
        "consumer_b": (world.consumer_b, {room.plenary, room.consumers}),
        "company": (world.member, {room.plenary, room.company}),
        "mediator": (world.mediator, {room.plenary, room.consumers, room.company, direct}),
        "staff": (world.staff, set()),
        "other case's mediator": (other_case_room.world.mediator, set()),
        "other case's consumer": (other_case_room.world.consumer_a, set()),
        "other company": (other_case_room.world.member, set()),
    }
    for name, (account, allowed) in members.items():
        client = await browsers.as_(account)
        for space_id, (text, attachment_id) in secrets_by_space.items():
            expected = 200 if space_id in allowed else 404
            context = f"{name} in space {space_id}"
            page = await client.get(f"/spaces/{space_id}")
            assert page.status_code == expected, context
            assert (text in page.text) is (space_id in allowed), context
            older = await client.get(f"/spaces/{space_id}?before=2", headers={"HX-Request": "true"})
            assert older.status_code == expected, context
            fragment = await client.get(f"/spaces/{space_id}/messages/1")
            assert fragment.status_code == expected, context
            assert (text in fragment.text) is (space_id in allowed), context
            download = await client.get(f"/room/attachments/{attachment_id}")
            assert download.status_code == expected, context
            if expected == 200:
                assert download.content == pdf and download.headers["content-disposition"].startswith("attachment")
            before = await Message.count().where(Message.space == space_id)
            posted = await post(client, space_id, f"{name} was here")
            assert posted.status_code == (303 if space_id in allowed else 404), context
            assert await Message.count().where(Message.space == space_id) == before + (space_id in allowed), context
            if space_id not in allowed:
                assert text not in page.text + older.text + fragment.text + posted.text
    # ids that do not exist, or that are not ids at all
    alice = await browsers.as_(world.consumer_a)
    for path in ("/spaces/999999", "/spaces/999999/messages/1", f"/spaces/{room.plenary}/messages/999",
                 "/room/attachments/999999"):
        assert (await alice.get(path)).status_code == 404, path
    for path in ("/spaces/0", "/spaces/-1", "/spaces/abc", f"/spaces/{2**31}", "/room/attachments/0"):
        assert (await alice.get(path)).status_code in (400, 404), path


async def test_a_company_representative_cannot_reach_the_consumers_caucus_by_guessing(browsers: Browsers) -> None:
    room = await make_room()
    secret = "we will accept 60 % if they insist"
    seq = await seed(room.world.consumer_a, room.consumers, secret, file=FakeUpload("plan.pdf", pdf_bytes()))
    attachment = await MessageAttachment.select(MessageAttachment.id).where(
        MessageAttachment.message.space == room.consumers).first()
    company = await browsers.as_(room.world.member)
    responses = [
        await company.get(f"/spaces/{room.consumers}"),
        await company.get(f"/spaces/{room.consumers}?after=0"),
        await company.get(f"/spaces/{room.consumers}?before={seq + 1}", headers={"HX-Request": "true"}),
        await company.get(f"/spaces/{room.consumers}/messages/{seq}"),
        await company.get(f"/spaces/{room.consumers}/messages/{seq}/report"),
        await company.get(f"/room/attachments/{attachment['id']}"),
        await post(company, room.consumers, "hello?"),
        await post(company, room.consumers, "hello?", htmx=True),
        await post_form(company, f"/spaces/{room.consumers}/messages/{seq}/report", {"reason": "x"}),
    ]
    for response in responses:
        assert response.status_code == 404, response.request.url
        assert secret not in response.text and "plan.pdf" not in response.text
    # nor from the plenary or their own caucus pages
    for path in (f"/cases/{room.case_id}/room", f"/spaces/{room.company}"):
        page = await company.get(path)
        assert page.status_code == 200 and secret not in page.text
        assert f'href="/spaces/{room.consumers}"' not in page.text and "Consumers&#39; caucus" not in page.text


async def test_a_withdrawn_consumer_leaves_the_room(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    assert (await alice.get(f"/spaces/{room.consumers}")).status_code == 200
    await Claim.update({Claim.status: "withdrawn"}).where(Claim.id == room.world.claim_a.id)
    assert (await alice.get(f"/spaces/{room.consumers}")).status_code == 404
    assert (await alice.get(f"/spaces/{room.plenary}")).status_code == 404
    assert (await post(alice, room.plenary, "still here?")).status_code == 404


# --- one-to-one threads ------------------------------------------------------------------------------------


async def test_direct_threads_are_opened_by_either_side(browsers: Browsers) -> None:
    room = await make_room()
    world = room.world
    alice = await browsers.as_(world.consumer_a)
    page = await alice.get(f"/spaces/{room.plenary}")
    assert "Write to the mediator privately" in page.text
    opened = await post_form(alice, f"/cases/{room.case_id}/room/direct", {}, follow_redirects=False)
    assert opened.status_code == 303
    location = opened.headers["location"]
    again = await post_form(alice, f"/cases/{room.case_id}/room/direct", {}, follow_redirects=False)
    assert again.headers["location"] == location  # one thread per participant
    direct = await alice.get(location)
    assert direct.status_code == 200 and "Private, with the mediator" in direct.text
    assert "Only the mediator and this participant read this thread." in direct.text
    # the mediator finds the same thread, named after her, and so does nobody else
    mediator = await browsers.as_(world.mediator)
    opened = await post_form(mediator, f"/cases/{room.case_id}/room/direct",
                             {"participant": str(world.consumer_a.user.id)}, follow_redirects=False)
    assert opened.headers["location"] == location
    assert "Private: Alice Durand" in (await mediator.get(location)).text
    bruno = await browsers.as_(world.consumer_b)
    assert (await bruno.get(location)).status_code == 404
    # a consumer cannot open a thread for somebody else; the mediator only with a participant of the case
    response = await post_form(bruno, f"/cases/{room.case_id}/room/direct",
                               {"participant": str(world.consumer_a.user.id)})
    assert response.status_code == 404
    for participant in (str(world.staff.user.id), "999999", "abc", ""):
        response = await post_form(mediator, f"/cases/{room.case_id}/room/direct", {"participant": participant})
        assert response.status_code == 404, participant
    # the company's representative too
    company = await browsers.as_(world.member)
    opened = await post_form(company, f"/cases/{room.case_id}/room/direct", {}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] != location
    assert await Space.count().where(Space.case == room.case_id, Space.kind == "direct") == 2


# --- unread counts outside the room ----------------------------------------------------------------------


async def test_unread_counts_on_the_case_page_and_my_cases(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    await alice.get(f"/spaces/{room.plenary}")
    await alice.get(f"/spaces/{room.consumers}")  # she has read everything (nothing yet)
    for index in range(3):
        await seed(room.world.consumer_b, room.consumers, f"caucus {index}")
    await seed(room.world.member, room.company, "not for the consumers")
    await seed(room.world.member, room.plenary, "for everyone")
    case_page = await alice.get(f"/cases/{room.case_id}")
    assert f'href="/cases/{room.case_id}/room"' in case_page.text
    assert "(4 unread)" in case_page.text  # 3 in the caucus + 1 in the plenary, not the company's
    my_cases = await alice.get("/my/cases")
    assert f'href="/cases/{room.case_id}/room"' in my_cases.text and "(4 unread)" in my_cases.text
    room_page = await alice.get(f"/spaces/{room.plenary}")
    assert re.search(r"Consumers&#39; caucus <span class=\"badge\" aria-hidden=\"true\">3</span>", room_page.text)
    await alice.get(f"/spaces/{room.consumers}")
    assert "unread)" not in (await alice.get(f"/cases/{room.case_id}")).text.split('<main id="main">')[1]
    # the company counts its own spaces, the mediator every space
    company = await browsers.as_(room.world.member)
    await company.get(f"/spaces/{room.plenary}")
    await company.get(f"/spaces/{room.company}")
    await seed(room.world.consumer_b, room.consumers, "caucus 4")
    await seed(room.world.consumer_b, room.plenary, "to the company")
    assert "(1 unread)" in (await company.get(f"/cases/{room.case_id}")).text
    companies = (await company.get("/companies/mine")).text
    assert f'href="/cases/{room.case_id}/room">Mediation room' in companies and "(1 unread)" in companies
    mediator = await browsers.as_(room.world.mediator)
    assert "(7 unread)" in (await mediator.get(f"/cases/{room.case_id}")).text
    mediations = (await mediator.get("/mediators/cases")).text
    assert f'href="/cases/{room.case_id}/room">Mediation room' in mediations and "(7 unread)" in mediations
