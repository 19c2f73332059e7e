"""What the service writes under its data directory is its owner's alone, whatever the umask.

The database and its WAL, the exports the console saves, and a data directory left by an
older version with files anyone could read: 0600 files and 0700 directories after a start.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.console import save_attachment
from ffs_bot.db.engine import create_engine
from ffs_bot.db.migrate import upgrade
from ffs_bot.messages import Attachment


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with a umask that takes nothing away, as a careless start script might."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.usefixtures("open_umask")
async def test_the_database_and_its_wal_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    engine = create_engine(f"sqlite+aiosqlite:///{data / 'ffs.db'}")
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            made = sorted(p.name for p in data.iterdir())
            assert {"ffs.db", "ffs.db-wal", "ffs.db-shm"} <= set(made), made
            for name in made:
                assert mode(data / name) == 0o600, name
    finally:
        await engine.dispose()
    assert mode(data) == 0o700
    assert mode(data.parent) == 0o700  # made for the database too


@pytest.mark.usefixtures("open_umask")
def test_exports_saved_by_the_console_are_private(tmp_path: Path) -> None:
    exports = tmp_path / "data" / "exports"
    sheet = Attachment("roster.csv", b"name,health\n", "text/csv")
    first = save_attachment(sheet, exports)
    second = save_attachment(sheet, exports)
    assert (first.name, second.name) == ("roster.csv", "roster-2.csv")
    assert mode(first) == mode(second) == 0o600
    assert mode(exports) == mode(exports.parent) == 0o700


def test_a_start_makes_an_old_data_directory_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    (data / "exports").mkdir(parents=True)
    (data / "exports" / "old.csv").write_bytes(b"name\n")
    (data / "ffs.db").touch()
    for path, old in [(data, 0o755), (data / "exports", 0o755)]:
        path.chmod(old)
    for path in [data / "exports" / "old.csv", data / "ffs.db"]:
        path.chmod(0o644)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("FFS_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    before = os.umask(0o022)
    try:
        assert main(["db", "upgrade"]) == 0
    finally:
        os.umask(before)
    assert mode(data) == mode(data / "exports") == 0o700
    assert mode(data / "ffs.db") == mode(data / "exports" / "old.csv") == 0o600


def test_the_command_line_keeps_its_files_private_whatever_umask_it_got(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "ffs-bot"
    found = str(script) if script.is_file() else shutil.which("ffs-bot")
    assert found, "the ffs-bot console script is not installed: run make test"
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FFS_DATA_DIR"] = str(data)
    out = tmp_path / "bookings.csv"
    for command in (["db", "upgrade"], ["export", "bookings", "--format", "csv", "-o", str(out)]):
        subprocess.run(
            [found, *command],
            env=env,
            cwd=tmp_path,
            check=True,
            timeout=120,
            capture_output=True,
            preexec_fn=lambda: os.umask(0),
        )
    assert mode(data) == 0o700 and mode(data / "ffs.db") == 0o600
    assert mode(out) == 0o600
