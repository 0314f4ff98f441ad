"""create_app(): the one place the Litestar application is assembled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from piccolo.engine.sqlite import SQLiteEngine
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import i18n
from app.actions.errors import CharterRequired, Forbidden, NotFound, Refused
from app.http.errors import (
    handle_charter_required,
    handle_forbidden,
    handle_http_exception,
    handle_not_found,
    handle_redis_outage,
    handle_refused,
    handle_storage_unavailable,
    handle_unexpected,
)
from app.http.security import RotatingSessionConfig, make_security_headers_hook
from app.http.sessions import DatabaseSessionStore
from app.platform import observability, realtime
from app.platform.db import close_pool, engine, open_pool, prepare_sqlite
from app.platform.storage import StorageUnavailable
from app.platform.templating import environment
from app.routes.accounts import AccountController
from app.routes.agreements import AgreementController, CaseAgreementsController, CertificateController
from app.routes.cases import CaseController, ClaimController, EvidenceController
from app.routes.companies import CompanyJoinController
from app.routes.dev import DevMailboxController
from app.routes.directory import CompanyDirectoryController
from app.routes.escalation import EscalationController, StaffEscalationController
from app.routes.invitations import CaseInvitationController, InvitationController
from app.routes.mediators import MediationController, MediatorController
from app.routes.metrics import MetricsController
from app.routes.notifications import NotificationController
from app.routes.pages import HealthController, PageController
from app.routes.proposals import ProposalController
from app.routes.reviews import ReviewController
from app.routes.room import RoomController
from app.routes.space import MySpaceController
from app.routes.staff import StaffController
from app.routes.stream import StreamController
from app.routes.timeline import TimelineController
from app.settings import Settings, get_settings

STATIC_DIR = Path(__file__).parent / "static"
THROTTLED_POSTS = {"/login", "/signup", "/password/forgot"}
logger = logging.getLogger("clf")


def make_stores(settings: Settings) -> dict[str, Store]:
    """Sessions in the database (app/http/sessions.py says why); rate-limit counters in Redis when configured (shared
    by all processes), else in memory."""
    if settings.redis_url:
        root = RedisStore(realtime.resilient_redis(settings.redis_url), namespace=settings.redis_prefix,
                          handle_client_shutdown=True)  # retries a command after a Redis restart
        return {"sessions": DatabaseSessionStore(), "rate_limit": root.with_namespace("rate_limit")}
    return {"sessions": DatabaseSessionStore(), "rate_limit": MemoryStore()}


def is_throttled(request: Request[Any, Any, Any]) -> bool:
    # Sign-ups from an invitation page (/companies/join/…/signup, /invitations/…/signup) hash a password too.
    path = request.url.path
    return request.method == "POST" and (path in THROTTLED_POSTS or path.endswith("/signup"))


async def activate_language(request: Request[Any, Any, Any]) -> None:
    """before_request: the language of this request comes from the visitor's choice (French by default)."""
    i18n.activate(request.cookies.get(i18n.LANGUAGE_COOKIE))


@contextlib.asynccontextmanager
async def background_work(app: Litestar) -> AsyncIterator[None]:
    """Database pool, and in embedded mode the Dramatiq worker and the scheduler, for the app's lifetime."""
    settings = get_settings()
    db = engine()
    if isinstance(db, SQLiteEngine):
        await prepare_sqlite(db)
    await open_pool(max_size=10)
    worker = scheduler = None
    if settings.embedded_worker:
        import dramatiq

        import workers.actors  # noqa: F401
        from workers.broker import broker

        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=500)
        worker.start()
    if settings.embedded_scheduler:
        import workers.actors  # noqa: F401,F811
        from workers.scheduler import run_forever

        # In one process, nothing of ours can still be running a job the last process started: the first sweep
        # re-enqueues every unfinished finalization at once instead of waiting for its lock to go stale.
        scheduler = asyncio.create_task(run_forever(resume_now=not settings.redis_url))
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.cancel()
        if worker is not None:
            await asyncio.to_thread(worker.stop, 3000)
        await close_pool()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    stores = make_stores(settings)
    session_config = RotatingSessionConfig(
        store="sessions", key="clf_session", max_age=max(settings.session_idle_minutes * 60, 60), httponly=True,
        secure=settings.is_https, samesite="lax", renew_on_access=True,
    )
    rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.login_rate_per_minute), store="rate_limit",
        check_throttle_handler=is_throttled, set_rate_limit_headers=False,
    )
    template_engine = JinjaTemplateEngine.from_environment(environment)
    app = Litestar(
        route_handlers=[
            PageController, AccountController, HealthController, DevMailboxController,
            NotificationController,
            CaseController, ClaimController, EvidenceController, CompanyDirectoryController, MySpaceController,
            StaffController, CompanyJoinController, InvitationController, CaseInvitationController,
            ReviewController, MediationController, MediatorController,
            RoomController,
            StreamController,
            MetricsController,
            ProposalController,
            CaseAgreementsController, AgreementController, CertificateController,
            TimelineController, EscalationController, StaffEscalationController,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static",
                                       send_as_attachment=False, include_in_schema=False,
                                       cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True,
                                                                        immutable=True)),
        ],
        stores=stores,
        middleware=[session_config.middleware, rate_limit.middleware],
        csrf_config=CSRFConfig(secret=settings.secret_key, cookie_secure=settings.is_https, cookie_httponly=True,
                               cookie_samesite="lax", exclude=["/healthz", "/readyz", "^/metrics$"]),
        template_config=TemplateConfig(instance=template_engine),
        plugins=[HTMXPlugin(), realtime.make_channels_plugin(settings)],
        before_request=activate_language,
        before_send=[make_security_headers_hook(settings)],
        # What actions refuse (app.actions.errors) is answered here, once, for every route.
        exception_handlers={HTTPException: handle_http_exception, NotFound: handle_not_found,
                            Forbidden: handle_forbidden, CharterRequired: handle_charter_required,
                            Refused: handle_refused, StorageUnavailable: handle_storage_unavailable,
                            RedisConnectionError: handle_redis_outage, RedisTimeoutError: handle_redis_outage,
                            Exception: handle_unexpected},
        # Routes with opt skip_compression (the SSE stream: a gzip state per open stream would cost ~256 KB).
        compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=6,
                                             exclude_opt_key="skip_compression"),
        request_max_body_size=settings.max_body_kb * 1024,
        lifespan=[background_work],
        openapi_config=None,
        debug=False,
        state=State({"settings": settings}),
    )
    return observability.install(app, settings)  # request ids, access log, HTTP metrics: around it all
