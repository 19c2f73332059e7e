"""The migrations build exactly the schema the code declares, on every engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ffs_bot.db.migrate import (
    SCHEMA_REVISION,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from ffs_bot.db.tables import Base, ScheduledPushRow
from tests.conftest import Backend
from tests.helpers import seed_factories
from tests.integration.test_workshops import NOW, START, book, notifier, people, workshop

DAY = timedelta(days=1)


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


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_0014_makes_the_bookings_pushes_still_to_go_their_workshops(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    first, second = await workshop(backend), await workshop(backend, start=START + DAY)
    a, b = await people(backend, 2)
    seats = [await book(backend, notify, a, first), await book(backend, notify, b, first)]
    await _downgrade(backend.engine, "0013")
    pushes = ScheduledPushRow.__table__
    async with backend.engine.begin() as conn:
        # As 0013 had them: a row per booking, one of them sent already.
        await conn.execute(pushes.delete())
        for n, seat in enumerate(seats):
            for kind, due in (
                ("workshop.remind.1440m", START - DAY),
                ("workshop.feedback", START),
            ):
                done = START - DAY if n == 0 and kind != "workshop.feedback" else None
                await conn.execute(
                    pushes.insert().values(
                        kind=kind, subject_id=seat.id, due_at=due, done_at=done, created_at=NOW
                    )
                )
    await upgrade(backend.engine)
    async with backend.db.uow() as uow:
        rows = {
            (row.kind, row.subject_id): (row.due_at, row.done_at)
            for row in await uow.session.scalars(select(ScheduledPushRow))
        }
    assert rows == {
        ("workshop.remind.1440m", first): (START - DAY, None),
        ("workshop.feedback", first): (START, None),
    }
    # The workshop nobody had booked gets its own at its first booking.
    await book(backend, notify, a, second)
    async with backend.db.uow() as uow:
        kinds = await uow.session.scalars(
            select(ScheduledPushRow.kind).where(ScheduledPushRow.subject_id == second)
        )
        assert sorted(kinds) == [
            "workshop.feedback",
            "workshop.remind.120m",
            "workshop.remind.1440m",
        ]


def test_the_schema_revision_a_start_checks_for_is_alembics_head() -> None:
    # A start that finds SCHEMA_REVISION stored skips Alembic: it must be the newest migration.
    assert head_revision() == SCHEMA_REVISION
