"""Error pages in the visitor's language for every HTTP error and every refusal of an action; never a stack trace.

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
from app.actions.errors import CharterRequired, Forbidden, NotFound, Refused
from app.http.web import plain_context, redirect_to, render_block, wants_fragment
from app.i18n import _
from app.platform.observability import request_id_of
from app.platform.storage import StorageUnavailable
from app.platform.templating import environment

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
        507: (_("Not enough storage space"),
              _("There is not enough storage space to save your file right now. Please try again later; nothing "
                "you had already saved is lost.")),
    }


def _storage_titles() -> tuple[str, str]:
    """Files cannot be written for another reason than space (read-only or failing disk): a 503."""
    return (_("Files cannot be saved right now"),
            _("Your file could not be saved for a technical reason on our side. Please try again later; nothing "
              "you had already saved is lost."))


def render_error(request: Request[Any, Any, Any], status_code: int, *,
                 titles: tuple[str, str] | None = None) -> Response[str]:
    i18n.activate(request.cookies.get(i18n.LANGUAGE_COOKIE))
    by_code = _titles()
    title, explanation = titles or by_code.get(status_code, by_code[500 if status_code >= 500 else 400])
    context = plain_context(request) | {"status_code": status_code, "title": title, "explanation": explanation,
                                        "request_id": request_id_of(request)}  # for the visitor to quote to support
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


def handle_not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    return render_error(request, 404)


def handle_forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[Any]:
    return render_error(request, 403)


def handle_charter_required(request: Request[Any, Any, Any], exc: CharterRequired) -> Response[Any]:
    """A member who has not accepted the charter is sent to it, at the room's door."""
    return redirect_to(request, "show_room", case_id=exc.case_id)


def handle_refused(request: Request[Any, Any, Any], exc: Refused) -> Response[str]:
    """An action that is not possible now: its reason, with the status it deserves."""
    context = plain_context(request) | {"message": exc.message, "status_code": exc.status_code}
    if wants_fragment(request):
        html = render_block("mediation/refused.html", "refusal", context)
    else:
        html = environment.get_template("mediation/refused.html").render(context)
    return Response(html, media_type=MediaType.HTML, status_code=exc.status_code,
                    headers={"Cache-Control": "no-store"})


def handle_storage_unavailable(request: Request[Any, Any, Any], exc: StorageUnavailable) -> Response[Any]:
    """A file could not be stored (app.platform.storage): 507 when the disk is full, else 503; nothing half-saved."""
    logger.error("storage unavailable (%s) on %s %s: %s", exc.reason, request.method, request.url.path, exc)
    if exc.reason == "full":
        response = render_error(request, 507)
    else:
        response = render_error(request, 503, titles=_storage_titles())
    response.headers["Retry-After"] = "300"
    return response


def handle_redis_outage(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Redis down or restarting (only the rate-limit counters of login and sign-up still need it in a request)."""
    logger.warning("Redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = render_error(request, 503)
    response.headers["Retry-After"] = "10"
    return response


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unhandled error on %s %s (request %s)", request.method, request.url.path,
                     request_id_of(request), exc_info=exc)
    return render_error(request, 500)
