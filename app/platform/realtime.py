"""Live wake-ups for the mediation room: Litestar Channels, in memory or through Redis pub/sub.

A wake-up `{"space": id, "seq": n}` only tells the streams of a space (app/live/) that something
new is committed there; they then read the messages from the database (`seq > last sent`). A lost wake-up
therefore loses nothing: the next one, a heartbeat's look at the space's counter or a reconnect (Last-Event-ID)
catches up. announce() in a process without a running app (a script, a separate worker) does nothing: the
streams then catch up at their next heartbeat.

A change `{"space": id, "changed": n}` (announce_change: message n was hidden) tells the open streams to send
message n again, as it now reads; after a Redis reconnect the streams ask the database what was hidden meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import AsyncGenerator, Iterable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.channels.subscriber import Subscriber

from app.settings import Settings

logger = logging.getLogger("clf.realtime")

MAX_BACKLOG = 32
"""Wake-ups held for one space's hub; more are dropped (they are hints: the hub reads the database anyway)."""
RESYNC = b"resync"
"""Payload the Redis backend hands every subscriber after it reconnected: check the database now."""

_active: tuple[ChannelsPlugin, asyncio.AbstractEventLoop, int] | None = None


def channel_for(space_id: int) -> str:
    return f"space-{space_id}"


def announce(space_id: int, seq: int) -> None:
    """Wake up the streams of one space (call it after the message is committed: `after_commit`).

    Never blocks and never raises: before the app started (scripts, tests without a server) it does
    nothing; from another thread (the embedded worker) it hops onto the web server's loop.
    """
    _publish(space_id, {"space": space_id, "seq": seq})


def announce_change(space_id: int, seq: int) -> None:
    """Tell the open streams of a space that message `seq` changed (hidden): they send it again as it now reads.

    Like announce(): call it after the commit; it never blocks nor raises, and does nothing without a running app.
    """
    _publish(space_id, {"space": space_id, "changed": seq})


def _publish(space_id: int, payload: dict[str, int]) -> None:
    active = _active
    if active is None:
        return
    plugin, loop, thread_id = active
    try:
        if threading.get_ident() == thread_id:
            plugin.publish(payload, channel_for(space_id))
        else:
            loop.call_soon_threadsafe(_publish_quietly, plugin, payload, channel_for(space_id))
    except Exception:  # a lost wake-up is caught up by the next one or a heartbeat; a lost change by a reload
        logger.warning("could not announce %s", payload, exc_info=True)


def _publish_quietly(plugin: ChannelsPlugin, payload: dict[str, int], channel: str) -> None:
    with contextlib.suppress(Exception):
        plugin.publish(payload, channel)


class WakeupSubscriber(Subscriber):
    """A subscriber read by waiting for the next wake-up with a timeout (heartbeats come from timeouts).

    It remembers the highest seq announced (`latest_seq`: committed, since announce() runs after the commit),
    the messages announced as changed (`changed`, until the reader takes them), whether a wake-up without a seq
    came (`resync`: after a Redis reconnect), and when the latest wake-up arrived (`woken_at`: a database read
    started after it sees every message announced so far).
    """

    woken_at = 0.0
    latest_seq = 0
    resync = False
    closed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed: set[int] = set()  # kept even when the backlog is full: wake-ups coalesce, changes must not

    def close(self) -> None:
        """Wake the reader up for good: it ends (the server is stopping)."""
        self.closed = True
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
        self._queue.put_nowait(None)

    def put_nowait(self, item: bytes | None) -> bool:
        self.woken_at = time.monotonic()  # even when the backlog is full: the reader reads the database anyway
        if (changed := _changed_of(item)) is not None:
            self.changed.add(changed)
        elif (seq := _seq_of(item)) is not None:
            self.latest_seq = max(self.latest_seq, seq)
        else:
            self.resync = True
        return super().put_nowait(item)

    async def wait(self, seconds: float) -> bool:
        """True when at least one wake-up arrived within `seconds` (all pending ones are consumed at once)."""
        try:
            async with asyncio.timeout(seconds):
                await self._queue.get()  # cancellation-safe: an item is taken only when get() returns
        except TimeoutError:
            return False
        self._queue.task_done()
        while not self._queue.empty():  # wake-ups coalesce: one database read serves them all
            self._queue.get_nowait()
            self._queue.task_done()
        return True


def _payload(item: bytes | None) -> dict[str, Any] | None:
    """A wake-up decoded (`{"space": …, "seq": …}` or `{"space": …, "changed": …}`); None for anything else."""
    if not item or item == RESYNC:
        return None
    try:
        payload = msgspec.json.decode(item)
    except msgspec.DecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _seq_of(item: bytes | None) -> int | None:
    """The seq of a wake-up `{"space": …, "seq": …}`; None for anything else (RESYNC, a change)."""
    seq = (_payload(item) or {}).get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _changed_of(item: bytes | None) -> int | None:
    """The seq of the message a change `{"space": …, "changed": …}` is about; None for anything else."""
    changed = (_payload(item) or {}).get("changed")
    return changed if isinstance(changed, int) and not isinstance(changed, bool) else None


