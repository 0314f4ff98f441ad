"""The small parts of the live room that need no server: where a stream resumes, the bounded mailbox of a slow
reader, reading a wake-up, and announce() outside a running app."""

from __future__ import annotations

import asyncio

import pytest

from app import realtime
from app.routes.stream import RELOAD, Mailbox, resume_point
from app.settings import get_settings


def test_the_browsers_last_event_id_wins_over_the_pages_after() -> None:
    assert resume_point("17", 3) == 17
    assert resume_point(None, 3) == 3
    assert resume_point(None, None) is None
    # A malformed or impossible header is ignored: the page's ?after= is used
    for header in ("", "abc", "-1", "1.5", "٣", str(2**31), "9" * 11):
        assert resume_point(header, 3) == 3, header


async def test_a_reader_that_does_not_keep_up_gets_reload_not_a_growing_backlog() -> None:
    mailbox = Mailbox()
    mailbox.put(b"one", 1)
    assert await mailbox.take() == [b"one"]
    for number in range(Mailbox.LIMIT):
        mailbox.put(b"m%d" % number, 1)
    assert not mailbox.closed and len(mailbox.chunks) == Mailbox.LIMIT
    mailbox.put(b"one too many", 1)
    assert mailbox.closed and await mailbox.take() == [RELOAD]  # everything else dropped


def test_a_wake_up_says_which_seq_was_committed() -> None:
    assert realtime._seq_of(b'{"space": 4, "seq": 12}') == 12
    for other in (realtime.RESYNC, b"", None, b"not json", b'{"space": 4}', b'[1, 2]', b'{"seq": "12"}'):
        assert realtime._seq_of(other) is None, other


def test_announce_does_nothing_when_no_app_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "_active", None)
    realtime.announce(1, 1)  # neither raises nor blocks


async def test_announce_from_another_thread_wakes_the_space_up() -> None:
    # Given the app's Channels plugin running (memory, or Redis when REDIS_URL is set) and a space listened to
    plugin = realtime.make_channels_plugin(get_settings())
    async with plugin:
        subscriber = await plugin.subscribe(realtime.channel_for(987_654))
        try:
            # When a worker thread announces a message of that space (after its commit)
            await asyncio.to_thread(realtime.announce, 987_654, 42)
            # Then the space's listener wakes up, knowing seq 42 is committed
            assert await subscriber.wait(5)  # type: ignore[attr-defined]
            assert subscriber.latest_seq == 42  # type: ignore[attr-defined]
        finally:
            await plugin.unsubscribe(subscriber)
    assert realtime._active is None or realtime._active[0] is not plugin
