"""Backups: one archive of the SQLite database and every file of state under VAR_DIR, and its restore.

`python -m app.platform.backup backup [--output DIR]` and `python -m app.platform.backup restore ARCHIVE [--force]`
(the same commands as `python -m app.cli backup|restore`). The archive is a `.tar.gz` holding `manifest.json`
(every member with its size and SHA-256, the database engine, the app version, the latest applied migration, the
creation time), `database/cessez-le-feu.sqlite3` (SQLite only; PostgreSQL is dumped with pg_dump) and `var/…`, the
files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import os
import re
import sqlite3
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from app.platform.storage import is_temporary, sync_folder
from app.settings import PROJECT_ROOT, Settings, get_settings

FORMAT = 1
ARCHIVE_PREFIX = "clf-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST = "manifest.json"
DATABASE_MEMBER = "database/cessez-le-feu.sqlite3"
FILES_PREFIX = "var/"
COMMANDS = frozenset({"backup", "restore"})
PG_DUMP = 'pg_dump --format=custom --file clf.dump "$DATABASE_URL"'
PG_RESTORE = 'pg_restore --clean --if-exists --no-owner --dbname "$DATABASE_URL" clf.dump'
# Not state: session files (the file store of earlier versions; sessions expire anyway), backups themselves.
SKIPPED_FOLDERS = frozenset({"sessions", "backups"})
STAGING_PREFIX = ".clf-"
CHUNK = 1024 * 1024
MANIFEST_MAX_BYTES = 64 * 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


@dataclass(frozen=True)
class Member:
    path: str
    size: int
    sha256: str


# --- what is state ---------------------------------------------------------------------------------------

def _database_names(settings: Settings) -> set[str]:
    name = settings.sqlite_path.name
    return {name, f"{name}-wal", f"{name}-shm", f"{name}-journal"}


def _skipped(relative: PurePosixPath, settings: Settings) -> bool:
    """A path under VAR_DIR that is not state to back up (nor to accept from an archive)."""
    parts = relative.parts
    if not parts:
        return True
    if parts[0] in SKIPPED_FOLDERS or any(part.startswith(STAGING_PREFIX) for part in parts):
        return True
    name = parts[-1]
    if len(parts) == 1 and (name in _database_names(settings) or ".before-restore-" in name):
        return True  # the live database goes in through the backup API, never as a file
    if len(parts) == 1 and name.endswith(".lock"):
        return True  # lock files (migrate.lock, app.platform.migrations) hold no data
    return is_temporary(name) or (name.startswith(ARCHIVE_PREFIX) and ARCHIVE_SUFFIX in name)


def _state_files(settings: Settings, output_dir: Path | None = None) -> Iterator[tuple[Path, PurePosixPath]]:
    """Every regular file of state under VAR_DIR, sorted; symbolic links are never followed nor kept."""
    root = settings.var_dir
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            path = here / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if path.is_symlink() or _skipped(relative, settings) or (output_dir is not None and path == output_dir):
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = here / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if _skipped(relative, settings) or path.is_symlink() or not path.is_file():
                continue
            yield path, relative


# --- backup ----------------------------------------------------------------------------------------------

class _HashingReader:
    """Hands a file to tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.hash.update(data)
        self.size += len(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> Member | None:
    """Add one file; None when it vanished since the folder was listed (deleted, or a row never committed)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        stat = os.fstat(handle.fileno())
        info = tarfile.TarInfo(arcname)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        reader = _HashingReader(handle)
        tar.addfile(info, reader)  # tarfile only calls read()
    return Member(path=arcname, size=reader.size, sha256=reader.hash.hexdigest())


def _add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
    tar.addfile(info, io.BytesIO(data))


def _copy_sqlite(source: Path, target: Path) -> dict[str, Any]:
    """A consistent copy of the live database through SQLite's online backup API; returns what the manifest says
    about it. The copy is one step (pages=-1) under one read transaction: in WAL mode writers go on meanwhile,
    and the copy is the database as of one commit."""
    if not source.is_file():
        raise BackupError(f"no database at {source}: nothing to back up (is VAR_DIR right?)")
    live = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        live.close()
    try:
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive; restore sets WAL
        integrity = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        latest, applied = _migrations(copy)
    finally:
        copy.close()
    return {"engine": "sqlite", "member": DATABASE_MEMBER, "latest_migration": latest, "migrations_applied": applied,
            "integrity_check": "ok" if integrity == ["ok"] else integrity}


def _migrations(connection: sqlite3.Connection) -> tuple[str | None, int]:
    try:
        row = connection.execute("SELECT max(name), count(*) FROM migration").fetchone()
    except sqlite3.OperationalError:  # never migrated
        return None, 0
    return row[0], int(row[1])


async def _postgres_migrations(url: str) -> tuple[str | None, int]:
    import asyncpg

    from app.platform.db import postgres_config

    connection = await asyncpg.connect(**postgres_config(url), timeout=10)
    try:
        row = await connection.fetchrow("SELECT max(name) AS latest, count(*) AS applied FROM migration")
    finally:
        await connection.close()
    return row["latest"], int(row["applied"])


def _postgres_section(settings: Settings) -> dict[str, Any]:
    section: dict[str, Any] = {"engine": "postgresql", "included": False,
                               "note": "the database is not in this archive: dump it with pg_dump, restore it "
                                       "with pg_restore (see the README, Backups)",
                               "dump_with": PG_DUMP, "restore_with": PG_RESTORE}
    try:
        section["latest_migration"], section["migrations_applied"] = asyncio.run(
            _postgres_migrations(settings.database_url))
    except Exception as error:  # the files are worth backing up even when the database does not answer
        section["latest_migration"], section["migrations_applied"] = None, None
        print(f"warning: could not read the applied migrations from PostgreSQL: {error}", file=sys.stderr)
    return section


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cessez-le-feu")
    except PackageNotFoundError:
        return "unknown"


def _archive_path(output_dir: Path) -> tuple[Path, datetime]:
    """A name of its own, sorting in time order: a second backup within the same second waits for the next."""
    while True:
        now = datetime.now(UTC)
        path = output_dir / f"{ARCHIVE_PREFIX}{now:%Y%m%dT%H%M%SZ}{ARCHIVE_SUFFIX}"
        if not path.exists() and not path.with_name(path.name + ".part").exists():
            return path, now
        time.sleep(1 - now.microsecond / 1_000_000)


def backup(settings: Settings, output_dir: Path) -> Path:
    """Write one archive of the database (SQLite) and the files of state into `output_dir`; returns its path."""
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive, now = _archive_path(output_dir)
    part = archive.with_name(archive.name + ".part")
    members: list[Member] = []
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the secret key and personal data
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6,
                                                      format=tarfile.PAX_FORMAT) as tar:
            # The database first, then the files. Every write path stores a file before committing the row that
            # names it, so each row in this copy had its file on disk before the copy began; the files are read
            # after, and they are all there (a document rewritten since is replaced whole, by rename). A file
            # written after the copy has no row in it: a harmless orphan in the archive, which the sweep removes
            # after a restore. The other order would lose data: a row committed between the file walk and the
            # database copy would be restored without its file. (A file deleted together with its row while the
            # backup runs is the one gap: its row is restored, its file is gone — as the user meant.)
            if settings.uses_postgres:
                database = _postgres_section(settings)
            else:
                with tempfile.TemporaryDirectory(dir=output_dir, prefix=STAGING_PREFIX) as staging:
                    copy = Path(staging) / "database.sqlite3"
                    database = _copy_sqlite(settings.sqlite_path, copy)
                    added = _add_file(tar, copy, DATABASE_MEMBER)
                    assert added is not None
                    members.append(added)
            inside_var = output_dir.is_relative_to(settings.var_dir)
            for path, relative in _state_files(settings, output_dir if inside_var else None):
                added = _add_file(tar, path, FILES_PREFIX + relative.as_posix())
                if added is not None:
                    members.append(added)
            manifest = {
                "format": FORMAT, "created_at": now.isoformat(timespec="seconds"), "app_version": app_version(),
                "database": database, "files": [member.__dict__ for member in members],
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, archive)
        sync_folder(output_dir)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    files = sum(1 for member in members if member.path.startswith(FILES_PREFIX))
    print(f"backup written: {archive} ({files} files, {archive.stat().st_size} bytes)")
    if settings.uses_postgres:
        print("The PostgreSQL database is NOT in this archive. Dump it now, next to the archive, with:\n"
              f"  {PG_DUMP}")
    elif database["integrity_check"] != "ok":  # kept (the damage predates it), but the run fails loudly
        raise BackupError(f"the database fails PRAGMA integrity_check: {database['integrity_check'][:5]}; the "
                          f"archive {archive.name} holds it as it is")
    return archive


# --- restore ---------------------------------------------------------------------------------------------

READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Errors while reading the archive (a damaged gzip stream, a truncated tar) become a refusal."""
    try:
        yield
    except READ_ERRORS as error:
        raise BackupError(f"refused: the archive is damaged ({error}); nothing was restored") from None


def _safe_relative(name: str) -> PurePosixPath:
    """The VAR_DIR-relative path of a `var/…` member, refusing anything that could land outside it."""
    path = PurePosixPath(name[len(FILES_PREFIX):])
    if (name.startswith("/") or "\\" in name or "\x00" in name or not path.parts
            or any(part in {"", ".", ".."} for part in path.parts) or path.as_posix() != name[len(FILES_PREFIX):]):
        raise BackupError(f"refused: unsafe path in the archive: {name!r}")
    return path


def _read_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    with _reading():
        infos = tar.getmembers()
    for info in infos:
        if not info.isreg():  # symbolic or hard links, devices, folders: never from an outside archive
            raise BackupError(f"refused: {info.name!r} is not a regular file")
        if info.name in members:
            raise BackupError(f"refused: {info.name!r} appears twice in the archive")
        if info.name not in {MANIFEST, DATABASE_MEMBER}:
            if not info.name.startswith(FILES_PREFIX):
                raise BackupError(f"refused: unexpected member {info.name!r}")
            _safe_relative(info.name)
        members[info.name] = info
    return members


def _read_manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> tuple[dict[str, Any], list[Member]]:
    info = members.get(MANIFEST)
    if info is None:
        raise BackupError("refused: the archive has no manifest.json (is it a Cessez-le-feu backup?)")
    if info.size > MANIFEST_MAX_BYTES:
        raise BackupError("refused: manifest.json is implausibly large")
    with _reading():
        handle = tar.extractfile(info)
        assert handle is not None
        data = handle.read()
    try:
        manifest = json.loads(data)
        listed = [Member(path=str(entry["path"]), size=int(entry["size"]), sha256=str(entry["sha256"]))
                  for entry in manifest["files"]]
        engine = manifest["database"]["engine"]
    except (ValueError, KeyError, TypeError) as error:
        raise BackupError(f"refused: manifest.json is not readable: {error}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"refused: unknown backup format {manifest.get('format')!r}")
    if engine not in {"sqlite", "postgresql"}:
        raise BackupError(f"refused: unknown database engine {engine!r}")
    paths = [member.path for member in listed]
    if len(set(paths)) != len(paths) or set(paths) | {MANIFEST} != set(members):
        missing, extra = set(paths) - set(members), set(members) - set(paths) - {MANIFEST}
        raise BackupError(f"refused: the archive does not match its manifest (missing {sorted(missing)[:5]}, "
                          f"unlisted {sorted(extra)[:5]})")
    if (engine == "sqlite") != (DATABASE_MEMBER in members):
        raise BackupError("refused: the manifest's database engine does not match the archive's content")
    return manifest, listed


def _copy_member(tar: tarfile.TarFile, info: tarfile.TarInfo, out: IO[bytes] | None) -> tuple[int, str]:
    """Stream one member (into `out`, when given); returns its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    with _reading():
        handle = tar.extractfile(info)
    assert handle is not None
    while True:
        with _reading():
            chunk = handle.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return size, digest.hexdigest()


def _check(member: Member, size: int, sha256: str) -> None:
    if size != member.size or sha256 != member.sha256:
        raise BackupError(f"refused: {member.path} does not match its SHA-256 in the manifest: the archive is damaged "
                          "or was altered; nothing was restored")


def _existing_state(settings: Settings) -> list[str]:
    """What already lives in the target VAR_DIR (the secret key aside: loading the settings may just have made it)."""
    found = [settings.sqlite_path.name] if settings.sqlite_path.exists() else []
    found += [relative.as_posix() for _, relative in _state_files(settings) if relative.as_posix() != "secret_key"]
    return found


def _check_target_path(settings: Settings, relative: PurePosixPath) -> Path:
    """Where a member goes, refusing a target folder that is (or passes through) a symbolic link."""
    target = settings.var_dir.joinpath(*relative.parts)
    current = settings.var_dir
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            raise BackupError(f"refused: {current} is a symbolic link")
    return target


def _keep_previous_database(settings: Settings, stamp: str) -> Path | None:
    """With --force, the database being replaced is kept beside it (copied with the backup API, WAL included)."""
    live = settings.sqlite_path
    if not live.exists():
        return None
    kept = live.with_name(f"{live.name}.before-restore-{stamp}")
    os.close(os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # personal data: private from the start
    source, target = sqlite3.connect(live, timeout=30), sqlite3.connect(kept)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return kept


def _latest_code_migration() -> str | None:
    ids = []
    for path in (PROJECT_ROOT / "app" / "piccolo_migrations").glob("*.py"):
        if match := re.search(r'^ID = "([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE):
            ids.append(match.group(1))
    return max(ids, default=None)


def restore(settings: Settings, archive: Path, *, force: bool = False) -> None:
    """Put an archive's database and files in place in an empty VAR_DIR (any VAR_DIR with force); every member is
    checked against the manifest before anything is written, and the database goes in last, so an interrupted
    restore leaves no database and can simply be run again."""
    if not archive.is_file():
        raise BackupError(f"no such archive: {archive}")
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except READ_ERRORS as error:
        raise BackupError(f"refused: {archive} is not a readable backup archive ({error})") from None
    with tar:
        members = _read_members(tar)
        manifest, listed = _read_manifest(tar, members)
        engine = manifest["database"]["engine"]
        if engine == "sqlite" and settings.uses_postgres:
            raise BackupError("refused: this archive holds a SQLite database, but DATABASE_URL points to "
                              "PostgreSQL; unset DATABASE_URL to restore it into VAR_DIR")
        if engine == "postgresql" and not settings.uses_postgres:
            raise BackupError("refused: this archive comes from a PostgreSQL deployment and holds only files; "
                              "set DATABASE_URL to the database restored with pg_restore (see the README)")
        if (existing := _existing_state(settings)) and not force:
            raise BackupError(f"refused: {settings.var_dir} already holds data ({', '.join(existing[:5])}"
                              f"{', …' if len(existing) > 5 else ''}); restore into an empty VAR_DIR, or stop "
                              "the app and pass --force to replace it")
        targets, ignored = _targets(settings, listed)
        for member in listed:  # every hash first: a damaged archive restores nothing
            _check(member, *_copy_member(tar, members[member.path], None))
        kept = [member for member in listed if member.path not in ignored]
        settings.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=settings.var_dir, prefix=STAGING_PREFIX) as staging_name:
            staged: dict[str, Path] = {}
            for n, member in enumerate(kept):  # hashed again as written: the archive may have changed since
                staged[member.path] = Path(staging_name) / str(n)
                fd = os.open(staged[member.path], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    _check(member, *_copy_member(tar, members[member.path], out))
                    out.flush()
                    os.fsync(out.fileno())
                mtime = members[member.path].mtime  # kept: the sweep judges a file's age by it
                os.utime(staged[member.path], (mtime, mtime))
            if DATABASE_MEMBER in staged:
                _prepare_database(staged[DATABASE_MEMBER])
            _put_in_place(settings, staged, targets, force=force)
    _report(settings, manifest, kept, ignored, archive)


def _targets(settings: Settings, listed: list[Member]) -> tuple[dict[str, Path], list[str]]:
    """Where each file member goes; and the members that are not state by today's rules, checked but not written."""
    targets: dict[str, Path] = {}
    ignored: list[str] = []
    folders = {parent for member in listed for parent in PurePosixPath(member.path).parents}
    for member in listed:
        if member.path == DATABASE_MEMBER:
            continue
        if PurePosixPath(member.path) in folders:
            raise BackupError(f"refused: {member.path!r} is both a file and a folder in the archive")
        relative = _safe_relative(member.path)
        if _skipped(relative, settings):
            ignored.append(member.path)
        else:
            targets[member.path] = _check_target_path(settings, relative)
    return targets, ignored


def _prepare_database(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            raise BackupError(f"refused: the archived database fails PRAGMA integrity_check: {integrity[:5]}")
        connection.execute("PRAGMA journal_mode=WAL")  # what the app runs with (app.platform.db.prepare_sqlite)
    finally:
        connection.close()


def _put_in_place(settings: Settings, staged: dict[str, Path], targets: dict[str, Path], *, force: bool) -> None:
    for name, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(staged[name], target)
        sync_folder(target.parent)
    if DATABASE_MEMBER in staged:
        if force and (kept := _keep_previous_database(settings, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))):
            print(f"the database it replaces is kept as {kept}")
        live = settings.sqlite_path
        for leftover in (live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm"),
                         live.with_name(live.name + "-journal")):
            leftover.unlink(missing_ok=True)  # a stale WAL would be replayed into the restored file
        os.replace(staged[DATABASE_MEMBER], live)
        sync_folder(live.parent)


def _report(settings: Settings, manifest: dict[str, Any], listed: list[Member], ignored: list[str],
            archive: Path) -> None:
    database = manifest["database"]
    folders: dict[str, int] = {}
    for member in listed:
        if member.path.startswith(FILES_PREFIX):
            relative = PurePosixPath(member.path[len(FILES_PREFIX):])
            folder = relative.parts[0] if len(relative.parts) > 1 else relative.as_posix()
            folders[folder] = folders.get(folder, 0) + 1
    print(f"restored {archive.name} (made {manifest.get('created_at')} by version {manifest.get('app_version')}) "
          f"into {settings.var_dir}")
    if database["engine"] == "sqlite":
        print(f"  database: {settings.sqlite_path} (latest migration {database.get('latest_migration')})")
    else:
        print(f"  database: not in the archive; restore the PostgreSQL dump with\n    {PG_RESTORE}")
    for folder, count in sorted(folders.items()):
        print(f"  {folder}: {count} file{'s' if count != 1 else ''}")
    for name in ignored:
        print(f"  ignored {name}: not state (an older version kept it)")
    latest, code = database.get("latest_migration"), _latest_code_migration()
    if latest and code and latest < code:
        print("  the code has newer migrations: run `python -m app.cli migrate` before starting the app")
    elif latest and code and latest > code:
        print(f"  warning: the backup was migrated further ({latest}) than this code knows ({code}): "
              "run the version that made it", file=sys.stderr)
    if os.environ.get("SECRET_KEY", "").strip() and any(m.path == FILES_PREFIX + "secret_key" for m in listed):
        print("  note: SECRET_KEY is set in the environment, so the restored var/secret_key is not used; keep the "
              "same SECRET_KEY as the backed-up deployment")


# --- command line ----------------------------------------------------------------------------------------

def add_commands(subparsers: Any) -> None:
    """Register `backup` and `restore` on an argparse subparsers object (dest="command")."""
    backup_parser = subparsers.add_parser(
        "backup", help="write a backup archive of the database (SQLite) and the files under VAR_DIR")
    backup_parser.add_argument("--output", type=Path, default=None,
                               help="folder of the archive (default: VAR_DIR/backups)")
    restore_parser = subparsers.add_parser(
        "restore", help="restore a backup archive into an empty VAR_DIR (stop the app first)")
    restore_parser.add_argument("archive", type=Path, help="the clf-backup-….tar.gz to restore")
    restore_parser.add_argument("--force", action="store_true",
                                help="restore even though VAR_DIR already holds a database or files (the database "
                                     "it replaces is kept beside it)")


def run_command(args: argparse.Namespace) -> int:
    """Run the `backup` or `restore` command parsed by add_commands' parsers; returns the exit status."""
    settings = get_settings()
    try:
        if args.command == "backup":
            backup(settings, args.output or settings.var_dir / "backups")
        elif args.command == "restore":
            restore(settings, args.archive, force=args.force)
        else:
            raise BackupError(f"unknown command {args.command!r}")
    except BackupError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.platform.backup", description=__doc__.splitlines()[0])
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
