"""The hub of a space and its streams: per process and space, one subscription to its channel and one pump that
feeds every open stream's mailbox; a stream replays from the database, then takes what its hub hands it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.channels import ChannelsPlugin

from app import i18n
from app.actions import accounts, room
from app.actions.errors import NotFound
from app.live.fanout import fanout
from app.live.mailbox import Mailbox
from app.live.wire import OPENING, PING, RELOAD, REPLAY_LIMIT, encode_change
from app.platform import realtime
from app.platform.metrics import SSE_STREAMS_OPEN
from app.platform.templating import environment
from app.tables import Message, Space, User

logger = logging.getLogger("clf.stream")

HEARTBEAT_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream, and lets the server notice a gone client."""
MEMBERSHIP_CHECK_S = 60.0
"""How often the open streams of a space check again that their readers may still read it (and are still logged in
as they were); checked at a heartbeat, so at most HEARTBEAT_S later."""

CLOCK_SLACK = timedelta(minutes=1)
"""After a Redis reconnect, messages hidden this long before the hub last looked are sent again too (hidden_at
comes from the clock of whichever process hid it)."""


class Hub:
    """The live streams of one space in this process: one subscription, one pump."""

    def __init__(self, hubs: dict[int, Hub], channels: ChannelsPlugin, space_id: int) -> None:
        self.hubs = hubs
        self.channels = channels
        self.space_id = space_id
        self.streams: set[LiveStream] = set()
        self.latest = 0  # the highest seq known to be committed
        self.next_check = time.monotonic() + MEMBERSHIP_CHECK_S
        self.changes_since = datetime.now(UTC)  # where a look at what was hidden without a wake-up starts
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.subscriber: realtime.WakeupSubscriber | None = None
        self.pump: asyncio.Task[None] = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            self.subscriber = await self.channels.subscribe(realtime.channel_for(self.space_id))  # type: ignore[assignment]
        except Exception as error:
            logger.exception("could not subscribe to space %s", self.space_id)
            self.ready.set_exception(error)
            return
        self.ready.set_result(None)
        subscriber = self.subscriber
        assert subscriber is not None
        try:
            while self.streams:
                woken = await subscriber.wait(HEARTBEAT_S)
                if subscriber.closed:  # the server is stopping: every stream ends, browsers come back later
                    for stream in list(self.streams):
                        stream.mailbox.close()
                    return
                resync = subscriber.resync
                if not woken or resync:
                    # A heartbeat (or a reconnected Redis): a wake-up may have been lost; the counter says.
                    subscriber.resync = False
                    for stream in self.streams:
                        stream.mailbox.put(PING)
                    row = await Space.select(Space.last_seq).where(Space.id == self.space_id).first()
                    if row is None:  # the space is gone
                        for stream in list(self.streams):
                            stream.mailbox.put(RELOAD)
                            stream.mailbox.close()
                        return
                    self.latest = max(self.latest, int(row["last_seq"]))
                self.latest = max(self.latest, subscriber.latest_seq)
                await self._deliver(subscriber.woken_at if woken else time.monotonic())
                if subscriber.changed or resync:
                    await self._send_changes(subscriber, resync=resync)
                self._end_expired()
                if time.monotonic() >= self.next_check:
                    self.next_check = time.monotonic() + MEMBERSHIP_CHECK_S
                    await self._check_members()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the live hub of space %s failed; its streams end (browsers reconnect)", self.space_id)
            for stream in list(self.streams):
                stream.mailbox.close()
        finally:
            if self.hubs.get(self.space_id) is self:
                del self.hubs[self.space_id]
            with contextlib.suppress(Exception):
                await self.channels.unsubscribe(subscriber)

    async def _deliver(self, fresh_since: float) -> None:
        """Hand every live stream what came after its last sent message."""
        while True:
            behind = [stream for stream in self.streams if stream.live and stream.last_sent < self.latest]
            if not behind:
                return
            base = min(stream.last_sent for stream in behind)
            rows = await fanout.rows_after(self.space_id, base, fresh_since)
            if not rows:
                return
            truncated = len(rows) > REPLAY_LIMIT
            groups: dict[tuple[Any, ...], list[LiveStream]] = {}
            for stream in behind:
                pending = [row for row in rows if row.seq > stream.last_sent]
                if truncated and len(pending) > REPLAY_LIMIT:
                    stream.mailbox.put(RELOAD)
                    stream.mailbox.close()
                    stream.live = False
                    continue
                mine = tuple(row.seq for row in pending if row.author == stream.user.id)
                groups.setdefault((stream.perspective, mine, stream.last_sent), []).append(stream)
            for members in groups.values():
                first = members[0]
                pending = [row for row in rows if row.seq > first.last_sent][:REPLAY_LIMIT]
                if not pending:
                    continue
                events = await fanout.events(first, pending, fresh_since)
                if not events:
                    continue
                chunk = b"".join(event for _, event in events)
                last = events[-1][0]
                for stream in members:
                    if stream.live and stream.last_sent < last:
                        stream.mailbox.put(chunk, len(events))
                        stream.last_sent = last
            fresh_since = time.monotonic()  # a next round (more came meanwhile) reads again
            if not truncated and rows[-1].seq >= self.latest:
                return
            if not any(stream.last_sent > base for stream in behind):  # nothing moved: wait for the next wake-up
                return

    async def _send_changes(self, subscriber: realtime.WakeupSubscriber, *, resync: bool) -> None:
        """Hand every stream the messages announced as changed, as each perspective now renders them.

        Every stream, live or still catching up: its mailbox is sent after its replay, so a change comes after the
        message it is about; a browser that does not show that message ignores it. After a Redis reconnect, the
        database says what was hidden while wake-ups could not come.
        """
        seqs, subscriber.changed = subscriber.changed, set()
        if resync:
            since, self.changes_since = self.changes_since, datetime.now(UTC)
            seqs.update(row["seq"] for row in await Message.select(Message.seq).where(
                Message.space == self.space_id, Message.hidden_at >= since - CLOCK_SLACK))
        if not seqs:
            return
        rows = await Message.select(Message.seq, Message.author).where(
            Message.space == self.space_id, Message.seq.is_in(sorted(seqs))).order_by(Message.seq)
        for row in rows:
            groups: dict[tuple[Any, ...], list[LiveStream]] = {}
            for stream in self.streams:
                groups.setdefault((stream.perspective, stream.user.id == row["author"]), []).append(stream)
            for members in groups.values():
                event = await changed_event(members[0], row["seq"])
                if event is None:
                    continue
                for stream in members:
                    if stream in self.streams and not stream.mailbox.closed:
                        stream.mailbox.put(event, 1)

    def _end_expired(self) -> None:
        """End the streams whose session would have timed out by now (see `stream_deadline`); no "reload": the
        browser reconnects, through the login check."""
        now = time.monotonic()
        for stream in list(self.streams):
            if stream.expires <= now:
                stream.mailbox.close()
                stream.live = False

    async def _check_members(self) -> None:
        """End the streams of readers who may no longer read the space, or are no longer logged in as they were.

        One check for all the hub's streams (a handful of queries, however many streams), by the rules that decided
        at connect time: the room's (app.actions.room.readers_of, the batch form of space_for_member: the case's
        room open, still a party allowed in this kind of space, past the charter) and the login's (still active,
        same session version).
        """
        streams = list(self.streams)
        if not streams:
            return
        readers = await room.readers_of(streams[0].space, [stream.user for stream in streams])
        versions = await accounts.active_session_versions(stream.user.id for stream in streams)
        for stream in streams:
            uid = stream.user.id
            if uid not in readers or uid not in versions or versions[uid] != stream.session_version:
                stream.mailbox.put(RELOAD)
                stream.mailbox.close()
                stream.live = False

    def leave(self, stream: LiveStream) -> None:
        self.streams.discard(stream)
        if not self.streams:
            self.pump.cancel()
            if self.hubs.get(self.space_id) is self:
                del self.hubs[self.space_id]


