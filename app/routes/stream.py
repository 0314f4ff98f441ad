"""The live stream of one space (server-sent events), with replay from the database.

A stream first joins its space's hub (which is subscribed to the space's channel), then replays from the
database what the browser has not seen (`seq > Last-Event-ID`, or `> ?after=` on the first connect), then
goes live. A wake-up (app/realtime.py) is only a hint: the hub reads `seq > last sent` from the database, so
a lost wake-up loses nothing, and one connection never sends a seq twice. A browser too far behind gets a
`reload` event instead of hundreds of messages. A comment line every HEARTBEAT_S keeps the connection open.

Per process and space, one `Hub` serves all streams: one subscription, one database read per wake-up, each
message rendered once per *perspective* — what the fragment depends on: the viewer's side (mediator, company,
admitted consumer), whether the viewer wrote it, whether it is hidden, and the language — and handed to
every stream's mailbox, ready to send. The fragment always comes from app.actions.room.messages_after for a
viewer of that perspective (tests/server/test_stream.py checks the fragments against it for every side).

A message that changes once shown (the mediator hides it) is sent again as `event: changed`, its fragment as that
perspective now renders it, and *no id*: the browser's resume point (Last-Event-ID, the last message's seq) does
not move, and app.js swaps the element of the same `id="m-<seq>"` in place. Changes reach the streams open when
they happen (a Redis reconnect asks the database what was hidden meanwhile); a page loaded later shows them anyway.

A stream is no activity for the session's idle limit: it ends by itself when its session would time out, and the
browser's reconnect then passes the login check again (see `stream_deadline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream
from litestar.response.sse import ServerSentEventMessage

from app import i18n, realtime
from app.actions import room
from app.actions.errors import CharterRequired, Forbidden, NotFound
from app.auth import current_user, requires_login
from app.domain.lifecycle import ClaimStatus
from app.domain.room import Party, may_enter
from app.metrics import SSE_STREAMS_OPEN
from app.settings import Settings, settings_of
from app.tables import Case, CharterAcceptance, Claim, CompanyMember, Message, Role, Space, User
from app.templating import environment
from app.web import RowId

logger = logging.getLogger("clf.stream")

HEARTBEAT_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream, and lets the server notice a gone client."""
MEMBERSHIP_CHECK_S = 60.0
"""How often the open streams of a space check again that their readers may still read it (and are still logged in
as they were); checked at a heartbeat, so at most HEARTBEAT_S later."""
REPLAY_LIMIT = 200
"""More messages than this to catch up on: the browser is told to reload the page instead."""
RETRY_MS = 1000
"""How long a browser waits before reconnecting a dropped stream."""
EVENT_TTL_S = 30.0
"""How long a rendered message is kept for other streams of the same perspective."""
MAX_SEQ = 2**31 - 1
SESSION_GRACE_S = 5.0
"""A stream ends this long after its session would have timed out (so that the reconnect finds it timed out)."""
CLOCK_SLACK = timedelta(minutes=1)
"""After a Redis reconnect, messages hidden this long before the hub last looked are sent again too (hidden_at
comes from the clock of whichever process hid it)."""

PING = ServerSentEventMessage(comment="ping", data=None).encode()
RELOAD = ServerSentEventMessage(event="reload", data="reload").encode()
OPENING = ServerSentEventMessage(comment="open", data=None, retry=RETRY_MS).encode()


def resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """Where a stream starts: the browser's Last-Event-ID (its own reconnect) wins over the page's ?after=."""
    if last_event_id is not None:
        raw = last_event_id.strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_SEQ:
            return int(raw)
    return after


def encode_message(html: str, seq: int) -> bytes:
    """`event: message`, `id: <seq>`, and the fragment as data lines (one per line of HTML)."""
    return ServerSentEventMessage(data=html, event="message", id=seq).encode()


def encode_change(html: str) -> bytes:
    """`event: changed` and the message's new fragment, without an id: the resume point stays where it is."""
    return ServerSentEventMessage(data=html, event="changed").encode()


