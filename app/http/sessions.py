"""The session store: sessions live in the database, on every deployment.

Why not Redis (figures from issue 9): while Redis was down every logged-in request failed, and after a Redis
restart without persistence every session was gone, so 100 readers hit /login at once and their 100 argon2
hashes on 2 cores delayed live delivery by 13-21 s. In the database a session survives both, and costs one
primary-key read per request: the session is written only when its data changes (login, logout, the idle clock
moving at most once a minute), and its expiry is renewed at most once a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.stores.base import Store

from app.tables import WebSession

RENEW_EVERY = timedelta(minutes=1)
"""A read renews the session's expiry only when it moved on by at least this much since the last renewal."""


def _seconds(value: int | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _far_future() -> datetime:
    return datetime(9999, 1, 1, tzinfo=UTC)


class DatabaseSessionStore(Store):
    """A Litestar store over the WebSession table (only what sessions need: no namespaces)."""

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.decode() if isinstance(value, bytes) else value
        seconds = _seconds(expires_in)
        expires_at = datetime.now(UTC) + timedelta(seconds=seconds) if seconds is not None else _far_future()
        await WebSession.insert(WebSession(key=key, data=data, expires_at=expires_at)).on_conflict(
            target=WebSession.key, action="DO UPDATE", values=[WebSession.data, WebSession.expires_at])

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await WebSession.select(WebSession.data, WebSession.expires_at).where(WebSession.key == key).first()
        if row is None:
            return None
        now = datetime.now(UTC)
        if row["expires_at"] <= now:
            return None  # the scheduler's sweep deletes it
        seconds = _seconds(renew_for)
        if seconds is not None:
            renewed = now + timedelta(seconds=seconds)
            if renewed - row["expires_at"] >= RENEW_EVERY:
                await WebSession.update({WebSession.expires_at: renewed}).where(WebSession.key == key)
        return str(row["data"]).encode()

    async def delete(self, key: str) -> None:
        await WebSession.delete().where(WebSession.key == key)

    async def delete_all(self) -> None:
        await WebSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await WebSession.exists().where(WebSession.key == key, WebSession.expires_at > datetime.now(UTC))

    async def expires_in(self, key: str) -> int | None:
        row = await WebSession.select(WebSession.expires_at).where(WebSession.key == key).first()
        if row is None:
            return None
        return max(int((row["expires_at"] - datetime.now(UTC)).total_seconds()), 0)
