"""Web security shared by every response: headers, sessions that rotate, the CSRF and rate-limit setup."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, Scope

from app.settings import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
ROTATE_SESSION_KEY = "clf.rotate_session"
LOADED_SESSION_KEY = "clf.loaded_session"


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.is_https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def make_security_headers_hook(settings: Settings) -> Any:
    """A before_send hook: it sees every response, 404s from the router and error pages included."""
    headers = security_headers(settings)

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        mutable = MutableScopeHeaders.from_message(message)
        for name, value in headers:
            mutable[name.decode()] = value.decode()

    return add_security_headers


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Ask the session backend to move this session to a fresh id (at login and logout)."""
    connection.scope[ROTATE_SESSION_KEY] = True  # type: ignore[literal-required]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions that never store an empty session and change id when asked to.

    Litestar keeps the session id across login (session fixation) and stores a session for every
    anonymous visitor; both are fixed here. It also writes the session after every request; here a session
    whose data did not change is not written again (the cookie is still sent).
    """

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        if session_id := connection.cookies.get(self.config.key):
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope[LOADED_SESSION_KEY] = data  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    async def store_in_message(self, scope_session: Any, message: Message, connection: ASGIConnection) -> None:
        store = self.config.get_store_from_app(connection.scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        cookie_params: dict[str, Any] = {
            "path": self.config.path,
            "domain": self.config.domain,
            "secure": self.config.secure,
            "httponly": self.config.httponly,
            "samesite": self.config.samesite,
        }
        old_id = connection.cookies.get(self.config.key)
        has_cookie = bool(old_id) and old_id != "null"
        if not scope_session:
            if has_cookie:
                await self.delete(old_id, store=store)  # type: ignore[arg-type]
                expired = Cookie(value="", key=self.config.key, expires=0, **cookie_params)
                headers.add("Set-Cookie", expired.to_header(header=""))
            return
        if connection.scope.get(ROTATE_SESSION_KEY) or not has_cookie:
            if has_cookie:
                await self.delete(old_id, store=store)  # type: ignore[arg-type]
            session_id = connection.scope.setdefault("clf.new_session_id", self.generate_session_id())  # type: ignore[typeddict-item]
        else:
            session_id = old_id
        data = self.serialize_data(scope_session, connection.scope)
        if session_id != old_id or data != connection.scope.get(LOADED_SESSION_KEY):
            await self.set(session_id=session_id, data=data, store=store)
        cookie = Cookie(value=session_id, key=self.config.key, max_age=self.config.max_age, **cookie_params)
        headers.add("Set-Cookie", cookie.to_header(header=""))


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
