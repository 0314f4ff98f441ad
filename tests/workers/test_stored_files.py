"""Stored files and the scheduler: the hourly sweep removes files no row references (and stale `.part` files),
only when older than an hour; a finalization whose documents cannot be written fails, is retried by Dramatiq,
and completes once the disk has room again — nothing is marked done in between.

The disk-full fault is real (tests/storage_faults.py): a 1 MB tmpfs mounted over VAR_DIR/documents and filled
up, which gives ENOSPC (the tests run as root here; without the right to mount, that test is skipped).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from piccolo.table import Table

import app.tables
from app.actions.agreements import do_finalize_proposal
from app.actions.claims import evidence_dir
from app.actions.room import attachments_dir
from app.actions.stored_files import do_sweep_orphan_files, stored_folders
from app.platform.documents import document_path, documents_dir
from app.platform.storage import StorageUnavailable, write_file
from app.tables import Agreement, Certificate, CollectiveRecord, Evidence, Proposal
from tests.factories import make_account, make_proposal_world, reload_proposal
from tests.factories.cases import make_case
from tests.storage_faults import faulty_folder, temporary_files
from tests.workers.test_finalize import QUEUE, FinalizeJobs, counts, decide, jobs  # noqa: F401
from tests.workers.worker import running_worker
from workers.agreements import finalize_proposal
from workers.scheduler import sweep_once


def aged(path: Path, age: timedelta) -> Path:
    """Give a file the modification time it would have if written `age` ago."""
    moment = time.time() - age.total_seconds()
    os.utime(path, (moment, moment))
    return path


def stored(folder: Path, age: timedelta, name: str | None = None) -> Path:
    path = folder / (name or secrets.token_hex(16))
    write_file(path, b"%PDF-1.4 stored file")
    return aged(path, age)


OLD, YOUNG = timedelta(hours=2), timedelta(minutes=10)


async def test_the_sweep_removes_old_orphans_and_stale_part_files_only() -> None:
    # Given, in each folder, files with and without a row, old and young
    consumer = await make_account()
    case, claim = await make_case(consumer)
    kept_evidence = stored(evidence_dir(), OLD)
    await Evidence.insert(Evidence(claim=claim.id, kind="evidence", original_name="facture.pdf",
                                   stored_name=kept_evidence.name, content_type="application/pdf", size_bytes=20,
                                   sha256=hashlib.sha256(b"").hexdigest()))
    kept_document = stored(documents_dir(), OLD)
    await Certificate.insert(Certificate(case=case.id, claim=claim.id, consumer=consumer.user.id, reason="refused",
                                         mediation_ended_at=datetime.now(UTC), stored_name=kept_document.name,
                                         sha256=hashlib.sha256(b"").hexdigest()))
    orphans = [stored(evidence_dir(), OLD), stored(attachments_dir(), OLD), stored(documents_dir(), OLD)]
    young = [stored(evidence_dir(), YOUNG), stored(attachments_dir(), YOUNG), stored(documents_dir(), YOUNG)]
    stale_part = stored(attachments_dir(), OLD, f"{secrets.token_hex(16)}.1a2b3c4d.part")
    stale_legacy_temp = stored(documents_dir(), OLD, f".tmp-{secrets.token_hex(4)}")
    young_part = stored(evidence_dir(), YOUNG, f"{secrets.token_hex(16)}.5e6f7a8b.part")
    not_ours = stored(evidence_dir(), OLD, "README.txt")

    # When the sweep walks
    removed = await do_sweep_orphan_files(force=True)

    # Then old orphans and stale temporary files are gone; rows' files, young files and others' files stay
    assert removed >= 5
    for path in [*orphans, stale_part, stale_legacy_temp]:
        assert not path.exists(), path
    for path in [kept_evidence, kept_document, *young, young_part, not_ours]:
        assert path.exists(), path
    not_ours.unlink()
    young_part.unlink()

    # and it walks at most once an hour, though the scheduler calls it every minute
    later_orphan = stored(evidence_dir(), OLD)
    counts = await sweep_once()
    assert counts["orphan_files_removed"] == 0 and later_orphan.exists()
    assert await do_sweep_orphan_files(force=True) >= 1 and not later_orphan.exists()


def test_the_sweep_knows_every_column_that_names_a_stored_file() -> None:
    # Every table column that holds a file's name (stored_name, or anything named for a file or path)
    named_files = {
        f"{table._meta.tablename}.{column._meta.name}"
        for table in vars(app.tables).values() if isinstance(table, type) and issubclass(table, Table)
        for column in table._meta.columns
        if any(word in column._meta.name for word in ("stored", "file", "path"))
    }
    listed = {f"{column._meta.table._meta.tablename}.{column._meta.name}"
              for columns in stored_folders().values() for column in columns}
    assert named_files == listed
    assert len(listed) == 6  # evidence, room attachments, agreements, records, certificates, invoices


async def test_a_finalization_on_a_full_disk_is_retried_and_completes_once_space_is_freed(
    jobs: FinalizeJobs, monkeypatch: pytest.MonkeyPatch,  # noqa: F811  (the fixture from test_finalize)
) -> None:
    # Given a proposal past its deadline (one accepts, one refuses, one is silent), and a full documents disk
    world = await make_proposal_world(3)
    await decide(world, ["accept", "refuse", None])
    assert world.proposal is not None
    await Proposal.update({Proposal.decide_by: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Proposal.id == world.proposal.id)
    monkeypatch.setitem(finalize_proposal.options, "min_backoff", 300)
    monkeypatch.setitem(finalize_proposal.options, "max_backoff", 1_000)
    monkeypatch.setitem(finalize_proposal.options, "max_retries", 50)
    with faulty_folder(documents_dir()) as disk:
        disk.fill()

        # When finalization runs, it fails with StorageUnavailable and nothing is marked done
        with pytest.raises(StorageUnavailable) as raised:
            await do_finalize_proposal(world.proposal.id)
        assert raised.value.reason == "full"
        assert (await reload_proposal(world.proposal)).status == "locked"
        assert await counts(world) == {"agreements": [], "certificates": [], "records": 0}
        async with running_worker(QUEUE, only_this_queue=True):
            finalize_proposal.send(world.proposal.id)
            deadline = time.monotonic() + 30
            while jobs.failures < 2:  # the job fails, and Dramatiq tries it again
                assert time.monotonic() < deadline, "the job never failed"
                await asyncio.sleep(0.05)
            assert (await reload_proposal(world.proposal)).status == "locked"
            assert temporary_files(disk.folder) == []

            # and once space is freed, a retry completes it
            disk.free()
            await jobs.settle()
        assert (await reload_proposal(world.proposal)).status == "finalized"
        claims = [claim.id for claim in world.claims]
        assert await counts(world) == {"agreements": [claims[0]],
                                       "certificates": sorted([(claims[1], "refused"), (claims[2], "silent")]),
                                       "records": 1}
        names = [row["stored_name"] for table in (Agreement, Certificate, CollectiveRecord)
                 for row in await table.select(table.stored_name).where(table.case == world.case_id)]
        assert all(document_path(name).is_file() for name in names)
        assert temporary_files(disk.folder) == []
    assert all(document_path(name).is_file() for name in names)  # copied back beneath the tmpfs
