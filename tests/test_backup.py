"""Backups: an archive taken while the app writes restores every acknowledged row and file; a damaged or hostile
archive restores nothing.

Backup, restore and the writer run as real processes on their own SQLite VAR_DIR (DATABASE_URL removed), so this
test is the same on the PostgreSQL run.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cessez-le-feu.sqlite3"


def sqlite_env(var_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    return env | {"VAR_DIR": str(var_dir), "EMBEDDED_WORKER": "0"}


def run(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=sqlite_env(var_dir), text=True,
                          capture_output=True, timeout=180)


def migrated(var_dir: Path) -> Path:
    result = run(var_dir, "app.cli", "migrate")
    assert result.returncode == 0, result.stderr
    return var_dir


def sha256(path: Path) -> str | None:
    """The file's SHA-256, None when it is missing."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def the_archive(var_dir: Path) -> Path:
    archives = sorted((var_dir / "backups").glob("clf-backup-*.tar.gz"))
    assert len(archives) == 1, archives
    return archives[0]


def members_of(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {info.name: tar.extractfile(info).read() for info in tar.getmembers()}  # type: ignore[union-attr]


def write_archive(path: Path, members: dict[str, bytes], *, tweak: Callable[[tarfile.TarInfo], None] | None = None
                  ) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if tweak is not None:
                tweak(info)
            tar.addfile(info, io.BytesIO(data))
    return path


def nothing_restored(var_dir: Path) -> bool:
    """Only the secret key may be there: loading the settings generates one in an empty VAR_DIR."""
    return not var_dir.exists() or {path.name for path in var_dir.iterdir()} <= {"secret_key"}


# --- the writer: the app's write path (file first, then the row that names it), acknowledged after commit ------

def write_evidence_until(stop_file: str) -> None:
    """Run in its own process: store evidence files with their rows until `stop_file` exists; print
    `id stored_name sha256` once each row is committed."""
    asyncio.run(_write_evidence_until(Path(stop_file)))


async def _write_evidence_until(stop_file: Path) -> None:
    import secrets

    from app.actions.claims import evidence_path
    from app.platform.db import engine, prepare_sqlite, write_transaction
    from app.platform.storage import write_file
    from app.tables import Evidence, OutboxMail, Role
    from tests.factories import make_account, pdf_bytes
    from tests.factories.cases import make_case

    await prepare_sqlite(engine())  # WAL, as the running app has it
    _, claim = await make_case(await make_account(Role.consumer))
    async with write_transaction():  # a few MB of rows, so the copy itself takes a moment
        await OutboxMail.insert(*[OutboxMail(to_address="padding@example.org", subject="padding",
                                             body_text=secrets.token_hex(2048)) for _ in range(2000)])
    n = 0
    while not await asyncio.to_thread(stop_file.exists):
        n += 1
        data = pdf_bytes(2000 + n)
        stored_name, digest = secrets.token_hex(16), hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(write_file, evidence_path(stored_name), data)
        async with write_transaction():
            rows = await Evidence.insert(Evidence(
                claim=claim.id, original_name=f"piece-{n}.pdf", stored_name=stored_name,
                content_type="application/pdf", size_bytes=len(data), sha256=digest)).returning(Evidence.id)
        print("ack", rows[0]["id"], stored_name, digest, flush=True)


class Writer:
    """The writer process and the acknowledgements read from it so far."""

    def __init__(self, var_dir: Path, work_dir: Path) -> None:
        self.stop_file, self.errors = work_dir / "stop", work_dir / "writer-stderr.txt"
        self.acks: list[tuple[int, str, str]] = []
        self.lock = threading.Lock()
        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from tests.test_backup import write_evidence_until; "
                                       "write_evidence_until(sys.argv[1])", str(self.stop_file)],
                cwd=ROOT, env=sqlite_env(var_dir), text=True, stdout=subprocess.PIPE, stderr=errors)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                if line.startswith("ack "):
                    _, row_id, stored_name, digest = line.split()
                    with self.lock:
                        self.acks.append((int(row_id), stored_name, digest))

    def acknowledged(self) -> list[tuple[int, str, str]]:
        with self.lock:
            return list(self.acks)

    def wait_for(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged()) < count:
            assert self.process.poll() is None, self.errors.read_text()
            assert time.monotonic() < deadline, f"the writer acknowledged only {len(self.acknowledged())} rows"
            time.sleep(0.05)

    def stop(self) -> None:
        self.stop_file.touch()
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        assert self.process.returncode == 0, self.errors.read_text()


