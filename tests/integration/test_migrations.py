"""The migrations build exactly the schema the code declares, on every engine."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, column, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ffs_bot.db.migrate import (
    SCHEMA_REVISION,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from ffs_bot.db.tables import Base, ScheduledPushRow
from ffs_bot.services.seasons import create_season
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


async def test_0016_splits_places_typed_as_chinese_slash_english(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_ids = [await workshop(backend, start=START + n * DAY) for n in range(5)]
    async with backend.db.uow() as uow:
        season = await create_season(
            uow,
            factory_code="SZ01",
            starts_on=date(2027, 7, 5),
            ends_on=date(2027, 8, 20),
            min_age_years=3,
            max_age_years=12,
            capacity=30,
            registration_deadline=date(2027, 6, 30),
        )
        await uow.commit()
    await _downgrade(backend.engine, "0015")
    workshops = table("workshop", column("id"), column("place"))
    seasons = table("season", column("id"), column("place"))
    async with backend.engine.begin() as conn:
        # Going back, the two languages are put back into the one column.
        assert await conn.scalar(
            select(workshops.c.place).where(workshops.c.id == workshop_ids[0])
        ) == ("食堂二楼 / Canteen, 2nd floor")
        typed = [
            "3号楼2楼，食堂旁边 / Building 3, 2nd floor, next to the canteen",
            "礼堂 / 二楼",  # Chinese on both sides: not an English part
            "Room 5 / Hall B",  # no Chinese before it: English only, kept whole
            "礼堂 / Hall / 2 floor",  # the English is what follows the last " / "
            "食堂旁边",
        ]
        for workshop_id, place in zip(workshop_ids, typed, strict=True):
            await conn.execute(
                workshops.update().where(workshops.c.id == workshop_id).values(place=place)
            )
        await conn.execute(
            seasons.update().where(seasons.c.id == season.id).values(place=typed[0])
        )
    await upgrade(backend.engine)
    found = {}
    async with backend.engine.connect() as conn:
        for name in ("workshop", "season"):
            split = table(name, column("id"), column("place"), column("place_en"))
            for row in await conn.execute(select(split.c.id, split.c.place, split.c.place_en)):
                found[name, row.id] = (row.place, row.place_en)
    assert found["season", season.id] == (
        "3号楼2楼，食堂旁边",
        "Building 3, 2nd floor, next to the canteen",
    )
    assert [found["workshop", workshop_id] for workshop_id in workshop_ids] == [
        ("3号楼2楼，食堂旁边", "Building 3, 2nd floor, next to the canteen"),
        ("礼堂 / 二楼", ""),
        ("Room 5 / Hall B", ""),
        ("礼堂 / Hall", "2 floor"),
        ("食堂旁边", ""),
    ]


def test_the_schema_revision_a_start_checks_for_is_alembics_head() -> None:
    # A start that finds SCHEMA_REVISION stored skips Alembic: it must be the newest migration.
    assert head_revision() == SCHEMA_REVISION
