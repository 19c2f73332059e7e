"""SQLite statements run inline; only a wait for another process's write lock leaves the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from ffs_bot.db import sqlite_inline
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.uow import Database
from ffs_bot.messages import Reply
from ffs_bot.services.inbound import earlier_answer, record_answer


@pytest.fixture
async def database(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}")
    await upgrade(engine)
    try:
        yield Database(create_session_factory(engine))
    finally:
        await engine.dispose()


async def test_a_unit_of_work_runs_without_handing_the_event_loop_on(database: Database) -> None:
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "other work")
    async with database.uow() as uow:
        assert await record_answer(uow, "telegram", "1", [Reply("hi")])
        assert await earlier_answer(uow, "telegram", "1") == [Reply("hi")]
        await uow.commit()
    assert ran == []
    await asyncio.sleep(0)
    assert ran == ["other work"]


async def test_another_writer_is_waited_for_while_the_event_loop_runs_on(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "ffs.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> None:
        async with database.uow() as uow:
            await record_answer(uow, "telegram", "2", [])
            await uow.commit()

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.3)
        assert not writer.done()
        assert ticks >= 10
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 5)
    finally:
        ticker.cancel()
        other.close()
    async with database.uow() as uow:
        assert await earlier_answer(uow, "telegram", "2") == []


async def test_a_writer_that_never_lets_go_ends_in_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    sqlite_inline.register()
    engine = create_async_engine(f"sqlite+{sqlite_inline.DRIVER}:///{path}", busy_timeout_ms=100)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with engine.connect() as conn:
            with pytest.raises(OperationalError, match="database is locked"):
                await conn.exec_driver_sql("SELECT 1")
    finally:
        other.close()
        await engine.dispose()
