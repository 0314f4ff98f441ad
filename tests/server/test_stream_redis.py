"""Live delivery through Redis: two app processes deliver each other's messages (and hidden messages) live, and
nothing is lost or duplicated across a restart of Redis (a redis-server of the test's own, never the shared one)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.actions.room import do_hide_message, do_post_message
from tests.factories import Account
from tests.server.conftest import LiveRoom
from tests.server.harness import RedisProcess, SSEClient, post_message

pytestmark = pytest.mark.server


async def seed(account: Account, space_id: int, body: str) -> int:
    result = await do_post_message(account.user, space_id, body)
    assert not result.errors and result.seq is not None
    return result.seq


def on(client: httpx.AsyncClient, base_url: str) -> httpx.AsyncClient:
    """The same browser (its cookies: the session lives in Redis) talking to another app process."""
    return httpx.AsyncClient(base_url=base_url, cookies=client.cookies, timeout=15)


async def test_two_app_processes_deliver_each_others_messages_live(
        live_room: LiveRoom, start_app, clients, shared_or_own_redis_url: str) -> None:
    # Given two app processes sharing the database and Redis, consumer A reading through the second one and
    # consumer B through the first one
    # (heartbeats every 60 s: only a Redis wake-up can bring a message within the test's wait)
    first = await start_app(REDIS_URL=shared_or_own_redis_url, CLF_TEST_HEARTBEAT_S="60")
    second = await start_app(REDIS_URL=shared_or_own_redis_url, CLF_TEST_HEARTBEAT_S="60")
    a_first = await clients(first, live_room.world.consumer_a)
    b_first = await clients(first, live_room.world.consumer_b)
    async with on(a_first, second.base_url) as a_second, on(b_first, second.base_url) as b_second:
        a_reads = SSEClient(a_second, f"/spaces/{live_room.plenary}/stream?after=0")
        b_reads = SSEClient(b_first, f"/spaces/{live_room.plenary}/stream?after=0")
        assert await a_reads.open() == 200 and await b_reads.open() == 200
        # When A posts through the first process and B through the second
        from_a = await post_message(a_first, live_room.plenary, "Message de A via le premier processus")
        from_b = await post_message(b_second, live_room.plenary, "Message de B via le second processus")
        # Then both readers receive both messages live, in order, whichever process they are connected to
        for stream in (a_reads, b_reads):
            events = await stream.take(2)
            assert [int(event.id) for event in events] == [from_a, from_b]
            assert "via le premier processus" in events[0].data and "via le second processus" in events[1].data
        await a_reads.close()
        await b_reads.close()


async def test_nothing_is_lost_or_duplicated_across_a_redis_restart(
        live_room: LiveRoom, start_app, clients, own_redis: RedisProcess) -> None:
    # Given an app process on our own Redis (heartbeats every 60 s: they cannot be what catches up here);
    # reader A stays connected, reader B drops after one message
    app = await start_app(REDIS_URL=own_redis.url, CLF_TEST_HEARTBEAT_S="60")
    poster = await clients(app, live_room.world.mediator)
    stays = SSEClient(await clients(app, live_room.world.consumer_a), f"/spaces/{live_room.plenary}/stream?after=0")
    b_client = await clients(app, live_room.world.consumer_b)
    drops = SSEClient(b_client, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stays.open() == 200 and await drops.open() == 200
    first = await post_message(poster, live_room.plenary, "Avant")
    assert int((await stays.next()).id) == first
    seen = await drops.next()
    assert int(seen.id) == first
    await drops.close()
    # When Redis stops (its pub/sub subscriptions die with it), 10 messages are written meanwhile, Redis starts
    # again (with its saved keys: the sessions) and 10 more are posted, announced through it
    await asyncio.to_thread(own_redis.stop)
    during = [await seed(live_room.world.mediator, live_room.plenary, f"Redis arrêté {n}") for n in range(10)]
    await asyncio.to_thread(own_redis.start)
    # Then the reader who stayed receives the 10 written meanwhile once the app is subscribed again
    assert [int(event.id) for event in await stays.take(10, within=30)] == during
    after = [await post_message(poster, live_room.plenary, f"Redis revenu {n}") for n in range(10)]
    # And the 10 posted after the restart live
    assert [int(event.id) for event in await stays.take(10)] == after
    # And the reader who dropped gets exactly those 20 when it reconnects with Last-Event-ID
    again = SSEClient(b_client, f"/spaces/{live_room.plenary}/stream?after=0", last_event_id=seen.id)
    assert await again.open() == 200
    assert [int(event.id) for event in await again.take(20)] == during + after
    # And nothing else came before the next message (no duplicate), which both receive live
    last = await post_message(poster, live_room.plenary, "Tout est revenu")
    assert [int((await stays.next()).id), int((await again.next()).id)] == [last, last]
    assert again.pending() == [] and stays.pending() == []
    await stays.close()
    await again.close()


async def test_a_hidden_message_changes_on_another_process_and_across_a_redis_restart(
        live_room: LiveRoom, start_app, clients, own_redis: RedisProcess) -> None:
    # Given two app processes on our own Redis (heartbeats every 60 s); consumer A reads through the second one,
    # the mediator moderates through the first; A has received two messages
    first = await start_app(REDIS_URL=own_redis.url, CLF_TEST_HEARTBEAT_S="60")
    second = await start_app(REDIS_URL=own_redis.url, CLF_TEST_HEARTBEAT_S="60")
    mediator = await clients(first, live_room.world.mediator)
    reads = SSEClient(await clients(second, live_room.world.consumer_a), f"/spaces/{live_room.plenary}/stream?after=0")
    assert await reads.open() == 200
    seqs = [await seed(live_room.world.member, live_room.plenary, f"À masquer {n}") for n in range(2)]
    await post_message(mediator, live_room.plenary, "Un mot du médiateur")  # wakes the second process up
    assert [int(event.id) for event in await reads.take(3)] == [*seqs, seqs[-1] + 1]
    # When the mediator hides the first through the first process
    response = await mediator.post(f"/spaces/{live_room.plenary}/messages/{seqs[0]}/hide", data={
        "reason": "Hors sujet", "_csrf_token": mediator.cookies["csrftoken"]})
    assert response.status_code == 303
    # Then A's stream on the second process sends it again, hidden, without an id
    event = await reads.next()
    assert (event.event, event.id) == ("changed", None) and event.data.startswith(f'<article id="m-{seqs[0]}" ')
    assert "Message hidden by the mediator: Hors sujet" in event.data and "À masquer 0" not in event.data
    # And when the second is hidden while Redis is down (no wake-up can come), then Redis comes back
    await asyncio.to_thread(own_redis.stop)
    assert not await do_hide_message(live_room.world.mediator.user, live_room.plenary, seqs[1], "Doublon")
    await asyncio.to_thread(own_redis.start)
    # Then once the second process is subscribed again, the database tells its stream what was hidden meanwhile
    changed: dict[str, str] = {}
    while f"m-{seqs[1]}" not in changed:
        event = await reads.next(within=30)
        assert (event.event, event.id) == ("changed", None)
        changed[event.data.split('"', 2)[1]] = event.data  # (the first may come again: it was hidden just before)
    assert "Message hidden by the mediator: Doublon" in changed[f"m-{seqs[1]}"]
    assert "À masquer 1" not in changed[f"m-{seqs[1]}"]
    await reads.close()
