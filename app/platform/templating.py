"""The one Jinja environment, shared by pages, fragments and mails."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from app import formatting, i18n

TEMPLATE_DIR = Path(__file__).parent.parent / "templates"
STATIC_DIR = Path(__file__).parent.parent / "static"
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def autolink(text: str) -> Markup:
    """Escape plain text, keep its line breaks, and make its http(s) URLs links (never any other HTML)."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text or ""):
        parts.append(str(escape(text[position:match.start()])))
        url = escape(match.group(0))
        parts.append(f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>')
        position = match.end()
    parts.append(str(escape((text or "")[position:])))
    html = "".join(parts).replace("\n", "<br>\n")
    return Markup(html)  # noqa: S704  (every piece above was escaped)


@cache
def static_url(path: str) -> str:
    """/static/<path>?v=<content hash>: browsers may then keep the file for a year."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    return f"/static/{path}?v={digest}"


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html", "xml"), disabled_extensions=("txt",),
                                      default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["autolink"] = autolink
    # Links are built by route name: create_app's JinjaTemplateEngine adds Litestar's `url_for('show_case',
    # case_id=…)`, which reverses through the `request` in the context (app.http.web.plain_context puts it there).
    # Dates and amounts, formatted the same way in pages, mails and PDFs (app.formatting); the labels built on
    # actions and domain rules are added by app.http.web (TEMPLATE_HELPERS).
    env.globals.update(euros=formatting.euros, day=formatting.day, moment=formatting.moment)
    env.globals["static"] = static_url
    env.globals["current_language"] = i18n.current_language
    env.globals["languages"] = i18n.LANGUAGES
    # Form macros as globals, so a block rendered on its own (an HTMX fragment) has them too.
    env.globals["field"] = env.get_template("_forms.html").module.field  # type: ignore[attr-defined]
    env.globals["textarea"] = env.get_template("_forms.html").module.textarea  # type: ignore[attr-defined]
    return env


environment = _make_environment()


def render(template_name: str, **context: Any) -> str:
    """Render a template outside a request (mails), in the language currently active."""
    return environment.get_template(template_name).render(**context)