class Hubs:
    """The hubs of this process, one per space with open streams."""

    def __init__(self) -> None:
        self.by_space: dict[int, Hub] = {}

    async def join(self, channels: ChannelsPlugin, stream: LiveStream) -> Hub:
        hub = self.by_space.get(stream.space_id)
        if hub is None or hub.channels is not channels or hub.pump.done():
            hub = Hub(self.by_space, channels, stream.space_id)
            self.by_space[stream.space_id] = hub
        hub.streams.add(stream)
        try:
            await asyncio.shield(hub.ready)  # subscribed: from now on no announced message can be missed
        except BaseException:
            hub.leave(stream)
            raise
        return hub


hubs = Hubs()


async def changed_event(stream: LiveStream, seq: int) -> bytes | None:
    """The `changed` event of message `seq` for this stream's viewer (None when the message is gone)."""
    with i18n.language_of(stream.language):
        try:
            view = await room.message_at(stream.space, stream.user, seq)
        except NotFound:
            return None
        return encode_change(environment.get_template("room/_message.html").render(message=view, viewer=stream.user))


class LiveStream:
    """One open stream: who reads it, the last seq it was given, and its mailbox."""

    __slots__ = ("channels", "space", "space_id", "user", "session_version", "start", "last_sent", "live",
                 "mailbox", "perspective", "language", "expires")

    def __init__(self, channels: ChannelsPlugin, space: room.SpaceView, user: User, session_version: Any,
                 start: int | None, *, expires: float = float("inf")) -> None:
        self.channels = channels
        self.space = space
        self.space_id = space.id
        self.user = user
        self.session_version = session_version
        self.start = start
        self.last_sent = 0
        self.live = False  # True once caught up: the hub then hands it every new message
        self.mailbox = Mailbox()
        self.expires = expires  # time.monotonic() when the stream ends by itself (stream_deadline)
        self.language = i18n.current_language()
        party = space.party
        self.perspective = (party.is_mediator, party.is_company, party.is_admitted_consumer, self.language)

    async def events(self) -> AsyncIterator[bytes]:
        yield OPENING
        if getattr(self.channels, "closing", False):  # the server is stopping: come back to the next one
            return
        hub = await hubs.join(self.channels, self)
        SSE_STREAMS_OPEN.inc()
        try:
            replayed = await self._catch_up(hub)
            if replayed is None:
                yield RELOAD
                return
            if replayed:
                yield b"".join(replayed)
            while True:
                chunks = await self.mailbox.take()
                if chunks:
                    yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
                if self.mailbox.closed:
                    return
        finally:
            SSE_STREAMS_OPEN.dec()
            self.live = False
            hub.leave(self)

    async def _catch_up(self, hub: Hub) -> list[bytes] | None:
        """Replay what the browser missed, until nothing announced is left; then the hub takes over.

        None when the browser must reload instead (too far behind, or an id this space never had).
        """
        replayed: list[bytes] = []
        fresh_since = time.monotonic()  # the hub is subscribed: what is committed from now on, it hears of
        row = await Space.select(Space.last_seq).where(Space.id == self.space_id).first()
        if row is None:
            return None
        last_seq = int(row["last_seq"])
        hub.latest = max(hub.latest, last_seq)
        self.last_sent = last_seq if self.start is None else self.start
        if self.last_sent > last_seq:  # a restored database: start afresh
            return None
        while True:
            rows = await fanout.rows_after(self.space_id, self.last_sent, fresh_since)
            if len(rows) > REPLAY_LIMIT or len(replayed) + len(rows) > REPLAY_LIMIT:
                return None
            if rows:
                for seq, event in await fanout.events(self, rows, fresh_since):
                    if seq > self.last_sent:
                        replayed.append(event)
                        self.last_sent = seq
            if hub.latest <= self.last_sent:  # (no await since the check) whatever comes next, the hub brings
                self.live = True
                return replayed
            fresh_since = time.monotonic()
