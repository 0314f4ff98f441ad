"""Public pages: landing, FAQ, the language switch, and the health probes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import MediaType

from app import i18n
from app.actions.accounts import do_set_language
from app.http.auth import current_user
from app.http.forms import read_form
from app.http.health import check_readiness
from app.http.web import page, path_for, safe_next
from app.settings import settings_of


class PageController(Controller):
    @get("/", name="home")
    async def home(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "pages/home.html")

    @get("/faq", name="faq")
    async def faq(self, request: Request[Any, Any, Any]) -> Response[str]:
        return await page(request, "pages/faq.html")

    @post("/language", name="set_language")
    async def set_language(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Works as a plain form: sets the cookie and goes back where the visitor was."""
        form = await read_form(request)
        language = i18n.normalize_language(form.text("language"))
        await do_set_language(await current_user(request), language)
        back = safe_next(form.text("next"), path_for(request, "home"))
        response: Response[Any] = Response(content=b"", status_code=303, headers={"Location": back})
        response.set_cookie(i18n.LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, httponly=True,
                            samesite="lax", secure=settings_of(request).is_https)
        return response


class HealthController(Controller):
    @get("/healthz", name="healthz", media_type=MediaType.TEXT, exclude_from_csrf=True)
    async def healthz(self) -> str:
        """The process answers."""
        return "ok"

    @get("/readyz", name="readyz", media_type=MediaType.TEXT)
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The database (and Redis, when configured) answer."""
        problems = await check_readiness(settings_of(request))
        if problems:
            return Response("not ready: " + ", ".join(problems), status_code=503, media_type=MediaType.TEXT)
        return Response("ready", media_type=MediaType.TEXT)
