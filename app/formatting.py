"""Display formatting for pages, mails and PDFs (dates, money) in the current language; registered once as Jinja
filters and globals in `app.http.web`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

from app import i18n

PARIS = ZoneInfo("Europe/Paris")
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def euros(cents: int | None) -> str:
    locale = BABEL_LOCALES.get(i18n.current_language(), "fr_FR")
    return format_currency(Decimal(cents or 0) / 100, "EUR", locale=locale)


def day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return format_date(value, "long", locale=BABEL_LOCALES.get(i18n.current_language(), "fr_FR"))


def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    locale = BABEL_LOCALES.get(i18n.current_language(), "fr_FR")
    return format_datetime(value, "d MMMM y, HH:mm", tzinfo=PARIS, locale=locale)


def iso_day(value: datetime) -> str:
    """A date for notification texts, which are the same for every recipient: unambiguous ISO."""
    return value.astimezone(PARIS).date().isoformat()
