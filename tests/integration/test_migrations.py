"""The migrations build exactly the schema the code declares, on every engine."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from ffs_bot.db.migrate import current_revision, head_revision, upgrade
from ffs_bot.db.tables import Base
from tests.conftest import Backend


async def test_migrations_match_the_declared_tables(backend: Backend) -> None:
    def diff(conn):
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with backend.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrade_is_at_head_and_running_it_again_changes_nothing(backend: Backend) -> None:
    assert await current_revision(backend.engine) == head_revision()
    await upgrade(backend.engine)
    assert await current_revision(backend.engine) == head_revision()


async def test_sqlite_runs_with_wal_and_foreign_keys(backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite's own settings")
    async with backend.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
