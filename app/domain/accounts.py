"""Pure account rules: what a valid e-mail, display name and password are. No I/O but the shipped list."""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from app.i18n import _

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256  # argon2 handles more, but nobody types more and it bounds the work per request
DISPLAY_NAME_MAX_LENGTH = 80
EMAIL_MAX_LENGTH = 254
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_TRAILING_SIMPLE = re.compile(r"[\d\W_]+$")


@dataclass
class FormErrors:
    """Errors per field, in the user's language, ready for the template."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def normalize_email(raw: str) -> str | None:
    """The canonical form of an e-mail address, or None when it is not one."""
    raw = (raw or "").strip()
    if not raw or len(raw) > EMAIL_MAX_LENGTH or _CONTROL_CHARS.search(raw):
        return None
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def clean_display_name(raw: str) -> str:
    """Display names are single-line text, spaces collapsed, Unicode-normalized."""
    text = unicodedata.normalize("NFC", raw or "")
    text = _CONTROL_CHARS.sub(" ", text)
    return " ".join(text.split())


def check_display_name(name: str, errors: FormErrors, field_name: str = "display_name") -> None:
    if not name:
        errors.add(field_name, _("Please enter the name other participants will see."))
    elif len(name) > DISPLAY_NAME_MAX_LENGTH:
        errors.add(field_name, _("The name may have at most 80 characters."))


def is_common_password(password: str) -> bool:
    """In the shipped list of breached passwords, alone or with digits/symbols added at the end."""
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    stem = _TRAILING_SIMPLE.sub("", lowered)
    return len(stem) >= 4 and stem in listed


def check_password(
    password: str, confirmation: str | None, errors: FormErrors, *, email: str = "", name: str = "",
    field_name: str = "password",
) -> None:
    """The password rules: long enough, not absurdly long, not common, not one's own e-mail or name."""
    if len(password) < PASSWORD_MIN_LENGTH:
        errors.add(field_name, _("The password must have at least 12 characters."))
        return
    if len(password) > PASSWORD_MAX_LENGTH:
        errors.add(field_name, _("The password may have at most 256 characters."))
        return
    lowered = password.lower()
    if len(set(password)) < 4 or is_common_password(password):
        errors.add(field_name, _("This password is too common: it appears in lists of leaked passwords."))
        return
    local_part = email.split("@", 1)[0].lower()
    if (len(local_part) >= 4 and local_part in lowered) or (len(name) >= 4 and name.lower() in lowered):
        errors.add(field_name, _("The password must not contain your e-mail address or your name."))
        return
    if confirmation is not None and confirmation != password:
        errors.add(f"{field_name}_confirm", _("The two passwords do not match."))
