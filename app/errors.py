"""Error pages in the visitor's language for every HTTP error; never a stack trace.

Litestar calls app-level exception handlers synchronously, so everything here is sync.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect

from app import i18n
from app.i18n import _
from app.templating import environment
from app.web import plain_context, render_block, wants_fragment

logger = logging.getLogger("clf.errors")


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("This request could not be understood"),
              _("Something in what was sent is not valid. Please go back, check the form and try again.")),
        401: (_("Please log in"), _("You need to be logged in to see this page.")),
        403: (_("Not allowed"), _("You are not allowed to do this. If you were filling in a form, reload the page "
                                  "and try again: the security token may have expired.")),
        404: (_("Page not found"), _("This page does not exist, or you do not have access to it.")),
        405: (_("Not allowed"), _("This address does not accept this kind of request.")),
        413: (_("Too large"), _("What you sent is too large. Please send something smaller.")),
        422: (_("Please check the form"), _("Some fields are not valid.")),
        429: (_("Too many attempts"), _("Please wait a minute before trying again.")),
        500: (_("Something went wrong on our side"),
              _("The error has been recorded. Please try again in a moment; nothing you had saved is lost.")),
        503: (_("Temporarily unavailable"), _("The service is temporarily unavailable. Please try again soon.")),
    }


def render_error(request: Request[Any, Any, Any], status_code: int) -> Response[str]:
    i18n.activate(request.cookies.get(i18n.LANGUAGE_COOKIE))
    titles = _titles()
    title, explanation = titles.get(status_code, titles[500 if status_code >= 500 else 400])
    context = plain_context(request) | {"status_code": status_code, "title": title, "explanation": explanation}
    if wants_fragment(request):
        html = render_block("errors/error.html", "error_message", context)
    else:
        html = environment.get_template("errors/error.html").render(context)
    headers = {"Cache-Control": "no-store"}
    if status_code == 429:
        headers["Retry-After"] = "60"
    return Response(html, status_code=status_code, media_type=MediaType.HTML, headers=headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException) and request.method in {"GET", "HEAD"}:
        return Redirect(path=f"/login?next={quote(request.url.path)}", status_code=303)
    return render_error(request, exc.status_code)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render_error(request, 500)
