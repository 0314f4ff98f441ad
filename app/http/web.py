"""Rendering: a full page, or only the region an HTMX request asked for, from one page template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.plugins.htmx import ClientRedirect
from litestar.response import File, Redirect
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from app import i18n
from app.actions.notifications import unread_count
from app.actions.proposals import proposal_author, proposal_status, rule_text, vote_label
from app.domain.cases import (
    CATEGORIES,
    case_status_label,
    category_label,
    claim_status_label,
    deadline_label,
    todo_label,
)
from app.domain.evidence import format_size
from app.domain.timeline import phase_title
from app.http.auth import cached_user, current_user
from app.platform.templating import environment

# A row id from a URL: PostgreSQL's serial is 32-bit, so anything outside is refused (400) before any query.
RowId = Annotated[int, PathParameter(gt=0, le=2**31 - 1)]

# Labels (sizes, statuses, categories, proposals): Jinja globals, set once here rather than passed by every route, so
# that a page, its HTMX fragments and its error pages all have them. Dates and amounts are app.platform.templating's.
TEMPLATE_HELPERS: dict[str, Any] = {
    "format_size": format_size,
    "categories": CATEGORIES, "category_label": category_label, "case_status_label": case_status_label,
    "claim_status_label": claim_status_label, "todo_label": todo_label, "deadline_label": deadline_label,
    "proposal_status": proposal_status, "proposal_author": proposal_author, "rule_text": rule_text,
    "choice_label": vote_label, "phase_title": phase_title,
}
environment.globals.update(TEMPLATE_HELPERS)


def csrf_token_of(request: Request[Any, Any, Any]) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An HTMX request for one region (boosted navigation still gets whole pages)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


async def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """plain_context, plus the unread count of the header's badge (one indexed count) for a logged-in user."""
    user = await current_user(request)
    context = plain_context(request)
    if user is not None:
        context["unread_notifications"] = await unread_count(user.id)
    return context


def plain_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every template needs; the user only if already loaded (error pages render synchronously)."""
    token = csrf_token_of(request)
    return {
        "request": request,
        "user": cached_user(request),
        "lang": i18n.current_language(),
        "csrf_input": Markup('<input type="hidden" name="_csrf_token" value="{}">').format(escape(token)),
        "csrf_value": token,
    }


def render_block(template_name: str, block_name: str, context: dict[str, Any]) -> str:
    """Render one named block of a page template (the jinja2-fragments idea, in five lines)."""
    template = environment.get_template(template_name)
    return "".join(template.blocks[block_name](template.new_context(context)))


async def page(
    request: Request[Any, Any, Any], template_name: str, *, block: str | None = None, status_code: int = 200,
    **context: Any,
) -> Response[str]:
    """The whole page, or just `block` when HTMX asks for that region."""
    full_context = await base_context(request) | context
    if block and wants_fragment(request):
        html = render_block(template_name, block, full_context)
    else:
        html = environment.get_template(template_name).render(full_context)
    return Response(html, media_type=MediaType.HTML, status_code=status_code,
                    headers={"Vary": "HX-Request", "Cache-Control": "no-store"})


def path_for(request: Request[Any, Any, Any], route: str, /, *, query: str = "", fragment: str = "",
             **params: Any) -> str:
    """The path of the route named `route` (what `url_for` gives templates), then `?query` and `#fragment`."""
    path: str = request.app.route_reverse(route, **params)
    return path + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def redirect_to(request: Request[Any, Any, Any], route: str, /, *, query: str = "", fragment: str = "",
                **params: Any) -> Response[Any]:
    """redirect() to the route named `route`, e.g. `redirect_to(request, "show_claim", claim_id=7, query="saved=1")`."""
    return redirect(request, path_for(request, route, query=query, fragment=fragment, **params))


def redirect(request: Request[Any, Any, Any], path: str) -> Response[Any]:
    """After a successful POST: a 303 for plain forms, a client-side redirect for region requests."""
    if wants_fragment(request):
        response = ClientRedirect(redirect_to=path)
        response.status_code = 200  # HTMX follows HX-Redirect only on a 2xx; a POST handler would say 201
        return response
    return Redirect(path=path, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only local paths may follow a login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return default
    return value


def stored_file(path: Path, filename: str, media_type: str) -> File:
    """A stored file (evidence, attachment, produced document) as a private download; 404 if it is missing."""
    if not path.is_file():
        raise NotFoundException()
    return File(path=path, filename=filename, media_type=media_type, content_disposition_type="attachment",
                headers={"Cache-Control": "private, no-store"})
