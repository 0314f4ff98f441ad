"""Writing a stored file: whole or absent, and any OS error becomes StorageUnavailable with nothing left behind.

The faults are real (tests/storage_faults.py): a full tmpfs (ENOSPC), the same remounted read-only (EROFS),
or, without the right to mount, a folder without write permission (EACCES)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.platform.storage import StorageUnavailable, remove_files, write_file
from tests.storage_faults import faulty_folder, temporary_files


def test_a_file_is_written_whole_without_a_temporary_file_left(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "abc123"
    write_file(path, b"content")
    write_file(path, b"content, again")  # a retried job writes the same name
    assert path.read_bytes() == b"content, again"
    assert sorted(item.name for item in path.parent.iterdir()) == ["abc123"]


def test_a_full_disk_raises_full_and_leaves_no_part_file(tmp_path: Path) -> None:
    with faulty_folder(tmp_path / "evidence") as disk:
        write_file(disk.folder / "before", b"saved before")
        disk.fill()
        with pytest.raises(StorageUnavailable) as raised:
            write_file(disk.folder / "abc", b"x" * 20_000)
        assert raised.value.reason == "full"
        assert temporary_files(disk.folder) == [] and disk.entries() == ["before"]
        disk.free()
        write_file(disk.folder / "abc", b"x" * 20_000)
        assert (disk.folder / "abc").read_bytes() == b"x" * 20_000
        assert (disk.folder / "before").read_bytes() == b"saved before"


def test_a_read_only_disk_raises_readonly_and_leaves_no_part_file(tmp_path: Path) -> None:
    with faulty_folder(tmp_path / "room") as disk:
        disk.read_only()
        with pytest.raises(StorageUnavailable) as raised:
            write_file(disk.folder / "abc", b"data")
        assert raised.value.reason == "readonly"
        assert temporary_files(disk.folder) == [] and disk.entries() == []
        remove_files([disk.folder / "abc", disk.folder / "missing"])  # best effort: never raises
        disk.writable()
        write_file(disk.folder / "abc", b"data")
        assert disk.entries() == ["abc"]
