"""Evidence files: the type comes from the content, names are made safe."""

from __future__ import annotations

import pytest

from app.domain.evidence import format_size, safe_filename, sniff_content_type
from tests.factories import EXE_BYTES, JPEG_BYTES, pdf_bytes, png_bytes


@pytest.mark.parametrize(("content", "expected"), [
    (pdf_bytes(), "application/pdf"),
    (JPEG_BYTES, "image/jpeg"),
    (png_bytes(), "image/png"),
    (EXE_BYTES, None),  # an executable, whatever its name
    (b"\x7fELF\x02\x01\x01", None),
    (b"<html><script>alert(1)</script>", None),
    (b"GIF89a", None),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, None),  # a PNG signature without its header chunk
    (b"", None),
    (b" %PDF-1.4", None),  # junk before the signature: refused, no polyglots
])
def test_type_is_read_from_the_content(content: bytes, expected: str | None) -> None:
    assert sniff_content_type(content[:16]) == expected


@pytest.mark.parametrize(("original", "content_type", "expected"), [
    ("facture.pdf", "application/pdf", "facture.pdf"),
    ("../../etc/passwd.pdf", "application/pdf", "passwd.pdf"),
    ("C:\\Users\\léa\\Reçu EDF.PDF", "application/pdf", "Reçu EDF.pdf"),
    ("photo.jpeg", "image/jpeg", "photo.jpg"),
    ("virus.exe", "application/pdf", "virus.pdf"),  # the extension always says what the content is
    ("facture\u202egpj.exe", "application/pdf", "facture gpj.pdf"),  # a right-to-left override trick
    ('a"b<c>d|e?.png', "image/png", "a b c d e.png"),
    ("....", "image/png", "document.png"),
    ("", "application/pdf", "document.pdf"),
    ("../virus.exe", "", "virus.exe"),  # type unknown: named as sent, for the error message
    ("\x00\r\nSet-Cookie: x.pdf", "application/pdf", "Set-Cookie x.pdf"),
])
def test_names_are_made_safe(original: str, content_type: str, expected: str) -> None:
    assert safe_filename(original, content_type) == expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_filename("a" * 500 + ".pdf", "application/pdf")
    assert len(name) <= 100 and name.endswith(".pdf")


def test_sizes() -> None:
    assert format_size(850) == "850 B" and format_size(12 * 1024) == "12 KB" and format_size(3_565_158) == "3.4 MB"
