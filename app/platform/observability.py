"""Request ids and one JSON log line per request (logger clf.access) and per job (clf.jobs, workers/observability.py).

The request log is a pure ASGI middleware wrapped around the whole Litestar app (`install`), outside its router:
a 404 from the router, an error page and a server-sent event stream each give exactly one line, written when the
response ends (for a stream: when it closes). It also counts the request in the Prometheus metrics of
app/platform/metrics.py.

A line says who asked only by number: the request id, method, route *template* (`/cases/{case_id:int}`, never the
raw path with its ids or tokens, and no query string), status, duration and the logged-in user's id. Never an
e-mail address, a name, a token or anything the visitor wrote. Cost: about 15-25 µs a request on this kind of
machine, most of it the write to stderr (no database, msgspec for the JSON, no caller lookup by logging).
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.connection import ASGIConnection
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from app.settings import Settings

ACCESS_LOGGER = "clf.access"
JOBS_LOGGER = "clf.jobs"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = "clf_request_id"
"""Where the request id is kept in the scope's state (error pages show it, app/http/errors.py logs it)."""
USER_STATE_KEY = "clf_user"
"""Where app/http/auth.py caches the request's user in the scope's state."""
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{8,64}")
"""An incoming X-Request-ID (from a proxy) is kept only if it is this plain; anything else is replaced."""
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_encode = msgspec.json.Encoder().encode
_access_log = logging.getLogger(ACCESS_LOGGER)


def json_line(logger_name: str, fields: dict[str, Any]) -> str:
    """One log line: a JSON object with the time (UTC) and the logger's name first."""
    return _encode({"ts": datetime.now(UTC), "log": logger_name, **fields}).decode()


class _Stderr(logging.Handler):
    """Writes each line as it is to whatever sys.stderr is at the time (test runners swap it); stderr is
    line-buffered, so each line goes out at once."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
        except Exception:
            self.handleError(record)


def log_line(logger: logging.Logger, line: str, level: int = logging.INFO) -> None:
    """logger.log(level, line) without looking up the caller's file and line (half the cost of a log call)."""
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, "", 0, line, (), None))


def ensure_json_handler(logger_name: str) -> logging.Logger:
    """Give a JSON logger its own stderr handler (bare message, INFO) unless logging was configured for it.

    So the lines reach stderr however the process was started (plain uvicorn, `dramatiq`, tests), and are not
    prefixed by another handler's format. `logging_config()` configures the same for uvicorn.
    """
    logger = logging.getLogger(logger_name)
    if not logger.handlers:
        logger.addHandler(_Stderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def logging_config() -> dict[str, Any]:
    """uvicorn's own logging configuration plus ours: clf.access and clf.jobs as bare JSON lines on stderr.

    For `uvicorn.run(..., log_config=logging_config(), access_log=False)`: see `uvicorn_logging`.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["disable_existing_loggers"] = False
    config["formatters"]["json_line"] = {"format": "%(message)s"}
    config["handlers"]["json_lines"] = {"class": "logging.StreamHandler", "formatter": "json_line",
                                        "stream": "ext://sys.stderr"}
    for name in (ACCESS_LOGGER, JOBS_LOGGER):
        config["loggers"][name] = {"handlers": ["json_lines"], "level": "INFO", "propagate": False}
    return config


def uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run: our logging, and uvicorn's access log only when ours is off."""
    return {"log_config": logging_config(), "access_log": not settings.access_log}


def request_id_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The id of this request (as sent back in X-Request-ID); empty outside the middleware."""
    return str(connection.scope.get("state", {}).get(REQUEST_ID_KEY, ""))


def incoming_request_id(headers: Any) -> str | None:
    """The X-Request-ID a proxy sent, when it is safe to log and echo; else None."""
    for name, value in headers:
        if name == b"x-request-id":
            return value.decode("ascii") if SAFE_REQUEST_ID.fullmatch(value) else None
    return None


class RequestLog:
    """Pure ASGI middleware: request id in and out, one access line and the HTTP metrics per request."""

    __slots__ = ("app", "log", "requests", "latency", "counted", "timed")

    def __init__(self, app: ASGIApp, *, log: bool = True) -> None:
        from app.platform import (
            metrics,  # here, not at the top: a worker process imports this module but serves no HTTP
        )

        self.app = app
        self.log = log
        self.requests = metrics.HTTP_REQUESTS
        self.latency = metrics.HTTP_LATENCY
        # The metrics' children by label values: `.labels()` costs more than the increment itself.
        self.counted: dict[tuple[str, str, str], Any] = {}
        self.timed: dict[str, Any] = {}
        if log:
            ensure_json_handler(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = incoming_request_id(scope["headers"]) or secrets.token_hex(16)
        state = scope.setdefault("state", {})
        state[REQUEST_ID_KEY] = request_id
        id_header = (b"x-request-id", request_id.encode("ascii"))
        status = 500  # what the server answers when the app raises before starting a response
        headers_at = 0.0

        async def send_with_id(message: Message) -> None:
            nonlocal status, headers_at
            if message["type"] == "http.response.start":
                status = message["status"]
                headers_at = time.perf_counter()
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ended = time.perf_counter()
            route = scope.get("path_template") or None  # None: no route matched (the router's own 404/405)
            method = scope.get("method", "")
            self._count(route or "unmatched", method if method in KNOWN_METHODS else "other", status,
                        (headers_at or ended) - started)
            if self.log:
                user = state.get(USER_STATE_KEY)
                log_line(_access_log, json_line(ACCESS_LOGGER, {
                    "request_id": request_id, "method": method, "route": route, "status": status,
                    "duration_ms": round((ended - started) * 1000, 2), "user_id": getattr(user, "id", None),
                }))

    def _count(self, route: str, method: str, status: int, latency: float) -> None:
        """Latency is the time to the response's headers: a stream's whole life is not latency."""
        key = (route, method, str(status))
        counter = self.counted.get(key)
        if counter is None:
            counter = self.counted[key] = self.requests.labels(*key)
        counter.inc()
        histogram = self.timed.get(route)
        if histogram is None:
            histogram = self.timed[route] = self.latency.labels(route)
        histogram.observe(latency)


def install(app: Litestar, settings: Settings) -> Litestar:
    """Wrap the app's whole ASGI handler (router and its exception handling included) in RequestLog."""
    app.asgi_handler = RequestLog(app.asgi_handler, log=settings.access_log)
    return app