def resilient_redis(url: str) -> Any:
    """A Redis client that survives a Redis restart: a command on a connection the restart closed is retried
    on a new one (redis-py's asyncio client does not retry by default: the first command per pooled
    connection would fail)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3), health_check_interval=15,
                          socket_keepalive=True)


class ResilientRedisPubSubBackend(RedisChannelsPubSubBackend):
    """Redis pub/sub that survives a Redis restart.

    Litestar's backend lets its reader task die on the first connection error (live delivery would stop
    for good) and its publisher task die on a failed PUBLISH. Here a failed publish is logged and dropped,
    and the reader reconnects with backoff, subscribes again and hands every stream a RESYNC wake-up so
    they read what was posted meanwhile. Channel names carry the deployment's prefix on the wire.
    """

    def __init__(self, *, url: str, key_prefix: str) -> None:
        super().__init__(redis=resilient_redis(url), key_prefix=key_prefix)  # reads wake every 1 s: health checks
        self._wire_prefix = f"{key_prefix}:"
        self._subscribed: set[str] = set()

    def _wire(self, channel: str) -> str:
        return self._wire_prefix + channel

    async def subscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._subscribed.update(channels)
        try:
            await super().subscribe([self._wire(channel) for channel in channels])
        except Exception:  # Redis is down: the reader subscribes again when it reconnects
            logger.warning("Redis subscribe failed; will retry on reconnect", exc_info=True)
            self._has_subscribed.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._subscribed.difference_update(channels)
        try:
            await super().unsubscribe([self._wire(channel) for channel in channels])
        except Exception:
            logger.warning("Redis unsubscribe failed", exc_info=True)

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        try:
            await super().publish(data, [self._wire(channel) for channel in channels])
        except Exception:
            logger.warning("Redis publish failed; the wake-up is dropped", exc_info=True)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        while True:
            try:
                async for channel, data in super().stream_events():
                    if channel.startswith(self._wire_prefix):
                        yield channel[len(self._wire_prefix):], data
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Redis pub/sub connection lost (%s); reconnecting", error)
            delay = 0.1
            while not await self._reconnect():
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            logger.warning("Redis pub/sub reconnected; the streams read what they may have missed")
            for channel in list(self._subscribed):
                yield channel, RESYNC

    async def _reconnect(self) -> bool:
        old = self._RedisChannelsPubSubBackend__pub_sub  # type: ignore[has-type]  # a name-mangled private of Litestar's backend
        self._RedisChannelsPubSubBackend__pub_sub = None  # a fresh PubSub on the next access
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()
        if not self._subscribed:
            self._has_subscribed.clear()
            return True
        try:
            await self._pub_sub.subscribe(*[self._wire(channel) for channel in self._subscribed])
        except Exception:
            return False
        self._has_subscribed.set()
        return True

    async def on_shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await super().on_shutdown()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


class RoomChannelsPlugin(ChannelsPlugin):
    """The Channels plugin, which also makes itself the target of `announce()` while the app runs.

    On SIGTERM/SIGINT under uvicorn it ends the open streams at once (browsers reconnect with Last-Event-ID to
    whichever process serves next): uvicorn waits for open responses before it stops, so streams would otherwise
    hold the shutdown for its whole graceful timeout.
    """

    closing = False
    _chained: dict[int, Any]

    async def _on_startup(self) -> None:
        global _active
        await super()._on_startup()
        loop = asyncio.get_running_loop()
        _active = (self, loop, threading.get_ident())
        self.closing = False
        self._chained = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous = signal.getsignal(signum)
                if callable(previous) and getattr(previous, "__name__", "") == "handle_exit":  # uvicorn's
                    self._chained[signum] = previous
                    signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        active = _active
        if active is not None and active[0] is self:
            active[1].call_soon_threadsafe(self.close_streams)
        self._chained[signum](signum, frame)

    def close_streams(self) -> None:
        """End every open stream now (the server is stopping)."""
        self.closing = True
        for subscribers in self._channels.values():
            for subscriber in subscribers:
                if isinstance(subscriber, WakeupSubscriber):
                    subscriber.close()

    async def _on_shutdown(self) -> None:
        global _active
        if _active is not None and _active[0] is self:
            _active = None
        if threading.current_thread() is threading.main_thread():
            for signum, previous in self._chained.items():
                if signal.getsignal(signum) == self._on_signal:
                    signal.signal(signum, previous)
        await super()._on_shutdown()


def make_backend(settings: Settings) -> ChannelsBackend:
    if settings.redis_url:
        return ResilientRedisPubSubBackend(url=settings.redis_url, key_prefix=f"{settings.redis_prefix}:channels")
    return MemoryChannelsBackend()


def make_channels_plugin(settings: Settings) -> RoomChannelsPlugin:
    return RoomChannelsPlugin(
        backend=make_backend(settings),
        arbitrary_channels_allowed=True,
        subscriber_class=WakeupSubscriber,
        subscriber_max_backlog=MAX_BACKLOG,
        subscriber_backlog_strategy="backoff",
    )
