"""Documents the platform produces (agreements, records, certificates, invoices, bundles): stored under
VAR_DIR/documents by a random name, with the SHA-256 of the exact bytes stored (the fingerprint shown to users).

A stored name is derived from the document's identity (`key`), so producing the same document twice (a retried
job) writes the same file name: the database row, unique per document, decides which one counts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from litestar.exceptions import NotFoundException

from app.settings import Settings, get_settings


@dataclass(frozen=True)
class StoredDocument:
    stored_name: str
    sha256: str
    size_bytes: int


def documents_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "documents"


def document_path(stored_name: str, settings: Settings | None = None) -> Path:
    if not stored_name or not stored_name.isalnum():  # stored names are ours (hex): never a path
        raise NotFoundException()
    return documents_dir(settings) / stored_name


def stored_name_for(key: str, settings: Settings | None = None) -> str:
    """A name nobody can guess (keyed with the secret) but the same for the same document key."""
    secret = (settings or get_settings()).secret_key.encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:48]


def store_document(key: str, content: bytes, settings: Settings | None = None) -> StoredDocument:
    """Write `content` atomically (temporary file, fsync, rename) and return its name and fingerprint."""
    folder = documents_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = stored_name_for(key, settings)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return StoredDocument(stored_name=name, sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content))


def read_document(stored_name: str, settings: Settings | None = None) -> bytes:
    path = document_path(stored_name, settings)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundException() from None
