"""Per process: shared database reads of new messages, and one rendering per perspective."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from app import i18n
from app.actions import room
from app.live.wire import REPLAY_LIMIT, encode_message
from app.platform.templating import environment
from app.tables import Message, User


class Viewer(Protocol):
    """What a rendering depends on: the stream's space, its reader, and the reader's perspective and language
    (app.live.hub.LiveStream is one)."""

    space: room.SpaceView
    space_id: int
    user: User
    perspective: tuple[Any, ...]
    language: str


EVENT_TTL_S = 30.0
"""How long a rendered message is kept for other streams of the same perspective."""


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
        return await (task if task.done() else asyncio.shield(task))

    async def events(self, stream: Viewer, rows: list[Row], fresh_since: float) -> list[tuple[int, bytes]]:
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
        return await (task if task.done() else asyncio.shield(task))


fanout = Fanout()
