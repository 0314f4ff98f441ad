"""Writing the files kept under VAR_DIR (evidence, room attachments, produced documents): whole or absent.

A file is written under a temporary `.part` name in its own folder, fsynced, then renamed into place. Any OS
error on the way (disk full, quota, read-only, permissions, I/O) removes the `.part` and becomes
`StorageUnavailable`, a domain error: the web layer answers 507/503 in the visitor's language (app.http.errors), a
worker's job fails and Dramatiq retries it. Callers write a file before committing the row that names it and
remove it when that row is not committed, so a row never lacks its file; a file left without a row (a crash in
between) is removed by the hourly sweep (app.actions.stored_files).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger("clf.storage")

PART_SUFFIX = ".part"
LEGACY_TEMP_PREFIX = ".tmp-"  # what app.platform.documents wrote its temporary files as before this module
FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
READONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


class StorageUnavailable(Exception):
    """A stored file could not be written; `reason` is "full", "readonly" or "other"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"storage unavailable ({reason}){': ' + detail if detail else ''}")
        self.reason = reason


def reason_for(error: OSError) -> str:
    if error.errno in FULL_ERRNOS:
        return "full"
    if error.errno in READONLY_ERRNOS:
        return "readonly"
    return "other"


def is_temporary(name: str) -> bool:
    """A file name this module (or its predecessor) writes before the rename."""
    return name.endswith(PART_SUFFIX) or name.startswith(LEGACY_TEMP_PREFIX)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` at `path` atomically; raises StorageUnavailable (nothing left behind) on any OS error."""
    # A name of its own per write: two jobs producing the same document never share a temporary file.
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        remove_files([temporary])
        logger.warning("cannot store %s: %s", path, error)
        raise StorageUnavailable(reason_for(error), str(error)) from error
    except BaseException:
        remove_files([temporary])
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a row committed after a power cut must find its file); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_files(paths: Iterable[Path]) -> None:
    """Best effort: a file that cannot be removed now (read-only disk) is left to the sweep."""
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.warning("cannot remove %s: %s", path, error)