def stream_deadline(session: dict[str, Any], settings: Settings) -> float:
    """When a stream ends by itself (on the time.monotonic() clock): when its session would time out if nothing else
    happened, plus SESSION_GRACE_S.

    Decision (issue 4): an open stream is *not* activity. Otherwise a tab left open would keep a session alive, and
    deliver the room to an unattended screen, until the absolute limit — or for ever after a logout elsewhere, since
    a stream does not read the session again. Requests are activity, as everywhere: posting, navigating, and the
    read marks app.js sends while the page is visible and messages arrive (POST /spaces/{id}/read refreshes the
    session's seen_at like any request). So a reader who uses the room is not logged out, and when the stream ends
    the browser reconnects (Last-Event-ID, nothing lost) through the login check: a session kept alive meanwhile
    gets a new stream, a timed-out or ended one gets the login redirect and no more messages.
    """
    now = time.time()
    seen_at, auth_at = session.get("seen_at"), session.get("auth_at")
    idle_end = (seen_at if isinstance(seen_at, int) else now) + settings.session_idle_minutes * 60
    absolute_end = (auth_at if isinstance(auth_at, int) else now) + settings.session_max_hours * 3600
    return time.monotonic() + max(0.0, min(idle_end, absolute_end) - now) + SESSION_GRACE_S


@dataclass(frozen=True)
class Row:
    seq: int
    author: int
    hidden: bool


@dataclass
class _Shared:
    """A read or a rendering that several streams wait for; `started` says how fresh its result is."""

    started: float
    task: asyncio.Future[Any]


class Fanout:
    """Per process: shared database reads of new messages, and one rendering per perspective."""

    def __init__(self) -> None:
        self._reads: dict[tuple[int, int], _Shared] = {}
        self._renders: dict[tuple[Any, ...], _Shared] = {}
        self._events: dict[tuple[Any, ...], tuple[float, bytes]] = {}
        self._next_sweep = time.monotonic() + EVENT_TTL_S

    def _share(self, table: dict[Any, _Shared], key: Any, fresh_since: float,
               make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any]:
        """The running or finished task for `key` if it started at or after `fresh_since`, else a new one."""
        shared = table.get(key)
        failed = shared is not None and shared.task.done() and (shared.task.cancelled() or shared.task.exception())
        if shared is None or shared.started < fresh_since or failed:
            shared = _Shared(started=time.monotonic(), task=asyncio.ensure_future(make()))
            table[key] = shared
        self._sweep()
        return shared.task

    def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + EVENT_TTL_S
        old = now - EVENT_TTL_S
        for table in (self._reads, self._renders):
            for key in [key for key, shared in table.items() if shared.started < old and shared.task.done()]:
                del table[key]
        for key in [key for key, (at, _) in self._events.items() if at < old]:
            del self._events[key]

    async def rows_after(self, space_id: int, after_seq: int, fresh_since: float) -> list[Row]:
        """seq, author and hidden state of the messages after `after_seq` (at most REPLAY_LIMIT + 1), read at or
        after `fresh_since`."""
        async def read() -> list[Row]:
            rows = await Message.select(Message.seq, Message.author, Message.hidden_at).where(
                Message.space == space_id, Message.seq > after_seq).order_by(Message.seq).limit(REPLAY_LIMIT + 1)
            return [Row(row["seq"], row["author"], row["hidden_at"] is not None) for row in rows]

        task = self._share(self._reads, (space_id, after_seq), fresh_since, read)
        return await (task if task.done() else asyncio.shield(task))  # type: ignore[no-any-return]

    async def events(self, stream: LiveStream, rows: list[Row], fresh_since: float) -> list[tuple[int, bytes]]:
        """The encoded events of `rows` for this stream's viewer, rendered once per perspective."""
        perspective = stream.perspective
        viewer = stream.user.id
        found: list[tuple[int, bytes]] = []
        for row in rows:
            cached = self._events.get((stream.space_id, row.seq, perspective, row.author == viewer, row.hidden))
            if cached is None:
                break
            found.append((row.seq, cached[1]))
        else:
            return found
        after_seq, up_to = rows[0].seq - 1, rows[-1].seq
        mine = tuple(row.seq for row in rows if row.author == viewer)
        space, user = stream.space, stream.user

        async def render() -> list[tuple[int, bytes]]:
            # In the viewer's language: this task runs in the context of whichever stream asked first.
            with i18n.language_of(stream.language):
                views = await room.messages_after(space, user, after_seq, REPLAY_LIMIT + 1)
                template = environment.get_template("room/_message.html")
                now = time.monotonic()
                rendered = []
                for view in views:
                    if view.seq > up_to:  # newer than the rows asked for: the next wake-up brings it
                        break
                    event = encode_message(template.render(message=view, viewer=user), view.seq)
                    self._events[(space.id, view.seq, perspective, view.mine, view.hidden)] = (now, event)
                    rendered.append((view.seq, event))
            return rendered

        key = (stream.space_id, after_seq, up_to, perspective, mine)
        task = self._share(self._renders, key, fresh_since, render)
        return await (task if task.done() else asyncio.shield(task))  # type: ignore[no-any-return]


