"""Files the service keeps (the database, its journal, exports): readable by us alone.

Children's names, guardians and health notes are in all of them. Modes are set here
explicitly, not left to the umask of whoever started the process: a mode passed to `open`
or `mkdir` only loses bits to the umask, so each file is also chmod-ed to what it must be.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "private_dir",
    "private_file",
    "private_tree",
    "write_private",
]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Make `path` (and any missing parent) a directory only its owner may open."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    for created in missing:
        created.chmod(PRIVATE_DIR)
    if _ours(path):
        path.chmod(PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Create `path` empty if missing; either way, make it readable by its owner alone.

    SQLite gives its journal, WAL and shared-memory files the mode of the database file, so
    a database made private here keeps them private too.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def write_private(path: Path, content: bytes) -> None:
    """Write a new file readable by its owner alone (an existing one is never replaced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(content)
    finally:
        os.close(fd)


def private_tree(directory: Path) -> None:
    """Make what we own under `directory` private: what older versions left there as well."""
    if not directory.is_dir():
        return
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            _tighten(Path(root, name), PRIVATE_DIR)
        for name in files:
            _tighten(Path(root, name), PRIVATE_FILE)
    _tighten(directory, PRIVATE_DIR)


def _tighten(path: Path, mode: int) -> None:
    # Not links (their target may be anyone's), and not what someone else owns.
    info = path.lstat()
    if path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o777 == mode:
        return
    path.chmod(mode)


def _ours(path: Path) -> bool:
    return path.stat().st_uid == os.getuid()
