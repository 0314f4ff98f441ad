"""The live stream of a space against a real uvicorn process: live delivery, heartbeats, replay on reconnect
(Last-Event-ID), what each side receives, the access rules, and the "reload" cases."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app import i18n
from app.actions.claims import do_withdraw_claim
from app.actions.room import (
    do_hide_message,
    do_open_direct,
    do_post_message,
    message_at,
    messages_after,
    space_for_member,
)
from app.platform.templating import environment
from app.tables import Role, User
from tests.factories import Account, make_account, make_claim
from tests.server.conftest import LiveRoom
from tests.server.harness import SSEClient, post_message

pytestmark = pytest.mark.server


async def seed(account: Account, space_id: int, body: str) -> int:
    """A message written by this test process straight through the action (no app process needed)."""
    result = await do_post_message(account.user, space_id, body)
    assert not result.errors and result.seq is not None
    return result.seq


async def test_a_stream_delivers_new_messages_live(live_room: LiveRoom, start_app, clients) -> None:
    # Given consumer A reading the plenary (heartbeats every 60 s: only the wake-up can bring the messages)
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    reader = await clients(app, live_room.world.consumer_a)
    writer = await clients(app, live_room.world.consumer_b)
    stream = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stream.open() == 200
    # When consumer B posts three messages
    seqs = [await post_message(writer, live_room.plenary, f"Bonjour n°{n}") for n in range(3)]
    # Then A receives each at once, in order, as `message` events whose id is the seq
    events = await stream.take(3)
    assert [event.event for event in events] == ["message"] * 3
    assert [int(event.id) for event in events] == seqs
    assert [f"Bonjour n°{n}" in event.data for n, event in enumerate(events)] == [True] * 3
    assert all(event.data.startswith(f'<article id="m-{seq}"') for seq, event in zip(seqs, events, strict=True))
    assert stream.pending() == []
    await stream.close()


async def test_heartbeats_keep_an_idle_stream_open_and_catch_up_a_lost_wake_up(
        live_room: LiveRoom, start_app, clients) -> None:
    # Given a reader on an app whose heartbeat comes every second
    app = await start_app(CLF_TEST_HEARTBEAT_S="1")
    stream = SSEClient(await clients(app, live_room.world.consumer_a), f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stream.open() == 200
    # Then heartbeat comments come while nothing happens, and nothing else
    await stream.quiet_for(heartbeats=2)
    assert stream.comments.count("ping") >= 2
    assert stream.pending() == []
    # When a message is committed without any wake-up reaching the app (another process, no shared pub/sub)
    seq = await seed(live_room.world.mediator, live_room.plenary, "Sans réveil")
    # Then a heartbeat's look at the space's counter still brings it
    event = await stream.next(within=20)
    assert int(event.id) == seq and "Sans réveil" in event.data
    await stream.close()


async def test_a_reconnecting_client_gets_exactly_what_it_missed(live_room: LiveRoom, start_app, clients) -> None:
    # Given a reader who has received one message, then drops
    app = await start_app()
    reader = await clients(app, live_room.world.consumer_a)
    writer = await clients(app, live_room.world.member)
    stream = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stream.open() == 200
    first = await post_message(writer, live_room.plenary, "Avant la coupure")
    seen = await stream.next()
    assert int(seen.id) == first
    await stream.close()
    # When 20 messages are posted meanwhile
    missed = [await post_message(writer, live_room.plenary, f"Pendant la coupure {n}") for n in range(20)]
    # Then reconnecting with Last-Event-ID (the page's ?after= is older: the header wins) gives exactly those 20
    again = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0", last_event_id=seen.id)
    assert await again.open() == 200
    events = await again.take(20)
    assert [int(event.id) for event in events] == missed
    assert [f"Pendant la coupure {n}<" in event.data for n, event in enumerate(events)] == [True] * 20
    await again.quiet_for(heartbeats=2)
    assert again.pending() == []  # no duplicate, nothing else
    # And it goes on live from there
    later = await post_message(writer, live_room.plenary, "Après")
    assert int((await again.next()).id) == later
    await again.close()


async def test_replay_survives_a_restart_of_the_app_process(live_room: LiveRoom, start_app, clients) -> None:
    # Given a reader connected to an app process that then crashes (SIGKILL)
    app = await start_app()
    reader = await clients(app, live_room.world.consumer_b)
    writer = await clients(app, live_room.world.mediator)
    stream = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stream.open() == 200
    first = await post_message(writer, live_room.plenary, "Avant le redémarrage")
    seen = await stream.next()
    assert int(seen.id) == first
    app.kill()
    await asyncio.wait_for(stream.ended.wait(), 10)
    # When 20 messages are posted while it is down (another process writes to the same database)
    missed = [await seed(live_room.world.mediator, live_room.plenary, f"Pendant l'arrêt {n}") for n in range(20)]
    # And the app starts again on the same port and database
    await app.start()
    # Then the reader's reconnect (Last-Event-ID) gets exactly those 20, in order, once
    again = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0", last_event_id=seen.id)
    assert await again.open() == 200
    events = await again.take(20)
    assert [int(event.id) for event in events] == missed
    await again.quiet_for(heartbeats=2)
    assert again.pending() == []
    # And live delivery works again on the new process
    later = await post_message(writer, live_room.plenary, "Après le redémarrage")
    assert int((await again.next()).id) == later
    await again.close()


async def test_each_side_receives_the_fragment_the_room_renders_for_it(live_room: LiveRoom, start_app, clients) -> None:
    # Given the four parties reading the plenary (one stream each: streams share renderings per perspective)
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    world = live_room.world
    readers = {account.user.id: account for account in (world.consumer_a, world.consumer_b, world.member,
                                                           world.mediator)}
    streams = {}
    for user_id, account in readers.items():
        streams[user_id] = SSEClient(await clients(app, account), f"/spaces/{live_room.plenary}/stream?after=0")
        assert await streams[user_id].open() == 200
    # When a consumer, the company and the mediator post, one line break included
    posters = [world.consumer_a, world.member, world.mediator]
    clients_of = {account.user.id: await clients(app, account) for account in posters}
    seqs = [await post_message(clients_of[account.user.id], live_room.plenary, f"De {account.user.display_name}\n"
                               "https://example.org/preuve <b>pas du HTML</b>") for account in posters]
    # Then each reader receives exactly what the room renders for them (their own message as "You", consumers
    # under pseudonyms for the other consumers, real names for the mediator), with multi-line data intact
    i18n.activate("en")
    template = environment.get_template("room/_message.html")
    for user_id, stream in streams.items():
        events = await stream.take(3)
        assert [int(event.id) for event in events] == seqs
        viewer = readers[user_id].user
        space = await space_for_member(viewer, live_room.plenary)
        expected = [template.render(message=view, viewer=viewer)
                    for view in await messages_after(space, viewer, seqs[0] - 1, 10)]
        assert [event.data for event in events] == expected
        assert "&lt;b&gt;pas du HTML&lt;/b&gt;" in events[0].data and "<b>" not in events[0].data
    a_sees = streams[world.consumer_a.user.id]
    b_sees = streams[world.consumer_b.user.id]
    assert a_sees.pending() == [] and b_sees.pending() == []
    for stream in streams.values():
        await stream.close()


async def test_a_hidden_message_is_replayed_hidden(live_room: LiveRoom, start_app, clients) -> None:
    # Given a message the mediator has hidden, after a first reader received it live
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    world = live_room.world
    first_reader = SSEClient(await clients(app, world.consumer_a), f"/spaces/{live_room.plenary}/stream?after=0")
    assert await first_reader.open() == 200
    seq = await post_message(await clients(app, world.member), live_room.plenary, "Un secret à masquer")
    assert "Un secret à masquer" in (await first_reader.next()).data
    errors = await do_hide_message(world.mediator.user, live_room.plenary, seq, "Hors sujet")
    assert not errors
    # When another consumer replays the space
    replay = SSEClient(await clients(app, world.consumer_b), f"/spaces/{live_room.plenary}/stream?after=0")
    assert await replay.open() == 200
    # Then they receive it hidden: the reason, not the text
    data = (await replay.next()).data
    assert "Un secret à masquer" not in data and "Hors sujet" in data
    await first_reader.close()
    await replay.close()


async def test_who_may_open_which_stream(live_room: LiveRoom, start_app, clients) -> None:
    app = await start_app()
    world = live_room.world
    newcomer = await make_account(Role.consumer, name="Nina Nouvelle")
    await make_claim(world.case, newcomer, status="admitted")  # a member who has not accepted the charter yet
    direct_a = await do_open_direct(world.consumer_a.user, world.case.id, None)
    expected = [  # reader, {space: status of its stream}
        (world.consumer_a, {live_room.plenary: 200, live_room.consumers: 200, live_room.company: 404, direct_a: 200}),
        (world.consumer_b, {live_room.plenary: 200, live_room.consumers: 200, live_room.company: 404, direct_a: 404}),
        (world.member, {live_room.plenary: 200, live_room.consumers: 404, live_room.company: 200, direct_a: 404}),
        (world.mediator, {live_room.plenary: 200, live_room.consumers: 200, live_room.company: 200, direct_a: 200}),
        (world.staff, {live_room.plenary: 404, live_room.consumers: 404, live_room.company: 404, direct_a: 404}),
        (newcomer, {live_room.plenary: 403, live_room.consumers: 403, live_room.company: 404, direct_a: 404}),
    ]
    found = []
    for account, spaces in expected:
        client = await clients(app, account)
        statuses = {}
        for space_id in spaces:
            stream = SSEClient(client, f"/spaces/{space_id}/stream")
            statuses[space_id] = await stream.open()
            await stream.close()
        found.append((account, statuses))
    assert found == expected
    # Ids that do not exist, or cannot, and malformed resume points
    client = await clients(app, world.mediator)
    assert (await client.get("/spaces/999999/stream")).status_code == 404
    assert (await client.get(f"/spaces/{2**31}/stream")).status_code == 400
    assert (await client.get(f"/spaces/{live_room.plenary}/stream?after=-1")).status_code == 400
    assert (await client.get(f"/spaces/{live_room.plenary}/stream?after=abc")).status_code == 400
    # A visitor is sent to the login page, not served a stream
    async with httpx.AsyncClient(base_url=app.base_url) as visitor:
        response = await visitor.get(f"/spaces/{live_room.plenary}/stream")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_a_client_too_far_behind_is_told_to_reload(live_room: LiveRoom, start_app, clients) -> None:
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    client = await clients(app, live_room.world.consumer_b)
    # Given exactly REPLAY_LIMIT messages to catch up on: they are all replayed
    seqs = [await seed(live_room.world.consumer_a, live_room.consumers, f"n°{n}") for n in range(200)]
    stream = SSEClient(client, f"/spaces/{live_room.consumers}/stream?after=0")
    assert await stream.open() == 200
    assert [int(event.id) for event in await stream.take(200)] == seqs
    await stream.close()
    # When one more than that is missed
    more = [await seed(live_room.world.consumer_a, live_room.consumers, f"encore {n}") for n in range(201)]
    behind = SSEClient(client, f"/spaces/{live_room.consumers}/stream", last_event_id=str(seqs[-1]))
    assert await behind.open() == 200
    # Then the stream says "reload" and ends (the page then shows the latest messages)
    event = await behind.next()
    assert event.event == "reload" and more
    await asyncio.wait_for(behind.ended.wait(), 10)
    assert behind.pending() == []
    # And an id the space never had (a restored database) gets "reload" too
    future = SSEClient(client, f"/spaces/{live_room.consumers}/stream", last_event_id=str(more[-1] + 50))
    assert await future.open() == 200
    assert (await future.next()).event == "reload"
    await future.close()


async def test_a_stream_ends_when_its_reader_is_no_longer_a_member(live_room: LiveRoom, start_app, clients) -> None:
    # Given consumer A reading the consumers' caucus (membership checked again every 2 s here)
    app = await start_app(CLF_TEST_HEARTBEAT_S="1", CLF_TEST_MEMBERSHIP_S="2")
    client = await clients(app, live_room.world.consumer_a)
    stream = SSEClient(client, f"/spaces/{live_room.consumers}/stream")
    assert await stream.open() == 200
    # When A withdraws their claim (from another tab)
    await do_withdraw_claim(live_room.world.consumer_a.user, live_room.world.claim_a.id)
    # Then the stream says "reload" and ends; opening it again is refused
    event = await stream.next(within=15)
    assert event.event == "reload"
    await asyncio.wait_for(stream.ended.wait(), 10)
    assert await SSEClient(client, f"/spaces/{live_room.consumers}/stream").open() == 404


async def test_a_stream_ends_when_its_reader_logs_out_everywhere(live_room: LiveRoom, start_app, clients) -> None:
    # Given consumer B reading the plenary
    app = await start_app(CLF_TEST_HEARTBEAT_S="1", CLF_TEST_MEMBERSHIP_S="2")
    client = await clients(app, live_room.world.consumer_b)
    stream = SSEClient(client, f"/spaces/{live_room.plenary}/stream")
    assert await stream.open() == 200
    # When their sessions end (a password change elsewhere bumps the session version)
    await User.update({User.session_version: User.session_version + 1}).where(
        User.id == live_room.world.consumer_b.user.id)
    # Then the stream says "reload" and ends
    assert (await stream.next(within=15)).event == "reload"
    await asyncio.wait_for(stream.ended.wait(), 10)


async def test_the_server_stops_promptly_with_streams_open(live_room: LiveRoom, start_app, clients) -> None:
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    streams = []
    for account in (live_room.world.consumer_a, live_room.world.consumer_b, live_room.world.mediator):
        stream = SSEClient(await clients(app, account), f"/spaces/{live_room.plenary}/stream")
        assert await stream.open() == 200
        streams.append(stream)
    # SIGTERM: uvicorn's graceful shutdown gives the open streams 5 s, then the process exits (else killed at 10 s)
    took = await app.terminate(within=10)
    print(f"stopped in {took:.2f} s with {len(streams)} streams open")
    for stream in streams:
        await asyncio.wait_for(stream.ended.wait(), 5)


async def hide(client: httpx.AsyncClient, space_id: int, seq: int, reason: str) -> None:
    """The mediator hides a message through the app (its form, no JS), so the app process announces the change."""
    response = await client.post(f"/spaces/{space_id}/messages/{seq}/hide", data={
        "reason": reason, "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 303, response.text


async def fragment_for(account: Account, space_id: int, seq: int, language: str = "en") -> str:
    """The message as the room renders it for this reader now (what a reload would show)."""
    with i18n.language_of(language):
        space = await space_for_member(account.user, space_id)
        view = await message_at(space, account.user, seq)
        return environment.get_template("room/_message.html").render(message=view, viewer=account.user)


async def test_a_hidden_message_changes_in_place_on_every_open_stream(live_room: LiveRoom, start_app,
                                                                      clients) -> None:
    # Given the four parties reading the plenary, and a message of consumer A that they all received live
    app = await start_app(CLF_TEST_HEARTBEAT_S="1")
    world = live_room.world
    readers = (world.consumer_a, world.consumer_b, world.member, world.mediator)
    clients_of = {account.user.id: await clients(app, account) for account in readers}
    streams = {account.user.id: SSEClient(clients_of[account.user.id], f"/spaces/{live_room.plenary}/stream?after=0")
               for account in readers}
    for stream in streams.values():
        assert await stream.open() == 200
    seq = await post_message(clients_of[world.consumer_a.user.id], live_room.plenary, "Un secret à masquer")
    for stream in streams.values():
        assert int((await stream.next()).id) == seq
    # When the mediator hides it
    await hide(clients_of[world.mediator.user.id], live_room.plenary, seq, "Hors sujet")
    # Then every stream sends it again as a `changed` event without an id (the resume point does not move), with
    # exactly what a reload would show that reader: the reason, not the text, for the participants (the author
    # included); the text and the reason for the mediator
    for account in readers:
        event = await streams[account.user.id].next()
        assert (event.event, event.id) == ("changed", None)
        assert event.data == await fragment_for(account, live_room.plenary, seq)
        assert event.data.startswith(f'<article id="m-{seq}" ') and "Hors sujet" in event.data
        if account is world.mediator:
            assert "Hidden from the participants: Hors sujet" in event.data and "Un secret à masquer" in event.data
        else:
            assert "Message hidden by the mediator: Hors sujet" in event.data
            assert "Un secret à masquer" not in event.data
    # And the next message still carries the next seq as its id, once
    later = await post_message(clients_of[world.member.user.id], live_room.plenary, "La suite")
    assert later == seq + 1
    for stream in streams.values():
        event = await stream.next()
        assert (event.event, int(event.id)) == ("message", later)
    # And a browser that reconnects from the id it last had (the message before the change) gets nothing again
    reader = streams[world.consumer_b.user.id]
    await reader.close()
    again = SSEClient(clients_of[world.consumer_b.user.id], f"/spaces/{live_room.plenary}/stream?after=0",
                      last_event_id=str(later))
    assert await again.open() == 200
    await again.quiet_for(heartbeats=2)
    assert again.pending() == []
    # And hiding it again (a double submit) changes nothing and sends nothing
    response = await clients_of[world.mediator.user.id].post(
        f"/spaces/{live_room.plenary}/messages/{seq}/hide",
        data={"reason": "Encore", "_csrf_token": clients_of[world.mediator.user.id].cookies["csrftoken"]})
    assert response.status_code == 303
    await again.quiet_for(heartbeats=2)
    assert again.pending() == [] and streams[world.consumer_a.user.id].pending() == []
    for stream in (*streams.values(), again):
        await stream.close()


async def test_each_stream_speaks_its_readers_language(live_room: LiveRoom, start_app, clients) -> None:
    # Given consumer A reading in French (first on the space: the space's hub starts in their request) and
    # consumer B in English
    app = await start_app(CLF_TEST_HEARTBEAT_S="60")
    world = live_room.world
    french, english = await clients(app, world.consumer_a), await clients(app, world.consumer_b)
    french.cookies.set("lang", "fr")
    a_reads = SSEClient(french, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await a_reads.open() == 200
    b_reads = SSEClient(english, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await b_reads.open() == 200
    # When the mediator writes, and the company writes
    mediator = await clients(app, world.mediator)
    said = await post_message(mediator, live_room.plenary, "Bonjour à tous")
    hidden = await post_message(await clients(app, world.member), live_room.plenary, "À masquer")
    readers = ((world.consumer_a, a_reads, "fr"), (world.consumer_b, b_reads, "en"))
    received: dict[str, list[str]] = {}
    # Then each receives the messages in their own language
    for account, stream, language in readers:
        events = await stream.take(2)
        assert [(event.event, event.id) for event in events] == [("message", str(said)), ("message", str(hidden))]
        assert [event.data for event in events] == [await fragment_for(account, live_room.plenary, seq, language)
                                                    for seq in (said, hidden)]
        received[language] = [event.data for event in events]
    # And when the mediator hides the company's message, the change too
    await hide(mediator, live_room.plenary, hidden, "Hors sujet")
    for account, stream, language in readers:
        event = await stream.next()
        assert (event.event, event.id) == ("changed", None)
        assert event.data == await fragment_for(account, live_room.plenary, hidden, language)
        received[language].append(event.data)
    assert "<strong>Médiateur</strong>" in received["fr"][0] and "Message masqué par le médiateur" in received["fr"][2]
    assert "<strong>Mediator</strong>" in received["en"][0] and "Message hidden by the mediator" in received["en"][2]
    await a_reads.close()
    await b_reads.close()


async def test_a_stream_is_no_activity_for_the_session_idle_limit(live_room: LiveRoom, start_app, clients) -> None:
    # Given sessions that time out after 4 s idle; consumer A only keeps the plenary open, consumer B keeps using
    # the room (the read marks app.js sends are requests like any other)
    app = await start_app(CLF_TEST_HEARTBEAT_S="1", CLF_TEST_SESSION_IDLE_S="4")
    world = live_room.world
    idle, active = await clients(app, world.consumer_a), await clients(app, world.consumer_b)
    idle_reads = SSEClient(idle, f"/spaces/{live_room.plenary}/stream?after=0")
    active_reads = SSEClient(active, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await idle_reads.open() == 200 and await active_reads.open() == 200
    # When both streams are left open past the idle limit while B marks what they read every second
    deadline = asyncio.get_running_loop().time() + 30
    while not (idle_reads.ended.is_set() and active_reads.ended.is_set()):
        assert asyncio.get_running_loop().time() < deadline, "the streams did not end"
        response = await active.post(f"/spaces/{live_room.plenary}/read", data={"seq": "1"},
                                     headers={"x-csrftoken": active.cookies["csrftoken"]})
        assert response.status_code == 204, response.text
        await asyncio.sleep(1)
    # Then both streams ended by themselves (no "reload": the browser just reconnects with Last-Event-ID)
    assert idle_reads.pending() == [] and active_reads.pending() == []
    # And A's reconnect finds the session timed out (sent to the login page), while B's goes on live
    assert await SSEClient(idle, f"/spaces/{live_room.plenary}/stream", last_event_id="0").open() == 303
    again = SSEClient(active, f"/spaces/{live_room.plenary}/stream", last_event_id="0")
    assert await again.open() == 200
    seq = await post_message(active, live_room.plenary, "Toujours là")
    assert int((await again.next()).id) == seq
    await again.close()
