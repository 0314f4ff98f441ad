"""The pure account rules, table-driven."""

from __future__ import annotations

import pytest

from app.domain.accounts import (
    FormErrors,
    check_display_name,
    check_password,
    clean_display_name,
    is_common_password,
    normalize_email,
)
from app.i18n import language_of


@pytest.mark.parametrize(("raw", "expected"), [
    ("Alice@Example.org", "alice@example.org"),
    ("  bob@example.org  ", "bob@example.org"),
    ("élodie@exemple.fr", "élodie@exemple.fr"),
    ("no-at-sign", None),
    ("two@@example.org", None),
    ("x@example.org\r\nBcc: y@example.org", None),
    ("a" * 250 + "@example.org", None),
    ("", None),
    ("user@localhost", None),
])
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(("password", "confirmation", "error_field"), [
    ("a quiet river at dawn", "a quiet river at dawn", None),
    ("short", "short", "password"),                      # under 12 characters
    ("elevenchars", "elevenchars", "password"),          # 11
    ("password1234", "password1234", "password"),        # listed, with digits added
    ("azertyuiop123", "azertyuiop123", "password"),      # French keyboard walk, listed
    ("1234567890123", "1234567890123", "password"),      # listed
    ("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "password"), # one repeated character
    ("x" * 257, "x" * 257, "password"),                  # too long
    ("a quiet river at dawn", "a quiet river at dusk", "password_confirm"),
    ("nina.roux is my password", None, "password"),      # contains the e-mail's local part
])
def test_password_rules(password: str, confirmation: str | None, error_field: str | None) -> None:
    errors = FormErrors()
    check_password(password, confirmation, errors, email="nina.roux@example.org", name="Nina")
    assert (next(iter(errors.fields)) if errors else None) == error_field


def test_common_password_list_is_shipped_and_large() -> None:
    assert is_common_password("motdepasse") or is_common_password("soleil")
    assert is_common_password("Password") and is_common_password("qwerty123!")
    assert not is_common_password("a quiet river at dawn")


@pytest.mark.parametrize(("raw", "cleaned", "valid"), [
    ("  Nina   Roux ", "Nina Roux", True),
    ("Line\nbreak\ttab", "Line break tab", True),
    ("", "", False),
    ("\x00\x01", "", False),
    ("N" * 81, "N" * 81, False),
])
def test_display_name(raw: str, cleaned: str, valid: bool) -> None:
    errors = FormErrors()
    name = clean_display_name(raw)
    check_display_name(name, errors)
    assert name == cleaned and (not errors) is valid


def test_messages_are_in_the_active_language() -> None:
    with language_of("fr"):
        errors = FormErrors()
        check_password("short", None, errors)
        assert "12 caractères" in errors.get("password")
    with language_of("en"):
        errors = FormErrors()
        check_password("short", None, errors)
        assert "12 characters" in errors.get("password")
