"""What a live stream sends: its events encoded for the wire, where it resumes, and when it ends by itself."""

from __future__ import annotations

import time
from typing import Any

from litestar.response.sse import ServerSentEventMessage

from app.settings import Settings

REPLAY_LIMIT = 200
"""More messages than this to catch up on: the browser is told to reload the page instead."""
RETRY_MS = 1000
"""How long a browser waits before reconnecting a dropped stream."""

MAX_SEQ = 2**31 - 1
SESSION_GRACE_S = 5.0
"""A stream ends this long after its session would have timed out (so that the reconnect finds it timed out)."""

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
