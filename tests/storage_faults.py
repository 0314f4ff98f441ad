"""Real file system faults under one VAR_DIR folder, without mocking the OS.

As root (the tests' machine), `chmod` does not stop writes, so the folder gets a small tmpfs of its own mounted
over it: filling it gives real ENOSPC, remounting it read-only real EROFS. Without the right to mount, only the
read-only fault can be made (chmod 0o500: EACCES for a non-root user) and the disk-full tests are skipped. On
leaving, what was written on the tmpfs is copied back into the folder beneath, so the rows the test committed
still find their files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

TMPFS_SIZE = "1m"


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


class FaultyFolder:
    """A folder whose disk can be made full or read-only, then healed."""

    def __init__(self, folder: Path, mounted: bool) -> None:
        self.folder = folder
        self.mounted = mounted
        self._filler = folder / "filler.bin"  # not a name the app gives (not alphanumeric)

    def fill(self) -> None:
        """Take every free byte: the next write fails with ENOSPC."""
        if not self.mounted:
            pytest.skip("a full disk needs a tmpfs, and mounting one needs root")
        with self._filler.open("ab", buffering=0) as handle:
            size = 1 << 16
            while size:
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError:  # ENOSPC: what is left is smaller than `size`
                    size //= 2

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        if self.mounted:
            assert _run("mount", "-o", "remount,ro", str(self.folder))
        else:
            self.folder.chmod(0o500)

    def writable(self) -> None:
        if self.mounted:
            assert _run("mount", "-o", "remount,rw", str(self.folder))
        else:
            self.folder.chmod(0o700)

    def entries(self) -> list[str]:
        return sorted(path.name for path in self.folder.iterdir() if path != self._filler)


@contextlib.contextmanager
def faulty_folder(folder: Path) -> Iterator[FaultyFolder]:
    """`folder` on a disk of its own (a small tmpfs when possible) for the duration of the block."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    mounted = can_mount() and _run("mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                                   str(folder))
    if os.geteuid() == 0 and not mounted:
        pytest.skip("running as root, chmod cannot make a folder read-only, and tmpfs cannot be mounted here")
    faulty = FaultyFolder(folder, mounted)
    try:
        yield faulty
    finally:
        faulty.writable()
        faulty.free()
        if mounted:
            kept = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
            assert _run("umount", str(folder)), f"could not unmount {folder}"
            for name, content in kept.items():
                (folder / name).write_bytes(content)


def temporary_files(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if path.name.endswith(".part") or path.name.startswith(".tmp-")]
