"""Evidence files: which types are accepted (read from the content, never the name), sizes, safe names. No I/O."""

from __future__ import annotations

import re
import unicodedata

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_CLAIM_BYTES = 50 * 1024 * 1024
MAX_FILES_PER_CLAIM = 40
# What one upload request may carry: up to twice the file limit, so that a file somewhat too large still
# reaches the form and gets its precise message ("larger than 10 MB"); beyond, a plain 413.
MAX_UPLOAD_REQUEST_BYTES = 2 * MAX_FILE_BYTES + 64 * 1024
NAME_MAX = 100
SNIFF_BYTES = 16

KINDS = ("evidence", "complaint")  # "complaint": the proof of the prior written complaint (L612-2)
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*;%\u200b-\u200f\u202a-\u202e\u2066-\u2069]')


def sniff_content_type(head: bytes) -> str | None:
    """PDF, JPEG or PNG, from the file's first bytes; None for anything else (an executable renamed .pdf…)."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "image/png"
    return None


def safe_filename(original: str, content_type: str) -> str:
    """A name safe to show and to send back: no folders, no control or reserved characters, the right extension.

    "../../etc/passwd.pdf" → "passwd.pdf"; "facture\u202egpj.exe" (a bidi trick) → "facture gpj.pdf". With an
    unknown `content_type` (a file about to be refused) the name keeps its own extension, for the message.
    """
    name = unicodedata.normalize("NFC", original or "")
    name = re.split(r"[/\\]", name)[-1]  # browsers send a bare name; anything before a separator is dropped
    name = " ".join(_UNSAFE.sub(" ", name).split()).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = stem.strip(" .")[: NAME_MAX - 5] or "document"
    if content_type in EXTENSIONS:
        return stem + EXTENSIONS[content_type]
    return stem + ("." + extension[:8] if extension else "")  # type unknown (a refused file): as it was named


def format_size(size: int) -> str:
    """A short, language-neutral size: 850 B, 12 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    return f"{size / (1024 * 1024):.1f} MB"
