"""The live-update engine of the mediation room: streams of server-sent events, with replay from the database.

A stream first joins its space's hub (which is subscribed to the space's channel), then replays from the
database what the browser has not seen (`seq > Last-Event-ID`, or `> ?after=` on the first connect), then
goes live. A wake-up (app/platform/realtime.py) is only a hint: the hub reads `seq > last sent` from the database, so
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

Its parts: `wire` (the events as sent, the resume point, the stream's deadline), `fanout` (shared reads and
renderings), `mailbox`, and `hub`: the hub of a space (one per space and process; it re-checks membership through
app.actions.room.readers_of) and its streams (`LiveStream`). The two periods, HEARTBEAT_S and MEMBERSHIP_CHECK_S,
live in app.live.hub and are read there when used (the server tests shorten them there). The route
(app/routes/stream.py) authorizes through app.actions.room and hands over a `LiveStream`.
"""

from app.live.fanout import Fanout, Row, Viewer, fanout
from app.live.hub import CLOCK_SLACK, Hub, Hubs, LiveStream, changed_event, hubs
from app.live.mailbox import Mailbox
from app.live.wire import (
    MAX_SEQ,
    OPENING,
    PING,
    RELOAD,
    REPLAY_LIMIT,
    RETRY_MS,
    SESSION_GRACE_S,
    encode_change,
    encode_message,
    resume_point,
    stream_deadline,
)

__all__ = [
    "CLOCK_SLACK", "MAX_SEQ", "OPENING", "PING", "RELOAD", "REPLAY_LIMIT",
    "RETRY_MS", "SESSION_GRACE_S", "Fanout", "Hub", "Hubs", "LiveStream", "Mailbox", "Row", "Viewer", "changed_event",
    "encode_change", "encode_message", "fanout", "hubs", "resume_point", "stream_deadline",
]