fanout = Fanout()


class Mailbox:
    """What the hub has for one stream, ready to send; bounded (a reader that does not read gets "reload")."""

    __slots__ = ("chunks", "size", "waiter", "closed")
    LIMIT = REPLAY_LIMIT

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def put(self, chunk: bytes, messages: int = 0) -> None:
        self.size += messages
        if self.size > self.LIMIT:  # the stream is not keeping up: drop it all, the browser reloads
            self.chunks = [RELOAD]
            self.closed = True
        else:
            self.chunks.append(chunk)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def take(self) -> list[bytes]:
        while not self.chunks and not self.closed:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        chunks, self.chunks, self.size = self.chunks, [], 0
        return chunks


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
        """End the streams of readers who are no longer members of the space, or no longer logged in as they were.

        One check for all the hub's streams (a handful of queries, however many streams): the same rules as
        app.actions.room.space_for_member, which decided at connect time — is the case's room open, is the user
        still active with the same credentials, still the mediator / a company member / a consumer with an
        admitted claim, allowed in this kind of space, past the charter.
        """
        streams = list(self.streams)
        if not streams:
            return
        case = await Case.select(Case.id, Case.status, Case.mediator, Case.company).where(
            Case.id == streams[0].space.case_id).first()
        ids = sorted({stream.user.id for stream in streams})
        users, admitted, members, accepted = {}, set(), set(), set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in await User.select(User.id, User.is_active, User.session_version).where(User.id.is_in(chunk)):
                users[row["id"]] = row
            if case is None:
                continue
            admitted.update(row["consumer"] for row in await Claim.select(Claim.consumer).where(
                Claim.case == case["id"], Claim.status == ClaimStatus.admitted.value, Claim.consumer.is_in(chunk)))
            members.update(row["user"] for row in await CompanyMember.select(CompanyMember.user).where(
                CompanyMember.company == case["company"], CompanyMember.user.is_in(chunk)))
            accepted.update(row["user"] for row in await CharterAcceptance.select(CharterAcceptance.user).where(
                CharterAcceptance.case == case["id"], CharterAcceptance.user.is_in(chunk)))
        for stream in streams:
            user, uid, role = users.get(stream.user.id), stream.user.id, stream.user.role
            party = Party(is_mediator=role == Role.mediator and case is not None and case["mediator"] == uid,
                          is_company=role == Role.company and uid in members,
                          is_admitted_consumer=role == Role.consumer and uid in admitted)
            still = (case is not None and case["status"] in room.ROOM_STATES and user is not None
                     and user["is_active"] and user["session_version"] == stream.session_version
                     and may_enter(party, stream.space.kind, stream.space.participant_id, uid) and uid in accepted)
            if not still:
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


class StreamController(Controller):
    path = "/spaces/{space_id:int}/stream"
    guards = [requires_login]

    @get(name="space_stream", opt={"skip_compression": True}, cache=False)
    async def stream_space(
        self, request: Request[Any, Any, Any], space_id: RowId, channels: NamedDependency[ChannelsPlugin],
        after: Annotated[int | None, QueryParameter(ge=0, le=MAX_SEQ)] = None,
    ) -> Stream:
        """The space's messages as server-sent events: `event: message`, `id: <seq>`, the rendered fragment; and
        `event: changed` (no id) with the new fragment of a message hidden meanwhile."""
        user = await current_user(request)
        assert user is not None  # requires_login
        try:
            space = await room.space_for_member(user, space_id)  # NotFound (404) for non-members
        except CharterRequired:
            raise Forbidden() from None  # 403: a stream is no page to be sent to the charter from
        start = resume_point(request.headers.get("last-event-id"), after)
        session = request.scope.get("session")
        session = session if isinstance(session, dict) else {}
        live = LiveStream(channels, space, user, session.get("ver"), start,
                          expires=stream_deadline(session, settings_of(request)))
        return Stream(live.events(), media_type="text/event-stream",
                      headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


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
