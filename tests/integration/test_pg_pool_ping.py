"""PostgreSQL pool: pinged only when idle a while, and a fixed set of connections kept."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ffs_bot.db import engine as db_engine
from ffs_bot.db.engine import create_engine
from ffs_bot.db.outage import is_unavailable


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def _terminate(url: str, pid: int) -> None:
    other = create_engine(url)
    try:
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_in_steady_use_is_lent_without_a_ping(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    pings = 0
    original = engine.dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return original(dbapi_connection)

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    try:
        first = await _backend_pid(engine)
        for _ in range(5):
            assert await _backend_pid(engine) == first
    finally:
        await engine.dispose()
    assert pings == 0


async def test_an_idle_connection_killed_meanwhile_is_replaced_unseen(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url)
    try:
        first = await _backend_pid(engine)
        await _terminate(postgres_url, first)
        # Every connection counts as idle long enough to be pinged.
        monkeypatch.setattr(db_engine, "IDLE_PING_SECONDS", 0.0)
        second = await _backend_pid(engine)
    finally:
        await engine.dispose()
    assert second != first


async def test_a_busy_connection_killed_fails_once_as_unavailable_then_recovers(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    try:
        first = await _backend_pid(engine)
        await _terminate(postgres_url, first)
        with pytest.raises(DBAPIError) as caught:
            await _backend_pid(engine)
        # The channel waits and tries again, as in any outage; the pool starts afresh.
        assert is_unavailable(caught.value)
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_more_work_than_connections_waits_for_the_kept_ones_and_opens_no_more(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url, pool_size=4)
    opened = 0

    def count(*_args: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)

    async def work() -> int:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.02)"))
            return int(await conn.scalar(text("SELECT pg_backend_pid()")))

    try:
        # Three bursts of 24 at once: a pool with overflow opens extra connections for
        # each burst and closes them as they come back.
        pids = set()
        for _ in range(3):
            pids.update(await asyncio.gather(*(work() for _ in range(24))))
    finally:
        await engine.dispose()
    assert opened == len(pids) == 4
