"""Every route has a name, and templates build local links from those names with url_for, never a literal path."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.handlers import HTTPRouteHandler

from app.asgi import create_app

TEMPLATES = Path(__file__).parent.parent / "app" / "templates"
# A local path written out: an attribute (href="/…", action="/…", hx-get="/…") or a Jinja string ("/…").
LITERAL_PATH = re.compile(r"""["']/(?!/)""")
URL_FOR = re.compile(r"""url_for\(\s*["']([^"']+)["']""")
LEFT_LITERAL = {
    # The live stream renders it once per perspective for every reader, outside any request (tests/server renders
    # it with no app at all): url_for has no request there to reverse the route names with.
    "room/_message.html",
}
NAMED_OTHERWISE = {
    # The stream route's name predates this rule; tests/server/test_realtime_units.py looks for it by that name.
    "stream_space": "space_stream",
}


def _our_handlers() -> list[HTTPRouteHandler]:
    """The handlers of app/routes (not Litestar's own OPTIONS handlers or the static files router)."""
    app = create_app()
    handlers = {handler for route in app.routes for handler in getattr(route, "route_handlers", [])
                if handler.fn.__module__.startswith("app.routes.")}
    return sorted(handlers, key=lambda handler: handler.handler_id)


def test_every_route_is_named_after_its_handler() -> None:
    handlers = _our_handlers()
    assert len(handlers) > 100
    unnamed = [handler.handler_id for handler in handlers if not handler.name]
    assert unnamed == []
    misnamed = {handler.fn.__name__: handler.name for handler in handlers
                if handler.name != NAMED_OTHERWISE.get(handler.fn.__name__, handler.fn.__name__)}
    assert misnamed == {}
    names = [str(handler.name) for handler in handlers]
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_templates_have_no_literal_local_path() -> None:
    found = {}
    for template in sorted(TEMPLATES.rglob("*.html")):
        name = template.relative_to(TEMPLATES).as_posix()
        lines = [number for number, line in enumerate(template.read_text().splitlines(), 1)
                 if LITERAL_PATH.search(line)]
        if lines and name not in LEFT_LITERAL:
            found[name] = lines
    assert found == {}


def test_every_name_templates_ask_url_for_is_a_route() -> None:
    names = {handler.name for handler in _our_handlers()}
    asked = {match for template in TEMPLATES.rglob("*.html") for match in URL_FOR.findall(template.read_text())}
    assert len(asked) > 80
    assert sorted(asked - names) == []
