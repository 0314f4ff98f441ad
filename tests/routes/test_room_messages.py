"""Messages in the room: the posting rules (empty, overlong, control characters, HTML shown inert, closed case,
muted), idempotent posts, posting with HTMX, attachments, history pages, read marks and the "new" marker, and
who is called what (pseudonyms)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

from piccolo.querystring import QueryString

from app.actions.room import do_post_message, history_query
from app.domain.room import MAX_MESSAGE_CHARS, Window, pseudonym_number
from app.tables import Case, Message, MessageAttachment, Mute, Pseudonym, Space, SpaceRead
from tests.factories import pdf_bytes, png_bytes
from tests.fixtures import Browsers, post_form
from tests.routes.test_room import make_room, message_seqs, post, seed


async def bodies(space_id: int) -> list[str]:
    return [row["body"] for row in await Message.select(Message.body).where(Message.space == space_id).order_by(
        Message.seq)]


# --- posting rules -----------------------------------------------------------------------------------------


async def test_posting_rules_give_clear_messages(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    for body, expected in (("", "Please write a message (or attach a file)."),
                           ("  \n\t \x00\x07 ", "Please write a message (or attach a file)."),
                           ("é" * (MAX_MESSAGE_CHARS + 1),
                            f"A message may have at most {MAX_MESSAGE_CHARS} characters; yours has "
                            f"{MAX_MESSAGE_CHARS + 1}.")):
        response = await post(alice, room.plenary, body)
        assert response.status_code == 422
        assert expected in response.text and "<html" in response.text  # the whole page without JS
        fragment = await post(alice, room.plenary, body, htmx=True)
        assert fragment.status_code == 422 and expected in fragment.text
        assert fragment.text.lstrip().startswith('<div id="post-area">') and "<html" not in fragment.text
    overlong = await post(alice, room.plenary, "x" * (MAX_MESSAGE_CHARS + 10))
    assert "x" * (MAX_MESSAGE_CHARS + 10) in overlong.text  # given back to be shortened
    assert await bodies(room.plenary) == []
    # exactly the limit is fine; control characters are stripped (tab and line breaks kept)
    assert (await post(alice, room.plenary, "y" * MAX_MESSAGE_CHARS)).status_code == 303
    assert (await post(alice, room.plenary, "Bon\x00jour\x1b[31m\r\n\tà\u202e tous\x7f")).status_code == 303
    assert (await bodies(room.plenary))[-1] == "Bonjour[31m\n\tà tous"


async def test_html_and_scripts_are_shown_as_text(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    payload = ('<script>alert("x")</script><img src=x onerror=alert(1)> "quoted" & '
               "javascript:alert(2) https://example.org/a?b=1&c=<2>\nsecond line")
    assert (await post(alice, room.plenary, payload)).status_code == 303
    bruno = await browsers.as_(room.world.consumer_b)
    for html in ((await bruno.get(f"/spaces/{room.plenary}")).text,
                 (await bruno.get(f"/spaces/{room.plenary}/messages/1")).text):
        assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&#34;quoted&#34; &amp; javascript:alert(2)" in html
        assert ('<a href="https://example.org/a?b=1&amp;c=" rel="nofollow noopener noreferrer">'
                "https://example.org/a?b=1&amp;c=</a>&lt;2&gt;<br>\nsecond line") in html


async def test_a_forged_or_foreign_space_id_is_refused(browsers: Browsers) -> None:
    room = await make_room()
    other = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    for space_id in (999_999, other.plenary, other.consumers):
        assert (await post(alice, space_id, "hello")).status_code == 404
    response = await post_form(alice, "/spaces/abc/messages", {"body": "x"})
    assert response.status_code in (400, 404)
    assert await Message.count().where(Message.author == room.world.consumer_a.user.id) == 0


async def test_a_closed_case_keeps_a_read_only_room(browsers: Browsers) -> None:
    room = await make_room()
    await seed(room.world.consumer_a, room.plenary, "before the end")
    await Case.update({Case.status: "closed"}).where(Case.id == room.case_id)
    alice = await browsers.as_(room.world.consumer_a)
    page = await alice.get(f"/cases/{room.case_id}/room")
    assert page.status_code == 200 and "before the end" in page.text
    assert "this room can still be read, but no longer takes messages" in page.text
    assert 'id="post-form"' not in page.text
    response = await post(alice, room.plenary, "after the end")
    assert response.status_code == 409 and "no longer takes messages" in response.text
    fragment = await post(alice, room.plenary, "after the end", htmx=True)
    assert fragment.status_code == 409 and "<html" not in fragment.text
    assert await bodies(room.plenary) == ["before the end"]
    # no new thread either
    response = await post_form(alice, f"/cases/{room.case_id}/room/direct", {})
    assert response.status_code == 409


async def test_a_muted_participant_reads_but_cannot_write(browsers: Browsers) -> None:
    room = await make_room()
    until = datetime.now(UTC) + timedelta(hours=1)
    await Mute.insert(Mute(case=room.case_id, user=room.world.consumer_a.user.id, until=until,
                           reason="insults", muted_by=room.world.mediator.user.id))
    alice = await browsers.as_(room.world.consumer_a)
    page = await alice.get(f"/spaces/{room.plenary}")
    assert page.status_code == 200 and 'id="post-form"' not in page.text
    assert "The mediator has muted you in this room until" in page.text and "Reason: insults" in page.text
    for htmx in (False, True):
        response = await post(alice, room.plenary, "let me speak", htmx=htmx)
        assert response.status_code == 403 and "muted you" in response.text
    assert await bodies(room.plenary) == []
    # muted in the whole case, and only there
    assert (await post(alice, room.consumers, "here?")).status_code == 403
    other = await make_room()
    assert (await post(await browsers.as_(other.world.consumer_a), other.plenary, "elsewhere")).status_code == 303
    # a mute that has ended no longer counts
    await Mute.update({Mute.until: datetime.now(UTC) - timedelta(seconds=1)}).where(Mute.case == room.case_id)
    assert (await post(alice, room.plenary, "back")).status_code == 303


# --- nothing stored twice ----------------------------------------------------------------------------------


async def test_a_client_key_posted_again_returns_the_same_message(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    key = str(uuid.uuid4())
    first = await post(alice, room.plenary, "only once", key=key)
    again = await post(alice, room.plenary, "only once", key=key)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == f"/spaces/{room.plenary}#m-1"
    htmx = await post(alice, room.plenary, "only once", key=key, htmx=True)
    assert htmx.status_code == 200
    assert await bodies(room.plenary) == ["only once"]
    # two at the same time (a double click on a slow link): still one
    key = str(uuid.uuid4())
    results = await asyncio.gather(*[do_post_message(room.world.consumer_a.user, room.plenary, "double", key)
                                     for _ in range(4)])
    assert {result.seq for result in results} == {2} and sum(not result.duplicate for result in results) == 1
    assert await bodies(room.plenary) == ["only once", "double"]
    space = await Space.select(Space.last_seq).where(Space.id == room.plenary).first()
    assert space["last_seq"] == 2  # no seq was burnt: the live stream sees no gap
    # another author may use the same key (keys are per author); no key means no recognition
    assert (await post(await browsers.as_(room.world.consumer_b), room.plenary, "mine", key=key)).status_code == 303
    assert (await post(alice, room.plenary, "twice", key="")).status_code == 303
    assert (await post(alice, room.plenary, "twice", key="")).status_code == 303
    assert (await bodies(room.plenary))[-2:] == ["twice", "twice"]


async def test_with_htmx_the_post_answers_an_empty_form_not_the_message(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    page = await alice.get(f"/spaces/{room.plenary}")
    key = re.search(r'name="client_key" value="([^"]+)"', page.text).group(1)
    response = await post(alice, room.plenary, "hello everyone", key=key, htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="post-area">') and "<html" not in response.text
    assert 'id="m-' not in response.text and "hello everyone" not in response.text  # it comes by the stream
    assert "autofocus" in response.text
    new_key = re.search(r'name="client_key" value="([^"]+)"', response.text).group(1)
    assert new_key != key
    assert await bodies(room.plenary) == ["hello everyone"]


# --- attachments -------------------------------------------------------------------------------------------


async def test_attachments_follow_the_evidence_rules(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    response = await post(alice, room.consumers, "my invoice", files={"file": ("../../facture\u202e.pdf",
                                                                               pdf_bytes(), "application/pdf")})
    assert response.status_code == 303
    response = await post(alice, room.consumers, "", files={"file": ("photo.png", png_bytes(), "image/png")})
    assert response.status_code == 303  # a file alone is a message
    [first, second] = await MessageAttachment.select().where(MessageAttachment.message.space == room.consumers
                                                               ).order_by(MessageAttachment.id)
    assert first["original_name"] == "facture.pdf" and first["content_type"] == "application/pdf"
    assert second["content_type"] == "image/png"
    bruno = await browsers.as_(room.world.consumer_b)
    page = await bruno.get(f"/spaces/{room.consumers}")
    assert f'href="/room/attachments/{first["id"]}">facture.pdf</a>' in page.text
    download = await bruno.get(f"/room/attachments/{first['id']}")
    assert download.status_code == 200 and download.content == pdf_bytes()
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["content-disposition"].startswith("attachment")
    # refused: what is not a PDF, JPEG or PNG whatever its name, an empty file, one over 10 MB
    for name, data, expected in (("virus.pdf", b"MZ\x90\x00 not a pdf", "is not a PDF, JPEG or PNG file"),
                                 ("empty.pdf", b"", "is empty"),
                                 ("huge.pdf", pdf_bytes(10 * 1024 * 1024 + 1), "is larger than 10 MB")):
        response = await post(alice, room.consumers, "with a file", files={"file": (name, data, "application/pdf")})
        assert response.status_code == 422 and expected in response.text, name
    assert await MessageAttachment.count().where(MessageAttachment.message.space == room.consumers) == 2
    assert await bodies(room.consumers) == ["my invoice", ""]


# --- history -----------------------------------------------------------------------------------------------


async def test_history_pages_walk_back_without_gaps_or_repeats(browsers: Browsers) -> None:
    room = await make_room()
    rows = [Message(space=room.plenary, seq=seq, author=room.world.consumer_b.user.id, body=f"message {seq}")
            for seq in range(1, 121)]
    await Message.insert(*rows)
    await Space.update({Space.last_seq: 120}).where(Space.id == room.plenary)
    alice = await browsers.as_(room.world.consumer_a)
    latest = await alice.get(f"/spaces/{room.plenary}")
    assert message_seqs(latest.text) == list(range(71, 121))
    assert f'hx-get="/spaces/{room.plenary}?before=71"' in latest.text
    assert "Check for newer messages" in latest.text and "sse-connect" in latest.text
    # HTMX: the previous page, with the link to the one before, to put at the top of the list
    older = await alice.get(f"/spaces/{room.plenary}?before=71", headers={"HX-Request": "true"})
    assert older.status_code == 200 and "<html" not in older.text
    assert older.text.lstrip().startswith('<p id="older-messages"')
    assert message_seqs(older.text) == list(range(21, 71)) and "?before=21" in older.text
    oldest = await alice.get(f"/spaces/{room.plenary}?before=21", headers={"HX-Request": "true"})
    assert message_seqs(oldest.text) == list(range(1, 21)) and "older-messages" not in oldest.text
    # without JS: whole pages, with a way back to the newer messages, and no live stream on old pages
    page = await alice.get(f"/spaces/{room.plenary}?before=71")
    assert message_seqs(page.text) == list(range(21, 71)) and "<html" in page.text
    assert f'href="/spaces/{room.plenary}?after=70">Newer messages' in page.text and "sse-connect" not in page.text
    forward = await alice.get(f"/spaces/{room.plenary}?after=10")
    assert message_seqs(forward.text) == list(range(11, 61)) and "?after=60" in forward.text
    nearly = await alice.get(f"/spaces/{room.plenary}?after=100")  # within a page of the end: the latest page
    assert message_seqs(nearly.text) == list(range(71, 121))
    # nonsense cursors are ignored or refused, never an error page
    for query in ("before=abc", "before=0", "after=-1", f"before={2**40}"):
        response = await alice.get(f"/spaces/{room.plenary}?{query}")
        assert response.status_code in (200, 400), query
        if response.status_code == 200:
            assert message_seqs(response.text) == list(range(71, 121)), query


async def test_the_new_marker_and_read_marks(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a)
    await seed(room.world.consumer_b, room.plenary, "old news")
    first = await alice.get(f"/spaces/{room.plenary}")
    assert "old news" in first.text and "new-marker" not in first.text  # a first visit marks nothing as new
    read = await SpaceRead.select().where(SpaceRead.space == room.plenary,
                                          SpaceRead.user == room.world.consumer_a.user.id).first()
    assert read["read_seq"] == 1
    await seed(room.world.consumer_b, room.plenary, "fresh 1")
    await seed(room.world.consumer_b, room.plenary, "fresh 2")
    page = await alice.get(f"/spaces/{room.plenary}")
    assert re.search(r'new-marker">New since your last visit</p>\s*<article id="m-2"', page.text)
    # her own post does not move it, nor does a reload within the visit
    assert (await post(alice, room.plenary, "my answer")).status_code == 303
    page = await alice.get(f"/spaces/{room.plenary}")
    assert re.search(r'new-marker">New since your last visit</p>\s*<article id="m-2"', page.text)
    # a new visit (half an hour later): the marker moves to what came since
    await SpaceRead.update({SpaceRead.updated_at: datetime.now(UTC) - timedelta(hours=1)}).where(
        SpaceRead.space == room.plenary, SpaceRead.user == room.world.consumer_a.user.id)
    await seed(room.world.consumer_b, room.plenary, "next day")
    page = await alice.get(f"/spaces/{room.plenary}")
    assert re.search(r'new-marker">New since your last visit</p>\s*<article id="m-5"', page.text)
    # "newer messages" (the no-JS way to see what came): a marker before what is new since that page
    await seed(room.world.consumer_b, room.plenary, "while she read")
    page = await alice.get(f"/spaces/{room.plenary}?after=5")
    assert re.search(r'new-marker">New messages</p>\s*<article id="m-6"', page.text)
    assert "while she read" in page.text


# --- identity ----------------------------------------------------------------------------------------------


async def test_who_is_called_what_depends_on_who_reads(browsers: Browsers) -> None:
    room = await make_room()
    world = room.world
    await seed(world.consumer_a, room.plenary, "from Alice")
    await seed(world.member, room.plenary, "from the company")
    await seed(world.mediator, room.plenary, "from the mediator")
    await seed(world.consumer_a, room.consumers, "Alice in the caucus")
    company_name = world.company.name

    def author_of(html: str, seq: int) -> str:
        match = re.search(rf'<article id="m-{seq}"[^>]*>\s*<p class="message-meta"><strong>([^<]*)</strong>', html)
        assert match, html
        return match.group(1).replace("&#39;", "'")

    bruno = await browsers.as_(world.consumer_b)
    page = (await bruno.get(f"/spaces/{room.plenary}")).text
    pseudonym = await Pseudonym.select(Pseudonym.name).where(Pseudonym.case == room.case_id,
                                                             Pseudonym.user == world.consumer_a.user.id).first()
    label = f"Participant {pseudonym['name']}"
    assert re.fullmatch(r"Participant \d{3,5}", label)
    assert (author_of(page, 1), author_of(page, 2), author_of(page, 3)) == (
        label, f"Company {company_name}", "Mediator")
    assert "Alice Durand" not in page
    caucus = (await bruno.get(f"/spaces/{room.consumers}")).text
    assert author_of(caucus, 1) == label  # the same pseudonym in every space of the case
    assert author_of((await bruno.get(f"/spaces/{room.plenary}/messages/1")).text, 1) == label
    alice = await browsers.as_(world.consumer_a)
    assert author_of((await alice.get(f"/spaces/{room.plenary}")).text, 1) == "You"
    company = await browsers.as_(world.member)
    page = (await company.get(f"/spaces/{room.plenary}")).text
    assert (author_of(page, 1), author_of(page, 2)) == ("Alice Durand", "You")
    mediator = await browsers.as_(world.mediator)
    page = (await mediator.get(f"/spaces/{room.plenary}")).text
    assert (author_of(page, 1), author_of(page, 2), author_of(page, 3)) == (
        "Alice Durand", f"Camille Martin, company {company_name}", "You")
    # stable: one per consumer and case, whatever the pages viewed since
    assert await Pseudonym.count().where(Pseudonym.case == room.case_id,
                                         Pseudonym.user == world.consumer_a.user.id) == 1
    assert author_of((await bruno.get(f"/spaces/{room.plenary}")).text, 1) == label


async def test_pseudonyms_are_unique_within_a_case(browsers: Browsers) -> None:
    room = await make_room(accepted=False)
    world = room.world
    # somebody already holds the number Bruno would draw first
    taken = str(pseudonym_number(room.case_id, world.consumer_b.user.id, 0))
    await Pseudonym.insert(Pseudonym(case=room.case_id, user=world.consumer_a.user.id, name=taken))
    bruno = await browsers.as_(world.consumer_b)
    assert (await post_form(bruno, f"/cases/{room.case_id}/room/charter", {})).status_code == 200
    names = {row["user"]: row["name"] for row in await Pseudonym.select().where(Pseudonym.case == room.case_id)}
    assert set(names) == {world.consumer_a.user.id, world.consumer_b.user.id}  # given at the charter
    assert names[world.consumer_b.user.id] != taken
    # the company and the mediator are no consumers: no pseudonym
    for account in (world.member, world.mediator):
        await post_form(await browsers.as_(account), f"/cases/{room.case_id}/room/charter", {})
    assert await Pseudonym.count().where(Pseudonym.case == room.case_id) == 2


async def test_a_short_message_weighs_under_a_kilobyte(browsers: Browsers) -> None:
    room = await make_room()
    await seed(room.world.consumer_a, room.plenary, "Bonjour, je suis d'accord avec la proposition de mardi.")
    bruno = await browsers.as_(room.world.consumer_b)
    fragment = await bruno.get(f"/spaces/{room.plenary}/messages/1")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<article id="m-1" class="message')
    assert len(fragment.content) <= 1024, len(fragment.content)


async def test_a_history_page_walks_the_space_seq_index_without_sorting() -> None:
    """The cost of a page does not grow with the history: each window is read from the (space, seq) index in
    order, never by sorting the space's messages."""
    room = await make_room()
    engine = Message._meta.db
    for window in (Window(), Window(before=5_000), Window(after=100)):
        sql = str(history_query(room.plenary, window))
        if engine.engine_type == "sqlite":
            plan = " | ".join(row["detail"] for row in await engine.run_querystring(
                QueryString("EXPLAIN QUERY PLAN " + sql)))
            assert "USING INDEX message_space_seq" in plan and "TEMP B-TREE" not in plan, plan
        else:  # a tiny test table would be scanned whole: ask whether an index-ordered plan exists at all
            async with engine.transaction():
                await engine.run_ddl("SET LOCAL enable_seqscan = off")
                await engine.run_ddl("SET LOCAL enable_bitmapscan = off")
                plan = " | ".join(row["QUERY PLAN"] for row in await engine.run_querystring(
                    QueryString("EXPLAIN " + sql)))
            assert "Index Scan" in plan and "message_space_seq" in plan and "Sort" not in plan, plan