def test_a_backup_taken_while_the_app_writes_restores_every_acknowledged_row_and_file(tmp_path: Path) -> None:
    # Given a migrated SQLite VAR_DIR with session files and an interrupted write lying around, and a writer at work
    live = migrated(tmp_path / "live")
    (live / "sessions").mkdir()
    (live / "sessions" / "abc").write_text("a session")
    (live / "evidence").mkdir(mode=0o700)
    (live / "evidence" / "f00d.1234.part").write_bytes(b"half a file")
    (live / "room").mkdir(mode=0o700)
    for n in range(1000):  # files to read after evidence/: the backup takes a while, as a real one does
        (live / "room" / f"{n:04x}").write_bytes(os.urandom(8192))
    writer = Writer(live, tmp_path)
    try:
        writer.wait_for(30)

        # When a backup runs while it writes
        before = writer.acknowledged()
        result = run(live, "app.platform.backup", "backup")
        during = writer.acknowledged()
        writer.wait_for(len(during) + 5)
    finally:
        writer.stop()
    assert result.returncode == 0, result.stderr
    assert len(during) > len(before), "the writer was not writing while the backup ran"
    archive = the_archive(live)

    # Then the archive holds the database copy and the state files, not the live database, sessions or .part files
    manifest = json.loads(members_of(archive)["manifest.json"])
    names = {entry["path"] for entry in manifest["files"]}
    assert manifest["database"]["engine"] == "sqlite" and manifest["database"]["latest_migration"]
    assert "database/cessez-le-feu.sqlite3" in names and "var/secret_key" in names
    files = {name.removeprefix("var/") for name in names if name.startswith("var/")}
    assert not {name for name in files if name.startswith(("sessions/", DATABASE, "backups/")) or ".part" in name}
    assert {row[1] for row in before} <= {name.removeprefix("evidence/") for name in files}

    # When it is restored into a fresh VAR_DIR
    restored = tmp_path / "restored"
    result = run(restored, "app.platform.backup", "restore", str(archive))
    assert result.returncode == 0, result.stderr
    assert "evidence" in result.stdout

    # Then every row and file acknowledged before the backup began is there, intact, and no row lacks its file
    connection = sqlite3.connect(restored / DATABASE)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = {row_id: (stored_name, digest) for row_id, stored_name, digest
                in connection.execute("SELECT id, stored_name, sha256 FROM evidence")}
    finally:
        connection.close()
    for row_id, stored_name, digest in before:
        assert rows.get(row_id) == (stored_name, digest)
        assert sha256(restored / "evidence" / stored_name) == digest
    for stored_name, digest in rows.values():
        assert sha256(restored / "evidence" / stored_name) == digest
    assert (restored / "secret_key").read_text() == (live / "secret_key").read_text()
    assert not (restored / "sessions").exists()

    # And a second backup does not hold the first, and a second restore over the restored data is refused
    time.sleep(1)
    assert run(live, "app.platform.backup", "backup").returncode == 0
    newest = sorted((live / "backups").glob("clf-backup-*.tar.gz"))[-1]
    assert not [name for name in members_of(newest) if "clf-backup-" in name]
    again = run(restored, "app.platform.backup", "restore", str(newest))
    assert again.returncode == 1 and "already holds data" in again.stderr


