"""Who is asking: the session's user (checked against idle/absolute limits), and the guards."""

from __future__ import annotations

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.http.security import rotate_session
from app.settings import settings_of
from app.tables import Role, User

_USER_STATE_KEY = "clf_user"
_MISSING = object()


def cached_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The user if this request already loaded it (for sync code such as error pages), else None."""
    cached = connection.scope.get("state", {}).get(_USER_STATE_KEY)
    return cached if isinstance(cached, User) else None


async def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The logged-in user, loaded once per request; None for visitors and ended sessions."""
    cached = connection.scope.get("state", {}).get(_USER_STATE_KEY, _MISSING)
    if cached is not _MISSING:
        return cached
    user = await _load_user(connection)
    connection.scope.setdefault("state", {})[_USER_STATE_KEY] = user
    return user


async def _load_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    session = connection.scope.get("session") or {}
    if not isinstance(session, dict):
        return None
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    settings = settings_of(connection)
    now = int(time.time())
    logged_in_at, seen_at = session.get("auth_at"), session.get("seen_at")
    if (
        not isinstance(logged_in_at, int) or not isinstance(seen_at, int)
        or now - logged_in_at > settings.session_max_hours * 3600
        or now - seen_at > settings.session_idle_minutes * 60
    ):
        end_session(connection)
        return None
    user = await User.objects().where(User.id == user_id, User.is_active.eq(True)).first()
    if user is None or user.session_version != session.get("ver"):
        end_session(connection)  # password changed or reset elsewhere: this session is over
        return None
    if now - seen_at >= seen_at_step(settings.session_idle_minutes):
        session["seen_at"] = now  # the store's own expiry (max_age) backs this idle limit up
    return user


def seen_at_step(idle_minutes: float) -> int:
    """How far the idle clock must have moved before a request records it (so that a session is written at most
    once a minute, not on every request): a minute, or less for idle limits under ten minutes."""
    return int(min(60, idle_minutes * 6))


def start_session(connection: ASGIConnection[Any, Any, Any, Any], user: User) -> None:
    """Log `user` in under a fresh session id."""
    now = int(time.time())
    connection.set_session({"uid": user.id, "ver": user.session_version, "auth_at": now, "seen_at": now})
    rotate_session(connection)
    connection.scope.setdefault("state", {})[_USER_STATE_KEY] = user


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    connection.clear_session()
    rotate_session(connection)
    connection.scope.setdefault("state", {})[_USER_STATE_KEY] = None


async def logged_in_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    """The logged-in user of a route guarded by requires_login (401, hence the login page, if there is none)."""
    user = await current_user(connection)
    if user is None:
        raise NotAuthorizedException()
    return user


async def requires_login(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if await current_user(connection) is None:
        raise NotAuthorizedException()


def requires_role(*roles: Role) -> Any:
    """A guard letting in only users of these roles."""
    allowed = {role.value for role in roles}

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = await current_user(connection)
        if user is None:
            raise NotAuthorizedException()
        if user.role not in allowed:
            raise PermissionDeniedException()

    return guard
