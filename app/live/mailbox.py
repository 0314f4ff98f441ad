"""What the hub has for one stream, ready to send."""

from __future__ import annotations

import asyncio

from app.live.wire import RELOAD, REPLAY_LIMIT


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