@pytest.fixture(scope="module")
def small_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real archive of a migrated database with one evidence file."""
    live = migrated(tmp_path_factory.mktemp("small") / "var")
    (live / "evidence").mkdir(mode=0o700)
    (live / "evidence" / "0123abcd").write_bytes(b"%PDF-1.4 evidence\n")
    result = run(live, "app.platform.backup", "backup")
    assert result.returncode == 0, result.stderr
    return the_archive(live)


def test_the_archive_restores_into_an_empty_var_dir(small_backup: Path, tmp_path: Path) -> None:
    result = run(tmp_path / "var", "app.platform.backup", "restore", str(small_backup))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "evidence" / "0123abcd").read_bytes() == b"%PDF-1.4 evidence\n"


def test_an_archive_with_one_byte_changed_is_refused_and_restores_nothing(small_backup: Path, tmp_path: Path) -> None:
    # Given the archive re-packed with one byte of the evidence file changed (the manifest unchanged)
    members = members_of(small_backup)
    evidence = members["var/evidence/0123abcd"]
    members["var/evidence/0123abcd"] = evidence[:5] + bytes([evidence[5] ^ 1]) + evidence[6:]
    tampered = write_archive(tmp_path / "tampered.tar.gz", members)

    # When it is restored
    result = run(tmp_path / "var", "app.platform.backup", "restore", str(tampered))

    # Then it is refused, naming the member, and nothing is written
    assert result.returncode == 1
    assert "var/evidence/0123abcd" in result.stderr and "SHA-256" in result.stderr
    assert nothing_restored(tmp_path / "var")


def test_an_archive_damaged_on_disk_is_refused_and_restores_nothing(small_backup: Path, tmp_path: Path) -> None:
    raw = bytearray(small_backup.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(raw))

    result = run(tmp_path / "var", "app.platform.backup", "restore", str(damaged))

    assert result.returncode == 1 and "refused" in result.stderr
    assert nothing_restored(tmp_path / "var")


@pytest.mark.parametrize("name", ["var/../../escaped", "var/evidence/../../../escaped", "/tmp/escaped"])
def test_a_member_outside_var_dir_is_refused(small_backup: Path, tmp_path: Path, name: str) -> None:
    # Given an archive whose manifest lists, with its right hash, a member that would land outside VAR_DIR
    members = members_of(small_backup)
    manifest = json.loads(members.pop("manifest.json"))
    manifest["files"].append({"path": name, "size": 4, "sha256": hashlib.sha256(b"evil").hexdigest()})
    members[name] = b"evil"
    members["manifest.json"] = json.dumps(manifest).encode()
    hostile = write_archive(tmp_path / "hostile.tar.gz", members)
    target = tmp_path / "deep" / "var"

    # When it is restored
    result = run(target, "app.platform.backup", "restore", str(hostile))

    # Then it is refused and nothing is written, inside VAR_DIR or out
    assert result.returncode == 1
    assert "refused" in result.stderr and name in result.stderr
    assert nothing_restored(target)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()


def test_a_symbolic_link_member_is_refused(small_backup: Path, tmp_path: Path) -> None:
    members = members_of(small_backup)

    def as_link(info: tarfile.TarInfo) -> None:
        if info.name == "var/evidence/0123abcd":
            info.type, info.linkname, info.size = tarfile.SYMTYPE, "/etc/passwd", 0

    hostile = write_archive(tmp_path / "link.tar.gz", members, tweak=as_link)

    result = run(tmp_path / "var", "app.platform.backup", "restore", str(hostile))

    assert result.returncode == 1 and "not a regular file" in result.stderr
    assert nothing_restored(tmp_path / "var")


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="the PostgreSQL run covers it (DATABASE_URL set)")
def test_on_postgresql_the_archive_holds_the_files_and_says_to_use_pg_dump(tmp_path: Path) -> None:
    # Given the run's (migrated) PostgreSQL database and a VAR_DIR with one evidence file
    env = sqlite_env(tmp_path / "var") | {"DATABASE_URL": os.environ["DATABASE_URL"]}
    (tmp_path / "var" / "evidence").mkdir(parents=True)
    (tmp_path / "var" / "evidence" / "0123abcd").write_bytes(b"%PDF-1.4 evidence\n")

    # When it is backed up
    result = subprocess.run([sys.executable, "-m", "app.platform.backup", "backup"], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=180)

    # Then the archive holds the files, no database, and both it and the command say how to dump the database
    assert result.returncode == 0, result.stderr
    assert "pg_dump --format=custom" in result.stdout
    members = members_of(the_archive(tmp_path / "var"))
    manifest = json.loads(members["manifest.json"])
    assert manifest["database"]["engine"] == "postgresql" and manifest["database"]["included"] is False
    assert manifest["database"]["latest_migration"] and "pg_dump" in manifest["database"]["dump_with"]
    assert "var/evidence/0123abcd" in members and not [name for name in members if name.startswith("database/")]

    # And it restores the files next to a PostgreSQL database, but not into a SQLite VAR_DIR
    restored = subprocess.run([sys.executable, "-m", "app.platform.backup", "restore",
                               str(the_archive(tmp_path / "var"))],
                              cwd=ROOT, env=env | {"VAR_DIR": str(tmp_path / "restored")}, text=True,
                              capture_output=True, timeout=180)
    assert restored.returncode == 0, restored.stderr
    assert "pg_restore" in restored.stdout
    assert (tmp_path / "restored" / "evidence" / "0123abcd").read_bytes() == b"%PDF-1.4 evidence\n"
    refused = run(tmp_path / "sqlite", "app.platform.backup", "restore", str(the_archive(tmp_path / "var")))
    assert refused.returncode == 1 and "PostgreSQL" in refused.stderr
    assert nothing_restored(tmp_path / "sqlite")
