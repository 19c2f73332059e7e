"""Programme report at scale: time and SQL statements per report, 1,000 to 100,000 families.

For each size, a fresh database (SQLite in a temporary directory, or with `--postgres
SERVER_URL` a scratch database made and dropped on that server) is migrated and filled in
bulk: one factory per 100 families (at least 10), each with a season that year (half of them
returning from the year before, a third sponsored), families of one or two parents and one or
two children, registrations (nine in ten confirmed), days in the space, four workshops per
factory with bookings and ratings, and tips. Then `programme_report` runs `--repeats` times,
each in its own unit of work as the CLI and chat do; the median, fastest and slowest are
printed with the number of SQL statements a report took (counted with SQLAlchemy's
`before_cursor_execute` event), which must not grow with the factories.

    .venv/bin/python bench/report_scale.py [--families 1000,100000] [--repeats 5]
    .venv/bin/python bench/report_scale.py --postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ffs_bot.config import normalise_database_url  # noqa: E402
from ffs_bot.db.engine import create_engine, create_session_factory  # noqa: E402
from ffs_bot.db.migrate import upgrade  # noqa: E402
from ffs_bot.db.tables import (  # noqa: E402
    AttendanceRow,
    BookingRow,
    ChildRow,
    FactoryRow,
    FeedbackRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    SeasonSponsorRow,
    SponsorRow,
    TipDeliveryRow,
    TipRow,
    WorkshopRow,
)
from ffs_bot.db.uow import Database  # noqa: E402
from ffs_bot.reports import programme_report  # noqa: E402

YEAR = 2025
SUMMER_START, SUMMER_END = date(YEAR, 7, 7), date(YEAR, 8, 15)
BATCH = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="1000,100000", help="sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", help="server URL to make a scratch database on")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    results = [
        asyncio.run(measure(int(size), args.repeats, args.postgres))
        for size in args.families.split(",")
    ]
    print()
    print(
        "| database | families | factories | children | rows | load | report median | "
        "fastest | slowest | statements |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['database']} | {r['families']:,} | {r['factories']:,} | {r['children']:,} "
            f"| {r['rows']:,} | {r['load_s']:.1f} s | **{r['median_ms']:.0f} ms** "
            f"| {r['fastest_ms']:.0f} ms | {r['slowest_ms']:.0f} ms | {r['statements']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


async def measure(families: int, repeats: int, postgres: str | None) -> dict[str, Any]:
    """Fill a fresh database with `families` families and time the report on it."""
    async with scratch_database(postgres) as engine:
        started = time.perf_counter()
        sizes = await fill(engine, families)
        load = time.perf_counter() - started
        print(
            f"{engine.dialect.name}: {families:,} families loaded in {load:.1f} s",
            sizes,
            flush=True,
        )
        times, statements = await time_reports(engine, repeats)
    return {
        "database": "PostgreSQL" if postgres else "SQLite",
        "families": families,
        **sizes,
        "load_s": load,
        "median_ms": statistics.median(times) * 1000,
        "fastest_ms": min(times) * 1000,
        "slowest_ms": max(times) * 1000,
        "statements": statements,
    }


@contextlib.asynccontextmanager
async def scratch_database(postgres: str | None) -> AsyncIterator[AsyncEngine]:
    """A fresh, migrated database (SQLite in a temporary folder, or one made on `postgres`),
    dropped afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        scratch = f"ffs_bench_{uuid.uuid4().hex[:8]}"
        if postgres:
            await admin(postgres, f'CREATE DATABASE "{scratch}"')
            url = make_url(normalise_database_url(postgres)).set(database=scratch)
            database_url = url.render_as_string(hide_password=False)
        else:
            database_url = f"sqlite+aiosqlite:///{directory}/bench.db"
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            yield engine
        finally:
            await engine.dispose()
            if postgres:
                await admin(postgres, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


async def admin(server: str, sql: str) -> None:
    url = normalise_database_url(server).replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def time_reports(engine: AsyncEngine, repeats: int) -> tuple[list[float], int]:
    """Run the report `repeats` times; return the times and the statements of each."""
    db = Database(create_session_factory(engine))
    counted: list[int] = []
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    times = []
    for _ in range(repeats):
        statements = 0
        started = time.perf_counter()
        async with db.uow() as uow:
            report = await programme_report(uow, year=YEAR)
        times.append(time.perf_counter() - started)
        counted.append(statements)
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    figures = report.figures()
    print(
        f"  report: {len(report.ffs_factories)} factories, {figures['children_confirmed']:,} "
        f"children confirmed, {figures['parents']:,} parents; "
        + ", ".join(f"{t * 1000:.0f} ms" for t in times)
        + f"; statements {counted}",
        flush=True,
    )
    assert len(set(counted)) == 1, counted
    return times, counted[0]


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


async def fill(
    engine: AsyncEngine, families: int, workshops_per_factory: int = 4
) -> dict[str, int]:
    """Bulk-insert the programme; ids are given, the database is fresh."""
    rng = random.Random(families)
    tables: dict[Any, list[dict[str, Any]]] = {}
    n_factories = max(10, families // 100)
    tables[FactoryRow] = [
        {
            "id": f + 1,
            "code": f"F{f + 1:05d}",
            "name_zh": f"第{f + 1}玩具厂",
            "name_en": f"Toy Factory {f + 1}",
            "city": "深圳",
            "timezone": "Asia/Shanghai",
        }
        for f in range(n_factories)
    ]
    tables[SponsorRow] = [{"id": s + 1, "name": f"Sponsor {s + 1}"} for s in range(3)]
    seasons, season_of = [], {}
    for f in range(1, n_factories + 1):
        years = [YEAR - 1, YEAR] if f % 2 else [YEAR]
        for year in years:
            season_id = len(seasons) + 1
            season_of[f, year] = season_id
            seasons.append(
                {
                    "id": season_id,
                    "factory_id": f,
                    "starts_on": SUMMER_START.replace(year=year),
                    "ends_on": SUMMER_END.replace(year=year),
                    "min_age_years": 3,
                    "max_age_years": 12,
                    "capacity": 10_000,
                    "seats_taken": 0,
                    "registration_deadline": SUMMER_START.replace(year=year) - timedelta(days=7),
                    "funding": "sponsor" if year == YEAR and f % 3 == 0 else "self",
                    "registration_open": False,
                }
            )
    tables[SeasonRow] = seasons
    tables[SeasonSponsorRow] = [
        {"season_id": season_of[f, YEAR], "sponsor_id": f % 3 + 1}
        for f in range(3, n_factories + 1, 3)
    ]
    people, children, guardians, registrations, attendance = [], [], [], [], []
    parents_at: dict[int, list[int]] = {}
    days = [SUMMER_START + timedelta(days=d) for d in range(40) if d % 7 < 5]
    for _family in range(families):
        factory = rng.randint(1, n_factories)
        parents = list(range(len(people) + 1, len(people) + 1 + rng.choice((1, 1, 2))))
        for person_id in parents:
            people.append(
                {
                    "id": person_id,
                    "display_name": f"家长{person_id}",
                    "language": "zh_Hans",
                    "factory_id": factory,
                    "status": "active",
                }
            )
        parents_at.setdefault(factory, []).extend(parents)
        for _child in range(rng.choice((1, 1, 1, 2))):
            child_id = len(children) + 1
            children.append(
                {
                    "id": child_id,
                    "name": f"孩子{child_id}",
                    "birth_year": YEAR - rng.randint(3, 12),
                    "birth_month": rng.randint(1, 12),
                }
            )
            guardians += [
                {"child_id": child_id, "person_id": p, "relationship": "mother"} for p in parents
            ]
            registration_id = len(registrations) + 1
            confirmed = rng.random() < 0.9
            registrations.append(
                {
                    "id": registration_id,
                    "season_id": season_of[factory, YEAR],
                    "child_id": child_id,
                    "registered_by": parents[0],
                    "status": "confirmed" if confirmed else "waitlisted",
                    "starts_on": SUMMER_START,
                    "ends_on": SUMMER_END,
                }
            )
            if confirmed and rng.random() < 0.9:
                for day in rng.sample(days, rng.randint(1, 5)):
                    when = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)
                    attendance.append(
                        {"registration_id": registration_id, "day": day, "checked_in_at": when}
                    )
    tables[PersonRow], tables[ChildRow], tables[GuardianRow] = people, children, guardians
    tables[RegistrationRow], tables[AttendanceRow] = registrations, attendance
    workshops, bookings, feedback = [], [], []
    for f in range(1, n_factories + 1):
        for week in range(workshops_per_factory):
            workshop_id = len(workshops) + 1
            starts = datetime(YEAR, 6, 1, 1, tzinfo=UTC) + timedelta(weeks=week * 3)
            workshops.append(
                {
                    "id": workshop_id,
                    "factory_id": f,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=3),
                    "topic": "家长课堂",
                    "language": "zh_Hans",
                    "capacity": 30,
                    "seats_taken": 0,
                    "door_code": f"W{workshop_id:07d}",
                    "cancelled_at": starts if week == 3 and f % 5 == 0 else None,
                }
            )
            people_here = parents_at.get(f, [])
            for person_id in rng.sample(people_here, min(len(people_here), 30)):
                booking_id = len(bookings) + 1
                came = rng.random() < 0.8
                bookings.append(
                    {
                        "id": booking_id,
                        "workshop_id": workshop_id,
                        "person_id": person_id,
                        "status": "confirmed",
                        "code": f"B{booking_id:07d}",
                        "checked_in_at": starts if came else None,
                    }
                )
                if came and rng.random() < 0.5:
                    feedback.append({"booking_id": booking_id, "rating": rng.randint(3, 5)})
    tables[WorkshopRow], tables[BookingRow], tables[FeedbackRow] = workshops, bookings, feedback
    tables[TipRow] = [{"id": "t1", "topic": "play", "text_zh": "和孩子视频", "text_en": "Call"}]
    tables[TipDeliveryRow] = [
        {
            "person_id": p["id"],
            "tip_id": "t1",
            "kind": "scheduled",
            "sent_at": datetime(YEAR, 7, 1, 4, tzinfo=UTC),
            "helpful": rng.random() < 0.6,
        }
        for p in people
        if rng.random() < 0.3
    ]
    async with engine.begin() as conn:
        for row_type, rows in tables.items():
            for batch in _batches(rows):
                await conn.execute(insert(row_type.__table__), batch)
    if engine.dialect.name == "postgresql":
        # What autovacuum would have done by the time anyone asks for a report: statistics,
        # and the visibility map that lets index-only scans skip the table.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    return {
        "factories": n_factories,
        "people": len(people),
        "children": len(children),
        "workshops": len(workshops),
        "bookings": len(bookings),
        "rows": sum(len(rows) for rows in tables.values()),
    }


if __name__ == "__main__":
    main()
