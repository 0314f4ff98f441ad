"""Documents the platform produces (agreements, records, certificates, invoices, bundles): stored under
VAR_DIR/documents by a random name, with the SHA-256 of the exact bytes stored (the fingerprint shown to users).

A stored name is derived from the document's identity (`key`), so producing the same document twice (a retried
job) writes the same file name: the database row, unique per document, decides which one counts.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from app.platform.storage import write_file
from app.settings import Settings, get_settings


@dataclass(frozen=True)
class StoredDocument:
    stored_name: str
    sha256: str
    size_bytes: int


def documents_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "documents"


def document_path(stored_name: str, settings: Settings | None = None) -> Path:
    """Where a stored document is; FileNotFoundError for a name that cannot be one of ours."""
    if not stored_name or not stored_name.isalnum():  # stored names are ours (hex): never a path
        raise FileNotFoundError(stored_name)
    return documents_dir(settings) / stored_name


def stored_name_for(key: str, settings: Settings | None = None) -> str:
    """A name nobody can guess (keyed with the secret) but the same for the same document key."""
    secret = (settings or get_settings()).secret_key.encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:48]


def store_document(key: str, content: bytes, settings: Settings | None = None) -> StoredDocument:
    """Write `content` atomically (app.platform.storage) and return its name and fingerprint; raises StorageUnavailable.

    Its row is inserted after, and a file whose row never comes is left to the sweep: the same name may already
    be the file of a committed row (a retried job), so it is not removed here."""
    name = stored_name_for(key, settings)
    write_file(documents_dir(settings) / name, content)
    return StoredDocument(stored_name=name, sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content))


def read_document(stored_name: str, settings: Settings | None = None) -> bytes:
    """The document's bytes; FileNotFoundError when there is no such document."""
    return document_path(stored_name, settings).read_bytes()
