"""French-first translations: English msgids, a French catalog read from its .po file at start-up."""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "lang"
CATALOG_DIR = Path(__file__).parent / "translations"

_current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The catalog for a language; msgids are English, so English needs none."""
    po_path = CATALOG_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not po_path.exists():
        return stdlib_gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return stdlib_gettext.GNUTranslations(buffer)


def normalize_language(value: str | None) -> str:
    """A supported language code, French when unknown."""
    value = (value or "").strip().lower()[:8]
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return _current_language.get()


def activate(language: str | None) -> str:
    """Make `language` the one of the current request (or task); returns the code applied."""
    code = normalize_language(language)
    _current_language.set(code)
    return code


@contextmanager
def language_of(language: str | None) -> Iterator[str]:
    """Temporarily switch language, e.g. to write a mail in its recipient's language."""
    token = _current_language.set(normalize_language(language))
    try:
        yield _current_language.get()
    finally:
        _current_language.reset(token)


def gettext(message: str) -> str:
    return translations(_current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current_language.get()).ngettext(singular, plural, n)


_ = gettext
