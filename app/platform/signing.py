"""Signed, expiring values for links sent by e-mail (HMAC-SHA256 with the app's secret key).

The signature binds a purpose, a value (e.g. an invitation token) and an expiry time, so a link cannot be
re-used for another purpose, have its expiry pushed back, or be forged without the secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

SIGNATURE_LENGTH = 43  # base64url of 32 bytes, without padding


def sign(purpose: str, value: str, expires: int, secret: str) -> str:
    """The signature of `value` for `purpose`, valid until `expires` (a Unix time in seconds)."""
    message = f"{purpose}\n{value}\n{int(expires)}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def parse_expiry(raw: str | None) -> int | None:
    """An expiry read from a URL: a plain positive integer of sane size, else None."""
    text = (raw or "").strip()
    if not text or len(text) > 12 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def signature_matches(purpose: str, value: str, expires: int, signature: str, secret: str) -> bool:
    """Whether the signature is ours, whatever the time (constant-time comparison)."""
    if not signature or len(signature) != SIGNATURE_LENGTH or not signature.isascii():
        return False
    return hmac.compare_digest(sign(purpose, value, expires, secret), signature)


def verify(purpose: str, value: str, expires: int, signature: str, secret: str, now: float | None = None) -> bool:
    """A genuine signature that has not expired yet."""
    current = time.time() if now is None else now
    return signature_matches(purpose, value, expires, signature, secret) and current < expires
