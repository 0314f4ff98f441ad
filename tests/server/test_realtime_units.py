"""The small parts of the live room that need no server: where a stream resumes, the bounded mailbox of a slow
reader, reading a wake-up or a change, when a stream ends by itself, announce() outside a running app, and a stream
route declared without deprecated styles."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import warnings

import pytest

from app.live import RELOAD, SESSION_GRACE_S, Mailbox, encode_change, resume_point, stream_deadline
from app.platform import realtime
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


def test_a_change_says_which_message_changed() -> None:
    assert realtime._changed_of(b'{"space": 4, "changed": 3}') == 3
    assert realtime._seq_of(b'{"space": 4, "changed": 3}') is None  # a change is no new message
    for other in (realtime.RESYNC, b"", None, b"not json", b'{"space": 4, "seq": 3}', b'{"changed": "3"}',
                  b'{"changed": true}', b"[3]"):
        assert realtime._changed_of(other) is None, other


def test_changes_are_kept_when_wake_ups_coalesce_or_overflow() -> None:
    # Given a space listener whose backlog holds 2 wake-ups
    subscriber = realtime.WakeupSubscriber(realtime.make_channels_plugin(get_settings()), max_backlog=2)
    # When more wake-ups than that come, and changes after them (their payloads dropped from the full backlog)
    for seq in (1, 2, 3):
        subscriber.put_nowait(b'{"space": 4, "seq": %d}' % seq)
    subscriber.put_nowait(b'{"space": 4, "changed": 2}')
    subscriber.put_nowait(b'{"space": 4, "changed": 1}')
    # Then the listener still knows the latest seq and both changes, and that no resync is needed
    assert subscriber.latest_seq == 3 and subscriber.changed == {1, 2} and not subscriber.resync
    subscriber.put_nowait(realtime.RESYNC)
    assert subscriber.resync


def test_a_change_event_has_no_id_so_the_resume_point_stays() -> None:
    event = encode_change('<article id="m-3" class="message hidden">\n<p>x</p></article>')
    assert event == (b'event: changed\r\ndata: <article id="m-3" class="message hidden">\r\ndata: <p>x</p></article>'
                     b"\r\n\r\n")
    assert b"id:" not in event.replace(b'article id="m-3"', b"")


def test_a_stream_ends_when_its_session_would_time_out() -> None:
    settings = dataclasses.replace(get_settings(), session_idle_minutes=60, session_max_hours=12)
    now = int(time.time())
    # Just seen (the stream's own request): the idle limit, plus the grace
    ends = stream_deadline({"seen_at": now, "auth_at": now - 3600}, settings) - time.monotonic()
    assert 3600 + SESSION_GRACE_S - 2 <= ends <= 3600 + SESSION_GRACE_S + 1
    # Near the absolute limit: that limit first
    ends = stream_deadline({"seen_at": now, "auth_at": now - 12 * 3600 + 600}, settings) - time.monotonic()
    assert 600 + SESSION_GRACE_S - 2 <= ends <= 600 + SESSION_GRACE_S + 1
    # Already past (or an odd session): at once, after the grace
    ends = stream_deadline({"seen_at": now - 7200, "auth_at": now - 7200}, settings) - time.monotonic()
    assert ends <= SESSION_GRACE_S + 1
    assert stream_deadline({}, settings) - time.monotonic() <= 3600 + SESSION_GRACE_S + 1


def test_announce_does_nothing_when_no_app_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "_active", None)
    realtime.announce(1, 1)  # neither raises nor blocks
    realtime.announce_change(1, 1)


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
            # And a change announced the same way says which message changed
            await asyncio.to_thread(realtime.announce_change, 987_654, 7)
            assert await subscriber.wait(5)  # type: ignore[attr-defined]
            assert subscriber.changed == {7} and subscriber.latest_seq == 42  # type: ignore[attr-defined]
        finally:
            await plugin.unsubscribe(subscriber)
    assert realtime._active is None or realtime._active[0] is not plugin


def test_the_stream_route_is_declared_without_deprecated_styles() -> None:
    from app.asgi import create_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app()
    about_streams = [str(warning.message) for warning in caught if issubclass(warning.category, DeprecationWarning)
                     and ("space_stream" in str(warning.message) or "'after'" in str(warning.message))]
    assert about_streams == []
