"""The sweep of stored files no row references: what a crash between writing a file and committing its row
(kill -9 during an upload, a job that died) leaves under VAR_DIR, and stale `.part` files.

Every folder of stored files and every column that names a file in it are listed in `stored_folders()`; a file
is removed only when it is older than an hour (an upload in progress, or a row not yet committed, is younger)
and no listed column names it. It walks the folders at most once an hour, though the scheduler calls it every
minute.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from piccolo.columns import Column

from app.actions.claims import evidence_dir
from app.actions.room import attachments_dir
from app.platform.documents import documents_dir
from app.platform.storage import is_temporary
from app.settings import Settings, get_settings
from app.tables import Agreement, Certificate, CollectiveRecord, Evidence, Fee, MessageAttachment

logger = logging.getLogger("clf.storage")

MIN_AGE = timedelta(hours=1)
SWEEP_EVERY = timedelta(hours=1)
BATCH = 500  # names per `IN (...)` query: well under SQLite's bound-parameter limit
_last_walk: float | None = None  # monotonic time of this process's last walk


def stored_folders(settings: Settings | None = None) -> dict[Path, list[Column]]:
    """Each folder of stored files, with every column whose value is the name of a file in it."""
    settings = settings or get_settings()
    return {
        evidence_dir(settings): [Evidence.stored_name],
        attachments_dir(settings): [MessageAttachment.stored_name],
        documents_dir(settings): [Agreement.stored_name, CollectiveRecord.stored_name, Certificate.stored_name,
                                  Fee.stored_name],
    }


def _old_files(folder: Path, cutoff: float) -> tuple[list[Path], list[str]]:
    """(stale temporary files, names of stored files) last written before `cutoff`; other entries are left."""
    temporary: list[Path] = []
    stored: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return temporary, stored
    except OSError as error:
        logger.warning("cannot list %s: %s", folder, error)
        return temporary, stored
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
        except OSError:
            continue
        if is_temporary(entry.name):
            temporary.append(Path(entry.path))
        elif entry.name.isalnum():  # the names we give (hex); anything else is not ours to remove
            stored.append(entry.name)
    return temporary, stored


def _remove_if_still_old(paths: Sequence[Path], cutoff: float) -> int:
    """Remove each file unless it was written again meanwhile (a retried job rewrites a document's name)."""
    removed = 0
    for path in paths:
        try:
            if path.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as error:  # a read-only disk: try again at the next walk
            logger.warning("cannot remove %s: %s", path, error)
    return removed


def _batches(names: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(names), BATCH):
        yield names[start:start + BATCH]


async def _referenced(columns: list[Column], names: list[str]) -> set[str]:
    found: set[str] = set()
    for column in columns:
        table = column._meta.table
        rows = await table.select(column.as_alias("name")).where(column.is_in(names))
        found.update(row["name"] for row in rows)
    return found


async def do_sweep_orphan_files(now: datetime | None = None, *, force: bool = False) -> int:
    """Remove stored files no row references and stale `.part` files, all older than an hour; returns how many.

    Walks at most once per SWEEP_EVERY in this process (the first call walks), unless `force`."""
    global _last_walk
    clock = time.monotonic()
    if not force and _last_walk is not None and clock - _last_walk < SWEEP_EVERY.total_seconds():
        return 0
    _last_walk = clock
    cutoff = ((now or datetime.now(UTC)) - MIN_AGE).timestamp()
    removed = 0
    for folder, columns in stored_folders().items():
        temporary, names = await asyncio.to_thread(_old_files, folder, cutoff)
        removed += await asyncio.to_thread(_remove_if_still_old, temporary, cutoff)
        for batch in _batches(names):
            referenced = await _referenced(columns, batch)
            orphans = [folder / name for name in batch if name not in referenced]
            if orphans:
                logger.info("removing %d stored file(s) without a row in %s", len(orphans), folder)
                removed += await asyncio.to_thread(_remove_if_still_old, orphans, cutoff)
    return removed
